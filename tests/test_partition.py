import json
import math

import nengo
import nengo_loihi
import numpy as np
import pytest
from nengo_loihi.block import MAX_COMPARTMENTS
from nengo_loihi.builder.validate import validate_model

from nengo_vision.conversion import ConvertedNetwork
from nengo_vision.errors import PlacementError
from nengo_vision.partition import (
    CORES_PER_CHIP,
    MAX_CHIPS,
    RESOURCES,
    candidate_blocks,
    check_fits_chips,
    chip_capacity,
    describe,
    partition,
    resource_report,
)


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


def _chain(in_shape, layers):
    """A Nengo network of LIF layers, each reading the one before.

    ``layers`` holds ``(filters, kernel, stride)`` for a convolution or an int ``n``
    for a dense layer of ``n`` neurons; layer ``i`` is named ``layer{i}``.
    """
    rng = np.random.RandomState(0)
    with nengo.Network(seed=0) as net:
        inp = nengo.Node(np.zeros(math.prod(in_shape)))
        shape, pre, neurons, shapes = in_shape, inp, {}, {}
        for i, spec in enumerate(layers):
            if isinstance(spec, int):
                transform = rng.uniform(-0.1, 0.1, size=(spec, math.prod(shape)))
                shape = (spec,)
            else:
                filters, kernel, stride = spec
                transform = nengo.Convolution(
                    filters, shape, kernel_size=(kernel, kernel), strides=(stride, stride),
                    init=nengo.dists.Uniform(-0.1, 0.1),
                )
                shape = transform.output_shape.shape
            n = math.prod(shape)
            ens = nengo.Ensemble(n, 1, label=f"layer{i}.0", neuron_type=nengo.LIF(),
                                 gain=np.ones(n), bias=np.zeros(n))
            nengo.Connection(pre, ens.neurons, transform=transform, synapse=None)
            pre = ens.neurons
            neurons[f"layer{i}"], shapes[f"layer{i}"] = ens.neurons, shape
    return ConvertedNetwork(net, inp, None, neurons, {}, shapes, None)


@pytest.mark.parametrize("in_shape, layers", [
    ((20, 20, 1), [(8, 3, 1), (32, 3, 2), (64, 3, 1)]),
    ((20, 20, 1), [(4, 5, 1), (16, 3, 1), (16, 1, 1)]),
    ((20, 20, 1), [(16, 3, 1), (128, 3, 2)]),
    # dense layer reading 4000 host neurons: synapse memory, not compartments, splits it
    ((4,), [4000, 100]),
    # 1x1 convolution with many filters
    ((20, 20, 1), [(8, 3, 1), (64, 1, 1)]),
    # wide and shallow: 64x64 pixels, 4 channels
    ((66, 66, 1), [(2, 3, 1), (4, 3, 1)]),
    # narrow and deep: 2x2 pixels, 128 channels, fan-in 288
    ((6, 6, 1), [(32, 3, 1), (128, 3, 1)]),
], ids=["conv3", "conv-1x1-last", "conv-stride", "dense-fan-in-4000", "conv-1x1",
        "wide-shallow", "narrow-deep"])
def test_partition_passes_nengo_loihi_validation(in_shape, layers):
    cn = _chain(in_shape, layers)
    placement = partition(cn, off_chip=["layer0"])
    assert placement.on_chip["layer0"] is False
    model = nengo_loihi.builder.Model()
    model.build(cn.net)
    validate_model(model)  # must not raise
    for block in model.blocks:
        assert all(used <= limit for used, limit in block.utilization().values())
    for name, block in placement.block_shapes.items():
        assert math.prod(block) <= MAX_COMPARTMENTS
    assert len(model.blocks) <= CORES_PER_CHIP


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
    with pytest.raises(PlacementError) as e:
        partition(cn, off_chip=["encoder"])
    assert str(e.value) == (
        "layer dense does not fit on a Loihi core even split to one neuron per core: "
        "Input axons (7200) exceeded max (4096); make the layer or its input smaller"
    )


def test_network_bigger_than_a_chip_fails_before_building():
    # 64x64x64 and 31x31x64 neurons on chip: at least 256 + 61 cores of 1024
    # compartments, far more than one chip's 128; refused from the block shapes alone
    cn = _chain((66, 66, 1), [(4, 1, 1), (64, 3, 1), (64, 3, 2)])
    assert cn.shapes["layer1"] == (64, 64, 64) and cn.shapes["layer2"] == (31, 31, 64)
    with pytest.raises(PlacementError) as e:
        partition(cn, off_chip=["layer0"])
    assert str(e.value) == (
        "the network needs at least 318 cores, more than 1 Loihi chip's 128: "
        "layer1 takes 256 cores, layer2 62; give --chips 3, or make the largest layers "
        "smaller or move them to the host"
    )


