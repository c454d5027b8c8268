"""A NIR graph file as a model (``--model graph.nir``).

The graph is read into a deployed network (:mod:`nengo_vision.interop.nir_import`)
and built as a Keras model of this package's neurons, each layer with the
graph's own parameters: the shared activation of a run (``--gain``,
``--amplitude``, ``--neuron``) does not apply. The model arrives trained
(``ModelSpec.pretrained``): the pipeline runs it as it is unless the run asks
for training epochs, and the settings the graph fixes (its synapses and readout
filter) are the run's unless it gives its own.
"""

from pathlib import Path

from ..datasets import get_dataset, spike_value
from ..errors import ModelError
from .from_file import digest

#: File names that mean "a NIR graph".
NIR_SUFFIXES = (".nir",)


def spec_from_nir(path, dataset="mnist", dt=None):
    """A :class:`.ModelSpec` for the NIR graph saved at ``path``.

    Raises
    ------
    ModelError
        If the file cannot be read as a NIR graph, has a node that cannot run,
        or takes inputs of another shape than ``dataset``'s images.
    """
    from . import ModelSpec
    from ..deploy.network import to_keras
    from ..interop.nir_import import network_from_nir, read_graph

    # a name (ConfigError if unknown), or the loaded data set (a folder's shape
    # and classes are known once it is read)
    dataset = get_dataset(dataset) if isinstance(dataset, str) else dataset
    path = Path(path)
    # an event is 1 in a NIR graph and carries event_gain here
    imported = network_from_nir(read_graph(path), name=path.stem, dt=dt,
                                input_scale=spike_value(dataset))
    try:
        to_keras(imported.network)  # what Keras refuses (a bias of the wrong length, ...)
    except (ValueError, TypeError) as e:
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ModelError(f"NIR graph {path} does not make a network: {reason}") from None
    shape = tuple(imported.network.input.shape)
    if shape != tuple(dataset.input_shape):
        h, w, c = shape
        raise ModelError(
            f"NIR graph {path} takes inputs of shape {(c, h, w)} (channels, height, "
            f"width), but {dataset.name} gives {tuple(dataset.input_shape)} (height, "
            f"width, channels); choose a data set of its shape with --dataset"
        )

    def build(activation):  # the graph's own neurons, not the run's activation
        return to_keras(imported.network)

    settings = dict(imported.settings, nir_dt=imported.dt)
    return ModelSpec(
        name=path.stem, build=build, dataset=dataset.name,
        # the weights read depend on dt: part of the training cache key
        description=f"NIR graph from {path}",
        source=f"sha256:{digest(path)};dt={imported.dt!r}",
        pretrained=True, settings=tuple(sorted(settings.items())),
    )
