"""Event recordings: the readers, events made from real MNIST, frames."""

import struct

import numpy as np
import pytest

from nengo_vision.datasets import frames
from nengo_vision.datasets.event_set import (
    EventSet, make_saccades, mnist_saccades, read_nmnist_folder,
)
from nengo_vision.datasets.events import (
    EVENTS_DTYPE, read_dvs_file, read_events, read_nmnist, write_nmnist,
)
from nengo_vision.datasets.saccades import SaccadeSettings, image_events, triangle_path
from nengo_vision.errors import DataError


def nmnist_bytes(x, y, p, t):
    """One event in the N-MNIST format, written out by hand from its definition."""
    return bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])


HAND_MADE = [(3, 30, 1, 123456), (33, 0, 0, 8388607), (0, 33, 1, 0), (17, 17, 0, 70000)]


def test_a_hand_made_nmnist_file_reads_back_exactly(tmp_path):
    path = tmp_path / "00002.bin"
    path.write_bytes(b"".join(nmnist_bytes(*e) for e in HAND_MADE))
    events = read_nmnist(path)
    assert events.dtype == EVENTS_DTYPE
    expected = sorted(HAND_MADE, key=lambda e: e[3])  # in time order
    assert [(int(e["x"]), int(e["y"]), int(e["p"]), int(e["t"])) for e in events] == expected
    assert np.all(events["v"] == 0)
    # and the writer writes the same bytes back (the events are now in time order)
    write_nmnist(tmp_path / "again.bin", events)
    assert (tmp_path / "again.bin").read_bytes() == b"".join(nmnist_bytes(*e) for e in expected)


def test_timestamp_overflow_markers_are_not_events(tmp_path):
    """A word with y = 240 (any x) marks a timestamp overflow: it is dropped and
    every later event is 2**13 µs later, once per marker (Orchard's reader)."""
    path = tmp_path / "00003.bin"
    path.write_bytes(b"".join([
        nmnist_bytes(3, 30, 1, 8000), nmnist_bytes(5, 6, 0, 8100),
        nmnist_bytes(0, 240, 0, 0),  # marker
        nmnist_bytes(7, 8, 1, 50), nmnist_bytes(9, 10, 0, 8190),
        nmnist_bytes(17, 240, 1, 123),  # marker, with stray bits set
        nmnist_bytes(11, 12, 1, 5),
    ]))
    events = read_nmnist(path)
    assert [(int(e["x"]), int(e["y"]), int(e["p"]), int(e["t"])) for e in events] == [
        (3, 30, 1, 8000), (5, 6, 0, 8100), (7, 8, 1, 8192 + 50), (9, 10, 0, 8192 + 8190),
        (11, 12, 1, 2 * 8192 + 5)]
    # and an event there is refused rather than written as a marker
    events["y"][0] = 240
    with pytest.raises(ValueError, match="y is 240, which the N-MNIST format reads as a "
                                         "timestamp overflow marker"):
        write_nmnist(tmp_path / "x.bin", events)

def test_a_truncated_nmnist_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "cut.bin"
    path.write_bytes(nmnist_bytes(*HAND_MADE[0]) + b"\x01\x02")
    with pytest.raises(DataError) as e:
        read_nmnist(path)
    assert str(e.value) == (
        f"{path} has 7 bytes, not a whole number of 5-byte N-MNIST events: give an "
        f"N-MNIST or N-Caltech101 .bin file (AEDAT 2.0 files end in .aedat)")
    with pytest.raises(DataError, match="cannot read event file .*missing.bin"):
        read_nmnist(tmp_path / "missing.bin")


def test_events_the_format_cannot_hold_are_not_written(tmp_path):
    events = np.zeros(1, EVENTS_DTYPE)
    events["t"] = 1 << 23
    with pytest.raises(ValueError, match=r"an event's t is 8388608; the N-MNIST format holds 0 to 8388607"):
        write_nmnist(tmp_path / "x.bin", events)
    signed = np.zeros(1, [("x", "i4"), ("y", "i4"), ("p", "i4"), ("t", "i4")])
    signed["x"] = -1
    with pytest.raises(ValueError, match=r"an event's x is -1; the N-MNIST format holds 0 to 255"):
        write_nmnist(tmp_path / "x.bin", signed)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_our_event_layout_is_nengo_loihis():
    from nengo_loihi.dvs import DVSEvents

    assert EVENTS_DTYPE == DVSEvents.events_dtype


