"""Straightforward implementations of each artefact, the way the released code goes about it.

The benchmarks time the library against these (``benchmarks/artefacts.py``) and the tests
check the library's fast rigid motion against `rigid_motion_reference`. They live outside
the package on purpose: they are yardsticks, not tools, and nothing in ``mtmri_lib``
imports them.

Each one is written from the description of the released code in ``paper/FACTS.md`` (never
from that code), with numpy's FFT and no shortcut, and applies the same physical
parameters as one `mtmri_lib.artefacts.corrupt` call: it takes that call's ``.params`` and
returns the z-normalised real part, as ``corrupt`` does by default (``output="real"``,
``zscore=True``). `REFERENCES` maps the benchmark's row names to them:

``bias``
    gstools' Gaussian spatial random field evaluated on the 32 x 32 grid
    (``SRF.structured``), upsampled with ``scipy.ndimage.zoom`` (cubic splines), mapped
    linearly onto ``field_range`` and multiplied onto the image. Same field as the library
    (to about 1e-10: gstools' own summation against the library's separable one).
``subsampling``
    a fastMRI-style mask (fully sampled centre band; the other lines random with fastMRI's
    probability, or equispaced with fastMRI's adjusted acceleration; or the centred square
    and its low-resolution image), applied by multiplying the FFT. Its random lines are its
    own draw, so the image differs from the library's; the work is the same.
``rigid motion``
    per segment, the whole image rotated and translated with cubic splines
    (``scipy.ndimage.affine_transform``), transformed, and the segment's lines copied into
    the k-space (`rigid_motion_reference`). Same poses and lines as the library; the images
    differ by the interpolation model (see ``mtmri_lib/artefacts/motion.py``).
``periodic motion``
    the k-space multiplied by exp(-j phi(ky)) along the phase-encoding axis, with the
    released code's grid ``ky = linspace(-pi, pi, N)`` (up to 0.02 rad off the article's).
``noise``
    complex Gaussian noise of per-part sd ``mean|k| / 10**(snr_db / 20)`` added to the
    k-space. Its own draw (numpy's Generator seeded with the recorded seed), so the noise
    differs from the library's; the work is the same.

``python benchmarks/references.py`` prints how far each reference lies from the library on a
few draws (a quick check that both compute the same artefact).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "REFERENCES",
    "bias_reference",
    "subsampling_reference",
    "rigid_motion_reference",
    "rigid_motion",
    "periodic_motion_reference",
    "noise_reference",
    "fft2c",
    "ifft2c",
    "znorm",
]

#: Side of the grid of the bias field, and the variance of its covariance model (FACTS.md).
BIAS_GRID = 32
BIAS_VARIANCE = 50.0


# --------------------------------------------------------------------------- helpers


def fft2c(image: np.ndarray) -> np.ndarray:
    """Centred orthonormal 2-D FFT with numpy (what a straightforward script would write)."""
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(image), norm="ortho"))


def ifft2c(kspace: np.ndarray) -> np.ndarray:
    """Inverse of `fft2c`."""
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace), norm="ortho"))


def znorm(image: np.ndarray) -> np.ndarray:
    """Subtract the mean and divide by the standard deviation (real images)."""
    image = np.asarray(image, dtype=np.float64)
    return (image - image.mean()) / image.std()


def _get(params: Any, name: str) -> Any:
    """A parameter from a ``corrupt(...).params`` dict or from a parameter dataclass."""
    if isinstance(params, Mapping):
        return params[name]
    return getattr(params, name)


def _along_pe(kspace: np.ndarray, weights: np.ndarray, pe_axis: int) -> np.ndarray:
    """Multiply every k-space line by its weight (lines are constant across the PE axis)."""
    return kspace * (weights[:, None] if pe_axis == 0 else weights[None, :])


# --------------------------------------------------------------------------- bias


def bias_reference(image: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """The bias field of ``params`` from gstools' grid evaluation and a spline zoom.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    params : dict
        ``corrupt(image, "bias", ...).params``: ``field_range``, ``length_scale``, ``seed``,
        ``n_modes``.

    Returns
    -------
    ndarray of shape (H, W), float64, z-normalised
    """
    import gstools
    from scipy import ndimage

    low, high = _get(params, "field_range")
    model = gstools.Gaussian(dim=2, var=BIAS_VARIANCE, len_scale=_get(params, "length_scale"))
    srf = gstools.SRF(model, seed=_get(params, "seed"), mode_no=_get(params, "n_modes"))
    grid = np.arange(BIAS_GRID, dtype=np.float64)
    field = srf.structured([grid, grid])
    height, width = image.shape
    smooth = ndimage.zoom(
        field, (height / BIAS_GRID, width / BIAS_GRID), order=3, mode="nearest", grid_mode=True
    )
    unit = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return znorm(image * (low + unit * (high - low)))


# --------------------------------------------------------------------------- subsampling


def _fastmri_lines(
    n_lines: int, acceleration: float, centre_fraction: float, kind: str, seed: int
) -> np.ndarray:
    """fastMRI's random or equispaced line mask (boolean over the PE index)."""
    rng = np.random.default_rng(seed)
    n_centre = round(n_lines * centre_fraction)
    mask = np.zeros(n_lines, dtype=bool)
    if kind == "random":
        probability = (n_lines / acceleration - n_centre) / (n_lines - n_centre)
        mask = rng.uniform(size=n_lines) < probability
    else:
        # fastMRI's adjusted acceleration: the spacing that, with the centre band, keeps
        # about 1/R of the lines.
        spacing = acceleration * (n_centre - n_lines) / (n_centre * acceleration - n_lines)
        offset = rng.integers(0, max(1, round(spacing)))
        mask[np.around(np.arange(offset, n_lines - 1, spacing)).astype(int)] = True
    start = (n_lines - n_centre + 1) // 2
    mask[start : start + n_centre] = True
    return mask


