"""Folds: Keras layers that have no spiking counterpart, merged into their neighbours.

Loihi runs neurons and the weighted connections between them, nothing else. A
trained Keras model also has layers that only rescale (batch normalisation),
average (pooling), pad, or apply the neurons' nonlinearity on their own
(activation layers); each is folded here into the weighted layer next to it, so
that the network computes the same function with fewer, plain layers. Every fold
is a function registered with :func:`fold` for the layer type it removes, in the
style of NengoDL's layer converters; it returns True when it changed the graph.
A fold that cannot apply raises a :class:`.ModelError` that names the layer and
says what to change.

Folds that re-express a convolution (pooling or padding followed by a
convolution) are checked on random inputs against the layers they replace.
"""

import numpy as np
import tensorflow as tf

from ..errors import ModelError
from ..neurons import is_neuron_activation
from .graph import Op

L = tf.keras.layers
FOLDS = {}

#: Layers that are the identity at inference.
IDENTITY = (L.Dropout, L.GaussianNoise, L.GaussianDropout, L.AlphaDropout,
            L.ActivityRegularization)  # Dropout covers SpatialDropout*

#: Layers without weights that are linear maps and can be folded into a Dense after them.
LINEAR_RESHAPES = (L.Flatten, L.Reshape)


def fold(*layer_types):
    """Register the decorated function as the fold of ``layer_types``."""

    def register(fn):
        for t in layer_types:
            FOLDS[t] = fn
        return fn

    return register


def fold_for(op):
    """The registered fold for ``op``'s layer type (most specific first), or None."""
    for cls in op.cls.__mro__:
        if cls in FOLDS:
            return FOLDS[cls]
    return None


def is_linear(activation):
    return activation in (None, "linear", tf.keras.activations.linear)


def _is_softmax(activation):
    return activation in ("softmax", tf.keras.activations.softmax, tf.nn.softmax)


@fold(*IDENTITY)
def drop_identity(graph, op):
    """Dropout and noise layers: the identity at inference, removed."""
    graph.remove(op.name)
    return True


@fold(L.Softmax)
def drop_softmax(graph, op):
    """A softmax on the output is read by its logits (the largest is the same class)."""
    if op.name != graph.output:
        raise ModelError(
            f"layer {op.name} (Softmax) is not the output; a softmax inside the network "
            f"cannot run as spiking neurons; remove it"
        )
    graph.remove(op.name)
    return True


@fold(L.Activation)
def fold_activation(graph, op):
    """An activation layer becomes the neurons of the Conv2D or Dense before it.

    Linear activations are removed, an output softmax is read by its logits, and
    a neuron activation moves into the layer it follows when that layer is linear
    and feeds nothing else. Otherwise (after ``Add`` or ``Concatenate``, or on
    the input) it stays: an ``Activation`` layer is then a layer of neurons of
    its own, fed through the connections the merge implies.
    """
    act = op.activation
    if is_linear(act):
        graph.remove(op.name)
        return True
    if _is_softmax(act):
        return drop_softmax(graph, op)
    if not is_neuron_activation(act):
        return False  # reported by the support check
    (source,) = op.inputs
    prev = graph.ops[source]
    if (prev.is_a(L.Conv2D, L.Dense) and is_linear(prev.activation)
            and graph.only_consumer(source) is op):
        prev.config["activation"] = act
        graph.remove(op.name)
        return True
    return False


@fold(L.BatchNormalization)
def fold_batch_norm(graph, op):
    """Batch normalisation with its inference statistics, folded into the layer before.

    ``gamma (x - mean) / sqrt(var + eps) + beta`` is per channel, so it scales the
    preceding Conv2D's or Dense's kernel along its output axis and moves its bias.
    """
    (source,) = op.inputs
    prev = graph.ops[source]
    axis = op.config.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    last = len(op.input_shape)
    if axis not in (-1, last):
        raise ModelError(
            f"layer {op.name} (BatchNormalization) normalises axis {axis}, not the "
            f"channels (the last axis); use axis=-1"
        )
    if not (prev.is_a(L.Conv2D, L.Dense) and is_linear(prev.activation)
            and graph.only_consumer(source) is op):
        raise ModelError(
            f"layer {op.name} (BatchNormalization) follows {source} ({prev.kind}); it "
            f"can only be folded into a Conv2D or Dense layer without activation that "
            f"feeds nothing else: put it directly after one"
        )
    weights = list(op.weights)
    gamma = weights.pop(0) if op.config.get("scale", True) else 1.0
    beta = weights.pop(0) if op.config.get("center", True) else 0.0
    mean, var = weights
    scale = gamma / np.sqrt(var + op.config.get("epsilon", 1e-3))
    kernel = prev.weights[0] * scale
    bias = prev.weights[1] if prev.config.get("use_bias", True) else 0.0
    prev.weights = [kernel.astype(np.float32),
                    ((bias - mean) * scale + beta).astype(np.float32)]
    prev.config["use_bias"] = True
    graph.remove(op.name)
    return True


