"""Operation counts: the ANN's multiply-accumulates and the spiking network's
synaptic operations (their energy is :mod:`.energy`'s).

A synapse here is one (input element, weight, output element) triple of a dense
or convolution layer: the ANN performs one multiply-accumulate per synapse per
image; the spiking network performs one synaptic operation per synapse each time
the input neuron spikes. Both are counted from the deployed network's
description (:mod:`.deploy.network`), the one every backend's network is built
from: a convolution's input element is read by every output channel at each
output position whose window covers it (TensorFlow's padding: for ``same``, the
odd row or column of padding goes after), a dense layer's by every unit.
"""

import numpy as np


def _network(model):
    """The description of ``model`` (a Keras model of this package's neurons, or
    already a :class:`.deploy.network.Network`)."""
    from .deploy.network import Network, from_keras

    return model if isinstance(model, Network) else from_keras(model)


def _covered(n, k, s, padding):
    """How many output positions of a convolution read each of ``n`` input
    elements along one axis (kernel ``k``, stride ``s``)."""
    if padding == "same":
        out = -(-n // s)
        before = max((out - 1) * s + k - n, 0) // 2
    else:
        out, before = (n - k) // s + 1, 0
    counts = np.zeros(n, np.int64)
    for o in range(out):
        lo = max(o * s - before, 0)
        counts[lo:max(o * s - before + k, 0)] += 1
    return counts


def synapses_into(layer, shape):
    """Synapses of ``layer`` each element of its input (of ``shape``) drives."""
    if layer.kind == "dense":
        return np.full(shape, layer.kernel.shape[-1], np.float64)
    if layer.kind == "conv2d":
        kh, kw, _, c_out = layer.kernel.shape
        rows = _covered(shape[0], kh, layer.strides[0], layer.padding)
        cols = _covered(shape[1], kw, layer.strides[1], layer.padding)
        per_pixel = np.outer(rows, cols).astype(np.float64) * c_out
        return np.repeat(per_pixel[:, :, None], shape[2], axis=2)
    if layer.kind == "add":  # neurons after a sum: one synapse per element
        return np.ones(shape, np.float64)
    raise ValueError(f"cannot count synapses into layer {layer.name!r} ({layer.kind})")


def fan_out(model, layer_name):
    """Synapses each output element of ``layer_name`` drives, per consuming layer.

    Parameters
    ----------
    model : tf.keras.Model or Network
    layer_name : str
        A neuron layer, or the input layer (whose spikes, where the input is
        spikes, drive the first layer's synapses).

    Returns
    -------
    dict
        Name of each weighted layer (or sum of neurons) reached, through
        flattening, reshaping and concatenation, → ``fan_out`` array of the
        layer's output shape.
    """
    network = _network(model)
    start = network.layers[layer_name]
    totals = {}

    def walk(src, index):
        # index: where each element of ``start`` is in src's output (-1: elsewhere)
        for nxt in network.consumers(src.name):
            if nxt.kind in ("flatten", "reshape"):
                walk(nxt, index.reshape(nxt.shape))
            elif nxt.kind == "concat":
                parts = [index if i == src.name else
                         np.full(network.layers[i].shape, -1) for i in nxt.inputs]
                walk(nxt, np.concatenate(parts, axis=-1))
            else:
                fan = synapses_into(nxt, index.shape)
                mine = index >= 0
                total = totals.setdefault(nxt.name, np.zeros(start.shape))
                np.add.at(total.reshape(-1), index[mine], fan[mine])

    walk(start, np.arange(int(np.prod(start.shape))).reshape(start.shape))
    return totals


def ann_macs(model):
    """Multiply-accumulates per image of every weighted layer: name → count."""
    network = _network(model)
    shapes = {}
    macs = {}
    for layer in network.layers.values():
        shapes[layer.name] = tuple(layer.shape)
        if layer.kind in ("conv2d", "dense"):
            macs[layer.name] = int(synapses_into(layer, shapes[layer.inputs[0]]).sum())
    return macs


def synaptic_ops(spike_counts, fan_outs, n_digits):
    """Synaptic operations per inference from spike counts.

    Parameters
    ----------
    spike_counts : dict
        Neuron layer → per-neuron spikes summed over ``n_digits`` digits
        (flattened in the layer's output order).
    fan_outs : dict
        Neuron layer → ``{consumer: fan_out array}`` (:func:`fan_out`).

    Returns
    -------
    dict
        Neuron layer → ``{consumer: synaptic ops per inference}``.
    """
    return {
        name: {
            consumer: float(np.dot(spike_counts[name], f.ravel()) / n_digits)
            for consumer, f in fan_outs[name].items()
        }
        for name in spike_counts
        if name in fan_outs
    }
