"""The ``nengo-vision`` command: a thin shell over the library.

::

    nengo-vision run --model scnn_mnist          # the main job (python -m nengo_vision.convert)
    nengo-vision check --model vgg_mnist         # every check before training, then stop
    nengo-vision list models                     # what there is to choose from
    nengo-vision report runs/scnn_mnist-...      # write a finished run's report again
    nengo-vision compare RUN_A RUN_B             # what differs in settings and results
    nengo-vision sweep --grid n_steps=10,30 --out sweep/   # a grid of runs

``run`` and ``check`` take one option per :class:`.Config` setting, a TOML file
of settings (``--config run.toml``; options on the line win) and
``--save-config FILE``. Progress goes to the ``nengo_vision`` logger, shown on
stdout (``-v`` for more, ``-q`` for warnings only); errors go to stderr.

Errors a user can fix (a setting, a file, the data, memory, a worker lost)
end in one line and exit status 2; anything else is a bug: exit status 1, one
line naming the log file that keeps its traceback.
"""

import argparse
import datetime
import logging
import os
import sys
import textwrap
import traceback
from pathlib import Path

from ._io import check_writable, write_text
from .config import Config
from .errors import NengoVisionError

PROG = "nengo-vision"

#: what ``list`` lists, and where each registry is
CATALOGUES = ("models", "datasets", "backends", "encodings")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# ---------------------------------------------------------------- options


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


def add_verbosity(parser):
    """``-v/--verbose`` and ``-q/--quiet`` (suppressed defaults, so that one given
    before the command is not undone by the command's own parser)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1,
                       default=argparse.SUPPRESS, help="log every step (DEBUG level)")
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1,
                       default=argparse.SUPPRESS,
                       help="log warnings only, and hide progress bars")


def add_run_options(parser, out=True):
    """The options of a run: the settings, a TOML file of them, and ``--out``."""
    add_setting_options(parser)
    parser.add_argument("--config", metavar="FILE", dest="config_file", default=None,
                        help="read settings from a TOML file (the names of "
                             "nengo_vision.Config's settings: n_steps = 50); options "
                             "given here win")
    parser.add_argument("--save-config", metavar="FILE", default=None,
                        help="write the settings given (file and options) to a TOML "
                             "file that --config reads")
    if out:
        parser.add_argument("--out", metavar="DIR", default=None,
                            help="output folder (default: runs/MODEL-YYYYmmdd-HHMMSS)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        default=argparse.SUPPRESS, help="hide progress bars")
    add_verbosity(parser)


def _catalogue_lines(kind):
    """``(name, description)`` of every registered model, data set, backend or
    encoding (imports nothing heavy)."""
    if kind == "models":
        from .models import get_model, model_names

        return [(n, get_model(n).description) for n in model_names()]
    if kind == "datasets":
        from .datasets import dataset_names, get_dataset

        return [(n, get_dataset(n).description) for n in dataset_names()]
    if kind == "backends":
        from .backends import backend_names, get_backend

        return [(n, get_backend(n).description) for n in backend_names()]
    from .encodings import encoding_names, get_encoding

    return [(n, get_encoding(n).description) for n in encoding_names()]


def catalogue(kinds=CATALOGUES):
    """The registries as text: a heading per kind, a line per entry."""
    blocks = []
    for kind in kinds:
        lines = "\n".join(f"  {n:<22}{d}" for n, d in _catalogue_lines(kind))
        if kind == "models":
            lines += f"\n  {'PATH':<22}your own Keras model file (.keras, .h5, SavedModel) or NIR graph (.nir)"
        blocks.append(f"{kind.replace('datasets', 'data sets')}:\n{lines}")
    return "\n\n".join(blocks) + "\n"


RUN_DESCRIPTION = (
    "Train a Keras CNN through the rate approximation of the LIF neuron, "
    "convert it with NengoDL into a spiking network, and run the same test "
    "digits (each held for --n-steps steps) through every chosen backend. "
    "Compares them (accuracy at every step, latency, readout rules, "
    "agreement, output-trace error, rates, synaptic operations, a Loihi energy "
    "estimate) and writes report.md with its tables and plots, results.json, "
    "CSV tables and traces.npz to --out, and prints a table."
)
RUN_EPILOG = (
    "\ndata: --data-dir, else $NENGO_VISION_DATA, else the Keras download.\n"
    "cache: --cache-dir, else $NENGO_VISION_CACHE, else ~/.cache/nengo_vision.\n"
    "The same settings in Python: nengo_vision.Config(n_test=100, ...).\n"
    "Errors in the options exit with status 2 and one line on stderr."
)


def make_run_parser(prog):
    """The parser of ``run`` on its own (``python -m nengo_vision.convert``)."""
    parser = OneLineParser(prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
                           description=textwrap.fill(RUN_DESCRIPTION, width=80),
                           epilog=catalogue(("models", "datasets", "backends")) + RUN_EPILOG)
    add_run_options(parser)
    return parser


def make_parser(prog=PROG):
    """The ``nengo-vision`` parser, with a sub-parser per command."""
    parser = OneLineParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Deploy Keras vision models as spiking networks on Loihi through "
                    "Nengo, and compare every backend.",
        epilog="Run 'nengo-vision COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=version_line())
    add_verbosity(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=OneLineParser)
    run = commands.add_parser(
        "run", help="train, convert and run every backend; write the report (the main job)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(RUN_DESCRIPTION, width=80), epilog=RUN_EPILOG)
    add_run_options(run)
    check = commands.add_parser(
        "check", help="every check before training (settings, data, memory, placement), "
                      "then stop", description=textwrap.fill(
                          "Check what a run with these options would check before "
                          "training: the settings together, that every backend can run "
                          "here, the data, the memory the run needs and the placement "
                          "of the network on the chips; train nothing, write nothing "
                          "(but --save-config).", width=80))
    add_run_options(check, out=False)
    lister = commands.add_parser("list", help="list models, data sets, backends and encodings")
    lister.add_argument("kind", nargs="?", choices=CATALOGUES, metavar="KIND",
                        help=f"one of {', '.join(CATALOGUES)} (default: all)")
    add_verbosity(lister)
    report = commands.add_parser(
        "report", help="write a finished run's report again from its folder",
        description="Read a run's results.json and traces.npz and write its report "
                    "(report.md, tables, plots) again, in the run's folder or --out.")
    report.add_argument("run_dir", metavar="RUN", help="the folder a run wrote")
    report.add_argument("--out", metavar="DIR", default=None,
                        help="write the report here (default: the run's folder)")
    add_verbosity(report)
    compare = commands.add_parser(
        "compare", help="what differs between two runs, in settings and results",
        description="Compare two finished runs: the settings that differ (given, filled "
                    "in or default) and each backend's results side by side.")
    compare.add_argument("run_a", metavar="RUN_A")
    compare.add_argument("run_b", metavar="RUN_B")
    compare.add_argument("--out", metavar="FILE", default=None,
                         help="also write the comparison as Markdown to FILE")
    add_verbosity(compare)
    commands.add_parser(
        "sweep", help="run a grid of settings and find the accuracy-energy front",
        add_help=False, description="See 'nengo-vision sweep --help'.")
    return parser


def version_line():
    """This package's version and the Nengo stack's, without importing them."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    parts = []
    for name in ("nengo", "nengo-dl", "nengo-loihi", "tensorflow"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} not installed")
    return f"nengo-vision {__version__} ({', '.join(parts)})"


