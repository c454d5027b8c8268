"""A deployed network as a NIR graph (``--export-nir FILE``).

Each layer becomes its weights node (``Conv2d`` with NCHW weights, or ``Affine``)
followed by its neurons (``LIF``, or ``CubaLIF`` where a lowpass synapse
precedes them: ``--synapse`` between layers, ``--input-synapse`` after the
input); the readout's filter becomes ``LI`` before ``Output``. Pooling is
exported as it runs on the chip: folded into the next convolution's weights.

Nengo's LIF takes ``J = gain (W x + b)`` and sends spikes of ``amplitude / dt``;
NIR's, in the convention of :mod:`nengo_vision.interop`, takes the current in
the units of its voltage and sends spikes of 1. So the weights written are
``gain * W * amplitude / dt`` of the layer before (``gain * W`` on the input),
the biases ``gain * b``, and every neuron has ``r = 1``, ``v_threshold = 1``,
``v_leak = v_reset = 0``. Nodes keep in their metadata what NIR has no field
for (the refractory period, the amplitude and gain, the scale applied to the
weights), so that a graph read back here is the network written, weight for
weight; other simulators ignore it.

What NIR cannot say is warned about in one line each: NIR's LIF has no
refractory period, and Loihi's discretised LIF is written as the continuous one.
"""

import warnings

import numpy as np

from ..errors import ModelError

#: metadata key prefix of what a graph written here keeps for its way back
META = "nengo_vision_"


def _nir():
    try:
        import nir
    except ImportError:
        raise ModelError(
            "NIR export and import need the nir package: pip install 'nengo_vision[nir]'"
        ) from None
    return nir


