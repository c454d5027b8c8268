"""Keras model → Nengo spiking network, with probes on every neuron layer.

``nengo_dl.Converter`` does the conversion; this module adds what deployment needs:

- the rate activation is swapped for the spiking (or rate) Nengo neuron;
- convolution biases are folded into the ensembles' own biases. The Converter
  routes them through a constant node, a relay node and a ``nengo.Sparse``
  broadcast, so that they stay trainable in NengoDL; nengo-loihi cannot send a
  ``Sparse`` transform from host to chip, while Loihi compartments have biases of
  their own. For inference the two are the same network;
- a probe on every neuron layer and on the output, none of them filtered: the
  readout filter is applied afterwards, per image (see :func:`.metrics.readout`).
"""

from dataclasses import dataclass, field

import nengo
import numpy as np

from ._quiet import import_nengo_dl
from .errors import ModelError
from .neurons import LoihiLIFActivation, is_neuron_activation

nengo_dl = import_nengo_dl()


@dataclass
class ConvertedNetwork:
    """A converted network and the handles every backend needs.

    Attributes
    ----------
    net : nengo.Network
    input : nengo.Node
        Input node; its ``output`` is set by the backend.
    output : nengo.Probe
        Unfiltered probe on the model's output.
    layers : dict
        Keras layer name → ``nengo.ensemble.Neurons``, in network order.
    layer_probes : dict
        Keras layer name → unfiltered probe on that layer's neurons.
    shapes : dict
        Keras layer name → output shape (without batch axis).
    converter : nengo_dl.Converter
    amplitudes : dict
        Keras layer name → activation per Hz of that layer (its probe's output
        divided by this is the firing rate in Hz).
    voltage_probe : nengo.Probe or None
        Unfiltered probe on the membrane voltages of the neurons chosen with
        ``convert(..., voltage=...)``.
    unplaceable : dict
        Label of each passthrough node left between layers → why it could not
        be merged away (:mod:`.deploy.passthrough`); the chip cannot run these.
    model : tf.keras.Model
        The model converted: :func:`.deploy.deployable` of the one given.
    input_on_chip : bool
        True after :func:`feed_chip`: input spikes go straight to the chip.
    """

    net: nengo.Network
    input: nengo.Node
    output: nengo.Probe
    layers: dict
    layer_probes: dict
    shapes: dict
    converter: object = field(repr=False)
    amplitudes: dict = field(default_factory=dict)
    voltage_probe: object = None
    unplaceable: dict = field(default_factory=dict)
    model: object = field(default=None, repr=False)
    input_on_chip: bool = False

    def input_layers(self):
        """Neuron layers fed by the input node: the host's input encoders
        (none when the input spikes go to the chip)."""
        if self.input_on_chip:
            return []
        fed = {c.post_obj for c in self.net.all_connections if c.pre_obj is self.input}
        return [name for name, neurons in self.layers.items() if neurons in fed]


def neuron_layers(model):
    """Names of the Keras layers that become neurons, in order.

    These are the layers whose activation is one of this package's rate
    activations (:func:`.neurons.is_neuron_activation`); each layer may have its
    own (calibration gives each layer its own gain and amplitude).
    """
    return [
        layer.name
        for layer in model.layers
        if is_neuron_activation(getattr(layer, "activation", None))
    ]


def layer_activations(model):
    """Keras layer name → its rate activation, for every neuron layer."""
    return {name: model.get_layer(name).activation for name in neuron_layers(model)}


def _neuron_for(activation, spiking, run_as):
    if run_as == "loihi" and activation.kind != "loihi":
        # the same neuron parameters, on Loihi's discretised dynamics
        activation = LoihiLIFActivation(**activation.get_config())
    return activation.spiking_neuron() if spiking else activation.rate_neuron()


_FOLDABLE = (nengo.Sparse, nengo.Dense, nengo.transforms.NoTransform)


def _foldable(conn):
    # a filtered constant is not constant during the first steps, and a function
    # would change the value
    return (
        conn.synapse is None
        and conn.function is None
        and isinstance(conn.transform, _FOLDABLE)
    )


def _apply_transform(transform, x):
    if isinstance(transform, nengo.Sparse):
        # SparseMatrix or scipy matrix; both have toarray()
        return transform.sample().toarray() @ x
    if isinstance(transform, nengo.transforms.NoTransform):
        return x
    w = np.asarray(transform.init, dtype=float)
    return w * x if w.ndim < 2 else w @ x


