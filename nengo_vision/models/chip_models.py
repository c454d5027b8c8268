"""Small models built for the chip's energy: few neurons, strided convolutions.

On Loihi an inference costs about 23.6 pJ per synaptic operation and 52 to 81 pJ
per on-chip neuron per step, five to eighteen times a float multiply-accumulate
(:mod:`nengo_vision.energy`); the first layer of a held image runs on the host,
where its convolution is computed once and its neurons cost a MAC per step. So
what pays on the chip is few on-chip neurons, few spikes, and synapses fed by
sparse spikes; the anchors that reach microjoules per digit are networks of a
few hundred to a few thousand neurons (TrueNorth, Loihi, SPOON). Two 5×5
convolutions with stride 2 shrink the image fast:

==============  ================================  ==========  ===============
model           layers                            on chip     ANN MACs / image
==============  ================================  ==========  ===============
tiny_mnist      conv 8 5×5/2 → conv 16 5×5/2      256         ~0.1 M
small_mnist     conv 32 5×5/2 → conv 64 5×5/2     1,024       ~0.9 M
tiny_nmnist     conv 16 5×5/2 → conv 32 5×5/2     4,752       ~0.65 M
==============  ================================  ==========  ===============

each followed by a linear readout of 10 classes on the host. For held images
the first convolution is the host's input encoder and only the second is on
the chip; an event recording's spikes go straight to the chip, so both of
``tiny_nmnist``'s layers are there.
"""

from . import register_model


def strided(activation, input_shape, filters, name, n_out=10):
    """LIF convolutions (one per ``filters``), 5×5 with stride 2, then a linear
    readout of ``n_out``."""
    import tensorflow as tf

    L = tf.keras.layers
    # biases at the LIF threshold: every neuron starts at the edge of firing
    at_threshold = tf.keras.initializers.Constant(1.0 / activation.gain)
    inp = tf.keras.Input(shape=input_shape, name="input")
    x = inp
    for i, n in enumerate(filters):
        x = L.Conv2D(n, 5, strides=2, activation=activation, bias_initializer=at_threshold,
                     name=f"conv{i}")(x)
    out = L.Dense(n_out, name="output")(L.Flatten(name="flatten")(x))
    return tf.keras.Model(inp, out, name=name)


@register_model(
    "tiny_mnist",
    dataset="mnist",
    description="chip-sized CNN for MNIST: conv8 5x5/2 - conv16 5x5/2 (256 on chip) - dense10",
)
def tiny_mnist(activation):
    return strided(activation, (28, 28, 1), (8, 16), "tiny_mnist")


@register_model(
    "small_mnist",
    dataset="mnist",
    description="small CNN for MNIST: conv32 5x5/2 - conv64 5x5/2 (1,024 on chip) - dense10",
)
def small_mnist(activation):
    return strided(activation, (28, 28, 1), (32, 64), "small_mnist")


@register_model(
    "tiny_nmnist",
    dataset="mnist-saccades",
    description="chip-sized CNN for events: conv16 5x5/2 - conv32 5x5/2 (4,752 on chip) - "
                "dense10",
)
def tiny_nmnist(activation):
    return strided(activation, (34, 34, 2), (16, 32), "tiny_nmnist")
