"""Firing-rate calibration: a scale per layer, toward a target rate.

A spiking layer carries its values in spikes. Too few in a short presentation
and the values are lost in the noise of which step a spike falls on (a layer at
13 Hz fires 0.4 spikes per neuron in 30 steps); too many and it runs into the
chip's ceiling of one spike every ``tau_ref / dt + 1`` steps, where the rate no
longer grows with the input. One global ``scale_firing_rates`` cannot fix both,
because layers fire at different rates: the first layer of ``scnn_mnist`` fires
five times less than the last.

:func:`calibrate` measures each layer's input currents on training digits and
gives each layer its own scale ``s``. A layer is scaled as
``nengo_dl.Converter(scale_firing_rates=...)`` scales it (input current times
``s``, output divided by ``s``), and its bias moves so that the current *above
threshold*, ``J - 1``, is what grows by ``s``: the threshold stays where it was,
and the rate each neuron will fire at is known exactly from the measured
currents and the neuron's own rate curve. A layer without a bias has nowhere to
hold that shift, so it is refused (:func:`check_biases`). The scale is the one
whose mean rate is nearest ``target_hz`` among those at which no more than 1 %
of the layer's active rates reach 90 % of the ceiling. Between threshold and
saturation an LIF neuron's rate grows roughly, not exactly, in proportion to
``J - 1`` (the curve is concave, then flattens at the ceiling), so the scaled
layer passes on values close to the old ones with about ``s`` times the spikes;
a short fine-tuning through the scaled rate curves absorbs the difference, so
that the ANN again computes exactly what the spiking network does on average.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from .conversion import layer_activations
# HEADROOM: a rate at this fraction of the ceiling or above is saturated (it
# hardly follows the input any more); MAX_SATURATED: the most of a layer's
# active rates allowed there
from .defaults import HEADROOM, MAX_SATURATED, TRAIN_BATCH_SIZE
from ._io import locked
from .errors import ModelError
from .training import LR, data_digest, fit, load_weights, save_weights

#: scales are kept within [1 / MAX_SCALE, MAX_SCALE]: a layer silent on the
#: calibration digits is not blown up without bound
MAX_SCALE = 8.0
#: fine-tuning after scaling: its learning rate, a tenth of training's
FINE_TUNE_LR = LR / 10
CALIBRATION_VERSION = 2  # 2: weights cached by layer name, data in the key


class _Recorder:
    """Stands in for a layer's activation and keeps the currents it is given."""

    def __init__(self, activation):
        self.activation = activation
        self.currents = []

    def __call__(self, x):
        self.currents.append(self.activation.gain * x.numpy())
        return self.activation(x)


def layer_currents(model, images, names=None, batch_size=500):
    """Input currents of neuron layers: name → ``(n_images, n_neurons)``.

    The current is ``gain * (W x + b)``, what the neuron's rate curve is applied
    to (the neuron fires above 1). Measured by running the Keras model eagerly
    with each activation wrapped, so every layer sees the real output of the
    layers before it. ``names`` limits it to those layers (default: all).
    """
    activations = layer_activations(model)
    if names is not None:
        activations = {n: activations[n] for n in names}
    recorders = {n: _Recorder(a) for n, a in activations.items()}
    try:
        for name, recorder in recorders.items():
            model.get_layer(name).activation = recorder
        for start in range(0, len(images), batch_size):
            model(images[start : start + batch_size], training=False)
    finally:
        for name, act in activations.items():
            model.get_layer(name).activation = act
    return {
        n: np.concatenate([np.reshape(c, (len(c), -1)) for c in r.currents])
        for n, r in recorders.items()
    }


def rates_for(activation, currents, scale=1.0):
    """Rates (Hz) the neuron fires at when ``currents`` are scaled by ``scale``.

    Scaling keeps the threshold: the current above it, ``J - 1``, is multiplied
    by ``scale`` (see :func:`apply_scales`).
    """
    j = 1.0 + scale * (np.asarray(currents, dtype=np.float32) - 1.0)
    return activation.rate_of_current(tf.constant(j)).numpy()


