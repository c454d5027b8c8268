"""The batched engine against nengo-loihi's own emulator: equal arrays, not close ones."""

import nengo
import numpy as np
import pytest

from conftest import context
from nengo_vision.backends import get_backend
from nengo_vision.backends.base import Recording
from nengo_vision.backends.loihi import build_simulator, reset_neuron_state
from nengo_vision.engine import BatchedEmulator, EngineError
from nengo_vision.engine.host import _lif_step
from nengo_vision.harness import run_backends
from nengo_vision.sharding import Cluster, plan

N = 20  # digits, every step of every layer compared
#: digits where the reference runs them one at a time (nengo-loihi's emulator at
#: seconds per digit, nengo's simulator): equality holds digit by digit, so a few
#: digits over batches of 4 (one full, one not) make the claim
N_REF = 6


def voltage_neurons():
    """Four conv2 neurons, in four different cores (blocks of 19 channels), so
    that nengo-loihi reorders the voltage probe's output."""
    return ("conv2", sorted(np.ravel_multi_index(p, (5, 5, 128)) for p in
                            [(4, 4, 0), (3, 1, 40), (1, 3, 80), (0, 0, 120)]))


def reference_and_engine(ctx, images, batch_size):
    """Every layer's spikes, the voltages and the output, from both emulators."""
    sim, cn, report, holder = build_simulator(ctx, "sim")
    probes = list(cn.layer_probes.values()) + [cn.output, cn.voltage_probe]
    with sim:
        # the engine reads the built simulator; nengo-loihi then runs it
        engine = BatchedEmulator(sim, cn.input, batch_size=batch_size)
        ours = {p: [] for p in probes}
        for batch in engine.run(images.reshape(len(images), -1), ctx.n_steps, full=probes):
            for p in probes:
                ours[p].append(batch.data[p])
        theirs = {p: [] for p in probes}
        for i, image in enumerate(images):
            if i:
                reset_neuron_state(sim)
            holder[0] = image.ravel()
            sim.run_steps(ctx.n_steps)
            for p in probes:
                theirs[p].append(sim.data[p].copy())
            sim.clear_probes()
    names = {p: n for n, p in cn.layer_probes.items()}
    names.update({cn.output: "output", cn.voltage_probe: "voltage"})
    return (
        {names[p]: np.concatenate(v) for p, v in ours.items()},
        {names[p]: np.stack(v) for p, v in theirs.items()},
        report,
    )


@pytest.mark.parametrize("fixture, synapse", [("trained", 0.002), ("trained_loihi", None)])
def test_engine_equals_nengo_loihi_emulator(fixture, synapse, request, test_digits):
    """Spikes of every compartment at every step, voltages and output traces:
    array equality, for networks of LIF and of Loihi's neuron (which differ on
    the host: nengo's LIF or LoihiLIF in conv0), filtered and raw spikes (which
    differ on the chip: synapse filters or none), with layers split across
    several cores, in batches that do not divide N_REF. Each of the two paths on
    each side is taken once; the host's neuron and the chip's filter do not
    meet (spikes cross between them), so their four pairings test no more."""
    trained = request.getfixturevalue(fixture)
    x, _ = test_digits
    ctx = context(trained, synapse=synapse, record=Recording(voltage=voltage_neurons()))
    ours, theirs, report = reference_and_engine(ctx, x[:N_REF], batch_size=4)
    assert report["conv1"]["where"] == report["conv2"]["where"] == "chip"
    assert report["conv1"]["cores"] > 1 and report["conv2"]["cores"] > 1
    for name in ("conv0", "conv1", "conv2", "output", "voltage"):
        assert ours[name].shape == theirs[name].shape, name
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    for name in ("conv0", "conv1", "conv2"):
        assert np.count_nonzero(theirs[name]) > 100, name  # they do spike
    assert np.count_nonzero(theirs["voltage"]) > 0


