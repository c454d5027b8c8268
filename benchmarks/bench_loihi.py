"""Loihi-aware training and firing-rate calibration on the emulator (run by hand).

For one configuration per run (so that two can share the machine's cores), trains
``scnn_mnist`` with the main job's settings but 20 epochs (cached), optionally
calibrates its firing rates (toward 80 Hz by default), and measures:

- Keras ANN accuracy on all 10,000 MNIST test digits;
- NengoDL with Loihi's neuron (``nengo-dl-loihi``) and the NengoLoihi emulator on
  the first ``--n-test`` test digits at 30 steps, and how often the two predict
  the same class;
- firing rates per layer, the placement on the chip, and wall times.

Configurations:

========== ===================================================================
lif        trained through nengo.LIF's rate curve (the pipeline's default)
loihi      trained through Loihi's discretised LIF rate curve, no calibration
loihi-cal  ``loihi``, then calibrated toward ``--target-rate`` (+1 epoch)
lif-cal    ``lif``, then calibrated likewise
========== ===================================================================

Writes ``benchmarks/results/loihi_<config>.json``; ``--table`` prints the
README's table from the files there. ``--sweep HZ,HZ,...`` calibrates the same
trained weights toward each target rate in turn and measures only Keras and
NengoDL-Loihi (fast), appending to ``results/loihi_target_sweep.jsonl``: that
is how the default target was chosen. Example (2,000 digits: about 40 minutes
per configuration on one core)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_loihi.py --config loihi-cal
    python benchmarks/bench_loihi.py --table
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
CONFIGS = {
    "lif": ("lif", False),
    "loihi": ("loihi", False),
    "loihi-cal": ("loihi", True),
    "lif-cal": ("lif", True),
}


def trained_model(args, neuron, target_hz):
    """The cached trained ``scnn_mnist``, calibrated toward ``target_hz`` if given.

    Returns ``(model, train_info, calibration_or_None, data)``.
    """
    from nengo_vision import defaults
    from nengo_vision.calibration import calibrate
    from nengo_vision.data import load_mnist
    from nengo_vision.models import get_model
    from nengo_vision.neurons import ACTIVATIONS
    from nengo_vision.training import train

    (x_train, y_train), test = load_mnist(args.data_dir)
    activation = ACTIVATIONS[neuron](gain=defaults.GAIN, amplitude=defaults.AMPLITUDE)
    model, info = train(
        get_model("scnn_mnist"), activation, x_train, y_train, epochs=args.epochs,
        seed=args.seed, cache_dir=args.cache_dir, augment=defaults.AUGMENT,
        lr_decay=True,
    )
    calibration = None
    if target_hz:
        calibration = calibrate(
            model, x_train, y_train, target_hz, info["cache"],
            augment=defaults.AUGMENT, seed=args.seed,
        )
    return model, info, calibration, test


def measure(args):
    import nengo
    import numpy as np

    from nengo_vision import defaults
    from nengo_vision._io import write_text
    from nengo_vision.backends import RunContext, get_backend
    from nengo_vision.calibration import describe
    from nengo_vision.harness import predictions

    neuron, calibrated = CONFIGS[args.config]
    model, info, calibration, (x_test, y_test) = trained_model(
        args, neuron, args.target_rate if calibrated else None
    )
    if calibration:
        print("\n".join(describe(calibration)), flush=True)

    synapse = nengo.Lowpass(defaults.OUTPUT_SYNAPSE)
    ctx = RunContext(model=model, n_steps=args.n_steps, seed=args.seed)
    parts, preds = {}, {}
    for name, n in (("keras", 10000), ("nengo-dl-loihi", args.n_test),
                    ("loihi-emulator", args.n_test)):
        start = time.perf_counter()
        run = get_backend(name).run(ctx, x_test[:n])
        seconds = time.perf_counter() - start
        preds[name] = predictions(run.traces, synapse)
        parts[name] = dict(
            n_test=n,
            accuracy=float(np.mean(preds[name] == y_test[:n])),
            seconds=round(seconds, 1),
            firing_rates={k: round(v, 2) for k, v in run.firing_rates.items()},
        )
        if run.placement:
            parts[name]["placement"] = run.placement
        print(f"{name}: {parts[name]['accuracy']:.2%} on {n} ({seconds:.0f} s)", flush=True)
    n = args.n_test
    parts["keras"]["accuracy_first_n_test"] = float(np.mean(preds["keras"][:n] == y_test[:n]))
    agree = float(np.mean(preds["loihi-emulator"] == preds["nengo-dl-loihi"]))
    results = dict(
        config=args.config, neuron=neuron, calibration=calibration,
        epochs=args.epochs, seed=args.seed, n_steps=args.n_steps,
        output_synapse=defaults.OUTPUT_SYNAPSE, synapse=ctx.synapse,
        training=dict(cached=info["cached"], seconds=round(info["seconds"], 1)),
        backends=parts, emulator_agrees_with_nengo_dl_loihi=agree,
        date=datetime.date.today().isoformat(),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}",
    )
    out = HERE / "results" / f"loihi_{args.config}.json"
    write_text(out, json.dumps(results, indent=1) + "\n")
    print(f"agreement emulator / nengo-dl-loihi: {agree:.2%}; wrote {out}")


def sweep(args):
    import nengo
    import numpy as np

    from nengo_vision import defaults
    from nengo_vision.backends import RunContext, get_backend
    from nengo_vision.harness import predictions

    neuron, _ = CONFIGS[args.config or "loihi-cal"]
    synapse = nengo.Lowpass(defaults.OUTPUT_SYNAPSE)
    out = HERE / "results" / "loihi_target_sweep.jsonl"
    for target in [None] + [float(t) for t in args.sweep.split(",")]:
        model, _, calibration, (x_test, y_test) = trained_model(args, neuron, target)
        ctx = RunContext(model=model, n_steps=args.n_steps, seed=args.seed, progress=False)
        line = dict(neuron=neuron, target_hz=target, epochs=args.epochs, n_test=args.n_test,
                    date=datetime.date.today().isoformat())
        if calibration:
            line["scales"] = calibration["scales"]
            line["rates_after"] = {n: s["mean_hz"] for n, s in calibration["after"].items()}
            line["saturated_after"] = {n: s["saturated"] for n, s in calibration["after"].items()}
        for name in ("keras", "nengo-dl-loihi"):
            run = get_backend(name).run(ctx, x_test[: args.n_test])
            line[name] = float(np.mean(predictions(run.traces, synapse) == y_test[: args.n_test]))
            line[f"{name}_rates"] = {k: round(v, 1) for k, v in run.firing_rates.items()}
        print(json.dumps(line), flush=True)
        with open(out, "a") as f:
            f.write(json.dumps(line) + "\n")


def table():
    rows = [
        "| configuration | Keras: all 10,000 / first N | NengoDL-Loihi | emulator | agree | "
        "rates conv0/1/2 (emulator, Hz) | emulator time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for config in CONFIGS:
        path = HERE / "results" / f"loihi_{config}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        b = r["backends"]
        emu = b["loihi-emulator"]
        rates = " / ".join(f"{v:.0f}" for v in emu["firing_rates"].values())
        rows.append(
            f"| {config} | {b['keras']['accuracy']:.2%} / "
            f"{b['keras']['accuracy_first_n_test']:.2%} | "
            f"{b['nengo-dl-loihi']['accuracy']:.2%} | **{emu['accuracy']:.2%}** "
            f"(first {emu['n_test']}) | {r['emulator_agrees_with_nengo_dl_loihi']:.2%} | "
            f"{rates} | {emu['seconds'] / 60:.0f} min |"
        )
    print("\n".join(rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=list(CONFIGS))
    parser.add_argument("--table", action="store_true", help="print the README table")
    parser.add_argument("--sweep", metavar="HZ,HZ", help="target rates to compare")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--target-rate", type=float, default=80.0)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--n-steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    if args.table:
        table()
    elif args.sweep:
        sweep(args)
    elif args.config:
        measure(args)
    else:
        parser.error("give --config or --table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
