"""Image-quality metrics of the article: MSE, SSIM and pixel-domain VIF.

What is normalised, and how
---------------------------
The article does not say on what scale it scores; the released code mapped the reference
and the corrected image each to [0, 1] (min-max) and then z-normalised each (mean 0,
population standard deviation 1). Z-normalisation removes any map ``a * x + b`` with
``a > 0``, so the min-max step changes nothing but rounding: here each image is simply
z-normalised, in float64, by `mtmri_lib.artefacts.znorm` (``normalise=True``, the
default; an image without structure, a constant one for example, gives zeros).
``normalise=False`` scores the images as given.

The metrics
-----------
`mse`
    Mean of the squared pixel differences. Lower is better; 0 for identical images.
`ssim`
    scikit-image's ``structural_similarity`` with its defaults (7 x 7 uniform window, sample
    covariance), ``data_range`` = max - min of the (normalised) reference.
    ``fidelity="code"``: ``data_range=2``, what the released code effectively used (it passed
    none; old scikit-image then took 2 for float images, the current one refuses). 1 for
    identical images.
`vif`
    Pixel-domain Visual Information Fidelity (Sheikh and Bovik 2006) as sewar's ``vifp``
    computes it: four scales with Gaussian windows of 17, 9, 5 and 3 pixels (sigma = side / 5),
    "valid" filtering, decimation by 2 between scales, visual-noise variance 2. This is an
    independent, vectorised implementation (separable windows, many images at once), tested
    equal to sewar's ``vifp`` to 1e-10 relative. 1 for identical images; can exceed 1 where
    the image has more contrast than the reference; NaN for a constant reference.
    Like sewar, a scale whose image is smaller than its window is filtered in the "valid" mode
    of the swapped pair (scipy's ``convolve2d`` swaps the operands): for images below about
    41 x 41 pixels the coarse scales then see windows larger than the image. The numbers
    equal sewar's at every size, but at such sizes VIF is dominated by the fine scales.

Both ``fidelity`` values give the same MSE and VIF.

`score_pairs` scores many (reference, image) pairs in parallel worker processes with a
progress bar; `METRICS` is the registry (name -> function) the evaluation uses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._checks import check_choice, check_image
from .artefacts import FIDELITIES, znorm
from .parallel import process_pool

__all__ = [
    "mse",
    "ssim",
    "vif",
    "vif_stack",
    "METRICS",
    "HIGHER_IS_BETTER",
    "METRIC_LABELS",
    "FIDELITIES",
    "normalise_pair",
    "score_pairs",
]


#: The released code's effective SSIM data range (scikit-image's old default for float images).
CODE_SSIM_DATA_RANGE = 2.0
#: Variance of the visual noise of pixel-domain VIF (sewar's default, the released code's).
VIF_NOISE_VARIANCE = 2.0
_VIF_EPS = 1e-10
# Images per vectorised VIF batch: bounds the memory of the stacked filter maps.
_VIF_BATCH_PIXELS = 2_000_000
# Below this many pixels in all, `score_pairs` scores in this process: starting workers would
# cost more than they save.
PARALLEL_MIN_PIXELS = 1_000_000


def _znorm(image: np.ndarray) -> np.ndarray:
    """`mtmri_lib.artefacts.znorm` in float64 (an image without structure: zeros)."""
    return znorm(np.asarray(image, dtype=np.float64))


def normalise_pair(
    reference: np.ndarray, image: np.ndarray, *, normalise: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Check a (reference, image) pair and return both as float64, z-normalised if asked.

    Raises
    ------
    ValueError
        Not 2-D, different shapes, complex, or NaN / infinite values.
    """
    reference = check_image(reference, "reference")
    image = check_image(image, "image")
    if np.iscomplexobj(reference) or np.iscomplexobj(image):
        raise TypeError("metrics take real images; convert complex images first")
    if reference.shape != image.shape:
        raise ValueError(
            f"reference and image must have the same shape; got {reference.shape} and {image.shape}"
        )
    if normalise:
        return _znorm(reference), _znorm(image)
    return reference.astype(np.float64), image.astype(np.float64)


def _check_fidelity(fidelity: str) -> str:
    return check_choice("fidelity", fidelity, FIDELITIES)