def _padding(layer, in_shape):
    """NIR's symmetric padding for a Keras padding, or ModelError."""
    if layer.padding == "valid":
        return (0, 0)
    pads = []
    for n, k, s in zip(in_shape[:2], layer.kernel.shape[:2], layer.strides):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        if total % 2:
            raise ModelError(
                f"layer {layer.name}: padding='same' pads {total} rows/columns, unevenly "
                f"(TensorFlow puts the extra one after); NIR's padding is symmetric: use "
                f"padding='valid' or an odd kernel with strides 1"
            )
        pads.append(total // 2)
    return tuple(pads)


def refractory_effect(tau_ref, rate=100.0):
    """The rate (Hz) a LIF neuron firing at ``rate`` reaches without its ``tau_ref``
    (the same current: the period loses ``tau_ref``)."""
    return 1.0 / (1.0 / rate - tau_ref)


def network_to_nir(network, dt=0.001, synapse=None, input_synapse=None,
                   output_synapse=None, input_scale=1.0):
    """The :class:`nir.NIRGraph` of a deployed :class:`~.deploy.network.Network`.

    Parameters
    ----------
    network : Network
    dt : float
        The time step the graph's weights assume (written to its metadata).
    synapse, input_synapse, output_synapse : float or None
        The lowpass time constants of the run (``--synapse``,
        ``--input-synapse``, ``--output-synapse``): neurons behind a synapse
        become ``CubaLIF``; the output filter becomes ``LI``.
    input_scale : float
        The value one input spike has here (an event data set's
        ``event_gain``): the graph's input spikes are 1, so the weights on the
        input are multiplied by it. 1 for images held as values.

    Returns
    -------
    graph : nir.NIRGraph
    notes : list of str
        One line for each thing NIR cannot say (also given as warnings by
        :func:`export_nir`).
    """
    nir = _nir()
    nodes, edges, notes = {}, [], []
    sources, scale = {}, {}  # layer → NIR nodes carrying its output; value per spike
    spiking = {}  # layer → whether its output is spikes (of neurons, maybe reshaped)
    inp = network.input
    nodes["input"] = nir.Input(input_type={"input": np.array(_chw(inp.shape))})
    sources[inp.name], scale[inp.name] = ["input"], float(input_scale)
    shapes = {inp.name: tuple(inp.shape)}
    flat_from = {}  # flatten layer → the (h, w, c) shape it flattens

    for layer in network.layers.values():
        if layer.kind == "input":
            continue
        srcs = [s for i in layer.inputs for s in sources[i]]
        in_shape = shapes[layer.inputs[0]]
        shapes[layer.name] = tuple(layer.shape)
        gain = _consumer_gain(network, layer)
        in_scale = scale[layer.inputs[0]]
        if layer.kind in ("flatten", "avgpool"):
            # values rearranged or averaged: what they are (and their scale) stays
            if layer.kind == "flatten":
                nodes[layer.name] = nir.Flatten(
                    input_type={"input": np.array(_chw(in_shape))}, start_dim=0, end_dim=-1)
                flat_from[layer.name] = in_shape
            else:
                nodes[layer.name] = nir.AvgPool2d(kernel_size=np.array(layer.pool),
                                                  stride=np.array(layer.strides),
                                                  padding=np.array([0, 0]))
            edges += [(s, layer.name) for s in srcs]
            sources[layer.name], scale[layer.name] = [layer.name], in_scale
            spiking[layer.name] = spiking.get(layer.inputs[0], False)
            continue
        if layer.kind in ("concat", "reshape"):
            raise ModelError(
                f"layer {layer.name} ({layer.kind}): NIR has no node for a concatenation "
                f"or a reshape other than a flattening (edges into a node sum); this model "
                f"cannot be written to NIR")
        if layer.kind == "add" and layer.neuron is None:
            raise ModelError(f"layer {layer.name}: a sum without neurons after it cannot be "
                             f"written to NIR (spikes and currents would be summed as one)")
        if layer.kind in ("conv2d", "dense"):
            if (synapse is not None and layer.name == network.output
                    and layer.neuron is None and spiking.get(layer.inputs[0])):
                # the Converter filters every connection out of neurons: into
                # neurons (through weights, or straight) that is CubaLIF's
                # synapse; into the readout, this LI
                name = f"{layer.name}.synapse"
                n = _chw(shapes[layer.inputs[0]])
                nodes[name] = nir.LI(tau=np.full(n, synapse), r=np.ones(n), v_leak=np.zeros(n))
                edges += [(s, name) for s in srcs]
                srcs = [name]
            factor = gain * in_scale
            bias = (np.zeros(layer.kernel.shape[-1]) if layer.bias is None
                    else layer.bias.astype(np.float64))
            meta = {META + "scale": float(factor), META + "bias_scale": float(gain),
                    META + "has_bias": int(layer.bias is not None)}
            if layer.kind == "conv2d":
                weight = np.transpose(layer.kernel.astype(np.float64), (3, 2, 0, 1))
                nodes[layer.name] = nir.Conv2d(
                    input_shape=tuple(in_shape[:2]), weight=weight * factor,
                    stride=tuple(layer.strides), padding=_padding(layer, in_shape),
                    dilation=(1, 1), groups=1, bias=bias * gain, metadata=meta)
            else:
                weight = layer.kernel.astype(np.float64).T
                src = layer.inputs[0]
                if src in flat_from and len(flat_from[src]) == 3:
                    # Keras flattens (h, w, c); NIR's Flatten flattens (c, h, w)
                    fh, fw, fc = flat_from[src]
                    order = np.arange(fh * fw * fc).reshape(fh, fw, fc).transpose(2, 0, 1)
                    weight = weight[:, order.ravel()]
                nodes[layer.name] = nir.Affine(weight=weight * factor, bias=bias * gain,
                                               metadata=meta)
            edges += [(s, layer.name) for s in srcs]
            srcs = [layer.name]
        if layer.neuron is None:
            sources[layer.name], scale[layer.name] = srcs, 1.0
            continue
        tau_syn = input_synapse if _reads_input(network, layer) else synapse
        name = f"{layer.name}.neurons"
        nodes[name] = _neurons(nir, layer, tau_syn, dt)
        if layer.kind == "add":
            # the order of the sum, for a float-exact way back
            nodes[name].metadata[META + "inputs"] = ",".join(layer.inputs)
            # spikes summed straight into neurons (a residual's identity path) reach
            # them through a Scale: gain * amplitude / dt
            srcs = []
            for i in layer.inputs:
                src = network.layers[i]
                if src.neuron is None:
                    srcs += sources[i]
                    continue
                skip = f"{layer.name}.from_{i}"
                factor = layer.neuron.gain * scale[i]
                nodes[skip] = nir.Scale(scale=np.full(_chw(src.shape), factor),
                                        metadata={META + "scale": float(factor)})
                edges += [(s, skip) for s in sources[i]]
                srcs.append(skip)
        edges += [(s, name) for s in srcs]
        sources[layer.name], scale[layer.name] = [name], layer.neuron.amplitude / dt
        spiking[layer.name] = True

    out = network.layers[network.output]
    last = sources[out.name]
    if out.neuron is None and output_synapse is not None:
        n = int(np.prod(out.shape))
        nodes["readout_filter"] = nir.LI(tau=np.full(n, output_synapse), r=np.ones(n),
                                         v_leak=np.zeros(n))
        edges += [(s, "readout_filter") for s in last]
        last = ["readout_filter"]
    # the graph's Output is "output" unless a layer has that name (the zoo's readout)
    end = "output" if "output" not in nodes else "output_node"
    nodes[end] = nir.Output(output_type={"output": np.array(_chw(out.shape))})
    edges += [(s, end) for s in last]

    for ref in sorted({l.neuron.tau_ref for l in network.neuron_layers()} - {0.0}):
        notes.append(
            f"NIR's LIF has no refractory period: the graph's neurons lose their "
            f"tau_ref={ref * 1000:g} ms (a neuron at 100 Hz fires "
            f"{refractory_effect(ref):.0f} Hz without it; the README measures the effect "
            f"on accuracy); train with --tau-ref 0 to export without this difference"
        )
    notes.append(
        "NIR's LIF has no voltage floor: nengo's LIF, and Loihi's as nengo-loihi sets it, "
        "stop at 0 under negative input; a simulator without the floor recovers later "
        "(the README measures the effect)"
    )
    if any(l.neuron.model == "loihi" for l in network.neuron_layers()):
        notes.append(
            "Loihi's discretised LIF (--neuron loihi) is written as NIR's continuous LIF "
            "with the same tau: spike intervals are no longer whole steps"
        )
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={
        "dt": dt, "spike": "1 for one time step of dt",
        "exporter": f"nengo_vision {_version()}", "model": network.name,
    })
    return graph, notes


