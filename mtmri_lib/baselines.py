"""The comparison methods of Tables 3-6, with the article's settings.

``BASELINES`` maps a key to a function ``function(image, *, fidelity="paper", **settings)``
that returns the corrected image, z-normalised (float64):

========  ==========  ===============================================================
key       table       method
========  ==========  ===============================================================
n4        3 (bias)    N4ITK bias-field correction (SimpleITK), 4 control points, no
                      shrinking, Otsu foreground mask; intensities mapped to [0, 10]
                      ("code": [0, 1] and no mask, the released call)
bicubic   4 (subs.)   bicubic upsampling of the centred-mask low-resolution image to
                      ``shape=`` ("code": bilinear, the released code's accident)
tv        5 (motion)  total-variation denoising (scikit-image, Chambolle), weight 0.05
cad       6 (noise)   curvature anisotropic diffusion (SimpleITK), time step 0.0625,
                      5 iterations, image mapped to [0, 1]
bm3d      6 (noise)   BM3D, hard thresholding only, sigma 0.2 ("code": 50/255)
========  ==========  ===============================================================

A method whose package is not installed (SimpleITK for n4 and cad, the optional ``bm3d``
extra) is simply absent from ``BASELINES``; so are the two methods of the article that
cannot run here (`NOT_AVAILABLE`: UniRes and the implicit bias-field CNN). Tables keep
their rows, marked "not run".

Every function z-normalises its input first where the method's parameters depend on the
scale (TV, BM3D) and maps it to the stated range where the article says so (N4, C.A.D.),
so the result does not depend on how the input was scaled. SimpleITK filters run
single-threaded: the result then does not depend on the machine, and the evaluation
parallelises over slices instead.

Where the article is silent, the released evaluation scripts decide: TV and BM3D act on
the z-normalised corrupted image, and C.A.D.'s conductance is SimpleITK's default (3). One
exception: the released script gives N4 no mask, and SimpleITK's N4 without a mask leaves an
image whose background is exactly 0 (as the pipeline's slices) all but uncorrected; so
``fidelity="paper"`` gives it a foreground mask (Otsu's threshold, as SimpleITK's own N4
example does) and ``"code"`` keeps the released call (see `n4`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import check_choice, check_image, check_int, check_number
from .artefacts import FIDELITIES, znorm

__all__ = [
    "BASELINES",
    "BASELINE_INFO",
    "NOT_AVAILABLE",
    "BaselineInfo",
    "identity",
    "n4",
    "bicubic",
    "upsample",
    "tv",
    "cad",
    "bm3d_denoise",
    "missing_packages",
]


@dataclass(frozen=True)
class BaselineInfo:
    """What a comparison method is, for tables and documentation.

    Attributes
    ----------
    label : str
        Row label as in the article's tables.
    artefact : str
        The artefact it corrects.
    table : int
    settings : str
        The article's settings, in words.
    package : str or None
        The package it needs (None: always available, or not available at all).
    """

    label: str
    artefact: str
    table: int
    settings: str
    package: str | None = None


BASELINE_INFO: dict[str, BaselineInfo] = {
    "n4": BaselineInfo(
        "N4ITK",
        "bias",
        3,
        "SimpleITK N4, 4 control points, no shrinking, Otsu foreground mask, "
        "intensities in [0, 10]",
        "SimpleITK",
    ),
    "bicubic": BaselineInfo(
        "Bicubic",
        "subsampling",
        4,
        "bicubic upsampling of the low-resolution image (centred masks)",
    ),
    "tv": BaselineInfo("TV", "motion", 5, "Chambolle total variation, weight 0.05"),
    "cad": BaselineInfo(
        "C.A.D.",
        "noise",
        6,
        "SimpleITK curvature anisotropic diffusion, time step 0.0625, 5 iterations",
        "SimpleITK",
    ),
    "bm3d": BaselineInfo("BM3D", "noise", 6, "hard thresholding, sigma 0.2", "bm3d"),
}

#: Methods of the article that cannot be run here, and why (their table rows say "not run").
NOT_AVAILABLE: dict[str, BaselineInfo] = {
    "implicit_bias_cnn": BaselineInfo(
        "Implicit bias CNN",
        "bias",
        3,
        "the authors' earlier bias-field model (Simko et al.); its weights are not public",
    ),
    "unires": BaselineInfo(
        "UniRes",
        "subsampling",
        4,
        "model-based super-resolution (Brudfors et al.); not installable here",
    ),
}


def _check_fidelity(fidelity: str) -> str:
    return check_choice("fidelity", fidelity, FIDELITIES)


def _znorm(image: np.ndarray) -> np.ndarray:
    """`mtmri_lib.artefacts.znorm` in float64 (an image without structure: zeros)."""
    return znorm(np.asarray(image, dtype=np.float64))


def _rescale(image: np.ndarray, high: float) -> np.ndarray:
    """Map an image linearly onto [0, high] (a constant image becomes 0)."""
    image = np.asarray(image, dtype=np.float64)
    low, span = image.min(), image.max() - image.min()
    if span == 0:
        return np.zeros_like(image)
    return (image - low) * (high / span)


def _real_image(image: Any, name: str = "image") -> np.ndarray:
    image = check_image(image, name)
    if np.iscomplexobj(image):
        raise TypeError(f"{name} must be real; convert a complex image first")
    return image.astype(np.float64)


def identity(image: np.ndarray, *, fidelity: str = "paper") -> np.ndarray:
    """The corrupted input itself, z-normalised: the tables' reference row."""
    _check_fidelity(fidelity)
    return _znorm(_real_image(image))


