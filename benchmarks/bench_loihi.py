"""Loihi-aware training and firing-rate calibration on the emulator (run by hand).

For one configuration per run (so that two can share the machine's cores), trains
``scnn_mnist`` with the main job's settings but 20 epochs (cached), optionally
calibrates its firing rates (toward 80 Hz by default), and measures:

- Keras ANN accuracy on all 10,000 MNIST test digits;
- NengoDL with Loihi's neuron (``nengo-dl-loihi``) and the NengoLoihi emulator on
  the first ``--n-test`` test digits at 30 steps, and how often the two predict
  the same class;
- firing rates per layer, the placement on the chip, and wall times.

Each configuration is a :class:`nengo_vision.Config` (``neuron`` and
``target_rate``) run through the pipeline's stages (``load_data``, ``train``,
which calibrates, and ``evaluate``):

========== ===================================================================
lif        trained through nengo.LIF's rate curve (the pipeline's default)
loihi      trained through Loihi's discretised LIF rate curve, no calibration
loihi-cal  ``loihi``, then calibrated toward ``--target-rate`` (+1 epoch)
lif-cal    ``lif``, then calibrated likewise
========== ===================================================================

Writes ``benchmarks/results/loihi_<config>.json``; ``--table`` prints the
README's table from the files there (both in ``--out`` if given).
``--sweep HZ,HZ,...`` calibrates the same trained weights toward each target
rate in turn and measures only Keras and NengoDL-Loihi (fast), on the first
``--n-test`` digits, appending to ``results/loihi_target_sweep.jsonl``: that is
how the default target was chosen. Example (all 10,000 digits: about 12
minutes per configuration on 2 cores with the weights cached, most of it NengoDL)::

    NENGO_VISION_DATA=../shared/data python benchmarks/bench_loihi.py --config loihi-cal
    python benchmarks/bench_loihi.py --table
"""

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nengo_vision as nv  # noqa: E402

from _common import RESULTS, SETTING, add_run_options, run  # noqa: E402
#: configuration → (neuron, calibrated)
CONFIGS = {
    "lif": ("lif", False),
    "loihi": ("loihi", False),
    "loihi-cal": ("loihi", True),
    "lif-cal": ("lif", True),
}
#: Keras runs every test digit; the spiking backends the first --n-test
N_KERAS = 10000


def base_config(args, neuron, backends, n_test, digits):
    return nv.Config(
        model="scnn_mnist", neuron=neuron, epochs=args.epochs, seed=args.seed,
        n_train=args.n_train, n_steps=args.n_steps, backends=backends, n_test=n_test,
        digits=digits, data_dir=args.data_dir, cache_dir=args.cache_dir,
    )


def measure(args):
    import numpy as np

    from nengo_vision._io import write_text
    from nengo_vision.harness import predictions
    from nengo_vision.result import machine

    neuron, calibrated = CONFIGS[args.config]
    n = args.n_test
    spiking = ("nengo-dl-loihi", "loihi-emulator")
    config = base_config(args, neuron, ["keras", *spiking], max(N_KERAS, n),
                         {name: n for name in spiking})
    config.target_rate = args.target_rate if calibrated else None
    config.progress = sys.stderr.isatty()
    config.check()
    data = nv.pipeline.load_data(config)
    model, training = nv.pipeline.train(config, data)  # calibrates, and says how
    result = nv.pipeline.evaluate(config, model, data, training)

    parts = {}
    for name, b in result.backends.items():
        run = b.run
        parts[name] = dict(
            n_test=b.n_test,
            accuracy=b.accuracy,
            seconds=round(run.seconds, 1),
            firing_rates={k: round(v, 2) for k, v in run.firing_rates.items()},
        )
        if run.placement:
            parts[name]["placement"] = run.placement
        print(f"{name}: {b.accuracy:.2%} on {b.n_test} ({run.seconds:.0f} s)", flush=True)
    keras = predictions(result.backends["keras"].run.traces[:n], result.output_filter)
    parts["keras"]["accuracy_first_n_test"] = float(np.mean(keras == data.labels[:n]))
    agree = result.comparison.agreement["loihi-emulator"]["nengo-dl-loihi"]
    results = dict(
        config=args.config, neuron=neuron, calibration=result.calibration,
        epochs=config.epochs, seed=config.seed, n_steps=config.n_steps,
        output_synapse=config.output_synapse, synapse=config.synapse,
        training=dict(cached=training["cached"], seconds=training["seconds"]),
        **({} if args.n_train is None else dict(n_train=args.n_train)),
        backends=parts, emulator_agrees_with_nengo_dl_loihi=agree,
        date=datetime.date.today().isoformat(),
        machine=machine(),
    )
    out = Path(args.out) / f"loihi_{args.config}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(results, indent=1) + "\n")
    print(f"agreement emulator / nengo-dl-loihi: {agree:.2%}; wrote {out}")


def sweep(args):
    neuron, _ = CONFIGS[args.config or "loihi-cal"]
    targets = [SETTING["target_rate"].parse(t) for t in args.sweep.split(",")]
    config = base_config(args, neuron, ["keras", "nengo-dl-loihi"], args.n_test,
                         {"nengo-dl-loihi": args.n_test})
    config.progress = False
    config.check()
    data = nv.pipeline.load_data(config)
    out = Path(args.out) / "loihi_target_sweep.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    for target in [None] + targets:
        # the same cached weights each time, calibrated toward this target
        calibrated = config.replace(target_rate=target)
        model, training = nv.pipeline.train(calibrated, data)
        result = nv.pipeline.evaluate(calibrated, model, data, training)
        calibration = result.calibration
        line = dict(neuron=neuron, target_hz=target, epochs=config.epochs,
                    n_test=config.n_test, date=datetime.date.today().isoformat())
        if calibration:
            line["scales"] = calibration["scales"]
            line["rates_after"] = {n: s["mean_hz"] for n, s in calibration["after"].items()}
            line["saturated_after"] = {n: s["saturated"] for n, s in calibration["after"].items()}
        for name, b in result.backends.items():
            line[name] = b.accuracy
            line[f"{name}_rates"] = {k: round(v, 1) for k, v in b.run.firing_rates.items()}
        print(json.dumps(line), flush=True)
        with open(out, "a") as f:
            f.write(json.dumps(line) + "\n")


def table(folder=RESULTS):
    rows = [
        "| configuration | Keras: all 10,000 / first N | NengoDL-Loihi | emulator | agree | "
        "rates conv0/1/2 (emulator, Hz) | emulator time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for config in CONFIGS:
        path = Path(folder) / f"loihi_{config}.json"
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
            f"{rates} | {emu['seconds']:.0f} s |"
        )
    print("\n".join(rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=list(CONFIGS))
    parser.add_argument("--table", action="store_true", help="print the README table")
    parser.add_argument("--sweep", metavar="HZ,HZ", help="target rates to compare")
    add_run_options(parser, epochs=20)
    parser.add_argument("--target-rate", type=SETTING["target_rate"].parse, default=80.0)
    args = parser.parse_args()

    def work():
        if args.table:
            table(args.out)
        elif args.sweep:
            sweep(args)
        elif args.config:
            measure(args)
        else:
            parser.error("give --config or --table")

    return run("bench_loihi", work)


if __name__ == "__main__":
    sys.exit(main())