def aedat2(path, events):
    """An AEDAT 2.0 file written by hand from iniVation's specification: a header,
    then per event a big-endian 32-bit address (DAVIS layout: y in bits 30-22, x in
    bits 21-12, polarity bit 11) and a big-endian 32-bit timestamp in µs."""
    header = b"#!AER-DAT2.0\r\n# This is a raw AE data file created by hand\r\n"
    body = b"".join(struct.pack(">II", (y << 22) | (x << 12) | (p << 11), t)
                    for y, x, p, t in events)
    path.write_bytes(header + body)


def test_an_aedat2_file_reads_as_nengo_loihis_reader_reads_it(tmp_path):
    from nengo_loihi.dvs import DVSEvents

    path = tmp_path / "rec.aedat"
    aedat2(path, [(10, 200, 1, 5000), (179, 0, 0, 5300), (0, 239, 1, 9000)])
    events = read_events(path)
    # times relative to the first event, as nengo-loihi's AEDAT reader makes them
    assert [(int(e["y"]), int(e["x"]), int(e["p"]), int(e["t"])) for e in events] == [
        (10, 200, 1, 0), (179, 0, 0, 300), (0, 239, 1, 4000)]
    assert events.tolist() == DVSEvents.from_file(str(path)).events.tolist()


def test_aps_imu_and_trigger_samples_of_an_aedat2_file_are_not_events(tmp_path):
    """A DAVIS recording mixes polarity events with APS frame samples (bit 31),
    IMU samples (bits 31 and 11) and external triggers (bit 10): only the
    polarity events are kept, and a warning counts what was dropped."""
    aps_reset = (1 << 31) | (5 << 22) | (7 << 12) | 0x123  # ADC value in bits 9-0
    aps_signal = aps_reset | (1 << 10)
    imu = (1 << 31) | (1 << 11) | (3 << 10) | (2 << 28)
    trigger = 1 << 10
    samples = [
        (aps_reset, 900), ((10 << 22) | (200 << 12) | (1 << 11), 1000),
        (aps_signal, 1100), (imu, 1200), ((20 << 22) | (30 << 12), 1300),
        (trigger, 1400), ((179 << 22) | (239 << 12) | (1 << 11), 1500),
    ]
    path = tmp_path / "davis.aedat"
    path.write_bytes(b"#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C\r\n"
                     + b"".join(struct.pack(">II", a, t) for a, t in samples))
    with pytest.warns(UserWarning) as caught:
        events = read_events(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: kept 3 polarity events; dropped 2 APS frame samples, 1 IMU samples and "
        f"1 special events (external triggers), which are not brightness changes"]
    assert [(int(e["y"]), int(e["x"]), int(e["p"]), int(e["v"]), int(e["t"]))
            for e in events] == [(10, 200, 1, 0, 0), (20, 30, 0, 0, 300), (179, 239, 1, 0, 500)]
    # a DVS128 file's 16-bit addresses are not DAVIS ones: refused, not misread
    path.write_bytes(b"#!AER-DAT2.0\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n"
                     + struct.pack(">II", 0x1234, 5))
    with pytest.raises(DataError, match=r"is a DVS128 recording \(ch.unizh.ini.jaer.chip."
                                        r"retina.DVS128\), whose addresses are not in the "
                                        r"DAVIS layout"):
        read_events(path)


def test_a_nengo_loihi_events_file_reads_back(tmp_path):
    from nengo_loihi.dvs import DVSEvents

    dvs = DVSEvents()
    dvs.init_events(event_data=[(5, 7, 1, 0, 100), (6, 8, 0, 0, 250)])
    dvs.write_file(str(tmp_path / "rec.events"))
    events = read_dvs_file(tmp_path / "rec.events")
    assert events.tolist() == dvs.events.tolist()


def test_bad_event_files_are_refused_in_one_line(tmp_path):
    (tmp_path / "rec.aedat").write_bytes(b"#!AER-DAT3.1\r\n" + bytes(16))
    with pytest.raises(DataError) as e:
        read_events(tmp_path / "rec.aedat")
    assert str(e.value) == (
        f"{tmp_path / 'rec.aedat'} is AEDAT version 3.1, which is not read here; AEDAT "
        f"files must be version 2.0 with a '#!AER-DAT2.0' header")
    # a header line without its end (nengo-loihi's reader would loop for ever)
    (tmp_path / "cut.aedat").write_bytes(b"#!AER-DAT2.0")
    with pytest.raises(DataError) as e:
        read_events(tmp_path / "cut.aedat")
    assert str(e.value) == (
        f"{tmp_path / 'cut.aedat'} ends inside its header (a '#' line without an end); "
        f"give a whole AEDAT 2.0 file")
    (tmp_path / "rec.events").write_bytes(bytes(12))
    with pytest.raises(DataError, match=r"is not a readable events file \(AssertionError\); "
                                        r"nengo-loihi .events files are 8 bytes per event"):
        read_events(tmp_path / "rec.events")
    with pytest.raises(DataError) as e:
        read_events(tmp_path / "rec.csv")
    assert str(e.value) == (
        f"{tmp_path / 'rec.csv'}: unknown event file type '.csv'; give an AEDAT 2.0 "
        f"(.aedat), nengo-loihi (.events) or N-MNIST (.bin) file")