def _constant_value(conn, exclude):
    """What a connection from a constant, input-free Node delivers, or None."""
    pre = conn.pre_obj
    if (
        pre in exclude
        or not isinstance(pre, nengo.Node)
        or pre.size_in != 0
        or callable(pre.output)
        or isinstance(pre.output, nengo.Process)
        or not _foldable(conn)
    ):
        return None
    value = np.asarray(pre.output, dtype=float)
    return _apply_transform(conn.transform, value[conn.pre_slice])


def _relay_value(conn, into, out_of, exclude):
    """What a relay Node fed only by constants delivers through ``conn``, or None.

    Returns ``(value, feeding_connections)``.
    """
    relay = conn.pre_obj
    if not isinstance(relay, nengo.Node) or relay.output is not None:
        return None, []
    feeds = into.get(relay, [])
    parts = [_constant_value(f, exclude) for f in feeds]
    if not feeds or any(p is None for p in parts) or out_of[relay] != [conn]:
        return None, []
    if not _foldable(conn):
        return None, []
    return _apply_transform(conn.transform, np.sum(parts, axis=0)[conn.pre_slice]), feeds


def fold_biases(net, exclude=()):
    """Move constant inputs of neuron ensembles into the ensembles' biases.

    Handles ``Node(constant) → Neurons`` and ``Node(constant) → relay Node →
    Neurons`` (the Converter's convolution-bias structure), when the connections
    are unfiltered and the relay feeds nothing else. The folded nodes and
    connections are removed from ``net``. Nodes in ``exclude`` (the network's
    inputs, whose value is set later) are never folded. Returns the number of
    connections folded.
    """
    conns = list(net.all_connections)
    into, out_of = {}, {}
    for c in conns:
        into.setdefault(c.post_obj, []).append(c)
        out_of.setdefault(c.pre_obj, []).append(c)

    removed = set()
    for c in conns:
        if not isinstance(c.post_obj, nengo.ensemble.Neurons):
            continue
        value, feeds = _constant_value(c, exclude), []
        if value is None:
            value, feeds = _relay_value(c, into, out_of, exclude)
        if value is None:
            continue
        ens = c.post_obj.ensemble
        full = np.zeros(ens.n_neurons)
        full[c.post_slice] = value
        # nengo scales connections into .neurons by the ensemble's gain
        ens.bias = _choice_value(ens.bias, ens.n_neurons) + _choice_value(
            ens.gain, ens.n_neurons
        ) * full
        removed.update([c] + feeds)

    for sub in [net] + net.all_networks:
        sub.connections[:] = [c for c in sub.connections if c not in removed]
    used = {c.pre_obj for c in net.all_connections} | {c.post_obj for c in net.all_connections}
    orphans = {c.pre_obj for c in removed} - used
    for sub in [net] + net.all_networks:
        sub.nodes[:] = [n for n in sub.nodes if n not in orphans]
    return sum(isinstance(c.post_obj, nengo.ensemble.Neurons) for c in removed)


def _choice_value(dist_or_array, n):
    if isinstance(dist_or_array, nengo.dists.Choice) and len(dist_or_array.options) == 1:
        return np.full(n, float(np.ravel(dist_or_array.options)[0]))
    if isinstance(dist_or_array, nengo.dists.Distribution):
        raise TypeError(f"cannot fold into a random {dist_or_array}")
    return np.asarray(dist_or_array, dtype=float).copy()


