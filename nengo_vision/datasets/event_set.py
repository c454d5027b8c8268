"""Labelled event recordings, many at once: made from MNIST, or read from N-MNIST.

An :class:`EventSet` keeps all recordings' events in one array with offsets
(70,000 small arrays would cost more than their events), and turns them into
what training and running need (:mod:`.frames`).

- :func:`mnist_saccades`: events made from ``mnist.npz`` images
  (:mod:`.saccades`), cached by the images' digest, the settings and the seed.
- :func:`read_nmnist_folder`: a real N-MNIST folder (or any in its layout),
  ``DIR/Train/<class>/*.bin`` and ``DIR/Test/<class>/*.bin``. (N-Caltech101's
  folders have no split: :mod:`.ncaltech`.)
"""

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_path
from ..errors import DataError
from . import frames
from .events import EVENTS_DTYPE, read_nmnist
from .saccades import SaccadeSettings, image_events

#: folder names of the official N-MNIST layout
NMNIST_SPLITS = {"train": "Train", "test": "Test"}
#: bump when the way events are made changes, so that caches are made anew
#: (2: a crossing left over from a refractory period is timed at the step's start)
SACCADES_VERSION = 2
#: N-MNIST's sensor (N-Caltech101's ATIS recordings reach 240x180: pass their shape)
NMNIST_SHAPE = (34, 34)


@dataclass
class EventSet:
    """Recordings and their labels.

    Attributes
    ----------
    events : ndarray
        All recordings' events (:data:`~.events.EVENTS_DTYPE`), one after another.
    offsets : ndarray
        ``(n + 1,)``: recording ``i`` is ``events[offsets[i]:offsets[i + 1]]``.
    labels : ndarray
        ``(n,)`` int64 class of each recording.
    shape : tuple
        Sensor ``(height, width)``.
    duration_us : float
        Length of a recording (µs), for streaming them all for the same time.
    saccades_us : ndarray or None
        ``(3, 2)`` saccade start and end times, when known (made events).
    """

    events: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    shape: tuple
    duration_us: float
    saccades_us: np.ndarray = None

    @classmethod
    def from_recordings(cls, recordings, labels, shape, duration_us=None, saccades_us=None):
        """Join a list of event arrays."""
        sizes = [len(r) for r in recordings]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        events = (np.concatenate(recordings) if recordings else np.zeros(0, EVENTS_DTYPE))
        if duration_us is None:
            duration_us = float(events["t"].max()) + 1 if len(events) else 0.0
        return cls(events.astype(EVENTS_DTYPE, copy=False), offsets, np.asarray(labels, np.int64),
                   tuple(int(s) for s in shape), float(duration_us), saccades_us)

    def __len__(self):
        return len(self.labels)

    def recording(self, i):
        """Events of recording ``i``."""
        return self.events[self.offsets[i] : self.offsets[i + 1]]

    def counts(self):
        """Events per recording."""
        return np.diff(self.offsets)

    def collapsed(self, per_saccade=False):
        """Every recording collapsed to a frame (seed 000's eq. 1): ``(n, h, w, 2)``,
        or ``(n, 3, h, w, 2)`` one per saccade with ``per_saccade``."""
        if per_saccade and self.saccades_us is None:
            raise DataError("these recordings have no saccade times; collapse them whole")
        bounds = self.saccades_us if per_saccade else None
        return np.stack([frames.collapse(self.recording(i), self.shape, bounds)
                         for i in range(len(self))])

    def binned(self, bin_us=1000, n_bins=None, indices=None):
        """Event counts per bin ``(n, n_bins, h, w, 2)`` (all recordings as long as
        the longest, ``duration_us``, unless ``n_bins`` is given)."""
        if n_bins is None:
            n_bins = int(np.ceil(self.duration_us / bin_us))
        indices = range(len(self)) if indices is None else indices
        return np.stack([frames.time_bins(self.recording(i), self.shape, bin_us, n_bins)
                         for i in indices])

    def subset(self, indices):
        """The recordings at ``indices``, in that order."""
        return EventSet.from_recordings([self.recording(i) for i in indices],
                                        self.labels[indices], self.shape,
                                        self.duration_us, self.saccades_us)

    # -- files

    def save(self, path):
        """Write to ``path`` (.npz), through a temporary file."""
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
            np.savez(f, events=self.events, offsets=self.offsets, labels=self.labels,
                     shape=np.array(self.shape), duration_us=self.duration_us,
                     saccades_us=(np.zeros((0, 2)) if self.saccades_us is None
                                  else self.saccades_us))

    @classmethod
    def load(cls, path):
        """Read a file written by :meth:`save`."""
        try:
            with np.load(path) as f:
                saccades = f["saccades_us"]
                return cls(f["events"], f["offsets"], f["labels"], tuple(f["shape"]),
                           float(f["duration_us"]), saccades if len(saccades) else None)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DataError(f"cannot read event set {path} ({e}); delete it to make it "
                            f"anew") from None


