import nengo
import nengo_dl
import numpy as np

from nengo_vision.conversion import convert
from nengo_vision.stimulus import tile_images
from nengo_vision.metrics import readout


def test_rate_network_matches_keras_exactly(trained, test_digits):
    """Converted with LIFRate neurons, the network computes the Keras function."""
    model, act = trained
    x, _ = test_digits
    images = x[:20]
    cn = convert(model, spiking=False)
    with nengo_dl.Simulator(cn.net, minibatch_size=20, progress_bar=False) as sim:
        out = sim.predict_on_batch({cn.input: tile_images(images, 1)})
    np.testing.assert_allclose(
        out[cn.output][:, -1], model.predict(images, verbose=0), rtol=1e-3, atol=1e-3
    )


def test_biases_are_folded_into_ensembles(trained):
    model, act = trained
    cn = convert(model)
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
    cn = convert(trained[0])
    assert list(cn.layer_probes) == ["conv0", "conv1", "conv2"]
    assert [p.target for p in cn.layer_probes.values()] == list(cn.layers.values())
    assert cn.output.synapse is None


def test_readout_filters_each_digit_from_zero():
    traces = np.ones((2, 30, 3))
    filtered = readout(traces, nengo.Lowpass(0.01))
    assert np.allclose(filtered[0], filtered[1])
    assert filtered[0, 0, 0] < filtered[0, -1, 0] < 1
    assert np.array_equal(readout(traces, None), traces)


def _bias_net():
    with nengo.Network(seed=1) as net:
        inp = nengo.Node(np.linspace(-1, 1, 4))
        ens = nengo.Ensemble(6, 1, neuron_type=nengo.LIF(initial_state={"voltage": nengo.dists.Choice([0])}),
                             gain=nengo.dists.Choice([2.0]), bias=nengo.dists.Choice([0.5]))
        nengo.Connection(inp, ens.neurons, transform=np.ones((6, 4)) * 0.3, synapse=None)
        const = nengo.Node([1.0])
        relay = nengo.Node(size_in=2)
        nengo.Connection(const, relay, transform=[[0.4], [-0.2]], synapse=None)
        nengo.Connection(relay, ens.neurons, synapse=None, transform=nengo.Sparse(
            (6, 2), indices=[(i, i % 2) for i in range(6)]))
        direct = nengo.Node([0.1, 0.2, 0.3])
        nengo.Connection(direct, ens.neurons[:3], synapse=None)
        # a relay that also feeds a probe-able node must stay
        shared = nengo.Node(size_in=1)
        nengo.Connection(const, shared, synapse=None)
        nengo.Connection(shared, ens.neurons[5], synapse=None)
        keep = nengo.Node(size_in=1)
        nengo.Connection(shared, keep, synapse=None)
        p = nengo.Probe(ens.neurons)
    return net, inp, p


def test_fold_biases_keeps_the_network_the_same():
    from nengo_vision.conversion import fold_biases

    net, inp, p = _bias_net()
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(200)
    before = sim.data[p]
    assert fold_biases(net, exclude={inp}) == 2  # the relay and the direct node
    assert not any(isinstance(c.transform, nengo.Sparse) for c in net.all_connections)
    assert len(net.nodes) == 4  # input, const (still feeds shared), shared, keep
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(200)
    np.testing.assert_array_equal(sim.data[p], before)
    assert before.sum() > 0
