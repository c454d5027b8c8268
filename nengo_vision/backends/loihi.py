"""``loihi-emulator``, ``nengo-loihi-emulator`` and ``loihi``: the network through nengo-loihi.

With still images held at every step (``--encoding analog``), the first neuron
layer (the input encoder, which turns pixels into spikes) runs on the host and
every other neuron layer on the chip, split across cores by :mod:`..partition`.
Input spikes (an encoding, or events) go straight to the chip's first layer
instead (:func:`..conversion.feed_chip`): every neuron layer is on the chip. The
linear output layer is computed on the host from the last layer's spikes.

All three build the same ``nengo_loihi.Simulator``. ``loihi-emulator`` runs what
it built through the batched engine (:mod:`..engine`), many digits at once;
``nengo-loihi-emulator`` steps nengo-loihi's own emulator, one digit at a time,
and is the reference the engine is tested against (equal spikes, voltages and
outputs). nengo-loihi 1.1 cannot reset a simulator, and building one takes
seconds, so that backend runs all digits in one simulator and sets the neuron
state back to zero between digits (:func:`reset_neuron_state`); a test checks
that a digit run after a reset gives the same spikes as a fresh run.
"""

import re
import warnings

import numpy as np

from ..errors import BackendError
from .base import Backend, Collector, register_backend, run_on_engine


def reset_neuron_state(sim):
    """Zero every neuron's state in a nengo-loihi Simulator, on chip and host.

    Only the emulator is supported: its state is the arrays below, plus the
    messages in flight between host and chip, plus the host parts' signals, which
    go back to their initial values (zero voltages, see
    ``LIFActivation.spiking_neuron``). This reaches into nengo-loihi 1.1's
    internals (pinned in setup.cfg); ``test_reset_gives_the_same_spikes_as_a_fresh_
    simulator`` checks that it stays exact.
    """
    emulator = sim.sims["emulator"]
    comp = emulator.compartment
    for array in (comp.input, comp.current, comp.voltage, comp.ref_count):
        array[...] = 0
    comp.spiked[...] = False
    # Spikes from the host arrive one step late (the emulator injects those of
    # step t - 1 at step t), so the last host step's spikes are still waiting:
    # drop them, or they would reach the next digit's first step.
    for spike_input in emulator.inputs:
        for ti in [ti for ti in spike_input.spikes if ti <= emulator.t]:
            if ti not in spike_input.permanent:
                del spike_input.spikes[ti]
    # Likewise chip-to-host: the chip's spikes of the last step are sent with the
    # next step's message, and the host holds the last message it received until
    # a newer one arrives. Drop both, and start the host's queue empty, as a new
    # simulator does.
    for probe, receiver in sim._runner.probes_receivers.items():
        emulator.probes.clear_probe(probe)
        receiver.queue[:] = [(0, np.zeros(receiver.size_out))]
    # The host parts are nengo Simulators. Every signal they update (neuron and
    # synapse state, but also the values connections and nodes computed last
    # step, which some operators read before they are recomputed) goes back to
    # its initial value, as in a new simulator; only the clock runs on.
    for key in ("host_pre", "host"):
        host = sim.sims.get(key)
        if host is None:
            continue
        clock = {host.model.step, host.model.time}
        for signals in host.model.sig.values():
            for signal in signals.values():
                if signal is None or signal.readonly or signal in clock:
                    continue
                host.signals.reset(signal)


def queue_spikes(sim, cn, counts):
    """Queue one sample's spike counts ``(n_steps, D)`` on the chip's input.

    Those of step ``k`` of the coming run are given at time index ``t + k + 1``
    (``t``: the emulator's clock now), which the emulator delivers one step
    later, as it does spikes the host sends; a spike counted twice is listed
    twice, and the emulator adds its weights twice.
    """
    spike_input = sim.model.spike_targets[cn.input]
    t0 = sim.sims["emulator"].t if "emulator" in sim.sims else 0
    source = np.arange(counts.shape[1])
    for k, row in enumerate(counts):
        if row.any():
            spike_input.add_spikes(t0 + k + 1, np.repeat(source, row))


