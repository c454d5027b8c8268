"""The backend interface and registry."""

import importlib
import pkgutil
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..errors import UsageError


@dataclass
class RunContext:
    """Everything a backend needs to run the trained model.

    Attributes
    ----------
    model : tf.keras.Model
        The trained Keras model; its neuron layers carry their rate activations
        (:func:`.conversion.layer_activations`).
    n_steps : int
        Steps each image is held for.
    dt : float
        Simulation time step in seconds.
    synapse : float or None
        Lowpass time constant on connections out of neuron layers in converted
        networks (None: raw spikes). A 2 ms filter measured +0.6 to +1.3 points of
        spiking accuracy at 30 steps over raw spikes (first 1,000 test digits).
    batch_size : int
        Images per batch where a backend batches.
    seed : int
        Seed of every simulator.
    progress : bool
        Show progress bars.
    log : callable
        Prints a line for the user.
    """

    model: object
    n_steps: int = 30
    dt: float = 0.001
    synapse: object = 0.002
    batch_size: int = 50
    seed: int = 0
    progress: bool = True
    log: object = print


@dataclass
class BackendRun:
    """What one backend produced on the test digits.

    Attributes
    ----------
    traces : ndarray
        Unfiltered output per step, ``(n_images, n_steps, n_classes)``.
    firing_rates : dict
        Layer name → mean firing rate in Hz over neurons, steps and digits.
    seconds : float
        Wall time of building and running.
    placement : dict
        Extra facts the backend reports (e.g. which layer runs where).
    """

    traces: np.ndarray
    firing_rates: dict
    seconds: float = 0.0
    placement: dict = field(default_factory=dict)


class Backend:
    """A place to run the model: subclasses set ``name`` and implement ``run``."""

    name = None
    description = ""
    #: position in listings: from the ANN towards the chip
    rank = 0
    #: True where the network is placed on Loihi cores (checked before training)
    needs_chip = False

    def check(self):
        """Raise UsageError if this backend cannot run on this machine.

        Called for every chosen backend before any work starts, so that a run
        never trains for minutes and then fails on a missing dependency.
        """

    def run(self, ctx, images):
        """Run ``images`` ``(N, 28, 28, 1)`` and return a :class:`BackendRun`."""
        raise NotImplementedError

    def progress(self, ctx, total, unit="digit"):
        """A progress bar for this backend's run."""
        return tqdm(
            total=total, desc=self.name, unit=unit, disable=not ctx.progress, leave=True
        )


_REGISTRY = {}


def register_backend(cls):
    """Class decorator that registers a backend under ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"backend {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all():
    from .. import backends

    for info in pkgutil.iter_modules(backends.__path__):
        importlib.import_module(f"{backends.__name__}.{info.name}")


def backend_names():
    """Registered backend names, from the ANN towards the chip."""
    _load_all()
    return sorted(_REGISTRY, key=lambda name: _REGISTRY[name].rank)


def get_backend(name):
    """An instance of the backend called ``name``, or a UsageError listing all."""
    _load_all()
    if name not in _REGISTRY:
        raise UsageError(
            f"unknown backend {name!r}; known backends: {', '.join(backend_names())}"
        )
    return _REGISTRY[name]()


def spike_rate_hz(output_sum, n_values, amplitude):
    """Mean rate in Hz from the sum of ``n_values`` neuron outputs (one per neuron
    and step).

    A spike is ``amplitude / dt`` for one step and a rate neuron outputs
    ``amplitude * rate`` every step, so in both cases the mean output divided by
    ``amplitude`` is the rate in Hz.
    """
    return float(output_sum / (amplitude * n_values))
