"""The command line: every bad input is one line, exit 2, nothing written."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import EPOCHS, N_TRAIN
from nengo_vision import defaults
from nengo_vision.convert import PROG, main
from nengo_vision.models import get_model
from nengo_vision.neurons import LIFActivation
from nengo_vision.datasets.mnist import load_mnist
from nengo_vision.training import cache_path, data_digest


REPORT_FILES = [
    "results.json", "traces.npz", "report.md",
    "backends.csv", "layers.csv", "ann_macs.csv", "accuracy_by_step.csv", "readout.csv",
    "agreement.csv", "trace_error.csv", "confusion.csv", "energy.csv",
    "output_traces.png", "accuracy.png", "accuracy_by_step.png", "rasters.png",
    "voltages.png", "confusion.png", "agreement.png", "trace_error.png", "class_outputs.png",
]


DATA = Path(__file__).parent / "data"


def key_tree(d, path=""):
    """The keys of a nested dict, values left out; a run's training history and
    the settings given or filled in (which vary by run) aside."""
    if path in ("config.given", "config.filled") or path.startswith("config.values."):
        return None
    if isinstance(d, dict) and path != "training.history":
        return {k: key_tree(v, f"{path}.{k}" if path else k) for k, v in d.items()}
    return None


def run_main(capsys, *args):
    try:
        status = main(list(args))
    except SystemExit as e:  # argparse exits for option errors
        status = e.code
    captured = capsys.readouterr()
    return status, captured.err


def assert_one_line_error(status, err, expected):
    assert status == 2
    assert err == f"{PROG}: error: {expected}\n"


@pytest.mark.parametrize("args, expected", [
    (["--n-steps", "0"], "argument --n-steps: must be a positive integer, got '0' (see --help)"),
    (["--n-steps", "-3"], "argument --n-steps: must be a positive integer, got '-3' (see --help)"),
    (["--n-test", "ten"], "argument --n-test: must be a positive integer, got 'ten' (see --help)"),
    (["--epochs", "1.5"], "argument --epochs: must be a positive integer, got '1.5' (see --help)"),
    (["--output-synapse", "-1"], "argument --output-synapse: must be a positive time constant in seconds, or 'none' for no filter, got '-1' (see --help)"),
    (["--synapse", "0"], "argument --synapse: must be a positive time constant in seconds, or 'none' for no filter, got '0' (see --help)"),
    (["--gain", "inf"], "argument --gain: must be a positive number, got 'inf' (see --help)"),
    (["--amplitude", "0"], "argument --amplitude: must be a positive number, got '0' (see --help)"),
    (["--augment", "5"], "argument --augment: must be a whole number of pixels from 0 to 4, got '5' (see --help)"),
    (["--augment", "-1"], "argument --augment: must be a whole number of pixels from 0 to 4, got '-1' (see --help)"),
    (["--seed", "-1"], "argument --seed: must be an integer from 0 to 4294967295, got '-1' (see --help)"),
    (["--seed", "4294967296"], "argument --seed: must be an integer from 0 to 4294967295, got '4294967296' (see --help)"),
    (["--target-rate", "0"], "argument --target-rate: must be a positive number, got '0' (see --help)"),
    (["--train-noise", "nan"], "argument --train-noise: must be a number of 0 or more, got 'nan' (see --help)"),
    (["--calibration-epochs", "-1"], "argument --calibration-epochs: must be 0 or a positive integer, got '-1' (see --help)"),
    (["--last-k", "0"], "argument --last-k: must be a positive integer, got '0' (see --help)"),
    (["--record-digits", "x"], "argument --record-digits: must be a positive integer, got 'x' (see --help)"),
    (["--digits", "nengo=0"], "argument --digits: must be BACKEND=N pairs separated by commas, N a positive integer, got 'nengo=0' (see --help)"),
    (["--digits", "nengo"], "argument --digits: must be BACKEND=N pairs separated by commas, N a positive integer, got 'nengo' (see --help)"),
    (["--workers", "0"], "argument --workers: must be a positive integer, got '0' (see --help)"),
    (["--emulator-batch", "-5"], "argument --emulator-batch: must be a positive integer, got '-5' (see --help)"),
    (["--digits", "loihi=50"], "--digits names loihi, which is not among --backends (keras, nengo-dl-rate, nengo-dl, nengo, loihi-emulator); name a backend that runs"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "--workers and --scheduler both given; choose one"),
    (["--neuron", "izhikevich"], "argument --neuron: must be one of lif, loihi, got 'izhikevich' (see --help)"),
    (["--last-k", "100", "--n-steps", "30"], "--last-k 100 is more than --n-steps 30; average at most the 30 steps there are"),
    (["--backends", "keras,nengo,keras"], "argument --backends: names a backend twice: keras,nengo,keras (see --help)"),
    (["--backends", ","], "argument --backends: is empty; name at least one backend (see --help)"),
    (["--encoding", "rank"], "argument --encoding: names unknown encoding 'rank'; known encodings: analog, poisson, bernoulli, regular, latency (see --help)"),
    (["--encoding", "bernoulli", "--input-rate", "2000"], "--input-rate 2000 Hz asks 2 spikes per 1 ms step of the bernoulli code, which sends at most one; use at most 1000"),
    (["--input-rate", "0"], "argument --input-rate: must be a positive number, got '0' (see --help)"),
    (["--input-synapse", "-0.1"], "argument --input-synapse: must be a positive time constant in seconds, or 'none' for no filter, got '-0.1' (see --help)"),
    (["--readout", "max"], "argument --readout: must be one of last, integrate, got 'max' (see --help)"),
    (["--dataset", "nmnist", "--encoding", "poisson", "--n-test", "5"], "--encoding poisson codes still images, but nmnist streams its own events; leave --encoding out"),
    (["--backends", "keras,loihi", "--encoding", "regular"], "backend loihi cannot take input spikes (a spike --encoding or an event data set): nengo-loihi sends them to the chip once, when the network is built, not digit by digit; use --backends loihi-emulator, or --encoding analog for still images"),
    (["--decision-margin", "-2"], "argument --decision-margin: must be a positive number, got '-2' (see --help)"),
    (["--spike-budget", "conv0=0"], "argument --spike-budget: must be HZ, or LAYER=HZ pairs separated by commas, HZ a positive number, got 'conv0=0' (see --help)"),
    (["--spike-budget", "lots"], "argument --spike-budget: must be HZ, or LAYER=HZ pairs separated by commas, HZ a positive number, got 'lots' (see --help)"),
    (["--quantize", "0"], "argument --quantize: must be a positive integer, got '0' (see --help)"),
    (["--time-epochs", "1", "--encoding", "poisson"], "--time-epochs fine-tunes with each image held at every step, but this run sends spikes (--encoding poisson); leave --time-epochs out"),
    (["--time-epochs", "1", "--dataset", "mnist-saccades"], "--time-epochs fine-tunes with each image held at every step, but this run sends spikes (the events of mnist-saccades); leave --time-epochs out"),
    (["--backends", "loihi", "--dataset", "mnist-saccades"], "backend loihi cannot take input spikes (a spike --encoding or an event data set): nengo-loihi sends them to the chip once, when the network is built, not digit by digit; use --backends loihi-emulator, or --encoding analog for still images"),
])
def test_bad_numbers(capsys, tmp_path, args, expected):
    status, err = run_main(capsys, *args, "--out", str(tmp_path / "out"))
    assert_one_line_error(status, err, expected)
    assert not (tmp_path / "out").exists()


def test_spike_budget_for_a_layer_the_model_lacks(capsys, tmp_path, data_dir):
    status, err = run_main(capsys, "--spike-budget", "conv0=20,conv9=10", "--n-test", "5",
                           "--n-train", "5", "--data-dir", str(data_dir),
                           "--out", str(tmp_path / "o"))
    assert_one_line_error(status, err, "--spike-budget names conv9, not a neuron layer of "
                                       "scnn_mnist; its neuron layers: conv0, conv1, conv2")
    assert not (tmp_path / "o").exists()


def test_unknown_model(capsys, tmp_path):
    status, err = run_main(capsys, "--model", "lenet", "--out", str(tmp_path / "o"))
    assert_one_line_error(
        status, err,
        "unknown model 'lenet'; known models: rscnn_cifar10, rscnn_mnist, scnn, scnn_mnist, scnn_ncaltech101, scnn_nmnist, small_mnist, tiny_mnist, tiny_nmnist, vgg_mnist, wscnn_cifar10, wscnn_mnist; or give the path of a .keras, "
        ".h5 or .nir file or a SavedModel folder",
    )


def test_unknown_backend(capsys, tmp_path):
    status, err = run_main(capsys, "--backends", "keras,tpu", "--out", str(tmp_path / "o"))
    assert status == 2
    assert err.startswith(f"{PROG}: error: argument --backends: names unknown backend 'tpu'; "
                          f"known backends: keras, ")
    assert err.count("\n") == 1


@pytest.mark.parametrize("args, expected", [
    (["--backends", "keras,nengo-dl", "--reference", "nengo"],
     "--reference nengo is not one of the backends run (keras, nengo-dl); choose one "
     "of them or add it to --backends"),
])
def test_bad_backend_choice(capsys, tmp_path, args, expected):
    status, err = run_main(capsys, *args, "--out", str(tmp_path / "o"))
    assert_one_line_error(status, err, expected)
    assert not (tmp_path / "o").exists()


def test_n_test_beyond_test_set(capsys, tmp_path, data_dir):
    status, err = run_main(capsys, "--n-test", "10001", "--data-dir", str(data_dir),
                           "--out", str(tmp_path / "o"))
    assert_one_line_error(
        status, err, "--n-test 10001 is more than the 10,000 test digits of mnist; use at most 10000"
    )
    assert not (tmp_path / "o").exists()


def test_missing_data_file(capsys, tmp_path):
    status, err = run_main(capsys, "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert_one_line_error(
        status, err,
        f"no mnist.npz in {tmp_path} (given by --data-dir); point --data-dir at the folder that holds mnist.npz",
    )


def test_corrupt_data_file(capsys, tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"\x00" * 100)
    status, err = run_main(capsys, "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert_one_line_error(
        status, err,
        f"{tmp_path / 'mnist.npz'} is corrupt or not an .npz file; replace it with a good copy of mnist.npz",
    )


def _write_mnist(folder, mnist, change):
    """A small mnist.npz in ``folder`` made from real digits, with ``change`` applied."""
    (x_train, y_train), (x_test, y_test) = mnist
    arrays = dict(x_train=x_train[:200, ..., 0] * 255, y_train=y_train[:200].copy(),
                  x_test=x_test[:50, ..., 0] * 255, y_test=y_test[:50].copy())
    change(arrays)
    np.savez(folder / "mnist.npz", **arrays)
    return folder / "mnist.npz"


def _nan_pixel(a):
    a["x_train"][3, 10, 12] = np.nan


def _label_ten(a):
    a["y_test"][7] = 10


@pytest.mark.parametrize("change, expected", [
    (_nan_pixel, "has 1 pixel(s) in x_train that are not numbers from 0 to 255 (first in "
                 "image 3); replace it with a good copy"),
    (_label_ten, "has 1 label(s) in y_test outside the classes 0-9 (first: 10 at 7); "
                 "replace it with a good copy"),
])
def test_data_with_bad_values(capsys, tmp_path, mnist, change, expected):
    path = _write_mnist(tmp_path, mnist, change)
    status, err = run_main(capsys, "--data-dir", str(tmp_path), "--cache-dir", str(tmp_path / "c"),
                           "--out", str(tmp_path / "o"))
    assert_one_line_error(status, err, f"{path} {expected}")
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()


def test_run_too_large_for_memory_is_refused_before_training(capsys, tmp_path, data_dir):
    status, err = run_main(capsys, "--n-steps", "100000000", "--data-dir", str(data_dir),
                           "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o"))
    assert status == 2 and err.count("\n") == 1
    assert re.fullmatch(
        rf"{PROG}: error: this run needs about [0-9,.]+ GiB of memory \([0-9,.]+ GiB for "
        r"NengoDL's probes of every layer for 50 digits × 100,000,000 steps\), more than "
        r"the [0-9,.]+ GiB available; lower --n-steps \(100,000,000\) or --batch-size "
        r"\(50\)\n", err), err
    assert not (tmp_path / "o").exists() and not list((tmp_path / "c").glob("*.npz"))


def test_model_file_with_nan_weights(capsys, tmp_path, data_dir):
    import tensorflow as tf

    inp = tf.keras.Input((28, 28, 1))
    x = tf.keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    out = tf.keras.layers.Dense(10, name="dense")(tf.keras.layers.Flatten()(x))
    model = tf.keras.Model(inp, out)
    kernel = model.get_layer("conv").kernel
    values = np.full(kernel.shape, 0.1, dtype=np.float32)
    values.flat[5] = np.nan  # one bad weight among 36
    kernel.assign(values)
    path = tmp_path / "nan.h5"
    model.save(path)
    status, err = run_main(capsys, "--model", str(path), "--data-dir", str(data_dir),
                           "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o"))
    assert_one_line_error(
        status, err, f"model {path} has weights that are NaN or infinite: conv/kernel:0 "
        f"(1 of 36); save the model again from finite weights")
    assert not (tmp_path / "o").exists()


def test_corrupt_cache(capsys, tmp_path, data_dir):
    # the path the command line uses for these settings
    (x, y), _ = load_mnist(data_dir)
    path = cache_path(tmp_path, get_model("scnn_mnist"), LIFActivation(), 1, 100, 0,
                      augment=defaults.AUGMENT, lr_decay=True, data=data_digest(x[:100], y[:100]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 truncated")
    status, err = run_main(capsys, "--data-dir", str(data_dir), "--cache-dir", str(tmp_path),
                           "--epochs", "1", "--n-train", "100", "--out", str(tmp_path / "o"))
    assert_one_line_error(
        status, err, f"cached parameters {path} are corrupt; delete {path} or run again with --retrain"
    )
    assert not (tmp_path / "o").exists()


def test_unwritable_out(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    status, err = run_main(capsys, "--out", str(blocker / "results"))
    assert_one_line_error(
        status, err,
        f"cannot write to --out {blocker / 'results'} (Not a directory); choose a writable folder",
    )
    status, err = run_main(capsys, "--out", str(blocker))
    assert_one_line_error(status, err, f"--out {blocker} is a file; give a folder")
    status, err = run_main(capsys, "--cache-dir", str(blocker), "--out", str(tmp_path / "o"))
    assert_one_line_error(status, err, f"--cache-dir {blocker} is a file; give a folder")
    assert not (tmp_path / "o").exists()


def test_loihi_without_nxsdk(capsys, tmp_path):
    status, err = run_main(capsys, "--backends", "loihi", "--out", str(tmp_path / "o"))
    assert status == 2 and "backend loihi needs Intel's NxSDK" in err and err.count("\n") == 1


def test_errors_have_no_traceback_as_a_process(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-m", "nengo_vision.convert", "--model", "nope", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"{PROG}: error: unknown model 'nope'; known models: rscnn_cifar10, rscnn_mnist, scnn, scnn_mnist, scnn_ncaltech101, scnn_nmnist, small_mnist, tiny_mnist, tiny_nmnist, vgg_mnist, wscnn_cifar10, wscnn_mnist; or give the "
        f"path of a .keras, .h5 or .nir file or a SavedModel folder"
    ]


def test_help_explains(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for text in ("--n-steps", "--backends", "loihi-emulator", "scnn_mnist", "NENGO_VISION_DATA"):
        assert text in out


def test_main_job_end_to_end(tmp_path, data_dir, cache_dir, trained):
    """A real small run: reuses the session's trained model from the cache; Nengo
    runs fewer digits than the others."""
    out = tmp_path / "run"
    status = main([
        "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
        "--n-train", str(N_TRAIN), "--epochs", str(EPOCHS), "--augment", "0",
        "--n-test", "12", "--digits", "nengo=8", "--out", str(out), "--no-progress",
    ])
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)
    results = json.loads((out / "results.json").read_text())
    # the same keys, in the same places, as before the library API
    assert key_tree(results) == json.loads((DATA / "results_keys.json").read_text())["keys"]
    assert results["model"] == "scnn_mnist" and results["n_steps"] == 30
    assert results["n_test"] == 12 and results["seed"] == 0
    assert results["training"]["cached"] is True
    backends = ["keras", "nengo-dl-rate", "nengo-dl", "nengo", "loihi-emulator"]
    assert list(results["backends"]) == backends
    assert sorted(results["plots"]) == sorted(p for p in REPORT_FILES if p.endswith(".png"))
    assert sorted(results["tables"]) == sorted(p for p in REPORT_FILES if p.endswith(".csv"))
    digits = {name: 8 if name == "nengo" else 12 for name in backends}
    for name, b in results["backends"].items():
        assert b["n_test"] == digits[name] and b["accuracy"] >= 0.75, (name, b["accuracy"])
        assert list(b["firing_rates"]) == ["conv0", "conv1", "conv2"]
        assert len(b["accuracy_by_step"]) == 30 and b["accuracy_by_step"][-1] == b["accuracy"]
        assert b["readout"]["last"] == b["accuracy"] and len(b["readout"]) == 7
        assert np.array(b["confusion"]).sum() == digits[name] and b["peak_memory_mb"] > 0
        assert b["seconds"] > 0 and 0 < b["f1"] <= 1
        assert b["trace_error"]["reference"] == "keras"
        assert ("spikes_per_inference" in b) == b["spiking"] == (name not in backends[:2])
    assert results["backends"]["keras"]["trace_error"]["nrmse"] == [0.0] * 30
    # Nengo's reference simulator and NengoDL run the same network: the same
    # classes, but for a digit whose two top classes are closer than what a spike
    # moved by float32's rounding does to the output (test_backends.py shows the
    # two equal in float64 and bounds the moved spikes in float32)
    assert results["agreement"]["nengo"]["nengo-dl"] >= 7 / 8
    # comparisons use the digits both backends ran
    assert results["shared_digits"]["nengo"]["nengo-dl"] == 8
    assert results["shared_digits"]["keras"]["nengo-dl"] == 12
    emulator = results["backends"]["loihi-emulator"]
    assert emulator["placement"]["conv0"]["where"] == "host"
    assert [t["where"] for t in emulator["energy"]["terms"]].count("chip") == 4
    assert emulator["energy"]["total_joules"] > 0
    with np.load(out / "traces.npz") as t:
        for name in backends:
            assert t[name].shape == (digits[name], 30, 10)
        for name in backends[2:]:
            assert t[f"{name}/raster/conv1"].shape == (3, 30, 50)
            assert t[f"{name}/voltage"].shape == (3, 30, 4)
        assert list(t["indices"]) == list(range(12))
    for png in results["plots"]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "`nengo` on the first 8. Comparisons between two backends use the digits both ran." in report
    for png in results["plots"]:
        assert f"]({png})" in report, png
    with open(out / "backends.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["backend"] for r in rows] == backends
    with open(out / "accuracy_by_step.csv") as f:
        assert len(list(csv.reader(f))) == 31
    # the cost section: every backend's accuracy, steps and energy, the ANN's
    # arithmetic, the chips' anchors, and every term of the emulator's account
    assert "## Cost: accuracy, steps and energy per inference" in report
    assert "| `keras` | " in report and "TrueNorth 99.4 % at 108 µJ (Esser et al., PNAS 2015)" in report
    with open(out / "energy.csv") as f:
        terms = [r for r in csv.DictReader(f) if r["backend"] == "loihi-emulator"]
    assert [t["where"] for t in terms].count("host") == 5
    assert sum(float(t["joules_per_inference"]) for t in terms) == pytest.approx(
        emulator["energy"]["total_joules"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.slow  # trains
def test_loihi_aware_calibrated_run(tmp_path, data_dir, cache_dir):
    """--neuron loihi --target-rate: rates per layer before and after, in results.json.

    Trained here, through Loihi's rate curve, one epoch on the session's digits
    (measured: Keras 96 %, NengoDL's LoihiLIF 94 % of the 50 after calibration);
    the session's fixtures train only through LIF's.
    """
    out = tmp_path / "run"
    status = main([
        "--data-dir", str(data_dir), "--cache-dir", str(cache_dir), "--neuron", "loihi",
        "--n-train", str(N_TRAIN), "--epochs", "1", "--augment", "0",
        "--target-rate", "60", "--calibration-epochs", "0",
        "--backends", "keras,nengo-dl-loihi", "--n-test", "50", "--out", str(out),
        "--no-progress",
    ])
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert results["neuron"]["type"] == "loihi" and results["training"]["epochs"] == 1
    cal = results["calibration"]
    assert cal["target_hz"] == 60 and list(cal["scales"]) == ["conv0", "conv1", "conv2"]
    for name in cal["scales"]:
        assert cal["after"][name]["saturated"] <= 0.01
        assert set(cal["before"][name]) == {"mean_hz", "p99_hz", "silent", "saturated"}
    # the spiking network fires at the calibrated rates, and still classifies
    dl = results["backends"]["nengo-dl-loihi"]
    assert dl["accuracy"] >= 0.9
    for name, hz in dl["firing_rates"].items():
        assert 0.5 * cal["after"][name]["mean_hz"] < hz <= cal["after"][name]["mean_hz"] * 1.05


def test_network_over_the_chips_given_is_one_line_as_a_process(tmp_path, data_dir):
    """--chips 1 refuses a network of more than 128 cores before training, in one
    line naming the --chips that would hold it, with no traceback."""
    import tensorflow as tf

    L = tf.keras.layers
    inp = tf.keras.Input((28, 28, 1))
    x = L.Conv2D(2, 3, padding="same", activation="relu", name="enc")(inp)
    # 28 x 28 x 170 = 133,280 neurons: more than 128 cores of 1,024 compartments
    x = L.Conv2D(170, 1, activation="relu", name="wide")(x)
    x = L.Conv2D(8, 3, strides=2, activation="relu", name="narrow")(x)
    path = tmp_path / "wide.keras"
    tf.keras.Model(inp, L.Dense(10, name="out")(L.Flatten()(x))).save(path)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-m", "nengo_vision.convert", "--model", str(path), "--chips", "1",
         "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
         "--n-train", "100", "--epochs", "1", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"{PROG}: error: the network needs at least 135 cores, more than 1 Loihi chip's "
        f"128: wide takes 133 cores, narrow 2; give --chips 2, or make the largest layers "
        f"smaller or move them to the host"
    ]
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").iterdir())
