"""How a still image becomes input spikes (``--encoding``): seed 003's input conventions.

Each encoding turns pixel values ``x`` in [0, 1] into spike counts per time step
and gives the value one spike carries into the network (its *amplitude*, in the
units of the input node), chosen so that an input's mean over the presentation
is ``x`` (rate codes) or, for ``latency``, one full pixel's worth:

========== ============================================================ ==================
encoding   spikes of a pixel ``x`` over ``T`` steps                      mean input
========== ============================================================ ==================
analog     none: ``x`` held at every step (the input encoder makes them) ``x``
poisson    Poisson counts per step, mean ``x * rate * dt``                ``x`` (expected)
bernoulli  one spike per step with probability ``x * rate * dt``          ``x`` (expected)
regular    evenly spaced: a spike each time ``x * rate * dt`` sums past 1 ``x`` (to one spike)
latency    one spike at step ``round((1 - x) * (T - 1))``; none at ``x = 0`` ``1`` if ``x > 0``
========== ============================================================ ==================

``rate`` is ``Config.input_rate`` (default 1000 Hz: at ``dt = 1 ms`` a pixel of 1
may spike at every step, and a Bernoulli pixel's probability per step is its
value, as in seed 003's WSCNN). Random encodings draw from
``numpy.random.default_rng([seed, index, code])`` per image, so an image gets
the same spikes in every backend, batch and shard.
"""

import numpy as np

from .errors import ConfigError


class Encoding:
    """A spike code for still images: subclasses set ``name`` and implement :meth:`counts`.

    Attributes
    ----------
    name : str
        Name on the command line (``--encoding NAME``).
    description : str
        One line for ``--help`` and reports.
    spiking : bool
        False only for ``analog``, which sends values, not spikes.
    code : int
        Part of the random seed, so that two encodings draw different numbers.
    """

    name = None
    description = ""
    spiking = True
    code = 0

    def check(self, rate, dt, label="input_rate"):
        """ConfigError if ``rate`` (Hz) cannot be coded at time step ``dt``."""

    def amplitude(self, rate, dt, n_steps):
        """The input value one spike carries: ``1 / (rate * dt)`` for rate codes."""
        return 1.0 / (rate * dt)

    def counts(self, x, n_steps, rate, dt, seeds):
        """Spike counts ``(B, n_steps, D)`` uint8 of pixels ``x`` ``(B, D)``.

        ``seeds`` are one ``(seed, index)`` pair per image, for random codes.
        """
        raise NotImplementedError


#: name → Encoding class, in the order they are defined (all in this module)
_ENCODINGS = {}


def register_encoding(cls):
    """Class decorator that registers an encoding under ``cls.name``."""
    if cls.name in _ENCODINGS:
        raise ValueError(f"encoding {cls.name!r} is registered twice")
    _ENCODINGS[cls.name] = cls
    return cls


def encoding_names():
    """Names of all encodings, analog first."""
    return list(_ENCODINGS)


def get_encoding(name):
    """An instance of the encoding called ``name``; ConfigError listing all if unknown."""
    if name not in _ENCODINGS:
        raise ConfigError(
            f"unknown encoding {name!r}; known encodings: {', '.join(_ENCODINGS)}"
        )
    return _ENCODINGS[name]()


def _rngs(seeds, code):
    return [np.random.default_rng([int(s), int(i), code]) for s, i in seeds]


def _per_step_probability(name, rate, dt, label):
    p = rate * dt
    if p > 1:
        raise ConfigError(
            f"{label} {rate:g} Hz asks {p:g} spikes per {dt * 1e3:g} ms step of the "
            f"{name} code, which sends at most one; use at most {1 / dt:g}"
        )
    return p


@register_encoding
class Analog(Encoding):
    """Today's convention: the pixel value held at every step; the first neuron
    layer (on the host, for Loihi) makes the spikes."""

    name = "analog"
    description = "pixel values held at every step; the first layer's neurons spike"
    spiking = False

    def counts(self, x, n_steps, rate, dt, seeds):
        raise TypeError("the analog code sends values, not spikes")


@register_encoding
class Poisson(Encoding):
    """Independent Poisson counts per step, mean ``x * rate * dt`` (several spikes
    in a step are possible; they add up on the chip as in nengo-loihi's emulator)."""

    name = "poisson"
    description = "Poisson spike counts per step, mean x * rate * dt"
    code = 1

    def counts(self, x, n_steps, rate, dt, seeds):
        lam = np.asarray(x, np.float64) * rate * dt
        out = np.empty((len(lam), n_steps, lam.shape[1]), np.uint8)
        for b, rng in enumerate(_rngs(seeds, self.code)):
            # clipped at 255: only reached for a mean of ~200 spikes per step
            out[b] = np.minimum(rng.poisson(lam[b], size=(n_steps, lam.shape[1])), 255)
        return out


@register_encoding
class Bernoulli(Encoding):
    """At most one spike per step, with probability ``x * rate * dt`` (seed 003's
    WSCNN: the pixel value is the probability when ``rate = 1 / dt``)."""

    name = "bernoulli"
    description = "one spike per step with probability x * rate * dt"
    code = 2

    def check(self, rate, dt, label="input_rate"):
        _per_step_probability(self.name, rate, dt, label)

    def counts(self, x, n_steps, rate, dt, seeds):
        p = np.asarray(x, np.float64) * _per_step_probability(self.name, rate, dt, "rate")
        out = np.empty((len(p), n_steps, p.shape[1]), np.uint8)
        for b, rng in enumerate(_rngs(seeds, self.code)):
            out[b] = rng.random((n_steps, p.shape[1])) < p[b]
        return out


@register_encoding
class Regular(Encoding):
    """Deterministic, evenly spaced spikes: each pixel integrates ``x * rate * dt``
    per step and spikes when its sum passes a whole number (from a phase of 1/2,
    so that the count after ``T`` steps is ``x * rate * dt * T`` rounded, halves up)."""

    name = "regular"
    description = "deterministic evenly spaced spikes at rate x * rate"

    def check(self, rate, dt, label="input_rate"):
        _per_step_probability(self.name, rate, dt, label)

    def counts(self, x, n_steps, rate, dt, seeds):
        step = np.asarray(x, np.float64) * _per_step_probability(self.name, rate, dt, "rate")
        sums = 0.5 + step[:, None, :] * np.arange(n_steps + 1)[None, :, None]
        return np.diff(np.floor(sums), axis=1).astype(np.uint8)


@register_encoding
class Latency(Encoding):
    """Time to first spike (seed 003's TSCNN): one spike per pixel, the brighter
    the earlier, at step ``round((1 - x) * (T - 1))``; a pixel of 0 never spikes.

    The spike carries ``T`` (a whole presentation of a full pixel), so the
    amount of input says only *which* pixels are lit; their values are in the
    timing, which a network trained on rates does not read.
    """

    name = "latency"
    description = "one spike per lit pixel, at a delay of (1 - x) of the presentation"

    def amplitude(self, rate, dt, n_steps):
        return float(n_steps)

    def counts(self, x, n_steps, rate, dt, seeds):
        x = np.clip(np.asarray(x, np.float64), 0, 1)  # brighter than 1 fires at once
        out = np.zeros((len(x), n_steps, x.shape[1]), np.uint8)
        b, d = np.nonzero(x > 0)
        when = np.rint((1 - x[b, d]) * (n_steps - 1)).astype(np.intp)
        out[b, when, d] = 1
        return out
