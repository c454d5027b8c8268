"""The backend interface and registry."""

import os
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .. import defaults
from .._registry import Registry
from ..errors import ConfigError


@dataclass
class Recording:
    """What backends keep beyond the output traces, the same for every backend.

    Attributes
    ----------
    n_digits : int
        The first ``n_digits`` digits whose spike trains and voltages are kept.
    raster : dict
        Neuron layer → indices (into the flattened layer) of the neurons whose
        spike trains are kept.
    voltage : tuple or None
        ``(layer, indices)`` of the neurons whose membrane voltages are kept,
        where the backend simulates voltages.
    """

    n_digits: int = 3
    raster: dict = field(default_factory=dict)
    voltage: tuple = None


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
    input_synapse : float or None
        Lowpass time constant on the input's connections (None: unfiltered).
    batch_size : int
        Images per batch in Keras and NengoDL.
    emulator_batch : int
        Digits stepped at once by the batched engine (the ``loihi-emulator`` and
        ``nengo`` backends; memory grows with it: about 10 MB per digit for
        ``scnn_mnist``).
    engine_threads : int
        Threads of the batched engine, each stepping its own batches (default:
        the cores this process may use).
    chips : int
        Loihi chips the network may be placed on (128 cores each); the chip
        backends refuse a network needing more (:func:`.partition.partition`).
    seed : int
        Seed of every simulator.
    progress : bool
        Show progress bars.
    item : str
        What one sample is called in progress and log lines ("digit", "image").
    log : callable
        Prints a line for the user.
    record : Recording
        Spike trains and voltages to keep.
    """

    model: object
    n_steps: int = 30
    dt: float = 0.001
    synapse: object = 0.002
    input_synapse: object = None
    batch_size: int = defaults.BATCH_SIZE
    emulator_batch: int = 100
    engine_threads: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))
    chips: int = 1
    seed: int = 0
    progress: bool = True
    item: str = "digit"
    log: object = print
    record: Recording = field(default_factory=Recording)


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
    spike_counts : dict
        Layer → ``(n_neurons,)`` spikes per neuron summed over all digits (for
        rate neurons: the spikes their rates stand for, rate × time).
    rasters : dict
        Layer → ``(n_digits, n_steps, n_chosen)`` spikes per step of the neurons
        in ``RunContext.record.raster`` for the first digits (spiking backends).
    voltages : ndarray or None
        ``(n_digits, n_steps, n_chosen)`` membrane voltages of the neurons in
        ``RunContext.record.voltage``, in units of the firing threshold (nengo's
        LIF voltage; Loihi's integer voltage divided by the compartment's
        integer threshold).
    spiking : bool
        True where neurons spike (False for the ANN and rate networks).
    peak_memory : int
        Peak resident memory of the process during the run, in bytes (set by
        the harness).
    input_spikes : ndarray or None
        ``(input size,)`` spikes sent to each input element, summed over all
        digits, where the input was spikes (set by the harness); None for
        values held at every step.
    step_counts : dict or None
        Where the chip was emulated by the batched engine: the chip's work per
        digit and step, name (:data:`.engine.TALLIES`) → ``(n_digits, n_steps)``
        float32 counts, which the energy account reads
        (:mod:`nengo_vision.energy`).
    """

    traces: np.ndarray
    firing_rates: dict
    seconds: float = 0.0
    placement: dict = field(default_factory=dict)
    spike_counts: dict = field(default_factory=dict)
    rasters: dict = field(default_factory=dict)
    voltages: np.ndarray = None
    spiking: bool = True
    peak_memory: int = 0
    input_spikes: np.ndarray = None
    step_counts: dict = None


