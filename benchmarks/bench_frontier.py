"""What the chip gains: the front of accuracy against energy and against steps (run by hand).

One sweep (:mod:`nengo_vision.sweep`) per kind of input, the Loihi emulator and
the Keras ANN on **all 10,000** test samples at every point, every point's
energy on the complete account (:mod:`nengo_vision.energy`):

- ``--part digits`` (still MNIST digits, held): the zoo's ``scnn_mnist`` and
  the chip-sized ``small_mnist`` and ``tiny_mnist`` at several step counts;
  then the methods that move the front crossed with the steps: fine-tuning
  through time (``time_epochs``) with and without a spike budget
  (``spike_budget``) on both chip-sized models, and on ``small_mnist`` lower
  budgets, QCFS-style quantised rates (``quantize``) and early decisions
  (``decision_margin`` on the summed output, ``readout=integrate``);
- ``--part events`` (events made from all 10,000 MNIST test digits, streamed
  onto the chip): ``tiny_nmnist`` plain, with early decisions and with spike
  budgets, and the main job's ``scnn_nmnist``.

Each part's folder (``--out``, default ``benchmarks/results/frontier/``) holds
the sweep (``sweep.csv``, ``frontier.png``, one file per finished point: run the
same command again to resume) and ``targets.json``: each of issue 21's targets
and the best point for it, met or not. ``--pilot N`` runs the same grids on the
first N test samples into ``<out>-pilot`` (the trainings are the same, so a
pilot fills the cache for the real run). ``--table`` prints the README's tables.

Every training is the main job's but for 15 epochs (the chip-sized models need
them; ``scnn_mnist`` gains nothing from them at 30 steps). About three hours on 2
cores from an empty cache::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_frontier.py --part digits
    NENGO_VISION_DATA=../shared/data python benchmarks/bench_frontier.py --part events
    python benchmarks/bench_frontier.py --table
"""

import argparse
import csv
import datetime
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nengo_vision as nv  # noqa: E402

from _common import RESULTS, run  # noqa: E402

OUT = RESULTS / "frontier"
EPOCHS = 15

#: the grids of each part: (name, grid), all on the part's base settings
GRIDS = {
    "digits": [
        ("models and steps", dict(model=["scnn_mnist", "small_mnist", "tiny_mnist"],
                                  n_steps=[10, 20, 30])),
        ("through time, spike budget", dict(model=["small_mnist", "tiny_mnist"],
                                            n_steps=[6, 8, 10], time_epochs=[2],
                                            spike_budget=[None, 30.0])),
        ("quantised rates", dict(model=["small_mnist"], n_steps=[8], quantize=[None, 8])),
        ("early decisions", dict(model=["small_mnist"], n_steps=[10, 20], time_epochs=[2],
                                 readout=["integrate"],
                                 decision_margin=[None, 20.0, 40.0, 80.0])),
        ("lower budgets", dict(model=["small_mnist"], n_steps=[5, 6, 8], time_epochs=[2],
                               spike_budget=[15.0, 20.0])),
    ],
    "events": [
        ("chip-sized model", dict(model=["tiny_nmnist"])),
        # the ANN learned the input synapse's state at the last step (see
        # datasets/event_data.py): the output is not the class before the
        # input has built up, so summed evidence decides early and wrongly
        ("early decisions", dict(model=["tiny_nmnist"], readout=["integrate"],
                                 decision_margin=[None, 50.0])),
        ("spike budget", dict(model=["tiny_nmnist"], spike_budget=[30.0, 15.0])),
        ("the main job's model", dict(model=["scnn_nmnist"])),
    ],
}
BASE = {
    "digits": dict(dataset="mnist", epochs=EPOCHS),
    "events": dict(dataset="mnist-saccades", epochs=EPOCHS),
}
#: issue 21's targets: (what, part, minimum accuracy, cost column, maximum cost)
TARGETS = [
    ("≥ 99.0 % at ≤ 20 µJ per digit", "digits", 0.990, "energy_uj", 20.0),
    ("≥ 98.0 % at ≤ 5 µJ per digit", "digits", 0.980, "energy_uj", 5.0),
    ("≥ 98.0 % at ≤ 8 steps (mean steps to decision)", "digits", 0.980, "mean_steps", 8.0),
    ("events: ≥ 97.5 % at ≤ 300 µJ per recording", "events", 0.975, "energy_uj", 300.0),
]


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("digits", "events"), default="digits")
    parser.add_argument("--pilot", type=nv.Config.settings()["n_test"].parse, default=None,
                        help="run the grids on the first N test samples only")
    parser.add_argument("--workers", type=nv.Config.settings()["workers"].parse,
                        default=None, help="points as tasks on N Dask workers")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--table", action="store_true", help="print the README's tables")
    return parser.parse_args()


def folder(args, part):
    out = Path(args.out) / part
    return out.with_name(out.name + "-pilot") if args.pilot else out


