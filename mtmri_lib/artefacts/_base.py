"""What the four artefact modules share: the result type, output conversion, z-normalisation.

Each artefact module (``bias``, ``subsampling``, ``motion``, ``noise``) provides

``PINNABLE``
    the keyword names a caller may pin (the article's terms, as DESIGN.md lists them);
``Params``
    a frozen dataclass of every value the apply step uses, validated on construction;
``sample(shape, rng, *, fidelity, fixed) -> Params``
    draws the values that ``fixed`` leaves open, from the Generator ``rng``;
``apply(image, params) -> Applied``
    deterministic: the corrupted image (complex where k-space was touched) and extras
    (the subsampling mask, the low-resolution image of a centred mask, the PE lines motion
    corrupted).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_choice

__all__ = [
    "Applied",
    "Corruption",
    "OUTPUTS",
    "FIDELITIES",
    "ZNORM_RELATIVE_FLOOR",
    "convert",
    "znorm",
    "to_json",
]

OUTPUTS = ("real", "magnitude", "complex")
FIDELITIES = ("paper", "code")

#: `znorm` returns zeros when the standard deviation is at most this fraction of the
#: image's largest magnitude: far above float64 rounding (about 1e-16), far below any
#: structure an MR image holds (16-bit data resolves 1.5e-5 of its range).
ZNORM_RELATIVE_FLOOR = 1e-12
# Outside [2**-500, 2**500] the squares of the values could overflow or underflow float64
# (whose range is about 2**+-1022): `znorm` rescales such images first.
_SCALE_LOW = 2.0**-500
_SCALE_HIGH = 2.0**500


@dataclass
class Applied:
    """The raw result of an apply step, before output conversion and z-normalisation."""

    image: np.ndarray
    mask: np.ndarray | None = None
    low_res: np.ndarray | None = None
    lines: np.ndarray | None = None  # motion only: bool over the PE index, True = corrupted


@dataclass
class Corruption:
    """A corrupted image and everything needed to replay it.

    Attributes
    ----------
    image : ndarray of shape (H, W)
        The corrupted image (float for ``output`` "real"/"magnitude", complex otherwise).
    kind : str
        ``"bias"``, ``"subsampling"``, ``"motion"`` or ``"noise"``.
    params : dict
        JSON-serialisable; ``corrupt(image, kind, **params)`` replays the corruption bit for bit.
    mask : ndarray of bool, shape (H, W), or None
        The k-space mask applied (subsampling only).
    low_res : ndarray or None
        Centred masks only: the image of the cropped k-space, scaled like ``image``.
    lines : ndarray of bool, shape (N,), or None
        Motion only: over the phase-encoding index (N = ``image.shape[params["pe_axis"]]``),
        True on the lines the motion corrupted (all False for the identity); the other
        lines of the k-space are the clean image's.
    """

    image: np.ndarray
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    mask: np.ndarray | None = None
    low_res: np.ndarray | None = None
    lines: np.ndarray | None = None


def convert(image: np.ndarray, output: str) -> np.ndarray:
    """Keep the real part, the magnitude, or the complex image itself."""
    check_choice("output", output, OUTPUTS)
    if output == "complex":
        return image.astype(np.complex128) if not np.iscomplexobj(image) else image
    if output == "magnitude":
        return np.abs(image)
    return np.real(image).copy() if np.iscomplexobj(image) else image


def znorm(image: np.ndarray) -> np.ndarray:
    """Per-image z-normalisation: subtract the mean, divide by the standard deviation.

    Complex images use the complex mean and the root mean squared modulus of the deviation.

    An image without structure comes out as zeros: when the standard deviation is at most
    `ZNORM_RELATIVE_FLOOR` (1e-12) times the image's largest magnitude, or exactly 0. A
    constant image leaves a rounding residue of about 1e-17 of its value after the mean is
    subtracted (and after a Fourier round trip), and dividing that residue by its own tiny
    standard deviation would blow it up to unit variance: noise made of nothing.

    Any finite image is normalised without overflow or underflow: one of very large or very
    small magnitude (beyond 2**+-500) is first scaled by a power of two, which is exact and
    does not change the result, so squaring cannot overflow (or vanish). Images of ordinary
    magnitude take the direct computation, bit for bit as before. Non-finite values give
    non-finite results (callers check).

    Parameters
    ----------
    image : ndarray
        Real or complex, any shape; the statistics are over all of it.

    Returns
    -------
    ndarray
        Same shape; float for real input, complex for complex input.
    """
    image = np.asarray(image)
    if image.size == 0:
        return image.astype(np.result_type(image.dtype, np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        peak = float(np.max(np.abs(image)))
    if peak == 0.0:
        return np.zeros_like(image - image.mean())
    if math.isfinite(peak) and not _SCALE_LOW <= peak <= _SCALE_HIGH:
        image = _scale_by_power_of_two(image, -math.frexp(peak)[1])
        peak = float(np.max(np.abs(image)))
    with np.errstate(over="ignore", invalid="ignore"):
        centred = image - image.mean()
        sd = float(np.sqrt(np.mean(np.abs(centred) ** 2)))
        if not math.isfinite(sd):
            return centred / sd  # non-finite input: NaN out, for the caller to refuse
    if sd <= ZNORM_RELATIVE_FLOOR * peak:
        return np.zeros_like(centred)
    return centred / sd


def _scale_by_power_of_two(image: np.ndarray, exponent: int) -> np.ndarray:
    """``image * 2**exponent``, exactly (``ldexp``; 2**exponent itself may not be a float)."""
    if not np.iscomplexobj(image):
        return np.ldexp(image, exponent)
    scaled = np.empty_like(image)
    scaled.real = np.ldexp(image.real, exponent)
    scaled.imag = np.ldexp(image.imag, exponent)
    return scaled


def to_json(value: Any) -> Any:
    """Turn dataclass values (tuples, numpy scalars and arrays) into plain JSON types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
