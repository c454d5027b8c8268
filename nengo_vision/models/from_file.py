"""Your own Keras model file as a model: ``--model PATH``.

A ``.keras`` or ``.h5`` file, or a SavedModel folder, saved by Keras with its
built-in layers and activations. Its ReLU layers become this package's LIF rate
neurons, its weights are the starting point of training, and the model is checked
before anything is trained, so that a model the pipeline cannot run is refused in
one line that names every layer at fault.

Which layers are supported, and what each becomes on Loihi, is the table
:data:`nengo_vision.deploy.LAYERS`; the layers with no spiking counterpart
(batch normalisation, pooling, padding, activation layers) are folded into their
neighbours by :func:`nengo_vision.deploy.deployable` after training, and already
tried once here, so that a layer in a place where it cannot be folded is named
before training starts.
"""

import hashlib
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..datasets import get_dataset
from ..errors import ModelError
from . import ModelSpec

#: File names that mean "a Keras model file", even when no such file exists.
MODEL_SUFFIXES = (".keras", ".h5")


def spec_from_file(path, dataset="mnist", max_pool="refuse"):
    """A :class:`.ModelSpec` for the Keras model saved at ``path``.

    Parameters
    ----------
    path : str or Path
        A ``.keras`` or ``.h5`` file, or a SavedModel folder.
    dataset : str
        The registered data set to train and test on.
    max_pool : {"refuse", "avg"}
        What the model's max pooling becomes: refused with advice, or average
        pooling of the same size (with a warning; training then fine-tunes).

    Returns
    -------
    ModelSpec
        Named after the file (its stem); ``build(activation)`` returns a new,
        uncompiled copy of the model with the file's weights (see
        :func:`with_neurons`). ``source`` is the file's SHA-256 (and the max
        pooling choice, when it changes the model).

    Raises
    ------
    ConfigError
        If the data set is unknown.
    ModelError
        If Keras cannot load the file, or the model cannot run as a spiking
        network (:func:`check_model`).
    """
    # a name (ConfigError if unknown), or the loaded data set (a folder's shape
    # and classes are known once it is read)
    dataset = get_dataset(dataset) if isinstance(dataset, str) else dataset
    path = Path(path)
    model = load_keras_model(path)
    check_model(model, path, dataset, max_pool)
    source = f"sha256:{digest(path)}"
    pools = _max_pools(model)
    if pools and max_pool == "avg":
        warnings.warn(
            f"{path}: max pooling ({', '.join(l.name for l in pools)}) is replaced by "
            f"average pooling of the same size, as Loihi cannot take a maximum; "
            f"training fine-tunes the model for it, but expect some loss of accuracy",
            stacklevel=2,
        )
        source += ";max_pool=avg"

    def build(activation):
        return with_neurons(model, activation, max_pool)

    name = path.name if path.is_dir() else path.stem
    return ModelSpec(
        name=name, build=build, dataset=dataset.name,
        description=f"Keras model from {path}", source=source,
    )


def load_keras_model(path):
    """Load the Keras model at ``path`` without compiling it; ModelError if Keras cannot."""
    try:
        _nengo_dl()  # first, so that its quiet import is where Keras starts up
        return tf.keras.models.load_model(str(path), compile=False)
    except Exception as e:  # Keras raises many types here; all mean "not loadable"
        reason = next((line.strip() for line in str(e).splitlines() if line.strip()),
                      type(e).__name__)
        raise ModelError(
            f"cannot load Keras model {path}: {reason[:300]}; save it with Keras's "
            f"model.save() as .keras, .h5 or a SavedModel folder, using only the "
            f"layers and activations Keras ships"
        ) from None


