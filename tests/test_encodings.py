"""Spike encodings of still images: each gives the statistics it promises, and
the spikes reach every backend alike (straight to the chip on Loihi)."""

import numpy as np
import pytest

from conftest import context, last_step_predictions
from nengo_vision.backends import get_backend
from nengo_vision.encodings import encoding_names, get_encoding
from nengo_vision.harness import compare as compare_runs
from nengo_vision.harness import run_backends
from nengo_vision.errors import ConfigError
from nengo_vision.stimulus import EncodedSpikes, Inputs

DT = 0.001
LEVELS = np.array([0.0, 0.1, 0.25, 0.5, 0.75, 1.0])


def counts(name, x, n_steps, rate=1000.0, seed=0, indices=None):
    indices = np.arange(len(x)) if indices is None else indices
    return get_encoding(name).counts(x, n_steps, rate, DT, [(seed, i) for i in indices])


def test_encodings_listed_in_order():
    assert encoding_names() == ["analog", "poisson", "bernoulli", "regular", "latency"]


@pytest.mark.parametrize("name, rate", [("poisson", 1000.0), ("poisson", 200.0),
                                        ("bernoulli", 1000.0), ("bernoulli", 200.0)])
def test_random_codes_fire_at_the_pixel_rate(name, rate):
    """Mean spikes per step = x * rate * dt within 4 standard errors, per level;
    the input's mean value (counts x amplitude) is the pixel itself."""
    n_steps, n_pix = 200, 500
    x = np.repeat(LEVELS, n_pix)[None]
    c = counts(name, x, n_steps, rate).astype(float)
    amplitude = get_encoding(name).amplitude(rate, DT, n_steps)
    assert amplitude == pytest.approx(1000.0 / rate)
    for k, level in enumerate(LEVELS):
        got = c[0, :, k * n_pix : (k + 1) * n_pix]
        p = level * rate * DT
        se = np.sqrt(max(p, 1e-9) / got.size)  # Poisson var = mean; Bernoulli below it
        assert abs(got.mean() - p) < 4 * se + 1e-12, (level, got.mean(), p)
        assert abs(got.mean() * amplitude - level) < 4 * se * amplitude + 1e-12
    if name == "bernoulli":
        assert c.max() == 1
    else:
        # Poisson counts: variance equals the mean, and two spikes in a step occur
        top = c[0, :, -n_pix:]
        assert top.var() == pytest.approx(top.mean(), rel=0.1)
        assert (rate < 1000) or top.max() >= 3


def test_regular_code_is_even_and_exact():
    """Deterministic: the count is x * rate * T rounded, spikes evenly spaced
    (intervals differ by at most one step), the same for any seed."""
    n_steps = 100
    x = np.array([[0.0, 0.05, 0.3, 0.37, 0.5, 1.0]])
    c = counts("regular", x, n_steps, rate=500.0)
    np.testing.assert_array_equal(c.sum(axis=1)[0], np.floor(x[0] * 0.5 * n_steps + 0.5))
    for d in range(1, x.shape[1]):
        gaps = np.diff(np.flatnonzero(c[0, :, d]))
        assert gaps.max() - gaps.min() <= 1, x[0, d]
    np.testing.assert_array_equal(c, counts("regular", x, n_steps, rate=500.0, seed=7))
    assert c.max() == 1


def test_latency_code_fires_once_the_brighter_the_earlier():
    n_steps = 30
    x = np.array([[0.0, 0.2, 0.6, 1.0]])
    c = counts("latency", x, n_steps)
    assert c[0, :, 0].sum() == 0
    np.testing.assert_array_equal(c[0, :, 1:].sum(axis=0), [1, 1, 1])
    first = [int(np.flatnonzero(c[0, :, d])[0]) for d in (1, 2, 3)]
    assert first == [23, 12, 0]  # round((1 - x) * 29)
    # brighter than 1: at once, not wrapped round to the end
    assert np.flatnonzero(counts("latency", np.array([[1.3]]), n_steps)[0, :, 0]).tolist() == [0]
    assert get_encoding("latency").amplitude(1000.0, DT, n_steps) == n_steps


def test_same_seed_same_spikes_in_any_batch():
    """An image's spikes depend on (seed, its index) only: made alone or with
    others, in any order; another seed gives others."""
    rng = np.random.default_rng(0)
    x = rng.random((6, 50))
    all_at_once = counts("poisson", x, 40, indices=np.arange(10, 16))
    alone = counts("poisson", x[3:4], 40, indices=[13])
    np.testing.assert_array_equal(all_at_once[3], alone[0])
    other = counts("poisson", x, 40, seed=1, indices=np.arange(10, 16))
    assert not np.array_equal(all_at_once, other)


def test_encoding_errors_say_what_to_change():
    with pytest.raises(ConfigError) as e:
        get_encoding("rank-order")
    assert str(e.value) == ("unknown encoding 'rank-order'; known encodings: analog, "
                            "poisson, bernoulli, regular, latency")
    with pytest.raises(ConfigError) as e:
        get_encoding("bernoulli").check(2000.0, DT, "--input-rate")
    assert str(e.value) == ("--input-rate 2000 Hz asks 2 spikes per 1 ms step of the "
                            "bernoulli code, which sends at most one; use at most 1000")