# ------------------------------------------------------------- made from MNIST


@pytest.fixture(scope="module")
def test_digits(mnist):
    """The real MNIST test images (values 0-1) and labels."""
    (_, _), (x_test, y_test) = mnist
    return x_test[..., 0], y_test


@pytest.fixture(scope="module")
def digits(test_digits):
    """Events of the first 20 real test digits."""
    images, labels = test_digits[0][:20], test_digits[1][:20]
    return images, make_saccades(images, labels, seed=3)


def test_mnist_events_have_the_sensors_shape_both_polarities_and_three_saccades(digits):
    images, events = digits
    s = SaccadeSettings()
    assert events.shape == (34, 34) and len(events) == 20
    e = events.events
    assert e["x"].max() < 34 and e["y"].max() < 34
    assert e["t"].max() < s.duration_us
    on = e["p"].mean()
    assert 0.4 < on < 0.6  # the digit moves out and back: ON and OFF balance
    for i in range(len(events)):
        t = events.recording(i)["t"]
        assert np.all(np.diff(t.astype(np.int64)) >= 0)  # in time order
        per_saccade = [np.sum((t >= a) & (t < b)) for a, b in s.saccade_bounds_us()]
        assert min(per_saccade) > 0.15 * len(t)
        # the motion stops at each vertex (minimum jerk): hardly an event in the
        # 10 ms around the ends of the saccades
        for edge in s.saccade_bounds_us()[:, 1]:
            assert np.sum(np.abs(t - edge + 0.5) < 5000) < 0.01 * len(t)
    # more ink, more events
    ink = images.sum(axis=(1, 2))
    assert np.corrcoef(ink, events.counts())[0, 1] > 0.5


def test_events_follow_the_log_intensity_and_the_refractory_period(test_digits):
    image = test_digits[0][0]
    settings = SaccadeSettings(threshold_spread=0.0)
    e = image_events(image, settings, seed=0, index=0)
    on = np.zeros((34, 34), int)
    off = np.zeros((34, 34), int)
    np.add.at(on, (e["y"][e["p"] == 1], e["x"][e["p"] == 1]), 1)
    np.add.at(off, (e["y"][e["p"] == 0], e["x"][e["p"] == 0]), 1)
    # the image ends where it started: each pixel's ON and OFF steps cancel to
    # within the one threshold it can be short of its next event
    assert np.abs(on - off).max() <= 1
    # a pixel sees the stroke's full contrast log(1.1 / 0.1) = 2.4 several times;
    # at 0.2 per event that is about 12 events per pass
    assert on.max() >= 12
    for y, x in zip(*np.nonzero(on + off > 1)):
        t = np.sort(e["t"][(e["y"] == y) & (e["x"] == x)].astype(np.int64))
        assert np.diff(t).min() >= settings.refractory_us - 1  # µs rounding
    assert len(image_events(np.zeros((28, 28)))) == 0  # nothing moves, nothing fires
    with pytest.raises(ValueError, match="image values must be from 0 to 1"):
        image_events(image * 255)


def test_a_change_left_over_from_the_refractory_period_fires_as_soon_as_it_ends():
    from nengo_vision.datasets.saccades import _dvs

    # one white pixel that jumps one pixel right in the first 1 ms step, then stays:
    # the pixel it lands on rises by log(1.1 / 0.1) = 2.4, 11 thresholds of 0.2,
    # more than fit in one step with a 0.5 ms refractory period
    image = np.zeros((3, 3))
    image[1, 1] = 1.0
    path = np.array([[0.0, 0.0]] + [[0.0, 1.0]] * 10)
    thr = np.full((3, 3), 0.2)
    buf = np.empty((100, 4))
    n = _dvs(image, 0, path, 1000.0, thr, thr, 500.0, 0.1, buf)
    landed = buf[:n][(buf[:n, 0] == 1) & (buf[:n, 1] == 2)]
    assert len(landed) == 11 and np.all(landed[:, 2] == 1)
    # then every 0.5 ms, as soon as the pixel may fire again
    assert np.allclose(np.diff(landed[:, 3]), 500.0)

