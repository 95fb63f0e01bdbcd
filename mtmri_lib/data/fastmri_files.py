"""Volumes written as fastMRI brain HDF5 files, the layout `read_volume` reads.

A researcher's fastMRI folder holds one ``.h5`` file per scan, with ``kspace`` (complex64,
(slices, coils, 2 H, W): multi-coil k-space with the 2x readout oversampling), the
``reconstruction_rss`` (float32, (slices, H, W)), the ``ismrmrd_header`` XML (encoded and
reconstruction spaces) and the attributes ``acquisition``, ``max``, ``norm`` and
``patient_id``. `write_fastmri_file` writes a `Volume` in that layout, and
`write_fastmri_folder` a folder of them; `write_synthetic_fastmri` lays out ``brain/`` and
``pelvic/`` folders of synthetic subjects (`synthetic_subjects`) as the README asks for real
data, so a run on them goes through the readers, the k-space path and the folder layout a
researcher uses (the paper profile's dry run, ``mtmri book --profile paper --dry-run``).

The coil images are the volume times smooth complex coil sensitivities whose squared
magnitudes sum to one at every pixel, so the root-sum-of-squares of the coil images is the
volume itself: reading a written file back (with or without ``from_kspace``) gives the
volume, within float32 precision. Every file appears under its final name only when complete
(`mtmri_lib.store.atomic_path`); the same seed gives the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._checks import check_int
from ..fourier import fft2c
from ..store import atomic_path
from .prepare import informative_slices
from .synthetic import synthetic_subjects
from .volume import Volume

__all__ = [
    "FASTMRI_NAMESPACE",
    "coil_sensitivities",
    "write_fastmri_file",
    "write_fastmri_folder",
    "write_synthetic_fastmri",
]

#: The XML namespace of the ISMRMRD header of fastMRI files.
FASTMRI_NAMESPACE = "http://www.ismrm.org/ISMRMRD"

#: Readout oversampling of the fastMRI brain k-space (the stored rows are twice the image's).
READOUT_OVERSAMPLING = 2


def coil_sensitivities(
    shape: tuple[int, int], coils: int, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Smooth complex coil sensitivities of shape (coils, H, W), normalised so that the sum
    over coils of their squared magnitudes is 1 at every pixel.

    Each coil is a broad Gaussian bump centred on a circle around the image (the coils of a
    head array) with a slowly varying phase; ``rng`` draws the phase offsets and the
    positions' jitter. ``coils`` >= 1; one coil is a uniform sensitivity of 1.
    """
    coils = check_int("coils", coils, low=1)
    rng = np.random.default_rng(rng)
    height, width = shape
    if coils == 1:
        return np.ones((1, height, width), dtype=np.complex64)
    rows = (np.arange(height) - height / 2) / (height / 2)
    columns = (np.arange(width) - width / 2) / (width / 2)
    row_grid, column_grid = np.meshgrid(rows, columns, indexing="ij")
    angles = 2 * np.pi * (np.arange(coils) + rng.uniform(-0.2, 0.2, coils)) / coils
    phases = rng.uniform(-np.pi, np.pi, coils)
    maps = []
    for angle, phase in zip(angles, phases, strict=True):
        centre_row, centre_column = 1.2 * np.sin(angle), 1.2 * np.cos(angle)
        distance2 = (row_grid - centre_row) ** 2 + (column_grid - centre_column) ** 2
        magnitude = np.exp(-distance2 / 1.5)
        ramp = phase + 0.5 * (row_grid * np.cos(angle) + column_grid * np.sin(angle))
        maps.append(magnitude * np.exp(1j * ramp))
    stack = np.stack(maps)
    stack /= np.sqrt(np.sum(np.abs(stack) ** 2, axis=0, keepdims=True))
    return stack.astype(np.complex64)


def _ismrmrd_header(
    size: tuple[int, int], spacing: tuple[float, float, float], patient_id: str
) -> bytes:
    """The part of an ISMRMRD header that fastMRI files carry and `read_volume` reads: the
    encoded space (readout oversampled) and the reconstruction space, in mm."""
    height, width = size
    slice_mm, row_mm, column_mm = spacing
    recon_x, recon_y = height * row_mm, width * column_mm

    def space(tag: str, nx: int, ny: int, fx: float, fy: float) -> str:
        return (
            f"<{tag}><matrixSize><x>{nx}</x><y>{ny}</y><z>1</z></matrixSize>"
            f"<fieldOfView_mm><x>{fx:.6g}</x><y>{fy:.6g}</y><z>{slice_mm:.6g}</z>"
            f"</fieldOfView_mm></{tag}>"
        )

    encoded = space(
        "encodedSpace",
        READOUT_OVERSAMPLING * height,
        width,
        READOUT_OVERSAMPLING * recon_x,
        recon_y,
    )
    recon = space("reconSpace", height, width, recon_x, recon_y)
    text = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<ismrmrdHeader xmlns="{FASTMRI_NAMESPACE}">'
        f"<subjectInformation><patientID>{patient_id}</patientID></subjectInformation>"
        "<acquisitionSystemInformation><systemVendor>mtmri synthetic</systemVendor>"
        "</acquisitionSystemInformation>"
        f"<encoding>{encoded}{recon}<trajectory>cartesian</trajectory></encoding>"
        "</ismrmrdHeader>"
    )
    return text.encode("utf-8")


