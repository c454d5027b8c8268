"""Operation counts: the ANN's multiply-accumulates and the spiking network's
synaptic operations (their energy is :mod:`.energy`'s).

A synapse here is one (input element, weight, output element) triple of a Dense
or convolution layer: the ANN performs one multiply-accumulate per synapse per
image; the spiking network performs one synaptic operation per synapse each time
the input neuron spikes. Both are counted with the same device: a copy of the
layer whose weights are all 1 and whose bias is 0. Its summed output, as a
function of its input, has gradient ``fan_out`` (the number of synapses each
input element drives), and its summed output on an input of ones is the number
of synapses (= MACs).
"""

import numpy as np
import tensorflow as tf

#: Layers that only move values around (no weights, no arithmetic on them).
PASS_THROUGH = (
    tf.keras.layers.Flatten,
    tf.keras.layers.Reshape,
    tf.keras.layers.Dropout,
)


def passes_through(layer):
    """Whether ``layer`` hands its input on unchanged, so synapses are counted past it.

    Besides :data:`PASS_THROUGH`, an ``Activation`` layer whose activation is
    linear: the identity. A model file's Dropout layers arrive as such layers
    (:func:`nengo_vision.models.from_file.with_neurons`), so counting stops
    there unless they pass through.
    """
    if isinstance(layer, PASS_THROUGH):
        return True
    # the function itself, not its name: a custom activation may be called "linear"
    return (isinstance(layer, tf.keras.layers.Activation)
            and layer.activation is tf.keras.activations.linear)


def _ones_copy(layer):
    """``layer`` with every weight 1 and no bias or activation (Dense, Conv)."""
    config = layer.get_config()
    config.update(name=f"{layer.name}_ones", activation=None, use_bias=False)
    copy = type(layer).from_config(config)
    copy.build(layer.input_shape)
    copy.set_weights([np.ones_like(w) for w in copy.get_weights()])
    return copy


def _has_kernel(layer):
    return isinstance(layer, (tf.keras.layers.Dense, tf.keras.layers.Conv2D,
                              tf.keras.layers.Conv1D, tf.keras.layers.Conv3D))


def _consumers(model, layer):
    mine = set(model.layers)
    return [n.outbound_layer for n in layer._outbound_nodes if n.outbound_layer in mine]


def fan_out(model, layer_name):
    """Synapses each output element of ``layer_name`` drives, per consuming layer.

    Returns
    -------
    dict
        Name of each weighted layer reached (through layers that
        :func:`passes_through`, such as Flatten) → ``fan_out`` array of the
        neuron layer's output shape.

    Raises
    ------
    ValueError
        If a consumer is neither weighted (Dense, Conv) nor pass-through: its
        operations are not counted rather than miscounted.
    """
    start = model.get_layer(layer_name)
    # an InputLayer gives its shape in a list of one
    out_shape = start.output_shape[0] if isinstance(start.output_shape, list) else start.output_shape
    shape = (1,) + tuple(out_shape[1:])
    totals = {}

    def walk(layer, x):
        for nxt in _consumers(model, layer):
            if _has_kernel(nxt):
                totals[nxt.name] = tf.reduce_sum(_ones_copy(nxt)(x))
            elif _is_neurons(nxt):
                # neurons after an Add or Concatenate: one synapse per element
                totals[nxt.name] = tf.reduce_sum(x)
            elif passes_through(nxt):
                walk(nxt, nxt(x, training=False))  # Dropout: the identity
            elif isinstance(nxt, _MERGES):
                # this input as it is, the others zero: what reaches the merge from here
                ins = tf.nest.flatten(nxt._inbound_nodes[0].inbound_layers)
                parts = [x if i is layer else tf.zeros((1,) + tuple(i.output_shape[1:]))
                         for i in ins]
                walk(nxt, nxt(parts))
            else:
                raise ValueError(
                    f"cannot count synapses from {layer_name!r} through layer "
                    f"{nxt.name!r} ({type(nxt).__name__})"
                )

    x0 = tf.ones(shape)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x0)
        walk(start, x0)
    return {name: tape.gradient(total, x0)[0].numpy() for name, total in totals.items()}


_MERGES = (tf.keras.layers.Add, tf.keras.layers.Concatenate)


def _is_neurons(layer):
    from .neurons import is_neuron_activation

    return (isinstance(layer, tf.keras.layers.Activation)
            and is_neuron_activation(layer.activation))


def ann_macs(model):
    """Multiply-accumulates per image of every weighted layer: name → count."""
    macs = {}
    for layer in model.layers:
        if _has_kernel(layer):
            ones = tf.ones((1,) + tuple(layer.input_shape[1:]))
            macs[layer.name] = int(round(float(tf.reduce_sum(_ones_copy(layer)(ones)))))
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
