"""The main job on the command line: options → :class:`.Config` → :func:`.pipeline.run`
→ the report.

Run ``python -m nengo_vision.convert --help`` for the options. The options are
the settings of :class:`.Config` (same names, dashes for underscores), so the
command line, the notebook and the benchmarks run the same code.
"""

import argparse
import datetime
import os
import sys
import textwrap
from pathlib import Path

from ._io import check_writable
from .config import Config
from .errors import NengoVisionError

PROG = "python -m nengo_vision.convert"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _catalogue():
    """The models, data sets and backends, for ``--help`` (imports nothing heavy)."""
    from .backends import backend_names, get_backend
    from .datasets import dataset_names, get_dataset
    from .models import get_model, model_names

    def lines(names, describe):
        return "\n".join(f"  {n:<22}{describe(n)}" for n in names)

    return (
        f"models:\n{lines(model_names(), lambda n: get_model(n).description)}\n"
        f"  {'PATH':<22}your own Keras model file (--dataset says what it is for)\n\n"
        f"data sets:\n{lines(dataset_names(), lambda n: get_dataset(n).description)}\n\n"
        f"backends:\n{lines(backend_names(), lambda n: get_backend(n).description)}\n"
    )


def add_setting_options(parser, help_for=None):
    """One option per :class:`.Config` setting; ``help_for`` replaces the help of
    the settings it names."""
    for name, setting in Config.settings().items():
        if not setting.option:
            continue
        help_text = (help_for or {}).get(name, setting.help).replace("%", "%%")
        if setting.show_default and name not in (help_for or {}):
            default = setting.default
            if isinstance(default, list):
                default = ",".join(default)
            help_text += f" (default: {'none' if default is None else default})"
        if setting.metavar is None:  # a flag
            parser.add_argument(setting.option, dest=name, action="store_true",
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(setting.option, dest=name, metavar=setting.metavar,
                                type=setting.parse, default=argparse.SUPPRESS, help=help_text)


def make_parser():
    """The argument parser: one option per :class:`.Config` setting, plus ``--out``."""
    parser = OneLineParser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Train a Keras CNN through the rate approximation of the LIF neuron, "
            "convert it with NengoDL into a spiking network, and run the same test "
            "digits (each held for --n-steps steps) through every chosen backend. "
            "Compares them (accuracy at every step, latency, readout rules, "
            "agreement, output-trace error, rates, synaptic operations, a Loihi energy "
            "estimate) and writes report.md with its tables and plots, results.json, "
            "CSV tables and traces.npz to --out, and prints a table.",
            width=80,
        ),
        epilog=(
            _catalogue()
            + "\ndata: --data-dir, else $NENGO_VISION_DATA, else the Keras download.\n"
            "cache: --cache-dir, else $NENGO_VISION_CACHE, else ~/.cache/nengo_vision.\n"
            "The same settings in Python: nengo_vision.Config(n_test=100, ...).\n"
            "Errors in the options exit with status 2 and one line on stderr."
        ),
    )
    add_setting_options(parser)
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default: runs/MODEL-YYYYmmdd-HHMMSS)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        default=argparse.SUPPRESS, help="hide progress bars")
    return parser


def run(argv=None, log=print):
    """Parse ``argv``, run the pipeline and write the report; returns the :class:`.Result`."""
    options = vars(make_parser().parse_args(argv))  # --help exits here, before heavy imports
    from . import pipeline

    out = options.pop("out")
    config = Config.from_options(**options)
    config.check()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(out or Path("runs") / f"{Path(pipeline.model_name(config)).stem}-{stamp}")
    check_writable(out, "--out")  # the cache folder is checked by the pipeline
    result = pipeline.run(config, log=log)
    result.write(out)
    log("")
    log(result.table())
    log(f"\nreport in {out}/report.md (with results.json, traces.npz, "
        f"{len(result.tables)} CSV tables and {len(result.plots)} plots)")
    return result


def main(argv=None):
    """The command line; returns the exit status."""
    # before TensorFlow is imported anywhere: keep its C++ start-up chatter out
    # of the user's terminal (errors still show)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        run(argv)
    except NengoVisionError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
