"""The model zoo: Keras models by name.

Adding a model is one new module in this package that defines a builder decorated
with :func:`register_model`. A builder takes the shared :class:`~.LIFActivation`
and returns an uncompiled ``tf.keras.Model`` whose neuron layers use it.
"""

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from ..errors import UsageError


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
    """

    name: str
    build: Callable
    dataset: str
    description: str


_REGISTRY = {}


def register_model(name, dataset, description):
    """Decorator that adds a model builder to the zoo under ``name``."""

    def decorator(build):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelSpec(name, build, dataset, description)
        return build

    return decorator


def _load_all():
    # importing each module of this package runs its @register_model
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def model_names():
    """Names of all registered models, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def get_model(name):
    """Return the :class:`ModelSpec` called ``name``, or a UsageError listing all."""
    _load_all()
    if name not in _REGISTRY:
        raise UsageError(
            f"unknown model {name!r}; known models: {', '.join(model_names())}"
        )
    return _REGISTRY[name]