def test_inputs_values_are_counts_times_amplitude():
    x = np.random.default_rng(1).random((5, 4, 4, 1)).astype(np.float32)
    spikes = EncodedSpikes(get_encoding("poisson"), rate=500.0, seed=3, n_steps=20)
    inputs = Inputs(x, spikes)
    c = inputs.counts(20, DT, 1, 4)
    np.testing.assert_array_equal(inputs.values(20, DT, 1, 4), c * np.float32(2.0))
    # a slice keeps each image's own spikes
    np.testing.assert_array_equal(inputs[2:].counts(20, DT, 0, 1), inputs.counts(20, DT, 2, 3))
    held = Inputs(x).values(3, DT)
    assert held.shape == (5, 3, 16) and np.array_equal(held[:, 2], x.reshape(5, -1))


def _poisson_inputs(images, n_steps, rate=300.0):
    enc = get_encoding("poisson")
    return Inputs(images, EncodedSpikes(enc, rate=rate, seed=0, n_steps=n_steps))


def test_spikes_to_the_chip_engine_equals_nengo_loihi(trained, test_digits):
    """Poisson spikes sent straight to the chip's first layer (no host encoder):
    the batched engine and nengo-loihi's emulator give equal outputs and equal
    spikes of every neuron at every step, with several spikes of one input in a
    step among them.

    Equality holds digit by digit, so nengo-loihi's emulator (seconds per digit
    with conv0 on the chip) runs only the first ``k``, spanning two of the
    engine's batches; the engine runs all ``n``, for the accuracy and the counts.
    """
    from nengo_vision.backends.base import Recording
    from nengo_vision.conversion import neuron_layers

    x, y = test_digits
    n, k, n_steps = 12, 4, 25
    inputs = _poisson_inputs(x[:n], n_steps, rate=1000.0)
    assert inputs[:k].counts(n_steps, DT).max() >= 2
    model = trained[0]
    every_neuron = {name: np.arange(np.prod(model.get_layer(name).output_shape[1:]))
                    for name in neuron_layers(model)}
    ctx = context(trained, n_steps=n_steps, emulator_batch=3,
                  record=Recording(n_digits=k, raster=every_neuron))
    ours = run_backends(ctx, ["loihi-emulator"], inputs)["loihi-emulator"]
    theirs = get_backend("nengo-loihi-emulator").run(ctx, inputs[:k])
    assert ours.placement["conv0"]["where"] == "chip"  # no host encoder
    np.testing.assert_array_equal(ours.traces[:k], theirs.traces)
    assert list(ours.rasters) == list(theirs.rasters) == list(every_neuron)
    for name in ours.rasters:
        np.testing.assert_array_equal(ours.rasters[name], theirs.rasters[name], err_msg=name)
        assert theirs.rasters[name].sum() > 100, name
    assert (last_step_predictions(ours.traces) == y[:n]).mean() >= 0.75
    _input_spikes_are_counted(trained, ours, inputs, y[:n], n_steps)


def _input_spikes_are_counted(trained, run, inputs, labels, n_steps):
    """The spikes sent to the chip are the input layer's: each drives its
    pixel's synapses into conv0 (3x3 'valid', 32 filters: a pixel away from the
    border reaches 9 x 32), and the chip's energy counts those operations."""
    model, _ = trained
    sent = inputs.counts(n_steps, DT).sum(axis=(0, 1))
    np.testing.assert_array_equal(run.input_spikes, sent)
    b = compare_runs({"loihi-emulator": run}, labels, model, n_steps, None).backends[
        "loihi-emulator"]
    n = len(labels)
    rows = np.minimum(np.arange(28), 25) - np.maximum(np.arange(28) - 2, 0) + 1
    fan_out = np.outer(rows, rows).ravel() * 32
    assert b.spikes_per_inference["input"] == pytest.approx(sent.sum() / n)
    assert b.synops_per_inference["input"] == pytest.approx(sent @ fan_out / n)
    assert b.firing_rates["input"] == pytest.approx(sent.sum() / (784 * n * n_steps * DT),
                                                    abs=1e-3)
    # the energy account's synaptic operations are those delivered on the chip
    # (test_energy.py counts them by hand): all of these but the last step's
    on_chip = b.synops_per_inference["input"] + b.synops_per_inference["conv0"] \
        + b.synops_per_inference["conv1"]  # conv2's go to the output, on the host
    assert 0.8 * on_chip < b.energy.term("synaptic_ops").count < on_chip


def test_encoded_spikes_run_in_nengo_dl_and_nengo(trained, test_digits):
    """The same Poisson spikes into NengoDL and nengo's simulator: the two fire
    alike (float32 vs float64: at most 1 % of spikes moved) and read digits."""
    x, y = test_digits
    n, n_steps = 40, 40
    inputs = _poisson_inputs(x[:n], n_steps)
    ctx = context(trained, n_steps=n_steps, batch_size=20)
    dl = get_backend("nengo-dl").run(ctx, inputs)
    ref = get_backend("nengo").run(ctx, inputs)
    for name in dl.spike_counts:
        a, b = dl.spike_counts[name].sum(), ref.spike_counts[name].sum()
        assert abs(a - b) <= 0.01 * b, (name, a, b)
    for run in (dl, ref):
        assert (last_step_predictions(run.traces) == y[:n]).mean() >= 0.85