def test_engine_backend_equals_reference_backend(trained, test_digits):
    """The two backends' runs agree to the bit: traces, counts, rasters, voltages."""
    from nengo_vision.harness import choose_recording

    x, _ = test_digits
    record = choose_recording(trained[0], x[:1], n_digits=3)
    ctx = context(trained, record=record, emulator_batch=4)
    ours = get_backend("loihi-emulator").run(ctx, x[:N_REF])
    theirs = get_backend("nengo-loihi-emulator").run(ctx, x[:N_REF])
    np.testing.assert_array_equal(ours.traces, theirs.traces)
    np.testing.assert_array_equal(ours.voltages, theirs.voltages)
    for layer, counts in theirs.spike_counts.items():
        np.testing.assert_allclose(ours.spike_counts[layer], counts, rtol=1e-12)
        np.testing.assert_array_equal(ours.rasters[layer], theirs.rasters[layer])
        assert ours.firing_rates[layer] == pytest.approx(theirs.firing_rates[layer])
    assert ours.placement == theirs.placement


@pytest.mark.parametrize("synapse", [0.002, None])
def test_batched_host_equals_nengo_simulator(trained, test_digits, synapse):
    """The whole converted network on the engine's host (the ``nengo`` backend):
    every layer's spikes at every step, the voltages and the output equal
    ``nengo.Simulator``'s, run digit by digit from a reset."""
    from nengo_vision.conversion import convert

    x, _ = test_digits
    ctx = context(trained, synapse=synapse, record=Recording(voltage=voltage_neurons()))
    cn = convert(ctx.model, spiking=True, synapse=synapse, voltage=ctx.record.voltage)
    holder = [np.zeros(cn.input.size_out)]
    cn.input.output = lambda t: holder[0]
    probes = list(cn.layer_probes.values()) + [cn.output, cn.voltage_probe]
    with nengo.Simulator(cn.net, seed=0, progress_bar=False) as sim:
        engine = BatchedEmulator(sim, cn.input, batch_size=4)
        ours = {p: [] for p in probes}
        for batch in engine.run(x[:N_REF].reshape(N_REF, -1), ctx.n_steps, full=probes):
            for p in probes:
                ours[p].append(batch.data[p])
        theirs = {p: [] for p in probes}
        for image in x[:N_REF]:
            holder[0] = image.ravel()
            sim.run_steps(ctx.n_steps)
            for p in probes:
                theirs[p].append(sim.data[p].copy())
            sim.reset()
    for p in probes:
        a, b = np.concatenate(ours[p]), np.stack(theirs[p])
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b, err_msg=str(p))
    conv2 = np.stack(theirs[cn.layer_probes["conv2"]])
    assert np.count_nonzero(conv2) > 100


def test_dask_local_cluster_gives_the_in_process_traces(trained, test_digits):
    """Shards on worker processes give the in-process run. The inputs are
    Poisson spikes, so each shard must carry its own digits' spikes (seeded by
    their test-set index); held images take the same path with no spikes."""
    from nengo_vision.encodings import get_encoding
    from nengo_vision.harness import choose_recording
    from nengo_vision.stimulus import EncodedSpikes, Inputs

    x, _ = test_digits
    ctx = context(trained, record=choose_recording(trained[0], x[:1], n_digits=3))
    spikes = EncodedSpikes(get_encoding("poisson"), rate=500.0, seed=0, n_steps=ctx.n_steps)
    inputs = Inputs(x[:N], spikes)
    local = run_backends(ctx, ["keras", "loihi-emulator"], inputs)
    sharded = run_backends(ctx, ["keras", "loihi-emulator"], inputs, cluster=Cluster(workers=2))
    for name in local:
        np.testing.assert_array_equal(sharded[name].traces, local[name].traces, err_msg=name)
        for layer, counts in local[name].spike_counts.items():
            np.testing.assert_allclose(sharded[name].spike_counts[layer], counts, rtol=1e-9)
    emu, emu_local = sharded["loihi-emulator"], local["loihi-emulator"]
    for layer in emu_local.rasters:
        np.testing.assert_array_equal(emu.rasters[layer], emu_local.rasters[layer])
    np.testing.assert_array_equal(emu.voltages, emu_local.voltages)
    # the chip's counts per digit and step, merged in digit order
    assert emu.step_counts.keys() == emu_local.step_counts.keys()
    for name, counts in emu_local.step_counts.items():
        np.testing.assert_array_equal(emu.step_counts[name], counts, err_msg=name)