def convert(model, spiking=True, synapse=None, run_as=None, voltage=None, input_synapse=None):
    """Convert a trained Keras model into a Nengo network ready for any backend.

    Layers with no spiking counterpart are folded first (:func:`.deploy.deployable`),
    and the passthrough nodes the Converter makes for merges and linear layers are
    replaced by direct connections (:func:`.deploy.passthrough.remove_passthroughs`).

    Parameters
    ----------
    model : tf.keras.Model
        Trained model whose neuron layers use this package's rate activations.
    spiking : bool
        Use each activation's spiking neuron (True) or its rate neuron (False).
    synapse : float or nengo.synapses.Synapse or None
        Filter on every connection out of a neuron layer (None: spikes pass
        unfiltered, as in training).
    run_as : {None, "loihi"}
        ``"loihi"`` runs every neuron layer with Loihi's discretised LIF
        (``nengo_loihi.neurons.LoihiLIF``) whatever it was trained with; None
        keeps each layer's own neuron.
    voltage : tuple, optional
        ``(layer_name, neuron_indices)``: probe these neurons' membrane voltages
        (spiking neurons only; rate neurons have none).
    input_synapse : float or None
        Lowpass time constant on the connections out of the input node (None:
        none, as in training). Input spikes then reach the first layer as a
        smoothed rate.

    Returns
    -------
    ConvertedNetwork
    """
    from .deploy import deployable
    from .deploy.passthrough import remove_passthroughs

    model = deployable(model)
    activations = layer_activations(model)
    if not activations:
        raise ModelError(
            f"model {model.name} has no neuron layers (no layer uses a LIF rate "
            f"activation); nothing would run as spiking neurons"
        )
    swap = {
        act: _neuron_for(act, spiking, run_as) for act in set(activations.values())
    }
    # each layer's input current is scaled by its activation's gain, and its
    # output by 1 / gain (the Converter divides the neuron's amplitude back)
    scale = {model.get_layer(name): act.gain for name, act in activations.items()}
    try:
        converter = nengo_dl.Converter(
            model,
            allow_fallback=False,
            inference_only=True,
            swap_activations=swap,
            scale_firing_rates=scale,
            synapse=synapse,
        )
    except (TypeError, ValueError) as e:
        raise ModelError(f"cannot convert {model.name}: {e}") from None

    with converter.net:
        inputs = set(converter.inputs.values())
        unplaceable = remove_passthroughs(converter.net, keep=inputs)
        fold_biases(converter.net, exclude=inputs)
        if input_synapse is not None:
            for conn in converter.net.all_connections:
                if conn.pre_obj in inputs:
                    conn.synapse = nengo.Lowpass(input_synapse)
        layers, probes, shapes = {}, {}, {}
        for name in activations:
            layer = model.get_layer(name)
            neurons = converter.layers[layer]
            layers[name] = neurons
            probes[name] = nengo.Probe(neurons, synapse=None, label=f"{name}.spikes")
            shapes[name] = tuple(layer.output_shape[1:])
        output = converter.outputs[model.output]
        shapes["output"] = tuple(model.output_shape[1:])
        voltage_probe = None
        if voltage is not None and spiking:
            name, indices = voltage
            if name not in layers:
                raise ModelError(
                    f"cannot probe voltages of {name!r}: not a neuron layer "
                    f"(neuron layers: {', '.join(layers)})"
                )
            voltage_probe = nengo.Probe(
                layers[name][list(indices)], "voltage", synapse=None,
                label=f"{name}.voltage",
            )

    return ConvertedNetwork(
        net=converter.net,
        input=converter.inputs[model.input],
        output=output,
        layers=layers,
        layer_probes=probes,
        shapes=shapes,
        converter=converter,
        amplitudes={name: act.amplitude for name, act in activations.items()},
        voltage_probe=voltage_probe,
        unplaceable=unplaceable,
        model=model,
    )


def feed_chip(cn, amplitude, dt):
    """Make ``cn``'s input spikes go straight to the chip's first layer.

    The input node is replaced by nengo-loihi's ``ChipReceiveNeurons``: a
    spike input on the chip, with no encoder neurons on the host (what
    nengo-loihi does for spikes of host neurons and for its DVS input).
    Spikes there are what the backend puts on its axons. nengo-loihi weighs
    each by ``neuron_type.amplitude / dt`` (a nengo spike's area is its
    amplitude), so an amplitude of ``amplitude * dt`` makes one spike add what
    ``amplitude`` at the input node for one step adds in nengo. Changes ``cn``
    in place (``cn.input`` becomes the new node, ``cn.input_on_chip`` True) and
    returns it.
    """
    from nengo_loihi.builder.inputs import ChipReceiveNeurons

    old = cn.input
    conns = [c for c in cn.net.all_connections if c.pre_obj is old]
    with cn.net:
        node = ChipReceiveNeurons(
            old.size_out, neuron_type=nengo.SpikingRectifiedLinear(amplitude=amplitude * dt),
            label="input spikes",
        )
        for c in conns:
            nengo.Connection(
                node if c.pre_slice == slice(None) else node[c.pre_slice], c.post,
                transform=c.transform, synapse=c.synapse, label=c.label,
            )
    for sub in [cn.net] + cn.net.all_networks:
        sub.connections[:] = [c for c in sub.connections if c not in conns]
        sub.nodes[:] = [n for n in sub.nodes if n is not old]
    cn.input, cn.input_on_chip = node, True
    return cn
