"""Train, convert and run a vision model on every backend: the main job.

Run ``python -m nengo_vision.convert --help`` for the options.
"""

import argparse
import datetime
import math
import os
import platform
import sys
import tempfile
import textwrap
from pathlib import Path

from . import defaults

# Before TensorFlow is imported anywhere: keep its C++ start-up chatter out of
# the user's terminal (errors still show).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_BACKENDS = "keras,nengo-dl-rate,nengo-dl,nengo,loihi-emulator"
# Weight of the --rate-penalty penalty. Measured with amplitude 0.01 (target
# 100-150 Hz): 1.0 cost 5 points of ANN test accuracy after one epoch; 0.01 raised
# the ANN's mean rates up to 2.5-fold (conv0; conv2 not at all) and left NengoDL's
# spiking accuracy unchanged (98.25 % on the first 2,000 test digits, 10 epochs,
# gain 10). Lowering --amplitude did more.
RATE_WEIGHT = 0.01
PROG = "python -m nengo_vision.convert"
# MNIST digits fit a 20x20 box in a 28x28 frame: larger shifts cut digits off.
MAX_AUGMENT = 4


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text!r}")
    return value


def augment_arg(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_AUGMENT:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of pixels from 0 to {MAX_AUGMENT}, got {text!r}"
        )
    return value


def seed_arg(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"must be an integer from 0 to 4294967295, got {text!r}"
        )
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def synapse_arg(text):
    if text.lower() == "none":
        return None
    try:
        return positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a positive time constant in seconds, or 'none' for no filter, "
            f"got {text!r}"
        ) from None


def digits_arg(text):
    """``BACKEND=N,...`` → {backend: N}."""
    digits = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        try:
            value = int(count)
        except ValueError:
            value = 0
        if not name.strip() or value < 1:
            raise argparse.ArgumentTypeError(
                f"must be BACKEND=N pairs separated by commas, N a positive integer, "
                f"got {part!r}"
            )
        digits[name.strip()] = value
    return digits


#: Digits each backend runs by default (the main job's budget); others run all.
#: The emulator (batched engine) runs the whole test set in about a minute;
#: NengoDL and Nengo take 20 to 60 s per 1,000 digits on 2 cores.
DEFAULT_DIGITS = {
    "nengo-dl-rate": 1000, "nengo-dl": 1000, "nengo": 1000, "nengo-dl-loihi": 1000,
    "nengo-loihi-emulator": 200, "loihi": 200,
}
DIGITS_HELP = ", ".join(f"{k} {v}" for k, v in DEFAULT_DIGITS.items()) + ", others all"


