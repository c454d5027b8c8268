"""The energy account: every term against a count by hand on tiny networks.

The networks are small enough that every neuron's spike train is recorded, so
the synaptic operations, messages and spikes the batched engine counts as it
runs can be counted again here from the spikes and the Keras layers' own
synapses (:func:`.operations.fan_out`), step by step.
"""

import numpy as np
import pytest

from nengo_vision import energy
from nengo_vision.backends import RunContext, get_backend
from nengo_vision.backends.base import Recording
from nengo_vision.harness import compare
from nengo_vision.neurons import LIFActivation
from nengo_vision.operations import ann_macs, fan_out

N_STEPS, N_DIGITS = 12, 6


def _model(residual):
    """A tiny CNN on 6x6 images: c0 (host) → c1 → 10 outputs, or with a residual
    block whose second convolution has no neurons of its own (c1b → Add)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    act = LIFActivation()
    L = tf.keras.layers
    seeds = iter(range(100))

    def conv(x, filters, name, a=act, padding="valid"):
        # biases above the threshold current (0.1), weights mostly excitatory
        init = tf.keras.initializers.RandomUniform
        return L.Conv2D(filters, 3, padding=padding, activation=a, name=name,
                        bias_initializer=init(0.05, 0.3, seed=next(seeds)),
                        kernel_initializer=init(-0.2, 0.5, seed=next(seeds)))(x)

    inp = tf.keras.Input((6, 6, 1), name="input")
    x = conv(inp, 3, "c0")  # 4x4x3 on the host: the input encoder
    if residual:
        y = conv(x, 3, "c1a", padding="same")
        y = conv(y, 3, "c1b", a=None, padding="same")
        x = L.Activation(act, name="res")(L.Add(name="add")([x, y]))
    else:
        x = conv(x, 4, "c1")
    out = L.Dense(10, name="output")(L.Flatten(name="flat")(x))
    return tf.keras.Model(inp, out)


@pytest.fixture(scope="module", params=["plain", "residual", "spike-input"])
def emulated(request):
    """``(model, run, input spikes per digit and step or None)``: the images
    held (the host's c0 encodes them), or sent as Poisson spikes to the chip."""
    from nengo_vision.conversion import neuron_layers
    from nengo_vision.encodings import get_encoding
    from nengo_vision.stimulus import EncodedSpikes, Inputs

    model = _model(request.param == "residual")
    sizes = {n: int(np.prod(model.get_layer(n).output_shape[1:])) for n in neuron_layers(model)}
    record = Recording(n_digits=N_DIGITS, raster={n: np.arange(k) for n, k in sizes.items()})
    ctx = RunContext(model=model, n_steps=N_STEPS, record=record, progress=False,
                     log=lambda *a: None, emulator_batch=4)
    images = np.random.RandomState(0).uniform(0, 1, (N_DIGITS, 6, 6, 1))
    spikes = None
    if request.param == "spike-input":
        images = Inputs(images, EncodedSpikes(get_encoding("poisson"), rate=500.0, seed=0,
                                              n_steps=N_STEPS))
        spikes = images.counts(N_STEPS, 0.001).reshape(N_DIGITS, N_STEPS, -1)
    run = get_backend("loihi-emulator").run(ctx, images)
    return model, run, spikes


def _delivered(raster):
    """Spikes per digit and neuron that reached their targets within the run:
    the chip delivers a spike one step after it is fired, so the last step's
    never arrive."""
    return raster[:, :-1].sum(1)


def test_every_term_against_a_hand_count(emulated):
    model, run, spikes = emulated
    chip = [k for k, v in run.placement.items() if k != "totals" and v["where"] == "chip"]
    host = [k for k, v in run.placement.items() if k != "totals" and v["where"] == "host"]
    assert host == ([] if spikes is not None else ["c0"])
    assert chip == [k for k in run.rasters if k not in host]
    for name, raster in run.rasters.items():
        # every neuron recorded: the rasters add up to the spike counts
        np.testing.assert_array_equal(raster.sum((0, 1)), run.spike_counts[name])
        assert raster.sum() > N_DIGITS, f"{name} hardly fires: a weak test"

    # synaptic ops into on-chip compartments, whatever layer the synapses came
    # from (c1b has no neurons: its synapses end in res's)
    receiver = {"c0": "c0", "c1": "c1", "c1a": "c1a", "c1b": "res", "res": "res",
                "output": None}
    synops = np.zeros(N_DIGITS)
    to_host = np.zeros(N_DIGITS)
    sources = dict(run.rasters)
    if spikes is not None:
        sources["input"] = spikes  # the input's own spikes, sent to c0 on the chip
    for name, raster in sources.items():
        for consumer, fan in fan_out(model, name).items():
            ops = _delivered(raster) @ fan.ravel()
            if receiver[consumer] in chip:
                synops += ops
            else:
                to_host += _delivered(raster).sum(1)
                readout = ops
    counts = {k: v.sum(1) for k, v in run.step_counts.items()}
    np.testing.assert_array_equal(counts["chip_synops"], synops)
    np.testing.assert_array_equal(counts["spikes_to_host"], to_host)
    np.testing.assert_array_equal(counts["host_synops"], readout)  # 10 adds per spike
    # every layer here fits one core, and every neuron has synapses there: one
    # message per spike into each layer it feeds. nengo-loihi sends a host
    # layer's spikes once per connection into the chip: c0's twice in the
    # residual network (to c1a, and to res through the shortcut)
    source = "input" if spikes is not None else "c0"
    sent = len(fan_out(model, source)) * _delivered(sources[source]).sum(1)
    np.testing.assert_array_equal(counts["input_spikes"], sent)
    np.testing.assert_array_equal(counts["input_messages"], sent)
    chip_spikes = sum(_delivered(run.rasters[n]).sum(1) for n in chip)
    np.testing.assert_array_equal(counts["chip_messages"], chip_spikes - to_host)

    # the account: each term is its count times its figure from the papers
    n_chip = sum(run.placement[n]["neurons"] for n in chip)
    macs = ann_macs(model)
    pixels = 36 if spikes is not None else 0
    if spikes is not None:
        run.input_spikes = spikes.sum((0, 1))  # as the harness sets it
    b = compare({"loihi-emulator": run}, np.zeros(N_DIGITS, int), model, N_STEPS,
                None, encoded_pixels=pixels).backends["loihi-emulator"]
    e = b.energy
    idle = counts["idle_updates"].mean()
    expected = {
        "synaptic_ops": (synops.mean(), 23.6e-12),
        "neuron_updates": (n_chip * N_STEPS - idle, 81e-12),
        "idle_neuron_updates": (idle, 52e-12),
        "spike_messages": ((chip_spikes - to_host).mean(), 4.0e-12),
        "spikes_in": (sent.mean(), 4.0e-12),
        "spikes_out": (to_host.mean(), 4.0e-12),
        # the held image: c0's input computed once; spikes: nothing on the host
        "input_layer_macs": (macs["c0"] if spikes is None else 0, 4.6e-12),
        "host_neuron_updates": ((48 if spikes is None else 0) * N_STEPS, 4.6e-12),
        "spike_encoding": (pixels * N_STEPS, 4.6e-12),
        "readout_adds": (readout.mean(), 0.9e-12),
        "readout_filter": (10 * N_STEPS, 4.6e-12),
    }
    assert [t.name for t in e.terms] == list(expected)
    for t in e.terms:
        count, per_op = expected[t.name]
        assert t.count == pytest.approx(count), t.name
        assert t.joules_per_op == per_op, t.name
    assert e.total_joules == pytest.approx(sum(c * j for c, j in expected.values()))
    assert 0 <= idle < n_chip * N_STEPS
    assert e.joules("chip") + e.joules("link") + e.joules("host") == pytest.approx(
        e.total_joules)
    # the ANN's arithmetic: its MACs at 4.6 pJ
    assert energy.ann_account(sum(macs.values())).total_joules == pytest.approx(
        sum(macs.values()) * 4.6e-12)


def test_a_silent_chip_is_all_idle_updates():
    """Nothing arrives and nothing fires: every compartment update is idle."""
    model = _model(residual=False)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([np.full_like(w, -0.5) if w.ndim == 1 else w
                               for w in layer.get_weights()])
    ctx = RunContext(model=model, n_steps=N_STEPS, progress=False, log=lambda *a: None,
                     record=Recording(n_digits=0))
    run = get_backend("loihi-emulator").run(ctx, np.zeros((3, 6, 6, 1)))
    n_chip = run.placement["c1"]["neurons"]
    np.testing.assert_array_equal(run.step_counts["idle_updates"], n_chip)
    for name in ("chip_synops", "chip_messages", "input_spikes", "spikes_to_host"):
        assert not run.step_counts[name].any(), name


def test_a_decision_rule_that_never_fires_changes_nothing(emulated):
    """With a margin no sample reaches, every sample runs every step: the same
    classes, steps and energy as without the rule."""
    model, run, _ = emulated
    labels = np.arange(N_DIGITS) % 10
    args = ({"loihi-emulator": run}, labels, model, N_STEPS, None)
    plain = compare(*args).backends["loihi-emulator"]
    never = compare(*args, decision_margin=1e12).backends["loihi-emulator"]
    assert never.decision.mean_steps == plain.decision.mean_steps == N_STEPS
    assert never.decision.accuracy == plain.decision.accuracy == plain.accuracy
    assert never.decision.decided_fraction == 0
    assert never.energy.to_dict() == plain.energy.to_dict()
    # a margin every sample reaches at once: each stops at its first step with
    # output, and is charged for those steps only
    early = compare(*args, decision_margin=1e-9).backends["loihi-emulator"]
    assert early.decision.mean_steps < N_STEPS
    assert early.energy.total_joules < plain.energy.total_joules
