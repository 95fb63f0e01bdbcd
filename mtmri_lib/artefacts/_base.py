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
    (the subsampling mask, the low-resolution image of a centred mask).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_choice

__all__ = ["Applied", "Corruption", "OUTPUTS", "FIDELITIES", "convert", "znorm", "to_json"]

OUTPUTS = ("real", "magnitude", "complex")
FIDELITIES = ("paper", "code")


@dataclass
class Applied:
    """The raw result of an apply step, before output conversion and z-normalisation."""

    image: np.ndarray
    mask: np.ndarray | None = None
    low_res: np.ndarray | None = None


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
    """

    image: np.ndarray
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    mask: np.ndarray | None = None
    low_res: np.ndarray | None = None


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

    A constant image (standard deviation 0) is only centred. Complex images use the complex
    mean and the root mean squared modulus of the deviation.
    """
    centred = image - image.mean()
    sd = float(np.sqrt(np.mean(np.abs(centred) ** 2)))
    return centred / sd if sd > 0 else centred


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
