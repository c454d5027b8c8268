"""The deployed network, described without a framework: what runs, layer by layer.

A :class:`Network` is an ordered set of :class:`Layer` — the input, convolutions
and dense layers with their weights, average pooling, flattening and sums — each
with the :class:`Neuron` it ends in, if any. It is what the NIR exporter and
importer (:mod:`nengo_vision.interop`) read and write, built once from a trained
Keras model (:func:`from_keras`, after :func:`.deployable` has folded batch
normalisation, pooling and padding away) or from a NIR graph, and turned into the
Keras model the pipeline runs (:func:`to_keras`).

Shapes are channels-last, as the data sets give images: ``(height, width,
channels)``; convolution kernels ``(kh, kw, in, out)``; dense kernels
``(in, out)`` reading a flattened ``(h, w, c)`` array. (NIR's channels-first
order is the interop modules' business.)
"""

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import ModelError

#: Layer kinds.
KINDS = ("input", "conv2d", "dense", "avgpool", "flatten", "reshape", "add", "concat")


@dataclass(frozen=True)
class Neuron:
    """A layer's spiking neuron: nengo's LIF (or Loihi's discretised LIF).

    ``J = gain * (W x + b)``; ``tau_rc dv/dt = J - v``; a spike when ``v``
    reaches 1, then ``v = 0`` held for ``tau_ref``; each spike is a value of
    ``amplitude / dt`` for one step (an area of ``amplitude``).
    """

    model: str = "lif"  # "lif" or "loihi"
    tau_rc: float = 0.02
    tau_ref: float = 0.002
    gain: float = 1.0
    amplitude: float = 0.001

    def activation(self):
        """The rate activation of this package that becomes this neuron."""
        from ..neurons import ACTIVATIONS

        return ACTIVATIONS[self.model](tau_rc=self.tau_rc, tau_ref=self.tau_ref,
                                       gain=self.gain, amplitude=self.amplitude)


@dataclass
class Layer:
    """One layer of a :class:`Network`.

    Attributes
    ----------
    name : str
    kind : str
        One of :data:`KINDS`.
    inputs : list of str
        The layers it reads (an ``add`` sums them).
    shape : tuple
        Its output shape, channels last.
    kernel, bias : ndarray or None
        ``conv2d`` and ``dense`` weights (float32, Keras's layout).
    strides : tuple
        ``conv2d`` and ``avgpool`` strides; ``pool`` the pooling window.
    padding : str
        ``"valid"`` or ``"same"`` (``conv2d``).
    neuron : Neuron or None
        The neurons the layer ends in; None for a linear layer.
    """

    name: str
    kind: str
    inputs: list = field(default_factory=list)
    shape: tuple = ()
    kernel: np.ndarray = None
    bias: np.ndarray = None
    strides: tuple = (1, 1)
    pool: tuple = (1, 1)
    padding: str = "valid"
    neuron: Neuron = None


@dataclass
class Network:
    """A deployed network: layers in an order where each follows its inputs.

    ``output`` names the last layer (linear: the readout, computed on the host
    from the spikes of the layers before it; or neurons, whose spikes are then
    the output).
    """

    name: str
    layers: dict
    output: str

    @property
    def input(self):
        """The input layer."""
        return next(l for l in self.layers.values() if l.kind == "input")

    def neuron_layers(self):
        """The layers that end in neurons, in order."""
        return [l for l in self.layers.values() if l.neuron is not None]

    def consumers(self, name):
        """The layers that read layer ``name``."""
        return [l for l in self.layers.values() if name in l.inputs]


