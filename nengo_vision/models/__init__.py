"""The model zoo: Keras models by name.

Adding a model is one new module in this package that defines a builder decorated
with :func:`register_model`. A builder takes the shared :class:`~.LIFActivation`
and returns an uncompiled ``tf.keras.Model`` whose neuron layers use it.
A user's own Keras model file becomes a model through :mod:`.from_file`
(``--model PATH``); :func:`find_model` takes either.
"""

from dataclasses import dataclass
from typing import Callable

from .._registry import Registry
from ..errors import ModelError


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Attributes
    ----------
    name : str
        Name used on the command line (``--model NAME``).
    build : callable
        ``build(activation) -> tf.keras.Model``.
    dataset : str
        The data set it is trained on.
    description : str
        One line for ``--help`` and reports.
    source : str
        What the weights start from when not from the builder alone, e.g.
        ``"sha256:<hex>"`` of a model file (see :mod:`.from_file`); part of the
        training cache key when set, so that a changed file is trained anew.
    train_noise : float
        The noise on neurons' input currents the model trains with unless the
        run sets ``train_noise`` (see :class:`.LIFActivation`); 0 for none.
    pretrained : bool
        The model arrives trained, with its own neurons (a NIR graph): it runs
        as it is unless the run gives ``epochs``.
    settings : tuple of (name, value)
        Run settings the model fixes unless the run gives them (a NIR graph's
        synapses and readout filter).
    adapts : bool
        The builder takes ``input_shape`` and ``n_classes`` keywords and is built
        for the data the run gives (any image size, any number of classes);
        otherwise the model takes its own data set's inputs and classes only.
    """

    name: str
    build: Callable
    dataset: str
    description: str
    source: str = ""
    train_noise: float = 0.0
    pretrained: bool = False
    settings: tuple = ()
    adapts: bool = False

    def for_data(self, input_shape, n_classes):
        """This spec built for inputs of ``input_shape`` and ``n_classes`` classes
        (an adapting model); a model that does not adapt is returned as it is."""
        if not self.adapts:
            return self
        from dataclasses import replace
        from functools import partial

        return replace(self, build=partial(self.build, input_shape=tuple(input_shape),
                                           n_classes=int(n_classes)), adapts=False)


_REGISTRY = Registry(__name__, "model", ModelError, skip=("from_file", "from_nir"))


def register_model(name, dataset, description, train_noise=0.0, adapts=False):
    """Decorator that adds a model builder to the zoo under ``name`` (``adapts``:
    see :class:`ModelSpec`)."""

    def decorator(build):
        _REGISTRY.add(name, ModelSpec(name, build, dataset, description, train_noise=train_noise,
                                      adapts=adapts))
        return build

    return decorator


def model_names():
    """Names of all registered models, sorted."""
    return _REGISTRY.names()


def get_model(name):
    """Return the :class:`ModelSpec` called ``name``, or a ModelError listing all."""
    return _REGISTRY.get(name)


def find_model(name_or_path, dataset="mnist", max_pool="refuse", nir_dt=None):
    """The :class:`ModelSpec` for ``--model``: a registered name, or a Keras model file.

    A registered name wins; otherwise an existing path is loaded and checked by
    :func:`.from_file.spec_from_file`. A name that looks like a file (it has a
    model file's suffix or a folder in it) but does not exist is reported as a
    missing file rather than as an unknown model. ``max_pool`` is what a model
    file's max pooling becomes (see :func:`.from_file.spec_from_file`); ``dataset``
    is a data set's name or the loaded :class:`.Dataset`; a ``.nir``
    file is a NIR graph (:func:`.from_nir.spec_from_nir`, read with steps of
    ``nir_dt``).
    """
    from pathlib import Path

    from .from_file import MODEL_SUFFIXES, spec_from_file
    from .from_nir import NIR_SUFFIXES, spec_from_nir

    if name_or_path in _REGISTRY:
        return _REGISTRY.get(name_or_path)
    path = Path(name_or_path)
    if path.exists() and path.suffix in NIR_SUFFIXES:
        return spec_from_nir(path, dataset, dt=nir_dt)
    if path.exists():
        return spec_from_file(path, dataset, max_pool=max_pool)
    if path.suffix in MODEL_SUFFIXES + NIR_SUFFIXES or len(path.parts) > 1:
        raise ModelError(
            f"model file {path} does not exist; give the path of a .keras, .h5 or .nir "
            f"file or a SavedModel folder, or a model name: {', '.join(model_names())}"
        )
    raise ModelError(
        f"unknown model {name_or_path!r}; known models: {', '.join(model_names())}; "
        f"or give the path of a .keras, .h5 or .nir file or a SavedModel folder"
    )
