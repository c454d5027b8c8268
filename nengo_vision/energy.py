"""The energy account of a run: every operation of an inference, where it runs,
how many there were, and what each costs.

One inference of the deployed network is work in three places: the chip (synaptic
operations, neuron updates, spike messages between cores), the link between host
and chip (spikes into the chip, spikes out of it), and the host (the input layer
that turns pixels into spikes, the spike codes, the readout). :func:`account`
counts all of it once, from what the batched engine counted as it ran
(:data:`.engine.TALLIES`, per sample and step, so that a sample stopped early by
the decision rule is charged up to its decision only) and from the deployed
network's shape (:class:`RunFacts`).

What each operation costs
-------------------------
Loihi, from M. Davies et al., "Loihi: A Neuromorphic Manycore Processor with
On-Chip Learning", IEEE Micro 38(1):82-99, 2018, Table 2 (measured on the 14 nm
chip). The table gives, among others (quoted from the paper as cited by others:
the paper itself is not on the machines this was written on; SANA-FE's Loihi
description, which cites it, has the same figures but 4.2 pJ per north-south hop):

=========================================  ==================
energy per synaptic spike op (min)         23.6 pJ
time per synaptic spike op (max)           3.5 ns
energy per neuron update (active/inactive) 81 pJ / 52 pJ
time per neuron update (active/inactive)   8.4 ns / 5.3 ns
within-tile spike energy                   1.7 pJ
energy per tile hop (E-W / N-S)            3.0 pJ / 4.0 pJ
=========================================  ==================

So the 3.5 of KerasSpiking's ``ModelEnergy`` ("loihi": ``(23.6 + 3.5) * 1e-12``
J per synaptic operation) is the table's *time* per synaptic operation in
nanoseconds, added to an energy; it is charged nowhere here. (It is also not the
mean of the two hop energies, as this module's first version assumed.)

The host, from M. Horowitz, "Computing's energy problem (and what we can do
about it)", ISSCC 2014 (45 nm): a 32-bit float multiply 3.7 pJ and add 0.9 pJ,
so a multiply-accumulate 4.6 pJ; arithmetic only, memory access not counted (as
for the ANN it is compared with).

What is not charged: static and idle power of chip and host; the off-chip link
itself (no per-spike figure is published; the spikes crossing it are counted and
their messages on the chip's mesh charged); the event camera. Every figure is an
estimate from counts times published per-operation energies, not a measurement.
"""

from dataclasses import dataclass

import numpy as np

#: Davies et al. 2018, Table 2 (J)
SYNAPTIC_OP = 23.6e-12
NEURON_UPDATE_ACTIVE = 81e-12
NEURON_UPDATE_INACTIVE = 52e-12
WITHIN_TILE_SPIKE = 1.7e-12
TILE_HOP = (3.0e-12, 4.0e-12)  # east-west, north-south
#: A spike message is charged one tile hop at the dearer (north-south) figure:
#: nengo-loihi 1.1 leaves the mapping of cores to tiles to the hardware
#: allocator, which the emulator does not run, so the distance is unknown. A
#: message within one tile costs less (1.7 pJ), one across several tiles more.
SPIKE_MESSAGE = TILE_HOP[1]
#: Horowitz 2014, 45 nm, 32-bit float (J)
FLOAT_MAC = 4.6e-12
FLOAT_ADD = 0.9e-12

LOIHI_SOURCE = (
    "M. Davies et al., \"Loihi: A Neuromorphic Manycore Processor with On-Chip "
    "Learning\", IEEE Micro 38(1):82-99, 2018, Table 2"
)
HOST_SOURCE = (
    "M. Horowitz, \"Computing's energy problem (and what we can do about it)\", "
    "ISSCC 2014 (45 nm, 32-bit float multiply 3.7 pJ + add 0.9 pJ)"
)