def from_keras(model):
    """The :class:`Network` of a Keras model of this package's neurons.

    ``model`` is folded first (:func:`.deployable`); what remains is Input,
    Conv2D, Dense, Flatten/Reshape, Add and neuron Activation layers.

    Raises
    ------
    ModelError
        For a layer the description has no kind for (a Concatenate), naming it.
    """
    import tensorflow as tf

    from . import deployable
    from .graph import Graph
    from ..neurons import is_neuron_activation

    L = tf.keras.layers
    graph = Graph.from_keras(deployable(model))
    layers, renamed = {}, {}
    for op in graph.ops.values():
        act = op.activation
        neuron = _neuron_of(act) if is_neuron_activation(act) else None
        common = dict(name=op.name, inputs=[renamed.get(i, i) for i in op.inputs], shape=tuple(op.output_shape),
                      neuron=neuron)
        if op.is_a(L.InputLayer):
            layers[op.name] = Layer(kind="input", **common)
        elif op.is_a(L.Conv2D):
            kernel, *bias = op.weights
            layers[op.name] = Layer(
                kind="conv2d", kernel=kernel, bias=bias[0] if bias else None,
                strides=tuple(op.config["strides"]), padding=op.config["padding"], **common)
        elif op.is_a(L.Dense):
            kernel, *bias = op.weights
            layers[op.name] = Layer(kind="dense", kernel=kernel,
                                    bias=bias[0] if bias else None, **common)
        elif op.is_a(L.Flatten, L.Reshape):
            flat = len(op.output_shape) == 1
            layers[op.name] = Layer(kind="flatten" if flat else "reshape", **common)
        elif op.is_a(L.Add):
            layers[op.name] = Layer(kind="add", **common)
        elif op.is_a(L.Concatenate):  # along the channels (deployable refuses others)
            layers[op.name] = Layer(kind="concat", **common)
        elif op.is_a(L.Activation) and neuron is not None:
            # neurons after a sum: the sum and its neurons are one layer here
            (source,) = op.inputs
            if layers[source].kind != "add" or layers[source].neuron is not None:
                raise ModelError(f"layer {op.name}: neurons after {source} "
                                 f"({layers[source].kind}) cannot be described")
            # named as the neuron layer, as the converted network's probes are
            layers[op.name] = replace(layers.pop(source), name=op.name, neuron=neuron)
            renamed[source] = op.name
            for layer in layers.values():
                layer.inputs = [op.name if i == source else i for i in layer.inputs]
        else:  # pragma: no cover - deployable leaves only the kinds above
            raise ModelError(f"layer {op.name} ({op.kind}) has no place in the deployed "
                             f"network's description")
    return Network(name=model.name, layers=layers,
                   output=renamed.get(graph.output, graph.output))


def _neuron_of(act):
    return Neuron(model=act.kind, tau_rc=act.tau_rc, tau_ref=act.tau_ref, gain=act.gain,
                  amplitude=act.amplitude)


def to_keras(network):
    """The functional Keras model of ``network``, with its weights; every neuron
    layer gets its own rate activation (:meth:`Neuron.activation`)."""
    import tensorflow as tf

    L = tf.keras.layers
    tensors, weighted = {}, []
    for layer in network.layers.values():
        act = layer.neuron.activation() if layer.neuron is not None else None
        ins = [tensors[i] for i in layer.inputs]
        if layer.kind == "input":
            tensors[layer.name] = tf.keras.Input(shape=layer.shape, name=layer.name)
            continue
        if layer.kind == "conv2d":
            k = layer.kernel
            keras_layer = L.Conv2D(k.shape[-1], k.shape[:2], strides=layer.strides,
                                   padding=layer.padding, activation=act,
                                   use_bias=layer.bias is not None, name=layer.name)
        elif layer.kind == "dense":
            keras_layer = L.Dense(layer.kernel.shape[-1], activation=act,
                                  use_bias=layer.bias is not None, name=layer.name)
        elif layer.kind == "avgpool":
            keras_layer = L.AveragePooling2D(layer.pool, strides=layer.strides,
                                             name=layer.name)
        elif layer.kind == "flatten":
            keras_layer = L.Flatten(name=layer.name)
        elif layer.kind == "reshape":
            keras_layer = L.Reshape(layer.shape, name=layer.name)
        elif layer.kind == "concat":
            tensors[layer.name] = L.Concatenate(name=layer.name)(ins)
            continue
        elif layer.kind == "add":
            x = L.Add(name=layer.name if act is None else layer.name + "_sum")(ins)
            if act is not None:
                x = L.Activation(act, name=layer.name)(x)
            tensors[layer.name] = x
            continue
        else:  # pragma: no cover - KINDS is closed
            raise ModelError(f"layer {layer.name}: unknown kind {layer.kind}")
        tensors[layer.name] = keras_layer(ins[0])
        if layer.kernel is not None:
            weights = [layer.kernel] + ([layer.bias] if layer.bias is not None else [])
            weighted.append((keras_layer, [np.asarray(w, np.float32) for w in weights]))
    model = tf.keras.Model(tensors[network.input.name], tensors[network.output],
                           name=network.name)
    for keras_layer, weights in weighted:
        keras_layer.set_weights(weights)
    return model


__all__ = ["KINDS", "Layer", "Network", "Neuron", "from_keras", "to_keras"]
