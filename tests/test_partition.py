import math

import nengo
import nengo_loihi
import numpy as np
import pytest
from nengo_loihi.block import MAX_COMPARTMENTS
from nengo_loihi.builder.validate import validate_model

from nengo_vision.conversion import ConvertedNetwork
from nengo_vision.errors import UsageError
from nengo_vision.partition import candidate_blocks, partition


@pytest.mark.parametrize("shape", [(26, 26, 32), (12, 12, 64), (5, 5, 128), (10,), (3, 40, 40)])
def test_candidates_fit_a_core_and_come_fewest_cores_first(shape):
    blocks = candidate_blocks(shape)
    assert blocks and all(math.prod(b) <= MAX_COMPARTMENTS for b in blocks)
    cores = [math.prod(math.ceil(e / b) for e, b in zip(shape, blk)) for blk in blocks]
    assert cores == sorted(cores)
    assert cores[0] >= math.ceil(math.prod(shape) / MAX_COMPARTMENTS)
    # a layer that fits one core stays whole
    if math.prod(shape) <= MAX_COMPARTMENTS:
        assert blocks[0] == tuple(shape)


def _conv_chain(in_shape, layers):
    """A Nengo network of LIF convolution layers: [(filters, kernel, stride), ...]."""
    with nengo.Network(seed=0) as net:
        inp = nengo.Node(np.zeros(math.prod(in_shape)))
        shape, pre, neurons, shapes = in_shape, inp, {}, {}
        for i, (filters, kernel, stride) in enumerate(layers):
            conv = nengo.Convolution(filters, shape, kernel_size=(kernel, kernel),
                                     strides=(stride, stride), init=nengo.dists.Uniform(-0.1, 0.1))
            ens = nengo.Ensemble(conv.output_shape.size, 1, label=f"layer{i}.0",
                                 neuron_type=nengo.LIF(), gain=np.ones(conv.output_shape.size),
                                 bias=np.zeros(conv.output_shape.size))
            nengo.Connection(pre, ens.neurons, transform=conv, synapse=None)
            pre, shape = ens.neurons, conv.output_shape.shape
            neurons[f"layer{i}"], shapes[f"layer{i}"] = ens.neurons, shape
    return ConvertedNetwork(net, inp, None, neurons, {}, shapes, None)


@pytest.mark.parametrize("layers", [
    [(8, 3, 1), (32, 3, 2), (64, 3, 1)],
    [(4, 5, 1), (16, 3, 1), (16, 1, 1)],
    [(16, 3, 1), (128, 3, 2)],
])
def test_partition_passes_nengo_loihi_validation(layers):
    cn = _conv_chain((20, 20, 1), layers)
    placement = partition(cn, off_chip=["layer0"])
    assert placement.on_chip["layer0"] is False
    model = nengo_loihi.builder.Model()
    model.build(cn.net)
    validate_model(model)  # must not raise
    for name, block in placement.block_shapes.items():
        assert math.prod(block) <= MAX_COMPARTMENTS


def test_layer_too_big_for_any_split_names_it():
    # a dense layer reading 7200 host neurons: every block of it needs 7200 input
    # axons, more than a core's 4096, however finely it is split
    with nengo.Network(seed=0) as net:
        inp = nengo.Node(np.zeros(4))
        big = nengo.Ensemble(7200, 1, label="encoder.0", neuron_type=nengo.LIF(),
                             gain=np.ones(7200), bias=np.zeros(7200))
        small = nengo.Ensemble(10, 1, label="dense.0", neuron_type=nengo.LIF(),
                               gain=np.ones(10), bias=np.zeros(10))
        nengo.Connection(inp, big.neurons, transform=np.ones((7200, 4)), synapse=None)
        nengo.Connection(big.neurons, small.neurons, transform=np.ones((10, 7200)), synapse=None)
    cn = ConvertedNetwork(net, inp, None, {"encoder": big.neurons, "dense": small.neurons},
                          {}, {"encoder": (7200,), "dense": (10,)}, None)
    with pytest.raises(UsageError) as e:
        partition(cn, off_chip=["encoder"])
    assert str(e.value) == (
        "layer dense does not fit on a Loihi core even split to one neuron per core: "
        "Input axons (7200) exceeded max (4096); make the layer or its input smaller"
    )