#: Published per-inference energies of MNIST classifiers measured on
#: neuromorphic chips, for the plots and the report's cost section: chip,
#: accuracy, joules per inference, source. Other chips, processes, networks
#: and encodings: anchors for scale, not like-for-like comparisons.
ANCHORS = (
    ("TrueNorth", 0.994, 108e-6, "Esser et al., PNAS 2015"),
    ("TrueNorth", 0.927, 0.27e-6, "Esser et al., PNAS 2015"),
    ("Loihi", 0.963, 2.5e-6, "Renner et al., Nat. Commun. 2024 (0.17 ms)"),
    ("SPOON", 0.975, 0.31e-6, "Frenkel et al., 2020"),
    ("BrainScaleS-2", 0.969, 8.4e-6, "Göltz et al., Nat. Mach. Intell. 2021"),
)


@dataclass
class Term:
    """One line of an energy account.

    Attributes
    ----------
    name : str
    where : str
        ``"chip"``, ``"link"`` (between host and chip) or ``"host"``.
    count : float
        Operations per inference.
    joules_per_op : float
    what : str
        What one operation is, and where its energy figure comes from.
    """

    name: str
    where: str
    count: float
    joules_per_op: float
    what: str

    @property
    def joules(self):
        return self.count * self.joules_per_op

    def to_dict(self):
        return dict(name=self.name, where=self.where, count=self.count,
                    joules_per_op=self.joules_per_op, joules=self.joules, what=self.what)


@dataclass
class EnergyAccount:
    """Every term of one backend's energy per inference.

    Attributes
    ----------
    terms : list of Term
    steps : float
        Steps per inference the account covers (the mean steps to decision
        where samples stop early).
    """

    terms: list
    steps: float

    @property
    def total_joules(self):
        return float(sum(t.joules for t in self.terms))

    def joules(self, where=None):
        """Joules per inference, of one place (``"chip"``, ``"link"``, ``"host"``) or all."""
        return float(sum(t.joules for t in self.terms if where in (None, t.where)))

    def term(self, name):
        return next(t for t in self.terms if t.name == name)

    def to_dict(self):
        return dict(total_joules=self.total_joules, steps=self.steps,
                    by_where={w: self.joules(w) for w in ("chip", "link", "host")},
                    terms=[t.to_dict() for t in self.terms])

    @classmethod
    def from_dict(cls, d):
        terms = [Term(t["name"], t["where"], t["count"], t["joules_per_op"], t["what"])
                 for t in d["terms"]]
        return cls(terms=terms, steps=d["steps"])


@dataclass
class RunFacts:
    """What the energy account needs to know of the deployed network and its input.

    Attributes
    ----------
    chip_compartments : int
        Compartments of the built chip (each is updated every step).
    host_neurons : int
        Neurons the host simulates (the input encoder), each updated every step.
    host_input_macs : int
        Multiply-accumulates of the layers that feed the host's neurons, per
        input image.
    input_held : bool
        The input is a still image held at every step: the host computes its
        input layers once per sample (their input does not change); otherwise
        once per step.
    encoded_pixels : int
        Pixels the host turns into spikes every step (a spike ``--encoding``;
        0 for held images and for events, which the camera sends).
    n_classes : int
        Outputs the host's readout filters every step.
    filter_macs : int
        Multiply-accumulates of the input filter (``--input-filter``) per
        image, on the host before the network (0: none).
    """

    chip_compartments: int
    host_neurons: int
    host_input_macs: int
    input_held: bool
    encoded_pixels: int
    n_classes: int
    filter_macs: int = 0


def _summed(counts, stop):
    """Mean over samples of ``counts`` ``(N, T)`` summed over each sample's first
    ``stop`` steps."""
    counts = np.asarray(counts, dtype=np.float64)
    if stop is None:
        return float(counts.sum(1).mean())
    upto = np.arange(counts.shape[1])[None, :] < np.asarray(stop)[:, None]
    return float((counts * upto).sum(1).mean())


