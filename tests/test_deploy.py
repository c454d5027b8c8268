"""Folding layers Loihi has no counterpart for: the folded model computes the same.

Untrained models with random weights and statistics, linear activations (so that
the comparison is of the folded arithmetic, not of a rate curve's threshold), on
real digits; each fold against the layers it replaces.
"""

import numpy as np
import pytest
import tensorflow as tf

from nengo_vision.deploy import deployable
from nengo_vision.errors import ModelError
from nengo_vision.neurons import LIFActivation

L = tf.keras.layers


@pytest.fixture(scope="module")
def digits(mnist):
    _, (x_test, _) = mnist
    return x_test[:20]


def model_of(*layers, shape=(28, 28, 1), seed=0):
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input(shape)
    x = inp
    for layer in layers:
        x = layer(x)
    model = tf.keras.Model(inp, x)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            # statistics far from the initial ones, so that the fold matters
            layer.set_weights([rng.uniform(0.5, 2.0, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    return model


def assert_same(model, digits, kinds_gone):
    folded = deployable(model)
    assert folded is not model
    left = {type(layer).__name__ for layer in folded.layers}
    assert not left & set(kinds_gone), left
    a, b = model(digits).numpy(), folded(digits).numpy()
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * np.abs(a).max())
    return folded


def test_batch_norm_folds_into_conv_and_dense(digits):
    # every layer named: Keras numbers unnamed ones per process, whatever ran before
    model = model_of(L.Conv2D(6, 3, name="c"), L.BatchNormalization(),
                     L.Flatten(name="flatten"),
                     L.Dense(12, use_bias=False, name="d"), L.BatchNormalization(),
                     L.Dense(10, name="out"))
    folded = assert_same(model, digits, ["BatchNormalization"])
    assert [layer.name for layer in folded.layers][1:] == ["c", "flatten", "d", "out"]
    assert folded.get_layer("d").use_bias  # the shift needs a bias


@pytest.mark.parametrize("pool, strides, conv_strides, padding", [
    (2, None, 1, "valid"), (2, None, 1, "same"), (2, None, 2, "same"), (3, 2, 1, "valid"),
    (2, 1, 1, "valid"),
])
def test_average_pooling_folds_into_the_next_conv(pool, strides, conv_strides, padding,
                                                  digits):
    model = model_of(L.Conv2D(4, 3, name="c1"), L.AveragePooling2D(pool, strides),
                     L.Conv2D(5, 3, strides=conv_strides, padding=padding, name="c2"),
                     L.Flatten(), L.Dense(10))
    folded = assert_same(model, digits, ["AveragePooling2D"])
    assert folded.get_layer("c2").strides == (conv_strides * (strides or pool),) * 2


def test_pooling_into_dense_through_flatten_and_global_pooling(digits):
    assert_same(model_of(L.Conv2D(4, 3), L.AveragePooling2D(), L.Flatten(), L.Dense(10)),
                digits, ["AveragePooling2D"])
    assert_same(model_of(L.Conv2D(4, 3), L.GlobalAveragePooling2D(), L.Dense(10)),
                digits, ["GlobalAveragePooling2D"])


@pytest.mark.parametrize("pad, strides, padding", [
    # "same" by hand; ResNet's stem (pad 1, then stride 2); uneven padding
    (1, 1, "valid"), (1, 2, "valid"), (((0, 1), (1, 0)), 2, "valid"),
])
def test_zero_padding_folds_into_the_next_conv(pad, strides, padding, digits):
    model = model_of(L.Conv2D(4, 3), L.ZeroPadding2D(pad),
                     L.Conv2D(5, 3, strides=strides, padding=padding), L.Flatten(),
                     L.Dense(10))
    assert_same(model, digits, ["ZeroPadding2D"])


def test_identity_layers_and_an_output_softmax_go(digits):
    model = model_of(L.Conv2D(4, 3), L.GaussianNoise(0.1), L.SpatialDropout2D(0.2),
                     L.Flatten(), L.Dropout(0.5), L.ActivityRegularization(0.1),
                     L.Dense(10, name="logits"), L.Softmax())
    folded = deployable(model)
    assert [type(layer).__name__ for layer in folded.layers] == [
        "InputLayer", "Conv2D", "Flatten", "Dense"]
    # the class is the largest logit, read before the softmax
    logits = tf.keras.Model(model.input, model.get_layer("logits").output)
    np.testing.assert_allclose(folded(digits), logits(digits), rtol=1e-6)


def test_activation_layers_become_the_neurons_of_the_layer_before():
    act = LIFActivation()
    model = model_of(L.Conv2D(4, 3, name="c"), L.BatchNormalization(), L.Activation(act),
                     L.Flatten(name="flat"), L.Dense(10, name="out"), L.Activation("softmax"))
    folded = deployable(model)
    assert [layer.name for layer in folded.layers][1:] == ["c", "flat", "out"]
    assert folded.get_layer("c").activation is act


@pytest.mark.parametrize("pad, strides, padding", [
    # more outputs than the input has positions (26 + 4 - 2), at stride 1 or 2
    (2, 1, "valid"), (1, 2, "same"),
    # top 0, bottom 3 around a 3-tap kernel: no "same" or "valid" layout matches
    (((0, 3), (0, 0)), 2, "valid"),
])
def test_padding_that_keras_cannot_express_is_refused(pad, strides, padding):
    model = model_of(L.Conv2D(4, 3, name="c1"), L.ZeroPadding2D(pad, name="p"),
                     L.Conv2D(5, 3, strides=strides, padding=padding, name="c2"),
                     L.Flatten(), L.Dense(10))
    pads = model.get_layer("p").padding
    with pytest.raises(ModelError) as e:
        deployable(model)
    change = ("remove the ZeroPadding2D layer (c2 already pads, with padding='same')"
              if padding == "same" else
              "use padding='same' in c2 instead of the ZeroPadding2D layer")
    assert str(e.value) == (
        f"layers p (ZeroPadding2D {pads}) and c2 (Conv2D) cannot be written as one "
        f"convolution with Keras's padding; {change}"
    )


def test_dropout_between_pooling_and_the_next_layer_is_no_obstacle(digits):
    assert_same(model_of(L.Conv2D(4, 3), L.AveragePooling2D(), L.Dropout(0.3),
                         L.Conv2D(5, 3), L.Flatten(), L.Dropout(0.3), L.Dense(10)),
                digits, ["AveragePooling2D", "Dropout"])
    # two poolings in a row fold one after the other
    assert_same(model_of(L.Conv2D(4, 3), L.AveragePooling2D(), L.AveragePooling2D(),
                         L.Conv2D(5, 3), L.Flatten(), L.Dense(10)),
                digits, ["AveragePooling2D"])


def test_neurons_after_a_concatenate_are_refused():
    act = LIFActivation()
    inp = tf.keras.Input((28, 28, 1))
    a = L.Conv2D(4, 3, name="a")(inp)
    b = L.Conv2D(4, 5, padding="same", name="b")(L.Cropping2D(1)(inp))
    x = L.Activation(act, name="n")(L.Concatenate(name="cat")([a, b]))
    model = tf.keras.Model(inp, L.Dense(10)(L.Flatten()(x)), name="m")
    with pytest.raises(ModelError) as e:
        deployable(model)
    assert str(e.value).endswith(
        "n (Activation): neurons after a Concatenate cannot be placed on Loihi; give each "
        "branch activation='relu' instead and remove this layer"
    )


def test_a_layer_used_twice_is_refused():
    inp = tf.keras.Input((28, 28, 1))
    drop = L.Dropout(0.1, name="drop")
    x = L.Conv2D(4, 3, name="c")(drop(inp))
    x = drop(L.Conv2D(4, 3, padding="same", name="c2")(x))
    model = tf.keras.Model(inp, L.Dense(10)(L.Flatten()(x)))
    with pytest.raises(ModelError) as e:
        deployable(model)
    assert str(e.value) == (
        "layer drop (Dropout) is used 2 times; use each layer once (a new layer for each use)"
    )


def test_an_output_softmax_layer_is_trained_as_logits(tmp_path):
    from nengo_vision.models.from_file import spec_from_file

    inp = tf.keras.Input((28, 28, 1))
    x = L.Conv2D(4, 3, activation="relu", name="c")(inp)
    x = L.Softmax(name="probabilities")(L.Dense(10, name="logits")(L.Flatten()(x)))
    path = tmp_path / "softmax.keras"
    tf.keras.Model(inp, x).save(path)
    model = spec_from_file(path).build(LIFActivation())
    # training takes logits: the softmax layer is the identity until it is dropped
    assert model.get_layer("probabilities").activation is tf.keras.activations.linear
    assert [layer.name for layer in deployable(model).layers][-1] == "logits"