def subsampling_reference(
    image: np.ndarray, params: Mapping[str, Any], *, low_res: bool = True
) -> np.ndarray:
    """fastMRI-style subsampling: a line mask (or the centred square) times the FFT.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    params : dict
        ``corrupt(image, "subsampling", ...).params``: ``acceleration``, ``centre_fraction``,
        ``mask``, ``pe_axis``, ``seed``.
    low_res : bool
        For the centred mask, also compute the image of the cropped k-space (as
        ``corrupt`` does); not returned, only timed.

    Returns
    -------
    ndarray of shape (H, W), float64, z-normalised
    """
    kspace = fft2c(image)
    acceleration = _get(params, "acceleration")
    centre_fraction = _get(params, "centre_fraction")
    kind = _get(params, "mask")
    if acceleration == 1:
        return znorm(np.real(ifft2c(kspace)))
    if kind == "centred":
        height, width = image.shape
        rows, cols = round(centre_fraction * height), round(centre_fraction * width)
        top, left = height // 2 - rows // 2, width // 2 - cols // 2
        square = np.zeros(image.shape, dtype=bool)
        square[top : top + rows, left : left + cols] = True
        if low_res:
            znorm(np.real(ifft2c(kspace[top : top + rows, left : left + cols])))
        return znorm(np.real(ifft2c(kspace * square)))
    pe_axis = _get(params, "pe_axis")
    lines = _fastmri_lines(
        image.shape[pe_axis], acceleration, centre_fraction, kind, _get(params, "seed")
    )
    return znorm(np.real(ifft2c(_along_pe(kspace, lines.astype(np.float64), pe_axis))))


# --------------------------------------------------------------------------- motion


