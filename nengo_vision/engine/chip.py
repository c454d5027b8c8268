"""nengo-loihi's emulated chip, batched: the same integer state, one row per input.

:class:`BatchedChip` takes the ``EmulatorInterface`` that ``nengo_loihi.Simulator``
built (blocks, synapses, axons, spike inputs, probes, all discretised by
nengo-loihi) and steps it for a batch of inputs at once:

- the compartment state (input, current, voltage, refractory count, spikes) gets
  a batch axis and is updated by :func:`.kernels.update_compartments`, the
  integer arithmetic of ``CompartmentState.update``;
- every axon → synapse route is flattened, once, into a sparse integer matrix
  from source (a compartment, or a neuron of a spike input from the host) to
  target compartment, exactly as ``SynapseState.update_input`` would add a
  spike's weights (``axon_compartment_base`` + the atom's weights and indices);
  :func:`.kernels.accumulate_spikes` applies it event by event;
- step order and delays are the emulator's (``EmulatorInterface.step``): a
  compartment's spikes reach their targets on the next step, and spikes sent
  by the host at step ``t`` arrive at step ``t + 1``.

Noise and on-chip learning draw random numbers or change weights as they go; they
are refused with one line, never approximated.

As it steps, the chip can also count its own work, per input and step, as Loihi's
activity counters would (:data:`TALLIES`): the synaptic operations each
delivered spike causes (one per synapse in its rows), the spike messages (one
per axon: a spike is sent once to each core it has synapses on), the spikes it
sends to the host and the compartments a step left idle. The counts read the
state; they change nothing.
"""

import warnings

import numpy as np
import scipy.sparse
from nengo_loihi.builder.discretize import Q_BITS, U_BITS

from . import kernels
from .host import EngineError

#: nengo-loihi's overflow warnings, in the order the kernel flags them
_OVERFLOWS = ("Overflow in q0", "Overflow in current", "Overflow in u2")

#: What :meth:`BatchedChip.step` counts per input and step, in this order:
#: synaptic operations of the spikes delivered to the chip's synapses (from its
#: own compartments and from the host or the input); spike messages sent by
#: its compartments and into it from outside (one per axon); spikes arriving
#: from outside; spikes of compartments the host reads, and the additions the
#: host makes with them (one per non-zero weight of the host's readout);
#: compartment updates that changed nothing (no input, no spike, current and
#: voltage zero). Spikes are counted in the step that delivers them, the one
#: after they were fired.
TALLIES = ("chip_synops", "chip_messages", "input_messages", "input_spikes",
           "spikes_to_host", "host_synops", "idle_updates")
_COL = {name: k for k, name in enumerate(TALLIES)}


def _route(axon, synapse, n_sources, target_start, row_offset=0):
    """(source row, target compartment, weight) of every synapse ``axon`` drives.

    Sources are ``row_offset + i`` for the ``n_sources`` compartments (or spike
    input neurons) ``i`` that send into ``axon``; targets are offset by the
    start of the synapse's block in the chip's compartment order.
    """
    rows, cols, vals = [], [], []
    sources = np.arange(n_sources)
    axon_ids = np.asarray(axon.map_axon(sources))
    atoms = (
        np.asarray(axon.compartment_atoms)
        if axon.compartment_atoms is not None
        else np.zeros(n_sources, dtype=int)
    )
    for source in np.flatnonzero(axon_ids >= 0):
        axon_id = int(axon_ids[source])
        base = synapse.axon_compartment_base(axon_id)
        if base is None:
            continue
        weights, indices = synapse.axon_weights_indices(axon_id, atom=int(atoms[source]))
        rows.append(np.full(len(indices), source))
        cols.append(target_start + base + np.asarray(indices))
        vals.append(np.asarray(weights))
    if not rows:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.int64)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    # the emulator adds one spike's weights with a fancy-indexed `+=`, which
    # would drop a repeated index: refuse rather than guess
    keys = rows.astype(np.int64) * (int(cols.max()) + 1) + cols
    if len(np.unique(keys)) < len(keys):
        raise EngineError(
            f"the batched engine cannot run synapse {synapse}: an axon targets one "
            f"compartment twice"
        )
    return rows + row_offset, cols, np.concatenate(vals).astype(np.int64)


