"""``rscnn_cifar10``: a residual spiking CNN for CIFAR-10.

After the RSCNN of ``shared/seeds/003_fd9505b6f1b2d658.txt`` (§5.3: 3×3
convolutions only, no pooling, two convolutions of stride 2, residual
connections that skip two layers, a dense layer of 256 before the readout;
after He et al. 2015's CIFAR networks), cut from the seed's 27 layers to 17 so
that it trains on a CPU: three stages at 32×32, 16×16 and 8×8 with 32, 64 and
128 filters, two residual blocks each::

    conv0 32 → [block 32] ×2 → conv1 64 /2 → [block 64] ×2 → conv2 128 /2
             → [block 128] ×2 → dense 256 → dense 10

A block is ``conv a → conv b`` (no activation) added to its input; the sum drives
the block's neurons, as in ``rscnn_mnist``.
"""

from . import register_model


@register_model(
    "rscnn_cifar10",
    dataset="cifar10",
    description="residual spiking CNN for CIFAR-10: conv32-2res32-conv64/2-2res64-"
                "conv128/2-2res128-dense256-dense10, LIF",
    adapts=True,
)
def build(activation, input_shape=(32, 32, 3), n_classes=10):
    """Build the Keras model; ``activation`` is the shared LIF rate activation."""
    import tensorflow as tf

    L = tf.keras.layers
    at_threshold = tf.keras.initializers.Constant(1.0 / activation.gain)

    def conv(x, filters, name, strides=1, act=activation):
        return L.Conv2D(filters, 3, strides=strides, padding="same", activation=act,
                        bias_initializer=at_threshold, name=name)(x)

    def block(x, filters, name):
        y = conv(x, filters, f"{name}a")
        y = conv(y, filters, f"{name}b", act=None)
        return L.Activation(activation, name=name)(L.Add(name=f"{name}_add")([x, y]))

    inp = tf.keras.Input(shape=input_shape, name="input")
    x = conv(inp, 32, "conv0")
    for stage, filters in enumerate((32, 64, 128)):
        if stage:
            x = conv(x, filters, f"conv{stage}", strides=2)
        for b in range(2):
            x = block(x, filters, f"res{stage}{b}")
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(256, activation=activation, bias_initializer=at_threshold, name="dense0")(x)
    out = L.Dense(n_classes, name="output")(x)
    return tf.keras.Model(inp, out, name="rscnn_cifar10")
