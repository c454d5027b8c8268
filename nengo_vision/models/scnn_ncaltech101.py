"""``scnn_ncaltech101``: a small spiking CNN for N-Caltech101's pooled events (45×60×2).

Two 5×5 LIF convolutions with stride 2 (16 and 32 filters, 9,408 and 3,456
neurons, all on the chip since the events go straight to it) and a linear
readout of one neuron per class: 102 for the whole official download, or as
many as the run's ``classes``. Sized for the chip and the emulator, not for
accuracy: N-Caltech101's published CNNs are far larger.
"""

from ..datasets.ncaltech import N_CLASSES, POOLED_SHAPE
from . import register_model
from .chip_models import strided


@register_model(
    "scnn_ncaltech101",
    dataset="ncaltech101",
    description="small spiking CNN for N-Caltech101 (45x60x2 pooled events): conv16 5x5/2 - "
                "conv32 5x5/2 - dense(classes)",
    adapts=True,
)
def build(activation, input_shape=POOLED_SHAPE + (2,), n_classes=N_CLASSES):
    """Build the Keras model; ``activation`` is the shared LIF rate activation."""
    return strided(activation, input_shape, (16, 32), "scnn_ncaltech101", n_classes)