def _matrix(routes, n_sources, n_targets):
    """The routes as runs of consecutive targets per source (see
    :func:`.kernels.accumulate_spikes`): ``(run_ptr, run_target, run_offset,
    run_length, weights)``."""
    rows, cols, vals = (np.concatenate(parts) for parts in zip(*routes)) if routes else (
        np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.int64))
    m = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(n_sources, n_targets))
    m.sum_duplicates()  # also sorts each row's targets
    indptr, indices = m.indptr.astype(np.int64), m.indices.astype(np.int64)
    new_run = np.ones(len(indices), dtype=bool)
    new_run[1:] = np.diff(indices) != 1
    new_run[indptr[:-1][indptr[:-1] < indptr[1:]]] = True  # each row starts a run
    offsets = np.flatnonzero(new_run)
    run_ptr = np.searchsorted(offsets, indptr).astype(np.int64)
    lengths = np.diff(np.append(offsets, len(indices)))
    # the weights are the kernel's memory traffic: the narrowest integer that
    # holds them (nengo-loihi's discretised weights fit in 16 bits); the sums
    # stay int32 and wrap as the emulator's do
    data = m.data
    small = data.size == 0 or (data.min() >= -(2**15) and data.max() < 2**15)
    weights = data.astype(np.int16 if small else np.int32)
    return (run_ptr, indices[offsets].astype(np.int32), offsets.astype(np.int64),
            lengths.astype(np.int32), weights), np.diff(indptr)


def _axon_counts(axons, n_sources, row_offset, total):
    """Axons each source sends on (``total`` sources in all): the messages one
    of its spikes makes."""
    counts = np.zeros(total)
    for axon in axons:
        sends = np.asarray(axon.map_axon(np.arange(n_sources))) >= 0
        counts[row_offset : row_offset + n_sources] += sends
    return counts


def _compartment_order(chip_routes, input_routes, n):
    """An order of the compartments in which each source's targets are long runs.

    Compartments are sorted by the first source that reaches them (the input
    neurons after the compartments), ties kept in the emulator's order. For a
    convolution, the targets of one input pixel are then its output pixels'
    filters side by side, not scattered over the blocks nengo-loihi split the
    layer into: runs ten times longer (measured on ``scnn_mnist``), and a twice
    faster :func:`.kernels.accumulate_spikes`. Integer sums do not depend on
    where they are kept, so the order changes no value.
    """
    first = np.full(n, np.iinfo(np.int64).max)
    for routes, offset in ((chip_routes, 0), (input_routes, n)):
        for rows, cols, _ in routes:
            np.minimum.at(first, cols, rows + offset)
    return np.lexsort((np.arange(n), first))


