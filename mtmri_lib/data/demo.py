"""Packaged demo data: real MR images that install with a dependency and load offline.

The MNI ICBM152 2009 T1 template that nilearn ships (an average of 152 brains: smooth,
noiseless, one "subject"; role "template") is shown in the artefact, loss and model
chapters, and its tissue maps are what `mtmri_lib.data.synthetic_subjects` builds the
training, validation and test subjects from. The real single-subject images that install
with the data extra (dipy's example volumes and T1 slice, pydicom's MR test image; role
"real") are acquired, noisy, of other contrasts and resolutions: the book's real-data check,
corrected by the trained models in Figure 2 and shown with their residual maps, never scored
against a "clean" reference they do not have (what Gold Atlas is in the article).

Files are located inside the installed packages (no package API that might download is
called) and read with this package's own readers, so the demo data also exercises them.

Licences: nilearn and dipy are BSD-3-Clause, pydicom is MIT; the MNI template carries the
notice `MNI152_NOTICE`, reproduced wherever the template is shown.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np

from .prepare import prepare_slice
from .readers import read_dicom_files
from .volume import Volume, reslice

__all__ = [
    "DemoSource",
    "DEMO_SOURCES",
    "MNI152_NOTICE",
    "demo_volumes",
    "demo_slice",
]

#: The copyright notice of the MNI ICBM152 2009 template; its terms ask that it appear in
#: all copies.
MNI152_NOTICE = (
    "Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, Montreal "
    "Neurological Institute, McGill University. Permission to use, copy, modify, and "
    "distribute this software and its documentation for any purpose and without fee is "
    "hereby granted, provided that the above copyright notice appear in all copies. The "
    "authors and McGill University make no representations about the suitability of this "
    'software for any purpose. It is provided "as is" without express or implied warranty. '
    "The authors are not responsible for any data loss, equipment damage, property loss, or "
    "injury to subjects or patients resulting from the use or misuse of this software package."
)


@dataclass(frozen=True)
class DemoSource:
    """One packaged image and what it is used for.

    Attributes
    ----------
    name : str
        Short label (also the volume's ``patient_id`` stem).
    role : {"template", "real"}
        ``template``: the MNI152 template (the source of the synthetic subjects and the
        chapters' example slice); ``real``: a real single-subject image (the qualitative,
        real-data check).
    package, path : str
        The installed package and the file inside it.
    description : str
    licence : str
    """

    name: str
    role: str
    package: str
    path: str
    description: str
    licence: str


DEMO_SOURCES: tuple[DemoSource, ...] = (
    DemoSource(
        name="mni152_2009",
        role="template",
        package="nilearn",
        path="datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
        description=(
            "MNI ICBM152 2009a nonlinear T1 template, skull-stripped, 1 mm, 197 x 233 x 189: "
            "an average of 152 adult brains (smooth, noiseless), sliced axially, coronally "
            "and sagittally"
        ),
        licence="MNI template notice (see MNI152_NOTICE); nilearn BSD-3-Clause",
    ),
    DemoSource(
        name="dipy_S0_10slices",
        role="real",
        package="dipy",
        path="data/files/S0_10slices.nii.gz",
        description=(
            "b = 0 diffusion-weighted brain volume of one subject, 10 axial slices, 128 x 128"
        ),
        licence="dipy BSD-3-Clause",
    ),
    DemoSource(
        name="dipy_aniso_vox",
        role="real",
        package="dipy",
        path="data/files/aniso_vox.nii.gz",
        description="brain volume of one subject, 24 axial slices, 58 x 58, 4 x 4 x 5 mm voxels",
        licence="dipy BSD-3-Clause",
    ),
    DemoSource(
        name="dipy_test_piesno",
        role="real",
        package="dipy",
        path="data/files/test_piesno.nii.gz",
        description="noisy diffusion brain volume of one subject, 14 axial slices, 96 x 96",
        licence="dipy BSD-3-Clause",
    ),
    DemoSource(
        name="dipy_t1_coronal_slice",
        role="real",
        package="dipy",
        path="data/files/t1_coronal_slice.npy",
        description="T1-weighted coronal brain slice of one subject, 256 x 256",
        licence="dipy BSD-3-Clause",
    ),
    DemoSource(
        name="pydicom_MR_small",
        role="real",
        package="pydicom",
        path="data/test_files/MR_small.dcm",
        description="MR slice, 64 x 64, downsized from the NEMA WG04 'MR1' image, in DICOM",
        licence="pydicom MIT",
    ),
)


class _Plane(TypedDict):
    """The keywords of `reslice` that give one orientation."""

    slice_axis: int
    row_axis: int
    flip_rows: bool
    flip_cols: bool


#: Orientations of the template, with the array axes of its canonical (RAS) data:
#: slice axis, row axis, and flips that put anterior / superior at the top.
_PLANES: dict[str, _Plane] = {
    "axial": _Plane(slice_axis=2, row_axis=1, flip_rows=True, flip_cols=False),
    "coronal": _Plane(slice_axis=1, row_axis=2, flip_rows=True, flip_cols=False),
    "sagittal": _Plane(slice_axis=0, row_axis=2, flip_rows=True, flip_cols=True),
}


def _package_file(source: DemoSource) -> Path:
    """The file inside the installed package (found without importing the package)."""
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"demo data {source.name!r} needs the package {source.package}: "
            "pip install 'mtmri[data]'"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *source.path.split("/"))
    if not path.is_file():
        raise FileNotFoundError(
            f"demo data {source.name!r}: {path} is not in the installed {source.package}"
        )
    return path


def _canonical_nifti(path: Path):
    import nibabel

    image = nibabel.as_closest_canonical(nibabel.load(path))
    data = np.asarray(image.get_fdata(dtype=np.float32))
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    return data, image.affine


def _load(source: DemoSource) -> list[Volume]:
    path = _package_file(source)
    meta = {"demo": source.name, "role": source.role, "licence": source.licence}
    if source.name == "mni152_2009":
        data, affine = _canonical_nifti(path)
        volumes = []
        for plane, how in _PLANES.items():
            sliced, plane_affine = reslice(data, affine, **how)
            volumes.append(
                Volume(
                    data=sliced,
                    patient_id=source.name,
                    affine=plane_affine,
                    source=f"{source.package}: {source.path} ({plane})",
                    metadata={**meta, "plane": plane},
                )
            )
        return volumes
    if path.name.endswith(".nii.gz"):
        data, affine = _canonical_nifti(path)
        sliced, sliced_affine = reslice(data, affine, **_PLANES["axial"])
        return [
            Volume(
                data=sliced,
                patient_id=source.name,
                affine=sliced_affine,
                source=f"{source.package}: {source.path}",
                metadata={**meta, "plane": "axial"},
            )
        ]
    if path.suffix == ".npy":
        image = np.load(path, allow_pickle=False).astype(np.float32)
        return [
            Volume(
                data=image[None],
                patient_id=source.name,
                affine=None,
                source=f"{source.package}: {source.path}",
                metadata={**meta, "plane": "coronal"},
            )
        ]

    volume = read_dicom_files([path], name=path)
    volume.patient_id = source.name
    volume.source = f"{source.package}: {source.path}"
    volume.metadata.update(meta, plane="axial")
    return [volume]


@functools.cache
def _cached(name: str) -> tuple[Volume, ...]:
    (source,) = (s for s in DEMO_SOURCES if s.name == name)
    return tuple(_load(source))


def _copy(volume: Volume) -> Volume:
    return Volume(
        data=volume.data.copy(),
        patient_id=volume.patient_id,
        affine=None if volume.affine is None else volume.affine.copy(),
        source=volume.source,
        metadata=dict(volume.metadata),
    )


def demo_volumes(role: str | None = None) -> list[Volume]:
    """The packaged demo volumes (offline).

    The MNI152 template comes first, as three volumes (axial, coronal, sagittal slices; same
    ``patient_id``), then the real single-subject images. Each volume's ``metadata`` holds
    its ``role`` ("template" or "real"), ``plane`` and ``licence``. A real image missing
    from the installed packages is left out with a warning; a missing template raises.

    Parameters
    ----------
    role : {"template", "real"}, optional
        Only the volumes of that role.
    """
    if role not in (None, "template", "real"):
        raise ValueError(f"role must be None, 'template' or 'real'; got {role!r}")
    volumes: list[Volume] = []
    for source in DEMO_SOURCES:
        if role is not None and source.role != role:
            continue
        try:
            loaded = _cached(source.name)
        except (FileNotFoundError, ImportError) as error:
            if source.role == "template":
                raise
            warnings.warn(f"demo real image left out: {error}", stacklevel=2)
            continue
        volumes.extend(_copy(v) for v in loaded)
    return volumes


def demo_slice(size: int, *, index: int | None = None) -> np.ndarray:
    """One axial slice of the MNI152 template, prepared as the pipeline does (size x size, [0, 1]).

    ``index`` defaults to a slice through the lateral ventricles.
    """
    volume = _cached("mni152_2009")[0]
    if index is None:
        index = int(round(0.48 * volume.data.shape[0]))
    return prepare_slice(volume.data[index], size)