@fold(L.MaxPooling2D, L.GlobalMaxPooling2D, L.MaxPooling1D, L.GlobalMaxPooling1D)
def refuse_max_pool(graph, op):
    raise ModelError(
        f"layer {op.name} ({op.kind}): Loihi has no max operation, so max pooling "
        f"cannot run as spikes; use AveragePooling2D, or pass --max-pool avg to "
        f"replace it with average pooling and fine-tune (costs some accuracy)"
    )


@fold(L.ZeroPadding2D)
def fold_zero_padding(graph, op):
    """Zero padding before a Conv2D: the convolution reads zeros there anyway.

    The padded convolution is re-expressed as one over the unpadded input, with
    rows and columns of zeros added to its kernel so that Keras's own "same" or
    "valid" padding puts each tap where the padded one was.
    """
    conv = graph.only_consumer(op.name)
    if conv is None or not conv.is_a(L.Conv2D) or conv.is_a(L.DepthwiseConv2D):
        raise ModelError(
            f"layer {op.name} (ZeroPadding2D) must feed exactly one Conv2D, which "
            f"then reads the padding; here it feeds "
            f"{', '.join(c.name for c in graph.consumers(op.name)) or 'the output'}"
        )
    if conv.config.get("dilation_rate", (1, 1)) not in ((1, 1), [1, 1]):
        raise ModelError(f"layer {conv.name} (Conv2D): dilated convolutions are not supported")
    (top, bottom), (left, right) = op.config["padding"]
    kernel = conv.weights[0]
    strides = tuple(conv.config["strides"])
    in_shape = op.input_shape  # unpadded
    pads = ((top, bottom), (left, right))
    found = _padding_for(in_shape[:2], kernel.shape[:2], strides, pads, conv.config["padding"])
    if found is None:
        change = (f"remove the ZeroPadding2D layer ({conv.name} already pads, with "
                  f"padding='same')" if conv.config["padding"] == "same" else
                  f"use padding='same' in {conv.name} instead of the ZeroPadding2D layer")
        raise ModelError(
            f"layers {op.name} (ZeroPadding2D {pads}) and {conv.name} (Conv2D) cannot be "
            f"written as one convolution with Keras's padding; {change}"
        )
    mode, extend = found
    new_kernel = np.pad(kernel, (extend[0], extend[1], (0, 0), (0, 0)))
    new = _conv_like(conv, new_kernel, strides, mode, [op.inputs[0]], in_shape)
    _check_same(graph, [op, conv], new, f"{op.name} and {conv.name}")
    graph.remove(op.name)
    graph.replace(conv.name, new)
    return True


