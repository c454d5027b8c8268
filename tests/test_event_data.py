"""The event data sets: frames for the ANN, events streamed to every backend."""

import nengo
import numpy as np
import pytest

import nengo_vision as nv
from nengo_vision.datasets import get_dataset
from nengo_vision.datasets.event_data import EVENT_GAIN, bin_weights, event_frames, frame_of
from nengo_vision.datasets.event_set import make_saccades
from nengo_vision.datasets.events import write_nmnist
from nengo_vision.errors import ConfigError, DataError, ModelError
from nengo_vision.stimulus import EventSpikes, Inputs


@pytest.fixture(scope="module")
def recordings(mnist):
    """Events made from the first 12 real test digits."""
    _, (x_test, y_test) = mnist
    return make_saccades(x_test[:12, ..., 0], y_test[:12], seed=0)


def test_the_frame_is_the_filtered_stream_at_the_last_step(recordings):
    """What the ANN is given (the events collapsed with the input synapse's
    weights) is what nengo's Lowpass makes of the streamed events at the last
    of the 300 steps; without a synapse, the stream's mean."""
    n_steps, tau = 300, 0.2
    stream = Inputs(np.zeros((len(recordings), 34, 34, 2)), EventSpikes(recordings, EVENT_GAIN))
    values = stream.values(n_steps, 0.001, 0, 2)
    for i in range(2):
        with nengo.Network() as net:
            node = nengo.Node(nengo.processes.PresentInput(values[i], 0.001))
            probe = nengo.Probe(node, synapse=nengo.Lowpass(tau))
        with nengo.Simulator(net, progress_bar=False) as sim:
            sim.run_steps(n_steps)
        frame = frame_of(recordings.recording(i), (34, 34), bin_weights(n_steps, tau))
        np.testing.assert_allclose(sim.data[probe][-1], frame.ravel(), rtol=1e-4, atol=1e-5)
        assert frame.max() > 0.3  # lit pixels near 1, as EVENT_GAIN intends
        mean = frame_of(recordings.recording(i), (34, 34), bin_weights(n_steps, None))
        np.testing.assert_allclose(values[i].mean(axis=0), mean.ravel(), rtol=1e-5)


