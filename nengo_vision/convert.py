"""The main job: ``python -m nengo_vision.convert`` is ``nengo-vision run``.

Run ``python -m nengo_vision.convert --help`` for the options. The options are
the settings of :class:`.Config` (same names, dashes for underscores), so the
command line, the notebook and the benchmarks run the same code; the command
itself is :mod:`.cli`.
"""

import sys

from .cli import OneLineParser, add_setting_options  # noqa: F401 - used by sweep and tests
from .cli import main as cli_main
from .cli import make_run_parser

PROG = "python -m nengo_vision.convert"


def make_parser():
    """The argument parser: one option per :class:`.Config` setting, plus ``--out``,
    ``--config`` and ``--save-config``."""
    return make_run_parser(PROG)


def main(argv=None):
    """The command line (``nengo-vision run``); returns the exit status."""
    return cli_main(argv, prog=PROG, command="run")


if __name__ == "__main__":
    sys.exit(main())