def _padding_for(size, ksize, strides, pads, conv_padding):
    """Keras padding and kernel extension that reproduce explicit zero padding.

    Per axis, output ``o`` of the original reads input ``o*s + a - p`` for taps
    ``a``, where ``p`` is the explicit top padding (plus the convolution's own
    "same" padding, if it has one). Returns ``(mode, ((et, eb), (el, er)))``, or
    None when no such kernel exists.
    """
    for mode in ("valid", "same"):
        extend = []
        for n, k, s, (p0, p1) in zip(size, ksize, strides, pads):
            padded = n + p0 + p1
            if conv_padding == "same":
                n_out = -(-padded // s)
                total = max((n_out - 1) * s + k - padded, 0)
                offset = p0 + total // 2
            else:
                n_out = (padded - k) // s + 1
                offset = p0
            hit = None
            for et in range(0, k + offset + s + 1):
                for eb in range(0, k + offset + s + 1):
                    k2 = k + et + eb
                    if mode == "valid":
                        out2, top2 = (n - k2) // s + 1, 0
                    else:
                        out2 = -(-n // s)
                        top2 = max((out2 - 1) * s + k2 - n, 0) // 2
                    if out2 == n_out and top2 == offset + et:
                        hit = (et, eb)
                        break
                if hit:
                    break
            if hit is None:
                break
            extend.append(hit)
        else:
            return mode, tuple(extend)
    return None


@fold(L.AveragePooling2D, L.GlobalAveragePooling2D)
def fold_avg_pool(graph, op):
    """Average pooling, folded into the Conv2D or Dense after it (Loihi has no pooling unit).

    Before a Conv2D: pooling ``p`` with stride ``t``, then a ``k``-tap convolution
    with stride ``s``, is one convolution of ``(k - 1) t + p`` taps and stride
    ``s t`` whose kernel is the original's spread over each pooling window.
    Before a Dense (through Flatten or Reshape): the pooling and the Dense are one
    linear map, whose matrix is taken from them directly.
    """
    if op.config.get("padding", "valid") != "valid":
        raise ModelError(
            f"layer {op.name} ({op.kind}) has padding='same', where Keras averages "
            f"over fewer cells at the edges; use padding='valid'"
        )
    if op.config.get("keepdims"):
        raise ModelError(f"layer {op.name} ({op.kind}): keepdims=True is not supported")
    nxt = graph.only_consumer(op.name)
    if nxt is not None and nxt.is_a(L.AveragePooling2D):
        return False  # the next pooling folds first, then this one into its result
    if nxt is not None and nxt.is_a(L.Conv2D) and not nxt.is_a(L.DepthwiseConv2D) \
            and op.is_a(L.AveragePooling2D):
        return _pool_into_conv(graph, op, nxt)
    chain = [op]
    while nxt is not None and (nxt.is_a(*LINEAR_RESHAPES)
                               or nxt.is_a(L.AveragePooling2D, L.GlobalAveragePooling2D)):
        chain.append(nxt)
        nxt = graph.only_consumer(nxt.name)
    if nxt is not None and nxt.is_a(L.Dense) and len(nxt.input_shape) == 1:
        return _chain_into_dense(graph, chain, nxt)
    where = nxt.name + f" ({nxt.kind})" if nxt is not None else \
        ", ".join(c.name for c in graph.consumers(op.name)) or "the output"
    raise ModelError(
        f"layer {op.name} ({op.kind}) feeds {where}; Loihi has no pooling unit, so "
        f"pooling is folded into the weights of the one Conv2D or Dense layer right "
        f"after it: put one there"
    )


def _pool_into_conv(graph, pool, conv):
    if conv.config.get("dilation_rate", (1, 1)) not in ((1, 1), [1, 1]):
        raise ModelError(f"layer {conv.name} (Conv2D): dilated convolutions are not supported")
    p = tuple(pool.config["pool_size"])
    t = tuple(pool.config["strides"] or p)
    s = tuple(conv.config["strides"])
    kernel = conv.weights[0]
    k = kernel.shape[:2]
    size = tuple((k[i] - 1) * t[i] + p[i] for i in range(2))
    new_kernel = np.zeros(size + kernel.shape[2:], dtype=np.float32)
    for a in range(k[0]):
        for b in range(k[1]):
            new_kernel[a * t[0]: a * t[0] + p[0], b * t[1]: b * t[1] + p[1]] += \
                kernel[a, b] / (p[0] * p[1])
    strides = (s[0] * t[0], s[1] * t[1])
    new = _conv_like(conv, new_kernel, strides, conv.config["padding"], pool.inputs,
                     pool.input_shape)
    _check_same(graph, [pool, conv], new, f"{pool.name} and {conv.name}")
    graph.remove(pool.name)
    graph.replace(conv.name, new)
    return True


def _chain_into_dense(graph, chain, dense):
    """Pooling/reshaping layers and the Dense after them → Flatten + one Dense."""
    shape = chain[0].input_shape
    kernel = dense.weights[0]
    x = tf.keras.Input(shape=shape)
    y = x
    for op in chain:
        y = op.cls.from_config(dict(op.config))(y)
    y = tf.matmul(y, tf.constant(kernel))
    linear_map = tf.keras.Model(x, y)
    # the map is linear (no bias): its Jacobian is the folded kernel
    zero = tf.zeros((1,) + shape)
    with tf.GradientTape() as tape:
        tape.watch(zero)
        out = linear_map(zero)[0]
    jac = tape.jacobian(out, zero).numpy()  # (units, 1, *shape)
    new_kernel = jac.reshape(kernel.shape[1], -1).T.astype(np.float32)
    flat = Op(chain[0].name, L.Flatten, {"data_format": "channels_last"},
              inputs=list(chain[0].inputs), input_shape=shape,
              output_shape=(int(np.prod(shape)),))
    for op in chain[1:]:
        graph.remove(op.name)
    graph.replace(chain[0].name, flat)
    dense.weights = [new_kernel] + dense.weights[1:]
    dense.input_shape = flat.output_shape
    return True


def _conv_like(conv, kernel, strides, padding, inputs, input_shape):
    config = dict(conv.config, kernel_size=tuple(kernel.shape[:2]), strides=tuple(strides),
                  padding=padding)
    return Op(conv.name, conv.cls, config, [kernel.astype(np.float32)] + conv.weights[1:],
              inputs=list(inputs), input_shape=tuple(input_shape),
              output_shape=conv.output_shape)


def _check_same(graph, old_ops, new_op, what):
    """Refuse a re-expressed convolution that differs from the layers it replaces.

    Both run without activation on the same random input; they must agree to
    float precision (and give the same output shape).
    """
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(2,) + tuple(old_ops[0].input_shape)).astype(np.float32)
    y_old = x
    for op in old_ops:
        config = dict(op.config)
        if "activation" in config:
            config["activation"] = None
        layer = op.cls.from_config(config)
        layer.build((None,) + tuple(op.input_shape))
        if op.weights:
            layer.set_weights(op.weights)
        y_old = layer(y_old).numpy()
    config = dict(new_op.config, activation=None)
    layer = new_op.cls.from_config(config)
    layer.build((None,) + tuple(new_op.input_shape))
    layer.set_weights(new_op.weights)
    y_new = layer(x).numpy()
    scale = 1.0 + np.abs(y_old).max()
    if y_old.shape != y_new.shape or np.abs(y_old - y_new).max() > 1e-4 * scale:
        raise ModelError(
            f"layers {what} cannot be folded into one convolution with Keras's padding "
            f"rules; use padding='valid' in the convolution, or input sizes that the "
            f"pooling divides"
        )
