import hashlib
import socket

import numpy as np
import pytest

from nengo_vision.datasets.mnist import DATA_ENV, load_mnist
from nengo_vision.errors import DataError

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
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert str(e.value) == (
        f"no mnist.npz in {tmp_path} (given by --data-dir); point --data-dir at the "
        f"folder that holds mnist.npz"
    )


def test_environment_folder_without_mnist_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(DataError, match=f"given by {DATA_ENV}"):
        load_mnist()


def test_corrupt_file_is_an_error(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    assert str(e.value) == (
        f"{tmp_path / 'mnist.npz'} is corrupt or not an .npz file; "
        f"replace it with a good copy of mnist.npz"
    )


def test_npz_without_mnist_keys_is_an_error(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28)))
    with pytest.raises(DataError, match="is not an MNIST file .missing y_train, x_test, y_test."):
        load_mnist(tmp_path)


@pytest.fixture
def closed_port():
    """A local port bound but not listening: connections to it are refused.

    Held for the test, so that nothing else can start listening on it.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_failed_download_without_local_file_says_both_fixes(monkeypatch, tmp_path, closed_port):
    # the real Keras download, with an empty Keras cache, through a proxy that
    # refuses every connection: it fails whether or not this machine is online
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{closed_port}")
    with pytest.raises(DataError) as e:
        load_mnist()
    # Keras wraps urllib's error in a plain Exception
    assert str(e.value) == (
        f"cannot download MNIST (Exception); offline, pass --data-dir DIR or set "
        f"{DATA_ENV}=DIR, where DIR holds mnist.npz"
    )
    assert not list(tmp_path.rglob("mnist.npz"))