def voltage_scale(sim, probe):
    """Per-neuron divisor that brings a voltage probe's values to threshold units.

    On the chip, voltages are integers on a scale nengo-loihi chooses per block
    when it discretises the network (its firing threshold ``vth`` is an integer
    near 2**19 or so, different in each block). nengo's LIF neurons fire at a
    voltage of 1, so dividing each probed compartment's voltage by its own
    integer threshold gives the same units. Host-side neurons are already in
    nengo's units (divisor 1).
    """
    if probe is None:
        return 1.0
    from nengo_loihi.probe import LoihiProbe

    loihi_probe = sim.model.objs[probe]["out"]
    if not isinstance(loihi_probe, LoihiProbe) or loihi_probe.key != "voltage":
        return 1.0
    vth = [
        np.broadcast_to(block.compartment.vth, block.compartment.n_compartments)[
            slice(None) if sl is None else sl
        ]
        for block, sl in zip(loihi_probe.target, loihi_probe.slice)
    ]
    scale = np.concatenate(vth).astype(float)
    # the probe's output is reordered back to neuron order when a layer is split
    # across cores (LoihiProbe.weight_outputs); the thresholds must follow
    if loihi_probe.reindexing is not None:
        scale = scale[loihi_probe.reindexing]
    return scale


def check_placement(model, synapse=None, spike_input=False, chips=1):
    """Place ``model``'s converted network on ``chips`` chips, or raise a PlacementError.

    Placement is decided by the layers' shapes and connections, so the
    untrained model answers before minutes of training are spent on a network
    that cannot fit (the error names the layer). The emulator backend places
    the trained network again, so the limits are also checked on the weights
    that run. ``spike_input``: the input is spikes sent to the chip (its
    first layer is then on the chip too). ``chips``: the Loihi chips the
    network may take (128 cores each).
    """
    from ..conversion import convert, feed_chip
    from ..partition import partition

    cn = convert(model, spiking=True, synapse=synapse)
    if spike_input:
        feed_chip(cn, 1.0, 0.001)
    return partition(cn, off_chip=host_layers(cn), chips=chips)


def _layer_label(label):
    return re.sub(r"[.]\d+$", "", label)


def host_layers(cn):
    """The neuron layers that run on the host: those the input node feeds.

    They turn pixels into spikes (the chip takes spikes only, and nengo-loihi
    cannot send a convolution of host values to the chip). Raises a
    PlacementError when the network cannot be placed at all: a passthrough left
    between layers, or no neuron layer left for the chip.
    """
    from ..errors import PlacementError

    if cn.unplaceable:
        # the Converter labels a layer's node "<layer>.<call>"; name the layer
        where = "; ".join(f"{_layer_label(label)}: {why}"
                          for label, why in cn.unplaceable.items())
        raise PlacementError(
            f"cannot place {cn.model.name} on Loihi, the chip has only neurons and the "
            f"weights between them: {where}"
        )
    host = cn.input_layers()
    if len(host) == len(cn.layers):
        raise PlacementError(
            f"cannot place {cn.model.name} on Loihi: its only neuron layers "
            f"({', '.join(host)}) read the pixels, so they are the host's input "
            f"encoder and nothing is left for the chip; add a hidden layer with "
            f"activation='relu'"
        )
    return host


def build_simulator(ctx, target, inputs=None):
    """Convert, place and build; return ``(sim, cn, report, image_holder)``.

    Where ``inputs`` are spikes, they go straight to the chip (the holder is
    then unused). The network may take ``ctx.chips`` chips; on the real chip
    (``target="loihi"``) the board gets the allocator the report is made with
    (:func:`..partition.allocate`), so the chips reported are those it uses."""
    import nengo_loihi
    from nengo_loihi.hardware.allocators import Greedy

    from ..conversion import convert, feed_chip
    from ..partition import partition, resource_report

    cn = convert(ctx.model, spiking=True, synapse=ctx.synapse, voltage=ctx.record.voltage,
                 input_synapse=ctx.input_synapse)
    if inputs is not None and inputs.spikes is not None:
        feed_chip(cn, inputs.spikes.amplitude, ctx.dt)
    placement = partition(cn, off_chip=host_layers(cn), dt=ctx.dt, chips=ctx.chips)
    # the input node reads the current digit from a holder the run loop sets
    holder = [np.zeros(cn.input.size_out)]
    if not cn.input_on_chip:
        cn.input.output = lambda t: holder[0]
    # nengo-loihi's own board defaults (2 chips, GreedyInterchip) would place
    # the network otherwise than the report says; the emulator takes no options
    hardware = dict(n_chips=placement.chips,
                    allocator=Greedy(cores_per_chip=placement.cores_per_chip))
    with warnings.catch_warnings():
        # the emulator fills integer state arrays with NaN placeholders before
        # setting them (numpy >= 1.24 warns about the cast); nothing is lost
        warnings.filterwarnings("ignore", "invalid value encountered in cast")
        sim = nengo_loihi.Simulator(
            cn.net, dt=ctx.dt, seed=ctx.seed, target=target, precompute=True,
            hardware_options=hardware if target == "loihi" else None,
        )
    return sim, cn, resource_report(sim, cn, placement), holder


