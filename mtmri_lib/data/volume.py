"""The volume type every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Volume"]


@dataclass
class Volume:
    """A stack of 2-D slices with where it came from.

    Attributes
    ----------
    data : ndarray of shape (slices, H, W)
        Raw intensities (float), not normalised.
    patient_id : str
        The file's or series' patient, else the file stem.
    affine : ndarray of shape (4, 4) or None
        Maps (slice, row, column) indices of ``data`` to scanner coordinates (mm), where the
        format has geometry.
    source : str
        Where the volume was read from.
    """

    data: np.ndarray
    patient_id: str
    affine: np.ndarray | None = None
    source: str = ""
    metadata: dict = field(default_factory=dict)
