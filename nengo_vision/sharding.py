"""Run a backend's test digits in shards, as tasks on a Dask cluster.

In-process (the default) a backend runs all its digits itself. With a cluster
(``--workers N`` starts a ``dask.distributed.LocalCluster`` on this machine;
``--scheduler ADDRESS`` joins a running one) the digits are split into
contiguous shards, each run by :func:`run_shard` as one task, and the shards'
results are merged back in digit order by :func:`merge_runs`. Every digit starts
from rest in every backend, so the merged traces equal the in-process ones (a
test checks it for the emulator).

The trained Keras model travels to the workers pickled; its rate activations are
this package's own classes, so they are put in Keras's custom-object scope
when it is unpickled.
"""

import os
import pickle
from dataclasses import dataclass, replace

import numpy as np

from .backends.base import BackendRun, get_backend
from .errors import BackendError, ConfigError

#: Shards per worker: enough for the progress bar to move, few enough that
#: each shard amortises building the simulator (seconds for the emulator).
SHARDS_PER_WORKER = 2


@dataclass
class Cluster:
    """Where shards run.

    Attributes
    ----------
    workers : int or None
        Start a ``LocalCluster`` with this many worker processes (one thread each).
    scheduler : str or None
        Address of a running Dask scheduler to use instead.
    """

    workers: int = None
    scheduler: str = None

    @property
    def in_process(self):
        return self.workers is None and self.scheduler is None

    def client(self):
        """A ``dask.distributed.Client``; the caller closes it (and its cluster)."""
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - a pinned dependency
            raise BackendError(
                "sharding needs dask.distributed: pip install 'dask[distributed]'"
            ) from None
        if self.scheduler:
            try:
                return Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError) as e:
                raise ConfigError(
                    f"cannot reach the Dask scheduler at {self.scheduler} ({e}); start "
                    f"one (dask scheduler) or use --workers N for a local cluster"
                ) from None
        cluster = LocalCluster(
            n_workers=self.workers, threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=None,
        )
        return Client(cluster)


def shard_bounds(n, n_shards):
    """``(start, stop)`` of ``n_shards`` contiguous shards of ``n`` digits."""
    n_shards = max(1, min(n, n_shards))
    edges = np.linspace(0, n, n_shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def custom_objects():
    from .neurons import ACTIVATIONS

    return {cls.__name__: cls for cls in ACTIVATIONS.values()}


def run_shard(name, ctx_bytes, model_bytes, inputs, start, placements=None):
    """One shard on a worker: ``(start, BackendRun)``.

    The worker owns one thread, so compiled loops use one as well.
    ``placements``: the block shapes this process found for networks of the
    same structure (:data:`.partition._FOUND`), so that each shard need not
    search them again.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numba
    import tensorflow as tf

    from . import partition

    partition._FOUND.update(placements or {})
    numba.set_num_threads(1)
    with tf.keras.utils.custom_object_scope(custom_objects()):
        model = pickle.loads(model_bytes)
    ctx = replace(pickle.loads(ctx_bytes), model=model, engine_threads=1)
    return start, get_backend(name).run(ctx, inputs)


def _first(rows, n):
    """The first ``n`` rows of shards' recordings, in digit order."""
    rows = [r for r in rows if r is not None and len(r)]
    return np.concatenate(rows)[:n] if rows else None


def merge_runs(parts, ctx, n_images):
    """Shards' runs ``[(start, BackendRun), ...]`` → one run over all digits."""
    parts = sorted(parts, key=lambda p: p[0])
    runs = [run for _, run in parts]
    first = runs[0]
    counts = {
        name: np.sum([run.spike_counts[name] for run in runs], axis=0)
        for name in first.spike_counts
    }
    seconds = n_images * ctx.n_steps * ctx.dt
    n_rec = min(ctx.record.n_digits, n_images) if first.spiking else 0
    return BackendRun(
        traces=np.concatenate([run.traces for run in runs]),
        firing_rates={
            name: float(c.sum() / (len(c) * seconds)) for name, c in counts.items()
        },
        placement=first.placement,
        spike_counts=counts,
        rasters={name: _first([run.rasters[name] for run in runs], n_rec)
                 for name in first.rasters},
        voltages=_first([run.voltages for run in runs], n_rec),
        spiking=first.spiking,
        step_counts=None if first.step_counts is None else {
            name: np.concatenate([run.step_counts[name] for run in runs])
            for name in first.step_counts
        },
    )


def run_sharded(name, ctx, inputs, client, n_workers):
    """Run backend ``name`` on ``inputs`` (:class:`.stimulus.Inputs`) as shards on
    ``client``'s cluster."""
    from tqdm.auto import tqdm
    from dask.distributed import as_completed

    bounds = shard_bounds(len(inputs), SHARDS_PER_WORKER * max(1, n_workers))
    # the progress bar counts digits as shards finish; workers show none
    quiet = replace(ctx, model=None, progress=False, log=_no_log)
    ctx_bytes, model_bytes = pickle.dumps(quiet), pickle.dumps(ctx.model)
    # each shard carries its own samples' events only, not the whole set
    from .partition import _FOUND

    futures = [
        client.submit(run_shard, name, ctx_bytes, model_bytes, inputs[a:b].detached(), a,
                      dict(_FOUND), pure=False)
        for a, b in bounds
    ]
    sizes = {f.key: b - a for f, (a, b) in zip(futures, bounds)}
    parts = []
    with tqdm(total=len(inputs), desc=f"{name} ({len(bounds)} shards)", unit="digit",
              disable=not ctx.progress) as bar:
        for future in as_completed(futures):
            parts.append(future.result())
            bar.update(sizes[future.key])
    return merge_runs(parts, ctx, len(inputs))


def _no_log(*args):
    pass


def workers_of(client):
    """Number of workers the client's cluster has now."""
    return len(client.scheduler_info().get("workers", {})) or 1
