"""The Keras CNNs people write, saved to a file and run on Loihi: one test per
architecture of issue 12's table, each trained the way a user would (plain Keras,
ReLU and softmax, one epoch on real MNIST), then through the pipeline: keras,
nengo-dl and the Loihi emulator, with the spiking backends agreeing."""

import numpy as np
import pytest
import tensorflow as tf

import nengo_vision as nv
from nengo_vision.deploy import deployable
from nengo_vision.errors import ModelError, PlacementError
from nengo_vision.models.from_file import spec_from_file
from nengo_vision.neurons import LIFActivation

pytestmark = pytest.mark.slow
L = tf.keras.layers
N_TRAIN, N_TEST = 12000, 200
BACKENDS = ["keras", "nengo-dl", "loihi-emulator"]


def bn_relu(x):
    x = L.Conv2D(8, 3, name="c1")(x)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(name="relu1")(x)
    x = L.Conv2D(16, 3, strides=2, name="c2")(x)
    x = L.BatchNormalization(name="bn2")(x)
    x = L.Activation("relu", name="relu2")(x)
    return L.Dense(10, activation="softmax", name="out")(L.Flatten()(x))


def avg_pool(x):
    x = L.Conv2D(8, 3, activation="relu", name="c1")(x)
    x = L.AveragePooling2D(name="pool1")(x)
    x = L.Conv2D(16, 3, activation="relu", name="c2")(x)
    x = L.AveragePooling2D(name="pool2")(x)
    return L.Dense(10, activation="softmax", name="out")(L.Flatten()(x))


def max_pool(x):
    x = L.Conv2D(8, 3, activation="relu", name="c1")(x)
    x = L.MaxPooling2D(name="pool1")(x)
    x = L.Conv2D(16, 3, activation="relu", name="c2")(x)
    return L.Dense(10, activation="softmax", name="out")(L.Flatten()(x))


def residual(x):
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c1")(x)
    y = L.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    y = L.Conv2D(8, 3, padding="same", name="c3")(y)
    x = L.ReLU(name="res")(L.Add(name="add")([x, y]))
    return L.Dense(10, activation="softmax", name="out")(L.Flatten()(x))


def wide(x):
    x = L.Conv2D(8, 3, activation="relu", name="c1")(x)
    a = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="b3")(x)
    b = L.Conv2D(8, 5, strides=2, padding="same", activation="relu", name="b5")(x)
    x = L.Concatenate(name="cat")([a, b])
    x = L.Conv2D(16, 3, strides=2, activation="relu", name="c2")(x)
    return L.Dense(10, activation="softmax", name="out")(L.Flatten()(x))


def one_conv(x):
    x = L.Conv2D(8, 3, strides=2, activation="relu", name="c1")(x)
    return L.Dense(10, activation="softmax", name="out")(L.Flatten()(x))


def mlp(x):
    x = L.Flatten()(x)
    x = L.Dense(64, activation="relu", name="d1")(x)
    x = L.Dense(64, activation="relu", name="d2")(x)
    return L.Dense(10, activation="softmax", name="out")(x)


def padded(x):
    # explicit zero padding before a strided conv, "same" with strides, Reshape,
    # and global average pooling into the output
    x = L.Conv2D(8, 3, activation="relu", name="c1")(x)
    x = L.ZeroPadding2D(1, name="pad")(x)
    x = L.Conv2D(16, 3, strides=2, activation="relu", name="c2")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c3")(x)
    x = L.Reshape((7 * 7, 16), name="rows")(x)
    x = L.Reshape((7, 7, 16), name="grid")(x)
    return L.Dense(10, activation="softmax", name="out")(L.Flatten(name="flat")(x))


def gap(x):
    # global average pooling folded into the output layer (folding checked below;
    # one epoch of fine-tuning leaves it at 37 %: averaging 25 positions of LIF
    # outputs, 0.002 per Hz, gives the output layer inputs far smaller than the
    # ReLU ones it was trained on, and it takes more epochs to catch up)
    x = L.Conv2D(16, 3, strides=2, activation="relu", name="c1")(x)
    x = L.Conv2D(32, 3, strides=2, activation="relu", name="c2")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return L.Dense(10, activation="softmax", name="out")(x)


