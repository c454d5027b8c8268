"""MNIST, from a local ``mnist.npz`` when one is given, else the standard Keras download.

The local file has the same keys as the file Keras downloads, but Keras checks the
hash of its own download, so the local file is read with numpy rather than dropped
into the Keras cache.
"""

import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import Dataset, Splits, keras_download, register_dataset

#: Environment variable naming a folder that holds the data files.
DATA_ENV = "NENGO_VISION_DATA"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


def mnist_path(data_dir=None):
    """Return the local ``mnist.npz`` to use, or None to use the Keras download.

    ``data_dir`` (the ``--data-dir`` option) wins over the ``NENGO_VISION_DATA``
    environment variable. A folder that is named but holds no ``mnist.npz`` is an
    error rather than a silent fall-back to the network.
    """
    folder = data_dir if data_dir is not None else os.environ.get(DATA_ENV) or None
    if folder is None:
        return None
    path = Path(folder) / "mnist.npz"
    if not path.is_file():
        source = "--data-dir" if data_dir is not None else DATA_ENV
        raise DataError(
            f"no mnist.npz in {folder} (given by {source}); point {source} at the "
            f"folder that holds mnist.npz"
        )
    return path


def _read_npz(path):
    try:
        with np.load(path) as f:
            missing = [k for k in MNIST_KEYS if k not in f]
            if missing:
                raise DataError(
                    f"{path} is not an MNIST file (missing {', '.join(missing)}); "
                    f"replace it with the mnist.npz described in the data README"
                )
            arrays = {k: f[k] for k in MNIST_KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise DataError(
            f"{path} is corrupt or not an .npz file; replace it with a good copy of "
            f"mnist.npz"
        ) from None
    check_arrays(arrays, path)
    return arrays


def check_arrays(arrays, path):
    """DataError unless the images are (N, 28, 28) finite pixels in 0-255 and the
    labels (N,) whole numbers 0-9: a NaN pixel or an 11th class would otherwise
    train quietly into a meaningless model."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (len(x),):
            raise DataError(
                f"{path} has x_{split} of shape {x.shape} and y_{split} of shape "
                f"{y.shape}, expected (N, 28, 28) and (N,); replace it with a good copy"
            )
        if not (np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number)):
            raise DataError(
                f"{path} has x_{split} of type {x.dtype} and y_{split} of type {y.dtype}, "
                f"expected numbers; replace it with a good copy"
            )
        bad = ~np.isfinite(x) | (x < 0) | (x > 255)
        if bad.any():
            image = int(np.argmax(bad.reshape(len(x), -1).any(axis=1)))
            raise DataError(
                f"{path} has {int(bad.sum())} pixel(s) in x_{split} that are not numbers "
                f"from 0 to 255 (first in image {image}); replace it with a good copy"
            )
        wrong = ~np.isin(y, np.arange(10))
        if wrong.any():
            i = int(np.argmax(wrong))
            raise DataError(
                f"{path} has {int(wrong.sum())} label(s) in y_{split} outside the classes "
                f"0-9 (first: {y[i]!r} at {i}); replace it with a good copy"
            )


def _download():
    import tensorflow as tf

    (x_train, y_train), (x_test, y_test) = keras_download(
        tf.keras.datasets.mnist.load_data, "MNIST",
        f"pass --data-dir DIR or set {DATA_ENV}=DIR, where DIR holds mnist.npz")
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def load_mnist(data_dir=None):
    """Load MNIST as float images in [0, 1] with a trailing channel axis.

    Parameters
    ----------
    data_dir : str or Path, optional
        Folder holding ``mnist.npz``. Defaults to ``$NENGO_VISION_DATA``; without
        either, the Keras download is used.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        Images of shape ``(N, 28, 28, 1)``, float32, and labels of shape ``(N,)``,
        int64, in the file's order.
    """
    splits = MNIST().load(data_dir)
    return (splits.x_train, splits.y_train), (splits.x_test, splits.y_test)


@register_dataset
class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images."""

    name = "mnist"
    description = "MNIST handwritten digits, 28x28 grey, 60,000 train / 10,000 test"
    input_shape = (28, 28, 1)
    classes = tuple(str(d) for d in range(10))
    item = "digit"

    def load(self, data_dir=None, n_train=None, n_test=None, cache_dir=None,
             input_synapse=None, n_steps=None, progress=False):
        path = mnist_path(data_dir)
        arrays = _download() if path is None else _read_npz(path)

        def prep(x, y):
            return (x.astype(np.float32) / 255.0)[..., None], y.astype(np.int64)

        x_train, y_train = prep(arrays["x_train"], arrays["y_train"])
        x_test, y_test = prep(arrays["x_test"], arrays["y_test"])
        return Splits(x_train, y_train, x_test, y_test,
                      source=str(path) if path else "the Keras download")
