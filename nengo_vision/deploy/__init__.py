"""A trained Keras model in the form that runs on Loihi: only neurons and weights.

:func:`deployable` folds every layer that has no spiking counterpart into its
neighbours (:mod:`.folds`): batch normalisation, activation layers, pooling,
zero padding, dropout and an output softmax. What remains is what
``nengo_dl.Converter`` turns into neurons and connections that nengo-loihi can
place: Conv2D and Dense layers (neurons when their activation is a rate
activation of this package), neuron ``Activation`` layers after an ``Add`` or
``Concatenate``, and the merges and reshapes between them, which
:mod:`.passthrough` then removes from the Nengo network.

:data:`LAYERS` is the table of Keras layers and what each becomes (the README
prints it); every other layer type is refused in one line by
:func:`unsupported_layers`.
"""

import tensorflow as tf

from ..errors import ModelError
from ..neurons import is_neuron_activation
from .folds import FOLDS, IDENTITY, fold_for, is_linear
from .graph import Graph

L = tf.keras.layers

#: Keras layer → what it becomes on Loihi (the README's table).
LAYERS = {
    "InputLayer": "the input node (host)",
    "Conv2D": "with activation='relu': LIF neurons fed by convolution weights (the "
              "first neuron layer is the host's input encoder, the rest are on the "
              "chip); without activation: folded into the neurons it feeds",
    "Dense": "with activation='relu': LIF neurons on the chip; the output layer "
             "(linear or softmax) is computed on the host from the last layer's spikes",
    "ReLU, Activation('relu')": "the neurons of the Conv2D or Dense before it; after "
                                "Add or Concatenate, a layer of neurons of its own",
    "BatchNormalization": "folded into the preceding Conv2D or Dense (kernel and bias)",
    "AveragePooling2D": "folded into the next Conv2D (a larger, strided kernel) or "
                        "Dense (its weights)",
    "GlobalAveragePooling2D": "folded into the next Dense's weights",
    "MaxPooling2D, GlobalMaxPooling2D": "refused; --max-pool avg replaces it by "
                                        "average pooling before fine-tuning",
    "Add": "every input becomes a connection into the same neurons",
    "Concatenate (channels)": "each branch keeps its own blocks; the next layer's "
                              "kernel is split per branch",
    "ZeroPadding2D": "folded into the next Conv2D's kernel and padding",
    "Flatten, Reshape": "nothing (the neurons are already a flat vector)",
    "Dropout, SpatialDropout2D, GaussianNoise, GaussianDropout, AlphaDropout, "
    "ActivityRegularization": "nothing (the identity at inference)",
    "Activation('softmax'), Softmax (output)": "dropped: the class is the largest logit",
}

#: Why a layer type outside :data:`LAYERS` is refused.
UNSUPPORTED = ("no spiking equivalent on Loihi; see the README's table of supported "
               "layers (nengo_vision.deploy.LAYERS)")

#: Layer types that remain after folding and that the Converter and nengo-loihi take.
_KEPT = (L.InputLayer, L.Conv2D, L.Dense, L.Activation, L.Add, L.Concatenate,
         L.Flatten, L.Reshape)
#: Subclasses of kept types that are not what their base class becomes.
_NOT_KEPT = (L.Conv2DTranspose, L.DepthwiseConv2D, L.SeparableConv2D)


def is_supported(layer_type):
    """Whether layers of this Keras type are kept or folded by :func:`deployable`.

    The kept types and the types with a registered fold (:data:`.folds.FOLDS`,
    whose folds may still refuse a layer in a place it cannot fold); ``ReLU``
    layers are swapped for neurons before this is asked.
    """
    return (issubclass(layer_type, _KEPT + tuple(FOLDS))
            and not issubclass(layer_type, _NOT_KEPT))


def deployable(model):
    """``model`` with every layer folded that has no spiking counterpart.

    Returns the same model object when there is nothing to fold (the zoo's plain
    stacks), otherwise a new functional model computing the same function:
    layer names stay (a Conv2D that absorbed the batch normalisation and ReLU
    after it keeps its own name) and weights are the trained ones, folded.

    Raises
    ------
    ModelError
        Naming the layer that cannot be folded or run, and what to change.
    """
    graph = Graph.from_keras(model)
    changed = False
    # identity layers first (dropout, noise, linear activations), so that no
    # other fold finds one between the layers it joins
    for kinds in (IDENTITY + (L.Activation, L.Softmax), None):
        while True:
            for op in list(graph.ops.values()):
                fn = fold_for(op)
                if fn is not None and (kinds is None or op.is_a(*kinds)) and fn(graph, op):
                    changed = True
                    break
            else:
                break
    out = graph.ops[graph.output]
    if out.is_a(L.Dense) and not is_linear(out.activation) \
            and not is_neuron_activation(out.activation):
        # an output softmax: the largest logit is the same class
        out.config["activation"] = None
        changed = True
    problems = unsupported_layers(graph)
    if problems:
        raise ModelError(
            f"model {model.name} has layers that cannot run on Loihi: {'; '.join(problems)}"
        )
    return graph.to_keras() if changed else model


def unsupported_layers(graph):
    """``"name (Kind): why; what to change"`` for each op Loihi cannot run after folding."""
    problems = []
    for op in graph.ops.values():
        why = _why_not(graph, op)
        if why:
            problems.append(f"{op.name} ({op.kind}): {why}")
    return problems


def _why_not(graph, op):
    if not is_supported(op.cls):
        return UNSUPPORTED
    if op.is_a(L.Concatenate) and op.config.get("axis", -1) not in (-1, len(op.output_shape)):
        return "only concatenation along the channels (axis=-1) is supported"
    if op.is_a(L.Conv2D) and tuple(op.config.get("dilation_rate", (1, 1))) != (1, 1):
        return "dilated convolutions are not supported; use dilation_rate=1"
    if op.is_a(L.Conv2D) and op.config.get("data_format") == "channels_first":
        return "channels_first is not supported; use data_format='channels_last'"
    act = op.activation
    if op.is_a(L.Conv2D, L.Dense, L.Activation) and not (
            is_linear(act) or is_neuron_activation(act)):
        name = getattr(act, "__name__", str(act))
        if name == "relu":
            return ("activation 'relu' is Keras's own; build the model with this "
                    "package's rate activation (ModelSpec.build, or --model PATH, "
                    "which swaps it in)")
        return (f"activation {name!r} cannot run as spiking neurons; use 'relu' "
                f"(or none)")
    if op.is_a(L.Activation) and any(graph.ops[i].is_a(L.Concatenate) for i in op.inputs):
        # nengo-loihi connects into whole layers of neurons, not into a part
        return ("neurons after a Concatenate cannot be placed on Loihi; give each "
                "branch activation='relu' instead and remove this layer")
    return None


__all__ = ["LAYERS", "UNSUPPORTED", "deployable", "is_supported", "unsupported_layers"]