# ---------------------------------------------------------------- logging


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a line is logged (so that a
    captured or replaced stdout gets the lines)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def setup_logging(verbosity=0):
    """Show the ``nengo_vision`` logger's lines on stdout: INFO and above
    (``verbosity`` 1: DEBUG; -1: WARNING). Replaces a handler set by an
    earlier call, so that calling ``main`` twice does not print lines twice."""
    logger = logging.getLogger("nengo_vision")
    for handler in list(logger.handlers):
        if isinstance(handler, _StdoutHandler):
            logger.removeHandler(handler)
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel({1: logging.DEBUG, 0: logging.INFO, -1: logging.WARNING}[verbosity])
    logger.propagate = False
    return logger


# ---------------------------------------------------------------- commands


def config_from(options):
    """The :class:`.Config` of a run's options: the TOML file's settings, then
    the options given on the line; written to ``--save-config`` if asked."""
    path, save = options.pop("config_file", None), options.pop("save_config", None)
    quiet = options.pop("verbosity", 0) == -1
    config = Config.from_toml(path) if path else Config()
    config = config.replace(**options)
    object.__setattr__(config, "_spelling", "option")
    config.check()
    if save:
        check_writable(Path(save).resolve().parent, "--save-config")
        config.save_toml(save)
    if quiet and not Config.progress.is_set(config):
        config = config.fill("--quiet", progress=False)  # no bars either; not a result's setting
    return config


def command_run(options, log):
    """``run``: the pipeline, then the report; returns the :class:`.Result`."""
    from . import pipeline

    out = options.pop("out", None)
    config = config_from(options)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(out or Path("runs") / f"{Path(pipeline.model_name(config)).stem}-{stamp}")
    check_writable(out, "--out")  # the cache folder is checked by the pipeline
    result = pipeline.run(config, log=log)
    result.write(out)
    print()
    print(result.table())
    log(f"\nreport in {out}/report.md (with results.json, traces.npz, "
        f"{len(result.tables)} CSV tables and {len(result.plots)} plots)")
    return result


