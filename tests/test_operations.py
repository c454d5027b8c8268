"""Operation counts: the ANN's MACs and the synapses spikes drive."""

import numpy as np
import pytest

from nengo_vision import operations
from nengo_vision.models import get_model
from nengo_vision.neurons import LIFActivation


@pytest.fixture(scope="module")
def model():
    return get_model("scnn_mnist").build(LIFActivation())


def conv_macs(size, kernel, stride, c_in, c_out):
    out = (size - kernel) // stride + 1
    return out * out * c_out * kernel * kernel * c_in, out


def test_ann_macs_match_the_textbook_formula(model):
    m0, s0 = conv_macs(28, 3, 1, 1, 32)
    m1, s1 = conv_macs(s0, 3, 2, 32, 64)
    m2, s2 = conv_macs(s1, 3, 2, 64, 128)
    assert operations.ann_macs(model) == {
        "conv0": m0, "conv1": m1, "conv2": m2, "output": s2 * s2 * 128 * 10,
    }


def test_fan_out_sums_to_the_next_layer_synapses(model):
    macs = operations.ann_macs(model)
    for layer, consumer in [("conv0", "conv1"), ("conv1", "conv2"), ("conv2", "output")]:
        fan = operations.fan_out(model, layer)
        assert list(fan) == [consumer]
        assert fan[consumer].shape == model.get_layer(layer).output_shape[1:]
        assert fan[consumer].sum() == pytest.approx(macs[consumer])
    # every conv2 output drives all 10 output units (through Flatten)
    np.testing.assert_array_equal(operations.fan_out(model, "conv2")["output"], 10)
    # a corner neuron of conv0 is in one 3x3 window of conv1 (stride 2): 64 synapses
    assert operations.fan_out(model, "conv0")["conv1"][0, 0, 0] == 64


def test_synaptic_ops_from_known_spikes():
    fan = {"a": {"b": np.array([2.0, 3.0])}, "b": {"out": np.array([10.0])}}
    counts = {"a": np.array([4.0, 2.0]), "b": np.array([6.0])}  # over 2 digits
    synops = operations.synaptic_ops(counts, fan, n_digits=2)
    assert synops == {"a": {"b": (4 * 2 + 2 * 3) / 2}, "b": {"out": 6 * 10 / 2}}


def test_fan_out_passes_through_flatten_and_dropout():
    import tensorflow as tf

    L = tf.keras.layers
    inp = tf.keras.Input((6, 6, 1))
    x = L.Conv2D(4, 3, activation=LIFActivation(), name="conv")(inp)
    x = L.Dropout(0.5, name="drop")(L.Flatten(name="flat")(x))
    model = tf.keras.Model(inp, L.Dense(7, name="dense")(x))
    fan = operations.fan_out(model, "conv")
    assert list(fan) == ["dense"]
    np.testing.assert_array_equal(fan["dense"], np.full((4, 4, 4), 7.0))


def test_fan_out_passes_through_a_model_files_dropout(tmp_path):
    """The model the pipeline runs from a file, whose Dropout is a linear Activation,
    has the same synapses as that model without the Dropout."""
    import tensorflow as tf

    from nengo_vision.models.from_file import spec_from_file

    L = tf.keras.layers

    def saved(name, dropout):
        inp = tf.keras.Input((28, 28, 1))
        x = L.Conv2D(4, 3, strides=2, activation="relu", name="conv0")(inp)
        x = L.Dropout(0.3, name="drop0")(x) if dropout else x
        x = L.Conv2D(6, 3, strides=2, activation="relu", name="conv1")(x)
        x = L.Flatten(name="flat")(x)
        x = L.Dropout(0.3, name="drop1")(x) if dropout else x
        path = tmp_path / f"{name}.keras"
        tf.keras.Model(inp, L.Dense(10, name="out")(x)).save(path)
        return spec_from_file(path).build(LIFActivation())

    dropped, plain = saved("dropped", True), saved("plain", False)
    # the situation: both Dropouts are run as linear Activation layers
    for name in ("drop0", "drop1"):
        assert type(dropped.get_layer(name)) is tf.keras.layers.Activation
    for layer, consumer in (("conv0", "conv1"), ("conv1", "out")):
        fan, expected = operations.fan_out(dropped, layer), operations.fan_out(plain, layer)
        assert list(fan) == list(expected) == [consumer]
        np.testing.assert_array_equal(fan[consumer], expected[consumer])
    # every conv1 output drives all 10 output units
    np.testing.assert_array_equal(operations.fan_out(dropped, "conv1")["out"], 10)
