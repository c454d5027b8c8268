"""Faults lose nothing: files written atomically get the usual permissions
without touching the umask, a Dask worker killed mid-run is replaced and its
shard run again, and an interrupted run continues from its kept shards."""

import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _python(code):
    """Run ``code`` in a fresh interpreter on this checkout; its stdout."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002], ids=oct)
def test_atomic_file_gets_the_umask_permissions(tmp_path, umask):
    """A file written atomically has the permissions ``open`` would give it under
    the process's umask (mkstemp's are 0600), the umask set before or after import."""
    mode = _python(f"""
        import os
        os.umask({umask:#o})
        from nengo_vision._io import write_text
        write_text({str(tmp_path / 'before')!r}, "x")
        os.umask({umask:#o} ^ 0o005)  # a later change is seen too
        write_text({str(tmp_path / 'after')!r}, "x")
        print(oct(os.stat({str(tmp_path / 'before')!r}).st_mode & 0o777),
              oct(os.stat({str(tmp_path / 'after')!r}).st_mode & 0o777))
    """)
    assert mode.split() == [oct(0o666 & ~umask), oct(0o666 & ~(umask ^ 0o005))]


def test_atomic_path_never_sets_the_umask(tmp_path):
    """Setting the umask to read it would race other threads creating files:
    once imported, atomic writes must not call ``os.umask`` at all."""
    calls = _python(f"""
        import os
        from nengo_vision._io import write_text
        calls = []
        real = os.umask
        os.umask = lambda mask: calls.append(mask) or real(mask)
        for i in range(5):
            write_text(os.path.join({str(tmp_path)!r}, f"f{{i}}"), "x")
        print(len(calls))
    """)
    assert calls == "0"


# ------------------------------------------------------------ networks that run


def _tiny_model(seed=0):
    """A small convolutional network with seeded random weights: host layer,
    one chip core, readout. Untrained (training is not what is tested here) but
    the same for the same seed, and its neurons spike."""
    import tensorflow as tf

    from nengo_vision.neurons import LIFActivation

    L = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((28, 28, 1))
    h = L.Conv2D(8, 3, strides=2, activation=LIFActivation(), name="conv0")(inp)
    h = L.Conv2D(16, 3, strides=2, activation=LIFActivation(), name="conv1")(h)
    return tf.keras.Model(inp, L.Dense(10, name="out")(L.Flatten()(h)))


@pytest.fixture(scope="module")
def tiny():
    return _tiny_model()


#: Digits run, and digits per shard (see ``small_shards``).
N, SHARD = 40, 10


@pytest.fixture
def small_shards(monkeypatch):
    """Shards of ``SHARD`` digits in this process (batches of 10, 30 steps)."""
    from nengo_vision import sharding

    for name in ("loihi-emulator", "nengo-dl"):
        monkeypatch.setitem(sharding.SHARD_STEPS, name, SHARD * 30)


def _context(model, images, **kwargs):
    from nengo_vision.backends import RunContext
    from nengo_vision.harness import choose_recording

    kwargs.setdefault("log", lambda *a: None)
    return RunContext(model=model, progress=False, emulator_batch=10, batch_size=10,
                      record=choose_recording(model, images[:1], n_digits=3), **kwargs)


def _poisson(images, ctx, seed=0):
    from nengo_vision.encodings import get_encoding
    from nengo_vision.stimulus import EncodedSpikes, Inputs

    return Inputs(images, EncodedSpikes(get_encoding("poisson"), rate=500.0, seed=seed,
                                        n_steps=ctx.n_steps))


def assert_same_run(run, expected, name=""):
    """Every array of two runs equal: traces, spike counts, rates, rasters,
    voltages and the chip's counts per digit and step."""
    np.testing.assert_array_equal(run.traces, expected.traces, err_msg=name)
    assert run.spike_counts.keys() == expected.spike_counts.keys()
    for layer, counts in expected.spike_counts.items():
        np.testing.assert_array_equal(run.spike_counts[layer], counts, err_msg=f"{name} {layer}")
    assert run.firing_rates == pytest.approx(expected.firing_rates, rel=1e-12)
    assert run.rasters.keys() == expected.rasters.keys()
    for layer, raster in expected.rasters.items():
        np.testing.assert_array_equal(run.rasters[layer], raster, err_msg=f"{name} {layer}")
    np.testing.assert_array_equal(run.voltages, expected.voltages, err_msg=name)
    assert (run.step_counts is None) == (expected.step_counts is None)
    for tally, counts in (expected.step_counts or {}).items():
        np.testing.assert_array_equal(run.step_counts[tally], counts, err_msg=f"{name} {tally}")
    assert run.placement == expected.placement


def _active(run):
    """The comparison means something: the output moves and neurons spike."""
    assert np.abs(run.traces).max() > 0.05
    assert all(c.sum() > 100 for c in run.spike_counts.values())


# ------------------------------------------------------------ kept shards


def test_interrupted_run_continues_from_its_kept_shards(tiny, test_digits, tmp_path,
                                                        small_shards):
    """Interrupted after its second shard, a run keeps two; the same run again
    loads them, runs the other two only, and equals a run never interrupted,
    array for array (the emulator's integer chip and NengoDL's floats)."""
    from nengo_vision.harness import run_backends

    x, _ = test_digits
    names = ["loihi-emulator", "nengo-dl"]
    ctx = _context(tiny, x)
    inputs = _poisson(x[:N], ctx)
    whole = run_backends(ctx, names, inputs)  # nothing kept: one shard each

    def interrupt(name, start, stop):
        if stop == 2 * SHARD:
            raise KeyboardInterrupt  # as Ctrl-C would
    with pytest.raises(KeyboardInterrupt):
        run_backends(ctx, names, inputs, keep=tmp_path, on_shard=interrupt)
    assert len(list((tmp_path / "shards").glob("loihi-emulator-*/*.npz"))) == 2

    lines, ran = [], []
    again = run_backends(replace_log(ctx, lines.append), names, inputs, keep=tmp_path,
                         on_shard=lambda *shard: ran.append(shard))
    assert "loihi-emulator: 2 of 4 shards kept from an earlier run, running 2" in lines
    assert ran == [("loihi-emulator", 20, 30), ("loihi-emulator", 30, 40)] + [
        ("nengo-dl", a, a + SHARD) for a in range(0, N, SHARD)]
    for name in names:
        _active(whole[name])
        assert_same_run(again[name], whole[name], name)
    # the time the first run spent on the kept shards counts
    assert again["loihi-emulator"].seconds > 0

    # all kept now: nothing runs, and the result is still the same
    lines.clear(), ran.clear()
    third = run_backends(replace_log(ctx, lines.append), names, inputs, keep=tmp_path,
                         on_shard=lambda *shard: ran.append(shard))
    assert ran == []
    assert "nengo-dl: 4 of 4 shards kept from an earlier run, running 0" in lines
    for name in names:
        assert_same_run(third[name], whole[name], name)


def replace_log(ctx, log):
    return replace(ctx, log=log)


def test_kept_shard_key_holds_all_that_changes_the_result(tiny, test_digits, tmp_path):
    """Another model, weight, setting, digit or spike draw is another key; how
    the engine splits its work and what is shown are not."""
    from nengo_vision.sharding import ShardStore
    from nengo_vision.stimulus import Inputs

    x, _ = test_digits
    ctx = _context(tiny, x)
    inputs = _poisson(x[:N], ctx)

    def key(ctx=ctx, inputs=inputs, backend="loihi-emulator", start=0, stop=SHARD):
        store = ShardStore(tmp_path, backend, ctx)
        return store.path(start, stop, inputs[start:stop])

    same = [key(replace(ctx, engine_threads=7, emulator_batch=3, progress=True, log=print,
                        item="image"))]
    changed = [
        key(replace(ctx, n_steps=31)), key(replace(ctx, synapse=0.005)),
        key(replace(ctx, input_synapse=0.001)), key(replace(ctx, seed=1)),
        key(replace(ctx, batch_size=20)), key(replace(ctx, chips=2)),
        key(replace(ctx, record=replace(ctx.record, n_digits=4))),
        key(backend="nengo-dl"), key(start=1, stop=SHARD + 1),
        key(inputs=_poisson(x[:N], ctx, seed=1)),  # another draw of the same digits
        key(inputs=_poisson(x[1 : N + 1], ctx)),  # other digits
        key(inputs=Inputs(x[:N])),  # held, not spikes
    ]
    twin = _tiny_model(seed=1)  # drawn otherwise, then given the same weights
    twin.set_weights(tiny.get_weights())
    same.append(key(replace(ctx, model=twin)))
    weights = tiny.get_weights()
    weights[-1] = weights[-1] + np.float32(1e-6)  # one bias, barely
    twin.set_weights(weights)
    changed.append(key(replace(ctx, model=twin)))
    assert set(same) == {key()}
    assert len(set(changed) | {key()}) == len(changed) + 1


def test_unreadable_shard_runs_again_and_old_runs_are_pruned(tiny, test_digits, tmp_path,
                                                             small_shards):
    """A kept shard that cannot be read is run again (one line says so); kept
    shards beyond the bound go, least recently used first, but never the
    current run's."""
    from nengo_vision.harness import run_backends
    from nengo_vision.sharding import ShardStore

    x, _ = test_digits
    ctx = _context(tiny, x)
    inputs = x[: 2 * SHARD]
    first = run_backends(ctx, ["loihi-emulator"], inputs, keep=tmp_path)["loihi-emulator"]
    store = ShardStore(tmp_path, "loihi-emulator", ctx)
    shards = sorted(store.folder.glob("*.npz"))
    assert len(shards) == 2
    shards[1].write_bytes(shards[1].read_bytes()[:100])  # cut short, as by a full disk
    lines, ran = [], []
    again = run_backends(replace_log(ctx, lines.append), ["loihi-emulator"], inputs,
                         keep=tmp_path, on_shard=lambda *s: ran.append(s))["loihi-emulator"]
    assert ran == [("loihi-emulator", SHARD, 2 * SHARD)]
    assert f"kept shard {shards[1]} cannot be read (BadZipFile); running it again" in lines
    assert_same_run(again, first)

    # another run's shards (another seed); ours made the least recently used
    other_ctx = replace(ctx, seed=1)
    run_backends(other_ctx, ["loihi-emulator"], inputs, keep=tmp_path)
    other = ShardStore(tmp_path, "loihi-emulator", other_ctx)
    assert len(list(other.folder.glob("*.npz"))) == 2
    size = sum(p.stat().st_size for p in other.folder.glob("*.npz"))
    for path in store.folder.glob("*.npz"):
        os.utime(path, (0, 0))
    other.prune(limit=4 * size)  # under the bound: nothing goes
    assert len(list(store.folder.glob("*.npz"))) == 2
    other.prune(limit=0)  # the other run's own stay, whatever the bound
    assert not store.folder.exists() and len(list(other.folder.glob("*.npz"))) == 2
    ShardStore(tmp_path, "loihi-emulator", replace(ctx, seed=2)).prune(limit=size - 1)
    assert len(list(other.folder.glob("*.npz"))) == 1  # the older of the two went


# ------------------------------------------------------------ a Dask worker killed


@pytest.mark.slow
def test_killed_dask_worker_is_replaced_and_its_shard_run_again(tiny, test_digits):
    """SIGKILL to a worker of a real ``LocalCluster`` while it runs a shard: its
    nanny starts a new worker, the scheduler gives the shard to a live one, and
    the merged run equals the in-process one, array for array."""
    import signal
    import threading
    import time

    from nengo_vision.harness import run_backends
    from nengo_vision.sharding import ALLOWED_FAILURES, Cluster

    x, _ = test_digits
    ctx = _context(tiny, x)
    inputs = _poisson(x[:N], ctx)
    local = run_backends(ctx, ["loihi-emulator"], inputs)["loihi-emulator"]

    seen, finished, n_shards = {}, [], N // SHARD  # 2 workers × 2 shards of 10

    def kill_one(client):
        """Wait until a worker runs a shard, kill it, wait for its replacement."""
        try:
            deadline = time.monotonic() + 300
            while True:
                executing = client.run(lambda dask_worker: len(dask_worker.state.executing),
                                       on_error="ignore")
                busy = [address for address, n in executing.items() if n]
                if busy:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("no shard started in 300 s")
                time.sleep(0.05)
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            seen["in flight"] = len(finished) < n_shards
            os.kill(pid, signal.SIGKILL)
            seen["killed"] = pid
            while True:  # the nanny starts a new worker process in its place
                pids = set(client.run(os.getpid, on_error="ignore").values())
                if len(pids) == 2 and pid not in pids:
                    seen["replaced"] = True
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"worker {pid} not replaced in 300 s")
                time.sleep(0.2)
            seen["scheduler"] = client.run_on_scheduler(lambda dask_scheduler: (
                dask_scheduler.allowed_failures,
                dask_scheduler.task_prefixes["run_shard"].suspicious))
        except Exception as e:  # reported by the test below
            seen["error"] = repr(e)

    class Watched(Cluster):
        def client(self):
            client = super().client()
            seen["client"] = client
            seen["killer"] = threading.Thread(target=kill_one, args=(client,), daemon=True)
            seen["killer"].start()
            return client

    def on_shard(name, start, stop):
        finished.append((start, stop))
        if len(finished) == n_shards:
            # the cluster stays up until the killer has seen the new worker
            seen["killer"].join(timeout=300)

    out = {}
    runner = threading.Thread(target=lambda: out.update(run_backends(
        ctx, ["loihi-emulator"], inputs, cluster=Watched(workers=2), on_shard=on_shard)),
        daemon=True)
    runner.start()
    runner.join(timeout=600)
    if runner.is_alive():  # never hang the suite
        seen["client"].close()
        pytest.fail(f"the sharded run did not finish in 600 s ({seen})")
    assert "error" not in seen, seen["error"]
    assert seen["in flight"] and seen["killed"] and seen["replaced"], seen
    # the scheduler counted the shard as lost with its worker, and would give
    # it to ALLOWED_FAILURES more workers before giving up
    allowed, suspicious = seen["scheduler"]
    assert allowed == ALLOWED_FAILURES and suspicious >= 1
    assert sorted(finished) == [(a, a + SHARD) for a in range(0, N, SHARD)]
    _active(local)
    assert_same_run(out["loihi-emulator"], local)
