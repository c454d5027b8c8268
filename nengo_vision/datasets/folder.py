"""``folder``: a user's own images, one sub-folder per class.

Two layouts, as users hold them:

- ``DIR/train/<class>/*`` and ``DIR/test/<class>/*`` (Keras's
  ``image_dataset_from_directory`` layout, split by the user; ``Train``/``Test``
  also found);
- ``DIR/<class>/*`` alone (Caltech 101's ``101_ObjectCategories``): each class is
  split here, ``test_fraction`` of it held out for testing, chosen by the seed.

Classes are the folder names, sorted as Keras sorts them, or the ``classes``
the run names (in that order: their labels are 0, 1, ...). Images are PNG, JPEG,
BMP or GIF, read by Keras's ``load_img`` (Pillow); a folder with any colour
image is read as colour (grey images become three equal channels), else as
grey. Images of different sizes need ``image_size`` (each is resized,
bilinearly, as Keras resizes). Pixels are scaled to [0, 1].
"""

from pathlib import Path

import numpy as np

from ..errors import DataError
from . import Dataset, Splits, progress_bar, register_dataset

#: image file suffixes read (Keras's ``image_dataset_from_directory`` takes these)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
#: the split folders of a pre-split layout, each spelt as users have them
SPLIT_NAMES = {"train": ("train", "Train", "training"), "test": ("test", "Test", "testing")}


def _split_folder(root, split):
    for name in SPLIT_NAMES[split]:
        if (root / name).is_dir():
            return root / name
    return None


def class_folders(folder):
    """Sub-folders of ``folder`` that name classes (hidden ones skipped), sorted."""
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def image_files(folder):
    """Image files of one class folder, sorted by name."""
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)


def choose_classes(found, classes, where):
    """The class names to use, in label order: ``classes`` (each checked to be
    among ``found``), else all ``found``. DataError naming what is missing."""
    if classes is None:
        return list(found)
    missing = [c for c in classes if c not in found]
    if missing:
        raise DataError(
            f"{where} has no class folder {', '.join(map(repr, missing))}; its classes: "
            f"{', '.join(found)}"
        )
    return list(classes)


def _files_per_class(folder, names):
    out = {}
    for name in names:
        files = image_files(folder / name)
        if not files:
            raise DataError(f"class folder {folder / name} holds no images "
                            f"({', '.join(IMAGE_SUFFIXES)}); add some or leave the class "
                            f"out with --classes")
        out[name] = files
    return out


def read_images(files, size=None, progress=None):
    """The images at ``files`` as ``(N, H, W, C)`` float32 in [0, 1].

    ``C`` is 3 if any image is in colour, else 1. ``size`` ``(H, W)`` resizes
    every image; without it all must be the same size. Raises DataError naming
    the first file that cannot be read, or whose size differs.
    """
    from PIL import Image, UnidentifiedImageError

    modes, sizes = [], []
    for path in files:
        try:
            with Image.open(path) as image:
                modes.append(image.mode)
                sizes.append(image.size[::-1])
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise DataError(f"cannot read image {path} ({type(e).__name__}: "
                            f"{str(e) or 'unreadable'}); replace or remove it") from None
    colour = any(m not in ("1", "L", "LA", "I", "I;16", "F") for m in modes)
    if size is None and len(set(sizes)) > 1:
        # the odd one out is named against the size most images have
        common = max(set(sizes), key=sizes.count)
        odd = next(i for i, s in enumerate(sizes) if s != common)
        raise DataError(
            f"image {files[odd]} is {sizes[odd][0]}x{sizes[odd][1]} but the other images "
            f"are {common[0]}x{common[1]}; give --image-size H,W to resize every image"
        )
    size = size or max(set(sizes), key=sizes.count)
    height, width = size
    out = np.empty((len(files), height, width, 3 if colour else 1), np.float32)
    loop = range(len(files)) if progress is None else progress(range(len(files)))
    for i in loop:
        out[i] = _load(files[i], colour, size)
    return out


def _load(path, colour, size):
    from PIL import UnidentifiedImageError
    from tensorflow.keras.utils import img_to_array, load_img

    try:
        image = load_img(path, color_mode="rgb" if colour else "grayscale",
                         target_size=size, interpolation="bilinear")
        # a truncated file opens but fails while its pixels are decoded
        return img_to_array(image, dtype="float32") / 255.0
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise DataError(f"cannot read image {path} ({type(e).__name__}: "
                        f"{str(e) or 'unreadable'}); replace or remove it") from None