class Backend:
    """A place to run the model: subclasses set ``name`` and implement ``run``."""

    name = None
    description = ""
    #: position in listings: from the ANN towards the chip
    rank = 0
    #: True where the network is placed on Loihi cores (checked before training)
    needs_chip = False
    #: True where the batched engine steps ``emulator_batch`` digits at once
    #: (else NengoDL or Keras runs ``batch_size`` at once; for memory estimates)
    engine = False

    def check(self):
        """Raise BackendError if this backend cannot run on this machine.

        Called for every chosen backend before any work starts, so that a run
        never trains for minutes and then fails on a missing dependency.
        """

    def check_inputs(self, spikes):
        """Raise BackendError if this backend cannot take the run's inputs:
        ``spikes`` is True where they are spikes (a spike encoding, or events)
        rather than values held at every step. Every backend here takes both
        but the real chip."""

    def run(self, ctx, inputs):
        """Run ``inputs`` (:class:`.stimulus.Inputs`, or an array of images held
        at every step) and return a :class:`BackendRun`."""
        raise NotImplementedError

    def progress(self, ctx, total, unit=None):
        """A progress bar for this backend's run (counting ``ctx.item`` units)."""
        return tqdm(
            total=total, desc=self.name, unit=unit or ctx.item, disable=not ctx.progress,
            leave=True,
        )


_REGISTRY = Registry("nengo_vision.backends", "backend", ConfigError,
                     order=lambda cls: cls.rank)


def register_backend(cls):
    """Class decorator that registers a backend under ``cls.name``."""
    return _REGISTRY.add(cls.name, cls)


def backend_names():
    """Registered backend names, from the ANN towards the chip."""
    return _REGISTRY.names()


def get_backend(name):
    """An instance of the backend called ``name``, or a ConfigError listing all."""
    return _REGISTRY.get(name)()


class Collector:
    """Gathers what a backend records from its per-digit layer outputs.

    Layer outputs are the neurons' unfiltered output ``(digits, n_steps,
    n_neurons)``: a spike is ``amplitude / dt`` for one step and a rate neuron
    outputs ``amplitude * rate`` every step, so output × dt / amplitude counts
    spikes (or the spikes a rate stands for).

    Parameters
    ----------
    ctx : RunContext
    amplitudes : dict
        Layer → amplitude (activation per Hz).
    sizes : dict
        Layer → number of neurons.
    n_images : int
    spiking : bool
    """

    def __init__(self, ctx, amplitudes, sizes, n_images, spiking=True):
        self.ctx, self.amplitudes, self.sizes = ctx, amplitudes, sizes
        self.n_images, self.spiking = n_images, spiking
        self.counts = {name: np.zeros(n) for name, n in sizes.items()}
        n_rec = min(ctx.record.n_digits, n_images) if spiking else 0
        self.n_rec = n_rec
        self.rasters = {
            name: np.zeros((n_rec, ctx.n_steps, len(idx)), dtype=np.uint8)
            for name, idx in ctx.record.raster.items() if name in sizes
        }
        self.voltages = None
        if spiking and ctx.record.voltage is not None:
            self.voltages = np.zeros((n_rec, ctx.n_steps, len(ctx.record.voltage[1])))

    def add(self, start, outputs, voltages=None):
        """Add digits ``start, start + 1, ...``: ``outputs`` layer → ``(B, n_steps, n)``;
        ``voltages`` ``(B, n_steps, n_chosen)`` already in threshold units."""
        counts, rasters = {}, {}
        for name, out in outputs.items():
            per_spike = self.ctx.dt / self.amplitudes[name]
            # sum first (in float64), scale after: no full-size float64 copy
            counts[name] = np.sum(out, axis=(0, 1), dtype=np.float64) * per_spike
            if name in self.rasters:
                keep = max(0, min(len(out), self.n_rec - start))
                idx = self.ctx.record.raster[name]
                chosen = np.asarray(out[:keep], dtype=np.float64)[..., idx]
                rasters[name] = np.rint(chosen * per_spike)
        self.add_counts(start, counts, rasters, voltages)

    def add_counts(self, start, counts, rasters=None, voltages=None):
        """Add digits from spike counts: ``counts`` layer → ``(n,)`` spikes per neuron
        summed over those digits and steps; ``rasters`` layer → ``(B, n_steps, k)``
        spikes of the recorded neurons (``ctx.record.raster``) of those digits."""
        for name, count in counts.items():
            self.counts[name] += count
        for name, raster in (rasters or {}).items():
            if name in self.rasters:
                keep = max(0, min(len(raster), self.n_rec - start))
                self.rasters[name][start : start + keep] = raster[:keep]
        if voltages is not None and self.voltages is not None:
            keep = max(0, min(len(voltages), self.n_rec - start))
            self.voltages[start : start + keep] = voltages[:keep]

    def result(self, traces, **kwargs):
        """A :class:`BackendRun` with the collected counts, rates and recordings."""
        seconds = self.n_images * self.ctx.n_steps * self.ctx.dt
        rates = {
            name: float(c.sum() / (self.sizes[name] * seconds)) for name, c in self.counts.items()
        }
        return BackendRun(
            traces=traces, firing_rates=rates, spike_counts=self.counts,
            rasters=self.rasters, voltages=self.voltages, spiking=self.spiking, **kwargs,
        )


