import hashlib

import numpy as np
import pytest

from nengo_vision.data import DATA_ENV, load_mnist
from nengo_vision.errors import UsageError

SHA256 = "150767cbe69c5b8a20ea38aacda23f9032d735e75e0478fad3ed9adf1880334f"


def test_real_mnist_loads_with_shapes_and_ranges(data_dir, mnist):
    assert hashlib.sha256((data_dir / "mnist.npz").read_bytes()).hexdigest() == SHA256
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and 0 <= x_test.min() and x_test.max() == 1.0
    assert sorted(np.unique(y_test)) == list(range(10))
    # the official test set starts 7, 2, 1, 0, 4
    assert list(y_test[:5]) == [7, 2, 1, 0, 4]


def test_environment_variable_is_used(data_dir, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(data_dir))
    (_, y_train), _ = load_mnist()
    assert len(y_train) == 60000


def test_folder_without_mnist_is_an_error(tmp_path):
    with pytest.raises(UsageError) as e:
        load_mnist(tmp_path)
    assert str(e.value) == (
        f"no mnist.npz in {tmp_path} (given by --data-dir); point --data-dir at the "
        f"folder that holds mnist.npz"
    )


def test_environment_folder_without_mnist_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(UsageError, match=f"given by {DATA_ENV}"):
        load_mnist()


def test_corrupt_file_is_an_error(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(UsageError) as e:
        load_mnist(tmp_path)
    assert str(e.value) == (
        f"{tmp_path / 'mnist.npz'} is corrupt or not an .npz file; "
        f"replace it with a good copy of mnist.npz"
    )


def test_npz_without_mnist_keys_is_an_error(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28)))
    with pytest.raises(UsageError, match="is not an MNIST file .missing y_train, x_test, y_test."):
        load_mnist(tmp_path)


def test_offline_without_local_file_says_both_fixes(monkeypatch, tmp_path):
    # the real Keras download, with an empty Keras cache; this machine is offline
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    with pytest.raises(UsageError) as e:
        load_mnist()
    message = str(e.value)
    assert message.startswith("cannot download MNIST (")
    assert message.endswith(
        f"offline, pass --data-dir DIR or set {DATA_ENV}=DIR, where DIR holds mnist.npz"
    )