def log_placement(ctx, name, report):
    from ..partition import describe

    ctx.log(f"{name}: layer placement")
    for line in describe(report):
        ctx.log(line)


@register_backend
class LoihiEmulatorBackend(Backend):
    """The network on the emulated chip, many digits at once (the batched engine).

    The engine takes the simulator nengo-loihi built (placement, block splits
    and discretisation are nengo-loihi's own) and steps ``ctx.emulator_batch``
    digits at a time, each from rest, with the emulator's integer arithmetic
    and its host ↔ chip delays.
    """

    name = "loihi-emulator"
    description = "Loihi emulator, batched engine (bit-equal to nengo-loihi's)"
    rank = 4
    needs_chip = True
    engine = True

    def run(self, ctx, inputs):
        from ..stimulus import as_inputs

        inputs = as_inputs(inputs)
        sim, cn, report, _ = build_simulator(ctx, "sim", inputs)
        log_placement(ctx, self.name, report)
        with sim, self.progress(ctx, len(inputs)) as bar:
            collect, traces, step_counts = run_on_engine(
                ctx, sim, cn, inputs, bar, voltage_scale(sim, cn.voltage_probe)
            )
        return collect.result(traces, placement=report, step_counts=step_counts)


@register_backend
class NengoLoihiEmulatorBackend(Backend):
    """The network on nengo-loihi's own emulator of the chip, one digit at a time."""

    name = "nengo-loihi-emulator"
    description = "nengo-loihi's own emulator, one digit at a time: the reference"
    rank = 4.5
    target = "sim"
    needs_chip = True

    def run(self, ctx, inputs):
        from ..stimulus import as_inputs

        inputs = as_inputs(inputs)
        sim, cn, report, holder = build_simulator(ctx, self.target, inputs)
        log_placement(ctx, self.name, report)
        collect = Collector(
            ctx, cn.amplitudes, {n: l.size_out for n, l in cn.layers.items()}, len(inputs)
        )
        v_scale = voltage_scale(sim, cn.voltage_probe)
        traces = np.zeros((len(inputs), ctx.n_steps, cn.output.size_in))
        with sim, self.progress(ctx, len(inputs)) as bar:
            for i in range(len(inputs)):
                if i > 0 and self.target == "sim":
                    reset_neuron_state(sim)
                if cn.input_on_chip:
                    queue_spikes(sim, cn, inputs.counts(ctx.n_steps, ctx.dt, i, i + 1)[0])
                else:
                    holder[0] = inputs.images[i].ravel()
                sim.run_steps(ctx.n_steps)
                traces[i] = sim.data[cn.output]
                collect.add(
                    i,
                    {name: sim.data[p][None] for name, p in cn.layer_probes.items()},
                    sim.data[cn.voltage_probe][None] / v_scale if cn.voltage_probe else None,
                )
                sim.clear_probes()
                bar.update(1)
        return collect.result(traces, placement=report)


def nxsdk_available():
    """True where Intel's NxSDK (needed for the real chip) can be imported."""
    from nengo_loihi.hardware.nxsdk_shim import HAS_NXSDK

    return HAS_NXSDK


@register_backend
class LoihiBackend(NengoLoihiEmulatorBackend):
    """The network on a real Loihi chip (``target="loihi"``); needs Intel's NxSDK."""

    name = "loihi"
    description = "a real Loihi chip through NxSDK (Intel's research cloud only)"
    rank = 5
    target = "loihi"

    def check(self):
        if not nxsdk_available():
            raise BackendError(
                "backend loihi needs Intel's NxSDK (the nxsdk package), which is not "
                "installed here; run on Intel's Neuromorphic Research Cloud (see "
                "hardware/README.md) or use --backends loihi-emulator"
            )

    def check_inputs(self, spikes):
        if spikes:
            # nengo-loihi sends a chip input's spikes to the board with the
            # network, when the simulator is built (hardware/builder.py), so
            # spikes queued digit by digit afterwards would never arrive
            raise BackendError(
                "backend loihi cannot take input spikes (a spike --encoding or an event "
                "data set): nengo-loihi sends them to the chip once, when the network "
                "is built, not digit by digit; use --backends loihi-emulator, or "
                "--encoding analog for still images"
            )

    def run(self, ctx, images):
        # nengo-loihi cannot reset the chip's state between digits, so on the chip
        # the digits follow each other without a reset, as in a continuous stream.
        ctx.log(
            "loihi: the chip's neuron state carries over from one digit to the next "
            "(nengo-loihi cannot reset it); expect the first steps of each digit to "
            "differ from the emulator"
        )
        return super().run(ctx, images)