ARCHITECTURES = {f.__name__: f for f in
                 (bn_relu, avg_pool, residual, wide, one_conv, mlp, padded, gap, max_pool)}


@pytest.fixture(scope="module")
def model_files(mnist, tmp_path_factory):
    """Each architecture trained as a user would (ReLU, softmax, Adam, one epoch), saved."""
    (x_train, y_train), _ = mnist
    folder = tmp_path_factory.mktemp("layers")
    files = {}
    for name, body in ARCHITECTURES.items():
        tf.keras.utils.set_random_seed(0)
        inp = tf.keras.Input((28, 28, 1), name="image")
        model = tf.keras.Model(inp, body(inp), name=name)
        model.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        model.fit(x_train[:N_TRAIN], y_train[:N_TRAIN], epochs=1, batch_size=64, verbose=0)
        files[name] = folder / f"{name}.h5"
        model.save(files[name])
    return files


def run(path, data_dir, cache_dir, **settings):
    config = nv.Config(model=str(path), backends=BACKENDS, n_test=N_TEST, n_train=N_TRAIN,
                       epochs=1, augment=0, data_dir=str(data_dir), cache_dir=str(cache_dir),
                       progress=False, **settings)
    return nv.run(config, log=lambda line: None)


#: architecture → layers on the host and on the chip after folding
PLACES = {
    "bn_relu": (["c1"], ["c2"]),
    "avg_pool": (["c1"], ["c2"]),
    "residual": (["c1"], ["c2", "res"]),
    "wide": (["c1"], ["b3", "b5", "c2"]),
    "one_conv": (["pixel_spikes"], ["c1"]),
    "mlp": (["d1"], ["d2"]),
    "padded": (["c1"], ["c2", "c3"]),
}


@pytest.mark.parametrize("name", list(PLACES))
def test_architecture_runs_on_every_backend(name, model_files, data_dir, tmp_path):
    result = run(model_files[name], data_dir, tmp_path)
    acc = {b: r.accuracy for b, r in result.backends.items()}
    # measured on these 200 digits after one epoch of Keras and one of fine-tuning
    # (chance is 0.1): Keras 0.875-0.96, NengoDL 0.88-0.96, emulator 0.875-0.95,
    # NengoDL and the emulator agreeing on 98.5-100 % of the digits
    assert acc["keras"] >= 0.85, acc
    assert acc["nengo-dl"] >= 0.8 and acc["loihi-emulator"] >= 0.8, acc
    assert result.comparison.agreement["nengo-dl"]["loihi-emulator"] >= 0.95
    placement = result.backends["loihi-emulator"].placement
    host, chip = PLACES[name]
    assert placement.on_chip == chip
    assert [n for n, p in placement.layers.items() if p.where == "host"] == host


def test_folded_model_computes_what_was_trained(model_files, mnist):
    """Batch norm, ReLU layers, pooling and padding folded: the same outputs."""
    _, (x_test, _) = mnist
    act = LIFActivation()
    for name in ("bn_relu", "avg_pool", "padded", "gap", "residual"):
        model = spec_from_file(model_files[name]).build(act)
        folded = deployable(model)
        kinds = {type(layer).__name__ for layer in folded.layers}
        assert not kinds & {"BatchNormalization", "AveragePooling2D",
                            "GlobalAveragePooling2D", "ZeroPadding2D"}, (name, kinds)
        # ReLU layers became neurons of the convolution before them; only the
        # neurons after the Add remain a layer of their own
        neurons = [layer.name for layer in folded.layers
                   if type(layer).__name__ == "Activation"]
        assert neurons == (["res"] if name == "residual" else []), (name, neurons)
        a, b = model(x_test[:50]).numpy(), folded(x_test[:50]).numpy()
        np.testing.assert_allclose(a, b, atol=2e-4 * np.abs(a).max(), err_msg=name)


def test_max_pooling_is_refused_with_advice(model_files):
    path = model_files["max_pool"]
    with pytest.raises(ModelError) as e:
        spec_from_file(path)
    assert str(e.value) == (
        f"model {path} has layers the pipeline cannot convert: pool1 (MaxPooling2D: "
        f"Loihi has no max operation, so max pooling cannot run as spikes; use "
        f"AveragePooling2D, or --max-pool avg to replace it with average pooling "
        f"(fine-tuned, at some cost in accuracy))"
    )


