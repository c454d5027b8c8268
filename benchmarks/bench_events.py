"""Event-camera data made from real MNIST: how fast, how many events, what they look like.

Makes the saccade events (:mod:`nengo_vision.datasets.saccades`) of the first
``--n-test`` MNIST test digits (cached, like the main job's training, in the
cache folder), and records the time per digit, the events per digit, the share
of ON events and of each saccade; draws three digits' events over time and
their collapsed frames (seed 000's eq. 1). Writes
``results/events_data.json`` and ``results/events/mnist_saccades.png``.

The spiking network on these events (``scnn_nmnist``, events streamed to the
chip) is not built yet; this measures the data it will take. Example (about a
minute for all 10,000 digits on 2 cores)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_events.py
"""

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from _common import RESULTS, SETTING, run  # noqa: E402

N_SHOWN = 3


def measure(args):
    from matplotlib.figure import Figure

    from nengo_vision._io import atomic_path, write_text
    from nengo_vision.datasets import get_dataset
    from nengo_vision.datasets.event_set import mnist_saccades, saccades_cache_path
    from nengo_vision.datasets.saccades import SaccadeSettings
    from nengo_vision.report import plots
    from nengo_vision.result import machine
    from nengo_vision.training import default_cache_dir

    splits = get_dataset("mnist").load(args.data_dir)
    images, labels = splits.x_test[: args.n_test, ..., 0], splits.y_test[: args.n_test]
    settings = SaccadeSettings()
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    progress = None
    if sys.stderr.isatty():
        from functools import partial

        from tqdm import tqdm

        progress = partial(tqdm, desc="events", unit="digit")

    cached = saccades_cache_path(images, labels, cache, settings, args.seed).exists()
    start = time.perf_counter()
    events = mnist_saccades(images, labels, cache, settings, seed=args.seed, progress=progress)
    seconds = time.perf_counter() - start

    counts = events.counts()
    bounds = settings.saccade_bounds_us()
    t = events.events["t"]
    results = dict(
        n_digits=len(events), seed=args.seed, settings=settings.key(),
        cached=cached, seconds=round(seconds, 1), ms_per_digit=round(1000 * seconds / len(events), 2),
        events_per_digit=dict(mean=round(float(counts.mean()), 1),
                              p5=int(np.percentile(counts, 5)),
                              p95=int(np.percentile(counts, 95))),
        on_fraction=round(float(events.events["p"].mean()), 4),
        saccade_fractions=[round(float(np.mean((t >= a) & (t < b))), 4) for a, b in bounds],
        date=datetime.date.today().isoformat(), machine=machine(),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "events_data.json", json.dumps(results, indent=1) + "\n")

    fig = Figure(figsize=(11, 2.6 * N_SHOWN))
    axes = fig.subplots(N_SHOWN, 4, gridspec_kw=dict(width_ratios=[3, 1, 1, 1]))
    per_saccade = events.subset(range(N_SHOWN)).collapsed(per_saccade=True)
    for i in range(N_SHOWN):
        plots.events_over_time(axes[i, 0], events.recording(i), saccades_us=bounds,
                               title=f"test digit {i} (label {labels[i]}): "
                                     f"{counts[i]:,} events")
        for s in range(3):
            plots.event_frame(axes[i, 1 + s], per_saccade[i, s], title=f"saccade {s + 1}")
    fig.tight_layout()
    (out / "events").mkdir(exist_ok=True)
    with atomic_path(out / "events" / "mnist_saccades.png") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    print(f"{len(events):,} digits: {results['ms_per_digit']} ms per digit "
          f"({'read from the cache' if cached else 'made'}), {results['events_per_digit']['mean']:,.0f} "
          f"events per digit (5-95 %: {results['events_per_digit']['p5']:,}-"
          f"{results['events_per_digit']['p95']:,}), ON {results['on_fraction']:.1%}, "
          f"per saccade {results['saccade_fractions']}; wrote {out / 'events_data.json'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-test", type=SETTING["n_test"].parse, default=10000)
    parser.add_argument("--seed", type=SETTING["seed"].parse, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(RESULTS), help="results folder (default: %(default)s)")
    args = parser.parse_args(argv)
    return run("bench_events", lambda: measure(args))


if __name__ == "__main__":
    sys.exit(main())