def test_made_events_repeat_with_the_seed_and_do_not_depend_on_the_others(digits):
    images, events = digits
    again = image_events(images[7], seed=3, index=7)
    assert again.tobytes() == events.recording(7).tobytes()
    # a slice made on its own, given its places in the data set
    part = make_saccades(images[5:8], events.labels[5:8], seed=3, indices=[5, 6, 7])
    assert part.events.tobytes() == events.subset([5, 6, 7]).events.tobytes()
    other = image_events(images[7], seed=4, index=7)
    assert other.tobytes() != again.tobytes()
    assert abs(len(other) - len(again)) < 0.2 * len(again)  # the same digit, other pixels


def test_the_path_is_three_saccades_along_a_triangle():
    s = SaccadeSettings()
    path = triangle_path(s)
    assert len(path) == 3 * 100 + 1  # 1 ms steps
    assert np.allclose(path[0], path[-1])  # back where it started
    assert np.abs(path).max() <= s.amplitude <= (s.sensor - 28) / 2


def test_made_events_are_cached_by_images_settings_and_seed(test_digits, tmp_path,
                                                            monkeypatch):
    from nengo_vision.datasets import event_set

    images, labels = test_digits[0][:3], test_digits[1][:3]
    first = mnist_saccades(images, labels, tmp_path, seed=1)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    made = event_set.make_saccades
    monkeypatch.setattr(event_set, "make_saccades", None)  # a second making would fail
    again = mnist_saccades(images, labels, tmp_path, seed=1)
    monkeypatch.setattr(event_set, "make_saccades", made)
    assert again.events.tobytes() == first.events.tobytes()
    assert np.array_equal(again.labels, labels) and again.shape == (34, 34)
    assert np.array_equal(again.saccades_us, SaccadeSettings().saccade_bounds_us())
    mnist_saccades(images, labels, tmp_path, seed=2)
    mnist_saccades(images, labels, tmp_path, settings=SaccadeSettings(threshold=0.3), seed=1)
    mnist_saccades(images, labels, tmp_path, seed=1, indices=[5, 6, 7])
    assert len(list(tmp_path.glob("*.npz"))) == 4


# ------------------------------------------------------------------- frames


def events_of(rows):
    e = np.zeros(len(rows), EVENTS_DTYPE)
    for i, (y, x, p, t) in enumerate(rows):
        e[i] = (y, x, p, 0, t)
    return e


def test_collapse_is_seed_000s_equation_1():
    # pixel (1, 2): 4 ON events; (0, 0): 2 ON, 1 OFF; (3, 3): 3 OFF
    rows = [(1, 2, 1, t) for t in (10, 20, 30, 40)] + [(0, 0, 1, 50), (0, 0, 1, 60),
            (0, 0, 0, 70)] + [(3, 3, 0, t) for t in (80, 90, 100)]
    frame = frames.collapse(events_of(rows), (4, 4))
    assert frame.shape == (4, 4, 2)
    on, off = frame[..., 1], frame[..., 0]
    assert on[1, 2] == 1.0 and on[0, 0] == 0.5 and on.sum() == 1.5  # over the ON maximum, 4
    assert off[3, 3] == 1.0 and off[0, 0] == pytest.approx(1 / 3)  # over the OFF maximum, 3
    per = frames.collapse(events_of(rows), (4, 4), saccades_us=[[0, 45], [45, 200]])
    assert per.shape == (2, 4, 4, 2)
    assert per[0, 1, 2, 1] == 1.0 and per[0, ..., 0].sum() == 0  # no OFF in the first
    assert per[1, 0, 0, 1] == 1.0 and per[1, 3, 3, 0] == 1.0


def test_time_bins_are_seed_001s_equation_3():
    rows = [(0, 0, 1, 0), (0, 0, 1, 999), (0, 1, 0, 1000), (1, 1, 1, 2999), (1, 0, 0, 5000)]
    bins = frames.time_bins(events_of(rows), (2, 2), bin_us=1000)
    assert bins.shape == (6, 2, 2, 2)
    assert bins[0, 0, 0, 1] == 2 and bins[1, 0, 1, 0] == 1 and bins[2, 1, 1, 1] == 1
    assert bins[5, 1, 0, 0] == 1 and bins.sum() == 5
    assert frames.time_bins(events_of(rows), (2, 2), 1000, n_bins=3).sum() == 4


