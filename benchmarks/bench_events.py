"""Event-camera data made from real MNIST: the data, the spiking network on it, the encodings.

Three measurements, each writing JSON (and a figure) to ``results/``:

- ``--part data`` (default): makes the saccade events
  (:mod:`nengo_vision.datasets.saccades`) of the first ``--n-test`` MNIST test
  digits (cached), and records the time per digit, the events per digit, the
  share of ON events and of each saccade; draws three digits' events over time
  and their collapsed frames (seed 000's eq. 1). ``events_data.json``,
  ``events/mnist_saccades.png``. About a minute for all 10,000 digits.
- ``--part network``: ``scnn_nmnist`` trained on the frames of all 60,000
  training digits' events (``--epochs``), then the test digits' events
  streamed 300 steps each: the ANN on the frames of all ``--n-test``,
  the Loihi emulator on ``--emulator-digits`` and NengoDL on
  ``--nengo-dl-digits`` (NengoDL takes ~2 s per 300-step digit here).
  ``events_network.json``.
- ``--part encodings``: ``scnn_mnist`` (``--epochs``, cached as the main job
  caches it) on ``--n-test`` still test digits through every ``--encoding``,
  on the ANN and the emulator (``--n-steps``, default 30).
  ``events_encodings.json``.

Example::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_events.py --part network \
        --emulator-digits 2000 --nengo-dl-digits 300
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

import nengo_vision as nv  # noqa: E402
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


def _costs(b):
    """Per sample: input spikes (events or a code's spikes; 0 for held pixels),
    neuron spikes, synaptic operations (the input's included) and chip energy."""
    spikes = dict(b.spikes_per_inference)
    sent = spikes.pop("input", 0.0)
    return dict(
        input_spikes_per_sample=round(sent), neuron_spikes_per_sample=round(sum(spikes.values())),
        synops_per_sample=round(sum(b.synops_per_inference.values())),
        energy_joules_per_sample=b.energy.total_joules if b.energy is not None else None,
    )


def _summary(result):
    parts = {}
    for name, b in result.backends.items():
        parts[name] = dict(
            n_test=b.n_test, accuracy=b.accuracy, seconds=round(b.seconds, 1),
            accuracy_by_step=[round(a, 4) for a in b.accuracy_by_step],
            readout=b.readout, firing_rates={k: round(v, 2) for k, v in b.firing_rates.items()},
        )
        if b.spiking:
            parts[name].update(_costs(b))
        print(f"{name}: {b.accuracy:.2%} on {b.n_test} ({b.seconds:.0f} s)", flush=True)
    return parts


def network(args):
    """scnn_nmnist on mnist-saccades, events streamed."""
    from nengo_vision._io import write_text
    from nengo_vision.result import machine

    backends = ["keras", "nengo-dl", "loihi-emulator"]
    config = nv.Config(
        dataset="mnist-saccades", epochs=args.epochs, seed=args.seed, n_test=args.n_test,
        backends=backends, batch_size=args.batch_size,
        digits={"keras": args.n_test, "loihi-emulator": args.emulator_digits,
                "nengo-dl": args.nengo_dl_digits},
        data_dir=args.data_dir, cache_dir=args.cache_dir, progress=sys.stderr.isatty(),
    )
    result = nv.pipeline.run(config)
    emulator = result.backends["loihi-emulator"]
    results = dict(
        model=result.model, dataset="mnist-saccades", epochs=args.epochs, seed=args.seed,
        n_steps=result.config.n_steps, input_synapse=result.config.input_synapse,
        output_synapse=result.config.output_synapse, readout=result.config.readout,
        training=dict(cached=result.training["cached"], seconds=result.training["seconds"]),
        backends=_summary(result),
        agreement_nengo_dl_emulator=result.comparison.agreement["nengo-dl"]["loihi-emulator"],
        cores=emulator.placement.totals["cores"],
        chip_layers=emulator.placement.on_chip,
        date=datetime.date.today().isoformat(), machine=machine(),
    )
    out = Path(args.out) / "events_network.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


def encodings(args):
    """scnn_mnist on still digits through each spike encoding."""
    from nengo_vision._io import write_text
    from nengo_vision.encodings import encoding_names
    from nengo_vision.result import machine

    rows = {}
    for name in encoding_names():
        config = nv.Config(
            encoding=name, epochs=args.epochs, seed=args.seed, n_test=args.n_test,
            n_steps=args.n_steps, backends=["keras", "loihi-emulator"],
            data_dir=args.data_dir, cache_dir=args.cache_dir, progress=sys.stderr.isatty(),
        )
        print(f"encoding {name}", flush=True)
        result = nv.pipeline.run(config)
        b = result.backends["loihi-emulator"]
        rows[name] = dict(
            accuracy=b.accuracy, readout=b.readout, n_test=b.n_test,
            accuracy_by_step=[round(a, 4) for a in b.accuracy_by_step],
            cores=b.placement.totals["cores"], seconds=round(b.seconds, 1),
            keras_accuracy=result.backends["keras"].accuracy, **_costs(b),
        )
        print(f"  emulator {b.accuracy:.2%}, {rows[name]['input_spikes_per_sample']:,} input "
              f"and {rows[name]['neuron_spikes_per_sample']:,} neuron spikes, "
              f"{b.seconds:.0f} s", flush=True)
    results = dict(model="scnn_mnist", epochs=args.epochs, n_steps=args.n_steps,
                   encodings=rows, date=datetime.date.today().isoformat(), machine=machine())
    out = Path(args.out) / "events_encodings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(results, indent=1) + "\n")
    draw_encodings(args)
    print(f"wrote {out}")


def draw_encodings(args):
    """``events/encodings.png``: the emulator's accuracy by step, one line per
    encoding (from ``events_encodings.json``)."""
    from matplotlib.figure import Figure

    from nengo_vision._io import atomic_path

    results = json.loads((Path(args.out) / "events_encodings.json").read_text())
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    for name, row in results["encodings"].items():
        curve = np.asarray(row["accuracy_by_step"]) * 100
        ax.plot(np.arange(1, len(curve) + 1), curve,
                label=f"{name} ({row['accuracy']:.2%}, "
                      f"{row['energy_joules_per_sample'] * 1e6:.0f} µJ)")
    ax.set_xlabel("step (1 ms)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{results['model']} on the Loihi emulator, {row['n_test']:,} test digits",
                 fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    (Path(args.out) / "events").mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(args.out) / "events" / "encodings.png") as tmp:
        fig.savefig(tmp, format="png", dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("data", "network", "encodings", "figure"),
                        default="data", help="figure: redraw the encodings figure")
    parser.add_argument("--n-test", type=SETTING["n_test"].parse, default=10000)
    parser.add_argument("--seed", type=SETTING["seed"].parse, default=0)
    parser.add_argument("--epochs", type=SETTING["epochs"].parse, default=10)
    parser.add_argument("--n-steps", type=SETTING["n_steps"].parse, default=30,
                        help="steps per still digit (--part encodings)")
    parser.add_argument("--batch-size", type=SETTING["batch_size"].parse, default=25,
                        help="NengoDL's digits per batch (every layer probed for 300 steps: "
                             "~70 MB each)")
    parser.add_argument("--emulator-digits", type=SETTING["n_test"].parse, default=10000)
    parser.add_argument("--nengo-dl-digits", type=SETTING["n_test"].parse, default=500)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(RESULTS), help="results folder (default: %(default)s)")
    args = parser.parse_args(argv)
    work = dict(data=measure, network=network, encodings=encodings,
                figure=draw_encodings)[args.part]
    return run("bench_events", lambda: work(args))


if __name__ == "__main__":
    sys.exit(main())
