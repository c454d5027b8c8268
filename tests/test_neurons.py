import nengo
import numpy as np
import pytest
import tensorflow as tf

from nengo_loihi.neurons import LoihiLIF

from nengo_vision.neurons import LIFActivation, LoihiLIFActivation


@pytest.mark.parametrize("gain", [1.0, 3.0])
def test_forward_pass_is_nengo_lif_rate(gain):
    act = LIFActivation(gain=gain)
    x = np.linspace(-1, 4, 101).astype(np.float32)
    ours = act(tf.constant(x)).numpy()
    # what the converted ensemble computes: gain on the input, amplitude * gain / gain
    neuron = act.rate_neuron()
    theirs = neuron.rates(x, gain=np.full(1, gain), bias=np.zeros(1))[:, 0] / gain
    assert np.allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert ours[x * gain <= 1].max() == 0 and ours[-1] > 0


@pytest.mark.parametrize("cls", [LIFActivation, LoihiLIFActivation])
def test_gradient_is_finite_and_positive_below_threshold(cls):
    act = cls(gain=1.0)
    x = tf.constant([-500.0, -5.0, 0.0, 0.99, 1.01, 3.0, 100.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = act(x)
    grad = tape.gradient(y, x).numpy()
    assert np.all(np.isfinite(grad))
    assert np.all(grad > 0)  # silent neurons can still learn


@pytest.mark.parametrize("cls, neuron_type", [
    (LIFActivation, nengo.LIF), (LoihiLIFActivation, LoihiLIF),
])
def test_spiking_neuron_mean_rate_matches_rate(cls, neuron_type):
    act = cls(gain=1.0)
    neuron = act.spiking_neuron()
    assert type(neuron) is neuron_type
    j = np.array([0.5, 1.05, 1.5, 3.0, 10.0, 1000.0])
    with nengo.Network() as net:
        ens = nengo.Ensemble(len(j), 1, neuron_type=neuron, gain=np.ones(len(j)), bias=j)
        p = nengo.Probe(ens.neurons)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run(2.0)
    measured = act.rates_hz(sim.data[p].mean(0))
    expected = act.rates_hz(act(tf.constant(j, dtype=tf.float32)).numpy())
    assert np.allclose(measured, expected, atol=1.0)
    # strongly driven, the neuron fires at its ceiling (Loihi: one spike per 3 steps)
    assert measured[-1] == pytest.approx(act.max_rate, rel=0.02)


@pytest.mark.parametrize("gain", [1.0, 10.0])
def test_loihi_forward_pass_is_loihi_lif_rates(gain):
    act = LoihiLIFActivation(gain=gain)
    x = np.linspace(-0.5, 30 / gain, 301).astype(np.float32)
    ours = act(tf.constant(x)).numpy()
    neuron = act.spiking_neuron()
    assert isinstance(neuron, LoihiLIF)
    theirs = neuron.rates(x, gain=np.full(1, gain), bias=np.zeros(1))[:, 0] / gain
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    # a staircase: whole-step periods, at most one spike every tau_ref/dt + 1 steps
    periods = 1 / act.rates_hz(ours[ours > 0]) / act.dt
    np.testing.assert_allclose(periods, np.round(periods), atol=1e-3)
    assert act.max_rate == pytest.approx(1000 / 3)
    assert act.rates_hz(ours).max() == pytest.approx(act.max_rate)


def test_scaled_neuron_keeps_its_threshold_and_fires_as_predicted():
    act = LIFActivation(gain=10.0, amplitude=0.002)
    twice = act.scaled(2.0)
    assert (twice.gain, twice.amplitude) == (20.0, 0.001)
    assert type(LoihiLIFActivation().scaled(2.0)) is LoihiLIFActivation
    x = np.linspace(-0.2, 0.5, 71).astype(np.float32)
    shifted = x - (2.0 - 1) / (act.gain * 2.0)  # the bias move of calibration
    before, after = act(tf.constant(x)).numpy(), twice(tf.constant(shifted)).numpy()
    # the same inputs make it fire, at the rate of twice the current above threshold
    assert np.array_equal(before > 0, after > 0)
    j_above = act.gain * x - 1
    expected = act.rate_of_current(tf.constant(1 + 2 * j_above)).numpy()
    np.testing.assert_allclose(twice.rates_hz(after), expected, rtol=1e-4)
    # between threshold and saturation that is about 1.3 to 2 times the spikes
    mid = (act.rates_hz(before) > 20) & (act.rates_hz(before) < 100)
    ratio = twice.rates_hz(after)[mid] / act.rates_hz(before)[mid]
    assert mid.sum() > 5 and np.all((ratio > 1.3) & (ratio <= 2.0))


@pytest.mark.parametrize("cls", [LIFActivation, LoihiLIFActivation])
def test_current_noise_is_added_in_training_only(cls):
    act = cls(gain=10.0, noise=1.5)
    inp = tf.keras.Input((2000,))
    # identity weights: the current is 10 * (0.15 + 0.01) = 1.6 for every neuron
    out = tf.keras.layers.Dense(2000, activation=act, kernel_initializer="identity",
                                bias_initializer=tf.keras.initializers.Constant(0.01))(inp)
    model = tf.keras.Model(inp, out)
    x = np.full((1, 2000), 0.15, np.float32)
    exact = cls(gain=10.0)(tf.constant(0.16)).numpy()
    assert np.allclose(model.predict(x, verbose=0), exact)
    assert np.allclose(model(x).numpy(), exact)
    tf.random.set_seed(0)
    noisy = model(x, training=True).numpy()[0]
    # the current is 1.6 + N(0, 1.5): below threshold (silent) with probability
    # P(z < -0.4) = 0.345, 2,000 neurons: 690 +- 21
    assert 600 < np.sum(noisy == 0) < 780
    assert np.std(noisy) > 0.5 * exact


def test_current_noise_is_part_of_the_config_only_when_set():
    assert "noise" not in LIFActivation().get_config()
    assert LIFActivation(noise=0.5).get_config()["noise"] == 0.5
    assert LoihiLIFActivation(**LIFActivation(noise=0.5).get_config()).noise == 0.5
    assert LIFActivation(noise=0.5).scaled(2.0).noise == 0.5  # in threshold currents
