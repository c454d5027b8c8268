"""Event-camera recordings: the formats users hold, read into one event array.

Every reader returns events in nengo-loihi's layout
(``nengo_loihi.dvs.DVSEvents.events_dtype``: fields ``y``, ``x``, ``p`` (0 off,
1 on), ``v`` (0 for camera events) and ``t`` in microseconds), sorted by time,
so that events from any source go the same way to frames or to the chip.

- N-MNIST / N-Caltech101 binary (Orchard et al. 2015, the format of
  ``shared/seeds/001_0d942fc7a622cf7f.txt``'s data): 5 bytes per event, byte 0
  the x address, byte 1 the y address, then a big-endian 24-bit word whose bit
  23 is the polarity and bits 22-0 the timestamp in µs. A "word" whose y
  address is 240 (:data:`NMNIST_OVERFLOW_Y`) is no event but a timestamp
  overflow marker: every later event's timestamp is 2**13 µs later (Orchard's
  ``Read_Ndataset.m``, tonic's ``read_mnist_file``). :func:`read_nmnist`,
  :func:`write_nmnist`.
- AEDAT 2.0 (jAER's format, DAVIS address layout): read here
  (:func:`read_aedat2`), keeping only the camera's polarity events: a DAVIS
  file also holds APS frame samples, IMU samples and external triggers, which
  nengo-loihi's reader (``nengo_loihi.dvs``, whose layout decodes y, x,
  polarity and the trigger bit but not the sample type) would take for events.
- nengo-loihi's ``.events``: read by nengo-loihi's own reader
  (``nengo_loihi.dvs.DVSEvents``), wrapped by :func:`read_dvs_file` so that a
  bad file gives one line rather than its assertion.
"""

import warnings
from pathlib import Path

import numpy as np

from .._io import atomic_path
from ..errors import DataError

#: nengo-loihi's event layout (``DVSEvents.events_dtype``), written out here so
#: that importing this module does not import nengo-loihi (and through it
#: TensorFlow); a test checks the two are equal
EVENTS_DTYPE = np.dtype([("y", "u2"), ("x", "u2"), ("p", "u1"), ("v", "u1"), ("t", "u4")])
#: bytes per event in the N-MNIST binary format
NMNIST_EVENT_BYTES = 5
#: the largest timestamp the format's 23 bits hold (8.4 s)
NMNIST_MAX_T = (1 << 23) - 1
#: the y address of a timestamp overflow marker (no sensor of the format is
#: this tall: ATIS is 240x180), and what each marker adds to later timestamps
NMNIST_OVERFLOW_Y = 240
NMNIST_OVERFLOW_US = 1 << 13
#: file suffixes nengo-loihi's reader takes, and the format name it wants
DVS_FORMATS = {".aedat": "aedat", ".events": "events"}
#: AEDAT 2.0 DAVIS address word (jAER; iniVation's AEDAT 2.0 notes): bit 31
#: set is an APS or IMU sample ("readout"; bit 11 then tells IMU from APS),
#: bit 10 set with bit 31 clear a special event (external input / trigger);
#: both clear, a polarity event with y in bits 30-22, x in 21-12, polarity 11
AEDAT_READOUT_BIT = 1 << 31
AEDAT_IMU_BIT = 1 << 11
AEDAT_SPECIAL_BIT = 1 << 10


def empty_events(n=0):
    """``n`` zeroed events in :data:`EVENTS_DTYPE`."""
    return np.zeros(n, dtype=EVENTS_DTYPE)


