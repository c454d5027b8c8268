"""``cifar10``: CIFAR-10 (Krizhevsky 2009), 32×32 colour photographs of 10 classes.

Read from the official ``cifar-10-batches-py`` folder (``--data-dir``, the
folder itself or the one holding it): ``data_batch_1`` ... ``data_batch_5`` and
``test_batch``, each a pickled dict with ``b"data"`` (10,000 × 3,072 uint8: the
red, green then blue planes of each 32×32 image, rows first) and ``b"labels"``,
and ``batches.meta`` with ``b"label_names"``. Without a folder, Keras's download
(``tf.keras.datasets.cifar10``) where the machine is online.

The batches are read with an unpickler that builds only what the format holds
(numpy arrays, lists, bytes, numbers): unpickling a file that is not one of
these could otherwise run any code in it.
"""

import io
import os
import pickle
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import Dataset, Splits, keras_download, register_dataset
from .mnist import DATA_ENV

#: the official class names, in label order (``batches.meta``)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
FOLDER = "cifar-10-batches-py"
#: what a batch's pickle may build: numpy's array reconstruction, and nothing else
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
            ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
            # how protocol 2 writes bytes from Python 3 (a text encoding, nothing more)
            ("_codecs", "encode")}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a CIFAR batch")
        return super().find_class(module, name)


def read_batch(path):
    """``(images (N, 32, 32, 3) uint8, labels (N,) int64)`` of one batch file.

    Raises DataError, naming the file, for anything that is not a CIFAR-10 batch.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"], np.int64)
        images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    except OSError as e:
        raise DataError(f"cannot read CIFAR-10 batch {path}: {e.strerror or e}") from None
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError,
            AttributeError, IndexError) as e:
        raise DataError(f"{path} is not a CIFAR-10 batch of the python version "
                        f"({type(e).__name__}: {e}); replace it with the file from "
                        f"cifar-10-python.tar.gz") from None
    if data.dtype != np.uint8 or labels.shape != (len(data),) or not np.isin(
            labels, np.arange(10)).all():
        raise DataError(f"{path} holds data of type {data.dtype} or labels outside 0-9; "
                        f"replace it with the file from cifar-10-python.tar.gz")
    return images, labels


def write_batch(path, images, labels, batch_label="batch"):
    """Write ``images`` (N, 32, 32, 3) uint8 and ``labels`` as one batch file of
    the published format (for tests and for users' own subsets)."""
    from .._io import atomic_path

    images = np.asarray(images, np.uint8)
    data = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    batch = {b"batch_label": batch_label.encode(), b"labels": [int(l) for l in labels],
             b"data": data, b"filenames": [f"{i:05d}.png".encode() for i in range(len(images))]}
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def cifar_folder(data_dir):
    """The ``cifar-10-batches-py`` folder under ``data_dir`` (or ``data_dir``
    itself), else None where the run gives no folder (then: the download)."""
    folder = data_dir if data_dir is not None else os.environ.get(DATA_ENV) or None
    if folder is None:
        return None
    for candidate in (Path(folder), Path(folder) / FOLDER):
        if (candidate / TEST_BATCH).is_file():
            return candidate
    if data_dir is None:
        return None  # the shared data folder need not hold CIFAR-10
    raise DataError(f"no CIFAR-10 batches in {folder} (looked for {TEST_BATCH} there and in "
                    f"{FOLDER}/); give the folder unpacked from cifar-10-python.tar.gz")


def _download():
    import tensorflow as tf

    (x_train, y_train), (x_test, y_test) = keras_download(
        tf.keras.datasets.cifar10.load_data, "CIFAR-10",
        f"pass --data-dir DIR where DIR holds {FOLDER}/ (unpacked from "
        f"cifar-10-python.tar.gz)")
    return x_train, y_train.ravel(), x_test, y_test.ravel()


@register_dataset
class CIFAR10(Dataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 10 classes."""

    name = "cifar10"
    description = "CIFAR-10 photographs, 32x32 colour, 10 classes, 50,000 train / 10,000 test"
    input_shape = (32, 32, 3)
    classes = CIFAR10_CLASSES
    item = "image"
    default_model = "wscnn_cifar10"
    options = ("classes",)

    def load(self, data_dir=None, n_train=None, n_test=None, cache_dir=None,
             input_synapse=None, n_steps=None, progress=False, classes=None):
        folder = cifar_folder(data_dir)
        if folder is None:
            x_train, y_train, x_test, y_test = _download()
            source = "the Keras download"
        else:
            missing = [b for b in TRAIN_BATCHES if not (folder / b).is_file()]
            if missing:
                raise DataError(f"{folder} lacks {', '.join(missing)}; give the whole "
                                f"folder unpacked from cifar-10-python.tar.gz")
            parts = [read_batch(folder / b) for b in TRAIN_BATCHES]
            x_train = np.concatenate([p[0] for p in parts])
            y_train = np.concatenate([p[1] for p in parts])
            x_test, y_test = read_batch(folder / TEST_BATCH)
            source = str(folder.resolve())
        if classes is not None:
            unknown = [c for c in classes if c not in CIFAR10_CLASSES]
            if unknown:
                raise DataError(f"CIFAR-10 has no class {', '.join(map(repr, unknown))}; its "
                                f"classes: {', '.join(CIFAR10_CLASSES)}")
            keep = [CIFAR10_CLASSES.index(c) for c in classes]
            relabel = np.full(10, -1)
            relabel[keep] = np.arange(len(keep))
            train, test = np.isin(y_train, keep), np.isin(y_test, keep)
            x_train, y_train = x_train[train], relabel[y_train[train]]
            x_test, y_test = x_test[test], relabel[y_test[test]]
            self.classes = tuple(classes)

        def prep(x, y):
            return x.astype(np.float32) / 255.0, np.asarray(y, np.int64)

        return Splits(*prep(x_train, y_train), *prep(x_test, y_test), source=source)
