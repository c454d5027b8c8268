"""Full-size measurement of the pipeline (run by hand, not in CI).

Trains ``scnn_mnist`` fully, then measures in one run:

- Keras (rate ANN) accuracy on all 10,000 MNIST test digits;
- NengoDL spiking accuracy on all 10,000 test digits at 30 steps;
- Loihi-emulator accuracy on the first ``--n-emulator`` test digits, and how often
  it predicts the same class as NengoDL on those digits;
- the wall time of each part.

Writes ``benchmarks/results/pipeline.json`` and prints a Markdown table for the
README. Example (about 40 minutes on 2 cores)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_pipeline.py
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

import nengo  # noqa: E402
import numpy as np  # noqa: E402

from nengo_vision._io import write_text  # noqa: E402
from nengo_vision.backends import RunContext, get_backend  # noqa: E402
from nengo_vision import defaults  # noqa: E402
from nengo_vision.convert import augment_arg  # noqa: E402
from nengo_vision.data import load_mnist  # noqa: E402
from nengo_vision.harness import predictions  # noqa: E402
from nengo_vision.models import get_model  # noqa: E402
from nengo_vision.neurons import LIFActivation  # noqa: E402
from nengo_vision.training import train  # noqa: E402

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--gain", type=float, default=defaults.GAIN)
    parser.add_argument("--amplitude", type=float, default=defaults.AMPLITUDE)
    parser.add_argument("--augment", type=augment_arg, default=defaults.AUGMENT)
    parser.add_argument("--n-steps", type=int, default=30)
    parser.add_argument("--n-nengo-dl", type=int, default=10000)
    parser.add_argument("--n-emulator", type=int, default=1000)
    parser.add_argument("--output-synapse", type=float, default=defaults.OUTPUT_SYNAPSE)
    parser.add_argument("--synapse", type=float, default=0.002)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(HERE / "results" / "pipeline.json"))
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = load_mnist(args.data_dir)
    activation = LIFActivation(gain=args.gain, amplitude=args.amplitude)
    t0 = time.perf_counter()
    model, info = train(
        get_model("scnn_mnist"), activation, x_train, y_train, epochs=args.epochs,
        seed=args.seed, cache_dir=args.cache_dir, augment=args.augment, lr_decay=True,
    )
    train_seconds = info["seconds"] if not info["cached"] else None
    ctx = RunContext(
        model=model, n_steps=args.n_steps, synapse=args.synapse,
        batch_size=100, seed=args.seed, progress=sys.stderr.isatty(),
    )
    readout = nengo.Lowpass(args.output_synapse)
    parts = {}
    preds = {}
    for name, n in (("keras", 10000), ("nengo-dl", args.n_nengo_dl), ("loihi-emulator", args.n_emulator)):
        start = time.perf_counter()
        run = get_backend(name).run(ctx, x_test[:n])
        seconds = time.perf_counter() - start
        preds[name] = predictions(run.traces, readout)
        # accuracy under other readouts too, from the same traces
        by_tau = {
            str(tau): float(np.mean(predictions(run.traces, nengo.Lowpass(tau)) == y_test[:n]))
            for tau in (0.005, 0.02, 0.1)
        }
        by_tau["sum"] = float(np.mean(run.traces.sum(1).argmax(-1) == y_test[:n]))
        parts[name] = dict(
            n_test=n,
            accuracy=float(np.mean(preds[name] == y_test[:n])),
            accuracy_by_readout=by_tau,
            seconds=round(seconds, 1),
            digits_per_second=round(n / seconds, 2),
            firing_rates={k: round(v, 2) for k, v in run.firing_rates.items()},
        )
        print(name, json.dumps(parts[name]), flush=True)
    n = args.n_emulator
    agree = float(np.mean(preds["loihi-emulator"] == preds["nengo-dl"][:n]))
    # NengoDL on the emulator's digits, for a like-for-like comparison
    parts["nengo-dl"]["accuracy_on_emulator_digits"] = float(
        np.mean(preds["nengo-dl"][:n] == y_test[:n])
    )
    results = dict(
        date=datetime.date.today().isoformat(),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        settings=vars(args),
        training=dict(epochs=args.epochs, seconds=train_seconds, cached=info["cached"],
                      history=info["history"]),
        parts=parts,
        emulator_agrees_with_nengo_dl=agree,
        total_seconds=round(time.perf_counter() - t0, 1),
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(results, indent=2) + "\n")

    print("\n| part | digits | accuracy | wall time |\n|---|---|---|---|")
    if train_seconds:
        print(f"| training ({args.epochs} epochs, 60,000 digits) | | | {train_seconds / 60:.1f} min |")
    for name, p in parts.items():
        print(f"| {name} | {p['n_test']:,} | {p['accuracy'] * 100:.2f} % | {p['seconds'] / 60:.1f} min |")
    print(f"\nemulator agrees with NengoDL on {agree * 100:.1f} % of {n} digits")


if __name__ == "__main__":
    main()
