import nengo
import nengo_dl
import numpy as np

from nengo_vision.conversion import convert, readout, tile_images


def test_rate_network_matches_keras_exactly(trained, test_digits):
    """Converted with LIFRate neurons, the network computes the Keras function."""
    model, act = trained
    x, _ = test_digits
    images = x[:20]
    cn = convert(model, act, spiking=False)
    with nengo_dl.Simulator(cn.net, minibatch_size=20, progress_bar=False) as sim:
        out = sim.predict_on_batch({cn.input: tile_images(images, 1)})
    np.testing.assert_allclose(
        out[cn.output][:, -1], model.predict(images, verbose=0), rtol=1e-3, atol=1e-3
    )


def test_biases_are_folded_into_ensembles(trained):
    model, act = trained
    cn = convert(model, act)
    # no bias node or relay feeds a neuron layer, and no Sparse transform is left
    # (nengo-loihi refuses them between host and chip); only the input does
    feeding_neurons = {
        c.pre_obj for c in cn.net.all_connections
        if isinstance(c.post_obj, nengo.ensemble.Neurons) and isinstance(c.pre_obj, nengo.Node)
    }
    assert feeding_neurons == {cn.input}
    assert not any(isinstance(c.transform, nengo.Sparse) for c in cn.net.all_connections)
    assert not any("bias_relay" in (n.label or "") for n in cn.net.all_nodes)
    ens = cn.layers["conv1"].ensemble
    keras_bias = model.get_layer("conv1").bias.numpy()
    # each channel's bias, times the gain, on every spatial position (channels last)
    np.testing.assert_allclose(
        np.reshape(ens.bias, (12 * 12, 64)), np.tile(keras_bias * act.gain, (144, 1)),
        rtol=1e-6,
    )


def test_probes_on_every_neuron_layer(trained):
    cn = convert(*trained)
    assert list(cn.layer_probes) == ["conv0", "conv1", "conv2"]
    assert [p.target for p in cn.layer_probes.values()] == list(cn.layers.values())
    assert cn.output.synapse is None


def test_readout_filters_each_digit_from_zero():
    traces = np.ones((2, 30, 3))
    filtered = readout(traces, nengo.Lowpass(0.01))
    assert np.allclose(filtered[0], filtered[1])
    assert filtered[0, 0, 0] < filtered[0, -1, 0] < 1
    assert readout(traces, None) is not None and np.array_equal(readout(traces, None), traces)
