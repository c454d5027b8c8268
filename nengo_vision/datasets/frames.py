"""Events to arrays a network takes: collapsed frames, time bins, a step stream.

- :func:`collapse`: after ``shared/seeds/000_2a628d5ad411b42d.txt``'s eq. 1,
  the number of events at each pixel divided by the pattern's largest count —
  a still image of what moved, for training a CNN. The paper collapses ON
  events only; here each polarity (and each saccade, when their times are
  given) is a channel normalised by its own largest count.
- :func:`time_bins`: event counts in consecutive bins of ``bin_us``; with 1 ms
  bins an event's step is ``floor(t / 1000)``, the quantisation of
  ``shared/seeds/001_0d942fc7a622cf7f.txt``'s eq. 3 (which then sums the
  polarities as ±1; here they stay two channels), the input a spiking network
  is run with one step at a time.

Arrays are channels-last, ``(..., height, width, 2)``, OFF events in channel 0
and ON in channel 1 (the polarity bit of the recording).
"""

import numpy as np

#: polarity channels: 0 OFF, 1 ON
N_POLARITIES = 2


def _counts(events, shape, bins=None, n_bins=1):
    """Event counts ``(n_bins, h, w, 2)``; ``bins`` is each event's bin (or all 0)."""
    h, w = shape
    out = np.zeros((n_bins, h, w, N_POLARITIES), dtype=np.float32)
    y = events["y"].astype(np.intp)
    x = events["x"].astype(np.intp)
    p = events["p"].astype(np.intp)
    b = np.zeros(len(events), np.intp) if bins is None else bins
    keep = (y < h) & (x < w) & (b >= 0) & (b < n_bins)
    np.add.at(out, (b[keep], y[keep], x[keep], p[keep]), 1)
    return out


def collapse(events, shape, saccades_us=None):
    """Seed 000's eq. 1: per-pixel event counts over the pattern's largest count.

    Parameters
    ----------
    events : ndarray
        Events (:data:`~.events.EVENTS_DTYPE`) of one pattern.
    shape : (int, int)
        Sensor height and width; events outside are dropped.
    saccades_us : array_like, optional
        ``(n, 2)`` start and end times (µs). Without it the whole pattern is one
        frame ``(h, w, 2)``; with it one frame per saccade, ``(n, h, w, 2)``.

    Returns
    -------
    ndarray, float32, values 0-1: each polarity (of each saccade) divided by
    its own largest count, as the paper normalises "per pattern"; a polarity
    with no events is all zero.
    """
    if saccades_us is None:
        frames = _counts(events, shape)
    else:
        bounds = np.asarray(saccades_us, dtype=np.float64)
        t = events["t"].astype(np.float64)
        which = np.full(len(events), -1, np.intp)
        for i, (start, end) in enumerate(bounds):
            which[(t >= start) & (t < end)] = i
        frames = _counts(events, shape, which, len(bounds))
    peak = frames.max(axis=(1, 2), keepdims=True)
    frames = np.divide(frames, peak, out=np.zeros_like(frames), where=peak > 0)
    return frames[0] if saccades_us is None else frames


def time_bins(events, shape, bin_us=1000, n_bins=None, t0=0):
    """Event counts in bins of ``bin_us`` from ``t0``: ``(n_bins, h, w, 2)`` float32.

    The bin of an event is ``floor((t - t0) / bin_us)`` (seed 001's eq. 3 with
    ``bin_us`` = 1000: µs to 1 ms steps). ``n_bins`` defaults to what the last
    event needs; events after the last bin are dropped.
    """
    t = events["t"].astype(np.int64) - int(t0)
    bins = np.floor_divide(t, int(bin_us)).astype(np.intp)
    if n_bins is None:
        n_bins = max(int(bins.max()) + 1, 0) if len(bins) else 0
    return _counts(events, shape, bins, n_bins)
