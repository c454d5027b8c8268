"""``scnn_mnist``: the spiking CNN of NengoDL's spiking-MNIST example.

Architecture from ``shared/seeds/002_c841c169bfe0bf6f.txt`` (98.77 % on the MNIST
test set at 30 time steps): 28×28×1 → Conv 32 3×3 → Conv 64 3×3 stride 2 →
Conv 128 3×3 stride 2 → Dense 10, with LIF neurons after each convolution.
"""

from . import register_model


@register_model(
    "scnn_mnist",
    dataset="mnist",
    description="spiking CNN for MNIST: conv32-conv64/2-conv128/2-dense10, LIF",
)
def build(activation):
    """Build the Keras model; ``activation`` is the shared LIF rate activation."""
    return scnn(activation, (28, 28, 1), "scnn_mnist")


def scnn(activation, input_shape, name, n_classes=10):
    """The three LIF convolutions and the linear readout of ``n_classes``, on
    ``input_shape``."""
    import tensorflow as tf

    # Biases start at the LIF threshold (input current gain * bias = 1), so that
    # every neuron starts at the edge of firing, as a ReLU does at 0; otherwise
    # most neurons of a Glorot-initialised layer start silent.
    at_threshold = tf.keras.initializers.Constant(1.0 / activation.gain)
    inp = tf.keras.Input(shape=input_shape, name="input")
    x = tf.keras.layers.Conv2D(
        32, 3, activation=activation, bias_initializer=at_threshold, name="conv0"
    )(inp)
    x = tf.keras.layers.Conv2D(
        64, 3, strides=2, activation=activation, bias_initializer=at_threshold,
        name="conv1",
    )(x)
    x = tf.keras.layers.Conv2D(
        128, 3, strides=2, activation=activation, bias_initializer=at_threshold,
        name="conv2",
    )(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    out = tf.keras.layers.Dense(n_classes, name="output")(x)
    return tf.keras.Model(inp, out, name=name)
