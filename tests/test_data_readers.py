"""Readers: mock fastMRI HDF5, DICOM series and NIfTI files written by the tests themselves."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from mtmri_lib.data import (
    VolumeReadError,
    find_volume_paths,
    patient_id_of,
    read_volume,
    read_volumes,
)
from mtmri_lib.data.volume import reslice
from mtmri_lib.fourier import fft2c

h5py = pytest.importorskip("h5py")
nibabel = pytest.importorskip("nibabel")
pydicom = pytest.importorskip("pydicom")


# --------------------------------------------------------------------------- mock writers

HEADER = """<?xml version="1.0" encoding="utf-8"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
 <encoding>
  <encodedSpace><matrixSize><x>{ex}</x><y>{w}</y><z>1</z></matrixSize>
   <fieldOfView_mm><x>{efx}</x><y>{fy}</y><z>5</z></fieldOfView_mm></encodedSpace>
  <reconSpace><matrixSize><x>{h}</x><y>{h}</y><z>1</z></matrixSize>
   <fieldOfView_mm><x>{fx}</x><y>{fx}</y><z>5</z></fieldOfView_mm></reconSpace>
 </encoding>
</ismrmrdHeader>"""


def write_fastmri(
    path: Path,
    *,
    slices: int = 3,
    coils: int = 4,
    side: int = 16,
    width: int = 20,
    patient: str | None = "patient-A",
    with_rss: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """A multi-coil fastMRI-like file: k-space (slices, coils, 2*side, width) with 2x readout
    oversampling; returns the expected RSS image (slices, side, side)."""
    rng = np.random.default_rng(seed)
    height = 2 * side
    # Coil images over the oversampled field of view: object in the central half of rows.
    coil_images = np.zeros((slices, coils, height, width), dtype=np.complex128)
    core = rng.normal(size=(slices, coils, side, width)) + 1j * rng.normal(
        size=(slices, coils, side, width)
    )
    coil_images[:, :, side // 2 : side // 2 + side, :] = core
    kspace = fft2c(coil_images).astype(np.complex64)
    rss = np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=1))[:, side // 2 : side // 2 + side, :]
    col0 = width // 2 - side // 2
    expected = rss[:, :, col0 : col0 + side].astype(np.float32)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("kspace", data=kspace)
        if with_rss:
            handle.create_dataset("reconstruction_rss", data=expected)
        handle.create_dataset(
            "ismrmrd_header",
            data=HEADER.format(ex=height, w=width, efx=440, fy=220, h=side, fx=220).encode(),
        )
        if patient is not None:
            handle.attrs["patient_id"] = patient
        handle.attrs["acquisition"] = "AXT1"
        handle.attrs["max"] = float(expected.max())
    return expected


def write_dicom_series(
    folder: Path,
    *,
    n: int = 5,
    rows: int = 12,
    columns: int = 10,
    series_uid: str = "1.2.826.0.1.3680043.8.498.1",
    patient: str = "DICOM-PATIENT",
    spacing: tuple[float, float] = (0.8, 0.6),
    step: float = 2.5,
    start: int = 0,
    seed: int = 0,
    prefix: str = "IM",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An oblique DICOM series written in shuffled file order.

    Returns (pixel data in position order, the positions (LPS), the orientation)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    angle = np.deg2rad(20)
    along_row = np.array([np.cos(angle), np.sin(angle), 0.0])
    along_column = np.array([0.0, 0.0, -1.0])
    normal = np.cross(along_row, along_column)
    origin = np.array([-50.0, 20.0, 30.0])
    positions = np.array([origin + (start + k) * step * normal for k in range(n)])
    pixels = rng.integers(0, 4000, size=(n, rows, columns)).astype(np.uint16)
    for file_number, k in enumerate(rng.permutation(n)):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "MR"
        ds.PatientID = patient
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 3
        ds.SeriesDescription = "T2 test"
        ds.InstanceNumber = int(k) + 1
        ds.ImagePositionPatient = [float(v) for v in positions[k]]
        ds.ImageOrientationPatient = [float(v) for v in (*along_row, *along_column)]
        ds.PixelSpacing = [spacing[0], spacing[1]]
        ds.SliceThickness = step
        ds.Rows, ds.Columns = rows, columns
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.RescaleSlope = 2
        ds.RescaleIntercept = -10
        ds.PixelData = pixels[k].tobytes()
        ds.save_as(folder / f"{prefix}{file_number:04d}.dcm", enforce_file_format=True)
    return pixels, positions, np.concatenate([along_row, along_column])


def write_nifti(path: Path, shape=(6, 7, 5), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = rng.random(shape).astype(np.float32) + 0.1
    affine = np.array(
        [[0.9, 0.1, 0.0, -20.0], [-0.1, 1.1, 0.2, 10.0], [0.0, -0.3, 2.5, 5.0], [0, 0, 0, 1]]
    )
    nibabel.save(nibabel.Nifti1Image(data, affine), path)
    return data, affine


def truncate(path: Path, keep: float = 0.5) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


# --------------------------------------------------------------------------- fastMRI


def test_fastmri_reconstruction_rss(tmp_path):
    path = tmp_path / "file_brain_AXT1_001.h5"
    expected = write_fastmri(path)
    volume = read_volume(path)
    assert volume.data.shape == expected.shape and volume.data.dtype == np.float32
    np.testing.assert_array_equal(volume.data, expected)
    assert volume.patient_id == "patient-A"
    assert volume.source == str(path)
    assert volume.metadata["acquisition"] == "AXT1"
    # Pixel spacing from the ISMRMRD reconstruction space: 220 mm / 16, slice 5 mm.
    np.testing.assert_allclose(np.diag(volume.affine)[:3], [5.0, 220 / 16, 220 / 16])


def test_fastmri_from_kspace_matches_rss(tmp_path):
    path = tmp_path / "file.h5"
    expected = write_fastmri(path)
    volume = read_volume(path, from_kspace=True)
    assert volume.data.shape == expected.shape
    np.testing.assert_allclose(volume.data, expected, rtol=1e-4, atol=1e-4 * expected.max())


def test_fastmri_from_kspace_without_stored_reconstruction(tmp_path):
    path = tmp_path / "file.h5"
    expected = write_fastmri(path, with_rss=False, patient=None)
    volume = read_volume(path, from_kspace=True)
    # Oversampling removed (32 -> 16 rows), then a square of the smaller side.
    assert volume.data.shape == expected.shape
    np.testing.assert_allclose(volume.data, expected, rtol=1e-4, atol=1e-4 * expected.max())
    assert volume.patient_id == "file"  # no patient_id attribute: the file stem
    with pytest.raises(VolumeReadError, match="from_kspace=True"):
        read_volume(path)


def test_fastmri_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.h5"
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_volume(missing)
    truncated = tmp_path / "truncated.h5"
    write_fastmri(truncated)
    truncate(truncated)
    with pytest.raises(VolumeReadError, match="truncated.h5"):
        read_volume(truncated)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not HDF5" * 10)
    with pytest.raises(VolumeReadError, match="garbage.h5.*HDF5"):
        read_volume(garbage)
    flat = tmp_path / "flat.h5"
    with h5py.File(flat, "w") as handle:
        handle.create_dataset("reconstruction_rss", data=np.ones((4, 4), np.float32))
    with pytest.raises(VolumeReadError, match="flat.h5.*3-D"):
        read_volume(flat)
    with pytest.raises(ValueError, match="axis applies to NIfTI"):
        read_volume(tmp_path / "truncated.h5", axis=0)


# --------------------------------------------------------------------------- DICOM


def test_dicom_series_sorted_rescaled_with_affine(tmp_path):
    folder = tmp_path / "series"
    pixels, positions, orientation = write_dicom_series(folder)
    volume = read_volume(folder)
    assert volume.patient_id == "DICOM-PATIENT"
    assert volume.data.shape == pixels.shape
    np.testing.assert_array_equal(volume.data, pixels.astype(np.float32) * 2 - 10)
    lps_to_ras = np.array([-1.0, -1.0, 1.0])
    along_row, along_column = orientation[:3], orientation[3:]
    for k, i, j in [(0, 0, 0), (3, 5, 2), (4, 11, 9)]:
        expected_lps = positions[k] + i * 0.8 * along_column + j * 0.6 * along_row
        np.testing.assert_allclose(
            (volume.affine @ [k, i, j, 1])[:3], expected_lps * lps_to_ras, atol=1e-6
        )


def test_dicom_folder_with_two_series_lists_them(tmp_path):
    folder = tmp_path / "mixed"
    write_dicom_series(folder, n=2, series_uid="1.2.3.4.1")
    write_dicom_series(folder, n=3, series_uid="1.2.3.4.2", seed=1, prefix="B")
    with pytest.raises(VolumeReadError, match=r"2 DICOM series.*1\.2\.3\.4\.1.*1\.2\.3\.4\.2"):
        read_volume(folder)


def test_dicom_stray_file_warns_truncated_file_raises(tmp_path):
    folder = tmp_path / "series"
    write_dicom_series(folder, n=3)
    (folder / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="notes.txt"):
        assert read_volume(folder).data.shape[0] == 3
    victim = sorted(folder.glob("*.dcm"))[1]
    truncate(victim, keep=0.9)
    with pytest.raises(VolumeReadError, match=victim.name), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_volume(folder)


def test_dicom_duplicate_positions_raise(tmp_path):
    folder = tmp_path / "repeat"
    write_dicom_series(folder, n=2, series_uid="1.2.3.9")
    write_dicom_series(folder, n=2, series_uid="1.2.3.9", seed=2, prefix="again")
    with pytest.raises(VolumeReadError, match="same position"):
        read_volume(folder)


def test_real_dicom_file_from_pydicom():
    from mtmri_lib.data.demo import DEMO_SOURCES, _package_file

    (source,) = [s for s in DEMO_SOURCES if s.name == "pydicom_MR_small"]
    volume = read_volume(_package_file(source))
    assert volume.data.shape == (1, 64, 64)
    assert volume.affine is not None


# --------------------------------------------------------------------------- NIfTI


@pytest.mark.parametrize("axis", [None, 0, 1, -2])
def test_nifti_slicing_keeps_the_affine(tmp_path, axis):
    path = tmp_path / "sub-07_T1w.nii.gz"
    data, affine = write_nifti(path)
    volume = read_volume(path, axis=axis)
    slice_axis = 2 if axis is None else axis % 3
    np.testing.assert_allclose(volume.data, np.moveaxis(data, slice_axis, 0), rtol=1e-6)
    assert volume.patient_id == "sub-07"  # BIDS subject
    rng = np.random.default_rng(1)
    for _ in range(5):
        index = [int(rng.integers(n)) for n in volume.data.shape]
        voxel = np.empty(3)
        others = [a for a in range(3) if a != slice_axis]
        voxel[slice_axis], voxel[others[0]], voxel[others[1]] = index
        np.testing.assert_allclose(volume.affine @ [*index, 1], affine @ [*voxel, 1])
        assert volume.data[tuple(index)] == pytest.approx(data[tuple(voxel.astype(int))], rel=1e-6)


def test_reslice_with_flips_maps_the_same_points():
    data = np.arange(24, dtype=float).reshape(2, 3, 4)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = [1, 2, 3]
    out, new = reslice(data, affine, 1, row_axis=2, flip_rows=True, flip_cols=True)
    assert out.shape == (3, 4, 2)
    for s, r, c in [(0, 0, 0), (2, 3, 1), (1, 2, 0)]:
        voxel = np.zeros(3)
        voxel[1], voxel[2], voxel[0] = s, 3 - r, 1 - c
        assert out[s, r, c] == data[tuple(voxel.astype(int))]
        np.testing.assert_allclose(new @ [s, r, c, 1], affine @ [*voxel, 1])


def test_nifti_errors(tmp_path):
    path = tmp_path / "scan.nii.gz"
    write_nifti(path, shape=(16, 16, 12))
    truncate(path)
    with pytest.raises(VolumeReadError, match="scan.nii.gz"):
        read_volume(path)
    four_d = tmp_path / "fmri.nii"
    nibabel.save(nibabel.Nifti1Image(np.zeros((4, 4, 3, 2), np.float32), np.eye(4)), four_d)
    with pytest.raises(VolumeReadError, match="fmri.nii.*3-D"):
        read_volume(four_d)
    header_only = tmp_path / "broken.nii"
    header_only.write_bytes(b"\x00" * 100)
    with pytest.raises(VolumeReadError, match="broken.nii"):
        read_volume(header_only)
    with pytest.raises(VolumeReadError, match="unknown volume format"):
        other = tmp_path / "scan.png"
        other.write_bytes(b"png")
        read_volume(other)


# --------------------------------------------------------------------------- folders


def test_read_volumes_skips_bad_files_with_a_count(tmp_path):
    write_fastmri(tmp_path / "good.h5")
    write_nifti(tmp_path / "good.nii")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"broken")
    write_dicom_series(tmp_path / "series01", n=3)
    (tmp_path / "README.txt").write_text("notes")
    with pytest.warns(UserWarning) as record:
        paths = find_volume_paths(tmp_path)
        volumes = read_volumes(tmp_path)
    messages = [str(w.message) for w in record]
    assert any("README.txt" in m for m in messages)
    assert any("bad.h5" in m for m in messages)
    assert any("skipped 1 of 4" in m for m in messages)
    assert len(paths) == 4
    assert sorted(v.patient_id for v in volumes) == ["DICOM-PATIENT", "good", "patient-A"]
    with pytest.raises(VolumeReadError, match="bad.h5"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_volumes(tmp_path, on_error="raise")
    assert patient_id_of(tmp_path / "good.h5") == "patient-A"
    assert patient_id_of(tmp_path / "series01") == "DICOM-PATIENT"
