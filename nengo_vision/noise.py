"""Noise on test inputs: how a network holds up in a noisy environment (seed 002).

Each kind of noise is a function ``(images, level, rng) -> images`` registered
in :data:`NOISE_KINDS` with the range its level may take. Images are values in
[0, 1] (the data sets' scale); noisy images are clipped back to it, as a camera's
pixels are. The noise of test image ``i`` comes from ``(seed, kind, level, i)``,
so an image is as noisy alone as among others, on every backend and worker.
"""

import zlib

import numpy as np


def _gaussian(images, level, rng):
    # additive white noise of standard deviation `level`, independent per pixel
    return np.clip(images + rng.normal(0.0, level, images.shape), 0.0, 1.0)


def _salt_pepper(images, level, rng):
    # a fraction `level` of the pixels (per channel) set to 0 or 1, half each
    hit = rng.random(images.shape) < level
    salt = rng.random(images.shape) < 0.5
    return np.where(hit, salt.astype(images.dtype), images)


def _speckle(images, level, rng):
    # multiplicative noise: each pixel scaled by 1 + N(0, level)
    return np.clip(images * (1.0 + rng.normal(0.0, level, images.shape)), 0.0, 1.0)


def _poisson(images, level, rng):
    # shot noise: a pixel of value v counts Poisson(v / level) photons (level:
    # the value of one photon; smaller is less noisy)
    return np.clip(rng.poisson(images / level) * level, 0.0, 1.0)


#: kind → (function, lowest level, highest level, what the level is)
NOISE_KINDS = {
    "gaussian": (_gaussian, 0.0, 1.0, "the standard deviation, in pixel values 0-1"),
    "salt-pepper": (_salt_pepper, 0.0, 1.0, "the fraction of pixels set to 0 or 1"),
    "speckle": (_speckle, 0.0, 2.0, "the standard deviation of the factor"),
    "poisson": (_poisson, 1e-6, 1.0, "the value of one photon"),
}


def check_noise(kind, level):
    """``(kind, level)`` if valid, else ValueError naming the kinds or the range."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"names unknown noise {kind!r}; known kinds: {', '.join(NOISE_KINDS)}")
    _, low, high, what = NOISE_KINDS[kind]
    if not (low <= level <= high) or not np.isfinite(level):
        raise ValueError(f"has {kind} level {level}; it is {what}, from {low:g} to {high:g}")
    return (kind, float(level))


def noise_label(kind, level):
    """How reports name a noise: ``gaussian:0.1``."""
    return f"{kind}:{level:g}"


def add_noise(images, kind, level, seed=0, indices=None):
    """``images`` (values 0-1) with noise of ``kind`` at ``level``, float32.

    ``indices``: the images' places in their test set (default 0, 1, ...);
    image ``i``'s noise is drawn from ``(seed, kind, level, indices[i])``.
    """
    check_noise(kind, level)
    images = np.asarray(images, np.float32)
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    function = NOISE_KINDS[kind][0]
    tag = zlib.crc32(f"{kind}:{level!r}".encode())
    out = np.empty_like(images)
    for n, (image, index) in enumerate(zip(images, indices)):
        rng = np.random.default_rng([seed, tag, int(index)])
        out[n] = function(image.astype(np.float64), level, rng)
    return out