def check_model(model, path, dataset, max_pool="refuse"):
    """Refuse, in one line, a model the pipeline cannot train, convert and run.

    Checked in order, each its own message: one input of the data set's shape,
    one output with a unit per class, finite weights, every layer supported
    (:func:`layer_problems`), at least one ReLU to run as neurons, and that the
    model folds into neurons and weights (:func:`.deploy.deployable` of
    :func:`with_neurons`), so that a layer in the wrong place is named before
    anything is trained.
    """
    from ..deploy import deployable
    from ..neurons import LIFActivation

    shape, n_classes = tuple(dataset.input_shape), dataset.n_classes
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(
            f"model {path} has {len(model.inputs)} inputs and {len(model.outputs)} "
            f"outputs; the pipeline needs one input and one output"
        )
    got = tuple(model.input_shape[1:])
    if got != shape:
        raise ModelError(
            f"model {path} takes inputs of shape {got}, but {dataset.name} images are "
            f"{shape}; give the model an input of shape {shape}"
        )
    units = tuple(model.output_shape[1:])
    if units != (n_classes,):
        raise ModelError(
            f"model {path} gives outputs of shape {units}, but {dataset.name} has "
            f"{n_classes} classes; end the model with a layer of {n_classes} units"
        )
    bad = [f"{w.name} ({int(np.sum(~np.isfinite(v)))} of {v.size})"
           for w, v in zip(model.weights, model.get_weights()) if not np.all(np.isfinite(v))]
    if bad:
        # training from NaN weights "succeeds" and reports chance accuracy
        raise ModelError(
            f"model {path} has weights that are NaN or infinite: {'; '.join(bad)}; "
            f"save the model again from finite weights"
        )
    problems = layer_problems(model, max_pool)
    if problems:
        raise ModelError(
            f"model {path} has layers the pipeline cannot convert: {'; '.join(problems)}"
        )
    if not any(_is_relu_layer(layer) for layer in model.layers):
        raise ModelError(
            f"model {path} has no layer with a relu activation, so nothing would run "
            f"as spiking neurons; give its hidden layers activation='relu'"
        )
    try:
        deployable(with_neurons(model, LIFActivation(), max_pool))
    except ModelError as e:
        raise ModelError(f"model {path}: {e}") from None


def layer_problems(model, max_pool="refuse"):
    """``"name (why)"`` for every layer that cannot become part of the spiking network."""
    output = _output_layer(model)
    problems = []
    for layer in model.layers:
        why = _layer_reason(layer, max_pool) or _activation_reason(layer, layer is output)
        if why:
            problems.append(f"{layer.name} ({why})")
    return problems


def _output_layer(model):
    return model.get_layer(model.output_names[0])


def _layer_reason(layer, max_pool):
    """Why ``layer`` cannot be part of the spiking network, or None."""
    from ..deploy import UNSUPPORTED, is_supported

    L = tf.keras.layers
    kind = type(layer).__name__
    if isinstance(layer, tf.keras.Model):
        # its layers would keep their relu: with_neurons only sees the outer layers
        return f"{kind}: a model inside the model; save it as one flat model"
    if isinstance(layer, L.ReLU):
        config = layer.get_config()
        if config.get("max_value") is not None or config.get("negative_slope") \
                or config.get("threshold"):
            return (f"{kind} with max_value, negative_slope or threshold: only a plain "
                    f"ReLU runs as spiking neurons; use ReLU()")
        return None
    if isinstance(layer, (L.MaxPooling2D, L.GlobalMaxPooling2D)) and max_pool != "avg":
        return (f"{kind}: Loihi has no max operation, so max pooling cannot run as "
                f"spikes; use AveragePooling2D, or --max-pool avg to replace it with "
                f"average pooling (fine-tuned, at some cost in accuracy)")
    if not is_supported(type(layer)):
        return f"{kind}: {UNSUPPORTED}"
    uses = len(layer.inbound_nodes)
    if uses > 1:
        # one Nengo object per layer: a second use would read the first's input
        return f"{kind}: used {uses} times; use each layer once (a new layer for each use)"
    return None


def _activation_reason(layer, is_output):
    """Why ``layer``'s activation cannot run in the spiking network, or None."""
    if not hasattr(layer, "activation"):
        return None
    act = layer.activation
    if _is_relu(act) or _is_linear(act) or _is_softmax(act) and (
            is_output or isinstance(layer, tf.keras.layers.Activation)):
        return None
    name = getattr(act, "__name__", type(act).__name__)
    if is_output:
        return f"activation {name!r}: the output layer must be linear, relu or softmax"
    return f"activation {name!r}: only relu and linear layers can run as spiking neurons"


