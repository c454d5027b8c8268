"""Training through the LIF rate approximation, with a parameter cache.

Trained weights are cached as an ``.npz`` named after everything that determines
them (model, neuron parameters, the training digits themselves, epochs, batch
size, seed, and the rate penalty, shifts and learning-rate schedule when used),
so a second run with the same settings reuses them and a run with other settings
or other digits trains anew. Each weight is stored under its layer's name
(``conv0/kernel:0``), so it can only go back into the layer it came from.
"""

import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from . import defaults
from ._io import atomic_path, locked
from .errors import ModelError

CACHE_ENV = "NENGO_VISION_CACHE"
#: Adam's learning rate with ``lr_decay``: from LR to LR * LR_FINAL_FRACTION
LR, LR_FINAL_FRACTION = 1e-3, 0.01
LR_SCHEDULE = f"cosine decay from {LR:g} to {LR * LR_FINAL_FRACTION:g} over the training steps"


def default_cache_dir():
    """``$NENGO_VISION_CACHE``, else ``~/.cache/nengo_vision``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "nengo_vision")


def seed_everything(seed):
    """Seed Python, numpy and TensorFlow, and make TensorFlow's ops deterministic."""
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def add_rate_regularization(model, target_hz, weight):
    """Keep the firing neurons of each layer at ``target_hz`` or above while training.

    With amplitude 0.01, training settles on mean rates near 20 Hz or below: a
    neuron whose voltage starts at zero (as on Loihi) then fires its first spike
    late in a 30-step presentation, or after it, and its information is lost. (A
    smaller amplitude, as the command line uses, raises rates more cheaply.) The penalty is
    ``weight * max(0, 1 - r / target_hz) ** 2`` per layer, where ``r`` is the mean
    rate of the neurons that fire at all (rate > 0) on the batch. Silent neurons do
    not count, so the layer stays as sparse and selective as the task wants; only
    the scale of the active rates is pushed up. Each layer's mean rate is also
    reported as a training metric.
    """
    from .conversion import neuron_layers

    for name in neuron_layers(model):
        out = model.get_layer(name).output / model.get_layer(name).activation.amplitude
        active = tf.reduce_sum(tf.cast(out > 0, out.dtype))
        active_rate = tf.reduce_sum(out) / tf.maximum(active, 1.0)
        model.add_loss(weight * tf.square(tf.nn.relu(1.0 - active_rate / target_hz)))
        model.add_metric(tf.reduce_mean(out), name=f"{name}_hz")


def add_spike_budget(model, budgets, weight=defaults.BUDGET_WEIGHT):
    """Keep each neuron layer's mean firing rate at or under its budget while training.

    The penalty is ``weight * max(0, r / budget - 1) ** 2`` per layer, where
    ``r`` is the layer's mean rate (Hz) over its neurons and the batch: nothing
    while a layer keeps within its budget, growing fast beyond it. Unlike
    :func:`add_rate_regularization` it counts every neuron, silent ones too:
    the budget is the layer's spikes, what the chip pays for (each spike costs
    its synaptic operations). Each layer's mean rate is reported as a training
    metric.

    Parameters
    ----------
    budgets : float or dict
        Hz for every neuron layer, or layer → Hz (layers not named: no budget).
    """
    from .conversion import neuron_layers

    for name in neuron_layers(model):
        budget = budgets.get(name) if isinstance(budgets, dict) else budgets
        if budget is None:
            continue
        layer = model.get_layer(name)
        rate = tf.reduce_mean(layer.output) / layer.activation.amplitude
        model.add_loss(weight * tf.square(tf.nn.relu(rate / budget - 1.0)))
        model.add_metric(rate, name=f"{name}_mean_hz")


def random_shifts(images, max_shift, rng):
    """Each image moved by a random whole number of pixels, at most ``max_shift``.

    Pixels moved in from outside are zero (MNIST's background). MNIST digits fit a
    20x20 box placed near the middle of the 28x28 frame, so shifts of a pixel or
    two keep them whole.
    """
    m = int(max_shift)
    n, h, w = images.shape[:3]
    padded = np.pad(images, [(0, 0), (m, m), (m, m)] + [(0, 0)] * (images.ndim - 3))
    dy = rng.integers(-m, m + 1, n)
    dx = rng.integers(-m, m + 1, n)
    out = np.empty_like(images)
    for a in range(-m, m + 1):
        for b in range(-m, m + 1):
            idx = np.flatnonzero((dy == a) & (dx == b))
            out[idx] = padded[idx, m + a : m + a + h, m + b : m + b + w]
    return out