def test_more_chips_hold_more_cores_and_the_error_names_the_chips_needed():
    # the 318-core network above: 2 chips are still too few, 3 would do
    cn = _chain((66, 66, 1), [(4, 1, 1), (64, 3, 1), (64, 3, 2)])
    with pytest.raises(PlacementError) as e:
        partition(cn, off_chip=["layer0"], chips=2)
    assert str(e.value) == (
        "the network needs at least 318 cores, more than 2 Loihi chips' 256: "
        "layer1 takes 256 cores, layer2 62; give --chips 3, or make the largest layers "
        "smaller or move them to the host"
    )
    # beyond the most chips --chips takes, only the other advice is left
    with pytest.raises(PlacementError) as e:
        check_fits_chips({"big": MAX_CHIPS * 128 + 1}, chips=MAX_CHIPS)
    assert str(e.value) == (
        f"the network needs at least {MAX_CHIPS * 128 + 1} cores, more than {MAX_CHIPS} "
        f"Loihi chips' {MAX_CHIPS * 128}: big takes {MAX_CHIPS * 128 + 1} cores; make "
        f"the largest layers smaller or move them to the host"
    )
    check_fits_chips({"a": 200, "b": 56}, chips=2)  # exactly two chips: fits


def test_chip_limit_is_checked_as_layers_are_split_further():
    # the dense layer fits 1 core by compartments; synapse memory then splits it
    # into more cores than a 2-core chip has (4: the one-core block used more
    # than 3 cores' synapse memory, so blocks of 3 cores are not even built)
    cn = _chain((4,), [4000, 100])
    with pytest.raises(PlacementError) as e:
        partition(cn, off_chip=["layer0"], cores_per_chip=2)
    assert str(e.value) == (
        "the network needs at least 4 cores, more than 1 Loihi chip's 2: "
        "layer1 takes 4 cores; give --chips 2, or make the largest layers smaller or "
        "move them to the host"
    )


def test_on_chip_objects_outside_the_layers_count_too():
    cn = _chain((20, 20, 1), [(8, 3, 1), (32, 3, 2)])  # layer1: 8x8x32, 2 cores
    with cn.net:
        nengo.Ensemble(1500, 1, label="extra")  # on chip by default: 2 more cores
    with pytest.raises(PlacementError) as e:
        partition(cn, off_chip=["layer0"], cores_per_chip=3)
    assert str(e.value) == (
        "the network needs at least 4 cores, more than 1 Loihi chip's 3: "
        "layer1 takes 2 cores, other on-chip objects 2; give --chips 2, or make the "
        "largest layers smaller or move them to the host"
    )


@pytest.fixture(scope="module")
def fitting_report():
    cn = _chain((20, 20, 1), [(8, 3, 1), (32, 3, 2), (64, 3, 1)])
    placement = partition(cn, off_chip=["layer0"])
    with nengo_loihi.Simulator(cn.net, target="sim") as sim:
        return resource_report(sim, cn, placement)


def test_report_totals_are_the_sum_of_the_layers_and_fit_a_chip(fitting_report):
    report = json.loads(json.dumps(fitting_report))  # it goes into results.json
    assert report == fitting_report
    chip = [r for name, r in report.items() if name != "totals" and r["where"] == "chip"]
    totals, capacity = report["totals"], chip_capacity()
    assert capacity == dict(cores=128, compartments=128 * 1024, synapse_bits=128 * 2**20,
                            in_axons=128 * 4096, out_axons=128 * 4096)
    for key in RESOURCES:
        assert totals[key] == sum(r[key] for r in chip) > 0
        assert totals[f"{key}_per_chip"] == capacity[key]
        assert totals[f"{key}_fraction"] == totals[key] / capacity[key] < 1
    assert report["layer0"] == dict(where="host", neurons=18 * 18 * 8)
    # one chip: every axon between cores stays on it
    assert totals["chips"] == totals["chips_allowed"] == 1
    assert totals["chip_cores"] == [totals["cores"]]
    assert totals["interchip_axons"] == 0 < totals["intrachip_axons"]
    assert totals["interchip_fraction"] == 0.0


@pytest.fixture(scope="module")
def two_core_chips_report():
    """The fitting network (layer1 2 cores, layer2 5 once built) on chips of 2
    cores: 4 chips."""
    cn = _chain((20, 20, 1), [(8, 3, 1), (32, 3, 2), (64, 3, 1)])
    placement = partition(cn, off_chip=["layer0"], cores_per_chip=2, chips=4)
    assert placement.chips == 4 and placement.cores_per_chip == 2
    with nengo_loihi.Simulator(cn.net, target="sim") as sim:
        return resource_report(sim, cn, placement)


