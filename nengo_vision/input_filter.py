"""Filters on input images before the network: seed 002's foveal-pit stage.

``dog``: a difference of Gaussians, a centre-surround filter like the retina's
ganglion cells (seed ``002_c841c169bfe0bf6f.txt`` filters its inputs so before
the spiking CNN): each channel blurred with the centre width minus blurred with
the surround width, by :func:`scipy.ndimage.gaussian_filter` over the two
spatial axes. Edges stay, flat areas go to 0; values may be negative (the first
layer runs on the host, which takes any value).
"""

import numpy as np

#: --input-filter choices
FILTERS = ("none", "dog")


def difference_of_gaussians(images, sigmas=(1.0, 2.0)):
    """``images`` ``(N, H, W, C)`` filtered by ``G(centre) - G(surround)``, float32.

    The borders are reflected (scipy's default ``mode="reflect"``), so a
    uniform image gives zeros everywhere.
    """
    from scipy.ndimage import gaussian_filter

    centre, surround = sigmas
    x = np.asarray(images, np.float64)
    # no blurring across images or channels: sigma 0 on those axes
    spatial = lambda s: (0, s, s, 0)  # noqa: E731
    out = gaussian_filter(x, spatial(centre)) - gaussian_filter(x, spatial(surround))
    return out.astype(np.float32)


def apply_filter(name, images, sigmas=(1.0, 2.0)):
    """``images`` through the filter called ``name`` (``"none"``: unchanged)."""
    if name == "none":
        return images
    if name == "dog":
        return difference_of_gaussians(images, sigmas)
    raise ValueError(f"unknown input filter {name!r}; known: {', '.join(FILTERS)}")


def _taps(sigma):
    # scipy's gaussian_filter: a kernel of radius int(4 sigma + 0.5) per axis
    return 2 * int(4.0 * sigma + 0.5) + 1


def filter_macs(name, image_shape, sigmas=(1.0, 2.0)):
    """Multiply-accumulates of the filter ``name`` on one image of ``image_shape``
    ``(H, W, C)``: the difference of Gaussians is two separable blurs (one pass
    per spatial axis, a MAC per tap) and a subtraction per value."""
    if name == "none":
        return 0
    values = int(np.prod(image_shape))
    return values * (sum(2 * _taps(s) for s in sigmas) + 1)
