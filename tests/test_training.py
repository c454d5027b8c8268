import numpy as np
import pytest

from nengo_vision.errors import UsageError
from nengo_vision.models import get_model
from nengo_vision.neurons import LIFActivation
from nengo_vision.training import ShiftedDigits, cache_path, random_shifts, train

QUIET = dict(log=lambda *a: None)


def _small(mnist, tmp_path, activation=None, **kwargs):
    (x, y), _ = mnist
    return train(get_model("scnn_mnist"), activation or LIFActivation(), x[:512], y[:512],
                 epochs=1, seed=kwargs.pop("seed", 3), cache_dir=tmp_path, **QUIET, **kwargs)


def test_same_seed_same_weights_and_cache_is_reused(mnist, tmp_path):
    first, info1 = _small(mnist, tmp_path / "a")
    again, info2 = _small(mnist, tmp_path / "b")
    assert not info1["cached"] and not info2["cached"]
    for w1, w2 in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    cached, info3 = _small(mnist, tmp_path / "a")
    assert info3["cached"] and info3["cache"] == info1["cache"]
    for w1, w3 in zip(first.get_weights(), cached.get_weights()):
        np.testing.assert_array_equal(w1, w3)


def test_other_seed_other_weights(mnist, tmp_path):
    a, _ = _small(mnist, tmp_path, seed=1)
    b, _ = _small(mnist, tmp_path, seed=2)
    assert not np.array_equal(a.get_weights()[0], b.get_weights()[0])


def test_cache_key_changes_with_settings(tmp_path):
    spec, act = get_model("scnn_mnist"), LIFActivation()
    base = cache_path(tmp_path, spec, act, 1, 100, 0)
    assert base != cache_path(tmp_path, spec, act, 2, 100, 0)
    assert base != cache_path(tmp_path, spec, LIFActivation(gain=2), 1, 100, 0)
    assert base != cache_path(tmp_path, spec, act, 1, 100, 0, rate_target=[100, 0.1])
    assert base != cache_path(tmp_path, spec, LIFActivation(amplitude=0.01), 1, 100, 0)
    assert base != cache_path(tmp_path, spec, act, 1, 100, 0, augment=2)
    assert base != cache_path(tmp_path, spec, act, 1, 100, 0, lr_decay=True)
    assert base != cache_path(tmp_path, spec, act, 1, 100, 0, batch_size=32)


def test_random_shifts_move_whole_digits(mnist):
    (x, _), _ = mnist
    shifted = random_shifts(x[:500], 2, np.random.default_rng(0))
    moves = set()
    for original, moved in zip(x[:500, :, :, 0], shifted[:, :, :, 0]):
        # find the shift that maps the digit onto its moved copy
        found = [
            (dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
            # away from the border, where np.roll wraps and a shift pads zeros
            if np.array_equal(np.roll(original, (dy, dx), axis=(0, 1))[2:-2, 2:-2],
                              moved[2:-2, 2:-2])
        ]
        # nothing but zeros moved in (float32 sums differ in the last digit)
        assert moved.sum() <= original.sum() * (1 + 1e-5)
        assert found, "a shifted digit is not a whole-pixel shift of the original"
        moves.add(found[0])
    assert len(moves) == 25  # every shift from -2 to 2 on both axes occurs


def test_shifted_digits_repeat_with_the_seed_and_change_every_epoch(mnist):
    (x, y), _ = mnist
    a, b = (ShiftedDigits(x[:256], y[:256], 64, 2, seed=5) for _ in range(2))
    first = a[0]
    np.testing.assert_array_equal(first[0], b[0][0])
    np.testing.assert_array_equal(first[1], b[0][1])
    assert len(a) == 4
    a.on_epoch_end()
    assert not np.array_equal(a[0][0], first[0])


def test_corrupt_cache_is_an_error(mnist, tmp_path):
    spec, act = get_model("scnn_mnist"), LIFActivation()
    path = cache_path(tmp_path, spec, act, 1, 512, 3)
    path.write_bytes(b"garbage")
    with pytest.raises(UsageError) as e:
        _small(mnist, tmp_path)
    assert str(e.value) == (
        f"cached parameters {path} are corrupt; delete {path} or run again with --retrain"
    )
    # --retrain replaces it
    _, info = _small(mnist, tmp_path, retrain=True)
    assert not info["cached"] and path.stat().st_size > 1000


def test_rate_regularization_raises_firing_rates(mnist, tmp_path):
    from nengo_vision.backends import RunContext, get_backend

    _, (x_test, _) = mnist
    rates = {}
    for name, target in (("plain", None), ("pushed", (200.0, 1.0))):
        # the low-rate regime (amplitude 0.01), where a push has room to show
        activation = LIFActivation(gain=3.0, amplitude=0.01)
        model, info = _small(mnist, tmp_path / name, activation, rate_target=target)
        ctx = RunContext(model=model, progress=False)
        rates[name] = get_backend("keras").run(ctx, x_test[:100]).firing_rates
        assert ("conv1_hz" in info["history"]) == (target is not None)
    for layer in ("conv0", "conv1", "conv2"):
        assert rates["pushed"][layer] > 1.5 * rates["plain"][layer], (layer, rates)
