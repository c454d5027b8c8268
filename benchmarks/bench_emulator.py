"""The batched emulator engine against nengo-loihi's emulator (run by hand).

On ``scnn_mnist`` trained as the main job trains it but for 20 epochs (cached,
``nv.pipeline.train``), measures through ``nv.pipeline.run_backends``:

- nengo-loihi's own emulator (``nengo-loihi-emulator``) and the batched engine
  (``loihi-emulator``) on the same first ``--n-compare`` test digits: whether
  their output traces, spike counts, spike rasters and voltages are equal, the
  digits/s of each and their ratio; and the time nengo-loihi takes to build its
  simulator (convert, place, build: what both pay before the first step);
- the engine on all ``--n-test`` test digits in this process, then as shards on
  a Dask ``LocalCluster`` of 1 and of 2 workers (``Config.workers``): accuracy,
  wall time (with the build of the simulator), digits/s, peak resident memory
  (with the workers') and whether the traces equal the in-process run's. The
  cluster's start and stop are timed apart (``cluster_start_s``: the time outside
  the backend's run, less the same for the in-process run).

Writes ``benchmarks/results/emulator.json`` (or ``--out``); ``--table`` prints
the README's table from it. About 10 minutes on 2 cores with a trained model in
the cache::

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

import nengo_vision as nv  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "emulator.json"
SETTING = nv.Config.settings()


def worker_counts(text):
    """``"1,2"`` → [1, 2], each checked as ``Config.workers``."""
    return [SETTING["workers"].parse(w) for w in text.split(",") if w.strip()]


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-compare", type=SETTING["n_test"].parse, default=200,
                        help="digits run by both emulators (default: %(default)s)")
    parser.add_argument("--n-test", type=SETTING["n_test"].parse, default=10000,
                        help="digits run by the engine alone (default: %(default)s)")
    parser.add_argument("--epochs", type=SETTING["epochs"].parse, default=20)
    parser.add_argument("--n-train", type=SETTING["n_train"].parse, default=None,
                        help="train on the first N training digits (default: all)")
    parser.add_argument("--seed", type=SETTING["seed"].parse, default=0)
    parser.add_argument("--workers", type=worker_counts, default="1,2",
                        help="Dask LocalCluster sizes to measure (default: %(default)s)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(OUT),
                        help="the JSON file written, and read by --table (default: %(default)s)")
    parser.add_argument("--table", action="store_true", help="print the README table")
    return parser.parse_args()


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


def build_seconds(config, model, data):
    """Seconds nengo-loihi takes to convert, place and build the network, and the
    engine's threads, in the context the pipeline gives the backends."""
    from nengo_vision.backends.loihi import build_simulator

    ctx = nv.pipeline.context(config, model, data, log=lambda line: None)
    start = time.perf_counter()
    sim = build_simulator(ctx, "sim")[0]
    seconds = time.perf_counter() - start
    sim.close()
    return seconds, ctx.engine_threads


def measure(args):
    import numpy as np

    from nengo_vision._io import write_text
    from nengo_vision.harness import predictions
    from nengo_vision.metrics import parse_synapse

    config = nv.Config(
        model="scnn_mnist", epochs=args.epochs, n_train=args.n_train, seed=args.seed,
        n_test=args.n_test, backends=["loihi-emulator"], progress=False,
        data_dir=args.data_dir, cache_dir=args.cache_dir,
    )
    data = nv.pipeline.load_data(config.replace(n_test=max(args.n_test, args.n_compare)))
    model, training = nv.pipeline.train(config, data)
    readout = parse_synapse(config.output_synapse)  # the report's default readout

    def summary(run):
        n = len(run.traces)
        accuracy = float(np.mean(predictions(run.traces, readout) == data.labels[:n]))
        return dict(digits=n, accuracy=accuracy, seconds=round(run.seconds, 1),
                    digits_per_s=round(n / run.seconds, 2),
                    peak_memory_gb=round(run.peak_memory / 1e9, 2))

    # what both emulators pay before the first step: nengo-loihi's build
    build_s, engine_threads = build_seconds(config, model, data)

    n = args.n_compare
    both = config.replace(
        backends=["nengo-loihi-emulator", "loihi-emulator"], n_test=n,
        digits={"nengo-loihi-emulator": n, "loihi-emulator": n},
    )
    runs, _ = nv.pipeline.run_backends(both, model, data)
    reference, engine = runs["nengo-loihi-emulator"], runs["loihi-emulator"]
    compare = dict(
        nengo_loihi=summary(reference), engine=summary(engine),
        equal=same_run(reference, engine),
    )
    compare["speedup"] = round(
        compare["engine"]["digits_per_s"] / compare["nengo_loihi"]["digits_per_s"], 1)
    compare["nengo_loihi_build_s"] = round(build_s, 1)
    print(f"{n} digits: nengo-loihi {compare['nengo_loihi']['digits_per_s']} digits/s, "
          f"engine {compare['engine']['digits_per_s']} digits/s "
          f"({compare['speedup']}x); equal: {compare['equal']}", flush=True)

    full, in_process, overhead = {}, None, 0.0
    for w in [None] + args.workers:
        label = "in-process" if w is None else f"{w} Dask workers"
        start = time.perf_counter()
        run = nv.pipeline.run_backends(config.replace(workers=w), model, data)[0][
            "loihi-emulator"]
        outside = time.perf_counter() - start - run.seconds
        full[label] = summary(run)
        if in_process is None:
            overhead = outside  # choosing the recorded neurons, and the like
        full[label]["cluster_start_s"] = round(max(outside - overhead, 0.0), 1)
        full[label]["speedup_over_nengo_loihi"] = round(
            full[label]["digits_per_s"] / compare["nengo_loihi"]["digits_per_s"], 1)
        if in_process is None:
            in_process = run
        else:
            full[label]["equal_to_in_process"] = same_run(in_process, run)
        print(f"{label}: {full[label]}", flush=True)

    results = dict(
        model=config.model, epochs=config.epochs, seed=config.seed, n_steps=config.n_steps,
        synapse=config.synapse, output_synapse=config.output_synapse,
        emulator_batch=config.emulator_batch, engine_threads=engine_threads,
        training_cached=training["cached"],
        **({} if args.n_train is None else dict(n_train=args.n_train)),
        compare=compare, full=full,
        date=datetime.date.today().isoformat(),
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}",
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


def table(path=OUT):
    r = json.loads(Path(path).read_text())
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
        table(args.out)
    else:
        measure(args)
    sys.exit(0)
