"""``ncaltech101``: N-Caltech101 recordings (Orchard et al. 2015) from a folder.

The official download holds one folder of N-MNIST-format ``.bin`` recordings
per category, named after it (``DIR/accordion/image_0001.bin``; 101 categories
and ``BACKGROUND_Google``), with no train/test split: each category is split
here, ``test_fraction`` of it held out for testing, chosen by the seed.
Classes are the folder names sorted, or the ``classes`` given (names, in label
order; e.g. all but ``BACKGROUND_Google``).

The ATIS sensor is 240 wide and 180 high, too large for a chip-sized network:
every event's address is divided by :data:`POOL` as it is read, so a recording
becomes events on a 45×60 grid. The frames the ANN trains on and the events
streamed to the spiking backends are both made from these pooled events
(:class:`.EventSet` ``shape`` is the pooled grid), so they agree as N-MNIST's
do (:mod:`.event_data`). One event carries ``EVENT_GAIN / POOL**2``: a pooled
frame is then the mean of the 4×4 block of the full-resolution frame N-MNIST's
gain would make, in the same range (~1 where edges are).
"""

import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import Splits, progress_bar, register_dataset
from .event_data import (
    EVENT_GAIN, EVENT_STEPS, INPUT_SYNAPSE, EventDataset, bin_weights,
    event_frames, frame_of,
)

#: the ATIS sensor of N-Caltech101, (height, width)
ATIS_SHAPE = (180, 240)
#: each event's x and y are divided by this: 180×240 → 45×60
POOL = 4
#: the model's input grid, (height, width)
POOLED_SHAPE = (ATIS_SHAPE[0] // POOL, ATIS_SHAPE[1] // POOL)
#: categories of the official download (101 and BACKGROUND_Google): the zoo
#: model's outputs, so that it takes any choice of them
N_CLASSES = 102
#: the folder the official archive unpacks to, looked for inside --data-dir
ARCHIVE_FOLDER = "Caltech101"


def pool_events(events, pool=POOL):
    """``events`` with their addresses divided by ``pool`` (a copy)."""
    out = events.copy()
    out["x"] //= pool
    out["y"] //= pool
    return out


def read_pooled(path, pool=POOL):
    """One recording, refused if outside the ATIS sensor, pooled by ``pool``."""
    from .event_set import read_sensor_file

    return pool_events(read_sensor_file(path, ATIS_SHAPE), pool)


def category_folders(root):
    """Sub-folders of ``root`` (hidden ones skipped), sorted by name."""
    return sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")),
                  key=lambda d: d.name)


def choose_classes(found, classes, root):
    """The class names to use, in label order: all ``found`` (sorted) or ``classes``,
    each checked to be a folder of ``root``."""
    if classes is None:
        names = list(found)
    else:
        names = list(classes)
        missing = [c for c in names if c not in found]
        if missing:
            shown = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "")
            raise DataError(f"{root} has no category folder {', '.join(map(repr, missing))}; "
                            f"its {len(found)} categories: {shown}")
        if len(set(names)) != len(names):
            raise DataError(f"classes name a category twice: {', '.join(names)}")
    if len(names) < 2:
        raise DataError(f"{root} gives {len(names)} categor{'y' if names else 'ies'}; "
                        f"a classifier needs two or more")
    return names


def split_by_fraction(files, fraction, seed):
    """``(train, test)`` lists of ``(path, label)`` from ``{label: [paths]}``:
    ``round(fraction * n)`` of each class's ``n`` for testing (at least one, and
    one left for training, where a class has two or more), chosen by ``seed``
    and the class's name, so a category splits the same whatever else is chosen."""
    train, test = [], []
    for label, (name, paths) in enumerate(files.items()):
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        order = rng.permutation(len(paths))
        n = len(paths)
        n_test = int(round(fraction * n))
        if n >= 2 and fraction > 0:
            n_test = min(max(n_test, 1), n - 1)
        test += [(paths[i], label) for i in order[:n_test]]
        train += [(paths[i], label) for i in order[n_test:]]
    return train, test


