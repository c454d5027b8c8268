"""``scnn``: ``scnn_mnist``'s network built for the data the run gives.

Seed ``002_c841c169bfe0bf6f.txt`` runs the same spiking CNN on MNIST digits and
on Caltech 101 photographs (two output neurons: motorbikes and airplanes): the
three LIF convolutions (32, 64 stride 2, 128 stride 2) and a linear readout with
one neuron per class, on any image size and any number of channels. It is the
model of ``--dataset folder`` unless the run names another.
"""

from . import register_model
from .scnn_mnist import scnn


@register_model(
    "scnn",
    dataset="folder",
    description="spiking CNN for any images: conv32-conv64/2-conv128/2-dense(classes), LIF",
    adapts=True,
)
def build(activation, input_shape=(28, 28, 1), n_classes=10):
    """Build the Keras model for ``input_shape`` and ``n_classes``."""
    return scnn(activation, input_shape, "scnn", n_classes=n_classes)
