"""From raw slices to the model's input: square, Fourier-resized, background at 0, scaled to
[0, 1].

The released code (FACTS.md "Artefact simulation", "Data formats") skipped constant slices,
brought every slice to 320 x 320 in k-space and scaled each clean slice before corrupting
it; after corruption the corrupted and the clean image are both z-normalised (`znorm_pair`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .._checks import check_image, check_int, check_number
from ..artefacts import znorm
from ..fourier import fourier_resize, pad_to_square
from .volume import Volume

__all__ = [
    "ROBUST_MAXIMUM_PERCENTILE",
    "support_mask",
    "prepare_slice",
    "prepare_slice_scaled",
    "informative_slices",
    "prepare_volume",
    "PreparedVolume",
    "znorm",
]


#: The percentile of a slice's non-zero pixels that `prepare_slice` scales to 1: a robust
#: maximum, so that a few hot pixels do not darken the whole slice.
ROBUST_MAXIMUM_PERCENTILE = 99.9


def support_mask(slice_: np.ndarray, size: int) -> np.ndarray:
    """Where a slice's support (its pixels above 0) lies on the ``size x size`` grid that
    `prepare_slice` produces: a boolean (size, size) mask.

    The slice is padded to square the way `mtmri_lib.fourier.fourier_resize` pads it, then
    each output pixel counts as support if its area overlaps a source pixel above 0 (a
    linear zoom on pixel edges). A slice with a zero background thus keeps it; a slice
    whose background is noise (every pixel above 0) is support everywhere.
    """
    square = pad_to_square(np.asarray(slice_, dtype=np.float64) > 0).astype(np.float64)
    if square.shape[-1] == size:
        return square > 0
    zoomed = ndimage.zoom(
        square, size / square.shape[-1], order=1, grid_mode=True, mode="grid-constant"
    )
    return zoomed[:size, :size] > 0


def prepare_slice(slice_: np.ndarray, size: int) -> np.ndarray:
    """Pad a slice to square, Fourier-resize it to ``size x size``, and scale it to [0, 1]
    with the background kept at 0.

    The Fourier resize (the released code's: k-space cropped or zero-padded) rings at every
    edge, undershooting below 0 and rippling into an empty background. A magnitude image is
    non-negative, so the ringing is removed before scaling: values below 0 are set to 0, and
    so is every pixel outside the slice's support (`support_mask`: where the source slice is
    above 0). The result is divided by a robust maximum (`ROBUST_MAXIMUM_PERCENTILE` of its
    non-zero pixels) and clipped to [0, 1]; the brightest 0.1 % of pixels saturate at 1.

    Parameters
    ----------
    slice_ : ndarray of shape (H, W)
        Raw intensities (magnitude: negative values are treated as 0).
    size : int
        Output side in pixels.

    Returns
    -------
    ndarray of shape (size, size), float64 in [0, 1], with 0 outside the support
        A slice with nothing above 0, or constant, raises ValueError (it carries no image).
    """
    return prepare_slice_scaled(slice_, size)[0]


def prepare_slice_scaled(slice_: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """`prepare_slice` and the scale it divided by: ``(image, scale)``.

    Where no pixel was clipped, ``image * scale`` is the resized slice itself, in the
    slice's own intensity units: what `mtmri_lib.correct` needs to bring a model's residual
    back to them.
    """
    # float64 whatever the stored type (float32 volumes included), as documented.
    raw = np.asarray(check_image(slice_, "slice"), dtype=np.float64)
    if float(raw.max()) <= max(float(raw.min()), 0.0):
        raise ValueError("slice is constant or has nothing above 0: it carries no image")
    image = np.clip(fourier_resize(raw, size), 0.0, None)
    image[~support_mask(raw, size)] = 0.0
    values = image[image > 0]
    scale = float(np.percentile(values, ROBUST_MAXIMUM_PERCENTILE)) if values.size else 0.0
    if scale <= 0:
        raise ValueError("slice has nothing above 0 after resizing: it carries no image")
    return np.clip(image / scale, 0.0, 1.0), scale


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