def test_blocks_go_to_chips_by_nengo_loihis_greedy_allocator(two_core_chips_report,
                                                              fitting_report):
    report = two_core_chips_report
    assert json.loads(json.dumps(report)) == report
    t = report["totals"]
    assert report["layer1"]["cores"] == 2 and report["layer2"]["cores"] == 5
    assert fitting_report["totals"]["cores"] == 7
    # blocks in build order, each chip filled before the next: layer1's two
    # blocks take chip 0, layer2's five chips 1 to 3
    assert t["chips"] == t["chips_allowed"] == 4 and t["chip_cores"] == [2, 2, 2, 1]
    assert t["cores_per_chip"] == 2 and t["cores_fraction"] == 7 / 8
    # so every axon from layer1 into layer2 crosses chips: the same axons the
    # one-chip placement keeps on its chip
    assert t["intrachip_axons"] == 0 and t["interchip_fraction"] == 1.0
    assert t["interchip_axons"] == fitting_report["totals"]["intrachip_axons"]


def test_cores_found_only_by_building_are_checked_against_the_chips_too():
    # layer2's 6x6x64 neurons fit 3 cores by compartments, so 5 cores pass the
    # first check against 3 chips of 2; built, layer2 needs 5 (its synapse
    # memory), 7 in all
    cn = _chain((20, 20, 1), [(8, 3, 1), (32, 3, 2), (64, 3, 1)])
    with pytest.raises(PlacementError) as e:
        partition(cn, off_chip=["layer0"], cores_per_chip=2, chips=3)
    assert str(e.value) == (
        "the network needs at least 7 cores, more than 3 Loihi chips' 6: layer2 takes "
        "5 cores, layer1 2; give --chips 4, or make the largest layers smaller or move "
        "them to the host"
    )


def test_describe_shows_each_chip_and_what_crosses_them(two_core_chips_report):
    t = two_core_chips_report["totals"]
    assert describe(two_core_chips_report)[-1] == (
        "  7 cores on 4 chips of 2 (2 + 2 + 2 + 1; 87.5 %); 100.0 % of the axons between "
        "cores cross chips; of their capacity: compartments "
        f"{100 * t['compartments_fraction']:.1f} %, synapse memory "
        f"{100 * t['synapse_bits_fraction']:.1f} %, input axons "
        f"{100 * t['in_axons_fraction']:.1f} %, output axons "
        f"{100 * t['out_axons_fraction']:.1f} %"
    )


def test_describe_is_a_table_with_the_chip_totals(fitting_report):
    lines = describe(fitting_report)
    t = fitting_report["totals"]
    assert lines[0].split() == ["layer", "where", "neurons", "cores", "block",
                                "compartments", "synapse", "KiB", "axons", "in/out"]
    assert lines[1].split() == ["layer0", "host", "2592", "-", "-", "-", "-", "-"]
    layer1 = fitting_report["layer1"]
    assert lines[2].split()[:4] == ["layer1", "chip", "2048", str(layer1["cores"])]
    assert lines[2].split()[-1] == f"{layer1['in_axons']}/{layer1['out_axons']}"
    assert lines[4].split()[:3] == ["total", str(t["cores"]), str(t["compartments"])]
    assert lines[5].startswith(
        f"  {t['cores']} of 128 cores ({100 * t['cores'] / 128:.1f} %) of one chip; "
    )


def test_the_real_board_gets_the_chips_and_the_allocator_the_report_uses(monkeypatch):
    """Without NxSDK the board cannot be built here, so the simulator is stood in
    for: nengo-loihi's own defaults (2 chips, GreedyInterchip) would place the
    network otherwise than the report says."""
    from nengo_loihi.hardware.allocators import Greedy

    from nengo_vision.backends import RunContext
    from nengo_vision.backends.loihi import build_simulator
    from nengo_vision.models import get_model
    from nengo_vision.neurons import LIFActivation

    seen = {}

    class Stop(Exception):
        pass

    def simulator(net, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(nengo_loihi, "Simulator", simulator)
    ctx = RunContext(model=get_model("tiny_mnist").build(LIFActivation()), chips=3,
                     progress=False)
    for target, options in (("loihi", True), ("sim", False)):
        seen.clear()
        with pytest.raises(Stop):
            build_simulator(ctx, target)
        assert seen["target"] == target
        if options:
            assert seen["hardware_options"]["n_chips"] == 3
            allocator = seen["hardware_options"]["allocator"]
            assert type(allocator) is Greedy and allocator.cores_per_chip == CORES_PER_CHIP
        else:
            assert seen["hardware_options"] is None  # the emulator takes none


def test_chips_reach_the_backends_from_the_config():
    """Config → pipeline.context → RunContext, which build_simulator places with."""
    from types import SimpleNamespace

    from nengo_vision.config import Config
    from nengo_vision.models import get_model
    from nengo_vision.neurons import LIFActivation
    from nengo_vision.pipeline import context

    from nengo_vision.datasets import get_dataset

    model = get_model("tiny_mnist").build(LIFActivation())
    data = SimpleNamespace(images=np.zeros((1, 28, 28, 1), np.float32),
                           dataset=get_dataset("mnist"))
    assert context(Config(), model, data, log=None).chips == 1
    assert context(Config(chips=5), model, data, log=None).chips == 5
