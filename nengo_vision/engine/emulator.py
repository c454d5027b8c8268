"""The batched emulator: a built ``nengo_loihi.Simulator`` run on many inputs at once.

nengo-loihi splits a network into three parts, and with ``precompute=True`` runs
them one after the other: ``host_pre`` (the input and the host-side neurons that
send spikes to the chip), the chip, and ``host`` (what reads the chip's output).
:class:`BatchedEmulator` runs the same three parts, each batched:
:class:`.host.BatchedHost` for the two nengo simulators, :class:`.chip.BatchedChip`
for the emulator, with nengo-loihi's own hand-over between them:

- host → chip: what ``HostSendProcess`` queues at host step ``t`` (the indices of
  the non-zero values) is injected by the chip at step ``t + 1``;
- chip → host: each chip probe's outputs are weighted by nengo-loihi's own
  ``LoihiProbe.weight_outputs`` over the whole run, one input at a time (so its
  sums are nengo-loihi's), and handed to ``HostReceiveProcess`` with the emulator's
  time stamps (step ``j`` arrives at ``(j + 2) dt``); the host reads them with
  that process's own queue rule.

Given a plain ``nengo.Simulator``, the same class runs it as a host alone: nengo's
reference simulator for a batch of inputs.

Every input starts from rest. Inputs may be static (``(N, D)``: held for every
step, as the converted networks use them) or one vector per step ``(N, T, D)``.
"""

from dataclasses import dataclass, field

import numpy as np
from nengo.builder.operator import Copy, Reset, SimPyFunc
from nengo.builder.processes import SimProcess
from nengo_loihi.builder.inputs import HostReceiveProcess, HostSendProcess

from .chip import TALLIES, BatchedChip
from .host import BatchedHost, EngineError


@dataclass
class Batch:
    """What one batch of inputs produced.

    Attributes
    ----------
    start : int
        Index of the batch's first input among all inputs.
    size : int
        Inputs in the batch (the padding of the last batch is dropped).
    data : dict
        Probe → ``(size, n_steps, ...)`` output at every step, for the probes
        asked for in full.
    counts : dict
        Probe → ``(n,)`` spikes of each neuron summed over the batch's inputs
        and steps (float), for the spike probes asked for as counts.
    rasters : dict
        Probe → ``(size, n_steps, k)`` spikes (0/1) of the ``k`` chosen neurons.
    tallies : ndarray or None
        ``(size, n_steps, len(TALLIES))``: the chip's work per input and step
        (:data:`.chip.TALLIES`), where asked for.
    """

    start: int
    size: int
    data: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    rasters: dict = field(default_factory=dict)
    tallies: np.ndarray = None


def _nothing(op, signals, host):
    return None


def _relayed(host_sim, signal):
    """``(Reset, Copy)`` if ``signal`` is a relay: set to zero, then added one other
    signal whole, every step, and read by nothing but the operator that asked;
    else ``()``. (nengo-loihi feeds each host-to-chip sender so: a node summing
    a neuron layer's spikes.) The sender can then read that other signal."""
    writers = [op for op in host_sim.step_order if signal in op.sets + op.incs + op.updates]
    readers = [op for op in host_sim.step_order if signal in op.reads]
    if len(writers) != 2 or len(readers) != 1 or signal.is_view:
        return ()
    reset, copy = writers
    if (isinstance(reset, Reset) and np.all(reset.value == 0) and isinstance(copy, Copy)
            and copy.inc and copy.src_slice is None and copy.dst_slice is None
            and copy.src.shape == signal.shape):
        return reset, copy
    return ()


def _ops(host_sim, cls, process_cls=None):
    for op in host_sim.step_order:
        if isinstance(op, cls) and (process_cls is None or isinstance(op.process, process_cls)):
            yield op