def test_shards_cover_every_digit_once():
    """Cut at the same digits whatever the run's length (so that a run
    continues from another's kept shards), smaller where workers need more."""
    from dataclasses import replace

    from nengo_vision.backends import RunContext

    ctx = RunContext(model=None, n_steps=30, emulator_batch=100, batch_size=50)
    emulator, nengo_dl = get_backend("loihi-emulator"), get_backend("nengo-dl")
    assert plan(emulator, ctx, 10000) == [(0, 5000), (5000, 10000)]
    assert plan(emulator, ctx, 7500) == [(0, 5000), (5000, 7500)]
    assert plan(emulator, ctx, 20000, n_workers=2) == plan(emulator, ctx, 20000)
    assert plan(emulator, ctx, 40, n_workers=2) == [(0, 10), (10, 20), (20, 30), (30, 40)]
    assert plan(emulator, ctx, 3, n_workers=4) == [(0, 1), (1, 2), (2, 3)]
    # a whole number of NengoDL's minibatches; the ANN and the real chip in one
    assert plan(nengo_dl, replace(ctx, n_steps=300), 1000) == [(0, 200), (200, 400), (400, 600),
                                                               (600, 800), (800, 1000)]
    assert plan(get_backend("keras"), ctx, 10000) == [(0, 10000)]
    assert plan(get_backend("loihi"), ctx, 10000) == [(0, 10000)]


def test_unreachable_scheduler_is_one_line(trained, test_digits):
    from nengo_vision.errors import ConfigError

    x, _ = test_digits
    with pytest.raises(ConfigError) as e:
        run_backends(context(trained), ["keras"], x[:2],
                     cluster=Cluster(scheduler="tcp://127.0.0.1:9"))
    message = str(e.value)
    assert message.startswith("cannot reach the Dask scheduler at tcp://127.0.0.1:9 (")
    assert message.endswith("start one (dask scheduler) or use --workers N for a local cluster")
    assert "\n" not in message


def test_engine_refuses_what_it_cannot_reproduce():
    """Noise is random on the chip: refused with one line, never approximated.
    (A small untrained network: the refusal needs chip compartments, not weights.)"""
    sim, cn, _, _ = build_simulator(context(branching_model()), "sim")
    with sim:
        sim.sims["emulator"].compartment.noise.enabled[:] = True
        with pytest.raises(EngineError) as e:
            BatchedEmulator(sim, cn.input)
    assert str(e.value) == (
        "the batched engine cannot reproduce compartment noise (it draws random "
        "numbers); use nengo-loihi-emulator"
    )


def test_compiled_lif_step_is_bit_equal_to_nengo():
    """nengo.LIF's step through the kernels: the same bits over many steps,
    with refractory periods ending mid-step and neurons below the floor."""
    rng = np.random.RandomState(1)
    lif = nengo.LIF(tau_rc=0.02, tau_ref=0.002, min_voltage=-0.5, amplitude=0.002)
    shape = (16, 5000)
    J = rng.uniform(-2, 6, shape)
    state = [np.zeros(shape), rng.uniform(-0.5, 1, shape), rng.uniform(0, 0.003, shape)]
    mine = [a.copy() for a in state]
    step = _lif_step(lif, 0.001, J, mine[0], mine[1], mine[2])
    spikes = 0
    for _ in range(40):
        lif.step(0.001, J, *state)
        step()
        spikes += np.count_nonzero(state[0])
        for a, b in zip(mine, state):
            np.testing.assert_array_equal(a, b)
    assert spikes > 10000