def run_on_engine(ctx, sim, cn, inputs, bar, voltage_scale=1.0):
    """Run ``images`` through a built simulator on the batched engine.

    Parameters
    ----------
    ctx : RunContext
    sim : nengo.Simulator or nengo_loihi.Simulator
        Built from ``cn.net``, still open.
    cn : conversion.ConvertedNetwork
        The converted network (its input node, output, layer and voltage probes).
    inputs : stimulus.Inputs
        Their spike counts go to the chip's axons where ``cn.input_on_chip``.
    bar : tqdm
        Moved on by the digits done.
    voltage_scale : float or ndarray
        What the voltage probe's values are divided by (threshold units).

    Returns
    -------
    Collector, ndarray, dict or None
        The counts and recordings, the output traces ``(N, n_steps, K)``, and
        where a chip was emulated its work per digit and step
        (:attr:`BackendRun.step_counts`).
    """
    from ..engine import TALLIES, BatchedEmulator, run_in_threads

    collect = Collector(ctx, cn.amplitudes, {n: l.size_out for n, l in cn.layers.items()},
                        len(inputs))
    layer_of = {p: n for n, p in cn.layer_probes.items()}
    full = [cn.output] + ([cn.voltage_probe] if cn.voltage_probe else [])
    counts = {p: ctx.record.raster.get(n) for n, p in cn.layer_probes.items()}
    traces = np.zeros((len(inputs), ctx.n_steps, cn.output.size_in))
    size = min(ctx.emulator_batch, len(inputs))
    n_threads = max(1, min(ctx.engine_threads, -(-len(inputs) // size)))
    engines = [BatchedEmulator(sim, cn.input, batch_size=size) for _ in range(n_threads)]
    tally = engines[0].chip is not None
    tallies = np.zeros((len(inputs), ctx.n_steps, len(TALLIES)), np.float32) if tally else None
    steps = inputs.steps(ctx.n_steps, ctx.dt, spikes_only=cn.input_on_chip)
    for batch in run_in_threads(engines, steps, ctx.n_steps, full=full, counts=counts,
                                progress=bar.update, tally=tally):
        traces[batch.start : batch.start + batch.size] = batch.data[cn.output]
        if tally:
            tallies[batch.start : batch.start + batch.size] = batch.tallies
        voltages = batch.data.get(cn.voltage_probe)
        collect.add_counts(
            batch.start,
            {layer_of[p]: c for p, c in batch.counts.items()},
            {layer_of[p]: r for p, r in batch.rasters.items()},
            None if voltages is None else voltages / voltage_scale,
        )
    step_counts = None if tallies is None else {
        name: tallies[..., k] for k, name in enumerate(TALLIES)}
    return collect, traces, step_counts
