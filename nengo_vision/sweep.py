"""Sweeps: one run at every point of a grid of settings, and the front of what
each point costs against what it scores.

In Python (``nv.sweep`` is this module, and calling it runs :func:`sweep`)::

    import nengo_vision as nv
    table = nv.sweep(nv.Config(), {"n_steps": [5, 10, 20], "neuron": ["lif", "loihi"]},
                     "sweeps/steps")

and on the command line, with any run option for the settings the points share::

    python -m nengo_vision.sweep --grid n_steps=5,10,20 --grid neuron=lif,loihi \\
        --out sweeps/steps

Every point is the pipeline's own run (:func:`.pipeline.run`) of the base
settings with the point's on top, on ``keras`` and ``loihi-emulator`` unless
``backends`` says otherwise. Points that train alike train once: the training
cache is locked while a point trains (:func:`._io.locked`), so a second worker
waits, then loads. Points run in this process, or as Dask tasks on a local
cluster (``workers``) or a running one (``scheduler``). Each finished point is
kept in ``FOLDER/points/``: a sweep stopped or killed part-way and run again
runs only the points it has not finished. ``FOLDER/sweep.csv`` has one row per
point and backend (:func:`point_rows`), with the Pareto fronts of accuracy
against energy and against steps (:func:`pareto_front`); ``FOLDER/frontier.png``
plots both (:func:`.report.plots.frontier`). Several grids on the same base
settings may share a folder (each point is kept once): the table and the fronts
are over every point the folder holds.
"""

import argparse
import csv
import hashlib
import io
import itertools
import json
import os
import sys
import textwrap
import time
import types
from pathlib import Path

from ._io import atomic_path, check_writable, write_text
from ._logging import info
from .config import Config
from .errors import ConfigError, NengoVisionError

PROG = "python -m nengo_vision.sweep"
#: the backends a sweep runs unless the base settings name others
SWEEP_BACKENDS = ("keras", "loihi-emulator")
#: settings that change how fast a point runs or where it keeps files, never
#: what it finds: not part of a point's identity
NOT_IN_KEY = ("progress", "workers", "scheduler", "emulator_batch", "batch_size",
              "cache_dir", "data_dir", "retrain", "record_digits")
#: settings a grid cannot cross: where the points run, lists of their own, and
#: those that are not part of a point's identity (two points would be one)
NOT_CROSSED = tuple(dict.fromkeys(("backends", "digits", "reference") + NOT_IN_KEY))
#: columns of sweep.csv before the energy terms (the grid's settings come first)
COLUMNS = (
    "point", "model", "dataset", "n_steps", "backend", "n_test", "accuracy",
    "accuracy_last_step", "mean_steps", "decided_fraction", "energy_uj", "chip_uj",
    "link_uj", "host_uj", "synops", "spikes", "ann_macs", "seconds", "point_seconds",
    "training_cached", "training_seconds", "front_energy", "front_steps",
)


# ----------------------------------------------------------------- the grid


def parse_grid(items):
    """``["n_steps=5,10", ...]`` → ``{"n_steps": ["5", "10"], ...}`` (unchecked)."""
    grid = {}
    for item in items:
        name, sep, values = str(item).partition("=")
        name = name.strip().replace("-", "_").lstrip("_")
        if not sep or not name:
            raise ConfigError(f"--grid {item!r} is not SETTING=V1,V2,...; e.g. --grid "
                              f"n_steps=5,10,20")
        if name in grid:
            raise ConfigError(f"--grid names {name} twice; give all its values in one "
                              f"--grid {name}=V1,V2,...")
        grid[name] = [v.strip() for v in values.split(",") if v.strip()]
    return grid


def check_grid(grid):
    """Each setting's values, checked as :class:`.Config` checks them.

    Raises
    ------
    ConfigError
        For an empty grid, a name that is not a setting or cannot be crossed, a
        setting without values, a bad value or one given twice.
    """
    if not grid:
        raise ConfigError("the grid is empty; give at least one setting and its values, "
                          "e.g. --grid n_steps=5,10,20")
    settings = Config.settings()
    crossable = [n for n, s in settings.items() if n not in NOT_CROSSED]
    checked = {}
    for name, values in grid.items():
        if name not in settings:
            raise ConfigError(f"--grid names unknown setting {name!r}; settings it can "
                              f"cross: {', '.join(crossable)}")
        if name in NOT_CROSSED:
            raise ConfigError(f"--grid cannot cross {name}; give it once for every point "
                              f"with {settings[name].option or name}")
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if not values:
            raise ConfigError(f"--grid {name} has no values; give them as {name}=V1,V2,...")
        out = []
        for value in values:
            try:
                value = settings[name].check(value)
            except ValueError as e:
                raise ConfigError(f"--grid {name}: {e}") from None
            if value in out:
                raise ConfigError(f"--grid {name} names {value!r} twice")
            out.append(value)
        checked[name] = out
    return checked


