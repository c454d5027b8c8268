import numpy as np
import pytest
import tensorflow as tf

from nengo_vision.errors import ModelError
from nengo_vision.models import get_model
from nengo_vision.neurons import LIFActivation
from nengo_vision.training import (
    ShiftedDigits, cache_path, data_digest, load_weights, random_shifts, save_weights, train,
)

pytestmark = pytest.mark.slow  # trains small models

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
    spec, act, d = get_model("scnn_mnist"), LIFActivation(), dict(data="0" * 64)
    base = cache_path(tmp_path, spec, act, 1, 100, 0, **d)
    assert base == cache_path(tmp_path, spec, LIFActivation(), 1, 100, 0, **d)
    assert base != cache_path(tmp_path, spec, act, 2, 100, 0, **d)
    assert base != cache_path(tmp_path, spec, LIFActivation(gain=2), 1, 100, 0, **d)
    assert base != cache_path(tmp_path, spec, act, 1, 100, 0, rate_target=[100, 0.1], **d)
    assert base != cache_path(tmp_path, spec, LIFActivation(amplitude=0.01), 1, 100, 0, **d)
    assert base != cache_path(tmp_path, spec, act, 1, 100, 0, augment=0, **d)
    assert base != cache_path(tmp_path, spec, act, 1, 100, 0, lr_decay=False, **d)
    assert base != cache_path(tmp_path, spec, act, 1, 100, 0, batch_size=32, **d)
    assert base != cache_path(tmp_path, spec, act, 1, 100, 0, data="1" * 64)
    assert base != cache_path(tmp_path, spec, LIFActivation(noise=1.5), 1, 100, 0, **d)
    # no noise is the key of a run from before the setting existed (caches stay valid)
    assert base == cache_path(tmp_path, spec, LIFActivation(noise=0), 1, 100, 0, **d)


def test_data_digest_sees_every_byte_and_the_shape(mnist):
    (x, y), _ = mnist
    x, y = x[:300], y[:300]
    base = data_digest(x, y)
    assert base == data_digest(x.copy(), y.copy())
    one_label = y.copy()
    one_label[150] = (one_label[150] + 1) % 10
    one_pixel = x.copy()
    one_pixel[299, 27, 27, 0] += 1 / 255
    others = [data_digest(x, one_label), data_digest(one_pixel, y),
              data_digest(x.reshape(300, 784), y), data_digest(x[::-1], y[::-1])]
    assert len({base, *others}) == 5


def test_other_training_digits_are_not_served_from_the_cache(mnist, tmp_path):
    (x, y), _ = mnist
    x, y = x[:256], y[:256]
    relabelled = y.copy()
    relabelled[:100] = (relabelled[:100] + 1) % 10  # every one of them wrong

    def run(labels):
        return train(get_model("scnn_mnist"), LIFActivation(), x, labels, epochs=1, seed=0,
                     cache_dir=tmp_path, **QUIET)[1]

    first, other, again = run(y), run(relabelled), run(y)
    assert not first["cached"] and not other["cached"]
    assert other["cache"] != first["cache"]
    assert again["cached"] and again["cache"] == first["cache"]


def _two_branches(first):
    """``input -> left, right -> left + right``, its branches listed ``first`` first.

    The same network either way (addition commutes), but Keras orders the
    layers, and so ``get_weights()``, by that listing.
    """
    L = tf.keras.layers
    inp = tf.keras.Input((3,))
    out = {name: L.Dense(3, name=name)(inp) for name in ("left", "right")}
    second = "right" if first == "left" else "left"
    return tf.keras.Model(inp, L.Add(name="sum")([out[first], out[second]]))


def test_cached_weights_go_back_to_their_own_layers(tmp_path):
    saved = _two_branches("left")
    rng = np.random.default_rng(0)
    saved.set_weights([rng.normal(size=w.shape) for w in saved.get_weights()])
    path = tmp_path / "two.npz"
    save_weights(saved, path)
    fresh = _two_branches("right")
    # the situation: same shapes, but the other order of weights
    assert [w.shape for w in fresh.get_weights()] == [w.shape for w in saved.get_weights()]
    assert [w.name for w in fresh.weights] != [w.name for w in saved.weights]
    load_weights(fresh, path)
    for name in ("left", "right"):
        for a, b in zip(fresh.get_layer(name).get_weights(), saved.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    x = rng.normal(size=(5, 3))
    np.testing.assert_allclose(fresh(x).numpy(), saved(x).numpy(), rtol=1e-6)


def test_cached_weights_of_another_model_or_format_are_refused(tmp_path):
    path = tmp_path / "two.npz"
    save_weights(_two_branches("left"), path)
    fix = f"delete {path} or run again with --retrain"
    other = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(4, name="left")],
                                name="other")
    with pytest.raises(ModelError) as e:
        load_weights(other, path)
    # left's two weights have other shapes; right's are not in the model
    assert str(e.value) == (
        f"cached parameters {path} do not fit model other (4 differences, the first: "
        f"left/kernel:0 of shape (3, 3), not (3, 4)); {fix}"
    )
    # a file from before weights were stored by name
    np.savez(path, w0=np.zeros((3, 3)), w1=np.zeros(3))
    with pytest.raises(ModelError) as e:
        load_weights(_two_branches("left"), path)
    assert str(e.value) == (
        f"cached parameters {path} are in an old format (weights by position, not by "
        f"layer name); {fix}"
    )


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
    (x, y), _ = mnist
    spec, act = get_model("scnn_mnist"), LIFActivation()
    path = cache_path(tmp_path, spec, act, 1, 512, 3, data=data_digest(x[:512], y[:512]))
    path.write_bytes(b"garbage")
    with pytest.raises(ModelError) as e:
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