def shuffled(pairs, seed, which):
    """``pairs`` in a seeded order: classes mixed, so that the first N of a
    split are a fair sample of it."""
    order = np.random.default_rng([seed, which]).permutation(len(pairs))
    return [pairs[i] for i in order]


@register_dataset
class NCaltech101(EventDataset):
    """N-Caltech101 from ``--data-dir DIR``: ``DIR/<category>/*.bin`` (see the module)."""

    name = "ncaltech101"
    description = ("N-Caltech101 recordings from --data-dir DIR (one folder of .bin per "
                   "category), split by --test-fraction; ATIS 240x180 pooled to 45x60x2")
    input_shape = POOLED_SHAPE + (2,)
    n_steps = EVENT_STEPS
    default_model = "scnn_ncaltech101"
    event_gain = EVENT_GAIN / POOL**2
    #: settings of the run this data set reads (besides the common ones)
    options = ("classes", "test_fraction", "seed")

    def __init__(self):
        # set by load: the classes are the folder's
        self.classes = ()

    def load(self, data_dir=None, n_train=None, n_test=None, cache_dir=None,
             input_synapse=INPUT_SYNAPSE, n_steps=None, progress=False, classes=None,
             test_fraction=0.2, seed=0):
        """The :class:`.Splits` of an N-Caltech101 folder; sets :attr:`classes`.

        Parameters
        ----------
        classes : list of str, optional
            Category folders to use, in label order (default: all, sorted).
        test_fraction : float
            Share of each category held out for testing.
        seed : int
            Chooses the held-out recordings and the order of both splits.

        Other parameters are :meth:`.Dataset.load`'s.
        """
        from .event_set import EventSet

        if data_dir is None:
            raise DataError("ncaltech101 reads a real N-Caltech101 folder: pass --data-dir "
                            "DIR, where DIR holds one folder of .bin recordings per "
                            "category (DIR/accordion/image_0001.bin, ...)")
        root = Path(data_dir)
        if (root / ARCHIVE_FOLDER).is_dir():  # the folder the download unpacks into
            root = root / ARCHIVE_FOLDER
        if not root.is_dir():
            raise DataError(f"--data-dir {root} is not a folder; give the N-Caltech101 "
                            f"folder that holds one folder per category")
        found = [d.name for d in category_folders(root)]
        if not found:
            raise DataError(f"{root} holds no category folders; N-Caltech101 keeps each "
                            f"category's .bin recordings in a folder named after it")
        names = choose_classes(found, classes, root)
        files = {name: sorted((root / name).glob("*.bin")) for name in names}
        empty = [name for name, paths in files.items() if not paths]
        if empty:
            raise DataError(f"no .bin recordings in {root / empty[0]}; every category "
                            f"folder needs some (or leave it out with --classes)")
        train, test = split_by_fraction(files, test_fraction, seed)
        train, test = shuffled(train, seed, 0), shuffled(test, seed, 1)
        totals = len(train), len(test)
        train, test = train[:n_train], test[:n_test]

        weights = bin_weights(n_steps or self.n_steps, input_synapse, self.event_gain)
        # training needs frames only: each recording becomes one as it is read
        x_train = np.empty((len(train),) + tuple(self.input_shape), np.float32)
        for i, (path, _) in enumerate(progress_bar("reading training", progress)(train)):
            x_train[i] = frame_of(read_pooled(path), POOLED_SHAPE, weights)
        recordings = [read_pooled(path) for path, _ in progress_bar("reading test", progress)(test)]
        test_events = EventSet.from_recordings(recordings, [label for _, label in test],
                                               POOLED_SHAPE)
        self.classes = tuple(names)
        self.input_shape = POOLED_SHAPE + (2,)
        how = f"{100 * test_fraction:g} % of each category held out (seed {seed})"
        return Splits(
            x_train, np.array([label for _, label in train], np.int64),
            event_frames(test_events, weights), test_events.labels,
            source=f"{root.resolve()} ({how})", test_events=test_events,
            n_train_total=totals[0], n_test_total=totals[1],
        )
