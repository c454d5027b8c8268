"""Full-size measurement of the pipeline (run by hand, not in CI).

Trains ``scnn_mnist`` fully, then measures in one run:

- Keras (rate ANN) accuracy on all 10,000 MNIST test digits;
- NengoDL spiking accuracy on all 10,000 test digits at 30 steps;
- Loihi-emulator accuracy on the first ``--n-emulator`` test digits, and how often
  it predicts the same class as NengoDL on those digits;
- the accuracy of each under other readout filters, and the wall time of each part.

The settings are a :class:`nengo_vision.Config` (the options map onto its
settings; ``--n-nengo-dl`` and ``--n-emulator`` onto ``digits``), run through
the pipeline's stages: ``load_data``, ``train`` (cached) and ``evaluate``.

Writes ``benchmarks/results/pipeline.json`` (or ``--out``) and prints a Markdown
table for the README. Example (about 40 minutes on 2 cores)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_pipeline.py
"""

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nengo_vision as nv  # noqa: E402
from nengo_vision import defaults  # noqa: E402

HERE = Path(__file__).resolve().parent
SETTING = nv.Config.settings()
#: Keras runs every test digit
N_TEST = 10000


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=SETTING["epochs"].parse, default=20)
    parser.add_argument("--n-train", type=SETTING["n_train"].parse, default=None,
                        help="train on the first N training digits (default: all)")
    parser.add_argument("--gain", type=SETTING["gain"].parse, default=defaults.GAIN)
    parser.add_argument("--amplitude", type=SETTING["amplitude"].parse,
                        default=defaults.AMPLITUDE)
    parser.add_argument("--augment", type=SETTING["augment"].parse, default=defaults.AUGMENT)
    parser.add_argument("--n-steps", type=SETTING["n_steps"].parse, default=30)
    parser.add_argument("--n-nengo-dl", type=SETTING["n_test"].parse, default=10000)
    parser.add_argument("--n-emulator", type=SETTING["n_test"].parse, default=1000)
    parser.add_argument("--output-synapse", type=SETTING["output_synapse"].parse,
                        default=defaults.OUTPUT_SYNAPSE)
    parser.add_argument("--synapse", type=SETTING["synapse"].parse, default=0.002)
    parser.add_argument("--seed", type=SETTING["seed"].parse, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(HERE / "results" / "pipeline.json"))
    return parser.parse_args()


def main():
    import nengo
    import numpy as np

    from nengo_vision._io import write_text
    from nengo_vision.harness import predictions
    from nengo_vision.result import machine

    args = parse()
    config = nv.Config(
        model="scnn_mnist", epochs=args.epochs, n_train=args.n_train, gain=args.gain,
        amplitude=args.amplitude, augment=args.augment, n_steps=args.n_steps,
        synapse=args.synapse, output_synapse=args.output_synapse, seed=args.seed,
        batch_size=100, backends=["keras", "nengo-dl", "loihi-emulator"], n_test=N_TEST,
        digits={"nengo-dl": args.n_nengo_dl, "loihi-emulator": args.n_emulator},
        progress=sys.stderr.isatty(), data_dir=args.data_dir, cache_dir=args.cache_dir,
    ).check()
    data = nv.pipeline.load_data(config)
    t0 = time.perf_counter()
    model, training = nv.pipeline.train(config, data)
    train_seconds = training["seconds"] if not training["cached"] else None
    result = nv.pipeline.evaluate(config, model, data, training)

    parts = {}
    for name, b in result.backends.items():
        traces, truth = b.run.traces, data.labels[: b.n_test]
        # accuracy under other readouts too, from the same traces
        by_tau = {
            str(tau): float(np.mean(predictions(traces, nengo.Lowpass(tau)) == truth))
            for tau in (0.005, 0.02, 0.1)
        }
        by_tau["sum"] = float(np.mean(traces.sum(1).argmax(-1) == truth))
        parts[name] = dict(
            n_test=b.n_test,
            accuracy=b.accuracy,
            accuracy_by_readout=by_tau,
            seconds=round(b.run.seconds, 1),
            digits_per_second=round(b.n_test / b.run.seconds, 2),
            firing_rates={k: round(v, 2) for k, v in b.run.firing_rates.items()},
        )
        print(name, json.dumps(parts[name]), flush=True)
    n = result.backends["loihi-emulator"].n_test
    # on the digits both ran (the emulator's, if NengoDL ran at least as many)
    agree = result.comparison.agreement["loihi-emulator"]["nengo-dl"]
    shared = result.comparison.shared_digits["loihi-emulator"]["nengo-dl"]
    # NengoDL on the emulator's digits, for a like-for-like comparison
    nengo_dl = predictions(result.backends["nengo-dl"].run.traces[:n], result.output_filter)
    parts["nengo-dl"]["accuracy_on_emulator_digits"] = float(
        np.mean(nengo_dl == data.labels[: len(nengo_dl)])
    )
    results = dict(
        date=datetime.date.today().isoformat(),
        machine=machine(),
        settings=vars(args),
        training=dict(epochs=config.epochs, seconds=train_seconds, cached=training["cached"],
                      history=training["history"]),
        parts=parts,
        emulator_agrees_with_nengo_dl=agree,
        total_seconds=round(time.perf_counter() - t0, 1),
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(results, indent=2) + "\n")

    print("\n| part | digits | accuracy | wall time |\n|---|---|---|---|")
    if train_seconds:
        print(f"| training ({config.epochs} epochs, {len(data.x_train):,} digits) | | | "
              f"{train_seconds / 60:.1f} min |")
    for name, p in parts.items():
        print(f"| {name} | {p['n_test']:,} | {p['accuracy'] * 100:.2f} % | {p['seconds'] / 60:.1f} min |")
    print(f"\nemulator agrees with NengoDL on {agree * 100:.1f} % of {shared} digits")


if __name__ == "__main__":
    main()