class BatchedEmulator:
    """nengo-loihi's emulator for ``batch_size`` inputs at a time.

    Parameters
    ----------
    sim : nengo_loihi.Simulator or nengo.Simulator
        Built with ``target="sim"`` and ``precompute=True``; it is read, never
        run. A plain ``nengo.Simulator`` runs as a host with no chip: nengo's
        reference simulator, batched.
    input_node : nengo.Node
        The network's input; its output is replaced by the inputs given to
        :meth:`run`.
    batch_size : int
    """

    def __init__(self, sim, input_node, batch_size=100):
        self.sim, self.dt, self.batch_size = sim, sim.dt, batch_size
        self._input = np.zeros((batch_size, input_node.size_out))
        self._pending, self.receivers = [], {}
        self._chip_input = None
        if not hasattr(sim, "sims"):
            # a plain nengo.Simulator: all host, no chip
            self.chip, self.host = None, None
            hooks = self._input_hooks(sim, input_node)
            if not hooks:
                raise EngineError(
                    f"the input node {input_node} has no function to replace; give it "
                    f"a callable output before building the simulator"
                )
            self.host_pre = BatchedHost(sim, batch_size, hooks)
            self._where = self._locate_probes()
            return
        if sim.target != "sim" or "emulator" not in sim.sims:
            raise EngineError("the batched engine needs a simulator built with target='sim'")
        if not sim.precompute:
            raise EngineError(
                "the batched engine runs precomputable networks only (no feedback "
                "from the chip to the host's input side); use nengo-loihi-emulator"
            )
        if sim.model.host2chip_pes_senders:
            raise EngineError("the batched engine cannot reproduce on-chip learning (PES)")
        model = sim.model
        self.chip = BatchedChip(sim.sims["emulator"], batch_size)
        # an input on the chip itself (conversion.feed_chip): its spikes go to
        # the chip's axons one step after they are given, as host-sent spikes do
        self._chip_input = model.spike_targets.get(input_node)
        if self._chip_input is not None:
            self._stream = np.zeros((batch_size, input_node.size_out), np.uint8)
            self._pending.append((self._stream, self.chip.input_view(self._chip_input)))
        # self._pending: (spikes the host sent this step, the chip's view they
        # move to next step)

        pre, post = sim.sims.get("host_pre"), sim.sims.get("host")
        hooks = {}
        for part in (pre, post):
            if part is not None:
                hooks.update(self._input_hooks(part, input_node))
        # by id, as nengo-loihi does: two senders' processes are equal (same
        # parameters) and would be one key of a dict
        senders = {id(s.output): model.spike_targets[r]
                   for s, r in model.host2chip_senders.items()}
        if pre is not None:
            for op in _ops(pre, SimProcess, HostSendProcess):
                relay = _relayed(pre, op.input)
                hooks[op] = self._send_step(senders[id(op.process)],
                                            relay[1].src if relay else None)
                for skipped in relay:
                    # the sender reads the relay's source itself
                    hooks[skipped] = _nothing
        if post is not None:
            by_process = {
                id(node.output): model.objs[probe]["out"]
                for probe, node in model.chip2host_receivers.items()
            }
            for op in _ops(post, SimProcess, HostReceiveProcess):
                self.receivers[by_process[id(op.process)]] = op
                hooks[op] = self._receive_step(by_process[id(op.process)])
        unknown = [
            op for part in (pre, post) if part is not None for op in _ops(part, SimProcess)
            if isinstance(op.process, (HostSendProcess, HostReceiveProcess)) and op not in hooks
        ]
        if unknown:
            raise EngineError(f"the batched engine cannot connect {unknown[0]} to the chip")
        if self._chip_input is None and not any(h == self._input_step for h in hooks.values()):
            raise EngineError(f"the input node {input_node} is not on the host")
        self.host_pre = BatchedHost(pre, batch_size, hooks) if pre is not None else None
        self.host = BatchedHost(post, batch_size, hooks) if post is not None else None
        self._where = self._locate_probes()
        for loihi_probe in self.receivers:
            self.chip.read_by_host(loihi_probe)

    # --- the hooks that replace nengo-loihi's host <-> chip nodes -------------

    def _input_hooks(self, host_sim, input_node):
        signal = host_sim.model.sig.get(input_node, {}).get("out")
        return {op: self._input_step for op in _ops(host_sim, SimPyFunc)
                if signal is not None and op.output is signal}

    def _input_step(self, op, signals, host):
        out = signals[op.output]
        current = self._input

        def step_input():
            out[...] = current

        return step_input

    # the input node's value is what the run gives it: held (the same every
    # step) when the run holds each input (BatchedHost.step(held=True))
    _input_step.held_input = True

    def _send_step(self, spike_input, source=None):
        def build(op, signals, host):
            x = signals[op.input if source is None else source]
            target = self.chip.input_view(spike_input)
            pending = np.zeros(target.shape, dtype=bool)
            self._pending.append((pending, target))

            def step_send():
                # _host2chip sends x.nonzero(): these arrive one step later
                np.not_equal(x, 0, out=pending)

            return step_send

        return build

    def _receive_step(self, loihi_probe):
        def build(op, signals, host):
            out = signals[op.output]

            def step_receive():
                # HostReceiveProcess.EmptyQueueStep: drop entries older than t
                # while more remain, then hold the first
                queue, t = self._queues[loihi_probe], host.time
                while len(queue) > 1 and queue[0][0] < t:
                    queue.pop(0)
                out[...] = queue[0][1]

            return step_receive

        return build

    # --- probes ----------------------------------------------------------------

    def _locate_probes(self):
        """nengo Probe → ("chip", LoihiProbe) or ("host_pre"/"host", BatchedHost)."""
        where = {}
        for probe in getattr(self.sim.model, "nengo_probes", ()):
            if probe in self.sim.model.chip2host_params:
                continue
            where[probe] = ("chip", self.sim.model.objs[probe]["out"])
        for name, host in (("host_pre", self.host_pre), ("host", self.host)):
            if host is not None:
                for probe in host.probes:
                    where[probe] = (name, host)
        return where

    def probe_location(self, probe):
        """``"chip"``, ``"host_pre"`` or ``"host"``: where ``probe`` reads from."""
        return self._where[probe][0]

    # --- running ---------------------------------------------------------------

    def run(self, inputs, n_steps, full=(), counts=None, progress=None, tally=False):
        """Run every input from rest; yield one :class:`Batch` per batch.

        Parameters
        ----------
        inputs : ndarray or sequence
            ``(N, D)`` held for every step, or ``(N, n_steps, D)``; for an input
            on the chip, spike counts ``(N, n_steps, D)``. Anything sliced into
            arrays by ``inputs[a:b]`` will do (made batch by batch).
        n_steps : int
        full : sequence of nengo.Probe
            Probes whose every step is kept (``Batch.data``).
        counts : dict, optional
            Spike probe → indices of neurons whose spike trains are kept (or
            None); their spikes are counted per neuron (``Batch.counts``).
        progress : callable, optional
            Called with the number of inputs done after each batch.
        tally : bool
            Count the chip's work per input and step (``Batch.tallies``).
        """
        counts = counts or {}
        for start in range(0, len(inputs), self.batch_size):
            chunk = np.asarray(inputs[start : start + self.batch_size])
            size = len(chunk)
            per_step = chunk.ndim == 3
            batch = Batch(start=start, size=size)
            self._run_batch(chunk, per_step, n_steps, full, counts, batch, tally)
            if progress is not None:
                progress(size)
            yield batch

    def _reset(self):
        if self.chip is not None:
            self.chip.reset()
        for host in (self.host_pre, self.host):
            if host is not None:
                host.reset()

    def _run_batch(self, chunk, per_step, n_steps, full, counts, batch, tally=False):
        size = len(chunk)
        self._reset()
        self._input[...] = 0
        recorders = _Recorders(self, full, counts, size, n_steps)
        step_tally = None
        if tally and self.chip is not None:
            step_tally = np.zeros((self.batch_size, len(TALLIES)))
            batch.tallies = np.zeros((size, n_steps, len(TALLIES)))
        # host_pre and chip interleaved: the chip reads the host's spikes of
        # the step before, which nengo-loihi computes first in precompute mode
        for pending, target in self._pending:
            pending[...] = False
        for k in range(n_steps):
            for pending, target in self._pending:
                target[...] = pending
            if self._chip_input is not None:
                self._stream[:size] = chunk[:, k]
            else:
                self._input[:size] = chunk[:, k] if per_step else chunk
            if self.host_pre is not None:
                self.host_pre.step(held=not per_step)
                recorders.record("host_pre", k)
            if self.chip is not None:
                if step_tally is not None:
                    step_tally[...] = 0
                self.chip.step(step_tally)
                if step_tally is not None:
                    batch.tallies[:, k] = step_tally[:size]
                recorders.record("chip", k)
        if self.chip is not None:
            self.chip.warn_overflows(slice(0, size))
        if self.host is not None:
            self._queues = {
                probe: [(0, np.zeros((self.batch_size, probe.output_size)))]
                + [
                    ((j + 2) * self.dt, x)
                    for j, x in enumerate(np.swapaxes(self._weighted(probe, recorders), 0, 1))
                ]
                for probe in self.receivers
            }
            for k in range(n_steps):
                self.host.step(held=not per_step)
                recorders.record("host", k)
        recorders.finish(batch)

    def _weighted(self, probe, recorders):
        """``weight_outputs`` of a chip probe over the run, one input at a time."""
        states = recorders.chip_states(probe)
        out = np.zeros((self.batch_size, states[0].shape[1], probe.output_size))
        for b in range(recorders.size):
            out[b] = probe.weight_outputs([s[b] for s in states])
        return out