def command_check(options, log):
    """``check``: every check :func:`.pipeline.run` makes before training."""
    from . import pipeline
    from .memory import _gib

    config, data, spec = pipeline.prepare(config_from(options), log=log)
    found = pipeline.check(config, spec, data)
    item = data.dataset.item
    lines = [
        f"checked {spec.name} on {data.dataset.name}: {len(data.y_train):,} training and "
        f"{len(data.labels):,} test {item}s, backends {', '.join(config.backends)}",
        f"  memory: about {_gib(found['memory_bytes'])} needed",
    ]
    placement = found.get("placement")
    if placement is not None:
        chip = [n for n, on in placement.on_chip.items() if on]
        host = [n for n, on in placement.on_chip.items() if not on]
        shapes = ", ".join(f"{n} in blocks of {'x'.join(map(str, placement.block_shapes[n]))}"
                           for n in chip)
        lines.append(f"  placement on {placement.chips} chip{'s' * (placement.chips > 1)}: "
                     f"{shapes}" + (f"; on the host: {', '.join(host)}" if host else ""))
    lines.append("every check passed; nothing trained (run the same options with "
                 "'nengo-vision run')")
    print("\n".join(lines))
    return found


def command_list(options):
    print(catalogue((options["kind"],) if options.get("kind") else CATALOGUES), end="")


def command_report(options, log):
    """``report``: a finished run's report written again (:func:`.report.load.rewrite_report`)."""
    from .report.load import rewrite_report

    if options["out"]:
        check_writable(Path(options["out"]), "--out")
    out = rewrite_report(options["run_dir"], options["out"])
    log(f"report written again in {out}/report.md")
    return out


def command_compare(options):
    """``compare``: two runs side by side (:func:`.report.compare.compare_and_write`)."""
    from .report.compare import compare_and_write

    print(compare_and_write(options["run_a"], options["run_b"], options.get("out")))


# ---------------------------------------------------------------- faults


def _bug_log(error):
    """Write ``error``'s traceback to a log file; returns its path."""
    from .training import default_cache_dir

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"nengo-vision-error-{stamp}-{os.getpid()}.log"
    text = (f"{version_line()}\n{' '.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(error)))
    for folder in (default_cache_dir() / "logs", Path(os.environ.get("TMPDIR", "/tmp"))):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_text(folder / name, text)
            return folder / name
        except OSError:
            continue
    return None


def explain(error):
    """``(exit status, one line)`` for an exception that is not a
    :class:`.NengoVisionError`: what the machine refused (a file, memory, a
    worker) is the user's to change (2); anything else is a bug (1)."""
    kind, module = type(error).__name__, type(error).__module__
    if isinstance(error, MemoryError) or kind == "ResourceExhaustedError":
        return 2, ("ran out of memory; lower --n-test, --batch-size or --emulator-batch, "
                   "or run with --workers on a machine with more memory")
    if kind == "KilledWorker" and module.startswith("distributed"):
        # its own text is a paragraph; the task names the shard
        return 2, (f"Dask workers died running {getattr(error, 'task', 'a shard')} "
                   f"{getattr(error, 'allowed_failures', 0) + 1} times (killed, or out of "
                   f"memory); give fewer --workers or more memory per worker")
    if isinstance(error, OSError):
        where = f": {error.filename}" if getattr(error, "filename", None) else ""
        return 2, f"{error.strerror or error}{where}; free the space or fix the permissions, then run again"
    log = _bug_log(error)
    where = f"; the traceback is in {log}" if log else ""
    return 1, (f"internal error: {kind}: {str(error).splitlines()[0] if str(error) else ''}"
               f" (a bug in nengo_vision{where}; please report it)")


def main(argv=None, prog=PROG, command=None):
    """The command line; returns the exit status.

    ``command``: run that command with ``argv`` as its options (how
    ``python -m nengo_vision.convert`` runs ``run``).
    """
    # before TensorFlow is imported anywhere: keep its C++ start-up chatter out
    # of the user's terminal (errors still show)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = list(sys.argv[1:] if argv is None else argv)
    if command is None and argv[:1] == ["sweep"]:
        from .sweep import main as sweep_main

        return sweep_main(argv[1:], prog=f"{prog} sweep")
    if command is None:
        options = vars(make_parser(prog).parse_args(argv))
    else:
        options = vars(make_run_parser(prog).parse_args(argv))
        options["command"] = command
    command = options.pop("command")
    setup_logging(options.get("verbosity", 0))
    log = logging.getLogger("nengo_vision").info
    try:
        if command == "run":
            command_run(options, log)
        elif command == "check":
            command_check(options, log)
        elif command == "list":
            command_list(options)
        elif command == "report":
            command_report(options, log)
        elif command == "compare":
            command_compare(options)
    except NengoVisionError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; finished shards are kept: run the same command "
              f"again to continue", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - every other fault: one line, never a traceback
        status, line = explain(e)
        print(f"{prog}: error: {line}", file=sys.stderr)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
