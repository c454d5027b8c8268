"""Event-camera recordings made from still images, the way N-MNIST was recorded.

N-MNIST (Orchard et al. 2015) was recorded by an ATIS camera on a pan-tilt mount
looking at MNIST digits on a screen: three saccades of about 100 ms each, along
the sides of a triangle, seen on a 34×34 pixel window (28×28 digits plus room
for the motion). Real N-MNIST cannot be downloaded here, so this module makes
its counterpart from ``mnist.npz``: the digit is moved along the same kind of
path, and each sensor pixel emits an event whenever its log intensity has moved
by a contrast threshold from the level of its last event (ON when brighter, OFF
when darker), as a dynamic vision sensor does (the model of published event
simulators such as ESIM and v2e, with their common default threshold of 0.2).

What makes it a sensor and not a frame difference:

- log intensity, ``log(I + eps)`` with ``I`` in [0, 1]: a contrast, not an
  absolute, change fires a pixel;
- every crossing is an event, timed within the simulation step by linear
  interpolation (µs timestamps), so a fast edge gives several events;
- thresholds differ from pixel to pixel (mismatch, standard deviation
  ``threshold_spread``), drawn from the seed for each recording (a real
  sensor's mismatch is one fixed pattern; drawing it anew varies the data);
- a refractory period after each event, during which a pixel is silent; the
  change it misses is reported after it (the reference level is not moved).

A digit's events depend only on its image, the settings and ``(seed, index)``,
so a subset can be made without the rest and runs repeat exactly.
"""

from dataclasses import asdict, dataclass

import numba
import numpy as np

from .events import EVENTS_DTYPE


@dataclass(frozen=True)
class SaccadeSettings:
    """How the events are made (all part of the cache key of a made data set).

    Attributes
    ----------
    sensor : int
        Sensor width and height in pixels (N-MNIST: 34).
    saccade_ms : float
        Duration of each of the three saccades.
    amplitude : float
        Size of the triangle the image moves along, in pixels: its vertices are
        at most ``amplitude`` from the centre along each axis (the digit stays
        inside the sensor when ``(sensor - 28) / 2 >= amplitude``).
    threshold : float
        Mean contrast threshold (change of log intensity per event).
    threshold_spread : float
        Standard deviation of the thresholds across pixels.
    refractory_us : float
        Time a pixel is silent after each of its events, in µs.
    eps : float
        Offset of the log: ``log(I + eps)``; a pixel that is black (0) is
        ``log(eps)``, so this sets the contrast of a full stroke edge.
    step_us : float
        Simulation step; crossings are timed within it.
    """

    sensor: int = 34
    saccade_ms: float = 100.0
    amplitude: float = 2.5
    threshold: float = 0.2
    threshold_spread: float = 0.03
    refractory_us: float = 500.0
    eps: float = 0.1
    step_us: float = 1000.0

    @property
    def duration_us(self):
        """Length of a recording: three saccades."""
        return 3 * self.saccade_ms * 1000.0

    def saccade_bounds_us(self):
        """Start and end times (µs) of the three saccades, shape ``(3, 2)``."""
        s = self.saccade_ms * 1000.0
        return np.array([[0, s], [s, 2 * s], [2 * s, 3 * s]])

    def key(self):
        return asdict(self)


def triangle_path(settings):
    """Image displacement ``(dy, dx)`` in pixels at every step, shape ``(n + 1, 2)``.

    Three saccades along an isosceles triangle (down-right, up-right, then
    back left), each with the bell-shaped speed of a minimum-jerk movement.
    """
    a = settings.amplitude
    vertices = np.array([[-a, -a], [a, 0.0], [-a, a], [-a, -a]])
    steps = int(round(settings.saccade_ms * 1000.0 / settings.step_us))
    tau = np.arange(steps) / steps
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5  # minimum jerk: 0 → 1
    legs = [v0 + s[:, None] * (v1 - v0) for v0, v1 in zip(vertices[:-1], vertices[1:])]
    return np.concatenate(legs + [vertices[-1:]])


@numba.njit(cache=True)
def _log_intensity(image, pad, dy, dx, eps, out):
    """``log(I + eps)`` of the sensor's pixels with the image moved by (dy, dx).

    Bilinear sampling of ``image`` (values 0-1) placed ``pad`` pixels in from
    the sensor's corner; outside it the scene is black.
    """
    h, w = image.shape
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            y = i - pad - dy
            x = j - pad - dx
            y0 = int(np.floor(y))
            x0 = int(np.floor(x))
            fy = y - y0
            fx = x - x0
            v = 0.0
            for yy, wy in ((y0, 1.0 - fy), (y0 + 1, fy)):
                if yy < 0 or yy >= h:
                    continue
                for xx, wx in ((x0, 1.0 - fx), (x0 + 1, fx)):
                    if 0 <= xx < w:
                        v += wy * wx * image[yy, xx]
            out[i, j] = np.log(v + eps)