class _Recorders:
    """Keeps, step by step, what the caller asked of each probe.

    Full probes keep every step. Count probes keep a running sum of spikes per
    neuron (no per-step copy of a whole layer) and the spike trains of the
    chosen neurons only.
    """

    def __init__(self, emulator, full, counts, size, n_steps):
        self.emu, self.size, self.n_steps = emulator, size, n_steps
        self.full = list(full)
        self.counts = dict(counts)
        chip = emulator.chip
        where = emulator._where
        full_chip = {where[p][1] for p in self.full if where[p][0] == "chip"}
        # chip probes whose every step is needed: the chip's outputs to the host,
        # and the probes asked for in full
        self._chip = {
            p: [np.zeros((size, n_steps, len(c)), dtype=chip.state(p.key).dtype)
                for c in chip.probe_columns[p]]
            for p in set(emulator.receivers) | full_chip
        }
        self._host = {p: [] for p in self.full if where[p][0] != "chip"}
        # count probes: neuron → compartment (chip) or running sums (host)
        self._chip_counts = None
        self._neurons = {}
        self._sums, self._rasters = {}, {}
        for probe, chosen in self.counts.items():
            name, obj = where[probe]
            if name == "chip":
                if obj.key != "spiked" or obj.is_transformed:
                    raise EngineError(f"probe {probe} does not record spikes of neurons")
                columns = np.concatenate(chip.probe_columns[obj])
                if obj.reindexing is not None:
                    columns = columns[obj.reindexing]
                self._neurons[probe] = columns
                self._chip_counts = np.zeros(chip.n, dtype=np.int64)
            else:
                self._sums[probe] = np.zeros(probe.size_in)
            if chosen is not None:
                self._rasters[probe] = np.zeros((size, n_steps, len(chosen)), dtype=np.uint8)

    def chip_states(self, loihi_probe):
        return self._chip[loihi_probe]

    def record(self, where, k):
        size = self.size
        if where == "chip":
            chip = self.emu.chip
            for probe, blocks in self._chip.items():
                state = chip.state(probe.key)
                for out, cols in zip(blocks, chip.probe_columns[probe]):
                    out[:, k] = state[:size, cols]
            if self._chip_counts is not None:
                for probe, columns in self._neurons.items():
                    if probe in self._rasters:
                        chosen = columns[self.counts[probe]]
                        self._rasters[probe][:, k] = chip.spiked[:size, chosen]
            return
        for probe, steps in self._host.items():
            name, host = self.emu._where[probe]
            if name == where:
                steps.append(host.probe_value(probe)[:size].copy())
        for probe, total in self._sums.items():
            name, host = self.emu._where[probe]
            if name == where:
                value = host.probe_value(probe)[:size]
                total += value.sum(axis=0)
                if probe in self._rasters:
                    chosen = value[:, self.counts[probe]]
                    self._rasters[probe][:, k] = np.rint(chosen * _per_spike(probe, self.emu.dt))

    def finish(self, batch):
        for probe in self.full:
            where, obj = self.emu._where[probe]
            if where == "chip":
                states = self._chip[obj]
                batch.data[probe] = np.stack([
                    _filtered(obj, obj.weight_outputs([s[b] for s in states]), self.emu.dt)
                    for b in range(self.size)
                ])
            else:
                batch.data[probe] = np.stack(self._host[probe], axis=1)
        if self._chip_counts is not None:
            # the chip counted each compartment's spikes as it ran
            self._chip_counts += self.emu.chip.fired[: self.size].sum(axis=0)
        for probe in self.counts:
            if probe in self._neurons:
                batch.counts[probe] = self._chip_counts[self._neurons[probe]].astype(float)
            else:
                batch.counts[probe] = self._sums[probe] * _per_spike(probe, self.emu.dt)
        batch.rasters.update(self._rasters)


