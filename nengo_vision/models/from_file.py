"""Your own Keras model file as a model: ``--model PATH``.

A ``.keras`` or ``.h5`` file, or a SavedModel folder, saved by Keras with its
built-in layers and activations. Its ReLU layers become this package's LIF rate
neurons, its weights are the starting point of training, and the model is checked
before anything is trained, so that a model the pipeline cannot run is refused in
one line that names every layer at fault.

What NengoDL can convert is NengoDL's own judgement: each Keras layer type has a
``LayerConverter`` registered with ``nengo_dl.Converter``, whose ``convertible``
says why a layer cannot be converted; those reasons are reported as they are.
"""

import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import tensorflow as tf

from ..datasets import get_dataset
from ..errors import ModelError
from . import ModelSpec

#: File names that mean "a Keras model file", even when no such file exists.
MODEL_SUFFIXES = (".keras", ".h5")

# The settings conversion.convert gives nengo_dl.Converter, as its LayerConverters'
# ``convertible`` checks read them.
_CONVERTER_SETTINGS = SimpleNamespace(
    allow_fallback=False, inference_only=True, max_to_avg_pool=False,
    temporal_model=False, split_shared_weights=False,
)


def spec_from_file(path, dataset="mnist"):
    """A :class:`.ModelSpec` for the Keras model saved at ``path``.

    Parameters
    ----------
    path : str or Path
        A ``.keras`` or ``.h5`` file, or a SavedModel folder.
    dataset : str
        The registered data set to train and test on.

    Returns
    -------
    ModelSpec
        Named after the file (its stem); ``build(activation)`` returns a new,
        uncompiled copy of the model with the file's weights in which every
        layer with ``activation="relu"`` uses ``activation`` instead, and a
        softmax on the output layer is dropped (training reads logits, and the
        largest output is the same class). ``source`` is the file's SHA-256.

    Raises
    ------
    ConfigError
        If the data set is unknown.
    ModelError
        If Keras cannot load the file, or the model cannot run as a spiking
        network (:func:`check_model`).
    """
    dataset = get_dataset(dataset)  # ConfigError if unknown
    path = Path(path)
    model = load_keras_model(path)
    check_model(model, path, dataset)

    def build(activation):
        return with_neurons(model, activation)

    name = path.name if path.is_dir() else path.stem
    return ModelSpec(
        name=name, build=build, dataset=dataset.name,
        description=f"Keras model from {path}", source=f"sha256:{digest(path)}",
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


def check_model(model, path, dataset):
    """Refuse, in one line, a model the pipeline cannot train, convert and run.

    Checked in order, each its own message: one input of the data set's shape,
    one output with a unit per class, finite weights, every layer convertible
    (:func:`layer_problems`), and at least one ReLU layer to run as neurons.
    """
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
    problems = layer_problems(model)
    if problems:
        raise ModelError(
            f"model {path} has layers the pipeline cannot convert: {'; '.join(problems)}"
        )
    if not any(_is_relu(getattr(layer, "activation", None)) for layer in model.layers):
        raise ModelError(
            f"model {path} has no layer with a relu activation, so nothing would run "
            f"as spiking neurons; give its hidden layers activation='relu'"
        )


def layer_problems(model):
    """``"name (why)"`` for every layer that cannot become part of the spiking network."""
    output = _output_layer(model)
    problems = []
    for layer in model.layers:
        why = _converter_reason(layer) or _activation_reason(layer, layer is output)
        if why:
            problems.append(f"{layer.name} ({why})")
    return problems


def _output_layer(model):
    return model.get_layer(model.output_names[0])


def _converter_reason(layer):
    """Why NengoDL's Converter cannot convert ``layer`` natively, or None."""
    kind = type(layer).__name__
    if isinstance(layer, tf.keras.Model):
        # its layers would keep their relu: with_neurons only sees the outer layers
        return f"{kind}: a model inside the model; save it as one flat model"
    if isinstance(layer, (tf.keras.layers.ReLU, tf.keras.layers.LeakyReLU)):
        # convertible, but into rate neurons, not the LIF neurons trained for
        return (
            f"{kind}: a separate activation layer would not run as spiking neurons; "
            f"give the layer before it activation='relu' instead"
        )
    if _is_dropout(layer):
        return None  # replaced by the identity in with_neurons
    nengo_dl = _nengo_dl()
    converter = nengo_dl.Converter.converters.get(type(layer))
    if converter is None:
        return f"{kind}: NengoDL has no converter for this layer type"
    convertible, why = converter.convertible(layer, _CONVERTER_SETTINGS)
    if not convertible:
        return f"{kind}: {why}"
    uses = len(layer.inbound_nodes)
    if converter.has_weights and uses > 1:
        # Converter.get_converter refuses this unless it splits the weights
        return f"{kind}: used {uses} times; NengoDL converts a layer with weights only once"
    return None


def _activation_reason(layer, is_output):
    """Why ``layer``'s activation cannot run in the spiking network, or None."""
    if not hasattr(layer, "activation"):
        return None
    act = layer.activation
    if _is_relu(act) or _is_linear(act) or (is_output and _is_softmax(act)):
        return None
    name = getattr(act, "__name__", type(act).__name__)
    if is_output:
        return f"activation {name!r}: the output layer must be linear, relu or softmax"
    return f"activation {name!r}: only relu and linear layers can run as spiking neurons"


def with_neurons(model, activation):
    """A new copy of ``model`` with the same weights, relu swapped for ``activation``.

    A softmax on the output layer becomes linear: training takes logits, and the
    largest output, which is the class, does not change. Dropout layers become
    the identity: the converted network only runs inference, and fine-tuning
    through the rate curves needs no dropout.
    """
    output_name = _output_layer(model).name

    def clone(layer):
        if _is_dropout(layer):
            # the identity at inference, and NengoDL has no converter for it
            return tf.keras.layers.Activation("linear", name=layer.name)
        config = layer.get_config()
        act = getattr(layer, "activation", None)
        if _is_relu(act):
            config["activation"] = activation
        elif layer.name == output_name and _is_softmax(act):
            config["activation"] = "linear"
        return type(layer).from_config(config)

    if isinstance(model, tf.keras.Sequential):
        copy = _functional_copy(model, clone)
    else:
        copy = tf.keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def _functional_copy(model, clone):
    """A functional model of clones of a Sequential ``model``'s layers.

    nengo_dl.Converter turns a Sequential model into a functional one by calling
    its layers a second time, after which a layer no longer names one output and
    the probes on it cannot be placed; layers called once, here, avoid that.
    """
    inp = tf.keras.Input(shape=model.input_shape[1:], name=model.layers[0].name + "_input")
    x = inp
    for layer in model.layers:
        x = clone(layer)(x)
    return tf.keras.Model(inp, x, name=model.name)


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
