"""What the benchmark scripts share: their run options and their error handling."""

import sys
from pathlib import Path

import nengo_vision as nv

RESULTS = Path(__file__).resolve().parent / "results"
SETTING = nv.Config.settings()


def add_run_options(parser, epochs):
    """Training and test options, each checked by the matching ``Config`` setting."""
    parser.add_argument("--epochs", type=SETTING["epochs"].parse, default=epochs)
    parser.add_argument("--n-train", type=SETTING["n_train"].parse, default=None,
                        help="train on the first N training digits (default: all)")
    parser.add_argument("--n-test", type=SETTING["n_test"].parse, default=10000)
    parser.add_argument("--n-steps", type=SETTING["n_steps"].parse, default=30)
    parser.add_argument("--seed", type=SETTING["seed"].parse, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default=str(RESULTS),
                        help="folder of the results files, written and read by --table "
                             "(default: %(default)s)")


def run(name, work):
    """Run ``work()``; a library error is one line on stderr and its exit status."""
    try:
        work()
    except nv.NengoVisionError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return e.exit_status
    return 0
