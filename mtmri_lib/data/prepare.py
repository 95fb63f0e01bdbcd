"""From raw slices to the model's input: square, Fourier-resized, scaled to [0, 1].

The released code (FACTS.md "Artefact simulation", "Data formats") skipped constant slices,
brought every slice to 320 x 320 in k-space and scaled each clean slice before corrupting
it; after corruption the corrupted and the clean image are both z-normalised (`znorm_pair`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_image, check_int, check_number
from ..artefacts import znorm
from ..fourier import fourier_resize
from .volume import Volume

__all__ = ["prepare_slice", "informative_slices", "prepare_volume", "PreparedVolume", "znorm"]


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
    # float64 whatever the stored type (float32 volumes included), as documented.
    image = fourier_resize(np.asarray(check_image(slice_, "slice"), dtype=np.float64), size)
    low, high = float(image.min()), float(image.max())
    if high <= low:
        raise ValueError("slice is constant: it cannot be scaled to [0, 1]")
    return (image - low) / (high - low)


def informative_slices(
    data: np.ndarray, *, min_foreground: float = 0.01, threshold: float = 0.05
) -> np.ndarray:
    """Which slices of a volume carry an image: a boolean mask over the first axis.

    A slice is dropped when it is constant (the released code's rule), or when fewer than
    ``min_foreground`` of its pixels exceed ``threshold`` times the volume's 99.9th
    percentile (an empty slice at the edge of the field of view: background and noise only).
    ``min_foreground=0`` keeps every non-constant slice.
    """
    data = np.asarray(data)
    if data.ndim != 3:
        raise ValueError(f"data must be 3-D (slices, H, W); got shape {data.shape}")
    check_number("min_foreground", min_foreground, 0.0, 1.0)
    check_number("threshold", threshold, 0.0, 1.0)
    flat = data.reshape(data.shape[0], -1)
    non_constant = flat.max(axis=1) > flat.min(axis=1)
    reference = float(np.percentile(np.abs(data), 99.9)) if data.size else 0.0
    if reference <= 0:
        return np.zeros(data.shape[0], dtype=bool)
    foreground = np.mean(np.abs(flat) > threshold * reference, axis=1)
    return non_constant & (foreground >= min_foreground)


@dataclass
class PreparedVolume:
    """The informative slices of one volume, prepared for the model.

    Attributes
    ----------
    images : ndarray of shape (n, size, size), float32 in [0, 1]
    slice_index : ndarray of int, shape (n,)
        Index of each image's slice in the volume.
    patient_id, source : str
    dropped : int
        Slices left out as empty or constant.
    """

    images: np.ndarray
    slice_index: np.ndarray
    patient_id: str
    source: str
    dropped: int


def prepare_volume(
    volume: Volume, size: int, *, min_foreground: float = 0.01, threshold: float = 0.05
) -> PreparedVolume:
    """Drop empty and constant slices, then `prepare_slice` each of the others."""
    size = check_int("size", size, 2)
    keep = informative_slices(volume.data, min_foreground=min_foreground, threshold=threshold)
    index = np.flatnonzero(keep)
    images = np.empty((len(index), size, size), dtype=np.float32)
    for position, i in enumerate(index):
        images[position] = prepare_slice(volume.data[i], size)
    return PreparedVolume(
        images=images,
        slice_index=index.astype(np.int64),
        patient_id=volume.patient_id,
        source=volume.source,
        dropped=int(volume.data.shape[0] - len(index)),
    )
