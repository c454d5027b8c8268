"""The installed ``nengo-vision`` command: its subcommands, logging, TOML
settings, and one line for every fault."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nengo_vision import Config, __version__
from nengo_vision.cli import explain, main


def nengo_vision(*args, cwd=None):
    """``nengo-vision ARGS`` as a process, the way a user runs it (the installed
    script beside this Python)."""
    script = Path(sys.executable).with_name("nengo-vision")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([str(script), *map(str, args)], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, cwd=cwd, timeout=600)


def test_version():
    proc = nengo_vision("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"nengo-vision {__version__} (nengo 3.2.0, nengo-dl 3.6.0, "
                                  f"nengo-loihi 1.1.0, tensorflow 2.12.1)")


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for heading in ("models:", "data sets:", "backends:", "encodings:"):
        assert heading in out
    for name in ("scnn_mnist", "mnist-saccades", "loihi-emulator", "poisson"):
        assert f"\n  {name} " in out
    assert main(["list", "encodings"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("encodings:\n  analog ") and "models:" not in out


def test_no_command_and_unknown_command_are_one_line():
    for args, message in (
        ((), "nengo-vision: error: the following arguments are required: COMMAND (see --help)"),
        (("trian",), "nengo-vision: error: argument COMMAND: invalid choice: 'trian' "
                     "(choose from 'run', 'check', 'list', 'report', 'compare', 'sweep') "
                     "(see --help)"),
    ):
        proc = nengo_vision(*args)
        assert proc.returncode == 2 and proc.stderr.splitlines() == [message]


def test_check_passes_without_training(tmp_path, data_dir):
    """Every check before training, then stop: the placement is found, nothing
    is trained or cached, and it takes seconds, not the minutes of training."""
    cache = tmp_path / "cache"
    proc = nengo_vision("check", "--data-dir", data_dir, "--cache-dir", cache)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == ("checked scnn_mnist on mnist: 60,000 training and 10,000 test "
                        "digits, backends keras, nengo-dl-rate, nengo-dl, nengo, loihi-emulator")
    assert lines[1].startswith("  memory: about ") and lines[1].endswith(" GiB needed")
    assert lines[2] == ("  placement on 1 chip: conv1 in blocks of 12x12x7, conv2 in blocks "
                        "of 5x5x19; on the host: conv0")
    assert lines[-1].startswith("every check passed; nothing trained")
    assert not cache.exists() or not any(cache.rglob("*.npz"))


def test_check_stops_at_the_placement(tmp_path, data_dir):
    """A network over one chip's 128 cores: the placement's one line, status 2."""
    import tensorflow as tf

    L = tf.keras.layers
    inp = tf.keras.Input((28, 28, 1))
    x = L.Conv2D(2, 3, padding="same", activation="relu", name="enc")(inp)
    x = L.Conv2D(170, 1, activation="relu", name="wide")(x)  # 133,280 neurons
    path = tmp_path / "wide.keras"
    tf.keras.Model(inp, L.Dense(10, name="out")(L.Flatten()(x))).save(path)
    proc = nengo_vision("check", "--model", path, "--data-dir", data_dir,
                        "--cache-dir", tmp_path / "cache", "--chips", "1")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "nengo-vision: error: the network needs at least 133 cores, more than 1 Loihi "
        "chip's 128: wide takes 133 cores; give --chips 2, or make the largest layers "
        "smaller or move them to the host"
    ]


def test_config_file_and_options(tmp_path, data_dir, capsys):
    """--config reads a TOML file of settings, options on the line win, and
    --save-config writes what was given, which --config reads back."""
    (tmp_path / "run.toml").write_text('backends = "keras"\nn_steps = 20\nseed = 4\n')
    saved = tmp_path / "saved.toml"
    status = main(["check", "--config", str(tmp_path / "run.toml"), "--seed", "5",
                   "--data-dir", str(data_dir), "--save-config", str(saved), "-q"])
    assert status == 0, capsys.readouterr().err
    back = Config.from_toml(saved)
    assert back == Config(backends="keras", n_steps=20, seed=5, data_dir=str(data_dir))
    # -q: the summary only, no progress lines
    assert capsys.readouterr().out.startswith("checked scnn_mnist on mnist:")


def test_bad_config_file_is_one_line(tmp_path, capsys):
    (tmp_path / "run.toml").write_text("n_steps = -3\n")
    assert main(["run", "--config", str(tmp_path / "run.toml")]) == 2
    assert capsys.readouterr().err == (
        f"nengo-vision: error: config file {tmp_path / 'run.toml'}: Config.n_steps must be "
        f"a positive integer, got -3\n")


def test_a_bug_is_one_line_with_its_traceback_in_a_log(tmp_path, capsys, monkeypatch):
    """Not a user's error: exit status 1, one line naming the log file that
    keeps the traceback."""
    import nengo_vision.pipeline

    def broken(*args, **kwargs):
        return {}["a key the code forgot"]

    monkeypatch.setattr(nengo_vision.pipeline, "run", broken)
    monkeypatch.setenv("NENGO_VISION_CACHE", str(tmp_path / "cache"))
    status = main(["run", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1
    assert err.startswith("nengo-vision: error: internal error: KeyError: 'a key the code "
                          "forgot' (a bug in nengo_vision; the traceback is in ")
    log = Path(err.split("the traceback is in ")[1].split("; please report it")[0])
    assert log.parent == tmp_path / "cache" / "logs"
    assert "in broken" in log.read_text() and "KeyError" in log.read_text()


def test_the_machine_refusing_is_one_line_status_2(tmp_path, capsys, monkeypatch):
    """A full disk while the report is written: the user's to fix, one line."""
    import errno

    import nengo_vision.pipeline
    from nengo_vision.result import Result

    class Written(Exception):
        pass

    def no_space(self, out):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out))

    def run(config, log):
        return Result.__new__(Result)

    monkeypatch.setattr(nengo_vision.pipeline, "run", run)
    monkeypatch.setattr(Result, "write", no_space)
    assert main(["run", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"nengo-vision: error: No space left on device: {tmp_path / 'out'}; free the "
        f"space or fix the permissions, then run again\n")


def test_a_lost_worker_and_memory_are_the_users_to_change():
    from distributed.scheduler import KilledWorker

    status, line = explain(KilledWorker("run_shard-3", "tcp://127.0.0.1:4242", 3))
    assert (status, line) == (2, "Dask workers died running run_shard-3 4 times (killed, "
                                 "or out of memory); give fewer --workers or more memory "
                                 "per worker")
    assert explain(MemoryError())[0] == 2


@pytest.mark.parametrize("module", ["nengo_vision.convert", "nengo_vision.cli"])
def test_help_of_the_run(module):
    """The main job keeps its spelling, and the command's run has the same options."""
    args = [sys.executable, "-m", module] + (["run"] if module.endswith("cli") else [])
    proc = subprocess.run(args + ["--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for option in ("--n-steps", "--config FILE", "--save-config FILE", "--out DIR", "--quiet"):
        assert option in proc.stdout


def test_sweep_is_a_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sweep", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: nengo-vision sweep ") and "--grid SETTING=V1,V2,..." in out
    assert main(["sweep", "--out", "x", "--grid", "n_stepz=1,2"]) == 2
    assert capsys.readouterr().err.startswith("nengo-vision sweep: error: ")