class ShiftedDigits(tf.keras.utils.Sequence):
    """Training batches, reshuffled and randomly shifted anew every epoch.

    The ANN otherwise fits the training digits almost perfectly (99.7 % after 10
    epochs) and stops improving on the test digits; shifting each digit by up to
    ``max_shift`` pixels is the standard MNIST augmentation against that. The
    shuffling and shifts come from one seeded generator, so runs repeat exactly.
    """

    def __init__(self, x, y, batch_size, max_shift, seed):
        super().__init__()
        self._x, self._y = x, y
        self.batch_size = batch_size
        self.max_shift = max_shift
        self._rng = np.random.default_rng(seed)
        self._epoch = None

    def __len__(self):
        return -(-len(self._x) // self.batch_size)

    def __getitem__(self, i):
        # a new epoch's digits are made when first asked for, so that Keras's
        # call of on_epoch_end after the last epoch costs nothing
        if self._epoch is None:
            order = self._rng.permutation(len(self._x))
            self._epoch = random_shifts(self._x[order], self.max_shift, self._rng), self._y[order]
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self._epoch[0][s], self._epoch[1][s]

    def on_epoch_end(self):
        self._epoch = None



def data_digest(x, y):
    """SHA-256 (hex) of training images and labels: their shapes, types and bytes.

    Part of the cache key, so that other digits (another ``mnist.npz``, another
    subset) never load weights trained on these. About 0.1 s for MNIST's 60,000
    training digits.
    """
    h = hashlib.sha256()
    for a in (x, y):
        a = np.ascontiguousarray(a)  # a copy only if not contiguous already
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def cache_path(cache_dir, spec, activation, epochs, n_train, seed, rate_target=None,
               augment=defaults.AUGMENT, lr_decay=True, batch_size=defaults.TRAIN_BATCH_SIZE,
               *, data, spike_budget=None):
    """Where the parameters for these settings are (or will be) cached.

    ``data`` is the training digits' :func:`data_digest`; the other arguments
    are :func:`train`'s.
    """
    key = dict(
        model=spec.name,
        neuron=activation.get_config(),
        epochs=epochs,
        n_train=n_train,
        seed=seed,
        rate_target=rate_target,
        batch_size=batch_size,
        data=data,
        # 3: weights stored by layer name, and the data in the key; 4: the
        # activation compiled by XLA (its rounding differs in the last bits)
        version=4,
    )
    if spec.source:
        # only when set: a zoo model is defined by its name (and this package's code)
        key["source"] = spec.source
    if augment:
        key["augment"] = dict(max_shift=int(augment), method="random_shifts v1")
    if lr_decay:
        key["lr_decay"] = LR_SCHEDULE
    if spike_budget is not None:
        # only when set, so that the keys of runs without one stay what they were
        key["spike_budget"] = dict(budget=spike_budget, weight=defaults.BUDGET_WEIGHT)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{spec.name}-e{epochs}-n{n_train}-s{seed}-{digest}.npz"


def named_weights(model):
    """Every weight of ``model`` under a name unique to it: ``{"conv0/kernel:0": variable}``.

    The name is the layer's name and the weight's name within the layer, so two
    layers of the same shape never trade weights.
    """
    named = {}
    for layer in model.layers:
        for w in layer.weights:
            # a weight's own name may carry outer scopes ("model/conv0/kernel:0");
            # the part after the layer's name is the same wherever it was built
            own = w.name.split(f"{layer.name}/", 1)[-1]
            key = f"{layer.name}/{own}"
            if key in named:
                raise ValueError(f"model {model.name} has two weights named {key!r}")
            named[key] = w
    return named


def load_weights(model, path):
    """Load cached weights into ``model``, each into the layer it was saved from.

    Raises
    ------
    ModelError
        If the file is corrupt, was written by an older version (weights by
        position), or holds other weights than ``model`` has.
    """
    fix = f"delete {path} or run again with --retrain"
    try:
        with np.load(path) as f:
            stored = {k: f[k] for k in f.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        raise ModelError(f"cached parameters {path} are corrupt; {fix}") from None
    if stored and all(k[:1] == "w" and k[1:].isdigit() for k in stored):
        # Refused rather than taken as a cache miss and overwritten: such a file
        # is never at a path this version looks up (the key changed with the
        # format), so it was put there by hand, and is not ours to replace.
        raise ModelError(
            f"cached parameters {path} are in an old format (weights by position, "
            f"not by layer name); {fix}"
        )
    named = named_weights(model)
    problems = (
        [f"{k} of shape {stored[k].shape}, not {tuple(w.shape)}"
         for k, w in named.items() if k in stored and stored[k].shape != tuple(w.shape)]
        + [f"no {k}" for k in named if k not in stored]
        + [f"{k}, which the model does not have" for k in stored if k not in named]
    )
    if problems:
        count = f"{len(problems)} differences, the first: " if len(problems) > 1 else ""
        raise ModelError(
            f"cached parameters {path} do not fit model {model.name} "
            f"({count}{problems[0]}); {fix}"
        )
    tf.keras.backend.batch_set_value([(w, stored[k]) for k, w in named.items()])


def save_weights(model, path):
    """Save ``model``'s weights to ``path`` atomically, each under its layer's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{k: w.numpy() for k, w in named_weights(model).items()})


def train(
    spec,
    activation,
    x_train,
    y_train,
    epochs,
    seed,
    cache_dir=None,
    retrain=False,
    batch_size=defaults.TRAIN_BATCH_SIZE,
    rate_target=None,
    augment=defaults.AUGMENT,
    lr_decay=True,
    log=print,
    spike_budget=None,
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
    augment : int
        Shift training digits by up to this many pixels, anew every epoch
        (:class:`ShiftedDigits`); 0 for none.
    lr_decay : bool
        Let Adam's learning rate fall along a cosine (:data:`LR_SCHEDULE`)
        instead of keeping it at :data:`LR`. The defaults are the main job's
        (:class:`.Config` passes its own values).
    spike_budget : float or dict, optional
        Mean rate (Hz) each neuron layer is held to (:func:`add_spike_budget`).

    Returns
    -------
    model : tf.keras.Model
        Trained (or loaded) model.
    info : dict
        ``{"cache": path, "cached": bool, "seconds": float, "history": {...}}``.
    """
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
        augment=augment,
        lr_decay=lr_decay,
        batch_size=batch_size,
        data=data_digest(x_train, y_train),
        spike_budget=spike_budget,
    )
    info = dict(cache=str(path), cached=False, seconds=0.0, history={})
    # two processes with the same settings (a sweep's workers) train once: the
    # second waits for the first, then loads what it saved
    with locked(path):
        if path.exists() and not retrain:
            load_weights(model, path)
            info["cached"] = True
            log(f"loaded trained parameters from {path}")
            return model, info

        log(
            f"training {spec.name} through the {activation.kind.upper()} rate "
            f"approximation: {epochs} epoch(s) on {len(x_train)} training samples"
        )
        if rate_target:
            add_rate_regularization(model, *rate_target)
        if spike_budget is not None:
            add_spike_budget(model, spike_budget)
        info["seconds"], info["history"] = fit(
            model, x_train, y_train, epochs, batch_size, augment, seed, LR, lr_decay
        )
        save_weights(model, path)
        if rate_target or spike_budget is not None:
            # the penalties are layers of their own in the model's graph, which
            # no chip runs: the trained weights go into the plain model
            trained = model
            model = spec.build(activation)
            tf.keras.backend.batch_set_value(
                [(w, named_weights(trained)[k]) for k, w in named_weights(model).items()])
    log(f"saved trained parameters to {path}")
    return model, info


def fit(model, x, y, epochs, batch_size, augment, seed, lr, lr_decay):
    """Compile ``model`` with Adam at ``lr`` and fit it; return ``(seconds, history)``.

    With ``lr_decay`` the learning rate falls along a cosine to
    ``lr * LR_FINAL_FRACTION`` over all steps; with ``augment`` the digits are
    shifted anew every epoch (:class:`ShiftedDigits`).
    """
    import time

    if lr_decay:
        steps = epochs * -(-len(x) // batch_size)
        lr = tf.keras.optimizers.schedules.CosineDecay(lr, steps, alpha=LR_FINAL_FRACTION)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(lr),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    verbose = 1 if sys.stdout.isatty() else 2
    if augment:
        # a Sequence: each epoch's digits shifted once, handed to Keras batch by
        # batch. Feeding each epoch's arrays to a fit call of its own gives the
        # same weights but was slower for 60,000 digits (main job: 373 s of
        # training against 365 s, 2026-12-07), each call making a new data set
        data = ShiftedDigits(x, y, batch_size, augment, seed)
        history = model.fit(data, epochs=epochs, shuffle=False, verbose=verbose).history
    else:
        history = model.fit(
            x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose
        ).history
    history = {k: [float(v) for v in vals] for k, vals in history.items()}
    return time.perf_counter() - start, history
