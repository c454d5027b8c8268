"""Data sets by name: what a model is trained and tested on.

A data set is one module of this package defining a :class:`Dataset` subclass
decorated with :func:`register_dataset`. It gives its train and test arrays
(:meth:`Dataset.load`), the shape of one input, its classes, and its own errors
for missing or bad files, so that a new data set plugs in without touching the
pipeline. ``mnist`` is the only one for now.
"""

from dataclasses import dataclass

import numpy as np

from .._registry import Registry
from ..errors import ConfigError


@dataclass(frozen=True)
class Splits:
    """A data set's arrays: images ``(N, *input_shape)`` float32 and labels ``(N,)`` int64.

    Attributes
    ----------
    x_train, y_train, x_test, y_test : ndarray
    source : str
        Where the arrays came from (a file, or a download), for reports.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str = ""


class Dataset:
    """A data set: subclasses set the attributes and implement :meth:`load`.

    Attributes
    ----------
    name : str
        Name on the command line (``--dataset NAME``).
    description : str
        One line for ``--help`` and reports.
    input_shape : tuple
        Shape of one input, without the batch axis.
    classes : tuple
        Class names, in label order.
    item : str
        What one sample is called in messages ("digit").
    """

    name = None
    description = ""
    input_shape = ()
    classes = ()
    item = "sample"

    @property
    def n_classes(self):
        return len(self.classes)

    def load(self, data_dir=None):
        """Return the :class:`Splits`; raise :class:`.DataError` saying what to fix."""
        raise NotImplementedError


# the event modules define no data set (and saccades imports numba): not
# imported when the registry looks for data sets
_REGISTRY = Registry(__name__, "data set", ConfigError,
                     skip=("events", "event_set", "frames", "saccades"))


def register_dataset(cls):
    """Class decorator that registers a data set under ``cls.name``."""
    return _REGISTRY.add(cls.name, cls)


def dataset_names():
    """Names of all registered data sets, sorted."""
    return _REGISTRY.names()


def get_dataset(name):
    """An instance of the data set called ``name``; ConfigError listing all if unknown."""
    return _REGISTRY.get(name)()
