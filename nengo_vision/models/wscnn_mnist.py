"""``wscnn_mnist``: a wide spiking CNN for MNIST, parallel branches concatenated.

After the WSCNN of ``shared/seeds/003_fd9505b6f1b2d658.txt`` (§5.2: many filters per
layer, for accuracy rather than size), made wide the way inception-style
networks are: the first layer's spikes feed two branches side by side, 3×3 and
5×5 convolutions with the same stride, whose channels are concatenated::

    conv0 32 3×3 → { wide3 48 3×3/2 , wide5 48 5×5/2 } → concat (96 channels)
                 → conv2 128 3×3/2 → dense 10

On Loihi each branch has its own blocks, and ``conv2``'s kernel is split into the
part that reads each branch.
"""

from . import register_model


@register_model(
    "wscnn_mnist",
    dataset="mnist",
    description="wide spiking CNN: conv32-{3x3,5x5}x48/2 concatenated-conv128/2-dense10, LIF",
)
def build(activation):
    """Build the Keras model; ``activation`` is the shared LIF rate activation."""
    import tensorflow as tf

    L = tf.keras.layers
    at_threshold = tf.keras.initializers.Constant(1.0 / activation.gain)

    def conv(x, filters, size, name, strides=1, padding="valid"):
        return L.Conv2D(filters, size, strides=strides, padding=padding,
                        activation=activation, bias_initializer=at_threshold, name=name)(x)

    inp = tf.keras.Input(shape=(28, 28, 1), name="input")
    x = conv(inp, 32, 3, "conv0")  # 26×26
    a = conv(x, 48, 3, "wide3", strides=2, padding="same")  # 13×13
    b = conv(x, 48, 5, "wide5", strides=2, padding="same")  # 13×13
    x = L.Concatenate(name="concat")([a, b])
    x = conv(x, 128, 3, "conv2", strides=2)  # 6×6
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(10, name="output")(x)
    return tf.keras.Model(inp, out, name="wscnn_mnist")