def _per_spike(probe, dt):
    """Spikes per unit of a host neuron probe's output (a spike is amplitude / dt)."""
    return dt / probe.target.ensemble.neuron_type.amplitude


def _filtered(loihi_probe, data, dt):
    if loihi_probe.synapse is None:
        return data
    from nengo_loihi.probe import ProbeFilter

    # a fresh filter per input: every input starts from rest
    return ProbeFilter(dt)(loihi_probe, data)


def run_in_threads(engines, inputs, n_steps, full=(), counts=None, progress=None,
                   tally=False):
    """:meth:`BatchedEmulator.run` with the batches shared among ``engines``, one
    thread each; yields each :class:`Batch` as it is done (not in order).

    Every engine must be built from the same simulator with the same batch size.
    Each thread runs the compiled loops on one core (numba's thread count is
    per thread) and numpy releases the interpreter lock on large arrays, so
    the host's numpy operators run in parallel too, which they do not inside
    one engine. Every input starts from rest in any engine, so the values are
    those of one engine running all batches.
    """
    import queue
    import threading

    import numba

    size = engines[0].batch_size
    starts = list(range(0, len(inputs), size))
    results = queue.Queue()

    def work(engine, mine):
        try:
            numba.set_num_threads(1)
            for start in mine:
                for batch in engine.run(inputs[start : start + size], n_steps, full, counts,
                                        tally=tally):
                    batch.start += start
                    results.put(batch)
        except BaseException as e:  # handed to the caller's thread
            results.put(e)
        finally:
            results.put(None)

    threads = [
        threading.Thread(target=work, args=(engine, starts[k :: len(engines)]), daemon=True)
        for k, engine in enumerate(engines)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    while running:
        item = results.get()
        if item is None:
            running -= 1
        elif isinstance(item, BaseException):
            raise item
        else:
            if progress is not None:
                progress(item.size)
            yield item
    for thread in threads:
        thread.join()
