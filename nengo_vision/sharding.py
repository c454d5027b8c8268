"""Run a backend's test digits in shards: in this process or as tasks on a Dask
cluster, each finished shard kept on disk so that an interrupted run continues.

The digits are cut into contiguous shards (:func:`plan`) of a size set per
backend (:data:`SHARD_STEPS`: a minute or a few of work), from the first digit,
so that runs of another length share their first shards. In-process (the
default) the shards run one after the other, and only where they are kept (a
run that keeps nothing builds its simulator once). With a cluster
(``--workers N`` starts a ``dask.distributed.LocalCluster`` on this machine;
``--scheduler ADDRESS`` joins a running one) each shard is one task run by
:func:`run_shard`, cut smaller where that gives fewer than
:data:`SHARDS_PER_WORKER` shards per worker. :func:`merge_runs` merges the
shards' runs back in digit order. Every digit starts from rest in every
backend, so the merged traces equal the ones of one run over all digits
(tests check it for the emulator and NengoDL).

A worker that dies (killed, out of memory) is replaced by its ``Nanny`` and
the scheduler gives its shards to another worker; a shard that
:data:`ALLOWED_FAILURES` + 1 workers died running is given up with one line
(``distributed.scheduler.allowed-failures``, set for the local cluster).

With a folder to keep them in, every finished shard's run is saved there
(:class:`ShardStore`) under a key made of all that changes it: the model's
architecture and weights, the settings the backend runs with, the backend, the
shard's digits and their inputs, and this package's code and the stack's
versions. Running the same command again loads the shards found instead of
running them. The folder is bounded (:data:`KEEP_BYTES`, oldest shards
removed first), so finished runs stay there until newer ones push them out.

The trained Keras model travels to the workers pickled; its rate activations are
this package's own classes, so they are put in Keras's custom-object scope
when it is unpickled.
"""

import contextlib
import functools
import hashlib
import json
import os
import pickle
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .backends.base import BackendRun, get_backend
from .errors import BackendError, ConfigError

#: Shards per worker on a cluster: enough for the progress bar to move and for
#: a replaced worker's shard to be a small part of the run, few enough that
#: each shard amortises building the simulator (seconds for the emulator).
SHARDS_PER_WORKER = 2

#: Digit-steps (digits × ``n_steps``) per shard, by backend: what an
#: interruption may lose, against one simulator build per shard (7 s for
#: ``scnn_mnist`` on the emulator with 2 busy cores). The batched engine runs
#: 150,000 (5,000 MNIST digits at 30 steps, about 30 s; 500 event recordings
#: at 300 steps); NengoDL 60,000 (200 event recordings at 300 steps, minutes);
#: nengo-loihi's own emulator, about a digit a second, 3,000 (100 digits at 30
#: steps). Other backends (the ANN; the real chip, whose neuron state carries
#: from one digit to the next) run as one shard.
SHARD_STEPS = {
    "loihi-emulator": 150_000, "nengo": 150_000, "nengo-dl": 60_000, "nengo-dl-rate": 60_000,
    "nengo-loihi-emulator": 3_000,
}

#: Times a shard is given to a new worker after the one running it died
#: (Dask's default too, set here so that it does not depend on a user's Dask
#: configuration): a killed worker costs its shard one retry, while a shard that
#: kills every worker it runs on (out of memory) stops the run after 4.
ALLOWED_FAILURES = 3

#: Bytes of kept shards in the cache (all runs together): the oldest are removed
#: beyond it. An emulator run on the 10,000 MNIST test digits keeps 34 MB.
KEEP_BYTES = 2**30

#: Version of the kept shards' file format and key.
KEEP_FORMAT = 1


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
            import dask
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
        # the scheduler reads it when it starts; a running one keeps its own
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None,
            )
        return Client(cluster)