def read_nmnist(path):
    """Events of one N-MNIST or N-Caltech101 ``.bin`` file, sorted by time.

    Timestamp overflow markers (y address 240, whatever the x) are dropped, each
    adding 2**13 µs to the timestamps of the events after it, as Orchard et
    al.'s reader and tonic's do.

    Raises
    ------
    DataError
        If the file is missing or its length is not a whole number of events.
    """
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise DataError(f"cannot read event file {path}: {e.strerror or e}") from None
    if raw.size % NMNIST_EVENT_BYTES:
        raise DataError(
            f"{path} has {raw.size} bytes, not a whole number of {NMNIST_EVENT_BYTES}-byte "
            f"N-MNIST events: give an N-MNIST or N-Caltech101 .bin file (AEDAT 2.0 "
            f"files end in .aedat)"
        )
    raw = raw.reshape(-1, NMNIST_EVENT_BYTES)
    word = (raw[:, 2].astype(np.uint32) << 16) | (raw[:, 3].astype(np.uint32) << 8) | raw[:, 4]
    marker = raw[:, 1] == NMNIST_OVERFLOW_Y
    # markers before (or at) each word, as uint64: long recordings can pass 2**32 µs
    shift = np.cumsum(marker, dtype=np.uint64) * np.uint64(NMNIST_OVERFLOW_US)
    t = (word & NMNIST_MAX_T).astype(np.uint64) + shift
    keep = ~marker
    if t[keep].max(initial=0) > np.iinfo(EVENTS_DTYPE["t"]).max:
        raise DataError(f"{path} has timestamps past 2**32 µs (71 min) after its "
                        f"overflow markers; split the recording")
    raw, word, t = raw[keep], word[keep], t[keep]
    events = empty_events(len(raw))
    events["x"] = raw[:, 0]
    events["y"] = raw[:, 1]
    events["p"] = word >> 23
    events["t"] = t
    # recordings are in time order already; a stable sort keeps a file that is
    # not in the order the camera made its events
    return events[np.argsort(events["t"], kind="stable")]


def write_nmnist(path, events):
    """Write ``events`` (:data:`EVENTS_DTYPE`) as an N-MNIST ``.bin`` file.

    Written to a temporary file first, then renamed, so that a failed write
    leaves nothing behind. Raises ValueError for events the format cannot hold
    (addresses over 255, timestamps over 2**23 - 1 µs, polarity not 0 or 1, y
    of 240, which readers take for a timestamp overflow marker).
    """
    events = np.asarray(events)
    if len(events) and np.any(events["y"] == NMNIST_OVERFLOW_Y):
        raise ValueError(f"an event's y is {NMNIST_OVERFLOW_Y}, which the N-MNIST format "
                         f"reads as a timestamp overflow marker, not an event")
    for field, top in (("x", 255), ("y", 255), ("p", 1), ("t", NMNIST_MAX_T)):
        for bad in (events[field].max(), events[field].min()) if len(events) else ():
            if not 0 <= bad <= top:
                raise ValueError(
                    f"an event's {field} is {bad}; the N-MNIST format holds 0 to {top}"
                )
    word = (events["p"].astype(np.uint32) << 23) | events["t"].astype(np.uint32)
    raw = np.empty((len(events), NMNIST_EVENT_BYTES), dtype=np.uint8)
    raw[:, 0] = events["x"]
    raw[:, 1] = events["y"]
    raw[:, 2] = word >> 16
    raw[:, 3] = (word >> 8) & 0xFF
    raw[:, 4] = word & 0xFF
    with atomic_path(Path(path)) as tmp:
        raw.tofile(tmp)


def read_dvs_file(path):
    """Events of an AEDAT 2.0 (``.aedat``) or nengo-loihi ``.events`` file.

    AEDAT files are read by :func:`read_aedat2`; ``.events`` files by
    nengo-loihi's ``DVSEvents``, times as stored.

    Raises
    ------
    DataError
        For a missing file, another suffix, or a file the reader rejects.
    """
    path = Path(path)
    fmt = DVS_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: unknown event file type {path.suffix or '(no suffix)'!r}; give an "
            f"AEDAT 2.0 (.aedat), nengo-loihi (.events) or N-MNIST (.bin) file"
        )
    if not path.is_file():
        raise DataError(f"event file {path} does not exist or is not a file")
    if fmt == "aedat":
        return read_aedat2(path)
    from .._quiet import import_nengo_dl

    import_nengo_dl()  # nengo_loihi imports nengo-dl; quietly first
    from nengo_loihi.dvs import DVSEvents

    try:
        events = DVSEvents.from_file(str(path), file_fmt=fmt).events
    except OSError as e:
        raise DataError(f"cannot read event file {path}: {e.strerror or e}") from None
    except (AssertionError, ValueError, IndexError) as e:
        detail = str(e).strip() or type(e).__name__
        raise DataError(f"{path} is not a readable {fmt} file ({detail}); nengo-loihi "
                        f".events files are 8 bytes per event") from None
    return np.asarray(events, dtype=EVENTS_DTYPE)