@numba.njit(cache=True)
def _dvs(image, pad, path, step_us, thr_on, thr_off, refractory_us, eps, buf):
    """Events of one image moved along ``path``; written into ``buf`` (rows
    y, x, p, t), returns how many. -1 if ``buf`` is too small."""
    n_y, n_x = thr_on.shape
    ref = np.empty((n_y, n_x))
    prev = np.empty((n_y, n_x))
    now = np.empty((n_y, n_x))
    last = np.full((n_y, n_x), -1e30)
    _log_intensity(image, pad, path[0, 0], path[0, 1], eps, ref)
    prev[:] = ref
    n = 0
    for k in range(1, path.shape[0]):
        _log_intensity(image, pad, path[k, 0], path[k, 1], eps, now)
        t0 = (k - 1) * step_us
        for i in range(n_y):
            for j in range(n_x):
                level, start = now[i, j], prev[i, j]
                while True:
                    d = level - ref[i, j]
                    if d >= thr_on[i, j]:
                        target, p = ref[i, j] + thr_on[i, j], 1
                    elif -d >= thr_off[i, j]:
                        target, p = ref[i, j] - thr_off[i, j], 0
                    else:
                        break
                    # when the level crossed the target, between the last step's
                    # level and this one's (at the step's start if it crossed
                    # earlier, while the pixel was refractory)
                    frac = 0.0  # level unchanged: it crossed in an earlier step
                    if level != start:
                        frac = min(max((target - start) / (level - start), 0.0), 1.0)
                    t = t0 + frac * step_us
                    if t - last[i, j] < refractory_us:
                        if last[i, j] + refractory_us > t0 + step_us:
                            break  # still refractory at the step's end
                        t = last[i, j] + refractory_us
                    if n >= buf.shape[0]:
                        return -1
                    buf[n, 0] = i
                    buf[n, 1] = j
                    buf[n, 2] = p
                    buf[n, 3] = t
                    n += 1
                    ref[i, j] = target
                    last[i, j] = t
                prev[i, j] = level
    return n


def image_events(image, settings=SaccadeSettings(), seed=0, index=0):
    """The events of one still image, sorted by time.

    Parameters
    ----------
    image : ndarray
        ``(h, w)`` or ``(h, w, 1)``, values 0-1, no larger than the sensor.
    settings : SaccadeSettings
    seed, index : int
        The pixel thresholds come from ``numpy.random.default_rng([seed, index])``.

    Returns
    -------
    ndarray of :data:`~.events.EVENTS_DTYPE`, times in µs from the first
    saccade's start.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    size = settings.sensor
    if image.ndim != 2 or image.shape[0] != image.shape[1] or image.shape[0] > size:
        raise ValueError(f"image of shape {image.shape}: give a square (h, w) or (h, w, 1) "
                         f"image no larger than the {size}x{size} sensor")
    if not (np.all(np.isfinite(image)) and image.min() >= 0 and image.max() <= 1):
        raise ValueError("image values must be from 0 to 1 (divide 8-bit pixels by 255)")
    pad = (size - image.shape[0]) // 2
    rng = np.random.default_rng([seed, index])
    pixels = (size, size)
    thr_on = np.maximum(rng.normal(settings.threshold, settings.threshold_spread, pixels), 0.01)
    thr_off = np.maximum(rng.normal(settings.threshold, settings.threshold_spread, pixels), 0.01)
    path = triangle_path(settings)
    cap = 4096
    while True:
        buf = np.empty((cap, 4))
        n = _dvs(image, pad, path, settings.step_us, thr_on, thr_off,
                 settings.refractory_us, settings.eps, buf)
        if n >= 0:
            break
        cap *= 4
    buf = buf[:n]
    events = np.zeros(n, dtype=EVENTS_DTYPE)
    events["y"], events["x"], events["p"] = buf[:, 0], buf[:, 1], buf[:, 2]
    # the last step's crossings can round to the recording's end: keep every
    # event inside [0, duration), where frames and saccade windows look
    events["t"] = np.minimum(np.round(buf[:, 3]), settings.duration_us - 1)
    return events[np.argsort(events["t"], kind="stable")]