def _volume_spacing(volume: Volume) -> tuple[float, float, float]:
    """(slice, row, column) spacing in mm from the volume's affine (1 mm without one)."""
    if volume.affine is None:
        return (1.0, 1.0, 1.0)
    axes = np.linalg.norm(np.asarray(volume.affine, dtype=np.float64)[:3, :3], axis=0)
    return (float(axes[0]), float(axes[1]), float(axes[2]))


def write_fastmri_file(
    path: str | os.PathLike,
    volume: Volume,
    *,
    coils: int = 4,
    acquisition: str = "AXT2",
    rng: np.random.Generator | int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``volume`` as a multi-coil fastMRI brain HDF5 file.

    Parameters
    ----------
    path : path-like
        The ``.h5`` file to write; it appears only when complete.
    volume : Volume
        ``data`` (slices, H, W), real and >= 0 (a magnitude image), finite; its ``patient_id``
        is stored, and its affine's column lengths give the spacing in the header.
    coils : int
        Receive coils (>= 1), see `coil_sensitivities`.
    acquisition : str
        The ``acquisition`` attribute (fastMRI: ``AXT2``, ``AXFLAIR``, ``AXT1``, ...).
    rng : Generator, int or None
        Draws the coil sensitivities; the same seed writes the same bytes.
    overwrite : bool
        Replace an existing file; otherwise an existing ``path`` raises FileExistsError.

    Returns
    -------
    Path
        ``path``. The file holds ``kspace`` complex64 (slices, coils, 2 H, W), the centred
        orthonormal FFT (`mtmri_lib.fourier.fft2c`) of each coil image zero-padded to twice
        its rows (the readout oversampling); ``reconstruction_rss`` float32 (slices, H, W),
        the volume; ``ismrmrd_header``; attributes ``acquisition``, ``max``, ``norm``,
        ``patient_id``.
    """
    import h5py

    path = Path(path)
    if not path.name.lower().endswith((".h5", ".hdf5")):
        raise ValueError(f"a fastMRI file name ends in .h5; got {path.name!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; give overwrite=True to replace it")
    data = np.asarray(volume.data)
    if data.ndim != 3 or 0 in data.shape:
        raise ValueError(f"volume data must be (slices, H, W) with voxels; got {data.shape}")
    if np.iscomplexobj(data) or not np.isfinite(data).all() or (data < 0).any():
        raise ValueError("volume data must be real, finite and >= 0 (a magnitude image)")
    slices, height, width = data.shape
    sensitivities = coil_sensitivities((height, width), coils, rng)
    pad = (READOUT_OVERSAMPLING - 1) * height
    rss = data.astype(np.float32)
    with atomic_path(path) as temporary, h5py.File(temporary, "w", track_order=False) as handle:
        kspace = handle.create_dataset(
            "kspace",
            shape=(slices, sensitivities.shape[0], READOUT_OVERSAMPLING * height, width),
            dtype=np.complex64,
            chunks=(1, sensitivities.shape[0], READOUT_OVERSAMPLING * height, width),
            track_times=False,
        )
        for index in range(slices):
            coil_images = sensitivities * rss[index]
            oversampled = np.pad(coil_images, ((0, 0), (pad // 2, pad - pad // 2), (0, 0)))
            kspace[index] = fft2c(oversampled).astype(np.complex64)
        handle.create_dataset("reconstruction_rss", data=rss, track_times=False)
        header = _ismrmrd_header((height, width), _volume_spacing(volume), volume.patient_id)
        handle.create_dataset("ismrmrd_header", data=np.bytes_(header), track_times=False)
        handle.attrs["acquisition"] = acquisition
        handle.attrs["max"] = float(rss.max())
        handle.attrs["norm"] = float(np.linalg.norm(rss))
        handle.attrs["patient_id"] = volume.patient_id
    return path


def write_fastmri_folder(
    folder: str | os.PathLike,
    volumes: Sequence[Volume],
    *,
    prefix: str = "file_brain_",
    coils: int = 4,
    rng: np.random.Generator | int | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write each volume as ``<folder>/<prefix><patient_id>.h5`` (`write_fastmri_file`).

    The coil sensitivities of volume ``k`` are drawn from ``SeedSequence([seed, k])`` where
    ``seed`` is drawn once from ``rng``, so the files do not depend on the order they are
    written in. Patient ids must be distinct (one file per patient). Returns the paths.
    """
    volumes = list(volumes)
    if not volumes:
        raise ValueError("no volumes to write")
    ids = [volume.patient_id for volume in volumes]
    if len(set(ids)) != len(ids):
        raise ValueError(f"patient ids must be distinct (one file each); got {ids}")
    seed = int(np.random.default_rng(rng).integers(2**32))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_fastmri_file(
            folder / f"{prefix}{volume.patient_id}.h5",
            volume,
            coils=coils,
            acquisition=_acquisition(volume),
            rng=np.random.default_rng(np.random.SeedSequence([seed, index])),
            overwrite=overwrite,
        )
        for index, volume in enumerate(volumes)
    ]


