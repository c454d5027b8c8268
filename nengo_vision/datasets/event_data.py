"""Event data sets: ``mnist-saccades`` (made from MNIST) and ``nmnist`` (a real folder).

A sample is a recording of events. The spiking backends receive it streamed in
1 ms steps (seed 001's eq. 3), each event an input spike carrying
:data:`EVENT_GAIN`, through a lowpass synapse of :data:`INPUT_SYNAPSE` on the
first layer's input. The ANN (training, and the ``keras`` backend) receives
the recording *collapsed to a frame* (seed 000's eq. 1, per pixel and
polarity) by the same synapse: each 1 ms bin's events weighted by what the
synapse keeps of them at the end of the presentation. That frame is the first
layer's input at the last step, in the rate approximation; the spiking
network's output there is what the ANN computes. (A plain count over the
recording, the same weight for every bin, is the frame without a synapse.
Measured on 100 made test digits with a model trained on such frames: without
an input synapse the spikes read 43 % of digits where the ANN read 93 %, since
an edge crossing a pixel gives a burst far above the pixel's mean rate; a
0.2 s synapse smooths the bursts.) Seed 000's division by the pattern's
largest count needs the whole recording first, so nothing streamed can do it;
:func:`.frames.collapse` keeps it for offline use.

Training needs frames only: made training recordings are reduced to frames as
they are made (60,000 recordings of ~9,000 events would take ~5 GB) and the
frames cached.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from .._io import atomic_path, locked
from ..errors import DataError
from . import Dataset, Splits, progress_bar, register_dataset

#: The input value one event carries: frames of lit pixels then reach ~1
#: (a lit pixel-polarity sees ~10 events in 300 ms).
EVENT_GAIN = 30.0
#: 1 ms steps over N-MNIST's 300 ms (three saccades of 100 ms)
EVENT_STEPS = 300
#: Lowpass time constant (s) on the streamed input (see above)
INPUT_SYNAPSE = 0.2
#: bump when the cached training frames are made differently
FRAMES_VERSION = 1


def bin_weights(n_steps=EVENT_STEPS, tau=INPUT_SYNAPSE, gain=EVENT_GAIN, dt=0.001):
    """What one event in each 1 ms bin adds to the frame: ``(n_steps,)``.

    With a lowpass synapse ``tau``, nengo's ``Lowpass`` step ``y[n] = a y[n-1]
    + (1 - a) x[n-1]`` (``a = exp(-dt / tau)``; measured: nengo's filter
    delays by one step) leaves ``gain (1 - a) a**(T-2-k)`` of an event of bin
    ``k`` at the last step ``T``, and nothing yet of the last bin's; without a
    synapse (None), the presentation's mean input counts every bin ``gain / T``.
    """
    if tau is None:
        return np.full(n_steps, gain / n_steps)
    a = np.exp(-dt / tau)
    weights = np.zeros(n_steps)
    weights[:-1] = gain * (1 - a) * a ** (n_steps - 2 - np.arange(n_steps - 1))
    return weights


def frame_of(events, shape, weights, bin_us=1000):
    """One recording collapsed to a frame ``(h, w, 2)`` float32 by per-bin ``weights``."""
    from .frames import time_bins

    bins = time_bins(events, shape, bin_us, len(weights))
    return np.tensordot(weights, bins, axes=1).astype(np.float32)


def event_frames(event_set, weights, progress=None):
    """Every recording of an :class:`.EventSet` collapsed: ``(N, h, w, 2)`` float32."""
    loop = range(len(event_set)) if progress is None else progress(range(len(event_set)))
    out = np.empty((len(event_set),) + tuple(event_set.shape) + (2,), np.float32)
    for i in loop:
        out[i] = frame_of(event_set.recording(i), event_set.shape, weights)
    return out


def made_frames(images, labels, cache_dir, weights, seed=0, progress=None):
    """Events made from ``images`` (training digits 0, 1, ...) collapsed to
    frames one digit at a time; cached by the images' digest, the settings, the
    seed and the weights."""
    from ..training import data_digest
    from .event_set import SACCADES_VERSION
    from .saccades import SaccadeSettings, image_events

    settings = SaccadeSettings()
    key = dict(data=data_digest(images, labels), settings=settings.key(), seed=seed,
               weights=hashlib.sha256(np.asarray(weights, np.float64).tobytes()).hexdigest(),
               version=[SACCADES_VERSION, FRAMES_VERSION])
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"mnist-saccades-frames-n{len(images)}-s{seed}-{digest}.npz"
    with locked(path):  # a sweep's workers make the frames once
        if path.exists():
            try:
                with np.load(path) as f:
                    return f["frames"]
            except (OSError, KeyError, ValueError, EOFError) as e:
                raise DataError(f"cannot read {path} ({e}); delete it to make it anew") from None
        size = (settings.sensor,) * 2
        out = np.empty((len(images),) + size + (2,), np.float32)
        loop = range(len(images)) if progress is None else progress(range(len(images)))
        for i in loop:
            out[i] = frame_of(image_events(images[i], settings, seed, i), size, weights)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, frames=out)
    return out


class EventDataset(Dataset):
    """What the event data sets share: 34×34 sensor, two polarities, 300 steps."""

    input_shape = (34, 34, 2)
    classes = tuple(str(d) for d in range(10))
    item = "recording"
    n_steps = EVENT_STEPS
    default_model = "scnn_nmnist"
    #: the input value of one event (see the module's notes)
    event_gain = EVENT_GAIN
    input_synapse = INPUT_SYNAPSE
    # the frame is the input at the last step: a readout filter as long as the
    # default (0.1 s) mixes in outputs of earlier, other frames (measured on
    # 100 made digits, ANN 96 %: 10 ms 95 %, 30 ms 87 %, 100 ms 65 %)
    output_synapse = 0.01


@register_dataset
class MNISTSaccades(EventDataset):
    """Events made from MNIST digits moved in N-MNIST's three saccades (:mod:`.saccades`)."""

    name = "mnist-saccades"
    description = ("events made from MNIST digits in N-MNIST's three saccades, 34x34x2, "
                   "300 ms each, 60,000 train / 10,000 test")

    def load(self, data_dir=None, n_train=None, n_test=None, cache_dir=None,
             input_synapse=INPUT_SYNAPSE, n_steps=None, progress=False):
        from ..training import default_cache_dir
        from .event_set import mnist_saccades
        from .mnist import MNIST

        mnist = MNIST().load(data_dir)
        cache_dir = Path(cache_dir or default_cache_dir())
        n_train = min(n_train or len(mnist.x_train), len(mnist.x_train))
        n_test = min(n_test or len(mnist.x_test), len(mnist.x_test))
        weights = bin_weights(n_steps or self.n_steps, input_synapse, self.event_gain)
        train = made_frames(mnist.x_train[:n_train], mnist.y_train[:n_train], cache_dir,
                            weights, progress=progress_bar("making training events", progress))
        test = mnist_saccades(mnist.x_test[:n_test], mnist.y_test[:n_test], cache_dir,
                              progress=progress_bar("making test events", progress))
        return Splits(
            train, mnist.y_train[:n_train], event_frames(test, weights), test.labels,
            source=f"events made from {mnist.source}", test_events=test,
            n_train_total=len(mnist.x_train), n_test_total=len(mnist.x_test),
        )


