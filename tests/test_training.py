import numpy as np
import pytest

from nengo_vision.errors import UsageError
from nengo_vision.models import get_model
from nengo_vision.neurons import LIFActivation
from nengo_vision.training import cache_path, train

QUIET = dict(log=lambda *a: None)


def _small(mnist, tmp_path, **kwargs):
    (x, y), _ = mnist
    return train(get_model("scnn_mnist"), LIFActivation(), x[:512], y[:512],
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


def test_rate_regularization_raises_active_rates(mnist, tmp_path):
    _, plain = _small(mnist, tmp_path / "p")
    _, pushed = _small(mnist, tmp_path / "r", rate_target=(200.0, 1.0))
    for layer in ("conv1", "conv2"):
        assert pushed["history"][f"{layer}_hz"][-1] > 0
    assert "conv1_hz" not in plain["history"]