def rate_stats(rates, max_rate):
    """What a layer's rates look like: mean, busiest 1 %, silent and saturated parts.

    Parameters
    ----------
    rates : ndarray
        ``(n_images, n_neurons)`` rates in Hz.
    max_rate : float
        The neuron's ceiling in Hz.

    Returns
    -------
    dict
        ``mean_hz`` (over neurons and digits), ``p99_hz`` (99th percentile of the
        non-zero rates), ``silent`` (fraction of neurons silent on every digit),
        ``saturated`` (fraction of non-zero rates at ``HEADROOM`` of the ceiling
        or more).
    """
    active = rates[rates > 0]
    return dict(
        mean_hz=round(float(rates.mean()), 3),
        p99_hz=round(float(np.percentile(active, 99)) if active.size else 0.0, 3),
        silent=round(float(np.mean(rates.max(axis=0) <= 0)), 4),
        saturated=round(
            float(np.mean(active >= HEADROOM * max_rate)) if active.size else 0.0, 4
        ),
    )


#: scales tried, from 1 / MAX_SCALE to MAX_SCALE, 16 per octave
SCALES = MAX_SCALE ** np.linspace(-1, 1, 6 * 16 + 1)


def choose_scale(activation, currents, target_hz, max_samples=200_000, seed=0):
    """The scale for one layer: mean rate nearest ``target_hz``, none saturating.

    Every scale in :data:`SCALES` is tried on the measured currents (a random
    sample of at most ``max_samples`` of them) through the neuron's own rate
    curve. Among those at which at most :data:`MAX_SATURATED` of the active
    rates reach ``HEADROOM`` of the ceiling, the one whose mean rate is nearest
    ``target_hz`` wins; if every scale saturates, the smallest.
    """
    flat = np.ravel(currents)
    if flat.size > max_samples:
        flat = np.random.default_rng(seed).choice(flat, max_samples, replace=False)
    best, best_gap = SCALES[0], np.inf
    for scale in SCALES:
        rates = rates_for(activation, flat, scale)
        active = rates[rates > 0]
        if active.size and np.mean(active >= HEADROOM * activation.max_rate) > MAX_SATURATED:
            continue
        gap = abs(np.log(max(rates.mean(), 1e-3) / target_hz))
        if gap < best_gap:
            best, best_gap = scale, gap
    return float(best)


def check_biases(model, names=None):
    """Refuse, in one line, neuron layers whose rates cannot be scaled: those without a bias.

    Scaling a layer by ``s`` multiplies its input current ``J = gain * W x`` by
    ``s``; only a bias can then take ``s - 1`` off again so that ``J - 1``, not
    ``J``, grows by ``s`` (:func:`apply_scales`). Without one, the neuron's
    threshold would move from ``J = 1`` to ``J = 1 / s``: for ``s > 1`` inputs
    that left it silent would make it fire, and the rates chosen from the
    measured currents would be wrong. Nothing in the layer can hold that offset
    instead, so such a layer is refused rather than scaled.

    Parameters
    ----------
    model : tf.keras.Model
        A model with neuron layers.
    names : iterable of str, optional
        The layers to check (default: every neuron layer).

    Raises
    ------
    ModelError
        Naming every layer without a bias.
    """
    names = list(layer_activations(model) if names is None else names)
    merged = [n for n in names if not hasattr(model.get_layer(n), "use_bias")]
    if merged:
        # neurons after an Add or Concatenate: an Activation layer, no weights
        raise ModelError(
            f"cannot calibrate firing rates of {', '.join(merged)}: neurons fed by an "
            f"Add or Concatenate have no bias of their own to keep their threshold "
            f"when scaled; run without --target-rate"
        )
    unbiased = [n for n in names if not getattr(model.get_layer(n), "use_bias", False)]
    if unbiased:
        raise ModelError(
            f"cannot calibrate firing rates of {', '.join(unbiased)}: scaling a layer "
            f"without a bias (use_bias=False) would move its neurons' threshold; give "
            f"{'it' if len(unbiased) == 1 else 'them'} use_bias=True, or run without "
            f"--target-rate"
        )


def apply_scales(model, scales):
    """Give each layer its scaled activation and move its bias (in place).

    The bias moves by ``-(s - 1) / (gain * s)``, so that the current above
    threshold, ``gain * (W x + b) - 1``, is multiplied by ``s``: the neuron
    still starts firing for the same inputs.

    Raises
    ------
    ModelError
        If a layer to scale (``s != 1``) has no bias (:func:`check_biases`);
        then no layer is changed.
    """
    check_biases(model, [name for name, scale in scales.items() if scale != 1])
    for name, scale in scales.items():
        layer = model.get_layer(name)
        act = layer.activation
        if getattr(layer, "use_bias", False):
            layer.bias.assign(layer.bias - (scale - 1) / (act.gain * scale))
        layer.activation = act.scaled(scale)


