"""A Keras model as a small, editable graph of layers, and back.

Folding batch normalisation or pooling into the next layer means removing a layer,
changing another's weights and wiring its consumers to something else. Keras models
cannot be edited in place, so the model is read into a :class:`Graph` of
:class:`Op` (a layer's class, its config, its weights and the names of the layers
it reads), the folds edit that, and :meth:`Graph.to_keras` builds a new functional
model from it. Each layer's activation object is carried over as is: the rate
activations of this package are objects with per-layer state (calibration scales
them), not names.
"""

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from ..errors import ModelError


@dataclass
class Op:
    """One layer of a :class:`Graph`.

    Attributes
    ----------
    name : str
    cls : type
        The Keras layer class.
    config : dict
        ``layer.get_config()``, with ``activation`` the activation object itself.
    weights : list of ndarray
    inputs : list of str
        Names of the ops it reads, in order.
    input_shape, output_shape : tuple
        Without the batch axis (``input_shape`` of the first input).
    """

    name: str
    cls: type
    config: dict
    weights: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    input_shape: tuple = ()
    output_shape: tuple = ()

    @property
    def kind(self):
        return self.cls.__name__

    @property
    def activation(self):
        return self.config.get("activation")

    def is_a(self, *classes):
        return issubclass(self.cls, classes)


class Graph:
    """The layers of a functional Keras model with one input and one output."""

    def __init__(self, ops, output, name):
        self.ops = {op.name: op for op in ops}  # in topological order
        self.output = output
        self.name = name

    @classmethod
    def from_keras(cls, model):
        """Read ``model`` (functional or Sequential, one input, one output)."""
        ops = []
        if isinstance(model, tf.keras.Sequential):
            # a Sequential model has no InputLayer among its layers
            prev = model.layers[0].name + "_input"
            ops.append(Op(prev, tf.keras.layers.InputLayer, {},
                          output_shape=tuple(model.input_shape[1:])))
            for layer in model.layers:
                ops.append(_op(layer, [prev]))
                prev = layer.name
            return cls(ops, prev, model.name)
        nodes = getattr(model, "_network_nodes", set())
        for layer in model.layers:
            if isinstance(layer, tf.keras.layers.InputLayer):
                ops.append(Op(layer.name, type(layer), {},
                              output_shape=tuple(layer.output_shape[0][1:])))
                continue
            mine = [n for i, n in enumerate(layer._inbound_nodes)
                    if f"{layer.name}_ib-{i}" in nodes]
            if len(mine) != 1:
                raise ModelError(
                    f"layer {layer.name} ({type(layer).__name__}) is used {len(mine)} "
                    f"times; use each layer once (a new layer for each use)"
                )
            inbound = tf.nest.flatten(mine[0].inbound_layers)
            ops.append(_op(layer, [l.name for l in inbound]))
        output = model.output_names[0]
        return cls(ops, output, model.name)

    def consumers(self, name):
        """Ops that read ``name``."""
        return [op for op in self.ops.values() if name in op.inputs]

    def only_consumer(self, name):
        """The one op that reads ``name``, or None if there are none or several."""
        users = self.consumers(name)
        return users[0] if len(users) == 1 and name != self.output else None

    def remove(self, name):
        """Remove a one-input op, wiring its consumers to its input."""
        op = self.ops.pop(name)
        (source,) = op.inputs
        for user in self.consumers(name):
            user.inputs = [source if i == name else i for i in user.inputs]
        if self.output == name:
            self.output = source

    def replace(self, name, op):
        """Put ``op`` where ``name`` was (same place in the order); rewire readers."""
        self.ops = {(op.name if k == name else k): (op if k == name else v)
                    for k, v in self.ops.items()}
        if op.name != name:
            for user in self.consumers(name):
                user.inputs = [op.name if i == name else i for i in user.inputs]
            if self.output == name:
                self.output = op.name

    def to_keras(self):
        """A new functional ``tf.keras.Model`` of these ops, with their weights."""
        tensors, layers = {}, []
        for op in self.ops.values():
            if op.is_a(tf.keras.layers.InputLayer):
                tensors[op.name] = tf.keras.Input(shape=op.output_shape, name=op.name)
                continue
            layer = op.cls.from_config(dict(op.config, name=op.name))
            args = [tensors[i] for i in op.inputs]
            tensors[op.name] = layer(args if len(args) > 1 or _merges(op) else args[0])
            layers.append((layer, op.weights))
        inputs = [t for n, t in tensors.items() if self.ops[n].is_a(tf.keras.layers.InputLayer)]
        model = tf.keras.Model(inputs[0], tensors[self.output], name=self.name)
        for layer, weights in layers:
            if weights:
                layer.set_weights(weights)
        return model


def _merges(op):
    return op.is_a(tf.keras.layers.Concatenate, tf.keras.layers.Add,
                   tf.keras.layers.Average, tf.keras.layers.Multiply,
                   tf.keras.layers.Subtract, tf.keras.layers.Maximum,
                   tf.keras.layers.Minimum, tf.keras.layers.Dot)


def _shape(shape):
    # a merge layer's input_shape is a list of shapes; keep the first
    if isinstance(shape, list):
        shape = shape[0]
    return tuple(shape[1:])


def _op(layer, inputs):
    config = layer.get_config()
    if hasattr(layer, "activation"):
        config["activation"] = layer.activation
    return Op(
        name=layer.name, cls=type(layer), config=config,
        weights=[np.array(w) for w in layer.get_weights()], inputs=list(inputs),
        input_shape=_shape(layer.input_shape), output_shape=_shape(layer.output_shape),
    )