def rigid_motion_reference(image: np.ndarray, params: Any) -> np.ndarray:
    """Rigid motion the slow way: resample the whole image for every segment.

    For each segment the image is rotated and translated with cubic splines
    (``scipy.ndimage.affine_transform``, order 3, zero outside the image), transformed, and
    the segment's lines are taken from that k-space; the other lines are the clean
    k-space's. This is the straightforward method (and the released code's);
    `mtmri_lib.artefacts.motion.apply` computes the same lines directly in k-space.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        Real or complex.
    params : mtmri_lib.artefacts.motion.Params or dict
        Rigid motion: ``motion``, ``pe_axis``, ``segments`` ((start, stop) PE line ranges),
        ``rotations`` (degrees), ``translations`` ((row, column) pixels). The pose convention
        is the library's: output pixel x reads the input at R^T (x - centre - t) + centre,
        centre = (H // 2, W // 2).

    Returns
    -------
    complex128 ndarray of shape (H, W)
        The inverse FFT of the corrupted k-space, as ``motion.apply(image, params).image``.
    """
    from scipy import ndimage

    motion = _get(params, "motion")
    if motion != "rigid":
        raise ValueError(f"rigid_motion_reference needs motion='rigid'; got {motion!r}")
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W); got shape {image.shape}")
    image = image.astype(np.complex128 if np.iscomplexobj(image) else np.float64)
    kspace = fft2c(image)
    segments = _get(params, "segments") or ()
    pe_axis = _get(params, "pe_axis")
    n_lines = image.shape[pe_axis]
    centre = np.array([image.shape[0] // 2, image.shape[1] // 2], dtype=float)
    rotations = _get(params, "rotations") or ()
    translations = _get(params, "translations") or ()
    for (start, stop), angle, shift in zip(segments, rotations, translations, strict=True):
        if not 0 <= start < stop <= n_lines:
            raise ValueError(f"segment ({start}, {stop}) outside the {n_lines} PE lines")
        theta = math.radians(angle)
        rotation = np.array(
            [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]
        )
        offset = centre - rotation.T @ (centre + np.asarray(shift, dtype=float))
        moved = ndimage.affine_transform(
            image, rotation.T, offset=offset, order=3, mode="constant", cval=0.0
        )
        moved_k = fft2c(moved)
        if pe_axis == 0:
            kspace[start:stop, :] = moved_k[start:stop, :]
        else:
            kspace[:, start:stop] = moved_k[:, start:stop]
    return ifft2c(kspace)


def rigid_motion(image: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """`rigid_motion_reference`, real part, z-normalised (what ``corrupt`` returns)."""
    return znorm(np.real(rigid_motion_reference(image, params)))


def periodic_motion_reference(image: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """Periodic motion: the k-space times exp(-j ky Delta sin(alpha ky + beta)), |ky| > ky0.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    params : dict
        ``corrupt(image, "motion", motion="periodic", ...).params``: ``delta``,
        ``frequency``, ``phase``, ``ky0``, ``pe_axis``.

    Returns
    -------
    ndarray of shape (H, W), float64, z-normalised
    """
    pe_axis = _get(params, "pe_axis")
    ky = np.linspace(-np.pi, np.pi, image.shape[pe_axis])
    phi = (
        ky * _get(params, "delta") * np.sin(_get(params, "frequency") * ky + _get(params, "phase"))
    )
    phi[np.abs(ky) <= _get(params, "ky0")] = 0.0
    return znorm(np.real(ifft2c(_along_pe(fft2c(image), np.exp(-1j * phi), pe_axis))))


# --------------------------------------------------------------------------- noise


def noise_reference(image: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """Complex Gaussian noise in k-space at ``snr_db`` = 20 log10(mean|k| / sd).

    Parameters
    ----------
    image : ndarray of shape (H, W)
    params : dict
        ``corrupt(image, "noise", ...).params``: ``snr_db``, ``seed``.

    Returns
    -------
    ndarray of shape (H, W), float64, z-normalised
    """
    kspace = fft2c(image)
    sd = np.mean(np.abs(kspace)) / 10 ** (_get(params, "snr_db") / 20)
    rng = np.random.default_rng(_get(params, "seed"))
    noise = rng.normal(0.0, sd, kspace.shape) + 1j * rng.normal(0.0, sd, kspace.shape)
    return znorm(np.real(ifft2c(kspace + noise)))


#: The benchmark's row name -> reference(image, corrupt_params) -> z-normalised real image.
REFERENCES: dict[str, Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]] = {
    "bias": bias_reference,
    "subsampling": subsampling_reference,
    "rigid motion": rigid_motion,
    "periodic motion": periodic_motion_reference,
    "noise": noise_reference,
}


def _check(size: int = 128, draws: int = 3) -> None:
    """Print the relative l2 distance of each reference from the library on a few draws."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from mtmri_lib.artefacts import corrupt

    rows, cols = np.mgrid[:size, :size] / size - 0.5
    image = np.exp(-((rows / 0.3) ** 2 + (cols / 0.25) ** 2) * 4) * (rows**2 + cols**2 < 0.16)
    cases = {
        "bias": ("bias", {}),
        "subsampling": ("subsampling", {}),
        "rigid motion": ("motion", {"motion": "rigid"}),
        "periodic motion": ("motion", {"motion": "periodic"}),
        "noise": ("noise", {}),
    }
    for name, (kind, fixed) in cases.items():
        distances = []
        for seed in range(draws):
            ours = corrupt(image, kind, seed, **fixed)
            reference = REFERENCES[name](image, ours.params)
            distances.append(np.linalg.norm(ours.image - reference) / np.linalg.norm(reference))
        print(f"{name:<16} relative l2 distance to the library: {max(distances):.2e} (largest)")


if __name__ == "__main__":
    _check()
