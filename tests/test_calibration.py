"""Firing-rate calibration: scales with known answers, and on a trained model."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import context
from nengo_vision.backends import get_backend
from nengo_vision.calibration import (
    HEADROOM, MAX_SATURATED, SCALES, apply_scales, calibrate, choose_scale, describe,
    layer_currents, rate_stats, rates_for,
)
from nengo_vision.conversion import convert, layer_activations
from nengo_vision.errors import ModelError
from nengo_vision.models import get_model
from nengo_vision.neurons import LIFActivation, LoihiLIFActivation

pytestmark = pytest.mark.slow  # trains and fine-tunes


def _copy(trained):
    """A fresh copy of the session's trained model, to be changed in place."""
    model, act = trained
    twin = get_model("scnn_mnist").build(type(act)(**act.get_config()))
    twin.set_weights(model.get_weights())
    return twin


def _saturated(act, currents, scale):
    rates = rates_for(act, currents, scale)
    active = rates[rates > 0]
    return np.mean(active >= HEADROOM * act.max_rate)


def test_stats_of_known_rates():
    rates = np.array([[0, 10, 0, 300], [0, 30, 0, 320]], dtype=float)
    stats = rate_stats(rates, max_rate=1000 / 3)
    assert stats["mean_hz"] == pytest.approx(660 / 8)
    assert stats["silent"] == 0.5  # two of four neurons never fire
    assert stats["saturated"] == 0.5  # 300 and 320 Hz are >= 90 % of 333 Hz


@pytest.mark.parametrize("act", [LIFActivation(), LoihiLIFActivation()])
def test_scale_reaches_a_modest_target(act):
    # currents of a layer that fires at a few Hz: a target of 40 Hz is reachable
    currents = np.random.default_rng(0).uniform(0.5, 1.6, 20000)
    scale = choose_scale(act, currents, target_hz=40)
    before = rates_for(act, currents).mean()
    after = rates_for(act, currents, scale).mean()
    assert before < 20 and 1 < scale < SCALES[-1]
    # the grid's nearest: one step either way is further from the target
    i = int(np.argmin(np.abs(SCALES - scale)))
    gaps = [abs(np.log(rates_for(act, currents, s).mean() / 40)) for s in SCALES[i - 1 : i + 2]]
    assert gaps[1] == min(gaps)
    assert after == pytest.approx(40, rel=0.05)


@pytest.mark.parametrize("act, top", [(LIFActivation(), 200.0), (LoihiLIFActivation(), 60.0)])
def test_scale_stops_before_saturation(act, top):
    # a layer whose busiest neurons are near the ceiling already, asked for more
    # (LIF nears its 500 Hz only slowly; Loihi reaches 333 Hz from a current of 20.5)
    currents = np.random.default_rng(1).uniform(0.0, top, 20000)
    assert _saturated(act, currents, 1.0) > MAX_SATURATED
    scale = choose_scale(act, currents, target_hz=1000)
    assert scale < 1
    assert _saturated(act, currents, scale) <= MAX_SATURATED
    i = int(np.argmin(np.abs(SCALES - scale)))
    assert _saturated(act, currents, SCALES[i + 1]) > MAX_SATURATED


def test_measured_currents_give_the_keras_activations(trained, test_digits):
    model, _ = trained
    x, _ = test_digits
    currents = layer_currents(model, x[:20], batch_size=7)
    for name, act in layer_activations(model).items():
        keras_out = tf.keras.Model(model.input, model.get_layer(name).output)(x[:20]).numpy()
        np.testing.assert_allclose(
            rates_for(act, currents[name]) * act.amplitude,
            keras_out.reshape(20, -1), rtol=1e-5, atol=1e-6,
        )