def branching_model():
    """Untrained, but every layer fires: a residual block fed from the host
    (two host → chip connections from one layer), and two branches concatenated
    into one convolution."""
    import tensorflow as tf

    from nengo_vision.neurons import LIFActivation

    L = tf.keras.layers
    act = LIFActivation()
    tf.keras.utils.set_random_seed(1)
    bias = dict(bias_initializer=tf.keras.initializers.Constant(0.15))
    inp = tf.keras.Input((28, 28, 1))
    x = L.Conv2D(8, 3, strides=2, padding="same", activation=act, name="c1", **bias)(inp)
    y = L.Conv2D(8, 3, padding="same", activation=act, name="c2", **bias)(x)
    y = L.Conv2D(8, 3, padding="same", name="c3", **bias)(y)
    x = L.Activation(act, name="res")(L.Add()([x, y]))
    a = L.Conv2D(8, 3, strides=2, padding="same", activation=act, name="b3", **bias)(x)
    b = L.Conv2D(8, 5, strides=2, padding="same", activation=act, name="b5", **bias)(x)
    x = L.Conv2D(16, 3, activation=act, name="c4", **bias)(L.Concatenate()([a, b]))
    return tf.keras.Model(inp, L.Dense(10, name="out")(L.Flatten()(x))), act


def test_engine_equals_reference_on_residual_and_wide_networks(test_digits):
    """Merges become connections into the same neurons (Add) and per-branch
    kernels (Concatenate); the engine still gives nengo-loihi's spikes exactly,
    and the engine's host gives nengo's (the ``nengo`` backend)."""
    x, _ = test_digits
    ctx = context(branching_model(), record=Recording(), emulator_batch=4)
    ours = get_backend("loihi-emulator").run(ctx, x[:N_REF])
    theirs = get_backend("nengo-loihi-emulator").run(ctx, x[:N_REF])
    assert list(theirs.spike_counts) == ["c1", "c2", "res", "b3", "b5", "c4"]
    for layer, counts in theirs.spike_counts.items():
        assert counts.sum() > 100, layer  # they do spike
        np.testing.assert_array_equal(ours.spike_counts[layer], counts, err_msg=layer)
    np.testing.assert_array_equal(ours.traces, theirs.traces)
    assert ours.placement["c1"]["where"] == "host"
    assert all(ours.placement[n]["where"] == "chip" for n in ("c2", "res", "b3", "b5", "c4"))


def test_residual_and_wide_networks_convert_to_the_same_function(test_digits):
    """NengoDL's rate network computes the folded Keras model's outputs (the merged
    connections are the Add and Concatenate), and nengo's simulator fires the
    spikes NengoDL fires."""
    x, _ = test_digits
    ctx = context(branching_model(), synapse=None, record=Recording())
    keras = get_backend("keras").run(ctx, x[:N])
    rate = get_backend("nengo-dl-rate").run(ctx, x[:N])
    scale = np.abs(keras.traces).max()
    np.testing.assert_allclose(rate.traces[:, -1], keras.traces[:, -1], atol=1e-3 * scale)
    dl = get_backend("nengo-dl").run(ctx, x[:N])
    ref = get_backend("nengo").run(ctx, x[:N])
    for layer, counts in ref.spike_counts.items():
        # float32 (NengoDL) against float64 (nengo): a neuron at the edge of a
        # spike may differ by one
        moved = np.abs(dl.spike_counts[layer] - counts).sum()
        assert moved <= 0.01 * counts.sum(), (layer, moved, counts.sum())