def with_neurons(model, activation, max_pool="refuse"):
    """A new copy of ``model`` with the same weights, relu swapped for ``activation``.

    ``activation='relu'`` and ``ReLU`` layers take the rate activation. A
    softmax on the output layer becomes linear: training takes logits, and the
    largest output, which is the class, does not change. Dropout layers become
    the identity: the converted network only runs inference, and fine-tuning
    through the rate curves needs no dropout. With ``max_pool="avg"``, max
    pooling becomes average pooling of the same size. A model whose only
    neurons read the pixels directly gets a pixel encoder in front
    (:func:`_pixel_encoder`), so that those neurons can run on the chip.
    """
    L = tf.keras.layers
    output_name = _output_layer(model).name

    def clone(layer):
        if _is_dropout(layer):
            # the identity at inference, and NengoDL has no converter for it
            return L.Activation("linear", name=layer.name)
        if isinstance(layer, L.ReLU):
            return L.Activation(activation, name=layer.name)
        if isinstance(layer, L.Softmax) and layer.name == output_name:
            # training reads logits (and Softmax has no activation to swap)
            return L.Activation("linear", name=layer.name)
        if max_pool == "avg" and isinstance(layer, (L.MaxPooling2D, L.GlobalMaxPooling2D)):
            config = layer.get_config()
            cls = L.AveragePooling2D if isinstance(layer, L.MaxPooling2D) \
                else L.GlobalAveragePooling2D
            return cls.from_config(config)
        config = layer.get_config()
        act = getattr(layer, "activation", None)
        if _is_relu(act):
            config["activation"] = activation
        elif layer.name == output_name and _is_softmax(act):
            config["activation"] = "linear"
        return type(layer).from_config(config)

    encoder = None
    if sum(map(_is_relu_layer, model.layers)) == 1 and _is_chain(model):
        encoder = _pixel_encoder(model, activation)
    if isinstance(model, tf.keras.Sequential) or encoder is not None:
        copy = _functional_copy(model, clone, encoder)
    else:
        copy = tf.keras.models.clone_model(model, clone_function=clone)
    weights = model.get_weights()
    if encoder is not None:
        weights = encoder.get_weights() + weights
    copy.set_weights(weights)
    return copy


def _is_chain(model):
    """Whether every layer reads the one before it (a Sequential-like model)."""
    return isinstance(model, tf.keras.Sequential) or all(
        len(layer._inbound_nodes) == 1
        and tf.nest.flatten(layer._inbound_nodes[0].inbound_layers) == [prev]
        for prev, layer in zip(model.layers, model.layers[1:])
    )


def _pixel_encoder(model, activation):
    """A 1×1 convolution of neurons that turns the pixels into spikes.

    A model with one neuron layer that reads the pixels would run it on the
    host (the input encoder) and leave nothing for the chip; with this layer in
    front, the model's own layer runs on the chip, fed by pixel spikes. It
    starts with each pixel driving its own neuron from the edge of firing (a
    current of 1 at pixel 0, 2 at pixel 1); training tunes it with the rest.
    """
    channels = model.input_shape[-1]
    layer = tf.keras.layers.Conv2D(
        channels, 1, activation=activation, name="pixel_spikes",
        kernel_initializer=tf.keras.initializers.Constant(0.0),
    )
    layer.build((None,) + tuple(model.input_shape[1:]))
    layer.set_weights([np.eye(channels, dtype=np.float32)[None, None] / activation.gain,
                       np.full(channels, 1.0 / activation.gain, dtype=np.float32)])
    return layer


def _functional_copy(model, clone, encoder=None):
    """A functional model of clones of a one-path ``model``'s layers.

    nengo_dl.Converter turns a Sequential model into a functional one by calling
    its layers a second time, after which a layer no longer names one output and
    the probes on it cannot be placed; layers called once, here, avoid that.
    ``encoder``, if given, is put right after the input.
    """
    inp = tf.keras.Input(shape=model.input_shape[1:], name=model.layers[0].name + "_input")
    x = inp if encoder is None else encoder(inp)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.InputLayer):
            continue
        x = clone(layer)(x)
    return tf.keras.Model(inp, x, name=model.name)


def _max_pools(model):
    L = tf.keras.layers
    return [l for l in model.layers if isinstance(l, (L.MaxPooling2D, L.GlobalMaxPooling2D))]


def _is_relu_layer(layer):
    return layer is not None and (isinstance(layer, tf.keras.layers.ReLU)
                                  or _is_relu(getattr(layer, "activation", None)))


def digest(path):
    """SHA-256 (hex) of a file, or of a folder's file names and contents in order."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _nengo_dl():
    # imported late and quietly: nengo_dl's import is slow and noisy on stderr
    from .._quiet import import_nengo_dl

    return import_nengo_dl()


# tf.keras is looked up only when a file is used: this module is imported with the
# model zoo for every run, and Keras's start-up is slow and writes to stderr.
def _is_relu(act):
    return act in (tf.keras.activations.relu, tf.nn.relu)


def _is_linear(act):
    return act in (None, tf.keras.activations.linear)


def _is_softmax(act):
    return act in (tf.keras.activations.softmax, tf.nn.softmax)


def _is_dropout(layer):
    return isinstance(layer, tf.keras.layers.Dropout)  # SpatialDropout* included