@register_dataset
class NMNIST(EventDataset):
    """A real N-MNIST folder (Orchard et al. 2015): ``DIR/Train/<class>/*.bin``
    and ``DIR/Test/<class>/*.bin``, given with ``--data-dir DIR``."""

    name = "nmnist"
    description = "N-MNIST recordings from --data-dir DIR (Train/ and Test/ folders of .bin)"

    def load(self, data_dir=None, n_train=None, n_test=None, cache_dir=None,
             input_synapse=INPUT_SYNAPSE, n_steps=None, progress=False):
        from .event_set import nmnist_files, read_nmnist_folder, read_sensor_file

        if data_dir is None:
            raise DataError(
                "nmnist reads a real N-MNIST folder: pass --data-dir DIR, where DIR "
                "holds Train/ and Test/ (N-MNIST cannot be downloaded here; "
                "--dataset mnist-saccades makes events from MNIST instead)"
            )
        # files named by their MNIST index are read in that order, which mixes
        # the classes: the first N recordings are a fair sample
        weights = bin_weights(n_steps or self.n_steps, input_synapse, self.event_gain)
        shape = self.input_shape[:2]
        # training needs frames only: each recording becomes one as it is read
        # (all 60,000 recordings' events at once would take gigabytes)
        files = nmnist_files(data_dir, "train", limit=n_train, classes=self.classes)
        train = np.empty((len(files),) + tuple(self.input_shape), np.float32)
        for i, (path, _) in enumerate(progress_bar("reading Train", progress)(files)):
            train[i] = frame_of(read_sensor_file(path, shape), shape, weights)
        test = read_nmnist_folder(data_dir, "test", progress=progress_bar("reading Test", progress),
                                  limit=n_test, shape=shape, classes=self.classes)
        return Splits(
            train, np.array([label for _, label in files]), event_frames(test, weights),
            test.labels, source=str(Path(data_dir).resolve()), test_events=test,
        )