def best(rows, minimum, cost, maximum):
    """The cheapest chip row at ``minimum`` accuracy or more, and the most
    accurate at ``maximum`` cost or less (the two ends of the target)."""
    chip = [r for r in rows if r["chip_uj"] not in ("", None)]
    ok = [r for r in chip if float(r["accuracy"]) >= minimum]
    cheap = [r for r in chip if float(r[cost]) <= maximum]
    cheapest = min(ok, key=lambda r: float(r[cost]), default=None)
    accurate = max(cheap, key=lambda r: float(r["accuracy"]), default=None)
    met = cheapest is not None and float(cheapest[cost]) <= maximum
    return met, cheapest, accurate


def targets(rows, part):
    out = []
    for what, p, minimum, cost, maximum in TARGETS:
        if p != part:
            continue
        met, cheapest, accurate = best(rows, minimum, cost, maximum)
        out.append(dict(target=what, met=met, cheapest_at_accuracy=cheapest,
                        most_accurate_at_cost=accurate))
    if part == "digits":
        # a point at 99.0 % or more that costs less than its own ANN's arithmetic
        ann = {(r["point"]): float(r["energy_uj"]) for r in rows if r["backend"] == "keras"}
        beat = [r for r in rows if r["chip_uj"] not in ("", None)
                and float(r["accuracy"]) >= 0.99 and float(r["energy_uj"]) < ann[r["point"]]]
        near = [r for r in rows if r["chip_uj"] not in ("", None)
                and float(r["accuracy"]) >= 0.99]
        ratio = min(near, key=lambda r: float(r["energy_uj"]) / ann[r["point"]], default=None)
        out.append(dict(target="≥ 99.0 % for less than its own ANN's arithmetic",
                        met=bool(beat), cheapest_at_accuracy=ratio,
                        ann_uj=ann.get(ratio["point"]) if ratio else None))
    return out


def measure(args):
    from nengo_vision._io import write_text
    from nengo_vision.result import machine

    part = args.part
    out = folder(args, part)
    base = nv.Config(**BASE[part], data_dir=args.data_dir, cache_dir=args.cache_dir,
                     progress=sys.stderr.isatty(),
                     **({"n_test": args.pilot} if args.pilot else {}))
    start = datetime.datetime.now()
    rows = []
    for name, grid in GRIDS[part]:
        print(f"\n{part}: {name}")
        rows = nv.sweep(base, grid, out, workers=args.workers)
    summary = dict(part=part, date=start.isoformat(timespec="seconds"), machine=machine(),
                   # the points' own run times (a resumed run skips the finished ones)
                   point_hours=round(sum({r["point"]: float(r["point_seconds"])
                                          for r in rows}.values()) / 3600, 2),
                   base=BASE[part], grids=GRIDS[part], n_test=rows[0]["n_test"],
                   targets=targets([{k: ("" if v is None else v) for k, v in r.items()}
                                    for r in rows], part))
    write_text(out / "targets.json", json.dumps(summary, indent=2, default=str) + "\n")
    table(args)


def _settings(r):
    keys = ("model", "n_steps", "time_epochs", "spike_budget", "quantize", "readout",
            "decision_margin")
    return ", ".join(f"{k}={r[k]}" for k in keys if r.get(k) not in ("", None))


def table(args):
    for part in ("digits", "events"):
        out = folder(args, part)
        if not (out / "sweep.csv").exists():
            continue
        with open(out / "sweep.csv") as f:
            rows = list(csv.DictReader(f))
        chip = [r for r in rows if r["chip_uj"]]
        ann = {r["point"]: float(r["energy_uj"]) for r in rows if r["backend"] == "keras"}
        print(f"\n{part} ({out}): the front of accuracy against energy\n")
        print("| point | accuracy | steps | chip | link | host | total | its ANN |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in sorted((r for r in chip if r["front_energy"] == "True"),
                        key=lambda r: float(r["energy_uj"])):
            print(f"| {_settings(r)} | {float(r['accuracy']) * 100:.2f} % | "
                  f"{float(r['mean_steps']):.2f} | {float(r['chip_uj']):.2f} | "
                  f"{float(r['link_uj']):.3f} | {float(r['host_uj']):.2f} | "
                  f"**{float(r['energy_uj']):.2f} µJ** | {ann[r['point']]:.2f} µJ |")
        summary = out / "targets.json"
        if summary.exists():
            print()
            for t in json.loads(summary.read_text())["targets"]:
                r = t["cheapest_at_accuracy"] or t.get("most_accurate_at_cost")
                print(f"- {t['target']}: {'met' if t['met'] else 'missed'}"
                      + (f"; {_settings(r)}: {float(r['accuracy']) * 100:.2f} %, "
                         f"{float(r['energy_uj']):.2f} µJ, {float(r['mean_steps']):.2f} "
                         f"steps" if r else ""))


def main():
    args = parse()
    if args.table:
        table(args)
        return 0
    return run("bench_frontier", lambda: measure(args))


if __name__ == "__main__":
    sys.exit(main())