def test_max_pooling_replaced_by_average_on_request(model_files, data_dir, tmp_path):
    with pytest.warns(UserWarning, match="max pooling .pool1. is replaced by average"):
        result = run(model_files["max_pool"], data_dir, tmp_path, max_pool="avg")
    acc = {b: r.accuracy for b, r in result.backends.items()}
    assert acc["keras"] >= 0.85 and acc["loihi-emulator"] >= 0.8, acc
    assert result.comparison.agreement["nengo-dl"]["loihi-emulator"] >= 0.95


def test_unsupported_layers_are_named_in_one_line(tmp_path):
    inp = tf.keras.Input((28, 28, 1))
    x = L.DepthwiseConv2D(3, activation="relu", name="depthwise")(inp)
    x = L.UpSampling2D(name="up")(x)
    x = L.Flatten()(x)
    path = tmp_path / "odd.keras"
    tf.keras.Model(inp, L.Dense(10, name="out")(x)).save(path)
    with pytest.raises(ModelError) as e:
        spec_from_file(path)
    message = str(e.value)
    assert "\n" not in message
    unsupported = ("no spiking equivalent on Loihi; see the README's table of supported "
                   "layers (nengo_vision.deploy.LAYERS)")
    assert message == (
        f"model {path} has layers the pipeline cannot convert: depthwise "
        f"(DepthwiseConv2D: {unsupported}); up (UpSampling2D: {unsupported})"
    )


@pytest.mark.parametrize("build, expected", [
    # batch normalisation after the neurons cannot be folded into the weights before
    (lambda x: L.BatchNormalization(name="bn")(L.Conv2D(4, 3, activation="relu", name="c")(x)),
     "bn (BatchNormalization) follows c (Conv2D); it can only be folded into a Conv2D "
     "or Dense layer without activation that feeds nothing else: put it directly after one"),
    # pooling before neurons, not before weights
    (lambda x: L.ReLU(name="r")(L.AveragePooling2D(name="p")(L.Conv2D(4, 3, name="c")(x))),
     "p (AveragePooling2D) feeds r (Activation); Loihi has no pooling unit, so pooling is "
     "folded into the weights of the one Conv2D or Dense layer right after it: put one there"),
])
def test_layers_in_places_that_cannot_fold_are_named(build, expected, tmp_path):
    inp = tf.keras.Input((28, 28, 1))
    x = build(inp)
    x = L.Conv2D(4, 3, activation="relu", name="c9")(x)
    path = tmp_path / "bad.keras"
    tf.keras.Model(inp, L.Dense(10, name="out")(L.Flatten()(x))).save(path)
    with pytest.raises(ModelError) as e:
        spec_from_file(path)
    assert str(e.value) == f"model {path}: layer {expected}"


def test_two_weighted_layers_in_a_row_cannot_be_placed(tmp_path):
    # a convolution without neurons feeding another convolution: no place on the chip
    inp = tf.keras.Input((28, 28, 1))
    x = L.Conv2D(4, 3, activation="relu", name="c1")(inp)
    x = L.Conv2D(4, 3, name="linear")(x)
    x = L.Conv2D(4, 3, activation="relu", name="c3")(x)
    path = tmp_path / "linear.keras"
    tf.keras.Model(inp, L.Dense(10, name="out")(L.Flatten()(x)), name="stack").save(path)
    model = spec_from_file(path).build(LIFActivation())
    from nengo_vision.backends.loihi import check_placement

    with pytest.raises(PlacementError) as e:
        check_placement(model)
    assert str(e.value) == (
        "cannot place stack on Loihi, the chip has only neurons and the weights between "
        "them: linear: two weighted connections in a row (a layer without neurons feeds "
        "another weighted layer); give the first activation='relu'"
    )


def test_calibration_refuses_neurons_after_add_before_training(model_files, data_dir,
                                                               tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ModelError) as e:
        run(model_files["residual"], data_dir, cache, target_rate=60.0)
    assert str(e.value) == (
        "cannot calibrate firing rates of res: neurons fed by an Add or Concatenate have "
        "no bias of their own to keep their threshold when scaled; run without "
        "--target-rate"
    )
    assert not cache.exists() or not list(cache.iterdir())  # nothing trained
