"""``rscnn_mnist``: a residual spiking CNN for MNIST.

After the RSCNN of ``shared/seeds/003_fd9505b6f1b2d658.txt`` (§5.3: 3×3
convolutions with residual connections that skip two layers, after He et al.
2015), cut to MNIST's size: a convolution, then two stages of a strided
convolution and one residual block each::

    conv0 16 3×3 → conv1 32 3×3/2 → [conv1a 32 3×3 → conv1b 32 3×3] + conv1 → res1
                 → conv2 64 3×3/2 → [conv2a 64 3×3 → conv2b 64 3×3] + conv2 → res2
                 → dense 10

``conv1b`` and ``conv2b`` have no activation: their output is added to the block's
input, and the sum drives the block's neurons (``res1``, ``res2``). On Loihi both
inputs of each sum are connections into the same neurons.
"""

from . import register_model


@register_model(
    "rscnn_mnist",
    dataset="mnist",
    description="residual spiking CNN: conv16-conv32/2-res32-conv64/2-res64-dense10, LIF",
)
def build(activation):
    """Build the Keras model; ``activation`` is the shared LIF rate activation."""
    import tensorflow as tf

    L = tf.keras.layers
    # biases at the LIF threshold: every neuron starts at the edge of firing
    at_threshold = tf.keras.initializers.Constant(1.0 / activation.gain)

    def conv(x, filters, name, strides=1, padding="same", act=activation):
        return L.Conv2D(filters, 3, strides=strides, padding=padding, activation=act,
                        bias_initializer=at_threshold, name=name)(x)

    def residual(x, filters, name):
        y = conv(x, filters, f"{name}a")
        y = conv(y, filters, f"{name}b", act=None)
        return L.Activation(activation, name=f"res{name[-1]}")(L.Add(name=f"add{name[-1]}")([x, y]))

    inp = tf.keras.Input(shape=(28, 28, 1), name="input")
    x = conv(inp, 16, "conv0", padding="valid")  # 26×26
    x = conv(x, 32, "conv1", strides=2, padding="valid")  # 12×12
    x = residual(x, 32, "conv1")
    x = conv(x, 64, "conv2", strides=2, padding="valid")  # 5×5
    x = residual(x, 64, "conv2")
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(10, name="output")(x)
    return tf.keras.Model(inp, out, name="rscnn_mnist")
