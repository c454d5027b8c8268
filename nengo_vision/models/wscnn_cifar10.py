"""``wscnn_cifar10``: the wide spiking CNN of seed 003 for CIFAR-10, as its table gives it.

``shared/seeds/003_fd9505b6f1b2d658.txt``, Table 5.4 (85.19 % on CIFAR-10): on
32×32×3 images, 3×3 convolutions with 64 filters, 2×2 pooling, 128, pooling,
256, 512 and 256, then dense layers of 1,024 and 512 LIF neurons and a readout
of 10. With 'same' padding this is the table's 168,458 neurons (input
included) and 20,036,288 weights (Table 5.5). Loihi has no max pooling, so
the pooling averages (it folds into the next layer's weights). The dense
layers' 17 M weights take far more synapse memory than one chip's 128 cores
hold: the network is placed across several chips (``--chips``).
"""

from . import register_model


@register_model(
    "wscnn_cifar10",
    dataset="cifar10",
    description="seed 003's wide spiking CNN for CIFAR-10: conv64-pool-conv128-pool-"
                "conv256-conv512-conv256-dense1024-dense512-dense10, LIF",
    adapts=True,
)
def build(activation, input_shape=(32, 32, 3), n_classes=10):
    """Build the Keras model; ``activation`` is the shared LIF rate activation."""
    import tensorflow as tf

    L = tf.keras.layers
    # biases at the LIF threshold: every neuron starts at the edge of firing
    at_threshold = tf.keras.initializers.Constant(1.0 / activation.gain)

    def conv(x, filters, name):
        return L.Conv2D(filters, 3, padding="same", activation=activation,
                        bias_initializer=at_threshold, name=name)(x)

    inp = tf.keras.Input(shape=input_shape, name="input")
    x = conv(inp, 64, "conv0")
    x = L.AveragePooling2D(2, name="pool0")(x)
    x = conv(x, 128, "conv1")
    x = L.AveragePooling2D(2, name="pool1")(x)
    x = conv(x, 256, "conv2")
    x = conv(x, 512, "conv3")
    x = conv(x, 256, "conv4")
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(1024, activation=activation, bias_initializer=at_threshold, name="dense0")(x)
    x = L.Dense(512, activation=activation, bias_initializer=at_threshold, name="dense1")(x)
    out = L.Dense(n_classes, name="output")(x)
    return tf.keras.Model(inp, out, name="wscnn_cifar10")