def two_chip_model():
    """Untrained, but every layer fires: a 1×1 convolution to 170 channels on
    28×28 pixels (133,280 neurons, more than one chip's 128 cores of 1,024
    compartments), read by a small strided convolution."""
    import tensorflow as tf

    from nengo_vision.neurons import LIFActivation

    L = tf.keras.layers
    act = LIFActivation()
    tf.keras.utils.set_random_seed(1)
    bias = dict(bias_initializer=tf.keras.initializers.Constant(0.15))
    inp = tf.keras.Input((28, 28, 1))
    x = L.Conv2D(2, 3, padding="same", activation=act, name="enc", **bias)(inp)
    x = L.Conv2D(170, 1, activation=act, name="wide", **bias)(x)
    x = L.Conv2D(8, 3, strides=2, activation=act, name="narrow", **bias)(x)
    return tf.keras.Model(inp, L.Dense(10, name="out")(L.Flatten()(x))), act


#: what the two-chip network is refused with on one chip (its blocks, before
#: anything is built: wide in blocks of 28×4×9, narrow of 13×13×4)
ONE_CHIP_ERROR = (
    "the network needs at least 135 cores, more than 1 Loihi chip's 128: wide takes "
    "133 cores, narrow 2; give --chips 2, or make the largest layers smaller or move "
    "them to the host"
)


@pytest.fixture(scope="module")
def two_chip_runs(test_digits):
    """Both emulator backends on 3 real digits, the network on 2 chips."""
    from nengo_vision.harness import choose_recording

    x, _ = test_digits
    trained = two_chip_model()
    ctx = context(trained, n_steps=20, chips=2, emulator_batch=2,
                  record=choose_recording(trained[0], x[:1], n_digits=3))
    ours = get_backend("loihi-emulator").run(ctx, x[:3])
    theirs = get_backend("nengo-loihi-emulator").run(ctx, x[:3])
    return trained, ours, theirs


def test_network_over_one_chip_is_refused_on_one_and_placed_on_two(two_chip_runs, test_digits):
    """--chips 1 refuses it in one line, before building (from the pipeline's
    check and from the backend's context alike); on 2 chips nengo-loihi's
    allocator fills the first chip and puts the rest on the second."""
    from nengo_vision.backends.loihi import check_placement
    from nengo_vision.errors import PlacementError

    trained, ours, _ = two_chip_runs
    with pytest.raises(PlacementError) as e:
        check_placement(trained[0], synapse=0.002, chips=1)
    assert str(e.value) == ONE_CHIP_ERROR
    with pytest.raises(PlacementError) as e:
        get_backend("loihi-emulator").run(context(trained, chips=1), test_digits[0][:1])
    assert str(e.value) == ONE_CHIP_ERROR
    t = ours.placement["totals"]
    assert t["cores"] == ours.placement["wide"]["cores"] + ours.placement["narrow"]["cores"]
    assert t["cores"] > 128
    assert t["chips"] == t["chips_allowed"] == 2
    # Greedy fills chip 0 before it opens chip 1
    assert t["chip_cores"] == [128, t["cores"] - 128]
    assert t["cores_fraction"] == t["cores"] / 256
    # wide spans both chips and narrow is on the second: some axons cross
    assert 0 < t["interchip_axons"] and 0 < t["interchip_fraction"] < 1
    assert t["interchip_fraction"] == t["interchip_axons"] / (
        t["interchip_axons"] + t["intrachip_axons"])


def test_two_chip_network_engine_equals_nengo_loihi_emulator(two_chip_runs):
    """Chips change where blocks sit, not the arithmetic: the batched engine
    still gives nengo-loihi's emulator's outputs, rasters and voltages to the bit."""
    _, ours, theirs = two_chip_runs
    np.testing.assert_array_equal(ours.traces, theirs.traces)
    np.testing.assert_array_equal(ours.voltages, theirs.voltages)
    assert np.count_nonzero(theirs.voltages) > 0
    assert list(theirs.spike_counts) == ["enc", "wide", "narrow"]
    for layer, counts in theirs.spike_counts.items():
        assert counts.sum() > 100, layer  # they do spike
        # the engine counts spikes; the reference sums outputs × dt / amplitude
        np.testing.assert_allclose(ours.spike_counts[layer], counts, rtol=1e-12)
        np.testing.assert_array_equal(ours.rasters[layer], theirs.rasters[layer])
    assert ours.placement == theirs.placement