def test_streamed_counts_are_the_recordings_1ms_bins(recordings):
    """Step k carries the events with floor(t / 1000) = k, per pixel and
    polarity, in the (y, x, polarity) order of the frames."""
    stream = EventSpikes(recordings, 2.0)
    counts = stream.counts(np.zeros((3, 34, 34, 2)), [4, 5, 6], 300, 0.001)
    assert counts.shape == (3, 300, 34 * 34 * 2)
    for b, i in enumerate([4, 5, 6]):
        ev = recordings.recording(i)
        assert counts[b].sum() == len(ev)
        e = ev[len(ev) // 2]
        k, flat = int(e["t"]) // 1000, (int(e["y"]) * 34 + int(e["x"])) * 2 + int(e["p"])
        assert counts[b, k, flat] >= 1
    # a shard keeps only its recordings and the same counts
    taken, idx = stream.take(np.array([5, 6]))
    assert len(taken.events) == 2
    np.testing.assert_array_equal(
        taken.counts(np.zeros((2, 34, 34, 2)), idx, 300, 0.001), counts[1:])


def test_mnist_saccades_data_set_makes_only_what_the_run_uses(data_dir, tmp_path):
    dataset = get_dataset("mnist-saccades")
    splits = dataset.load(data_dir, n_train=30, n_test=8, cache_dir=tmp_path)
    assert splits.x_train.shape == (30, 34, 34, 2) and splits.x_test.shape == (8, 34, 34, 2)
    assert (splits.n_train_total, splits.n_test_total) == (60000, 10000)
    assert len(splits.test_events) == 8
    np.testing.assert_array_equal(splits.x_test,
                                  event_frames(splits.test_events, bin_weights()))
    again = dataset.load(data_dir, n_train=30, n_test=8, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.x_train, splits.x_train)  # from the cache
    assert len(list(tmp_path.glob("mnist-saccades-frames-n30-*.npz"))) == 1
    assert dataset.default_model == "scnn_nmnist" and dataset.n_steps == 300


def test_event_frames_follow_the_runs_steps(data_dir, tmp_path):
    """With --n-steps 100 the backends stream the first 100 ms: the ANN's frame
    is what the input synapse holds at step 100, not at the recording's end."""
    dataset = get_dataset("mnist-saccades")
    short = dataset.load(data_dir, n_train=4, n_test=3, cache_dir=tmp_path, n_steps=100)
    np.testing.assert_array_equal(short.x_test,
                                  event_frames(short.test_events, bin_weights(100)))
    whole = dataset.load(data_dir, n_train=4, n_test=3, cache_dir=tmp_path)
    assert not np.allclose(short.x_test, whole.x_test)
    assert not np.allclose(short.x_train, whole.x_train)  # trained on what it will see


def test_an_nmnist_folder_is_a_data_set(tmp_path, recordings):
    """Files named by number are taken in that order (classes mixed); the
    first N are read."""
    for split, idx in (("Train", [0, 1, 2, 3]), ("Test", [4, 5])):
        for i in idx:
            folder = tmp_path / split / str(recordings.labels[i])
            folder.mkdir(parents=True, exist_ok=True)
            write_nmnist(folder / f"{i:05d}.bin", recordings.recording(i))
    splits = get_dataset("nmnist").load(tmp_path, n_train=3)
    assert list(splits.y_train) == list(recordings.labels[:3])
    assert list(splits.y_test) == list(recordings.labels[4:6])
    expected = frame_of(recordings.recording(1), (34, 34), bin_weights())
    np.testing.assert_array_equal(splits.x_train[1], expected)
    with pytest.raises(DataError) as e:
        get_dataset("nmnist").load(None)
    assert str(e.value) == (
        "nmnist reads a real N-MNIST folder: pass --data-dir DIR, where DIR holds Train/ "
        "and Test/ (N-MNIST cannot be downloaded here; --dataset mnist-saccades makes "
        "events from MNIST instead)")


def test_event_runs_refuse_what_does_not_fit(data_dir, tmp_path):
    config = nv.Config(dataset="mnist-saccades", encoding="poisson", n_test=5, n_train=5,
                       data_dir=str(data_dir), cache_dir=str(tmp_path))
    with pytest.raises(ConfigError) as e:
        nv.pipeline.load_data(config)
    assert str(e.value) == ("encoding poisson codes still images, but mnist-saccades "
                            "streams its own events; leave encoding out")
    config = nv.Config(dataset="mnist-saccades", model="scnn_mnist", n_test=5, n_train=5,
                       data_dir=str(data_dir), cache_dir=str(tmp_path))
    data = nv.pipeline.load_data(config)
    with pytest.raises(ModelError) as e:
        nv.pipeline.model_spec(config, data)
    assert str(e.value) == ("model scnn_mnist takes mnist's inputs of shape (28, 28, 1), but "
                            "mnist-saccades gives (34, 34, 2); use model scnn_nmnist")


@pytest.mark.slow
def test_events_end_to_end_streamed(data_dir, tmp_path):
    """A model of the event data set, trained on frames, its test recordings
    streamed 300 steps each into NengoDL and the emulator, the events straight
    to the chip's first layer. (The chip-sized ``tiny_nmnist``, for time: the
    data set's own ``scnn_nmnist`` is built by ``scnn_mnist``'s builder.)"""
    config = nv.Config(
        dataset="mnist-saccades", model="tiny_nmnist", n_train=3000, epochs=4, n_test=12,
        backends=["keras", "nengo-dl", "loihi-emulator"], batch_size=12,
        data_dir=str(data_dir), cache_dir=str(tmp_path), progress=False,
    )
    assert nv.pipeline.model_name(config.replace(model="x")) == "x"
    assert nv.pipeline.model_name(nv.Config(dataset="mnist-saccades")) == "scnn_nmnist"
    result = nv.pipeline.run(config, log=lambda *a: None)
    assert result.model == "tiny_nmnist" and result.dataset == "mnist-saccades"
    assert result.config.n_steps == 300 and result.config.input_synapse == 0.2
    emulator = result.backends["loihi-emulator"]
    assert all(layer.where == "chip" for layer in emulator.placement.layers.values())
    keras = result.backends["keras"].accuracy
    assert keras >= 0.7
    for name in ("nengo-dl", "loihi-emulator"):
        assert result.backends[name].accuracy >= keras - 0.25, name
    assert result.comparison.agreement["nengo-dl"]["loihi-emulator"] >= 0.8
    assert result.images.shape == (12, 34, 34, 2)
    result.write(tmp_path / "report")  # plots of two-channel frames included
    assert (tmp_path / "report" / "report.md").is_file()


def test_a_class_folder_outside_the_classes_is_one_line_on_the_command_line(tmp_path,
                                                                           recordings):
    """N-MNIST's labels index its ten classes: a folder ``10`` was a TensorFlow
    traceback in training; now the command line names it and the classes."""
    import os
    import subprocess
    import sys

    from nengo_vision.convert import PROG

    for split, label, i in (("Train", 0, 0), ("Train", 10, 1), ("Test", 0, 2)):
        folder = tmp_path / "N-MNIST" / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        write_nmnist(folder / f"{i:05d}.bin", recordings.recording(i))
    train = tmp_path / "N-MNIST" / "Train"
    proc = subprocess.run(
        [sys.executable, "-m", "nengo_vision.convert", "--dataset", "nmnist", "--data-dir",
         str(tmp_path / "N-MNIST"), "--n-test", "1", "--backends", "keras", "--out",
         str(tmp_path / "o"), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"{PROG}: error: {train / '10'} is not a class of this data set: {train} must hold "
        f"class folders 0 to 9 (10 classes), named by their label"]
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ N-Caltech101

CATEGORIES = {"BACKGROUND_Google": 0, "accordion": 1, "yin_yang": 7}  # name: MNIST digit


def atis_recording(image, rng, n_events=3000, n_noise=300):
    """Events of a 28×28 image scaled ×6 onto the 240×180 ATIS sensor: positions
    drawn by brightness, plus noise over the whole sensor, in 300 ms."""
    from nengo_vision.datasets.events import empty_events

    big = np.kron(image, np.ones((6, 6)))
    p = big.ravel() / big.sum()
    flat = rng.choice(big.size, n_events, p=p)
    y = np.concatenate([flat // big.shape[1] + 6, rng.integers(0, 180, n_noise)])
    x = np.concatenate([flat % big.shape[1] + 36, rng.integers(0, 240, n_noise)])
    events = empty_events(len(y))
    events["y"], events["x"] = y, x
    events["p"] = rng.integers(0, 2, len(y))
    events["t"] = rng.integers(0, 300_000, len(y))
    return events[np.argsort(events["t"], kind="stable")]


@pytest.fixture(scope="module")
def ncaltech_dir(tmp_path_factory, mnist):
    """An N-Caltech101-layout folder: 3 named categories of 6 recordings each,
    inside Caltech101/ as the download unpacks."""
    _, (x_test, y_test) = mnist
    root = tmp_path_factory.mktemp("ncaltech")
    rng = np.random.default_rng(0)
    for name, digit in CATEGORIES.items():
        folder = root / "Caltech101" / name
        folder.mkdir(parents=True)
        for k, i in enumerate(np.flatnonzero(y_test == digit)[:6]):
            write_nmnist(folder / f"image_{k + 1:04d}.bin", atis_recording(x_test[i, ..., 0], rng))
    return root


def test_an_ncaltech101_folder_is_a_data_set_on_a_pooled_grid(ncaltech_dir):
    """Classes are the folders (sorted, or as chosen); each is split by the
    fraction and seed; events are pooled 4×4 onto 45×60, and the ANN's frame is
    the streamed events' filtered value, the mean of the full sensor's frame."""
    from nengo_vision.datasets.events import read_nmnist
    from nengo_vision.datasets.ncaltech import POOL, pool_events

    dataset = get_dataset("ncaltech101")
    splits = dataset.load(ncaltech_dir)
    assert dataset.classes == ("BACKGROUND_Google", "accordion", "yin_yang")
    assert dataset.input_shape == (45, 60, 2) and dataset.default_model == "scnn_ncaltech101"
    assert splits.x_train.shape == (15, 45, 60, 2) and splits.x_test.shape == (3, 45, 60, 2)
    assert (splits.n_train_total, splits.n_test_total) == (15, 3)
    assert sorted(splits.y_test) == [0, 1, 2] and np.bincount(splits.y_train).tolist() == [5] * 3
    assert splits.test_events.shape == (45, 60) and len(splits.test_events) == 3
    # the frame is the streamed events' filtered value at the last step ...
    weights = bin_weights(300, 0.2, dataset.event_gain)
    counts = EventSpikes(splits.test_events, dataset.event_gain).counts(
        splits.x_test, [0, 1, 2], 300, 0.001)
    np.testing.assert_allclose(np.tensordot(weights, counts[0].astype(np.float64), axes=1),
                               splits.x_test[0].ravel(), rtol=1e-5, atol=1e-6)
    # ... and the mean over each 4×4 block of the full sensor's frame at N-MNIST's gain
    path = next((ncaltech_dir / "Caltech101" / "accordion").glob("*.bin"))
    full = frame_of(read_nmnist(path), (180, 240), bin_weights(300, 0.2, EVENT_GAIN))
    pooled = frame_of(pool_events(read_nmnist(path)), (45, 60), weights)
    np.testing.assert_allclose(pooled, full.reshape(45, POOL, 60, POOL, 2).mean(axis=(1, 3)),
                               rtol=1e-4, atol=1e-6)
    # the split repeats with the seed, and a category splits alike whatever else is chosen
    chosen = get_dataset("ncaltech101")
    two = chosen.load(ncaltech_dir, classes=["yin_yang", "accordion"], n_train=4)
    assert chosen.classes == ("yin_yang", "accordion") and len(two.x_train) == 4
    yin = splits.x_test[splits.y_test == 2]
    np.testing.assert_array_equal(two.x_test[two.y_test == 0], yin)
    other = get_dataset("ncaltech101").load(ncaltech_dir, seed=1, test_fraction=0.5)
    assert len(other.x_test) == 9
    with pytest.raises(DataError, match=r"has no category folder 'piano'; its 3 categories: "
                                        r"BACKGROUND_Google, accordion, yin_yang"):
        get_dataset("ncaltech101").load(ncaltech_dir, classes=["piano", "accordion"])
    with pytest.raises(DataError, match="ncaltech101 reads a real N-Caltech101 folder"):
        get_dataset("ncaltech101").load(None)


@pytest.mark.slow  # 20 s
def test_ncaltech101_end_to_end_on_the_command_line(ncaltech_dir, tmp_path, capsys):
    """Trained one epoch on the pooled frames by its zoo model, the test
    recordings streamed to the emulator's chip."""
    import json

    from nengo_vision.convert import main

    status = main(["--dataset", "ncaltech101", "--data-dir", str(ncaltech_dir),
                   "--backends", "keras,loihi-emulator", "--epochs", "1", "--n-test", "3",
                   "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "cache")])
    assert status == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert (results["dataset"], results["model"]) == ("ncaltech101", "scnn_ncaltech101")
    assert results["n_steps"] == 300 and results["n_test"] == 3
    assert set(results["backends"]) == {"keras", "loihi-emulator"}
    # the model is built for the folder's classes: one output per named category
    assert results["classes"] == sorted(CATEGORIES)
    assert np.load(tmp_path / "o" / "traces.npz")["keras"].shape[-1] == len(results["classes"])
    assert (tmp_path / "o" / "report.md").is_file()


def test_a_folder_smaller_than_the_default_is_taken_whole_and_said(tmp_path, recordings):
    """N-MNIST with 4 test recordings and no --n-test: all 4 run, the log says
    so, and the run's n_test is 4 (was: '--n-test 10000 is more than the 4 test
    recordings', a setting the user never gave); an --n-test given must fit."""
    for split, first in (("Train", 0), ("Test", 6)):
        for i in range(first, first + 4):
            folder = tmp_path / "N-MNIST" / split / str(int(recordings.labels[i]))
            folder.mkdir(parents=True, exist_ok=True)
            write_nmnist(folder / f"{i:05d}.bin", recordings.recording(i))
    config = nv.Config(dataset="nmnist", data_dir=str(tmp_path / "N-MNIST"),
                       cache_dir=str(tmp_path / "c"), progress=False)
    said = []
    data = nv.pipeline.load_data(config, log=said.append)
    assert len(data.labels) == 4 and len(data.events) == 4
    assert said == ["nmnist has 4 test recordings, fewer than n_test's default 10,000: "
                    "all are run"]
    with pytest.raises(ConfigError, match=r"^n_test 5 is more than the 4 test recordings "
                                          r"of nmnist; use at most 4$"):
        nv.pipeline.load_data(config.replace(n_test=5), log=said.append)