def shard_size(backend, ctx):
    """Digits per shard of ``backend`` (None: the whole run in one), a whole
    number of the batches it steps at once, so that shards change no batch."""
    steps = SHARD_STEPS.get(backend.name)
    if steps is None:
        return None
    batch = ctx.emulator_batch if backend.engine else ctx.batch_size
    return max(1, steps // (ctx.n_steps * batch)) * batch


def plan(backend, ctx, n, n_workers=None):
    """``(start, stop)`` of the shards of ``backend``'s run on ``n`` digits.

    Cut every :func:`shard_size` digits from the first, so that runs of
    another length or on another number of workers share their first shards;
    on a cluster of ``n_workers``, cut smaller where that gives fewer than
    :data:`SHARDS_PER_WORKER` shards per worker.
    """
    size = shard_size(backend, ctx)
    if n_workers is not None:
        even = -(-n // (SHARDS_PER_WORKER * max(1, n_workers)))
        size = even if size is None else min(size, even)
    size = max(1, size or n)
    return [(a, min(a + size, n)) for a in range(0, n, size)] or [(0, n)]


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
    started = time.perf_counter()
    run = get_backend(name).run(ctx, inputs)
    run.seconds = time.perf_counter() - started
    return start, run


def _first(rows, n):
    """The first ``n`` rows of shards' recordings, in digit order."""
    rows = [r for r in rows if r is not None and len(r)]
    return np.concatenate(rows)[:n] if rows else None


def merge_runs(parts, ctx, n_images):
    """Shards' runs ``[(start, BackendRun), ...]`` → one run over all digits."""
    parts = sorted(parts, key=lambda p: p[0])
    runs = [run for _, run in parts]
    if len(runs) == 1:
        return runs[0]
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


# ------------------------------------------------------------------ kept shards


@functools.lru_cache(maxsize=None)
def code_digest():
    """SHA-256 of this package's Python sources and the versions of the stack
    it runs on: kept shards made by other code are never loaded."""
    import importlib.metadata as md

    h = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode())
        h.update(path.read_bytes())
    for dist in ("nengo", "nengo-dl", "nengo-loihi", "tensorflow", "numpy", "numba"):
        with contextlib.suppress(md.PackageNotFoundError):
            h.update(f"{dist}=={md.version(dist)}".encode())
    return h.hexdigest()


def _update_array(h, a):
    a = np.ascontiguousarray(a)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(a).cast("B"))


def model_digest(model):
    """SHA-256 of a Keras model's architecture (its config, with the neurons'
    activation settings) and of every weight.

    Layers are named by their position: the names Keras makes up differ for the
    same model built twice in one process (``model_1``, ``flatten_2``). The
    neuron layers' names are added, since backends report by them.
    """
    from .conversion import neuron_layers

    position = {layer.name: f"layer {i}" for i, layer in enumerate(model.layers)}

    def canonical(value):
        if isinstance(value, str):
            return position.get(value, value)
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items()}
        return value

    config = canonical({k: v for k, v in model.get_config().items() if k != "name"})
    h = hashlib.sha256()
    h.update(json.dumps([config, neuron_layers(model)], sort_keys=True, default=repr).encode())
    for i, layer in enumerate(model.layers):
        for w in layer.weights:
            # the weight's own name, after its (made-up) layer name
            h.update(f"{i}/{w.name.split(f'{layer.name}/', 1)[-1]}".encode())
            _update_array(h, w.numpy())
    return h.hexdigest()