def test_calibration_moves_each_layer_toward_the_target(trained, mnist, tmp_path, test_digits):
    (x_train, y_train), _ = mnist
    x, y = test_digits
    model = _copy(trained)
    base = tmp_path / "base.npz"
    info = calibrate(model, x_train[:2000], y_train[:2000], 60.0, base, n_measure=500,
                     epochs=0, log=lambda *a: None)
    assert list(info["scales"]) == ["conv0", "conv1", "conv2"]
    for name, scale in info["scales"].items():
        before, after = info["before"][name], info["after"][name]
        # 60 Hz is within every layer's reach: its scale is inside the grid, not
        # held back by saturation (measured: 4, 1.54 and 0.5, none saturating)
        assert SCALES[0] < scale < SCALES[-1]
        assert after["saturated"] < MAX_SATURATED / 2
        # so each layer ends nearer the target, and near it: without fine-tuning
        # the new rates are those predicted, to the grid's 4 % steps (measured:
        # 28, 66 and 113 Hz before, 60.2 to 60.5 Hz after)
        assert abs(np.log(after["mean_hz"] / 60)) < abs(np.log(before["mean_hz"] / 60))
        assert after["mean_hz"] == pytest.approx(60, rel=0.05)
        act = model.get_layer(name).activation
        assert act.gain == pytest.approx(10.0 * scale, rel=1e-3)
    assert info["scales"]["conv0"] > 1  # the first layer fires least
    assert len(describe(info)) == 4
    # the calibrated model still classifies, and converts layer by layer
    ann = get_backend("keras").run(context((model, None), n_steps=3, synapse=None), x[:50])
    assert np.mean(ann.traces[:, -1].argmax(-1) == y[:50]) > 0.85
    rate = get_backend("nengo-dl-rate").run(context((model, None), n_steps=3, synapse=None), x[:50])
    np.testing.assert_allclose(rate.traces[:, -1], ann.traces[:, -1], rtol=1e-3, atol=1e-3)
    cn = convert(model)
    for name, neurons in cn.layers.items():
        gain = np.ravel(neurons.ensemble.gain.options)[0]
        assert gain == pytest.approx(model.get_layer(name).activation.gain, rel=1e-6)


def test_fine_tuning_is_cached(trained, mnist, tmp_path):
    (x_train, y_train), _ = mnist
    relabelled = y_train[:1000].copy()
    relabelled[:100] = (relabelled[:100] + 1) % 10
    runs = []
    for labels in (y_train[:1000], y_train[:1000], relabelled):
        model = _copy(trained)
        info = calibrate(model, x_train[:1000], labels, 60.0, tmp_path / "b.npz",
                         n_measure=300, epochs=1, log=lambda *a: None)
        runs.append((info, model.get_weights()))
    assert not runs[0][0]["fine_tune"]["cached"] and runs[1][0]["fine_tune"]["cached"]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][0]["after"] == runs[1][0]["after"]
    # other digits to fine-tune on: fine-tuned anew, into another file
    other = runs[2][0]["fine_tune"]
    assert not other["cached"] and other["cache"] != runs[0][0]["fine_tune"]["cache"]


def _dense(use_bias):
    """MNIST into 32 LIF neurons (bias or none) into 10 outputs, random weights and bias."""
    L = tf.keras.layers
    inp = tf.keras.Input((28, 28, 1))
    hidden = L.Dense(32, activation=LIFActivation(), use_bias=use_bias, name="hidden")
    model = tf.keras.Model(inp, L.Dense(10, name="out")(hidden(L.Flatten()(inp))))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.1, w.shape) for w in model.get_weights()])
    return model


def test_scaling_keeps_the_threshold(test_digits):
    """Scaled by s, the current above threshold is s times what it was."""
    x, _ = test_digits
    model = _dense(use_bias=True)
    before = layer_currents(model, x[:50])["hidden"]
    assert (before > 1).any() and (before < 1).any()  # neurons on both sides
    apply_scales(model, {"hidden": 2.0})
    after = layer_currents(model, x[:50])["hidden"]
    np.testing.assert_allclose(after - 1, 2 * (before - 1), rtol=1e-5, atol=1e-5)


def test_layer_without_bias_is_refused(mnist, tmp_path):
    """Without a bias, scaling by s would move the threshold from J = 1 to J = 1 / s."""
    (x_train, y_train), _ = mnist
    model = _dense(use_bias=False)
    weights = model.get_weights()
    expected = (
        "cannot calibrate firing rates of hidden: scaling a layer without a bias "
        "(use_bias=False) would move its neurons' threshold; give it use_bias=True, "
        "or run without --target-rate"
    )
    with pytest.raises(ModelError) as e:
        calibrate(model, x_train[:200], y_train[:200], 60.0, tmp_path / "base.npz",
                  n_measure=100, epochs=0, log=lambda *a: None)
    assert str(e.value) == expected
    with pytest.raises(ModelError) as e:
        apply_scales(model, {"hidden": 2.0})
    assert str(e.value) == expected
    # refused before anything changed
    assert model.get_layer("hidden").activation.gain == LIFActivation().gain
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.iterdir())
