"""How the LIF operating range sets spiking accuracy (run by hand, not in CI).

One run trains ``scnn_mnist`` with one setting of gain, amplitude, shifted digits,
learning-rate decay and rate penalty, then measures, at 30 steps by default:

- Keras accuracy on all 10,000 test digits, and on the first ``--n-nengo-dl``;
- NengoDL spiking accuracy on the first ``--n-nengo-dl`` test digits;
- optionally the Loihi emulator on the first ``--n-emulator``;
- mean firing rates per layer, and wall times.

The setting is a :class:`nengo_vision.Config` (``--rate-target`` is its
``rate_penalty``, whose weight is ``defaults.RATE_WEIGHT``; ``--readout`` its
``output_synapse``; ``--n-nengo-dl`` and ``--n-emulator`` its ``digits``), run
through the pipeline's stages: ``load_data``, ``train`` (cached) and ``evaluate``.

Each run appends one JSON line to ``benchmarks/results/operating_range.jsonl``
(or ``--out``); the table in ``nengo_vision/defaults.py`` comes from those
lines. Example (about 8 minutes on 2 cores)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_operating_range.py \\
        --gain 10 --amplitude 0.002 --augment 2 --lr-decay
"""

import argparse
import datetime
import json
import os
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
    parser.add_argument("--gain", type=SETTING["gain"].parse, default=3.0)
    parser.add_argument("--amplitude", type=SETTING["amplitude"].parse, default=0.01)
    parser.add_argument("--augment", type=SETTING["augment"].parse, default=0)
    parser.add_argument("--lr-decay", action="store_true")
    parser.add_argument("--epochs", type=SETTING["epochs"].parse, default=10)
    parser.add_argument("--n-train", type=SETTING["n_train"].parse, default=None)
    parser.add_argument("--rate-target", type=float, default=0.0, help="Hz; 0: no penalty")
    parser.add_argument("--n-steps", type=SETTING["n_steps"].parse, default=30)
    parser.add_argument("--synapse", type=SETTING["synapse"].parse, default=0.002)
    parser.add_argument("--readout", type=SETTING["output_synapse"].parse, default=0.02,
                        help="output filter (s)")
    parser.add_argument("--n-nengo-dl", type=SETTING["n_test"].parse, default=2000)
    parser.add_argument("--n-emulator", type=int, default=0, help="0: no emulator run")
    parser.add_argument("--seed", type=SETTING["seed"].parse, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(HERE / "results" / "operating_range.jsonl"))
    return parser.parse_args()


def main():
    import numpy as np

    from nengo_vision.harness import predictions
    from nengo_vision.result import machine

    args = parse()
    digits = {"nengo-dl": args.n_nengo_dl}
    if args.n_emulator:
        digits["loihi-emulator"] = args.n_emulator
    config = nv.Config(
        model="scnn_mnist", gain=args.gain, amplitude=args.amplitude, augment=args.augment,
        lr_decay=args.lr_decay, epochs=args.epochs, n_train=args.n_train,
        rate_penalty=args.rate_target or None, n_steps=args.n_steps, synapse=args.synapse,
        output_synapse=args.readout, seed=args.seed, batch_size=100, progress=False,
        backends=["keras", *digits], n_test=N_TEST, digits=digits,
        data_dir=args.data_dir, cache_dir=args.cache_dir,
    ).check()
    data = nv.pipeline.load_data(config)
    start = time.perf_counter()
    model, training = nv.pipeline.train(config, data)
    result = dict(
        vars(args), rate_weight=defaults.RATE_WEIGHT, date=datetime.date.today().isoformat(),
        machine=machine(),
        train_seconds=round(time.perf_counter() - start),
        train_accuracy=training["history"].get("accuracy", [None])[-1],
    )
    evaluated = nv.pipeline.evaluate(config, model, data, training)
    for name, b in evaluated.backends.items():
        result[name] = dict(
            accuracy=b.accuracy,
            seconds=round(b.run.seconds),
            firing_rates={k: round(v, 1) for k, v in b.run.firing_rates.items()},
        )
    n = evaluated.backends["nengo-dl"].n_test
    keras = predictions(evaluated.backends["keras"].run.traces[:n], evaluated.output_filter)
    result["keras"]["accuracy_on_nengo_dl_digits"] = float(np.mean(keras == data.labels[:n]))
    if args.n_emulator:
        # on the digits both ran
        result["emulator_agrees_with_nengo_dl"] = (
            evaluated.comparison.agreement["loihi-emulator"]["nengo-dl"])
    print(json.dumps(result), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
