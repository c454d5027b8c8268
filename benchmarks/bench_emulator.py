"""The batched emulator engine against nengo-loihi's emulator (run by hand).

On ``scnn_mnist`` trained as the main job trains it but for 20 epochs (cached),
measures:

- nengo-loihi's own emulator (``nengo-loihi-emulator``) and the batched engine
  (``loihi-emulator``) on the same first ``--n-compare`` test digits: whether
  their output traces, spike counts, spike rasters and voltages are equal, the
  digits/s of each and their ratio;
- the engine on all ``--n-test`` test digits in this process, then as shards on
  a Dask ``LocalCluster`` of 1 and of 2 workers: accuracy, wall time (with the
  build of the simulator; the cluster's start is timed apart), digits/s, peak
  resident memory (with the workers') and whether the traces equal the
  in-process run's.

Writes ``benchmarks/results/emulator.json``; ``--table`` prints the README's
table from it. About 10 minutes on 2 cores with a trained model in the cache::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_emulator.py
    python benchmarks/bench_emulator.py --table
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "emulator.json"


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-compare", type=int, default=200,
                        help="digits run by both emulators (default: %(default)s)")
    parser.add_argument("--n-test", type=int, default=10000,
                        help="digits run by the engine alone (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", default="1,2",
                        help="Dask LocalCluster sizes to measure (default: %(default)s)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--table", action="store_true", help="print the README table")
    return parser.parse_args()


def trained(args):
    from nengo_vision import defaults
    from nengo_vision.data import load_mnist
    from nengo_vision.models import get_model
    from nengo_vision.neurons import ACTIVATIONS
    from nengo_vision.training import train

    (x_train, y_train), test = load_mnist(args.data_dir)
    activation = ACTIVATIONS["lif"](gain=defaults.GAIN, amplitude=defaults.AMPLITUDE)
    model, info = train(
        get_model("scnn_mnist"), activation, x_train, y_train, epochs=args.epochs,
        seed=args.seed, cache_dir=args.cache_dir, augment=defaults.AUGMENT, lr_decay=True,
    )
    return model, info, test


def same_run(a, b):
    """Which parts of two ``BackendRun`` are equal (array equality)."""
    import numpy as np

    return dict(
        traces=bool(np.array_equal(a.traces, b.traces)),
        spike_counts=all(np.array_equal(a.spike_counts[k], b.spike_counts[k])
                         for k in a.spike_counts) and a.spike_counts.keys() == b.spike_counts.keys(),
        rasters=all(np.array_equal(a.rasters[k], b.rasters[k]) for k in a.rasters)
        and a.rasters.keys() == b.rasters.keys(),
        voltages=bool(np.array_equal(a.voltages, b.voltages)),
    )


def measure(args):
    import nengo
    import numpy as np

    from nengo_vision import defaults
    from nengo_vision._io import write_text
    from nengo_vision.backends import RunContext
    from nengo_vision.harness import choose_recording, predictions, run_backends
    from nengo_vision.sharding import Cluster

    model, info, (x_test, y_test) = trained(args)
    readout = nengo.Lowpass(defaults.OUTPUT_SYNAPSE)
    ctx = RunContext(model=model, seed=args.seed, progress=False)
    ctx.record = choose_recording(model, x_test, seed=args.seed)

    def summary(run, n):
        accuracy = float(np.mean(predictions(run.traces, readout) == y_test[:n]))
        return dict(digits=n, accuracy=accuracy, seconds=round(run.seconds, 1),
                    digits_per_s=round(n / run.seconds, 2),
                    peak_memory_gb=round(run.peak_memory / 1e9, 2))

    # what both emulators pay before the first step: nengo-loihi's build
    from nengo_vision.backends.loihi import build_simulator

    start = time.perf_counter()
    sim = build_simulator(ctx, "sim")[0]
    build_s = time.perf_counter() - start
    sim.close()

    n = args.n_compare
    both = run_backends(ctx, ["nengo-loihi-emulator", "loihi-emulator"], x_test[:n])
    reference, engine = both["nengo-loihi-emulator"], both["loihi-emulator"]
    compare = dict(
        nengo_loihi=summary(reference, n), engine=summary(engine, n),
        equal=same_run(reference, engine),
    )
    compare["speedup"] = round(
        compare["engine"]["digits_per_s"] / compare["nengo_loihi"]["digits_per_s"], 1)
    compare["nengo_loihi_build_s"] = round(build_s, 1)
    print(f"{n} digits: nengo-loihi {compare['nengo_loihi']['digits_per_s']} digits/s, "
          f"engine {compare['engine']['digits_per_s']} digits/s "
          f"({compare['speedup']}x); equal: {compare['equal']}", flush=True)

    full, in_process = {}, None
    for workers in [None] + [int(w) for w in args.workers.split(",") if w]:
        label = "in-process" if workers is None else f"{workers} Dask workers"
        start = time.perf_counter()
        run = run_backends(ctx, ["loihi-emulator"], x_test[: args.n_test],
                           cluster=Cluster(workers=workers))["loihi-emulator"]
        wall = time.perf_counter() - start
        full[label] = summary(run, args.n_test)
        full[label]["cluster_start_s"] = round(wall - run.seconds, 1)
        full[label]["speedup_over_nengo_loihi"] = round(
            full[label]["digits_per_s"] / compare["nengo_loihi"]["digits_per_s"], 1)
        if in_process is None:
            in_process = run
        else:
            full[label]["equal_to_in_process"] = same_run(in_process, run)
        print(f"{label}: {full[label]}", flush=True)

    results = dict(
        model="scnn_mnist", epochs=args.epochs, seed=args.seed, n_steps=ctx.n_steps,
        synapse=ctx.synapse, output_synapse=defaults.OUTPUT_SYNAPSE,
        emulator_batch=ctx.emulator_batch, engine_threads=ctx.engine_threads,
        training_cached=info["cached"],
        compare=compare, full=full,
        date=datetime.date.today().isoformat(),
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}",
    )
    write_text(OUT, json.dumps(results, indent=1) + "\n")
    print(f"wrote {OUT}")


def table():
    r = json.loads(OUT.read_text())
    c = r["compare"]
    rows = [
        ("nengo-loihi emulator", c["nengo_loihi"], ""),
        ("batched engine", c["engine"],
         "equal: " + ", ".join(k for k, v in c["equal"].items() if v)),
    ] + [
        (f"batched engine, {label}", s,
         f"{s['speedup_over_nengo_loihi']}x nengo-loihi's digits/s"
         + ("" if "equal_to_in_process" not in s else
            "; equal to in-process: " + ", ".join(k for k, v in s["equal_to_in_process"].items() if v)))
        for label, s in r["full"].items()
    ]
    print(f"{r['date']}, {r['machine']}; nengo-loihi's build {c['nengo_loihi_build_s']} s; "
          f"speed-up on the same {c['engine']['digits']} digits: {c['speedup']}x\n")
    print("| run | digits | accuracy | wall | digits/s | peak memory | |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, s, note in rows:
        print(f"| {name} | {s['digits']:,} | {s['accuracy']:.2%} | {s['seconds']:.0f} s | "
              f"{s['digits_per_s']:.1f} | {s['peak_memory_gb']:.1f} GB | {note} |")


if __name__ == "__main__":
    args = parse()
    if args.table:
        table()
    else:
        measure(args)
    sys.exit(0)