def make_saccades(images, labels, settings=SaccadeSettings(), seed=0, progress=None,
                  indices=None):
    """Events of each image (values 0-1) moved in three saccades: an :class:`EventSet`.

    ``indices`` are the images' places in their data set (default 0, 1, ...):
    each image's pixel thresholds come from ``(seed, index)``, so a digit has
    the same events whether it is made alone, in a slice or with all the others.
    ``progress`` wraps the loop over images (e.g. ``tqdm``) when given.
    """
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    if len(indices) != len(images):
        raise ValueError(f"{len(indices)} indices for {len(images)} images")
    loop = range(len(images))
    if progress is not None:
        loop = progress(loop)
    recordings = [image_events(images[i], settings, seed, int(indices[i])) for i in loop]
    return EventSet.from_recordings(recordings, labels, (settings.sensor,) * 2,
                                    settings.duration_us, settings.saccade_bounds_us())


def saccades_cache_path(images, labels, cache_dir, settings=SaccadeSettings(), seed=0,
                        indices=None):
    """Where :func:`mnist_saccades` keeps these images' events: named after the
    images' and labels' digest, their indices, the settings and the seed."""
    from ..training import data_digest

    key = dict(data=data_digest(images, labels), settings=settings.key(), seed=seed,
               version=SACCADES_VERSION)
    if indices is not None:
        key["indices"] = hashlib.sha256(np.asarray(indices, np.int64).tobytes()).hexdigest()
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"mnist-saccades-n{len(images)}-s{seed}-{digest}.npz"


def mnist_saccades(images, labels, cache_dir, settings=SaccadeSettings(), seed=0,
                   progress=None, indices=None):
    """:func:`make_saccades`, cached in ``cache_dir`` (:func:`saccades_cache_path`)."""
    from .._io import locked

    path = saccades_cache_path(images, labels, cache_dir, settings, seed, indices)
    with locked(path):  # a sweep's workers make the events once
        if path.exists():
            return EventSet.load(path)
        events = make_saccades(images, labels, settings, seed, progress, indices)
        path.parent.mkdir(parents=True, exist_ok=True)
        events.save(path)
    return events


def read_nmnist_folder(data_dir, split, progress=None, shape=NMNIST_SHAPE, limit=None,
                       classes=None):
    """The recordings of one split of an N-MNIST-layout folder.

    ``data_dir/Train/<class>/*.bin`` (or ``Test``), the class folders named by
    their label (``0`` ... ``9``), in the order of :func:`nmnist_files`.
    ``shape`` is the sensor's ``(height, width)``, the same for both splits
    (N-MNIST: 34×34; N-Caltech101: give its own); an event outside it is an
    error. ``limit``: read only the first so many. ``classes``: the data set's
    class names, which the folders' labels must index (see :func:`nmnist_files`).

    Raises
    ------
    DataError
        Saying which folder or file is missing or bad.
    """
    files = nmnist_files(data_dir, split, limit, classes)
    loop = files if progress is None else progress(files)
    recordings = [read_sensor_file(f, shape) for f, _ in loop]
    return EventSet.from_recordings(recordings, [label for _, label in files], tuple(shape))


def read_sensor_file(path, shape=NMNIST_SHAPE):
    """One N-MNIST-format recording, refused if an event is outside ``shape``."""
    r = read_nmnist(path)
    h, w = shape
    if len(r) and (r["y"].max() >= h or r["x"].max() >= w):
        raise DataError(
            f"{path} has events up to x={r['x'].max()}, y={r['y'].max()}, outside the "
            f"{w}x{h} sensor given; pass the recordings' sensor shape (height, width)"
        )
    return r


def nmnist_files(data_dir, split, limit=None, classes=None):
    """``[(path, label), ...]`` of one split of an N-MNIST-layout folder.

    Files named by numbers (as N-MNIST's are, by their MNIST index) are taken
    in the order of those numbers, which mixes the classes; else class by
    class. ``limit``: only the first so many. ``classes``: the data set's class
    names; a class folder whose label is not one of theirs is refused here (a
    label past the model's outputs would otherwise fail deep in training).
    """
    root = Path(data_dir)
    folder = root / NMNIST_SPLITS[split]
    if not folder.is_dir():
        raise DataError(
            f"{folder} is not a folder; give --data-dir the N-MNIST folder that holds "
            f"Train/ and Test/, each with one folder of .bin files per class (0-9)"
        )
    names = None if classes is None else list(classes)
    folders = sorted((d for d in folder.iterdir() if d.is_dir()), key=lambda d: d.name)
    bad = [d.name for d in folders if not d.name.isdigit()]
    if not folders or bad:
        raise DataError(
            f"{folder} must hold one folder per class named by its label (0, 1, ...); "
            f"found {', '.join(bad) if bad else 'none'}"
        )
    if names is not None:
        extra = [d for d in folders if int(d.name) >= len(names)]
        if extra:
            raise DataError(
                f"{extra[0]} is not a class of this data set: {folder} must hold class "
                f"folders {names[0]} to {names[-1]} ({len(names)} classes), named by their "
                f"label"
            )
    files = [(f, int(d.name)) for d in folders for f in sorted(d.glob("*.bin"))]
    if not files:
        raise DataError(f"no .bin files in the class folders of {folder}")
    if all(f.stem.isdigit() for f, _ in files):
        files.sort(key=lambda item: (int(item[0].stem), item[1]))
    return files[:limit]