def split_by_fraction(files, fraction, seed):
    """Each class's files cut into train and test: ``fraction`` of them (at
    least one where a class has two or more) for testing, chosen by ``seed``.
    Returns ``(train, test)``, each a list of ``(file, label)``."""
    train, test = [], []
    for label, paths in enumerate(files.values()):
        order = np.random.default_rng([seed, label]).permutation(len(paths))
        n_test = min(len(paths) - 1, max(1, round(fraction * len(paths))))
        test += [(paths[i], label) for i in order[:n_test]]
        train += [(paths[i], label) for i in order[n_test:]]
    return train, test


def _shuffled(pairs, seed, which):
    # classes interleaved: the first N of a split are a fair sample of it
    order = np.random.default_rng([seed, which]).permutation(len(pairs))
    return [pairs[i] for i in order]


@register_dataset
class ImageFolder(Dataset):
    """Images from ``--data-dir DIR``, one sub-folder per class (see the module)."""

    name = "folder"
    description = ("your images from --data-dir DIR: DIR/train/<class>/, DIR/test/<class>/ "
                   "or DIR/<class>/ split by --test-fraction (PNG, JPEG; grey or colour)")
    item = "image"
    default_model = "scnn"
    #: settings of the run this data set reads (besides the common ones)
    options = ("classes", "image_size", "test_fraction", "seed")

    def __init__(self):
        # set by load: they depend on the folder
        self.input_shape = ()
        self.classes = ()

    def load(self, data_dir=None, n_train=None, n_test=None, cache_dir=None,
             input_synapse=None, n_steps=None, progress=False, classes=None,
             image_size=None, test_fraction=0.2, seed=0):
        if data_dir is None:
            raise DataError("--dataset folder reads your images: pass --data-dir DIR, "
                            "where DIR holds train/<class>/ and test/<class>/, or one "
                            "folder per class")
        root = Path(data_dir)
        if not root.is_dir():
            raise DataError(f"--data-dir {root} is not a folder; give the folder that "
                            f"holds the class folders")
        train_dir, test_dir = _split_folder(root, "train"), _split_folder(root, "test")
        if (train_dir is None) != (test_dir is None):
            there = train_dir or test_dir
            raise DataError(f"{root} has {there.name}/ but no "
                            f"{'test' if test_dir is None else 'train'}/ folder; give both, "
                            f"or put the class folders straight in {root}")
        if train_dir is not None:
            found = [d.name for d in class_folders(train_dir)]
            names = choose_classes(found, classes, train_dir)
            test_found = [d.name for d in class_folders(test_dir)]
            missing = [n for n in names if n not in test_found]
            if missing:
                raise DataError(f"{test_dir} has no class folder {', '.join(missing)}, which "
                                f"{train_dir} has; give every class a test folder")
            train = [(f, label) for label, fs in enumerate(
                _files_per_class(train_dir, names).values()) for f in fs]
            test = [(f, label) for label, fs in enumerate(
                _files_per_class(test_dir, names).values()) for f in fs]
            how = f"{train_dir.name}/ and {test_dir.name}/"
        else:
            found = [d.name for d in class_folders(root)]
            if not found:
                raise DataError(f"{root} holds no class folders; put each class's images in "
                                f"a folder named after it (DIR/cat/1.png, DIR/dog/1.png)")
            names = choose_classes(found, classes, root)
            train, test = split_by_fraction(_files_per_class(root, names), test_fraction, seed)
            how = f"{100 * test_fraction:g} % of each class held out (seed {seed})"
        if len(names) < 2:
            raise DataError(f"{root} gives one class ({names[0]}); a classifier needs two "
                            f"or more")
        train, test = _shuffled(train, seed, 0), _shuffled(test, seed, 1)
        totals = len(train), len(test)
        train, test = train[:n_train], test[:n_test]
        files = [f for f, _ in train + test]
        x = read_images(files, image_size, progress_bar("reading images", progress, "image"))
        self.input_shape = tuple(x.shape[1:])
        self.classes = tuple(names)
        return Splits(
            x[: len(train)], np.array([l for _, l in train], np.int64),
            x[len(train):], np.array([l for _, l in test], np.int64),
            source=f"{root.resolve()} ({how})", n_train_total=totals[0],
            n_test_total=totals[1],
        )
