"""Packaged demo data: real MR images that install with a dependency and load offline.

The MNI152 2009 T1 template ships with nilearn (``load_mni152_template``, 1 mm, 197 x 233 x
189 voxels): an average of many brains, smooth and noiseless. Copyright (C) 1993-2009 Louis
Collins, McConnell Brain Imaging Centre, Montreal Neurological Institute, McGill University;
see the book's data chapter for the full notice.
"""

from __future__ import annotations

import numpy as np

from .prepare import prepare_slice
from .volume import Volume

__all__ = ["demo_volumes", "demo_slice"]


def _mni152() -> Volume:
    from nilearn.datasets import load_mni152_template

    image = load_mni152_template(resolution=1)
    # (x, y, z) voxels -> axial slices (z, y, x), rows running anterior to posterior.
    data = np.asarray(image.get_fdata(), dtype=np.float64).transpose(2, 1, 0)[:, ::-1, :]
    to_voxel = np.zeros((4, 4))
    to_voxel[0, 2] = 1.0  # slice index -> z
    to_voxel[1, 1] = -1.0  # row -> y, flipped
    to_voxel[1, 3] = image.shape[1] - 1
    to_voxel[2, 0] = 1.0  # column -> x
    to_voxel[3, 3] = 1.0
    return Volume(
        data=np.ascontiguousarray(data),
        patient_id="mni152_2009",
        affine=image.affine @ to_voxel,
        source="nilearn MNI152 2009 T1 template, 1 mm",
    )


def demo_volumes() -> list[Volume]:
    """The packaged demo volumes (offline)."""
    return [_mni152()]


def demo_slice(size: int, *, index: int | None = None) -> np.ndarray:
    """One axial slice of the MNI152 template, prepared as the pipeline does (size x size, [0, 1]).

    ``index`` defaults to a slice through the lateral ventricles.
    """
    volume = _mni152()
    if index is None:
        index = int(round(0.48 * volume.data.shape[0]))
    return prepare_slice(volume.data[index], size)