def read_aedat2(path):
    """The polarity events of an AEDAT 2.0 file, sorted by time.

    Each sample is a big-endian 32-bit address and 32-bit timestamp (µs) after
    the ``#`` header lines; addresses are decoded in the DAVIS layout, as
    nengo-loihi's reader does. APS frame samples, IMU samples and special events
    (external triggers) are dropped, with a warning saying how many: they are
    not pixels' brightness changes, and an APS sample's address looks like a
    pixel's. Times are relative to the first polarity event (nengo-loihi's
    reader makes them relative to its first sample). A DVS128 file (a 16-bit
    address layout) is refused: its addresses would decode to wrong pixels.

    Raises
    ------
    DataError
        For a file without a whole AEDAT 2.0 header, or a DVS128 file.
    """
    path = Path(path)
    start, header = _aedat_header(path)
    chip = [line for line in header if line.lower().startswith(b"# aechip:")]
    if chip and b"dvs128" in chip[0].lower():
        name = chip[0][len(b"# AEChip:"):].decode(errors="replace").strip()
        raise DataError(f"{path} is a DVS128 recording ({name}), whose addresses are not "
                        f"in the DAVIS layout read here; convert it to N-MNIST .bin or "
                        f"nengo-loihi .events first")
    try:
        raw = np.fromfile(path, dtype=np.uint8, offset=start)
    except OSError as e:
        raise DataError(f"cannot read event file {path}: {e.strerror or e}") from None
    if raw.size % 8:
        # a recording cut short: the whole samples are still good
        warnings.warn(f"{path}: {raw.size % 8} bytes at the end are not a whole sample; "
                      f"ignored", stacklevel=2)
        raw = raw[: raw.size - raw.size % 8]
    words = raw.view(">u4").reshape(-1, 2).astype(np.uint32)
    address, t = words[:, 0], words[:, 1]
    readout = (address & AEDAT_READOUT_BIT) != 0
    special = ~readout & ((address & AEDAT_SPECIAL_BIT) != 0)
    keep = ~readout & ~special
    if not keep.all():
        imu = int(np.sum(readout & ((address & AEDAT_IMU_BIT) != 0)))
        warnings.warn(
            f"{path}: kept {int(keep.sum())} polarity events; dropped "
            f"{int(readout.sum()) - imu} APS frame samples, {imu} IMU samples and "
            f"{int(special.sum())} special events (external triggers), which are not "
            f"brightness changes", stacklevel=2)
    address, t = address[keep], t[keep]
    events = empty_events(len(address))
    events["y"] = (address >> 22) & 0x1FF
    events["x"] = (address >> 12) & 0x3FF
    events["p"] = (address >> 11) & 1
    events["t"] = t
    # should be in time order already; a stable sort keeps a file that is not
    events = events[np.argsort(events["t"], kind="stable")]
    if len(events):
        events["t"] -= events["t"][0]
    return events


def _aedat_header(path):
    """``(offset of the first sample, header lines)`` of an AEDAT 2.0 file;
    DataError unless it starts with whole ``#`` lines, the first ``#!AER-DAT2.0``."""
    advice = "AEDAT files must be version 2.0 with a '#!AER-DAT2.0' header"
    lines = []
    try:
        with open(path, "rb") as f:
            while True:
                at = f.tell()
                if f.read(1) != b"#":
                    break
                line = b"#" + f.readline()
                if not line.endswith(b"\n"):
                    raise DataError(f"{path} ends inside its header (a '#' line without "
                                    f"an end); give a whole AEDAT 2.0 file")
                lines.append(line.rstrip(b"\r\n"))
    except OSError as e:
        raise DataError(f"cannot read event file {path}: {e.strerror or e}") from None
    if not lines or not lines[0].startswith(b"#!AER-DAT"):
        raise DataError(f"{path} has no AEDAT header; {advice}")
    version = lines[0][len(b"#!AER-DAT"):].decode(errors="replace").strip()
    if version != "2.0":
        raise DataError(f"{path} is AEDAT version {version}, which is not read here; {advice}")
    return at, lines


def read_events(path):
    """Events of any supported file, chosen by its suffix (``.bin``, ``.aedat``,
    ``.events``)."""
    if Path(path).suffix.lower() == ".bin":
        return read_nmnist(path)
    return read_dvs_file(path)
