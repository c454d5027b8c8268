"""``--model PATH``: your own Keras model file, checked, trained and run everywhere."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from nengo_vision.convert import PROG, main
from nengo_vision.errors import ConfigError
from nengo_vision.models.from_file import spec_from_file
from nengo_vision.neurons import LIFActivation
from nengo_vision.training import cache_path

L = tf.keras.layers
MNIST_SHAPE = (28, 28, 1)


def run_main(capsys, *args):
    try:
        status = main([str(a) for a in args])
    except SystemExit as e:  # argparse exits for option errors
        status = e.code
    return status, capsys.readouterr().err


def expect_error(capsys, tmp_path, path, expected):
    """The command line refuses ``path`` with exactly ``expected``, writing nothing."""
    status, err = run_main(capsys, "--model", path, "--out", tmp_path / "o")
    assert status == 2
    assert err == f"{PROG}: error: {expected}\n"
    assert not (tmp_path / "o").exists()


def save(model, path):
    model.save(path)
    return path


def functional(tmp_path, name, *layers, shape=MNIST_SHAPE):
    """A chain of ``layers`` from an input of ``shape``, saved as ``name``."""
    x = inp = tf.keras.Input(shape)
    for layer in layers:
        x = layer(x)
    return save(tf.keras.Model(inp, x), tmp_path / name)


def test_lstm_and_tanh_layers_are_named(capsys, tmp_path):
    path = functional(
        tmp_path, "recurrent.keras",
        L.Reshape((28, 28)), L.LSTM(16, name="lstm"),
        L.Dense(32, activation="tanh", name="dense_2"),
        L.Dense(10, activation="softmax", name="out"),
    )
    expect_error(
        capsys, tmp_path, path,
        f"model {path} has layers the pipeline cannot convert: "
        f"lstm (LSTM: no spiking equivalent on Loihi; see the README's table of "
        f"supported layers (nengo_vision.deploy.LAYERS)); "
        f"dense_2 (activation 'tanh': only relu and linear layers can run as spiking neurons)",
    )


def test_max_pooling_reason_is_reported(capsys, tmp_path):
    path = functional(
        tmp_path, "pooled.h5",
        L.Conv2D(4, 3, activation="relu", name="conv"), L.MaxPool2D(name="pool"),
        L.Flatten(name="flat"), L.Dense(10, name="out"),
    )
    status, err = run_main(capsys, "--model", path, "--out", tmp_path / "o")
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(
        f"{PROG}: error: model {path} has layers the pipeline cannot convert: "
        f"pool (MaxPooling2D: Loihi has no max operation, so max pooling cannot run as "
        f"spikes; use AveragePooling2D, or --max-pool avg to replace it"
    )


def test_shared_layer_is_named(capsys, tmp_path):
    x = inp = tf.keras.Input(MNIST_SHAPE)
    shared = L.Dense(784, activation="relu", name="shared")
    x = shared(shared(L.Flatten()(x)))
    path = save(tf.keras.Model(inp, L.Dense(10)(x)), tmp_path / "shared.keras")
    expect_error(
        capsys, tmp_path, path,
        f"model {path} has layers the pipeline cannot convert: "
        f"shared (Dense: used 2 times; use each layer once (a new layer for each use))",
    )


def test_wrong_input_shape(capsys, tmp_path):
    path = functional(tmp_path, "cifar.keras", L.Flatten(), L.Dense(10, activation="relu"),
                      shape=(32, 32, 3))
    expect_error(
        capsys, tmp_path, path,
        f"model {path} takes inputs of shape (32, 32, 3), but mnist images are "
        f"(28, 28, 1); give the model an input of shape (28, 28, 1)",
    )


def test_output_not_ten_classes(capsys, tmp_path):
    path = functional(tmp_path, "five.keras", L.Flatten(), L.Dense(5, activation="relu"))
    expect_error(
        capsys, tmp_path, path,
        f"model {path} gives outputs of shape (5,), but mnist has 10 classes; "
        f"end the model with a layer of 10 units",
    )


def test_no_relu_layer(capsys, tmp_path):
    path = functional(tmp_path, "linear.keras", L.Flatten(), L.Dense(10))
    expect_error(
        capsys, tmp_path, path,
        f"model {path} has no layer with a relu activation, so nothing would run as "
        f"spiking neurons; give its hidden layers activation='relu'",
    )


def test_missing_and_unloadable_files(capsys, tmp_path):
    missing = tmp_path / "nope.keras"
    expect_error(
        capsys, tmp_path, missing,
        f"model file {missing} does not exist; give the path of a .keras, .h5 or .nir "
        f"file or a SavedModel folder, or a model name: rscnn_cifar10, rscnn_mnist, scnn, scnn_mnist, scnn_ncaltech101, scnn_nmnist, small_mnist, tiny_mnist, tiny_nmnist, vgg_mnist, "
        f"wscnn_cifar10, wscnn_mnist",
    )
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not a model")
    status, err = run_main(capsys, "--model", broken, "--out", tmp_path / "o")
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"{PROG}: error: cannot load Keras model {broken}: ")
    assert err.endswith("using only the layers and activations Keras ships\n")


def test_unknown_dataset(capsys, tmp_path):
    status, err = run_main(capsys, "--dataset", "imagenet", "--out", tmp_path / "o")
    assert status == 2
    assert err == (
        f"{PROG}: error: argument --dataset: names unknown data set 'imagenet'; known data "
        f"sets: cifar10, folder, mnist, mnist-saccades, ncaltech101, nmnist (see --help)\n"
    )
    with pytest.raises(ConfigError, match="unknown data set 'imagenet'; known data sets: "
                                          "cifar10"):
        spec_from_file(tmp_path / "any.keras", dataset="imagenet")


@pytest.fixture(scope="module")
def small_cnn(mnist, tmp_path_factory):
    """A user's small ReLU CNN, trained briefly in plain Keras, as ``.h5`` and ``.keras``.

    Trained first, as a user's model would be, so that the run shows the file's
    weights being carried into the LIF network.
    """
    (x_train, y_train), _ = mnist
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([
        tf.keras.Input(MNIST_SHAPE),
        L.Conv2D(8, 3, strides=2, activation="relu", name="c1"),
        L.Conv2D(16, 3, strides=2, activation="relu", name="c2"),
        L.Flatten(name="flat"),
        L.Dropout(0.2, name="drop"),
        L.Dense(10, activation="softmax", name="out"),
    ], name="small_cnn")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x_train[:5000], y_train[:5000], epochs=2, batch_size=64, verbose=0)
    folder = tmp_path_factory.mktemp("models")
    return {ext: save(model, folder / f"small_cnn.{ext}") for ext in ("h5", "keras")}


def test_build_starts_from_the_file(small_cnn, tmp_path):
    path = small_cnn["h5"]
    spec = spec_from_file(path)
    assert (spec.name, spec.dataset) == ("small_cnn", "mnist")
    assert spec.source.startswith("sha256:") and len(spec.source) == 7 + 64
    original = tf.keras.models.load_model(path, compile=False)
    act = LIFActivation()
    model = spec.build(act)
    assert model is not spec.build(act)  # a new model every time
    for a, b in zip(model.get_weights(), original.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.get_layer("c1").activation is act
    assert model.get_layer("c2").activation is act
    # the softmax is dropped: training reads logits; dropout is the identity
    assert model.get_layer("out").activation is tf.keras.activations.linear
    assert type(model.get_layer("drop")) is L.Activation
    # another file, another cache
    base = cache_path(tmp_path, spec, act, 1, 100, 0, data="0" * 64)
    assert base != cache_path(tmp_path, dataclasses.replace(spec, source="sha256:0"), act, 1, 100, 0,
                              data="0" * 64)
    assert base.name.startswith("small_cnn-e1-n100-s0-")


def test_savedmodel_folder(tmp_path):
    folder = functional(tmp_path, "my_model", L.Flatten(), L.Dense(16, activation="relu"),
                        L.Dense(10))
    spec = spec_from_file(folder)
    assert spec.name == "my_model" and spec.source.startswith("sha256:")
    assert spec.build(LIFActivation()).output_shape == (None, 10)


@pytest.mark.parametrize("ext, options", [
    ("h5", []),
    # Loihi-aware training and rate calibration work on a file's model too
    ("keras", ["--neuron", "loihi", "--target-rate", "60", "--calibration-epochs", "0"]),
])
def test_model_file_end_to_end(small_cnn, ext, options, tmp_path, data_dir):
    out = tmp_path / "run"
    status = main([
        "--model", str(small_cnn[ext]), *options,
        "--backends", "keras,nengo-dl,loihi-emulator",
        "--n-test", "20", "--n-train", "5000", "--epochs", "1", "--n-steps", "30",
        "--out", str(out), "--cache-dir", str(tmp_path), "--data-dir", str(data_dir),
        "--no-progress",
    ])
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "small_cnn" and results["dataset"] == "mnist"
    assert results["model_source"]["path"] == str(small_cnn[ext].resolve())
    assert results["model_source"]["hash"].startswith("sha256:")
    assert results["training"]["cached"] is False
    backends = results["backends"]
    assert list(backends) == ["keras", "nengo-dl", "loihi-emulator"]
    # measured: 0.9 (18 of 20) on every backend, from both files (chance: 0.1)
    for name, b in backends.items():
        assert b["accuracy"] >= 0.7, (name, b["accuracy"])
        assert list(b["firing_rates"]) == ["c1", "c2"]
    placement = backends["loihi-emulator"]["placement"]
    assert placement["c1"]["where"] == "host" and placement["c2"]["where"] == "chip"
    if options:
        assert results["neuron"]["type"] == "loihi"
        assert list(results["calibration"]["scales"]) == ["c1", "c2"]


def test_too_big_for_a_chip_fails_before_training(capsys, tmp_path, data_dir):
    # 24 x 24 x 256 on-chip neurons need more than a chip's 128 cores of 1,024
    path = functional(tmp_path, "big.keras", L.Conv2D(16, 3, activation="relu", name="enc"),
                      L.Conv2D(256, 3, activation="relu", name="wide"), L.Flatten(),
                      L.Dense(10))
    cache = tmp_path / "cache"
    status, err = run_main(capsys, "--model", path, "--data-dir", data_dir, "--cache-dir", cache,
                           "--n-train", 100, "--epochs", 1, "--out", tmp_path / "o")
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"{PROG}: error: the network needs at least ")
    assert "more than 1 Loihi chip's 128: wide takes " in err
    # 147,456 neurons: at least 144 cores, 2 chips' worth
    assert err.endswith("; give --chips 2, or make the largest layers smaller or move them "
                        "to the host\n")
    # nothing trained, nothing written
    assert not (tmp_path / "o").exists()
    assert not cache.exists() or not list(cache.iterdir())