def make_parser():
    from .backends import RunContext, backend_names, get_backend
    from .calibration import HEADROOM, MAX_SATURATED
    from .models import get_model, model_names
    from .models.from_file import DATASETS
    from .neurons import ACTIVATIONS

    models = "\n".join(f"  {n:<16}{get_model(n).description}" for n in model_names())
    backends = "\n".join(
        f"  {n:<16}{get_backend(n).description}" for n in backend_names()
    )
    parser = OneLineParser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Train a Keras CNN through the rate approximation of the LIF neuron, "
            "convert it with NengoDL into a spiking network, and run the same MNIST "
            "test digits (each held for --n-steps steps) through every chosen "
            "backend. Compares them (accuracy at every step, latency, readout rules, "
            "agreement, output-trace error, rates, synaptic operations, a Loihi energy "
            "estimate) and writes report.md with its tables and plots, results.json, "
            "CSV tables and traces.npz to --out, and prints a table.",
            width=80,
        ),
        epilog=(
            f"models:\n{models}\n  PATH            your own Keras model file (--dataset "
            f"says what it is for)\n\nbackends:\n{backends}\n\n"
            "data: --data-dir, else $NENGO_VISION_DATA, else the Keras download.\n"
            "cache: --cache-dir, else $NENGO_VISION_CACHE, else ~/.cache/nengo_vision.\n"
            "Errors in the options exit with status 2 and one line on stderr."
        ),
    )
    parser.add_argument(
        "--model", metavar="NAME|PATH", default="scnn_mnist",
        help="a model name, or the path of your own Keras model (.keras, .h5 or a "
        "SavedModel folder), whose relu layers become LIF neurons and whose weights "
        "start the training (default: %(default)s)",
    )
    parser.add_argument(
        "--dataset", choices=sorted(DATASETS), default="mnist",
        help="the data set a --model PATH is trained and tested on (default: %(default)s)",
    )
    parser.add_argument(
        "--backends", metavar="LIST", default=DEFAULT_BACKENDS,
        help="comma-separated backends to run (default: %(default)s)",
    )
    parser.add_argument(
        "--reference", metavar="BACKEND", default=None,
        help="backend whose output traces the others are compared with, step by step "
        "(default: keras if it runs, else the first backend)",
    )
    parser.add_argument(
        "--last-k", metavar="K", type=positive_int, default=10,
        help="steps averaged by the mean-of-last-K readout rule (default: %(default)s)",
    )
    parser.add_argument(
        "--record-digits", metavar="N", type=positive_int, default=3,
        help="digits whose spikes (50 random neurons per layer) and voltages are "
        "kept and plotted (default: %(default)s)",
    )
    parser.add_argument(
        "--n-test", metavar="N", type=positive_int, default=10000,
        help="test digits to run, the first N of the test set; backends slower than "
        "the emulator run fewer (see --digits) (default: %(default)s, all)",
    )
    parser.add_argument(
        "--digits", metavar="BACKEND=N,...", type=digits_arg, default={},
        help="how many of the first --n-test digits a backend runs, overriding its "
        f"default ({DIGITS_HELP}); comparisons between two backends use the digits "
        "both ran",
    )
    parser.add_argument(
        "--workers", metavar="N", type=positive_int, default=None,
        help="run each backend's digits as shards on a local Dask cluster of N worker "
        "processes (default: in this process)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", default=None,
        help="run the shards on a running Dask cluster, e.g. tcp://127.0.0.1:8786 "
        "(instead of --workers)",
    )
    parser.add_argument(
        "--emulator-batch", metavar="N", type=positive_int, default=100,
        help="digits the batched Loihi emulator steps at once; memory grows by about "
        "10 MB per digit for scnn_mnist (default: %(default)s)",
    )
    parser.add_argument(
        "--n-steps", metavar="N", type=positive_int, default=30,
        help="time steps each digit is held for (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs", metavar="N", type=positive_int, default=defaults.EPOCHS,
        help="training epochs (default: %(default)s)",
    )
    parser.add_argument(
        "--n-train", metavar="N", type=positive_int, default=None,
        help="train on the first N training digits only (default: all 60000)",
    )
    parser.add_argument("--seed", metavar="N", type=seed_arg, default=0, help="seed of every random choice (default: %(default)s)")
    parser.add_argument(
        "--retrain", action="store_true",
        help="train even if parameters for these settings are cached",
    )
    parser.add_argument("--data-dir", metavar="DIR", default=None, help="folder holding mnist.npz")
    parser.add_argument("--cache-dir", metavar="DIR", default=None, help="folder for trained parameters")
    parser.add_argument(
        "--out", metavar="DIR", default=None,
        help="output folder (default: runs/MODEL-YYYYmmdd-HHMMSS)",
    )
    parser.add_argument(
        "--gain", metavar="G", type=positive_float, default=defaults.GAIN,
        help="LIF input current per unit of a layer's pre-activation (default: %(default)s)",
    )
    parser.add_argument(
        "--amplitude", metavar="A", type=positive_float, default=defaults.AMPLITUDE,
        help="activation per Hz of firing rate: the ANN's activations are A times the "
        "LIF rates, so a smaller A makes the same network fire more spikes, which "
        "the spiking network needs to keep the ANN's accuracy in a short presentation "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--augment", metavar="PX", type=augment_arg, default=defaults.AUGMENT,
        help="shift training digits randomly by up to PX pixels, anew every epoch; "
        "0 for none (default: %(default)s)",
    )
    parser.add_argument(
        "--synapse", metavar="TAU", type=synapse_arg, default=RunContext.synapse,
        help="lowpass time constant (s) on connections out of neuron layers, or "
        "'none' for raw spikes; a short filter turns spikes into smoother currents "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--output-synapse", metavar="TAU", type=synapse_arg, default=defaults.OUTPUT_SYNAPSE,
        help="lowpass time constant (s) of the readout filter on the output, "
        "applied per digit, or 'none' to read the raw last step "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size", metavar="N", type=positive_int, default=50,
        help="digits per batch in Keras and NengoDL (default: %(default)s)",
    )
    parser.add_argument(
        "--neuron", choices=sorted(ACTIVATIONS), default="lif",
        help="the neuron the model is trained for: 'lif' trains through nengo.LIF's "
        "rate curve; 'loihi' through the rate of Loihi's discretised LIF (whole-step "
        "spike intervals, 333 Hz ceiling), and the converted network runs LoihiLIF "
        "neurons, so NengoDL predicts what the chip does (default: %(default)s)",
    )
    parser.add_argument(
        "--target-rate", metavar="HZ", type=positive_float, default=None,
        help="calibrate firing rates after training: measure each layer's input "
        "currents on training digits and scale each layer toward a mean rate of HZ, "
        f"as far as no more than {MAX_SATURATED * 100:.0f}%% of its active rates reach "
        f"{HEADROOM * 100:.0f}%% of the neuron's ceiling (Loihi: one spike per 3 steps), "
        "then fine-tune (default: no calibration)",
    )
    parser.add_argument(
        "--calibration-epochs", metavar="N", type=non_negative_int, default=1,
        help="fine-tuning epochs after --target-rate scaling (default: %(default)s)",
    )
    parser.add_argument(
        "--rate-penalty", metavar="HZ", type=positive_float, default=None,
        help="train with a penalty that keeps each layer's firing neurons at or above "
        "HZ (weight 0.01; default: no penalty)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def check_writable(out, option="--out"):
    """Fail early, before training, if folder ``out`` cannot be created or written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise_usage(f"{option} {out} is a file; give a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise_usage(
            f"cannot write to {option} {out} ({e.strerror or type(e).__name__}); "
            f"choose a writable folder"
        )


def raise_usage(message):
    from .errors import UsageError

    raise UsageError(message)


def machine():
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run(args, log=print):
    """The main job, for parsed ``args``. Returns the results dictionary."""
    import numpy as np

    from .backends import RunContext, get_backend
    from .data import load_mnist
    from .harness import choose_recording, compare, parse_synapse, run_backends
    from .models import find_model
    from .sharding import Cluster
    from .calibration import calibrate
    from .calibration import describe as describe_calibration
    from .neurons import ACTIVATIONS
    from .report import (
        table, write_markdown, write_plots, write_results, write_tables, write_traces,
    )
    from .training import LR_SCHEDULE, default_cache_dir, train

    spec = find_model(args.model, args.dataset)
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    if not names:
        raise_usage("--backends is empty; name at least one backend")
    for name in names:
        get_backend(name).check()
    if len(set(names)) != len(names):
        raise_usage(f"--backends names a backend twice: {args.backends}")
    for name in args.digits:
        if name not in names:
            raise_usage(
                f"--digits names {name}, which is not among --backends "
                f"({', '.join(names)}); name a backend that runs"
            )
    if args.workers and args.scheduler:
        raise_usage("--workers and --scheduler both given; choose one")
    reference = args.reference or ("keras" if "keras" in names else names[0])
    if reference not in names:
        raise_usage(
            f"--reference {reference} is not one of the backends run "
            f"({', '.join(names)}); choose one of them or add it to --backends"
        )
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or Path("runs") / f"{spec.name}-{stamp}")
    check_writable(out)
    check_writable(args.cache_dir or default_cache_dir(), "--cache-dir")

    (x_train, y_train), (x_test, y_test) = load_mnist(args.data_dir)
    for option, n, total, what in (
        ("--n-test", args.n_test, len(x_test), "test"),
        ("--n-train", args.n_train, len(x_train), "training"),
    ):
        if n is not None and n > total:
            raise_usage(f"{option} {n} is more than the {total} {what} digits; use at most {total}")
    if args.n_train:
        x_train, y_train = x_train[: args.n_train], y_train[: args.n_train]

    activation = ACTIVATIONS[args.neuron](gain=args.gain, amplitude=args.amplitude)
    if any(get_backend(name).needs_chip for name in names):
        from .backends.loihi import check_placement

        # before training: a network that cannot fit one chip fails now
        check_placement(spec.build(activation), synapse=args.synapse)
    model, train_info = train(
        spec, activation, x_train, y_train, epochs=args.epochs, seed=args.seed,
        cache_dir=args.cache_dir, retrain=args.retrain, batch_size=64, log=log,
        augment=args.augment, lr_decay=True,
        rate_target=(args.rate_penalty, RATE_WEIGHT) if args.rate_penalty else None,
    )
    calibration = None
    if args.target_rate:
        calibration = calibrate(
            model, x_train, y_train, args.target_rate, train_info["cache"],
            epochs=args.calibration_epochs, augment=args.augment, seed=args.seed,
            retrain=args.retrain, log=log,
        )
        for line in describe_calibration(calibration):
            log(line)

    indices = np.arange(args.n_test)
    images, labels = x_test[indices], y_test[indices]
    n_digits = {
        name: min(args.n_test, args.digits.get(name, DEFAULT_DIGITS.get(name, args.n_test)))
        for name in names
    }
    ctx = RunContext(
        model=model, n_steps=args.n_steps, emulator_batch=args.emulator_batch,
        synapse=args.synapse, batch_size=args.batch_size, seed=args.seed,
        progress=not args.no_progress, log=log,
        record=choose_recording(model, images, n_digits=args.record_digits, seed=args.seed),
    )
    output_synapse = parse_synapse(args.output_synapse)
    cluster = Cluster(workers=args.workers, scheduler=args.scheduler)
    runs = run_backends(ctx, names, images, n_digits=n_digits, cluster=cluster)
    comparison = compare(
        runs, labels, model, args.n_steps, output_synapse, dt=ctx.dt,
        last_k=args.last_k, reference=reference,
    )

    results = dict(
        model=spec.name,
        model_source=dict(path=str(Path(args.model).resolve()), hash=spec.source)
        if spec.source else "zoo",
        dataset=spec.dataset,
        n_steps=args.n_steps,
        n_test=args.n_test,
        test_indices="the first digits of the MNIST test set, in order; each backend "
        "ran the first backends.NAME.n_test of them",
        cluster=dict(workers=args.workers, scheduler=args.scheduler),
        seed=args.seed,
        dt=ctx.dt,
        synapse=args.synapse,
        output_synapse=args.output_synapse,
        last_k=args.last_k,
        neuron=dict(type=args.neuron, **activation.get_config()),
        calibration=calibration,
        training=dict(
            epochs=args.epochs, n_train=len(x_train), augment=args.augment,
            lr_schedule=LR_SCHEDULE, cached=train_info["cached"],
            seconds=round(train_info["seconds"], 1), cache=train_info["cache"],
            history=train_info["history"],
        ),
        descriptions={n: get_backend(n).description for n in names},
        recording=dict(
            digits=min(args.record_digits, len(images)),
            raster_neurons={k: v.tolist() for k, v in ctx.record.raster.items()},
            voltage_layer=ctx.record.voltage[0],
            voltage_neurons=ctx.record.voltage[1].tolist(),
        ),
        **comparison,
        date=datetime.datetime.now().isoformat(timespec="seconds"),
        machine=machine(),
    )
    out.mkdir(parents=True, exist_ok=True)
    write_traces(out, runs, labels, indices)
    results["plots"] = write_plots(
        out, runs, results, images, labels, output_synapse, ctx.record
    )
    results["tables"] = write_tables(out, results)
    write_results(out, results)
    write_markdown(out, results)
    log("")
    log(table(results["backends"]))
    log(f"\nreport in {out}/report.md (with results.json, traces.npz, "
        f"{len(results['tables'])} CSV tables and {len(results['plots'])} plots)")
    return results


def main(argv=None):
    from .errors import UsageError

    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        run(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