def given(config):
    """The settings ``config`` was given (the others are defaults, or the data
    set's and model's own), without those that change no result."""
    return {k: v for k, v in vars(config).items()
            if k in Config.settings() and k not in NOT_IN_KEY}


def point_key(config):
    """A point's identity: a digest of the settings that change its results."""
    text = json.dumps(given(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def expand(config, grid):
    """Every point of ``grid`` on top of ``config``: ``[(settings, Config), ...]``,
    the first setting of the grid varying slowest."""
    names = list(grid)
    return [
        (dict(zip(names, values)), config.replace(**dict(zip(names, values))))
        for values in itertools.product(*(grid[n] for n in names))
    ]


def _check_points(points):
    """Everything that can be checked of every point before any is run."""
    from .datasets import get_dataset
    from .models import find_model
    from .pipeline import check_budget_layers, model_name, preflight

    models = {}
    for _, config in points:
        preflight(config)
        models.setdefault((model_name(config), config.dataset, config.max_pool), []).append(
            config)
    for (name, dataset, max_pool), configs in sorted(models.items()):
        spec = find_model(name, get_dataset(dataset).name, max_pool=max_pool)
        for config in configs:  # names of layers given a spike budget of their own
            check_budget_layers(config, spec)


# ----------------------------------------------------------------- results


def point_rows(result, settings, seconds, key):
    """One row per backend of one point's :class:`.Result` (see :data:`COLUMNS`;
    ``uj_TERM`` columns: each term of the energy account, µJ per inference)."""
    rows = []
    for name, b in result.backends.items():
        e = b.energy
        row = dict(settings)
        row.update(
            point=key, model=result.model, dataset=result.dataset,
            n_steps=result.config.n_steps,
            backend=name, n_test=b.n_test, accuracy=b.decision.accuracy,
            accuracy_last_step=b.accuracy,
            mean_steps=b.decision.mean_steps if b.spiking else None,
            decided_fraction=b.decision.decided_fraction if b.spiking else None,
            energy_uj=e.total_joules * 1e6 if e else None,
            chip_uj=e.joules("chip") * 1e6 if e and b.spiking else None,
            link_uj=e.joules("link") * 1e6 if e and b.spiking else None,
            host_uj=e.joules("host") * 1e6 if e else None,
            synops=sum(b.synops_per_inference.values()) if b.spiking else None,
            spikes=sum(b.spikes_per_inference.values()) if b.spiking else None,
            ann_macs=result.comparison.operations.ann_macs_total,
            seconds=b.seconds, point_seconds=round(seconds, 2),
            training_cached=result.training["cached"],
            training_seconds=result.training["seconds"],
        )
        for t in (e.terms if e else ()):
            row[f"uj_{t.name}"] = t.joules * 1e6
        rows.append(row)
    return rows


def pareto_front(costs, gains):
    """Which points no other point beats: none costs as little or less and gains
    as much or more, and one of the two strictly. Points with a missing cost or
    gain (None, NaN) are never on it.

    Returns
    -------
    list of bool
    """
    import math

    known = [c is not None and g is not None and not (math.isnan(c) or math.isnan(g))
             for c, g in zip(costs, gains)]
    front = []
    for i, (c, g) in enumerate(zip(costs, gains)):
        front.append(known[i] and not any(
            known[j] and costs[j] <= c and gains[j] >= g and (costs[j] < c or gains[j] > g)
            for j in range(len(costs))
        ))
    return front


def add_fronts(rows):
    """Mark each chip row on the fronts of accuracy against energy and against
    mean steps (``front_energy``, ``front_steps``); other rows are not on them."""
    chip = [r for r in rows if r.get("chip_uj") is not None]
    for column, cost in (("front_energy", "energy_uj"), ("front_steps", "mean_steps")):
        flags = pareto_front([r[cost] for r in chip], [r["accuracy"] for r in chip])
        for r in rows:
            r[column] = False
        for r, flag in zip(chip, flags):
            r[column] = flag
    return rows


def write_table(folder, rows, grid_names):
    """``sweep.csv``: the grid's settings, then :data:`COLUMNS`, then the energy terms."""
    terms = [k for k in dict.fromkeys(k for r in rows for k in r) if k.startswith("uj_")]
    header = list(grid_names) + [c for c in COLUMNS if c not in grid_names] + terms
    buf = io.StringIO()
    writer = csv.DictWriter(buf, header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r.get(k) is None else r[k] for k in header})
    write_text(Path(folder) / "sweep.csv", buf.getvalue())


def write_plot(folder, rows):
    """``frontier.png``: accuracy against energy and against steps, fronts marked."""
    from matplotlib.figure import Figure

    from .report.plots import frontier

    fig = Figure(figsize=(12, 4.8))
    axes = fig.subplots(1, 2)
    frontier(axes[0], rows, "energy_uj")
    frontier(axes[1], rows, "mean_steps")
    fig.tight_layout()
    with atomic_path(Path(folder) / "frontier.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)


# ----------------------------------------------------------------- running


def _sweep_file(folder):
    return Path(folder) / "sweep.json"


def _open_folder(folder, base, grid):
    """Check that ``folder`` is new, empty, or holds this sweep; refuse otherwise.
    Returns the keys of the points finished there."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} is a file; give a folder for the sweep")
    record = _sweep_file(folder)
    if record.exists():
        try:
            theirs = json.loads(record.read_text())["base"]
        except (OSError, ValueError, KeyError) as e:
            raise ConfigError(f"{record} cannot be read ({e}); give another --out") from None
        ours = json.loads(json.dumps(base, default=str))
        if theirs != ours:
            diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            raise ConfigError(
                f"--out {folder} holds another sweep's points (its settings differ in "
                f"{', '.join(diff)}); give another --out, or the same settings to resume it"
            )
    elif folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"--out {folder} is not empty and holds no sweep; give a new or "
                          f"empty folder")
    points = folder / "points"
    return {p.stem for p in points.glob("*.json")} if points.is_dir() else set()


def _record(folder, base, grid):
    folder = Path(folder)
    (folder / "points").mkdir(parents=True, exist_ok=True)
    text = json.dumps(dict(base=base, grid=grid, version=1), indent=2, default=str)
    write_text(_sweep_file(folder), text + "\n")


def run_point(config, settings, key):
    """Run one point; returns its rows (:func:`point_rows`). A Dask task."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .pipeline import run

    start = time.perf_counter()
    result = run(config, log=lambda *a: None)
    return point_rows(result, settings, time.perf_counter() - start, key)


def _save_point(folder, key, settings, config, rows):
    text = json.dumps(dict(key=key, settings=settings, config=given(config), rows=rows),
                      indent=1, default=str)
    write_text(Path(folder) / "points" / f"{key}.json", text + "\n")


def _load_point(folder, key):
    """A finished point's ``(settings, rows)``."""
    point = json.loads((Path(folder) / "points" / f"{key}.json").read_text())
    return point["settings"], point["rows"]


def _client(workers, scheduler):
    from .sharding import Cluster

    return Cluster(workers=workers, scheduler=scheduler).client()


def sweep(config, grid, folder, workers=None, scheduler=None, log=info):
    """Run ``config`` at every point of ``grid`` and tabulate what each gains and costs.

    Parameters
    ----------
    config : Config
        The settings every point shares (backends: ``keras`` and
        ``loihi-emulator`` unless it names others).
    grid : dict
        Setting name → the values to cross (the command line's text or Python
        values; each checked as :class:`.Config` checks it).
    folder : path
        Where the points, ``sweep.csv`` and ``frontier.png`` go; a folder
        holding this sweep's finished points resumes it.
    workers : int, optional
        Run the points as tasks on a local Dask cluster of this many processes.
    scheduler : str, optional
        Run them on the running Dask cluster at this address.
    log : callable

    Returns
    -------
    list of dict
        The rows of ``sweep.csv``.

    Raises
    ------
    NengoVisionError
        Before anything is written or run, for a bad grid or setting, a point
        that cannot run, or a folder holding another sweep.
    """
    from tqdm.auto import tqdm

    grid = check_grid(grid)
    if workers and scheduler:
        raise ConfigError("--workers and --scheduler both given; choose one")
    if config.retrain:
        raise ConfigError("a sweep cannot --retrain (its points would each train again); "
                          "delete the cached parameters instead")
    if not Config.backends.is_set(config):
        config = config.replace(backends=list(SWEEP_BACKENDS))
    points = expand(config, grid)
    _check_points(points)
    base = given(config)
    check_writable(folder, "--out")
    done = _open_folder(folder, base, grid)
    _record(folder, base, grid)
    keys = [point_key(c) for _, c in points]
    todo = [(k, s, c) for k, (s, c) in zip(keys, points) if k not in done]
    log(f"sweep of {len(points)} points in {folder}: {len(points) - len(todo)} done "
        f"before, {len(todo)} to run"
        + (f" on {workers} Dask workers" if workers else f" on {scheduler}" if scheduler
           else ""))
    bar = tqdm(total=len(points), initial=len(points) - len(todo), unit="point",
               desc="sweep", disable=not config.progress)

    def finish(key, settings, point_config, rows):
        _save_point(folder, key, settings, point_config, rows)
        bar.update(1)
        chip = [r for r in rows if r.get("chip_uj") is not None]
        log("  " + ", ".join(f"{k}={v}" for k, v in settings.items()) + ": " + "; ".join(
            f"{r['backend']} {r['accuracy'] * 100:.2f} % at {r['energy_uj']:.2f} µJ, "
            f"{r['mean_steps']:.1f} steps" for r in chip))

    try:
        if workers or scheduler:
            from dask.distributed import as_completed

            client = _client(workers, scheduler)
            try:
                quiet = {k: (s, c.replace(progress=False)) for k, s, c in todo}
                futures = {client.submit(run_point, c, s, k, key=f"point-{k}", pure=False): k
                           for k, (s, c) in quiet.items()}
                for future in as_completed(futures):
                    k = futures[future]
                    finish(k, quiet[k][0], quiet[k][1], future.result())
            finally:
                cluster = client.cluster
                client.close()
                if cluster is not None:
                    cluster.close()
        else:
            for k, s, c in todo:
                finish(k, s, c, run_point(c.replace(progress=False), s, k))
    finally:
        bar.close()
    # the table holds every point of the folder: this grid's, in grid order,
    # then those other grids on the same base settings left there
    others = sorted(p.stem for p in (Path(folder) / "points").glob("*.json")
                    if p.stem not in set(keys))
    points_rows = [_load_point(folder, k) for k in keys + others]
    names = list(dict.fromkeys(n for settings, _ in points_rows for n in settings))
    rows = add_fronts([r for _, rows in points_rows for r in rows])
    write_table(folder, rows, names)
    write_plot(folder, rows)
    return rows


# ----------------------------------------------------------------- command line


def make_parser(prog=PROG):
    from .cli import OneLineParser, add_setting_options, add_verbosity

    parser = OneLineParser(
        prog=prog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Run the main job at every point of a grid of settings (each --grid "
            "crosses one setting's values with the others') and write DIR/sweep.csv: "
            "per point and backend the accuracy, the energy per inference term by "
            "term, synaptic operations, spikes, mean steps to decision and wall time, "
            "with the Pareto fronts of accuracy against energy and against steps, and "
            "DIR/frontier.png. Every other option is a setting all points share. "
            "Finished points are kept in DIR: run the same command again to resume.",
            width=80,
        ),
        epilog="Errors exit with status 2 and one line on stderr, before anything is "
               "written.",
    )
    parser.add_argument("--grid", action="append", default=[], metavar="SETTING=V1,V2,...",
                        help="a setting and the values to cross, e.g. n_steps=5,10,20 "
                             "(repeat for more settings)")
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="the sweep's folder (a folder with this sweep's points "
                             "resumes it)")
    add_setting_options(parser, help_for=dict(
        workers="run the points as tasks on a local Dask cluster of N worker processes "
                "(default: one after another in this process)",
        scheduler="run the points on a running Dask cluster, e.g. tcp://127.0.0.1:8786",
        backends="comma-separated backends every point runs (default: "
                 + ",".join(SWEEP_BACKENDS) + ")",
    ))
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        default=argparse.SUPPRESS, help="hide the progress bar")
    add_verbosity(parser)
    return parser


