"""Sweeps: the grid, the Pareto front, resuming a killed sweep, one training per
training key across Dask workers, and one-line errors with nothing written."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import nengo_vision as nv
from nengo_vision.sweep import COLUMNS, check_grid, main, pareto_front, parse_grid

#: a point small enough for the suite: the chip-sized model, a short training
POINT = ["--model", "tiny_mnist", "--n-train", "6000", "--epochs", "2", "--augment", "0",
         "--n-test", "50", "--record-digits", "1"]


def test_pareto_front_of_a_hand_made_table():
    # (energy, accuracy): b beats a (cheaper, as good); c costs more but scores
    # more; d is beaten by c; e ties c's cost and scores less; f has no energy
    costs = [5.0, 4.0, 10.0, 12.0, 10.0, None, 1.0]
    gains = [0.90, 0.90, 0.99, 0.98, 0.95, 1.00, 0.50]
    assert pareto_front(costs, gains) == [False, True, True, False, False, False, True]
    # equal points are both on the front (neither beats the other)
    assert pareto_front([1.0, 1.0], [0.9, 0.9]) == [True, True]


def test_grid_values_are_checked_as_settings_are():
    grid = check_grid(parse_grid(["n_steps=5,10", "decision_margin=2.5,none",
                                  "neuron=lif,loihi"]))
    assert grid == {"n_steps": [5, 10], "decision_margin": [2.5, None],
                    "neuron": ["lif", "loihi"]}
    points = nv.sweep.expand(nv.Config(), grid)
    assert len(points) == 8
    settings, config = points[-1]
    assert settings == {"n_steps": 10, "decision_margin": None, "neuron": "loihi"}
    assert (config.n_steps, config.neuron) == (10, "loihi")
    # the settings that change no result are not part of a point's identity
    key = nv.sweep.point_key
    assert key(config) == key(config.replace(progress=False, emulator_batch=7))
    assert key(config) != key(config.replace(n_steps=11))


@pytest.mark.parametrize("args, message", [
    (["--grid", "n_stepz=5,10"], "--grid names unknown setting 'n_stepz'; settings it can "
                                 "cross: model,"),
    (["--grid", "n_steps=5,ten"], "--grid n_steps: must be a positive integer, got 'ten'"),
    (["--grid", "model=tiny_mnist,nosuch"], "unknown model 'nosuch'; known models:"),
    ([], "the grid is empty; give at least one setting and its values, e.g. --grid "
         "n_steps=5,10,20"),
    (["--grid", "n_steps="], "--grid n_steps has no values; give them as n_steps=V1,V2,..."),
    (["--grid", "backends=keras"], "--grid cannot cross backends; give it once for every "
                                   "point with --backends"),
    # a setting that changes no result would make two points one
    (["--grid", "emulator_batch=16,64"], "--grid cannot cross emulator_batch; give it once "
                                         "for every point with --emulator-batch"),
    (["--grid", "spike_budget=conv0=20,convX=10"],
     "--spike-budget names convX, not a neuron layer of tiny_mnist; its neuron layers: "
     "conv0, conv1"),
])
def test_bad_grids_are_one_line_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "sweep"
    assert main(args + ["--out", str(out)] + POINT) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m nengo_vision.sweep: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("where, message", [
    ("a-file", "--out {out} is a file; give a folder"),
    ("a-file/sweep", "cannot write to --out {out} ("),
])
def test_an_unwritable_folder_is_one_line(tmp_path, capsys, where, message):
    (tmp_path / "a-file").write_text("not a folder")
    out = tmp_path / where
    assert main(["--grid", "n_steps=5,10", "--out", str(out)] + POINT) == 2
    err = capsys.readouterr().err
    assert message.format(out=out) in err and err.count("\n") == 1
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_a_folder_holding_another_sweep_is_refused(tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    theirs = dict(base={"model": "scnn_mnist", "n_test": 100}, grid={"n_steps": [5]},
                  version=1)
    (out / "sweep.json").write_text(json.dumps(theirs))
    before = sorted(p.name for p in out.rglob("*"))
    assert main(["--grid", "n_steps=5,6", "--out", str(out)] + POINT) == 2
    err = capsys.readouterr().err
    assert (f"--out {out} holds another sweep's points (its settings differ in "
            "augment, backends, epochs, model, n_test, n_train); give another --out, or "
            "the same settings to resume it") in err and err.count("\n") == 1
    assert sorted(p.name for p in out.rglob("*")) == before
    assert json.loads((out / "sweep.json").read_text()) == theirs


def _rows(folder):
    with open(folder / "sweep.csv") as f:
        return list(csv.DictReader(f))


def _results(rows):
    # what a point found: everything but the wall times and the cache's state
    timing = {"seconds", "point_seconds", "training_cached", "training_seconds"}
    return [{k: v for k, v in r.items() if k not in timing} for r in rows]


@pytest.mark.slow
def test_a_killed_sweep_resumes_and_skips_finished_points(tmp_path, data_dir):
    """Kill the command while it runs its second point; run it again: it runs
    only the points it had not finished, and its table is a fresh sweep's."""
    cache = tmp_path / "cache"
    args = ["--grid", "n_steps=6,8,10", "--cache-dir", str(cache), "--data-dir",
            str(data_dir), "--no-progress"] + POINT
    killed = tmp_path / "killed"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, "-m", "nengo_vision.sweep", "--out",
                             str(killed)] + args, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    points = killed / "points"
    deadline = time.time() + 300
    while not (points.is_dir() and any(points.glob("*.json"))):
        assert proc.poll() is None and time.time() < deadline, "no point finished"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in points.glob("*.json")}
    assert 1 <= len(finished) < 3 and not (killed / "sweep.csv").exists()

    lines = []
    table = nv.sweep(nv.Config.from_options(
        model="tiny_mnist", n_train=6000, epochs=2, augment=0, n_test=50, record_digits=1,
        cache_dir=str(cache), data_dir=str(data_dir), progress=False),
        {"n_steps": ["6", "8", "10"]}, killed, log=lines.append)
    assert lines[0] == (f"sweep of 3 points in {killed}: {len(finished)} done before, "
                        f"{3 - len(finished)} to run")
    assert len(lines) == 1 + 3 - len(finished)  # one line per point run
    for name, mtime in finished.items():  # not run again
        assert (points / name).stat().st_mtime_ns == mtime
    assert len(table) == 6 and [r["n_steps"] for r in table] == [6, 6, 8, 8, 10, 10]

    fresh = tmp_path / "fresh"
    assert main(["--out", str(fresh)] + args) == 0
    rows = _rows(killed)
    assert list(rows[0])[:len(COLUMNS)] == ["n_steps"] + [c for c in COLUMNS
                                                          if c != "n_steps"]
    assert _results(rows) == _results(_rows(fresh))  # same seed, same table
    emulator = [r for r in rows if r["backend"] == "loihi-emulator"]
    assert all(float(r["accuracy"]) > 0.3 and float(r["energy_uj"]) > 0 for r in emulator)
    assert float(emulator[0]["mean_steps"]) == 6.0
    assert any(r["front_energy"] == "True" for r in emulator)
    assert (killed / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_two_workers_with_the_same_training_train_once(tmp_path, data_dir):
    """Two Dask worker processes run two points that train alike: one trains,
    the other waits for the cache and loads."""
    config = nv.Config(model="tiny_mnist", n_train=6000, epochs=2, augment=0, n_test=20,
                       record_digits=1, cache_dir=str(tmp_path / "cache"),
                       data_dir=str(data_dir), progress=False)
    rows = nv.sweep(config, {"n_steps": [6, 8]}, tmp_path / "sweep", workers=2,
                    log=lambda *a: None)
    keras = [r for r in rows if r["backend"] == "keras"]
    assert sorted(r["training_cached"] for r in keras) == [False, True]
    assert len(list((tmp_path / "cache").glob("tiny_mnist-*.npz"))) == 1
