"""The volume type every reader returns, and the error a reader raises."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Volume", "VolumeReadError", "reslice"]


class VolumeReadError(ValueError):
    """A file or folder that exists but cannot be read as a volume.

    The message starts with the path, then says what is wrong (truncated, malformed, not the
    expected format, several DICOM series in one folder...).
    """

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


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
        Maps (slice, row, column) indices of ``data`` to scanner coordinates (RAS, mm), where
        the format has geometry.
    source : str
        Where the volume was read from.
    metadata : dict
        Format-specific details (sizes, spacing, acquisition), JSON-serialisable.
    """

    data: np.ndarray
    patient_id: str
    affine: np.ndarray | None = None
    source: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data.ndim != 3:
            raise ValueError(f"Volume.data must be 3-D (slices, H, W); got shape {self.data.shape}")
        if self.affine is not None:
            self.affine = np.asarray(self.affine, dtype=np.float64)
            if self.affine.shape != (4, 4):
                raise ValueError(f"Volume.affine must be 4x4; got shape {self.affine.shape}")

    @property
    def n_slices(self) -> int:
        """The number of slices."""
        return int(self.data.shape[0])


def reslice(
    data: np.ndarray,
    affine: np.ndarray | None,
    slice_axis: int,
    *,
    row_axis: int | None = None,
    flip_rows: bool = False,
    flip_cols: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Put ``slice_axis`` of a 3-D array first and adjust the affine to the new indices.

    The two other axes keep their order (rows = the lower-numbered one) unless ``row_axis``
    names the one that becomes the rows. With ``flip_rows`` /
    ``flip_cols`` the rows / columns are reversed (for display orientation). The returned
    affine maps the new (slice, row, column) indices to the same world points the input
    affine gave for the original voxel.
    """
    if data.ndim != 3:
        raise ValueError(f"data must be 3-D; got shape {data.shape}")
    slice_axis = int(slice_axis) % 3
    others = [a for a in range(3) if a != slice_axis]
    if row_axis is None:
        row_axis, col_axis = others
    else:
        row_axis = int(row_axis) % 3
        if row_axis not in others:
            raise ValueError(
                f"row_axis must differ from slice_axis; got {row_axis} and {slice_axis}"
            )
        col_axis = others[1] if row_axis == others[0] else others[0]
    out = np.transpose(data, (slice_axis, row_axis, col_axis))
    # index_to_voxel maps (slice, row, col, 1) to the original voxel (i, j, k, 1).
    index_to_voxel = np.zeros((4, 4))
    index_to_voxel[slice_axis, 0] = 1.0
    index_to_voxel[row_axis, 1] = 1.0
    index_to_voxel[col_axis, 2] = 1.0
    index_to_voxel[3, 3] = 1.0
    if flip_rows:
        out = out[:, ::-1, :]
        index_to_voxel[row_axis, 1] = -1.0
        index_to_voxel[row_axis, 3] = data.shape[row_axis] - 1
    if flip_cols:
        out = out[:, :, ::-1]
        index_to_voxel[col_axis, 2] = -1.0
        index_to_voxel[col_axis, 3] = data.shape[col_axis] - 1
    new_affine = None if affine is None else np.asarray(affine, dtype=np.float64) @ index_to_voxel
    return np.ascontiguousarray(out), new_affine