def main(argv=None, prog=PROG):
    """The command line (``nengo-vision sweep``); returns the exit status."""
    from .cli import setup_logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        options = vars(make_parser(prog).parse_args(argv))
        setup_logging(options.pop("verbosity", 0))
        grid = parse_grid(options.pop("grid"))
        folder = options.pop("out")
        workers, scheduler = options.pop("workers", None), options.pop("scheduler", None)
        config = Config.from_options(**options)
        rows = sweep(config, grid, folder, workers=workers, scheduler=scheduler)
    except NengoVisionError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    front = [r for r in rows if r["front_energy"]]
    print(f"\n{len(rows)} rows in {folder}/sweep.csv; the front of accuracy against energy:")
    for r in sorted(front, key=lambda r: r["energy_uj"]):
        print(f"  {r['accuracy'] * 100:6.2f} %  {r['energy_uj']:10.3f} µJ  "
              f"{r['mean_steps']:6.2f} steps  "
              + ", ".join(f"{k}={r.get(k, '')}" for k in grid))
    return 0


class _CallableModule(types.ModuleType):
    """``nv.sweep(...)`` calls :func:`sweep`; ``nv.sweep.pareto_front`` and the
    rest stay reachable, and ``python -m nengo_vision.sweep`` runs :func:`main`."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