def mse(
    reference: np.ndarray, image: np.ndarray, *, fidelity: str = "paper", normalise: bool = True
) -> float:
    """Mean squared error between two images (after z-normalising each, by default).

    Parameters
    ----------
    reference, image : ndarray of shape (H, W)
        Real, finite, same shape.
    fidelity : {"paper", "code"}
        Both give the same value (the released code computed MSE the same way).
    normalise : bool
        Z-normalise each image first (the released code's scale).

    Returns
    -------
    float
        >= 0; 0 for identical images. Lower is better.
    """
    _check_fidelity(fidelity)
    reference, image = normalise_pair(reference, image, normalise=normalise)
    return float(np.mean((reference - image) ** 2))


#: The side of scikit-image's default SSIM window, the smallest image side SSIM accepts.
SSIM_WINDOW = 7


def ssim(
    reference: np.ndarray,
    image: np.ndarray,
    *,
    fidelity: str = "paper",
    normalise: bool = True,
    data_range: float | None = None,
) -> float:
    """Structural similarity (scikit-image, default window), reference first.

    Parameters
    ----------
    reference, image : ndarray of shape (H, W)
        Real, finite, same shape, at least 7 x 7 (the window).
    fidelity : {"paper", "code"}
        "paper": ``data_range`` = max - min of the (normalised) reference; "code": 2, the
        released code's effective range.
    normalise : bool
        Z-normalise each image first (the released code's scale).
    data_range : float, optional
        Overrides the fidelity's choice.

    Returns
    -------
    float
        In [-1, 1]; 1 for identical images; NaN for a constant reference with the "paper"
        data range (the range is 0).
    """
    from skimage.metrics import structural_similarity

    fidelity = _check_fidelity(fidelity)
    reference, image = normalise_pair(reference, image, normalise=normalise)
    if min(reference.shape) < SSIM_WINDOW:
        raise ValueError(
            f"ssim needs images of at least {SSIM_WINDOW} x {SSIM_WINDOW} pixels (its window); "
            f"got shape {reference.shape}"
        )
    if data_range is None:
        if fidelity == "code":
            data_range = CODE_SSIM_DATA_RANGE
        else:
            data_range = float(reference.max() - reference.min())
    if not data_range > 0:
        return math.nan
    return float(structural_similarity(reference, image, data_range=float(data_range)))


# --------------------------------------------------------------------------- VIF


def _window_1d(side: int) -> np.ndarray:
    """The normalised 1-D factor of VIF's Gaussian window (sigma = side / 5).

    The 2-D window (MATLAB's ``fspecial``, as sewar builds it) is the outer product of this
    vector with itself: its threshold at eps * max never removes a tap for these sides.
    """
    offsets = np.arange(side, dtype=np.float64) - side // 2
    weights = np.exp(-(offsets**2) / (2.0 * (side / 5.0) ** 2))
    return weights / weights.sum()


#: Outputs per block of the banded matrix products of `_valid_filter_axis`.
_VIF_BLOCK = 16


def _band(outputs: int, weights: np.ndarray) -> np.ndarray:
    """The (outputs, outputs + taps - 1) matrix whose product with a block of rows is the
    "valid" correlation of those rows with ``weights``."""
    taps = len(weights)
    band = np.zeros((outputs, outputs + taps - 1))
    for row in range(outputs):
        band[row, row : row + taps] = weights
    return band