# --------------------------------------------------------------------------- N4


def n4(
    image: np.ndarray,
    *,
    fidelity: str = "paper",
    control_points: int = 4,
    intensity_max: float | None = None,
    iterations: tuple[int, ...] = (50, 50, 50, 50),
    mask: bool | np.ndarray | None = None,
    shrink: int = 1,
) -> np.ndarray:
    """N4ITK bias-field correction (SimpleITK), as the article ran it.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        The image with a multiplicative bias field (any scale).
    fidelity : {"paper", "code"}
        "paper": intensities mapped to [0, 10] first (the article), the field fitted on an
        Otsu foreground mask. "code": the released script's call, intensities mapped to
        [0, 1] and no mask.
    control_points : int
        Control points of the B-spline field per axis (>= 4, SimpleITK's minimum for cubic
        splines), 4 as in the article.
    intensity_max : float, optional
        Overrides the fidelity's range [0, intensity_max].
    iterations : tuple of int
        Iterations per fitting level (SimpleITK's default: four levels of 50).
    mask : bool or ndarray of shape (H, W), optional
        Where the field is fitted. None: the fidelity's choice; True: the foreground by
        Otsu's threshold (SimpleITK's ``OtsuThreshold(image, 0, 1, 200)``, as its N4
        example); False: every pixel; an array: its non-zero pixels (at least one).
        The whole image is corrected either way.
    shrink : int
        Fit the field on the image shrunk by this factor per axis (1, the default and the
        article's: not shrunk), then divide the full-resolution image by the field
        reconstructed at full resolution (``GetLogBiasFieldAsImage`` of the full image).
        At least 1, and the shrunk image must keep at least 4 pixels per side.

    Returns
    -------
    ndarray of shape (H, W), float64, z-normalised

    Notes
    -----
    Why a mask at "paper": without one, SimpleITK's N4 does not correct an image whose
    background is exactly 0, as the pipeline's slices are (measured on a 64 x 64 MNI152
    slice with a zero background and a smooth 0.7-1.3 field, four levels of 50 iterations:
    coefficient of variation of corrected / true 0.084 against 0.080 uncorrected; with the
    Otsu mask 0.039). The mask makes the article's N4ITK row a working bias correction;
    "code" keeps the released call for the paper-versus-code comparison.

    Shrinking: on 320 x 320 MNI152 slices with a zero background and the library's bias
    fields (one thread, a 2-core machine), shrink 4 took 0.2-0.3 s against 0.9-1.8 s
    unshrunk, with the same bias left (coefficient of variation of corrected / true 0.026
    both; 0.05-0.09 uncorrected). The time depends on how soon N4 converges, so it varies
    with the image and the field; ``benchmarks/evaluation.py`` measures both.
    """
    import SimpleITK as sitk

    fidelity = _check_fidelity(fidelity)
    image = _real_image(image)
    control_points = check_int("control_points", control_points, 4)
    if intensity_max is None:
        intensity_max = 10.0 if fidelity == "paper" else 1.0
    intensity_max = check_number("intensity_max", intensity_max, 0.0, low_open=True)
    levels = [check_int("iterations", i, 1) for i in iterations]
    if not levels:
        raise ValueError("iterations must name at least one fitting level")
    shrink = check_int("shrink", shrink, 1, max(1, min(image.shape) // 4))
    if mask is None:
        mask = fidelity == "paper"
    given_mask = _n4_mask(mask, image.shape)
    otsu_mask = given_mask is None and bool(mask)
    if image.max() == image.min():
        return _znorm(image)  # no structure, no field to fit: zeros, like every method here

    scaled = sitk.GetImageFromArray(_rescale(image, intensity_max).astype(np.float32))
    inputs = [scaled]
    if given_mask is not None:
        inputs.append(sitk.GetImageFromArray(given_mask.astype(np.uint8)))
    elif otsu_mask:
        otsu = sitk.OtsuThresholdImageFilter()
        otsu.SetInsideValue(0)  # below the threshold: background
        otsu.SetOutsideValue(1)
        otsu.SetNumberOfHistogramBins(200)
        otsu.SetNumberOfThreads(1)
        inputs.append(otsu.Execute(scaled))
    if shrink > 1:
        shrinker = sitk.ShrinkImageFilter()
        shrinker.SetShrinkFactors([shrink, shrink])
        shrinker.SetNumberOfThreads(1)
        inputs = [shrinker.Execute(item) for item in inputs]
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetNumberOfControlPoints([control_points, control_points])
    corrector.SetMaximumNumberOfIterations(levels)
    corrector.SetNumberOfThreads(1)
    output = corrector.Execute(*inputs)
    if shrink == 1:
        corrected = sitk.GetArrayFromImage(output)
    else:
        # The fitted B-spline field evaluated on the full image's grid (same physical
        # extent: the shrink keeps it), and the full image divided by it.
        log_field = sitk.GetArrayFromImage(corrector.GetLogBiasFieldAsImage(scaled))
        corrected = sitk.GetArrayFromImage(scaled) / np.exp(log_field)
    return _znorm(corrected)


def _n4_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """A given array mask as booleans (checked), or None for True / False."""
    if isinstance(mask, (bool, np.bool_)):
        return None
    array = np.asarray(mask)
    if array.shape != tuple(shape):
        raise ValueError(
            f"mask must be True, False or an array of the image's shape {tuple(shape)}; "
            f"got shape {array.shape}"
        )
    if not (array.dtype == bool or np.issubdtype(array.dtype, np.number)):
        raise TypeError(f"mask must be boolean or numeric; got dtype {array.dtype}")
    array = array != 0
    if not array.any():
        raise ValueError("mask must mark at least one pixel (all are 0)")
    return array


# --------------------------------------------------------------------------- upsampling

_KERNELS = ("cubic", "linear", "nearest")
_ALIGNMENTS = ("fourier", "half_pixel")


def _keys(t: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter ``a``."""
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _interpolation_matrix(
    n_in: int, n_out: int, kernel: str, alignment: str, a: float
) -> np.ndarray:
    """The (n_out, n_in) matrix of a 1-D resampling; border samples are repeated."""
    step = n_in / n_out
    out = np.arange(n_out, dtype=np.float64)
    if alignment == "fourier":
        # The k-space crop keeps fft2c's origin: low-res pixel n_in // 2 sits on pixel
        # n_out // 2 of the full image, and the pixel pitch grows by n_out / n_in.
        position = n_in // 2 + (out - n_out // 2) * step
    else:
        # Pixel areas aligned (OpenCV, scikit-image, PIL): centres at (j + 0.5) * step - 0.5.
        position = (out + 0.5) * step - 0.5
    matrix = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    if kernel == "nearest":
        taps = np.clip(np.floor(position + 0.5).astype(int), 0, n_in - 1)
        matrix[rows, taps] = 1.0
        return matrix
    base = np.floor(position).astype(int)
    offsets = (0, 1) if kernel == "linear" else (-1, 0, 1, 2)
    for offset in offsets:
        tap = base + offset
        distance = position - tap
        weight = (
            np.maximum(0.0, 1.0 - np.abs(distance)) if kernel == "linear" else _keys(distance, a)
        )
        np.add.at(matrix, (rows, np.clip(tap, 0, n_in - 1)), weight)
    return matrix


def upsample(
    low_res: np.ndarray,
    shape: int | tuple[int, int],
    *,
    kernel: str = "cubic",
    alignment: str = "fourier",
    a: float = -0.5,
) -> np.ndarray:
    """Resample an image to ``shape`` with a separable interpolation kernel.

    Parameters
    ----------
    low_res : ndarray of shape (h, w)
    shape : int or (H, W)
    kernel : {"cubic", "linear", "nearest"}
        "cubic": Keys' cubic convolution with parameter ``a`` (-0.5: Keys 1981, MATLAB's
        ``imresize`` and PIL; OpenCV uses -0.75); "linear": bilinear.
    alignment : {"fourier", "half_pixel"}
        Where low-resolution pixels sit on the output grid. "fourier": where the k-space
        crop put them (pixel ``h // 2`` on pixel ``H // 2``, the zero-frequency index of
        `mtmri_lib.fourier.fft2c`); "half_pixel": pixel areas aligned, as image libraries do.
        For an even ``h`` the two differ by about half a low-resolution pixel.
    a : float
        Parameter of the cubic kernel.

    Returns
    -------
    ndarray of shape ``shape``, float64 (not normalised)
    """
    if min(np.shape(low_res)) < 2:
        raise ValueError("low_res must be a 2-D image of at least 2 x 2 pixels")
    low_res = _real_image(low_res, "low_res")
    check_choice("kernel", kernel, _KERNELS)
    check_choice("alignment", alignment, _ALIGNMENTS)
    a = check_number("a", a, -1.0, 0.0)
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape), int(shape))
    height, width = (check_int("shape", s, 1) for s in tuple(shape))
    rows = _interpolation_matrix(low_res.shape[0], height, kernel, alignment, a)
    cols = _interpolation_matrix(low_res.shape[1], width, kernel, alignment, a)
    return rows @ low_res @ cols.T


def bicubic(
    low_res: np.ndarray,
    *,
    shape: int | tuple[int, int],
    fidelity: str = "paper",
    kernel: str | None = None,
    alignment: str | None = None,
    a: float = -0.5,
) -> np.ndarray:
    """Bicubic upsampling of the centred-mask low-resolution image (Table 4's baseline).

    Parameters
    ----------
    low_res : ndarray of shape (h, w)
        The image of the cropped k-space (`mtmri_lib.artefacts.corrupt(...).low_res`).
    shape : int or (H, W)
        The full image size.
    fidelity : {"paper", "code"}
        "paper": Keys bicubic (a = -0.5), low-resolution pixels placed where the k-space
        crop put them. "code": what the released script computed: OpenCV's default bilinear
        interpolation (``cv2.resize(small, size, cv2.INTER_CUBIC)`` passes the flag as the
        ``dst`` argument) with OpenCV's pixel-area alignment.
    kernel, alignment : str, optional
        Override the fidelity's choice (see `upsample`).
    a : float
        Parameter of the cubic kernel.

    Returns
    -------
    ndarray of shape ``shape``, float64, z-normalised
    """
    fidelity = _check_fidelity(fidelity)
    if kernel is None:
        kernel = "cubic" if fidelity == "paper" else "linear"
    if alignment is None:
        alignment = "fourier" if fidelity == "paper" else "half_pixel"
    return _znorm(upsample(low_res, shape, kernel=kernel, alignment=alignment, a=a))


# --------------------------------------------------------------------------- denoisers


def tv(image: np.ndarray, *, fidelity: str = "paper", weight: float = 0.05) -> np.ndarray:
    """Total-variation denoising (scikit-image's Chambolle algorithm), Table 5's baseline.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        Z-normalised first (the weight is relative to that scale, as in the released code).
    fidelity : {"paper", "code"}
        Both the same (the article's weight, the code's scale).
    weight : float
        Denoising weight, 0.05 (the article's search over 0.01-0.15). 0 leaves the image
        unchanged.

    Returns
    -------
    ndarray of shape (H, W), float64, z-normalised
    """
    from skimage.restoration import denoise_tv_chambolle

    _check_fidelity(fidelity)
    weight = check_number("weight", weight, 0.0)
    image = _znorm(_real_image(image))
    if weight == 0:
        return image
    return _znorm(denoise_tv_chambolle(image, weight=weight))


def cad(
    image: np.ndarray,
    *,
    fidelity: str = "paper",
    time_step: float = 0.0625,
    iterations: int = 5,
    conductance: float = 3.0,
) -> np.ndarray:
    """Curvature anisotropic diffusion (SimpleITK), Table 6's "C.A.D." baseline.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        Mapped to [0, 1] first (the article and the released code).
    fidelity : {"paper", "code"}
        Both the same.
    time_step : float
        0.0625 (stable for 2-D images up to 0.125).
    iterations : int
        5. 0 leaves the image unchanged.
    conductance : float
        SimpleITK's default 3 (the article does not set it).

    Returns
    -------
    ndarray of shape (H, W), float64, z-normalised
    """
    import SimpleITK as sitk

    _check_fidelity(fidelity)
    time_step = check_number("time_step", time_step, 0.0, 0.125, low_open=True)
    iterations = check_int("iterations", iterations, 0)
    conductance = check_number("conductance", conductance, 0.0, low_open=True)
    scaled = _rescale(_real_image(image), 1.0)
    if iterations == 0:
        return _znorm(scaled)
    diffusion = sitk.CurvatureAnisotropicDiffusionImageFilter()
    diffusion.SetTimeStep(time_step)
    diffusion.SetNumberOfIterations(iterations)
    diffusion.SetConductanceParameter(conductance)
    diffusion.SetNumberOfThreads(1)
    result = diffusion.Execute(sitk.GetImageFromArray(scaled.astype(np.float32)))
    return _znorm(sitk.GetArrayFromImage(result))


#: The released code's BM3D noise level (on the z-normalised image).
CODE_BM3D_SIGMA = 50 / 255


def bm3d_denoise(
    image: np.ndarray, *, fidelity: str = "paper", sigma: float | None = None
) -> np.ndarray:
    """BM3D denoising with the hard-thresholding stage only (the ``bm3d`` package).

    Parameters
    ----------
    image : ndarray of shape (H, W)
        Z-normalised first (the released code's scale; the article does not name one).
    fidelity : {"paper", "code"}
        "paper": sigma 0.2 (the article); "code": 50/255 = 0.196 (the released script).
    sigma : float, optional
        Noise standard deviation assumed by BM3D, on the z-normalised scale; overrides the
        fidelity's value. 0 leaves the image unchanged.

    Returns
    -------
    ndarray of shape (H, W), float64, z-normalised

    Notes
    -----
    The bm3d package (Tampere University) is licensed for non-commercial use only, and its
    authors ask that results cite them (Dabov et al. 2007; Makinen et al. 2020). It is an
    optional extra of this package.
    """
    import bm3d as bm3d_package

    fidelity = _check_fidelity(fidelity)
    if sigma is None:
        sigma = 0.2 if fidelity == "paper" else CODE_BM3D_SIGMA
    sigma = check_number("sigma", sigma, 0.0)
    image = _znorm(_real_image(image))
    if sigma == 0:
        return image
    denoised = bm3d_package.bm3d(
        image, sigma_psd=sigma, stage_arg=bm3d_package.BM3DStages.HARD_THRESHOLDING
    )
    return _znorm(np.asarray(denoised, dtype=np.float64))


# --------------------------------------------------------------------------- registry


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - a broken optional package counts as missing
        return False
    return True


def _runs_here(info: BaselineInfo) -> bool:
    """Whether a method's package (if it needs one) imports."""
    return info.package is None or _importable(info.package)


_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "n4": n4,
    "bicubic": bicubic,
    "tv": tv,
    "cad": cad,
    "bm3d": bm3d_denoise,
}


def missing_packages() -> dict[str, str]:
    """Comparison methods left out of `BASELINES` because their package does not import."""
    return {
        key: info.package
        for key, info in BASELINE_INFO.items()
        if info.package is not None and key not in BASELINES
    }


#: key -> function(image, *, fidelity="paper", **settings) -> corrected image (z-normalised).
#: Methods whose package does not import are absent.
BASELINES: dict[str, Callable[..., np.ndarray]] = {
    key: function for key, function in _FUNCTIONS.items() if _runs_here(BASELINE_INFO[key])
}
