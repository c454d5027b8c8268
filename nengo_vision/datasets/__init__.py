"""Data sets by name: what a model is trained and tested on.

A data set is one module of this package defining a :class:`Dataset` subclass
decorated with :func:`register_dataset`. It gives its train and test arrays
(:meth:`Dataset.load`), the shape of one input, its classes, and its own errors
for missing or bad files, so that a new data set plugs in without touching the
pipeline: ``mnist`` (still images), and the event data sets ``mnist-saccades``
(events made from MNIST), ``nmnist`` (a real N-MNIST folder) and
``ncaltech101`` (a real N-Caltech101 folder, :mod:`.ncaltech`), whose samples
are streamed as events (:mod:`.event_data`). A data set whose classes or
input shape depend on its files sets them on the instance in :meth:`~Dataset.load`,
and names the run's settings its ``load`` takes as keywords in its ``options``
(``ncaltech101``: ``classes``, ``test_fraction``, ``seed``).
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
    test_events : EventSet or None
        For event data sets: the test recordings (``x_test`` are their frames).
    n_train_total, n_test_total : int or None
        Samples the data set has, where it gave fewer (made on demand).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str = ""
    test_events: object = None
    n_train_total: int = None
    n_test_total: int = None


def progress_bar(what, show, unit="recording"):
    """A wrapper that shows a progress bar ``what`` over an iterable of ``unit``s
    (nothing where ``show`` is False)."""
    from tqdm.auto import tqdm

    def wrap(iterable):
        return tqdm(iterable, desc=what, unit=unit, mininterval=2, disable=not show)

    return wrap


def keras_download(load_data, what, advice):
    """``load_data()`` of ``tf.keras.datasets``, or a DataError: offline, every
    failure (urllib raises several types) means "no data", and ``advice`` says
    where to point the run instead."""
    from ..errors import DataError

    try:
        return load_data()
    except Exception as e:
        raise DataError(f"cannot download {what} ({type(e).__name__}); offline, {advice}") \
            from None


def spike_value(dataset):
    """The value one input event has for a step here (an event data set's
    ``event_gain``), or None where the data set's samples are held as values."""
    return float(getattr(dataset, "event_gain", 1.0)) if dataset.n_steps else None


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
    n_steps : int or None
        Steps a sample is presented for unless the run says (event data sets:
        the recordings' length in 1 ms steps); None: the run's own.
    default_model : str
        The zoo model trained on it unless the run names one.
    input_synapse : float or None
        Lowpass time constant (s) on the input unless the run says.
    output_synapse : float or None
        The readout filter unless the run says (None: the run's default).
    """

    name = None
    description = ""
    input_shape = ()
    classes = ()
    item = "sample"
    n_steps = None
    default_model = "scnn_mnist"
    input_synapse = None
    output_synapse = None

    @property
    def n_classes(self):
        return len(self.classes)

    def load(self, data_dir=None, n_train=None, n_test=None, cache_dir=None,
             input_synapse=None, n_steps=None, progress=False):
        """Return the :class:`Splits`; raise :class:`.DataError` saying what to fix.

        ``n_train`` and ``n_test`` say how many of the first samples the run
        uses: a data set that makes its samples may make only those. Made
        samples are cached in ``cache_dir``. ``input_synapse`` and ``n_steps``
        (None: the data set's own): the run's input filter and presentation,
        which event frames are collapsed with. ``progress``: show progress
        bars on long work.
        """
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
