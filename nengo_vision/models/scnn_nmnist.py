"""``scnn_nmnist``: ``scnn_mnist``'s spiking CNN for event input (34×34, two polarities).

The same three convolutions (32, 64 stride 2, 128 stride 2) and readout as
``scnn_mnist``, on N-MNIST's sensor: trained on frames (each pixel's and
polarity's events collapsed by the input synapse's weights,
:func:`.datasets.event_data.frame_of`), run with the events streamed step by step.
"""

from . import register_model
from .scnn_mnist import scnn


@register_model(
    "scnn_nmnist",
    dataset="mnist-saccades",
    description="spiking CNN for event input (34x34x2): conv32-conv64/2-conv128/2-dense10",
)
def build(activation):
    """Build the Keras model; ``activation`` is the shared LIF rate activation."""
    return scnn(activation, (34, 34, 2), "scnn_nmnist")