def test_an_event_set_streams_every_recording_for_the_same_time(digits):
    _, events = digits
    stream = events.binned(1000, indices=[0, 1])
    assert stream.shape == (2, 300, 34, 34, 2)
    assert stream[0].sum() == len(events.recording(0))
    collapsed = events.collapsed()
    assert collapsed.shape == (20, 34, 34, 2) and collapsed.max() == 1.0
    assert events.collapsed(per_saccade=True).shape == (20, 3, 34, 34, 2)


# ---------------------------------------------------------- N-MNIST folders


def test_an_nmnist_folder_reads_with_its_labels(tmp_path, digits):
    _, events = digits
    for split, idx in (("Train", [0, 1, 2]), ("Test", [3, 4])):
        for i in idx:
            folder = tmp_path / split / str(events.labels[i])
            folder.mkdir(parents=True, exist_ok=True)
            write_nmnist(folder / f"{i:05d}.bin", events.recording(i))
    test = read_nmnist_folder(tmp_path, "test")
    order = [3, 4]  # files named by number: in that order, whatever their class
    assert list(test.labels) == [events.labels[i] for i in order]
    for j, i in enumerate(order):
        assert test.recording(j).tobytes() == events.recording(i).tobytes()
    assert test.shape == (34, 34) == read_nmnist_folder(tmp_path, "train").shape
    assert len(read_nmnist_folder(tmp_path, "train")) == 3
    with pytest.raises(DataError, match=r"has events up to x=\d+, y=\d+, outside the 20x20 "
                                        r"sensor given; pass the recordings' sensor shape"):
        read_nmnist_folder(tmp_path, "test", shape=(20, 20))


def test_a_folder_not_in_nmnist_layout_is_refused_in_one_line(tmp_path):
    with pytest.raises(DataError) as e:
        read_nmnist_folder(tmp_path, "train")
    assert str(e.value) == (
        f"{tmp_path / 'Train'} is not a folder; give --data-dir the N-MNIST folder that "
        f"holds Train/ and Test/, each with one folder of .bin files per class (0-9)")
    (tmp_path / "Train" / "cats").mkdir(parents=True)
    with pytest.raises(DataError, match="one folder per class named by its label .*found cats"):
        read_nmnist_folder(tmp_path, "train")


def test_an_event_set_saves_and_loads(tmp_path, digits):
    _, events = digits
    events.save(tmp_path / "set.npz")
    back = EventSet.load(tmp_path / "set.npz")
    assert back.events.tobytes() == events.events.tobytes()
    assert np.array_equal(back.offsets, events.offsets) and back.shape == events.shape
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read event set .*delete it to make it anew"):
        EventSet.load(tmp_path / "bad.npz")
    whole = (tmp_path / "set.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])  # a write cut short
    with pytest.raises(DataError, match="cannot read event set .*delete it to make it anew"):
        EventSet.load(tmp_path / "cut.npz")


def test_event_plots_draw_on_the_given_axes(digits):
    from matplotlib.figure import Figure

    from nengo_vision.report import plots

    _, events = digits
    rec = events.recording(0)
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    plots.events_over_time(ax1, rec, bin_ms=5, saccades_us=events.saccades_us)
    on, off = ax1.patches[:2]  # one step outline per polarity
    assert on.get_label().startswith("ON") and off.get_label().startswith("OFF")
    # the outlines' heights add up to the recording's events of each polarity
    assert np.sum(on.get_data().values) == np.sum(rec["p"] == 1)
    assert np.sum(off.get_data().values) == np.sum(rec["p"] == 0)
    assert len(ax1.lines) == 4  # the saccades' four boundaries
    image = plots.event_frame(ax2, events.collapsed()[0])
    assert image.get_array().shape == (34, 34) and list(ax2.images) == [image]


def test_the_docs_event_example_runs_as_written(tmp_path, monkeypatch, digits):
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "events.md").read_text()
    start = page.index("from nengo_vision.datasets.events import read_events")
    code = page[start : page.index("```", start)]
    _, events = digits
    write_nmnist(tmp_path / "00002.bin", events.recording(0))
    (tmp_path / "N-MNIST" / "Test" / "7").mkdir(parents=True)
    write_nmnist(tmp_path / "N-MNIST" / "Test" / "7" / "00000.bin", events.recording(0))
    monkeypatch.chdir(tmp_path)
    names = {}
    exec(compile(code, "docs/events.md", "exec"), names)
    assert names["frame"].shape == (34, 34, 2)
    assert names["steps"].shape[1:] == (34, 34, 2)
    assert names["made"].collapsed(per_saccade=True).shape == (100, 3, 34, 34, 2)
    assert len(names["nmnist"]) == 1 and names["nmnist"].labels[0] == 7
