"""What the backends are fed, step by step: still images held, encoded spikes, or events.

:class:`Inputs` is the test set as every backend receives it. Its ``images`` are
what the ANN sees: the still images, or for event data each recording's frame
(what the input synapse holds at the last step, :mod:`.datasets.event_data`). Its ``spikes`` (None for images held at every
step) give spike counts per time step; a spike carries ``spikes.amplitude``
into the network:

- NengoDL and nengo receive ``counts * amplitude`` as the input node's value at
  each step (a spike is a value for one step, like a nengo neuron's);
- nengo-loihi's chip receives the counts themselves as spikes on the input
  axons of the first layer, with no encoder on the host
  (:func:`.conversion.feed_chip`), as nengo-loihi's DVS input does.

Both sources make the same counts for a sample in any batch, shard or backend:
encodings are seeded per image, events are read from the recording.
"""

from dataclasses import dataclass, field

import numpy as np


class SpikeSource:
    """Spike counts per step for some samples: subclasses implement :meth:`counts`.

    Attributes
    ----------
    amplitude : float
        The input value one spike carries (nengo units: held for one step).
    """

    amplitude = 1.0

    def counts(self, images, indices, n_steps, dt):
        """``(B, n_steps, D)`` uint8 spike counts of the samples ``indices``
        (``images`` are the same samples' rows of :attr:`Inputs.images`)."""
        raise NotImplementedError

    def take(self, indices):
        """``(source, indices)`` holding only the samples ``indices`` (for
        shards sent to other processes); the default keeps everything."""
        return self, indices


@dataclass
class EncodedSpikes(SpikeSource):
    """Still images through a spike code (:mod:`.encodings`).

    Parameters
    ----------
    encoding : Encoding
    rate : float
        The code's top rate in Hz (``Config.input_rate``).
    seed : int
        With each image's index, the seed of random codes.
    n_steps, dt
        The presentation (the latency code's spike carries ``n_steps``).
    """

    encoding: object
    rate: float
    seed: int
    n_steps: int
    dt: float = 0.001

    def __post_init__(self):
        self.amplitude = self.encoding.amplitude(self.rate, self.dt, self.n_steps)

    def counts(self, images, indices, n_steps, dt):
        flat = np.reshape(images, (len(images), -1))
        seeds = [(self.seed, i) for i in indices]
        return self.encoding.counts(flat, n_steps, self.rate, dt, seeds)


@dataclass
class EventSpikes(SpikeSource):
    """Recorded (or made) events binned into time steps (seed 001's eq. 3).

    Parameters
    ----------
    events : EventSet
    amplitude : float
        The input value of one event.
    """

    events: object
    amplitude: float = 1.0

    def counts(self, images, indices, n_steps, dt):
        from .datasets.frames import time_bins

        bin_us = int(round(dt * 1e6))
        out = np.empty((len(indices), n_steps, int(np.prod(images.shape[1:]))), np.uint8)
        for b, i in enumerate(indices):
            bins = time_bins(self.events.recording(int(i)), self.events.shape, bin_us, n_steps)
            out[b] = np.minimum(bins.reshape(n_steps, -1), 255)
        return out

    def take(self, indices):
        return EventSpikes(self.events.subset(indices), self.amplitude), np.arange(len(indices))


@dataclass
class Inputs:
    """The test samples as the backends receive them.

    Attributes
    ----------
    images : ndarray
        ``(N, *input_shape)``: what the ANN sees, and (for ``spikes=None``) the
        value every step holds.
    spikes : SpikeSource or None
        Where spike inputs come from; None for images held at every step.
    indices : ndarray
        Each sample's index in ``spikes`` (its seed, or its recording).
    """

    images: np.ndarray
    spikes: SpikeSource = None
    indices: np.ndarray = field(default=None)

    def __post_init__(self):
        if self.indices is None:
            self.indices = np.arange(len(self.images))

    def __len__(self):
        return len(self.images)

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("Inputs are cut with slices, e.g. inputs[:100]")
        return Inputs(self.images[key], self.spikes, self.indices[key])

    @property
    def size(self):
        """Values per step: the input node's size."""
        return int(np.prod(self.images.shape[1:]))

    def detached(self):
        """The same inputs holding only their own samples' events (for shards)."""
        if self.spikes is None:
            return self
        spikes, indices = self.spikes.take(self.indices)
        return Inputs(self.images, spikes, indices)

    def counts(self, n_steps, dt, start=0, stop=None):
        """``(B, n_steps, D)`` spike counts of samples ``start:stop``."""
        stop = len(self) if stop is None else min(stop, len(self))
        return self.spikes.counts(self.images[start:stop], self.indices[start:stop],
                                  n_steps, dt)

    def spike_totals(self, n_steps, dt, batch=100):
        """``(D,)`` int64: each input element's spikes summed over all samples
        (made ``batch`` samples at a time: all at once may not fit)."""
        total = np.zeros(self.size, np.int64)
        for start in range(0, len(self), batch):
            total += self.counts(n_steps, dt, start, start + batch).sum(axis=(0, 1), dtype=np.int64)
        return total

    def values(self, n_steps, dt, start=0, stop=None):
        """``(B, n_steps, D)`` float32: the input node's value at every step."""
        stop = len(self) if stop is None else min(stop, len(self))
        if self.spikes is None:
            return tile_images(self.images[start:stop].astype(np.float32), n_steps)
        counts = self.counts(n_steps, dt, start, stop)
        return counts.astype(np.float32) * np.float32(self.spikes.amplitude)

    def steps(self, n_steps, dt, spikes_only=False):
        """A sequence the batched engine slices into batches: held images
        ``(B, D)``, node values ``(B, n_steps, D)``, or (``spikes_only``, for
        the chip's input axons) spike counts ``(B, n_steps, D)``."""
        return _Steps(self, n_steps, dt, spikes_only)


class _Steps:
    """``inputs[a:b]`` made on demand: an event stream of all 10,000 test
    recordings would take gigabytes at once."""

    def __init__(self, inputs, n_steps, dt, spikes_only):
        self.inputs, self.n_steps, self.dt, self.spikes_only = inputs, n_steps, dt, spikes_only

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, key):
        start, stop, _ = key.indices(len(self))
        if self.inputs.spikes is None:
            return np.reshape(self.inputs.images[start:stop], (stop - start, -1))
        if self.spikes_only:
            return self.inputs.counts(self.n_steps, self.dt, start, stop)
        return self.inputs.values(self.n_steps, self.dt, start, stop)


def tile_images(images, n_steps):
    """Repeat each image for ``n_steps`` steps: ``(N, ...)`` → ``(N, n_steps, D)``."""
    flat = np.reshape(images, (len(images), 1, -1))
    return np.tile(flat, (1, n_steps, 1))


def as_inputs(images):
    """``images`` as :class:`Inputs` (an array becomes images held at every step)."""
    return images if isinstance(images, Inputs) else Inputs(np.asarray(images))