class BatchedChip:
    """The emulator's chip, for ``batch_size`` inputs at once.

    Parameters
    ----------
    emulator : nengo_loihi.emulator.EmulatorInterface
        Built by ``nengo_loihi.Simulator(..., target="sim")``; only read.
    batch_size : int
    """

    def __init__(self, emulator, batch_size):
        info = emulator.block_info
        if info.dtype != np.int32:
            raise EngineError(
                "the batched engine emulates the discretised chip only; build with "
                "target='sim'"
            )
        comp = emulator.compartment
        if np.any(comp.noise.enabled):
            raise EngineError(
                "the batched engine cannot reproduce compartment noise (it draws random "
                "numbers); use nengo-loihi-emulator"
            )
        learning = [s for s in emulator.synapses.slices if s.learning]
        if learning:
            raise EngineError(
                f"the batched engine cannot reproduce on-chip learning (synapse "
                f"{learning[0]}); use nengo-loihi-emulator"
            )
        self.batch_size = batch_size
        self.n = n = info.n_compartments

        start = {block: sl.start for block, sl in info.slices.items()}
        owner = emulator.synapses.block_map
        chip_routes = [
            _route(axon, axon.target, block.n_neurons, start[owner[axon.target]],
                   row_offset=start[block])
            for block in info.blocks
            for axon in block.axons
        ]
        # spike inputs (spikes from the host) are sources after the compartments
        self.inputs = list(emulator.inputs)
        self.input_offsets, offset = {}, 0
        for spike_input in self.inputs:
            self.input_offsets[spike_input] = offset
            offset += spike_input.n_neurons
        self.n_inputs = offset
        input_routes = [
            _route(axon, axon.target, inp.n_neurons, start[owner[axon.target]],
                   row_offset=self.input_offsets[inp])
            for inp in self.inputs
            for axon in inp.axons
        ]

        # the engine keeps the compartments in its own order: `order[i]` is the
        # emulator's index of the engine's compartment i, `position` the inverse
        order = _compartment_order(chip_routes, input_routes, n)
        self.position = np.empty(n, dtype=np.int64)
        self.position[order] = np.arange(n)
        self.chip_routes, chip_synapses = _matrix(
            [(self.position[r], self.position[c], w) for r, c, w in chip_routes], n, n
        )
        self.input_routes, input_synapses = _matrix(
            [(r, self.position[c], w) for r, c, w in input_routes], self.n_inputs, n
        )
        # what one spike of each source counts for (TALLIES), in the engine's order
        chip_axons = sum((_axon_counts(block.axons, block.n_neurons, start[block], n)
                          for block in info.blocks), np.zeros(n))
        self.chip_weights = np.zeros((n, len(TALLIES)))
        self.chip_weights[:, _COL["chip_synops"]] = chip_synapses
        self.chip_weights[self.position, _COL["chip_messages"]] = chip_axons
        self.input_weights = np.zeros((self.n_inputs, len(TALLIES)))
        self.input_weights[:, _COL["chip_synops"]] = input_synapses
        self.input_weights[:, _COL["input_spikes"]] = 1
        for inp in self.inputs:
            self.input_weights[:, _COL["input_messages"]] += _axon_counts(
                inp.axons, inp.n_neurons, self.input_offsets[inp], self.n_inputs)
        self.r_u = (4096 - 1 - comp.decay_u[order]).astype(np.int64)
        self.r_v = (4096 - comp.decay_v[order]).astype(np.int64)
        self.bias, self.vth = comp.bias[order].astype(np.int64), comp.vth[order].astype(np.int64)
        self.vmin = comp.vmin[order].astype(np.int64)
        self.vmax = comp.vmax[order].astype(np.int64)
        self.ref = comp.ref[order].astype(np.int64)

        self.probes = list(emulator.probes.probes)
        self.probe_columns = {
            probe: [self.position[np.arange(info.slices[b].start, info.slices[b].stop)[sl]]
                    for b, sl in zip(probe.target, probe.slice)]
            for probe in self.probes
        }
        shape = (batch_size, n)
        self.q = np.zeros(shape, dtype=np.int32)
        self.current = np.zeros(shape, dtype=np.int32)
        self.voltage = np.zeros(shape, dtype=np.int32)
        self.ref_count = np.zeros(shape, dtype=np.int32)
        self.spiked = np.zeros(shape, dtype=bool)
        #: spikes of each compartment since the last reset, per input
        self.fired = np.zeros(shape, dtype=np.int32)
        # spikes per input axon: counts, since a spike stream may send several
        self.host_spikes = np.zeros((batch_size, self.n_inputs), dtype=np.uint8)
        self.overflowed = np.zeros((batch_size, 3), dtype=bool)
        self._idle = np.zeros(batch_size, dtype=np.int64)
        self._no_tally = (np.zeros((max(n, self.n_inputs), 0)), np.zeros((batch_size, 0)))
        self.t = 0

    def read_by_host(self, loihi_probe):
        """Count the spikes ``loihi_probe`` reads for the host (``spikes_to_host``),
        and the additions the host makes with them (``host_synops``: one per
        non-zero weight of the probe's readout, one if it has none)."""
        for cols, weights in zip(self.probe_columns[loihi_probe], loihi_probe.weights):
            if weights is not None and np.ndim(weights) == 2:
                adds = np.count_nonzero(weights, axis=1)
            else:
                adds = np.ones(len(cols))
            self.chip_weights[cols, _COL["spikes_to_host"]] = 1
            self.chip_weights[cols, _COL["host_synops"]] = adds

    def reset(self):
        """Every compartment at rest, nothing in flight, the clock at zero."""
        for array in (self.q, self.current, self.voltage, self.ref_count, self.fired):
            array[...] = 0
        self.spiked[...] = False
        self.host_spikes[...] = False
        self.overflowed[...] = False
        self.t = 0

    def input_view(self, spike_input):
        """Where the spikes for ``spike_input`` go, ``(B, n_neurons)`` counts."""
        offset = self.input_offsets[spike_input]
        return self.host_spikes[:, offset : offset + spike_input.n_neurons]

    def step(self, tally=None):
        """One step of ``EmulatorInterface.step``, for every input.

        ``host_spikes`` must hold the spikes the host sent on the previous step
        (the emulator delivers them one step late; none arrive at step 1).
        ``tally``, a ``(batch_size, len(TALLIES))`` float array, is incremented
        by what this step did (:data:`TALLIES`).
        """
        self.t += 1
        self.q[...] = 0
        count = tally is not None
        if self.t >= 2 and self.n_inputs:
            kernels.accumulate_spikes(
                self.host_spikes, *self.input_routes, self.q,
                self.input_weights if count else self._no_tally[0],
                tally if count else self._no_tally[1])
        kernels.accumulate_spikes(
            self.spiked, *self.chip_routes, self.q,
            self.chip_weights if count else self._no_tally[0],
            tally if count else self._no_tally[1])
        self._idle[...] = 0
        kernels.update_compartments(
            self.q, self.current, self.voltage, self.ref_count, self.spiked,
            self.r_u, self.r_v, self.bias, self.vth, self.vmin, self.vmax, self.ref,
            Q_BITS, U_BITS, self.overflowed, self._idle, self.fired,
        )
        if tally is not None:
            tally[:, _COL["idle_updates"]] += self._idle

    def warn_overflows(self, rows):
        """nengo-loihi's overflow warnings, for the inputs in ``rows``."""
        for k, message in enumerate(_OVERFLOWS):
            if self.overflowed[rows, k].any():
                warnings.warn(message)

    def state(self, key):
        """The compartment state a probe reads: ``spiked``, ``voltage`` or ``current``."""
        return {"spiked": self.spiked, "voltage": self.voltage, "current": self.current}[key]