def _cache_path(base_cache, key):
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    base = Path(base_cache)
    return base.with_name(f"{base.stem}-cal-{digest}.npz")


def calibrate(
    model,
    x_train,
    y_train,
    target_hz,
    base_cache,
    n_measure=2000,
    epochs=1,
    batch_size=TRAIN_BATCH_SIZE,
    augment=0,
    seed=0,
    retrain=False,
    log=print,
):
    """Scale each layer of trained ``model`` toward ``target_hz``, then fine-tune.

    Parameters
    ----------
    model : tf.keras.Model
        A trained model; changed in place (activations, biases, weights).
    x_train, y_train : ndarray
        Training digits: rates are measured on the first ``n_measure``, the
        fine-tuning uses all of them.
    target_hz : float
        Mean rate each layer is scaled toward.
    base_cache : path
        The trained parameters' cache file; the calibrated ones are cached beside
        it under a name that adds every calibration setting.
    n_measure : int
        Training digits the rates are measured on.
    epochs : int
        Fine-tuning epochs after scaling (0: none).

    Returns
    -------
    dict
        ``target_hz``, ``scales`` (layer → s), ``before`` and ``after`` (layer →
        :func:`rate_stats`), ``fine_tune`` (epochs, seconds, cached, cache).

    Raises
    ------
    ModelError
        If a neuron layer has no bias (:func:`check_biases`), before ``model``
        is changed.
    """
    check_biases(model)  # before anything is measured or changed
    measure = x_train[:n_measure]
    activations = layer_activations(model)
    currents = layer_currents(model, measure)
    before = {
        n: rate_stats(rates_for(activations[n], c), activations[n].max_rate)
        for n, c in currents.items()
    }
    del currents
    # layer by layer, in network order: scaling a layer changes what the layers
    # after it receive, so their currents are measured again first
    scales = {}
    for name, act in activations.items():
        current = layer_currents(model, measure, names=[name])[name]
        scales[name] = choose_scale(act, current, target_hz, seed=seed)
        apply_scales(model, {name: scales[name]})

    key = dict(
        target_hz=target_hz, n_measure=n_measure, epochs=epochs, headroom=HEADROOM,
        max_saturated=MAX_SATURATED,
        n_train=len(x_train), batch_size=batch_size, augment=augment, seed=seed,
        lr=FINE_TUNE_LR, version=CALIBRATION_VERSION,
        # the digits measured on and fine-tuned on need not be those trained on
        data=data_digest(x_train, y_train),
    )
    path = _cache_path(base_cache, key)
    tune = dict(epochs=epochs, seconds=0.0, cached=False, cache=str(path))
    with locked(path):  # a sweep's workers fine-tune once
        if path.exists() and not retrain:
            load_weights(model, path)
            tune["cached"] = True
            log(f"loaded calibrated parameters from {path}")
        elif epochs:
            log(f"fine-tuning through the calibrated rate curves: {epochs} epoch(s)")
            tune["seconds"], tune["history"] = fit(
                model, x_train, y_train, epochs, batch_size, augment, seed,
                FINE_TUNE_LR, lr_decay=True,
            )
            tune["seconds"] = round(tune["seconds"], 1)
            save_weights(model, path)

    activations = layer_activations(model)
    after = {
        n: rate_stats(rates_for(activations[n], c), activations[n].max_rate)
        for n, c in layer_currents(model, measure).items()
    }
    return dict(
        target_hz=target_hz, n_measure=n_measure, headroom=HEADROOM,
        max_saturated=MAX_SATURATED,
        scales={n: round(s, 4) for n, s in scales.items()},
        before=before, after=after, fine_tune=tune,
    )


def describe(info):
    """Lines for the user: each layer's rates before and after, and its scale."""
    lines = [f"firing-rate calibration toward {info['target_hz']:g} Hz "
             f"(measured on {info['n_measure']} training digits):"]
    for name, scale in info["scales"].items():
        b, a = info["before"][name], info["after"][name]
        lines.append(
            f"  {name:<10} x{scale:<6.3g} mean {b['mean_hz']:6.1f} -> {a['mean_hz']:6.1f} Hz, "
            f"p99 {b['p99_hz']:6.1f} -> {a['p99_hz']:6.1f} Hz, "
            f"silent {b['silent']:.1%} -> {a['silent']:.1%}, "
            f"saturated {b['saturated']:.1%} -> {a['saturated']:.1%}"
        )
    return lines
