"""Beyond digits: image folders with named classes, CIFAR-10, seed 002's
difference-of-Gaussians filter and noisy test inputs. All data is made here
from real MNIST digits, in the formats users hold."""

import pickle

import numpy as np
import pytest

import nengo_vision as nv
from nengo_vision.datasets import get_dataset
from nengo_vision.datasets.cifar10 import CIFAR10_CLASSES, read_batch
from nengo_vision.errors import DataError
from nengo_vision.input_filter import difference_of_gaussians
from nengo_vision.noise import add_noise
from test_cli import assert_one_line_error, run_main

#: two classes with names, as seed 002's motorbikes and airplanes: MNIST digit → name
NAMED = {"zero": 0, "one": 1}


def colour(image, size=64):
    """An MNIST digit as a 64×64 colour picture: the stroke red-yellow on blue."""
    from PIL import Image

    rgb = np.stack([image, image // 2 + 64, 255 - image], -1).astype(np.uint8)
    return Image.fromarray(rgb).resize((size, size), Image.BILINEAR)


def write_class_folders(root, images, labels, names, per_class, start=0):
    """``root/<name>/k.png`` (odd k) and ``k.jpg`` (even k) for each class."""
    for name, digit in names.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for k, i in enumerate(np.flatnonzero(labels == digit)[start : start + per_class]):
            colour(images[i]).save(root / name / f"{k}.{'png' if k % 2 else 'jpg'}")


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory, mnist):
    """``train/`` (150 per class) and ``test/`` (10 per class) of 64×64 colour images."""
    (x_train, y_train), (x_test, y_test) = mnist
    x_train, x_test = (np.round(x * 255).astype(np.uint8)[..., 0] for x in (x_train, x_test))
    root = tmp_path_factory.mktemp("photos")
    write_class_folders(root / "train", x_train, y_train, NAMED, 150)
    write_class_folders(root / "test", x_test, y_test, NAMED, 10)
    return root


@pytest.mark.slow  # trains: ~50 s
def test_a_colour_folder_trains_and_runs_on_keras_nengo_dl_and_the_emulator(photo_dir, tmp_path):
    """Seed 002's setting in small: two named classes of 64×64 colour photos,
    trained here and run as spikes; every backend reads the classes. (Resized
    to 32×32: at 64×64 placement alone takes a minute; benchmarks/bench_photos.py
    runs the full size.)"""
    config = nv.Config(dataset="folder", data_dir=str(photo_dir), epochs=3, n_steps=30,
                       image_size=(32, 32),
                       backends=["keras", "nengo-dl", "loihi-emulator"],
                       cache_dir=str(tmp_path), progress=False)
    said = []
    result = nv.run(config, log=said.append)
    assert "folder has 20 test images, fewer than n_test's default 10,000: all are run" in said
    assert result.model == "scnn" and result.classes == ("one", "zero")
    assert result.images.shape == (20, 32, 32, 3)
    for name in ("keras", "nengo-dl", "loihi-emulator"):
        assert result.backends[name].accuracy >= 0.9, (name, result.backends[name].accuracy)
    out = result.write(tmp_path / "report")
    assert (out / "class_outputs.png").is_file()
    assert "one" in (out / "confusion.csv").read_text()


def test_the_caltech_layout_is_split_by_the_seed_with_the_classes_chosen(tmp_path, mnist):
    """One folder per class (``101_ObjectCategories``), no train/test: each
    class split by --test-fraction and the seed; --classes picks and orders."""
    _, (x_test, y_test) = mnist
    images = np.round(x_test * 255).astype(np.uint8)[..., 0]
    root = tmp_path / "101_ObjectCategories"
    write_class_folders(root, images, y_test, {"Motorbikes": 3, "airplanes": 7, "Faces": 2}, 10)
    dataset = get_dataset("folder")
    splits = dataset.load(root, classes=["airplanes", "Motorbikes"], test_fraction=0.2, seed=4)
    assert dataset.classes == ("airplanes", "Motorbikes") and dataset.input_shape == (64, 64, 3)
    assert np.bincount(splits.y_test).tolist() == [2, 2]
    assert np.bincount(splits.y_train).tolist() == [8, 8]
    again = get_dataset("folder").load(root, classes=["airplanes", "Motorbikes"],
                                       test_fraction=0.2, seed=4)
    other = get_dataset("folder").load(root, classes=["airplanes", "Motorbikes"],
                                       test_fraction=0.2, seed=5)
    assert np.array_equal(splits.x_test, again.x_test)
    assert not np.array_equal(np.sort(splits.x_test.sum(axis=(1, 2, 3))),
                              np.sort(other.x_test.sum(axis=(1, 2, 3))))
    # every class of the folder, sorted as Keras sorts them
    whole = get_dataset("folder")
    whole.load(root, image_size=(32, 32))
    assert whole.classes == ("Faces", "Motorbikes", "airplanes")
    assert whole.input_shape == (32, 32, 3)
    with pytest.raises(DataError, match=r"has no class folder 'cars'; its classes: Faces, "
                                        r"Motorbikes, airplanes"):
        get_dataset("folder").load(root, classes=["cars"])


def _official_batch(path, images, labels):
    """A batch as ``cifar-10-python.tar.gz`` holds it, written by hand from the
    published description (not by our writer): a pickled dict of bytes keys,
    ``data`` a (N, 3072) uint8 array of the red, green, blue planes, rows first."""
    planes = np.concatenate([images[..., c].reshape(len(images), 1024) for c in range(3)], 1)
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": [int(l) for l in labels],
             b"data": planes, b"filenames": [b"x.png"] * len(images)}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def test_a_cifar10_batch_written_by_the_format_reads_back_exactly(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 7)
    _official_batch(tmp_path / "test_batch", images, labels)
    got, got_labels = read_batch(tmp_path / "test_batch")
    assert got.dtype == np.uint8 and np.array_equal(got, images)
    assert got_labels.tolist() == labels.tolist()