def _valid_rows(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ "Valid" correlation along axis -2 of a C-contiguous array, as matrix products.

    The output rows are cut into blocks of `_VIF_BLOCK`; block j is a small banded matrix
    times the input rows it needs (a strided view, no copy), so the work is done by the
    BLAS rather than by a line-by-line filter. The remainder block gets its own band.
    """
    taps, size = len(weights), x.shape[-2]
    outputs = size - taps + 1
    block = min(_VIF_BLOCK, outputs)
    blocks, left = divmod(outputs, block)
    out = np.empty((*x.shape[:-2], outputs, x.shape[-1]))
    strides = x.strides
    windows = np.lib.stride_tricks.as_strided(
        x,
        shape=(*x.shape[:-2], blocks, block + taps - 1, x.shape[-1]),
        strides=(*strides[:-2], block * strides[-2], strides[-2], strides[-1]),
        writeable=False,
    )
    out[..., : blocks * block, :] = np.matmul(_band(block, weights), windows).reshape(
        *x.shape[:-2], blocks * block, x.shape[-1]
    )
    if left:
        out[..., blocks * block :, :] = np.matmul(_band(left, weights), x[..., blocks * block :, :])
    return out


def _valid_columns(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ "Valid" correlation along axis -1, as matrix products of column blocks.

    Each block of `_VIF_BLOCK` output columns is the input columns it needs (a view) times
    the transposed band, written in place: no transposed copy of the stack is made.
    """
    taps, size = len(weights), x.shape[-1]
    outputs = size - taps + 1
    block = min(_VIF_BLOCK, outputs)
    out = np.empty((*x.shape[:-1], outputs))
    band = np.ascontiguousarray(_band(block, weights).T)
    full = outputs - outputs % block
    for start in range(0, full, block):
        np.matmul(
            x[..., start : start + block + taps - 1], band, out=out[..., start : start + block]
        )
    if full < outputs:
        np.matmul(x[..., full:], _band(outputs - full, weights).T, out=out[..., full:])
    return out


def _valid_filter_axis(x: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """1-D "valid" correlation of ``x`` with the odd-length ``weights`` along ``axis``
    (-2 or -1).

    Where the axis is shorter than the window, the result is the central ``n - s + 1``
    values of the full correlation: scipy's ``convolve2d`` "valid" mode with the operands
    swapped, which is what sewar's ``vifp`` gets for small images.
    """
    from scipy import ndimage

    size, taps = x.shape[axis], len(weights)
    if size >= taps:
        if axis in (-2, x.ndim - 2):
            return _valid_rows(np.ascontiguousarray(x), weights)
        return _valid_columns(x, weights)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (taps - 1, taps - 1)
    full = ndimage.correlate1d(np.pad(x, pad), weights, axis=axis, mode="constant")
    index = [slice(None)] * x.ndim
    index[axis] = slice(taps // 2 + size - 1, taps // 2 + taps)
    return full[tuple(index)]


def _valid_filter(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Separable 2-D "valid" filtering over the last two axes."""
    return _valid_filter_axis(_valid_filter_axis(x, weights, -2), weights, -1)


def _vif_terms(reference: np.ndarray, image: np.ndarray, sigma_nsq: float) -> np.ndarray:
    """Numerator and denominator of VIF for a stack (n, H, W): array of shape (2, n).

    The arithmetic is the reference implementation's, step for step; only the memory
    traffic is reduced (products and local moments written into one preallocated array,
    guards applied in place, the downsampling filter's second pass run on the rows kept).
    """
    totals = np.zeros((2, reference.shape[0]), dtype=np.float64)
    for scale in range(4):
        side = 2 ** (4 - scale) + 1  # 17, 9, 5, 3
        weights = _window_1d(side)
        if scale > 0:
            # Filter, then keep every second row and column: the column pass runs on the
            # rows kept only, which gives the same values as filtering everything first.
            rows = _valid_filter_axis(np.stack([reference, image]), weights, -2)[..., ::2, :]
            both = _valid_filter_axis(rows, weights, -1)[..., ::2]
            reference, image = both[0], both[1]
        products = np.empty((5, *reference.shape), dtype=np.float64)
        products[0], products[1] = reference, image
        np.multiply(reference, reference, out=products[2])
        np.multiply(image, image, out=products[3])
        np.multiply(reference, image, out=products[4])
        maps = _valid_filter(products, weights)
        mu_ref, mu_img, var_ref, var_img, covariance = maps
        scratch = np.empty_like(mu_ref)
        var_ref -= np.multiply(mu_ref, mu_ref, out=scratch)
        var_img -= np.multiply(mu_img, mu_img, out=scratch)
        covariance -= np.multiply(mu_ref, mu_img, out=scratch)
        np.maximum(var_ref, 0, out=var_ref)
        np.maximum(var_img, 0, out=var_img)
        # The gain g and the distortion variance sv_sq of the image given the reference,
        # with the same guards, in the same order, as the reference implementation.
        gain = np.divide(covariance, np.add(var_ref, _VIF_EPS, out=mu_ref), out=mu_ref)
        sv_sq = np.subtract(var_img, np.multiply(gain, covariance, out=scratch), out=mu_img)
        flat_ref = var_ref < _VIF_EPS
        gain[flat_ref] = 0
        np.copyto(sv_sq, var_img, where=flat_ref)
        var_ref[flat_ref] = 0
        flat_img = var_img < _VIF_EPS
        gain[flat_img] = 0
        sv_sq[flat_img] = 0
        negative = gain < 0
        np.copyto(sv_sq, var_img, where=negative)
        gain[negative] = 0
        sv_sq[sv_sq <= _VIF_EPS] = _VIF_EPS
        # log10(1 + g^2 var_ref / (sv_sq + sigma_nsq)), computed in the scratch arrays
        np.multiply(gain, gain, out=gain)
        gain *= var_ref
        sv_sq += sigma_nsq
        gain /= sv_sq
        totals[0] += np.log10(np.add(gain, 1.0, out=gain), out=gain).sum(axis=(-2, -1))
        np.divide(var_ref, sigma_nsq, out=scratch)
        totals[1] += np.log10(np.add(scratch, 1.0, out=scratch), out=scratch).sum(axis=(-2, -1))
    return totals


def vif_stack(
    references: np.ndarray,
    images: np.ndarray,
    *,
    normalise: bool = True,
    sigma_nsq: float = VIF_NOISE_VARIANCE,
) -> np.ndarray:
    """Pixel-domain VIF of many image pairs at once (vectorised over the stack).

    Parameters
    ----------
    references, images : ndarray of shape (n, H, W)
        Real, finite, same shape.
    normalise : bool
        Z-normalise each image first.
    sigma_nsq : float
        Variance of the visual noise (2, sewar's and the released code's value).

    Returns
    -------
    ndarray of shape (n,)
        NaN where the reference is constant.
    """
    references = np.asarray(references, dtype=np.float64)
    images = np.asarray(images, dtype=np.float64)
    if references.ndim != 3 or references.shape != images.shape:
        raise ValueError(
            "references and images must be stacks (n, H, W) of the same shape; got "
            f"{references.shape} and {images.shape}"
        )
    if not (np.all(np.isfinite(references)) and np.all(np.isfinite(images))):
        raise ValueError("references and images must be finite")
    if normalise:
        references = np.stack([_znorm(r) for r in references]) if len(references) else references
        images = np.stack([_znorm(i) for i in images]) if len(images) else images
    n = references.shape[0]
    out = np.empty(n, dtype=np.float64)
    step = max(1, _VIF_BATCH_PIXELS // max(1, references[0].size if n else 1))
    for start in range(0, n, step):
        num, den = _vif_terms(
            references[start : start + step], images[start : start + step], float(sigma_nsq)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + step] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return out


def vif(
    reference: np.ndarray,
    image: np.ndarray,
    *,
    fidelity: str = "paper",
    normalise: bool = True,
    sigma_nsq: float = VIF_NOISE_VARIANCE,
) -> float:
    """Pixel-domain Visual Information Fidelity, reference first (sewar's ``vifp``).

    Parameters
    ----------
    reference, image : ndarray of shape (H, W)
        Real, finite, same shape.
    fidelity : {"paper", "code"}
        Both give the same value.
    normalise : bool
        Z-normalise each image first (the released code's scale).
    sigma_nsq : float
        Variance of the visual noise, 2 as in the released code.

    Returns
    -------
    float
        1 for identical images (0 information lost), lower for distorted ones, above 1 for
        contrast enhancement; NaN for a constant reference.
    """
    _check_fidelity(fidelity)
    reference, image = normalise_pair(reference, image, normalise=normalise)
    return float(vif_stack(reference[None], image[None], normalise=False, sigma_nsq=sigma_nsq)[0])


#: The registry: metric name -> function(reference, image, *, fidelity, normalise).
METRICS: dict[str, Callable[..., float]] = {"mse": mse, "ssim": ssim, "vif": vif}
#: Which direction is better, per metric.
HIGHER_IS_BETTER: dict[str, bool] = {"mse": False, "ssim": True, "vif": True}
#: Display names.
METRIC_LABELS: dict[str, str] = {"mse": "MSE", "ssim": "SSIM", "vif": "VIF"}


# --------------------------------------------------------------------------- many slices


def _score_chunk(
    references: np.ndarray, images: np.ndarray, metrics: Sequence[str], fidelity: str
) -> dict[str, np.ndarray]:
    """Score a chunk of pairs with each metric (VIF vectorised over the chunk)."""
    out: dict[str, np.ndarray] = {}
    refs = np.stack([_znorm(r) for r in references])
    imgs = np.stack([_znorm(i) for i in images])
    for name in metrics:
        if name == "vif":
            out[name] = vif_stack(refs, imgs, normalise=False)
        else:
            function = METRICS[name]
            out[name] = np.array(
                [
                    function(r, i, fidelity=fidelity, normalise=False)
                    for r, i in zip(refs, imgs, strict=True)
                ]
            )
    return out


def check_metrics(metrics: str | Sequence[str]) -> tuple[str, ...]:
    """Validate metric names (a name or a sequence of names) against `METRICS`."""
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not names:
        raise ValueError("give at least one metric")
    for name in names:
        check_choice("metric", name, tuple(METRICS))
    return names


def default_workers() -> int:
    """Worker processes to use: the cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def score_pairs(
    references: np.ndarray,
    images: np.ndarray,
    metrics: str | Sequence[str] = ("mse", "ssim", "vif"),
    *,
    fidelity: str = "paper",
    workers: int | None = None,
    chunk_size: int | None = None,
    progress: bool = True,
    desc: str = "scoring",
) -> Any:
    """Score many (reference, image) pairs with several metrics, in parallel.

    Parameters
    ----------
    references, images : ndarray of shape (n, H, W)
        Pair ``i`` is ``(references[i], images[i])``; each image is z-normalised first.
    metrics : str or sequence of str
        Names in `METRICS`.
    fidelity : {"paper", "code"}
        Passed to each metric.
    workers : int, optional
        Worker processes; default: the usable cores. Small jobs (under about a million
        pixels) run in this process, where starting workers would cost more than it saves.
    chunk_size : int, optional
        Pairs per task (default: about four tasks per worker).
    progress : bool
        Show a tqdm progress bar (pairs done).
    desc : str
        The progress bar's label.

    Returns
    -------
    pandas.DataFrame
        One row per pair (index ``slice`` = position in the stack), one column per metric.
    """
    import pandas as pd

    metrics = check_metrics(metrics)
    _check_fidelity(fidelity)
    references = np.asarray(references)
    images = np.asarray(images)
    if references.ndim != 3 or references.shape != images.shape:
        raise ValueError(
            "references and images must be stacks (n, H, W) of the same shape; got "
            f"{references.shape} and {images.shape}"
        )
    n = len(references)
    workers = default_workers() if workers is None else max(1, int(workers))
    if references.size < PARALLEL_MIN_PIXELS:
        workers = 1
    if chunk_size is None:
        chunk_size = max(1, math.ceil(n / (4 * workers)))
    starts = list(range(0, n, chunk_size))
    results: dict[int, dict[str, np.ndarray]] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=desc, unit="slice", leave=False)
    try:
        if workers == 1 or len(starts) == 1:
            for start in starts:
                stop = start + chunk_size
                results[start] = _score_chunk(
                    references[start:stop], images[start:stop], metrics, fidelity
                )
                if bar is not None:
                    bar.update(min(stop, n) - start)
        else:
            from concurrent.futures import as_completed

            with process_pool(workers) as pool:
                futures = {
                    pool.submit(
                        _score_chunk,
                        references[start : start + chunk_size],
                        images[start : start + chunk_size],
                        metrics,
                        fidelity,
                    ): start
                    for start in starts
                }
                for future in as_completed(futures):
                    start = futures[future]
                    results[start] = future.result()
                    if bar is not None:
                        bar.update(len(results[start][metrics[0]]))
    finally:
        if bar is not None:
            bar.close()
    columns = {
        name: np.concatenate([results[s][name] for s in starts]) if starts else np.array([])
        for name in metrics
    }
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n, name="slice"))
    return frame
