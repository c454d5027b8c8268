"""``scnn_nmnist``: ``scnn_mnist``'s spiking CNN for event input (34×34, two polarities).

The same three convolutions (32, 64 stride 2, 128 stride 2) and readout as
``scnn_mnist``, on N-MNIST's sensor: trained on rate frames (each pixel's and
polarity's events over the recording, :func:`.datasets.event_data.rate_frames`),
run with the events streamed step by step.
"""

from . import register_model


@register_model(
    "scnn_nmnist",
    dataset="mnist-saccades",
    description="spiking CNN for event input (34x34x2): conv32-conv64/2-conv128/2-dense10",
)
def build(activation):
    """Build the Keras model; ``activation`` is the shared LIF rate activation."""
    import tensorflow as tf

    # biases start at the LIF threshold, as in scnn_mnist
    at_threshold = tf.keras.initializers.Constant(1.0 / activation.gain)
    inp = tf.keras.Input(shape=(34, 34, 2), name="input")
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
    out = tf.keras.layers.Dense(10, name="output")(x)
    return tf.keras.Model(inp, out, name="scnn_nmnist")