def _version():
    from .. import __version__

    return __version__


def _chw(shape):
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else tuple(shape)


def _reads_input(network, layer):
    """Whether ``layer`` reads the input node (through a flatten or pooling)."""
    for name in layer.inputs:
        src = network.layers[name]
        if src.kind == "input" or (src.kind in ("flatten", "avgpool")
                                   and _reads_input(network, src)):
            return True
    return False


def _consumer_gain(network, layer):
    """The gain of the neurons a layer's current reaches (1 for the readout)."""
    if layer.neuron is not None:
        return layer.neuron.gain
    users = network.consumers(layer.name)  # a sum without neurons is refused
    if len(users) == 1 and users[0].kind == "add" and users[0].neuron is not None:
        return users[0].neuron.gain
    return 1.0


def _neurons(nir, layer, tau_syn, dt):
    n = layer.neuron
    shape = _chw(layer.shape)
    ones = np.ones(shape)
    meta = {META + "tau_ref": n.tau_ref, META + "amplitude": n.amplitude,
            META + "gain": n.gain, META + "neuron": n.model}
    if tau_syn is None:
        return nir.LIF(tau=ones * n.tau_rc, r=ones, v_leak=0 * ones, v_threshold=ones,
                       v_reset=0 * ones, metadata=meta)
    return nir.CubaLIF(tau_syn=ones * tau_syn, tau_mem=ones * n.tau_rc, r=ones,
                       v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones, w_in=ones,
                       metadata=meta)


def export_nir(model, path, dt=0.001, synapse=None, input_synapse=None,
               output_synapse=None, input_scale=1.0):
    """Write a trained Keras model of this package (or a deployed
    :class:`~.deploy.network.Network`) to ``path`` as a NIR graph.

    The file is written whole or not at all (a temporary file, then renamed).
    What NIR cannot say is warned about (:class:`UserWarning`, one line each) and
    returned. See :func:`network_to_nir` for the parameters.
    """
    from .._io import atomic_path
    from ..deploy.network import Network, from_keras

    nir = _nir()
    network = model if isinstance(model, Network) else from_keras(model)
    graph, notes = network_to_nir(network, dt=dt, synapse=synapse,
                                  input_synapse=input_synapse, output_synapse=output_synapse,
                                  input_scale=input_scale)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    with atomic_path(path) as tmp:
        nir.write(str(tmp), graph)
    return notes
