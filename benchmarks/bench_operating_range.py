"""How the LIF operating range sets spiking accuracy (run by hand, not in CI).

One run trains ``scnn_mnist`` with one setting of gain, amplitude, shifted digits,
learning-rate decay and rate penalty, then measures, at 30 steps by default:

- Keras accuracy on all 10,000 test digits, and on the first ``--n-nengo-dl``;
- NengoDL spiking accuracy on the first ``--n-nengo-dl`` test digits;
- optionally the Loihi emulator on the first ``--n-emulator``;
- mean firing rates per layer, and wall times.

Each run appends one JSON line to ``benchmarks/results/operating_range.jsonl``;
the table in ``nengo_vision/defaults.py`` comes from those lines. Example (about
8 minutes on 2 cores)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_operating_range.py \\
        --gain 10 --amplitude 0.002 --augment 2 --lr-decay
"""

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nengo  # noqa: E402
import numpy as np  # noqa: E402

from nengo_vision.backends import RunContext, get_backend  # noqa: E402
from nengo_vision.data import load_mnist  # noqa: E402
from nengo_vision.harness import predictions  # noqa: E402
from nengo_vision.models import get_model  # noqa: E402
from nengo_vision.neurons import LIFActivation  # noqa: E402
from nengo_vision.training import train  # noqa: E402

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gain", type=float, default=3.0)
    parser.add_argument("--amplitude", type=float, default=0.01)
    parser.add_argument("--augment", type=int, default=0)
    parser.add_argument("--lr-decay", action="store_true")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--rate-target", type=float, default=0.0, help="Hz; 0: no penalty")
    parser.add_argument("--rate-weight", type=float, default=0.01)
    parser.add_argument("--n-steps", type=int, default=30)
    parser.add_argument("--synapse", type=float, default=0.002)
    parser.add_argument("--readout", type=float, default=0.02, help="output filter (s)")
    parser.add_argument("--n-nengo-dl", type=int, default=2000)
    parser.add_argument("--n-emulator", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(HERE / "results" / "operating_range.jsonl"))
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = load_mnist(args.data_dir)
    if args.n_train:
        x_train, y_train = x_train[: args.n_train], y_train[: args.n_train]
    activation = LIFActivation(gain=args.gain, amplitude=args.amplitude)
    start = time.perf_counter()
    model, info = train(
        get_model("scnn_mnist"), activation, x_train, y_train, epochs=args.epochs,
        seed=args.seed, cache_dir=args.cache_dir, augment=args.augment,
        lr_decay=args.lr_decay,
        rate_target=(args.rate_target, args.rate_weight) if args.rate_target else None,
    )
    result = dict(
        vars(args), date=datetime.date.today().isoformat(),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        train_seconds=round(time.perf_counter() - start),
        train_accuracy=info["history"].get("accuracy", [None])[-1],
    )
    ctx = RunContext(
        model=model, n_steps=args.n_steps, synapse=args.synapse,
        batch_size=100, seed=args.seed, progress=False,
    )
    readout = nengo.Lowpass(args.readout)
    preds = {}
    for name, n in (("keras", 10000), ("nengo-dl", args.n_nengo_dl),
                    ("loihi-emulator", args.n_emulator)):
        if not n:
            continue
        start = time.perf_counter()
        run = get_backend(name).run(ctx, x_test[:n])
        preds[name] = predictions(run.traces, readout)
        result[name] = dict(
            accuracy=float(np.mean(preds[name] == y_test[:n])),
            seconds=round(time.perf_counter() - start),
            firing_rates={k: round(v, 1) for k, v in run.firing_rates.items()},
        )
    n = args.n_nengo_dl
    result["keras"]["accuracy_on_nengo_dl_digits"] = float(np.mean(preds["keras"][:n] == y_test[:n]))
    if args.n_emulator:
        m = args.n_emulator
        result["emulator_agrees_with_nengo_dl"] = float(
            np.mean(preds["loihi-emulator"] == preds["nengo-dl"][:m])
        )
    print(json.dumps(result), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
