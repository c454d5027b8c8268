"""Training through the LIF rate approximation, with a parameter cache.

Trained weights are cached as an ``.npz`` named after everything that determines
them (model, neuron parameters, epochs, training-set size, seed), so a second run
with the same settings reuses them and a run with other settings trains anew.
"""

import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from ._io import atomic_path
from .errors import UsageError

CACHE_ENV = "NENGO_VISION_CACHE"


def default_cache_dir():
    """``$NENGO_VISION_CACHE``, else ``~/.cache/nengo_vision``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "nengo_vision")


def seed_everything(seed):
    """Seed Python, numpy and TensorFlow, and make TensorFlow's ops deterministic."""
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def add_rate_regularization(model, activation, target_hz, weight):
    """Keep the firing neurons of each layer at ``target_hz`` or above while training.

    Left alone, training settles on rates near 20 Hz: a neuron whose voltage starts
    at zero (as on Loihi) then fires its first spike after some 50 ms, past the end
    of a 30-step presentation, and its information is lost. The penalty is
    ``weight * max(0, 1 - r / target_hz) ** 2`` per layer, where ``r`` is the mean
    rate of the neurons that fire at all (rate > 0) on the batch. Silent neurons do
    not count, so the layer stays as sparse and selective as the task wants; only
    the scale of the active rates is pushed up. Each layer's mean rate is also
    reported as a training metric.
    """
    from .conversion import neuron_layers

    for name in neuron_layers(model, activation):
        out = model.get_layer(name).output / activation.amplitude
        active = tf.reduce_sum(tf.cast(out > 0, out.dtype))
        active_rate = tf.reduce_sum(out) / tf.maximum(active, 1.0)
        model.add_loss(weight * tf.square(tf.nn.relu(1.0 - active_rate / target_hz)))
        model.add_metric(tf.reduce_mean(out), name=f"{name}_hz")


def cache_path(cache_dir, spec, activation, epochs, n_train, seed, rate_target=None):
    """Where the parameters for these settings are (or will be) cached."""
    key = dict(
        model=spec.name,
        neuron=activation.get_config(),
        epochs=epochs,
        n_train=n_train,
        seed=seed,
        rate_target=rate_target,
        version=1,
    )
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{spec.name}-e{epochs}-n{n_train}-s{seed}-{digest}.npz"


def load_weights(model, path):
    """Load cached weights into ``model``; a corrupt file is a UsageError."""
    fix = f"delete {path} or run again with --retrain"
    try:
        with np.load(path) as f:
            weights = [f[f"w{i}"] for i in range(len(f.files))]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        raise UsageError(f"cached parameters {path} are corrupt; {fix}") from None
    expected = [w.shape for w in model.get_weights()]
    if [w.shape for w in weights] != expected:
        raise UsageError(
            f"cached parameters {path} do not fit model {model.name}; {fix}"
        )
    model.set_weights(weights)


def save_weights(model, path):
    """Save ``model``'s weights to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{f"w{i}": w for i, w in enumerate(model.get_weights())})


def train(
    spec,
    activation,
    x_train,
    y_train,
    epochs,
    seed,
    cache_dir=None,
    retrain=False,
    batch_size=64,
    rate_target=None,
    log=print,
):
    """Return ``spec``'s Keras model trained on the given digits, using the cache.

    Parameters
    ----------
    spec : ModelSpec
        The model to build.
    activation : LIFActivation
        The neuron's rate activation, shared by all neuron layers.
    x_train, y_train : ndarray
        Training images ``(N, 28, 28, 1)`` and integer labels ``(N,)``.
    epochs : int
        Passes over the training digits.
    seed : int
        Seed for weight initialisation and shuffling.
    cache_dir : path, optional
        Cache folder (default :func:`default_cache_dir`).
    retrain : bool
        Train even when cached parameters exist (and overwrite them).
    rate_target : (float, float) or None
        ``(target_hz, weight)`` of the firing-rate regularizer
        (:func:`add_rate_regularization`), or None for none.

    Returns
    -------
    model : tf.keras.Model
        Trained (or loaded) model.
    info : dict
        ``{"cache": path, "cached": bool, "seconds": float, "history": {...}}``.
    """
    import time

    seed_everything(seed)
    model = spec.build(activation)
    path = cache_path(
        cache_dir or default_cache_dir(),
        spec,
        activation,
        epochs,
        len(x_train),
        seed,
        rate_target=list(rate_target) if rate_target else None,
    )
    info = dict(cache=str(path), cached=False, seconds=0.0, history={})
    if path.exists() and not retrain:
        load_weights(model, path)
        info["cached"] = True
        log(f"loaded trained parameters from {path}")
        return model, info

    log(
        f"training {spec.name} through the LIF rate approximation: "
        f"{epochs} epoch(s) on {len(x_train)} digits"
    )
    if rate_target:
        add_rate_regularization(model, activation, *rate_target)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    info["seconds"] = time.perf_counter() - start
    info["history"] = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    save_weights(model, path)
    log(f"saved trained parameters to {path}")
    return model, info
