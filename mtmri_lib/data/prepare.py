"""From a raw slice to the model's input: square, Fourier-resized, scaled to [0, 1]."""

from __future__ import annotations

import numpy as np

from .._checks import check_image
from ..fourier import fourier_resize

__all__ = ["prepare_slice"]


def prepare_slice(slice_: np.ndarray, size: int) -> np.ndarray:
    """Pad a slice to square, Fourier-resize it to ``size x size`` and scale it to [0, 1].

    Parameters
    ----------
    slice_ : ndarray of shape (H, W)
        Raw intensities.
    size : int
        Output side in pixels.

    Returns
    -------
    ndarray of shape (size, size), float64, min 0 and max 1
        A constant slice raises ValueError (it carries no image).
    """
    image = fourier_resize(check_image(slice_, "slice"), size)
    low, high = float(image.min()), float(image.max())
    if high <= low:
        raise ValueError("slice is constant: it cannot be scaled to [0, 1]")
    return (image - low) / (high - low)
