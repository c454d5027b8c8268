"""``vgg_mnist``: VGG-style blocks for MNIST, with batch normalisation.

After the VGG-16 of ``shared/seeds/000_2a628d5ad411b42d.txt``, cut to MNIST's size:
two blocks of two 3×3 convolutions, each followed by batch normalisation and its
neurons, and a 2×2 pooling, then a last convolution in place of VGG's hidden
dense layers::

    [conv 16 → BN → LIF] ×2 → pool → [conv 32 → BN → LIF] ×2 → pool → conv 64 → dense 10

Why a convolution last: pooling is folded into the layer after it, so that layer
reads the unpooled neurons, and a dense layer there would read 14×14×32 = 6,272
of them in every core, more than a Loihi core's 4,096 input axons.

Batch normalisation makes this network's input currents differences of large
drives that cancel (the summed magnitude of each current's parts is 4 to 6 times
the spread of the currents, against 1.4 to 2.3 in ``wscnn_mnist``, on 200 test
digits), so the fluctuations of spiking input swamp what the rates encode:
trained on exact rates it is 99 % as an ANN and at chance as spikes. It
therefore trains with noise on its neurons' input currents (``train_noise`` 1.5
threshold currents; see :class:`~nengo_vision.neurons.LIFActivation`), and its
spikes need more time to settle through five layers than the default 30 steps (measured on 300
digits after 2 epochs: 61 % at 30 steps, 98 % at 60, 99 % at 100; without
the noise 15 % and 64 %).

VGG pools by the maximum, which Loihi cannot take; this model pools by the
average, as NengoDL's Converter does with ``max_to_avg_pool``. On Loihi the batch
normalisation is folded into the convolutions and each pooling into the layer
after it (:mod:`nengo_vision.deploy`), so the chip runs four layers of neurons
(the first is the host's input encoder).
"""

from . import register_model


@register_model(
    "vgg_mnist",
    dataset="mnist",
    description="VGG-style CNN: [conv16-BN]x2-pool-[conv32-BN]x2-pool-conv64-dense10, LIF "
                "(trained with current noise; run with --n-steps 100)",
    train_noise=1.5,
)
def build(activation):
    """Build the Keras model; ``activation`` is the shared LIF rate activation."""
    import tensorflow as tf

    L = tf.keras.layers
    # batch normalisation's shift starts at the LIF threshold (every neuron at
    # the edge of firing), and its scale at 1 / gain: with the default scale of
    # 1, input currents would spread as widely as the gain (std 10)
    inverse_gain = tf.keras.initializers.Constant(1.0 / activation.gain)

    def conv_bn(x, filters, name):
        x = L.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
        x = L.BatchNormalization(beta_initializer=inverse_gain,
                                 gamma_initializer=inverse_gain, name=f"{name}_bn")(x)
        return L.Activation(activation, name=f"{name}_lif")(x)

    inp = tf.keras.Input(shape=(28, 28, 1), name="input")
    x = conv_bn(inp, 16, "conv1_1")
    x = conv_bn(x, 16, "conv1_2")
    x = L.AveragePooling2D(2, name="pool1")(x)  # 14×14
    x = conv_bn(x, 32, "conv2_1")
    x = conv_bn(x, 32, "conv2_2")
    x = L.AveragePooling2D(2, name="pool2")(x)  # 7×7
    x = L.Conv2D(64, 3, activation=activation, bias_initializer=inverse_gain,
                 name="conv3")(x)  # 5×5
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(10, name="output")(x)
    return tf.keras.Model(inp, out, name="vgg_mnist")