def settings_digest(ctx):
    """SHA-256 of the :class:`.RunContext` settings that change a backend's
    results (JSON, sorted keys). Left out: the model (:func:`model_digest`),
    what only shows or logs, and how the engine splits its work (threads and
    batch: every digit runs alone, from rest, in integer or compiled arithmetic
    bit-equal whatever the batch)."""
    record = ctx.record
    settings = dict(
        n_steps=ctx.n_steps, dt=ctx.dt, synapse=ctx.synapse, input_synapse=ctx.input_synapse,
        # NengoDL's float sums may round otherwise in other minibatches
        batch_size=ctx.batch_size, chips=ctx.chips, seed=ctx.seed,
        record=dict(
            n_digits=record.n_digits,
            raster={k: np.asarray(v).tolist() for k, v in record.raster.items()},
            voltage=None if record.voltage is None
            else [record.voltage[0], np.asarray(record.voltage[1]).tolist()],
        ),
    )
    text = json.dumps(settings, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def inputs_digest(inputs):
    """SHA-256 of what a backend is fed (:class:`.stimulus.Inputs`): the images,
    each sample's index, and where its spikes come from (a code's settings, or
    the recordings' events)."""
    from .stimulus import EncodedSpikes, EventSpikes

    h = hashlib.sha256()
    _update_array(h, inputs.images)
    _update_array(h, np.asarray(inputs.indices, np.int64))
    spikes = inputs.spikes
    if spikes is None:
        h.update(b"held")
    elif isinstance(spikes, EncodedSpikes):
        code = dict(type="encoded", encoding=spikes.encoding.name, code=spikes.encoding.code,
                    rate=spikes.rate, seed=spikes.seed, n_steps=spikes.n_steps, dt=spikes.dt,
                    amplitude=spikes.amplitude)
        h.update(json.dumps(code, sort_keys=True).encode())
    elif isinstance(spikes, EventSpikes):
        events = spikes.events
        h.update(json.dumps(dict(type="events", amplitude=spikes.amplitude,
                                 shape=list(events.shape))).encode())
        for i in inputs.indices:
            _update_array(h, events.recording(int(i)))
    else:
        # a source not known here: the counts themselves, 100 samples at a time
        # (the presentation is in the settings' digest)
        h.update(type(spikes).__qualname__.encode())
        n_steps = getattr(spikes, "n_steps", None) or 1
        for start in range(0, len(inputs), 100):
            _update_array(h, inputs.counts(n_steps, 0.001, start, start + 100))
    return h.hexdigest()


class ShardStore:
    """Finished shards of one backend's run, kept in ``folder/shards``.

    Each shard is one ``.npz`` file, written atomically, in a folder named after
    the backend and the digest of the model, the settings, the backend and the
    code (:func:`model_digest`, :func:`settings_digest`, :func:`code_digest`);
    the file's name holds the shard's digits and the digest of its inputs
    (:func:`inputs_digest`). Arrays are stored as such (no pickles); the rest of
    the :class:`.BackendRun` as JSON.

    Parameters
    ----------
    folder : path
        The cache folder.
    backend : str
    ctx : RunContext
    log : callable
    """

    def __init__(self, folder, backend, ctx, log=print):
        self.root = Path(folder) / "shards"
        key = dict(format=KEEP_FORMAT, backend=backend, model=model_digest(ctx.model),
                   settings=settings_digest(ctx), code=code_digest())
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        self.folder = self.root / f"{backend}-{digest[:16]}"
        self.log = log
        self._warned = False

    def path(self, start, stop, inputs):
        """Where the shard of digits ``start:stop`` (fed ``inputs``) is kept."""
        return self.folder / f"{start:07d}-{stop:07d}-{inputs_digest(inputs)[:16]}.npz"

    def load(self, path):
        """``(BackendRun, elapsed)`` kept at ``path``, or None if there is none
        (or it cannot be read: then it is removed, and the shard runs again).
        ``elapsed``: seconds from the start of the run that made it to its end."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            meta = json.loads(str(arrays.pop("meta")))
            if meta.get("format") != KEEP_FORMAT:
                raise ValueError("another format")
            run = BackendRun(
                traces=arrays["traces"],
                firing_rates=meta["firing_rates"],
                seconds=meta["seconds"],
                placement=meta["placement"],
                spike_counts={n: arrays[f"spike_counts_{i}"]
                              for i, n in enumerate(meta["spike_counts"])},
                rasters={n: arrays.get(f"rasters_{i}") for i, n in enumerate(meta["rasters"])},
                voltages=arrays.get("voltages"),
                spiking=meta["spiking"],
                step_counts=None if meta["step_counts"] is None else {
                    n: arrays[f"step_counts_{i}"] for i, n in enumerate(meta["step_counts"])},
            )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            self.log(f"kept shard {path} cannot be read ({type(e).__name__}); running it again")
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used: the last to go when the folder is pruned
        return run, float(meta["elapsed"])

    def save(self, path, run, elapsed):
        """Keep ``run`` at ``path``. A shard that cannot be written (a full disk)
        is only not kept: the run goes on, with one line about it."""
        from ._io import atomic_path

        arrays = dict(traces=run.traces)
        if run.voltages is not None:
            arrays["voltages"] = run.voltages
        for group, values in (("spike_counts", run.spike_counts), ("rasters", run.rasters),
                              ("step_counts", run.step_counts or {})):
            for i, value in enumerate(values.values()):
                if value is not None:
                    arrays[f"{group}_{i}"] = value
        meta = dict(
            format=KEEP_FORMAT, firing_rates=run.firing_rates, seconds=run.seconds,
            placement=run.placement, spiking=run.spiking, elapsed=elapsed,
            spike_counts=list(run.spike_counts), rasters=list(run.rasters),
            step_counts=None if run.step_counts is None else list(run.step_counts),
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
        except OSError as e:
            if not self._warned:
                self.log(f"cannot keep finished shards in {self.root} ({e.strerror or e}); "
                         f"an interrupted run will start again from the first digit")
                self._warned = True

    def prune(self, limit=None):
        """Remove the least recently used shards of other runs until all kept
        shards take at most ``limit`` bytes (:data:`KEEP_BYTES`); this run's own
        stay, whatever their size."""
        limit = KEEP_BYTES if limit is None else limit
        files = []
        for path in self.root.glob("*/*.npz"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= limit:
                break
            if path.parent == self.folder:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # only if it was the folder's last shard


# ------------------------------------------------------------------ running


class _SharedBar:
    """What a backend takes for its progress bar while it runs one shard: it
    moves the bar of the whole run instead."""

    def __init__(self, bar):
        self.bar = bar

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.bar.update(n)

    def close(self):
        pass


def run_backend(backend, ctx, inputs, client=None, keep=None, on_shard=None):
    """Run ``backend`` on ``inputs`` (:class:`.stimulus.Inputs`) shard by shard:
    in this process, or on ``client``'s cluster.

    Parameters
    ----------
    backend : Backend
    ctx : RunContext
    inputs : stimulus.Inputs
    client : dask.distributed.Client, optional
    keep : path, optional
        Cache folder where finished shards are kept (:class:`ShardStore`) and
        looked for; None: nothing kept.
    on_shard : callable, optional
        Called as ``on_shard(backend_name, start, stop)`` after each shard run
        here has finished (and been kept).

    Returns
    -------
    BackendRun
        Over all digits; its ``seconds`` are those the earlier runs spent on the
        kept shards (0 if none), to which the caller adds this run's.
    """
    store = None if keep is None else ShardStore(keep, backend.name, ctx, log=ctx.log)
    if client is not None:
        bounds = plan(backend, ctx, len(inputs), workers_of(client))
    elif store is not None:
        bounds = plan(backend, ctx, len(inputs))
    else:
        bounds = [(0, len(inputs))]  # nothing to keep: one simulator build
    parts, todo, paths, earlier = [], [], {}, 0.0
    for a, b in bounds:
        paths[a] = None if store is None else store.path(a, b, inputs[a:b])
        kept = None if store is None else store.load(paths[a])
        if kept is None:
            todo.append((a, b))
        else:
            parts.append((a, kept[0]))
            earlier = max(earlier, kept[1])
    if len(todo) < len(bounds):
        ctx.log(f"{backend.name}: {len(bounds) - len(todo)} of {len(bounds)} shards kept "
                f"from an earlier run, running {len(todo)}")
    started = time.perf_counter()

    def finished(a, b, run):
        parts.append((a, run))
        if store is not None:
            store.save(paths[a], run, elapsed=earlier + time.perf_counter() - started)
        if on_shard is not None:
            on_shard(backend.name, a, b)

    if todo and client is None:
        _run_here(backend, ctx, inputs, todo, finished)
    elif todo:
        _run_on_cluster(backend.name, ctx, inputs, todo, client, finished)
    if store is not None:
        store.prune()
    run = merge_runs(parts, ctx, len(inputs))
    run.seconds = earlier
    return run


def _run_here(backend, ctx, inputs, todo, finished):
    """The shards ``todo`` one after another in this process, under one
    progress bar (and the backend's log lines once)."""
    if todo == [(0, len(inputs))]:
        finished(0, len(inputs), backend.run(ctx, inputs))
        return
    import copy

    done = len(inputs) - sum(b - a for a, b in todo)
    with backend.progress(ctx, len(inputs)) as bar:
        bar.update(done)
        for i, (a, b) in enumerate(todo):
            shard = copy.copy(backend)
            shard.progress = lambda ctx, total, unit=None: _SharedBar(bar)
            shard_ctx = ctx if i == 0 else replace(ctx, log=_no_log)
            finished(a, b, shard.run(shard_ctx, inputs[a:b]))


def _run_on_cluster(name, ctx, inputs, todo, client, finished):
    """The shards ``todo`` as tasks on ``client``'s cluster, each kept as it
    arrives."""
    from tqdm.auto import tqdm
    from dask.distributed import as_completed

    try:
        from distributed import KilledWorker
    except ImportError:  # pragma: no cover - older distributed
        from distributed.scheduler import KilledWorker

    # the progress bar counts digits as shards finish; workers show none
    quiet = replace(ctx, model=None, progress=False, log=_no_log)
    ctx_bytes, model_bytes = pickle.dumps(quiet), pickle.dumps(ctx.model)
    from .partition import _FOUND

    # each shard carries its own samples' events only, not the whole set
    futures = {
        client.submit(run_shard, name, ctx_bytes, model_bytes, inputs[a:b].detached(), a,
                      dict(_FOUND), pure=False): (a, b)
        for a, b in todo
    }
    done = len(inputs) - sum(b - a for a, b in todo)
    with tqdm(total=len(inputs), initial=done, desc=f"{name} ({len(todo)} shards)",
              unit=ctx.item, disable=not ctx.progress) as bar:
        for future in as_completed(futures):
            a, b = futures[future]
            try:
                _, run = future.result()
            except KilledWorker:
                raise BackendError(
                    f"{name}: digits {a} to {b - 1} killed {ALLOWED_FAILURES + 1} Dask "
                    f"workers (out of memory?); give each worker more memory, or run "
                    f"fewer digits at once (--emulator-batch, --batch-size)"
                ) from None
            finished(a, b, run)
            bar.update(b - a)


def _no_log(*args):
    pass


def workers_of(client):
    """Number of workers the client's cluster has now."""
    return len(client.scheduler_info().get("workers", {})) or 1
