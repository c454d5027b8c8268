import nengo
import numpy as np
import pytest
import tensorflow as tf

from nengo_vision.neurons import LIFActivation


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


def test_gradient_is_finite_and_positive_below_threshold():
    act = LIFActivation(gain=1.0)
    x = tf.constant([-500.0, -5.0, 0.0, 0.99, 1.01, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = act(x)
    grad = tape.gradient(y, x).numpy()
    assert np.all(np.isfinite(grad))
    assert np.all(grad > 0)  # silent neurons can still learn


def test_spiking_neuron_mean_rate_matches_rate():
    act = LIFActivation(gain=1.0)
    neuron = act.spiking_neuron()
    assert isinstance(neuron, nengo.LIF)
    j = np.array([0.5, 1.5, 3.0, 10.0])
    with nengo.Network() as net:
        ens = nengo.Ensemble(4, 1, neuron_type=neuron, gain=np.ones(4), bias=j)
        p = nengo.Probe(ens.neurons)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run(2.0)
    measured = act.rates_hz(sim.data[p].mean(0))
    expected = act.rates_hz(act(tf.constant(j, dtype=tf.float32)).numpy())
    assert np.allclose(measured, expected, atol=1.0)
