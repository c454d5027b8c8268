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


def _ones_reference(model, layer_name):
    """Synapses out of ``layer_name`` by TensorFlow: the gradient of the summed
    output of all-ones copies of the layers it drives (an independent count)."""
    import tensorflow as tf

    from nengo_vision.neurons import is_neuron_activation

    L = tf.keras.layers
    start = model.get_layer(layer_name)
    shape = start.output_shape[0] if isinstance(start.output_shape, list) else start.output_shape
    x0 = tf.ones((1,) + tuple(shape[1:]))
    totals = {}

    def ones_copy(layer):
        config = dict(layer.get_config(), name=layer.name + "_ones", activation=None,
                      use_bias=False)
        copy = type(layer).from_config(config)
        copy.build(layer.input_shape)
        copy.set_weights([np.ones_like(w) for w in copy.get_weights()])
        return copy

    def walk(layer, x):
        for node in layer._outbound_nodes:
            nxt = node.outbound_layer
            if nxt not in model.layers:
                continue
            if isinstance(nxt, (L.Dense, L.Conv2D)):
                totals[nxt.name] = tf.reduce_sum(ones_copy(nxt)(x))
            elif isinstance(nxt, L.Activation) and is_neuron_activation(nxt.activation):
                totals[nxt.name] = tf.reduce_sum(x)
            elif isinstance(nxt, (L.Add, L.Concatenate)):
                ins = tf.nest.flatten(nxt._inbound_nodes[0].inbound_layers)
                walk(nxt, nxt([x if i is layer else tf.zeros((1,) + tuple(i.output_shape[1:]))
                               for i in ins]))
            else:  # Flatten, Reshape, linear Activation
                walk(nxt, nxt(x))

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x0)
        walk(start, x0)
    return {k: tape.gradient(t, x0)[0].numpy() for k, t in totals.items()}


@pytest.mark.parametrize("name", ["scnn_mnist", "rscnn_mnist", "wscnn_mnist", "vgg_mnist",
                                  "small_mnist", "tiny_nmnist"])
def test_counts_from_the_description_equal_tensorflows(name):
    """Every zoo model, every neuron layer and the input: the synapses counted on
    the deployed network's description equal TensorFlow's count on the Keras
    layers (residual sums, concatenations and 'same' padding included)."""
    from nengo_vision.conversion import neuron_layers
    from nengo_vision.deploy import deployable

    model = deployable(get_model(name).build(LIFActivation()))
    for layer in [model.input_names[0]] + neuron_layers(model):
        ours, reference = operations.fan_out(model, layer), _ones_reference(model, layer)
        assert sorted(ours) == sorted(reference), layer
        for consumer, fan in reference.items():
            np.testing.assert_array_equal(ours[consumer], fan)