def _acquisition(volume: Volume) -> str:
    contrast = str(volume.metadata.get("contrast", "T2"))
    return {"FLAIR": "AXFLAIR", "T1": "AXT1", "PD": "AXPD"}.get(contrast, "AXT2")


def _thinned(volume: Volume, slices: int | None) -> Volume:
    """The volume with ``slices`` evenly spaced informative slices (None: all of them)."""
    keep = np.flatnonzero(informative_slices(volume.data))
    if slices is not None and len(keep) > slices:
        keep = keep[np.round(np.linspace(0, len(keep) - 1, slices)).astype(int)]
    affine = None
    if volume.affine is not None:
        affine = np.array(volume.affine, dtype=np.float64)
        step = int(np.min(np.diff(keep))) if len(keep) > 1 else 1
        affine[:3, 3] = affine[:3, 3] + affine[:3, 0] * keep[0]
        affine[:3, 0] = affine[:3, 0] * step
    return Volume(
        data=volume.data[keep],
        patient_id=volume.patient_id,
        affine=affine,
        source=volume.source,
        metadata=dict(volume.metadata),
    )


def write_synthetic_fastmri(
    folder: str | os.PathLike,
    *,
    brain_subjects: int = 10,
    pelvic_subjects: int = 5,
    size: int = 320,
    slices_per_subject: int | None = 4,
    coils: int = 4,
    seed: int = 0,
    overwrite: bool = False,
) -> dict[str, list[Path]]:
    """Lay out synthetic subjects as a researcher's data folder: ``folder/brain`` and
    ``folder/pelvic``, one fastMRI file per subject (`write_fastmri_folder`).

    Parameters
    ----------
    brain_subjects, pelvic_subjects : int
        Subjects per folder (brain >= 5 so that every split of 70/10/20 gets one; pelvic >= 2
        for 80/20; 0 leaves the pelvic folder out). The pelvic folder holds other synthetic
        brain subjects: no pelvic data is packaged.
    size : int
        In-plane side of the reconstruction (16-320; 320 is fastMRI's); k-space has twice
        its rows.
    slices_per_subject : int or None
        Evenly spaced informative axial slices kept per subject (fastMRI volumes hold about
        16); None keeps all.
    coils, seed, overwrite
        See `write_fastmri_folder`; subjects are drawn from ``seed`` (brain) and ``seed + 1``
        (pelvic), the coils from ``seed``.

    Returns
    -------
    dict
        ``{"brain": [paths], "pelvic": [paths]}``.
    """
    brain_subjects = check_int("brain_subjects", brain_subjects, low=5)
    pelvic_subjects = check_int("pelvic_subjects", pelvic_subjects, low=0)
    if pelvic_subjects == 1:
        raise ValueError("pelvic_subjects must be 0 or >= 2 (an 80/20 split needs two)")
    if slices_per_subject is not None:
        slices_per_subject = check_int("slices_per_subject", slices_per_subject, low=1)
    folder = Path(folder)
    written: dict[str, list[Path]] = {}
    for offset, (dataset, count) in enumerate(
        (("brain", brain_subjects), ("pelvic", pelvic_subjects))
    ):
        if count == 0:
            continue
        subjects = synthetic_subjects(count, shape=size, rng=seed + offset)
        volumes = [_thinned(subject, slices_per_subject) for subject in subjects]
        for volume in volumes:
            volume.patient_id = f"{dataset}-{volume.patient_id}"
        written[dataset] = write_fastmri_folder(
            folder / dataset,
            volumes,
            prefix=f"file_{dataset}_",
            coils=coils,
            rng=seed + offset,
            overwrite=overwrite,
        )
    return written