def account(step_counts, facts, stop=None):
    """The energy per inference of a run on the emulated chip.

    Parameters
    ----------
    step_counts : dict
        The engine's counts per sample and step (:attr:`.BackendRun.step_counts`).
    facts : RunFacts
    stop : ndarray, optional
        ``(N,)`` steps each sample ran to its decision (1-based); default: all.

    Returns
    -------
    EnergyAccount
    """
    n, n_steps = next(iter(step_counts.values())).shape
    steps = float(np.mean(stop)) if stop is not None else float(n_steps)
    c = {name: _summed(counts, stop) for name, counts in step_counts.items()}
    updates = facts.chip_compartments * steps
    idle = c["idle_updates"]
    mac, add = FLOAT_MAC, FLOAT_ADD
    terms = [
        Term("synaptic_ops", "chip", c["chip_synops"], SYNAPTIC_OP,
             "one per synapse of each spike delivered to a core (from the chip's neurons "
             "or from outside): energy per synaptic spike op (min), Table 2"),
        Term("neuron_updates", "chip", updates - idle, NEURON_UPDATE_ACTIVE,
             "every compartment on the chip every step, but those below: energy per "
             "neuron update (active), Table 2"),
        Term("idle_neuron_updates", "chip", idle, NEURON_UPDATE_INACTIVE,
             "compartment updates that changed nothing (no input, no spike, current "
             "and voltage zero): energy per neuron update (inactive), Table 2"),
        Term("spike_messages", "chip", c["chip_messages"], SPIKE_MESSAGE,
             "one per core a chip neuron's spike is sent to: one tile hop at the "
             "north-south figure, Table 2 (4.0 pJ; 1.7 pJ within a tile, 3.0 pJ per "
             "east-west hop)"),
        Term("spikes_in", "link", c["input_messages"], SPIKE_MESSAGE,
             f"spikes into the chip ({c['input_spikes']:,.0f} per inference: the host's "
             f"input layer sends its spikes once per connection into the chip; or the "
             f"input's own spikes), one message per core they reach, charged as chip "
             f"messages; the link itself has no published figure"),
        Term("spikes_out", "link", c["spikes_to_host"], SPIKE_MESSAGE,
             "spikes of chip neurons the host reads, one message each, charged as chip "
             "messages; the link itself has no published figure"),
        Term("input_layer_macs", "host",
             facts.host_input_macs * (1 if facts.input_held else steps), mac,
             "the host's input layer computed from the pixels, "
             + ("once per image (a held image does not change)" if facts.input_held
                else "every step") + ": 32-bit float MACs, Horowitz 2014"),
        Term("host_neuron_updates", "host", facts.host_neurons * steps, mac,
             "the host's neurons (the input encoder) every step, one MAC each (the "
             "voltage's decay toward the input current)"),
        Term("spike_encoding", "host", facts.encoded_pixels * steps, mac,
             "the spike code's draw or count per pixel and step, one MAC each"),
        Term("readout_adds", "host", c["host_synops"], add,
             "one float add per output weight of each spike the host reads"),
        Term("readout_filter", "host", facts.n_classes * steps, mac,
             "the readout filter of each output every step, one MAC each"),
    ] + _filter_term(facts.filter_macs)
    return EnergyAccount(terms=terms, steps=steps)


def _filter_term(macs):
    """The input filter's term, or none without a filter."""
    if not macs:
        return []
    return [Term("input_filter", "host", float(macs), FLOAT_MAC,
                 "the input filter (--input-filter) once per image, before the network: "
                 "32-bit float MACs, Horowitz 2014")]


def ann_account(macs, filter_macs=0):
    """The ANN's arithmetic: ``macs`` multiply-accumulates per image at 4.6 pJ,
    and the input filter's ``filter_macs`` (the same filter before it)."""
    return EnergyAccount(
        terms=[Term("macs", "host", float(macs), FLOAT_MAC,
                    "every multiply-accumulate of the ANN once per image: 32-bit float "
                    "MACs, Horowitz 2014 (memory access not counted)")]
        + _filter_term(filter_macs),
        steps=1.0,
    )