def test_a_cifar10_folder_is_a_data_set_with_named_classes(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        _official_batch(folder / name, rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
                        np.arange(20) % 10)
    dataset = get_dataset("cifar10")
    splits = dataset.load(tmp_path)
    assert splits.x_train.shape == (100, 32, 32, 3) and splits.x_test.shape == (20, 32, 32, 3)
    assert dataset.classes == CIFAR10_CLASSES
    chosen = get_dataset("cifar10")
    two = chosen.load(folder, classes=["ship", "cat"])
    assert chosen.classes == ("ship", "cat") and sorted(set(two.y_test)) == [0, 1]
    assert len(two.y_train) == 20  # 2 of each batch's 10 classes, 2 images each, 5 batches


def test_a_cifar10_batch_that_runs_code_is_refused(tmp_path):
    """Unpickling builds numpy arrays only: a pickle calling a function is a bad file."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(DataError, match=r"test_batch is not a CIFAR-10 batch of the python "
                                        r"version \(UnpicklingError: builtins.print is not "
                                        r"part of a CIFAR batch\)"):
        read_batch(folder / "test_batch")


def test_the_cifar10_zoo_models_take_cifar_images():
    from nengo_vision.models import get_model
    from nengo_vision.neurons import LIFActivation

    wide = get_model("wscnn_cifar10").build(LIFActivation())
    # seed 003's Table 5.5: 168,458 neurons (input included) and 20,036,288 weights
    neurons = 32 * 32 * 3 + sum(int(np.prod(l.output_shape[1:])) for l in wide.layers
                                if getattr(l, "activation", None) is not None
                                and l.name != "output") + 10
    weights = sum(int(np.prod(l.kernel.shape)) for l in wide.layers if hasattr(l, "kernel"))
    assert (neurons, weights) == (168458, 20036288)
    res = get_model("rscnn_cifar10").for_data((32, 32, 3), 4).build(LIFActivation())
    assert res.input_shape == (None, 32, 32, 3) and res.output_shape == (None, 4)


def test_the_difference_of_gaussians_is_scipys_centre_minus_surround(mnist):
    from scipy.ndimage import gaussian_filter

    _, (x_test, _) = mnist
    images = np.concatenate([x_test[:3], x_test[3:6] * 0.5], axis=-1)  # 2 channels
    got = difference_of_gaussians(images, (1.0, 2.5))
    for n in range(3):
        for c in range(2):
            plane = images[n, ..., c].astype(np.float64)
            want = gaussian_filter(plane, 1.0) - gaussian_filter(plane, 2.5)
            assert np.array_equal(got[n, ..., c], want.astype(np.float32))
    flat = difference_of_gaussians(np.full((1, 9, 9, 1), 0.7), (1.0, 2.0))
    assert np.abs(flat).max() < 1e-6  # centre and surround cancel on a flat image


def test_noise_is_seeded_per_image_and_at_its_level(mnist):
    _, (x_test, _) = mnist
    images = x_test[:50]
    a = add_noise(images, "gaussian", 0.2, seed=3)
    # image 10's noise does not depend on the images around it
    assert np.array_equal(a[10:11], add_noise(images[10:11], "gaussian", 0.2, seed=3,
                                                indices=[10]))
    assert not np.array_equal(a, add_noise(images, "gaussian", 0.2, seed=4))
    assert np.array_equal(add_noise(images, "gaussian", 0.0), images)
    sp = add_noise(images, "salt-pepper", 0.3, seed=0)
    changed = sp != images
    assert set(np.unique(sp[changed])) <= {0.0, 1.0}  # a hit pixel is 0 or 1
    # 30 % are hit, each set to 0 or 1 alike: a hit changes a pixel at 0 or 1 half
    # the time, any other pixel always
    at_end = np.isin(images, (0.0, 1.0)).mean()
    expected = 0.3 * (0.5 * at_end + (1 - at_end))
    assert abs(changed.mean() - expected) < 0.01


@pytest.mark.slow  # trains tiny_mnist
def test_accuracy_against_noise_for_every_backend(data_dir, tmp_path):
    """``test_noise`` runs each backend again on noisy inputs: no noise gives
    the clean accuracy; heavy salt-and-pepper takes most of it away."""
    config = nv.Config(model="tiny_mnist", n_train=3000, epochs=2, n_test=60, n_steps=20,
                       backends=["keras", "loihi-emulator"], cache_dir=str(tmp_path),
                       test_noise="gaussian:0,salt-pepper:0.6", progress=False)
    result = nv.run(config, log=lambda *a: None)
    for name, b in result.backends.items():
        assert result.noise["gaussian:0"][name] == dict(accuracy=b.accuracy, n_test=60)
        assert result.noise["salt-pepper:0.6"][name]["accuracy"] < b.accuracy - 0.3
    out = result.write(tmp_path / "report")
    assert (out / "noise.png").is_file() and "salt-pepper:0.6" in (out / "noise.csv").read_text()
    report = (out / "report.md").read_text()
    assert "](noise.png)" in report and "](class_outputs.png)" in report
    assert "| salt-pepper:0.6 |" in report


# ---------------------------------------------------------------- bad files: one line


def _folder(tmp_path, mnist, sizes=(64, 64)):
    _, (x_test, y_test) = mnist
    images = np.round(x_test * 255).astype(np.uint8)[..., 0]
    root = tmp_path / "photos"
    write_class_folders(root, images, y_test, NAMED, 3)
    if sizes[1] != 64:
        colour(images[0], sizes[1]).save(root / "one" / "odd.png")
    return root


def _run(capsys, tmp_path, root, *more):
    out = tmp_path / "o"
    status, err = run_main(capsys, "--dataset", "folder", "--data-dir", str(root),
                           "--backends", "keras", "--epochs", "1", "--out", str(out),
                           "--cache-dir", str(tmp_path / "cache"), *more)
    assert not out.exists()
    return status, err


def test_a_corrupt_image_is_one_line(capsys, tmp_path, mnist):
    root = _folder(tmp_path, mnist)
    (root / "zero" / "bad.png").write_bytes(b"\x89PNG not really")
    status, err = _run(capsys, tmp_path, root)
    assert_one_line_error(status, err, f"cannot read image {root / 'zero' / 'bad.png'} "
                          f"(UnidentifiedImageError: cannot identify image file "
                          f"'{root / 'zero' / 'bad.png'}'); replace or remove it")


def test_an_empty_class_is_one_line(capsys, tmp_path, mnist):
    root = _folder(tmp_path, mnist)
    (root / "two").mkdir()
    status, err = _run(capsys, tmp_path, root)
    assert_one_line_error(status, err, f"class folder {root / 'two'} holds no images (.png, "
                          f".jpg, .jpeg, .bmp, .gif); add some or leave the class out with "
                          f"--classes")


def test_mixed_sizes_need_image_size(capsys, tmp_path, mnist):
    root = _folder(tmp_path, mnist, sizes=(64, 48))
    status, err = _run(capsys, tmp_path, root)
    odd = root / "one" / "odd.png"
    assert_one_line_error(status, err, f"image {odd} is 48x48 but the other images are "
                          f"64x64; give --image-size H,W to resize every image")


def test_a_corrupt_cifar_batch_is_one_line(capsys, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(b"not a pickle")
    out = tmp_path / "o"
    status, err = run_main(capsys, "--dataset", "cifar10", "--data-dir", str(tmp_path),
                           "--out", str(out), "--cache-dir", str(tmp_path / "c"))
    assert_one_line_error(status, err, f"{folder / 'data_batch_1'} is not a CIFAR-10 batch of "
                          f"the python version (UnpicklingError: invalid load key, 'n'.); "
                          f"replace it with the file from cifar-10-python.tar.gz")
    assert not out.exists()


def test_classes_on_a_data_set_without_named_folders_is_one_line(capsys, tmp_path, data_dir):
    status, err = run_main(capsys, "--classes", "3,5", "--out", str(tmp_path / "o"))
    assert_one_line_error(status, err, "--classes is for data sets that take it (cifar10, "
                          "folder, ncaltech101); mnist does not: leave it out")


def test_a_filter_with_a_spike_code_is_one_line(capsys, tmp_path):
    status, err = run_main(capsys, "--input-filter", "dog", "--encoding", "poisson",
                           "--out", str(tmp_path / "o"))
    assert_one_line_error(status, err, "--input-filter dog gives signed values, which "
                          "--encoding poisson cannot send as spikes; leave one of them out")


def test_noise_on_event_data_is_one_line(capsys, tmp_path, data_dir):
    status, err = run_main(capsys, "--dataset", "mnist-saccades", "--test-noise",
                           "gaussian:0.1", "--out", str(tmp_path / "o"))
    assert_one_line_error(status, err, "--test-noise is for still images; mnist-saccades "
                          "streams events: leave it out")


def test_the_filter_is_charged_to_every_backend_once_per_image():
    """Its cost is counted where it is paid: once per image, on the host, for the
    ANN and the chip alike (two separable blurs of 9 and 17 taps: 53 MACs a value)."""
    from nengo_vision import energy
    from nengo_vision.input_filter import filter_macs

    macs = filter_macs("dog", (64, 64, 3), (1.0, 2.0))
    assert macs == 64 * 64 * 3 * (2 * 9 + 2 * 17 + 1)
    assert filter_macs("none", (64, 64, 3)) == 0
    ann = energy.ann_account(1000, macs)
    assert ann.total_joules == pytest.approx((1000 + macs) * energy.FLOAT_MAC)
    assert [t.name for t in energy.ann_account(1000).terms] == ["macs"]
