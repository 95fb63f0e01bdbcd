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
    geometry: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An oblique DICOM series written in shuffled file order (``geometry=False``: without
    ImagePositionPatient / ImageOrientationPatient / PixelSpacing, ordered by InstanceNumber).

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
        if geometry:
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


def dicom_file_of_instance(folder: Path, number: int) -> Path:
    """The file of a series holding InstanceNumber ``number`` (files are written shuffled)."""
    for file in sorted(folder.glob("*.dcm")):
        if int(pydicom.dcmread(file, stop_before_pixels=True).InstanceNumber) == number:
            return file
    raise LookupError(number)


def write_h5(path: Path, **datasets) -> Path:
    """An HDF5 file with the given datasets; a value of ``dict`` makes a group."""
    with h5py.File(path, "w") as handle:
        for key, value in datasets.items():
            if isinstance(value, dict):
                handle.create_group(key)
            else:
                handle.create_dataset(key, data=value)
    return path


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


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda f: f.write_bytes(b""), id="empty"),
        pytest.param(lambda f: truncate(f, keep=0.05), id="cut-before-the-header"),
        pytest.param(lambda f: truncate(f, keep=0.4), id="cut-inside-the-header"),
    ],
)
def test_dicom_unreadable_slice_fails_the_series_naming_the_file(tmp_path, damage):
    # Before: the slice was skipped as "not a DICOM image" and the volume came out one short.
    folder = tmp_path / "series"
    write_dicom_series(folder, n=5)
    victim = dicom_file_of_instance(folder, 3)
    damage(victim)
    with pytest.raises(VolumeReadError, match=victim.name), warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning on the way: one clear error
        read_volume(folder)


def test_dicom_gap_in_slice_positions_raises_naming_its_neighbours(tmp_path):
    # Before: a warning that the spacing varies, and an affine with the mean step.
    folder = tmp_path / "series"
    write_dicom_series(folder, n=5)
    below, above = dicom_file_of_instance(folder, 2), dicom_file_of_instance(folder, 4)
    dicom_file_of_instance(folder, 3).unlink()
    (folder / "notes.txt").write_text("exported by hand")
    with pytest.raises(VolumeReadError) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_volume(folder)
    message = str(caught.value)
    assert message.startswith(str(folder))
    assert "gap in the slice positions" in message and "1 slice(s) missing" in message
    assert below.name in message and above.name in message
    assert "instance 2" in message and "instance 4" in message
    assert "notes.txt" in message  # the skipped file is named as a clue


def test_dicom_small_spacing_jitter_still_reads_with_a_warning(tmp_path):
    folder = tmp_path / "series"
    write_dicom_series(folder, n=4)
    file = dicom_file_of_instance(folder, 2)
    dataset = pydicom.dcmread(file)
    position = [float(v) for v in dataset.ImagePositionPatient]
    dataset.ImagePositionPatient = [position[0] + 0.2, position[1], position[2]]
    dataset.save_as(file)
    with pytest.warns(UserWarning, match="slice spacing varies"):
        assert read_volume(folder).n_slices == 4


def test_dicom_without_geometry_gap_or_repeat_in_instance_numbers_raises(tmp_path):
    folder = tmp_path / "plain"
    pixels, _, _ = write_dicom_series(folder, n=4, geometry=False)
    with pytest.warns(UserWarning, match="InstanceNumber"):
        volume = read_volume(folder)
    np.testing.assert_array_equal(volume.data, pixels.astype(np.float32) * 2 - 10)
    assert volume.affine is None
    # Before: sorted by InstanceNumber without looking for a missing one.
    dicom_file_of_instance(folder, 2).unlink()
    with pytest.raises(VolumeReadError, match=r"plain: gap in the instance numbers: 1 .* 3"):
        read_volume(folder)
    repeat = tmp_path / "repeat"
    write_dicom_series(repeat, n=2, geometry=False)
    write_dicom_series(repeat, n=2, geometry=False, seed=3, prefix="again")
    with pytest.raises(VolumeReadError, match="two slices with InstanceNumber 1"):
        read_volume(repeat)


def test_dicom_malformed_geometry_names_the_file(tmp_path):
    folder = tmp_path / "series"
    write_dicom_series(folder, n=3)
    file = dicom_file_of_instance(folder, 2)
    dataset = pydicom.dcmread(file)
    dataset.ImagePositionPatient = [1.0, 2.0]
    dataset.save_as(file)
    with pytest.raises(VolumeReadError, match=f"{file.name}: ImagePositionPatient has 2 value"):
        read_volume(folder)


def test_read_volumes_skips_a_bad_series_whole_with_a_count(tmp_path):
    write_nifti(tmp_path / "good.nii")
    write_dicom_series(tmp_path / "series01", n=4)
    victim = dicom_file_of_instance(tmp_path / "series01", 2)
    victim.write_bytes(b"")
    with pytest.warns(UserWarning) as record:
        volumes = read_volumes(tmp_path)
    assert [v.patient_id for v in volumes] == ["good"]  # never the series one slice short
    messages = [str(w.message) for w in record]
    assert any(f"skipped {tmp_path / 'series01'}: " in m and victim.name in m for m in messages)
    assert any("skipped 1 of 2" in m for m in messages)


def test_nifti_complex_is_read_as_magnitude_with_a_warning(tmp_path):
    # Before: the real part only, with numpy's ComplexWarning that names no file.
    path = tmp_path / "phase.nii"
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(4, 5, 3)) + 1j * rng.normal(size=(4, 5, 3))).astype(np.complex64)
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)
    with pytest.warns(UserWarning, match=r"phase.nii: .*complex.*magnitude") as record:
        volume = read_volume(path)
    assert not [w for w in record if issubclass(w.category, np.exceptions.ComplexWarning)]
    np.testing.assert_allclose(volume.data, np.moveaxis(np.abs(data), 2, 0), rtol=1e-6)
    assert "phase is discarded" in volume.metadata["complex"]


@pytest.mark.parametrize(
    ("axis", "error"),
    [("x", TypeError), (1.0, TypeError), (True, TypeError), (3, ValueError), (-4, ValueError)],
)
def test_nifti_bad_axis_names_axis_and_the_allowed_values(tmp_path, axis, error):
    # Before: 'x' failed inside int(), 1.0 and True were taken as 1.
    path = tmp_path / "scan.nii"
    write_nifti(path)
    with pytest.raises(error, match=r"axis must be None or an int: 0, 1 or 2 \(or -3, -2, -1"):
        read_volume(path, axis=axis)
    with pytest.raises(error, match="axis must be"):
        read_volumes(tmp_path, axis=axis)


@pytest.mark.parametrize("shape", [(0, 6, 6), (6, 6, 0), (6, 0)])
def test_nifti_with_an_empty_axis_is_refused(tmp_path, shape):
    # Before: a volume with no voxels (or no slices) came back.
    path = tmp_path / "empty.nii"
    nibabel.save(nibabel.Nifti1Image(np.zeros(shape, np.float32), np.eye(4)), path)
    with pytest.raises(
        VolumeReadError, match=rf"empty.nii: the image has no voxels: shape \({shape[0]}, "
    ):
        read_volume(path)


def test_nifti_shapes_and_voxel_types(tmp_path):
    flat = tmp_path / "flat.nii"
    nibabel.save(nibabel.Nifti1Image(np.ones((6, 7), np.float32), np.eye(4)), flat)
    assert read_volume(flat).data.shape == (1, 6, 7)  # a 2-D image is one slice
    line = tmp_path / "line.nii"
    nibabel.save(nibabel.Nifti1Image(np.ones(6, np.float32), np.eye(4)), line)
    with pytest.raises(VolumeReadError, match=r"line.nii: the image has shape \(6,\)"):
        read_volume(line)
    series = tmp_path / "bold.nii"
    nibabel.save(nibabel.Nifti1Image(np.ones((4, 4, 3, 5), np.float32), np.eye(4)), series)
    with pytest.raises(VolumeReadError, match="bold.nii: .*5 volumes along the 4th axis"):
        read_volume(series)
    # Before: numpy's DTypePromotionError, naming no file.
    rgb = tmp_path / "colour.nii"
    voxels = np.zeros((4, 4, 3), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nibabel.save(nibabel.Nifti1Image(voxels, np.eye(4)), rgb)
    with pytest.raises(VolumeReadError, match="colour.nii: voxel type .* not a grey-level"):
        read_volume(rgb)
    nan = tmp_path / "nan.nii"
    values = np.ones((4, 4, 3), np.float32)
    values[1, 2, 0] = np.nan
    nibabel.save(nibabel.Nifti1Image(values, np.eye(4)), nan)
    with pytest.raises(VolumeReadError, match="nan.nii: 1 NaN"):
        read_volume(nan)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param({}, "is an HDF5 group", id="group"),
        pytest.param("not an image", "is a string dataset", id="string"),
        pytest.param(np.array([[[b"a", b"b"]]]), "is a string dataset", id="bytes-3d"),
        pytest.param(
            np.ones((2, 0, 3), np.float32), r"has no voxels: shape \(2, 0, 3\)", id="empty"
        ),
    ],
)
def test_fastmri_malformed_reconstruction_names_the_file(tmp_path, value, problem):
    # Before: AttributeError ('Group' has no ndim), ValueError from float(), or an empty volume.
    path = write_h5(tmp_path / "odd.h5", reconstruction_rss=value)
    with pytest.raises(VolumeReadError, match=f"odd.h5: 'reconstruction_rss' {problem}"):
        read_volume(path)


def test_fastmri_malformed_kspace_names_the_file(tmp_path):
    group = write_h5(tmp_path / "group.h5", kspace={})
    with pytest.raises(VolumeReadError, match="group.h5: 'kspace' is an HDF5 group"):
        read_volume(group, from_kspace=True)
    empty = write_h5(tmp_path / "none.h5", kspace=np.zeros((0, 2, 8, 4), np.complex64))
    with pytest.raises(VolumeReadError, match="none.h5: 'kspace' has no slices"):
        read_volume(empty, from_kspace=True)
    odd_rss = write_h5(
        tmp_path / "odd_rss.h5", kspace=np.ones((2, 2, 8, 4), np.complex64), reconstruction_rss={}
    )
    with pytest.warns(UserWarning, match="odd_rss.h5: 'reconstruction_rss' is not a 3-D array"):
        assert read_volume(odd_rss, from_kspace=True).data.shape == (2, 4, 4)
    neither = write_h5(tmp_path / "neither.h5", other=np.ones(3))
    with pytest.raises(VolumeReadError, match="neither.h5: no 'reconstruction_rss'.*other"):
        read_volume(neither)
    nan = write_h5(tmp_path / "nan.h5", reconstruction_rss=np.full((2, 3, 3), np.nan, np.float32))
    with pytest.raises(VolumeReadError, match="nan.h5: 18 NaN"):
        read_volume(nan)


def test_fastmri_complex_reconstruction_is_read_as_magnitude(tmp_path):
    values = np.full((2, 3, 3), 3 + 4j, np.complex64)
    path = write_h5(tmp_path / "complex.h5", reconstruction_rss=values)
    with pytest.warns(UserWarning, match="complex.h5: 'reconstruction_rss' is complex"):
        volume = read_volume(path)
    np.testing.assert_allclose(volume.data, 5.0)
    assert "phase is discarded" in volume.metadata["complex"]


def test_read_volumes_skips_malformed_h5_files_with_a_count(tmp_path):
    # Before: the first malformed file aborted the whole folder with an AttributeError.
    write_nifti(tmp_path / "good.nii")
    write_h5(tmp_path / "group.h5", reconstruction_rss={})
    write_h5(tmp_path / "text.h5", reconstruction_rss="n/a")
    with pytest.warns(UserWarning) as record:
        volumes = read_volumes(tmp_path)
    assert [v.patient_id for v in volumes] == ["good"]
    messages = [str(w.message) for w in record]
    assert any("group.h5: 'reconstruction_rss' is an HDF5 group" in m for m in messages)
    assert any("text.h5: 'reconstruction_rss' is a string" in m for m in messages)
    assert any("skipped 2 of 3" in m for m in messages)


def test_read_volumes_of_a_folder_without_volumes_warns(tmp_path):
    # Before: [] without a word.
    with pytest.warns(UserWarning, match=f"{tmp_path}: the folder holds no volume"):
        assert read_volumes(tmp_path) == []
    (tmp_path / "README.txt").write_text("notes")
    with pytest.warns(UserWarning) as record:
        assert read_volumes(tmp_path) == []
    messages = [str(w.message) for w in record]
    assert any("README.txt" in m for m in messages)
    assert any("holds no volume" in m for m in messages)


def test_dicom_folder_of_volumes_hints_at_read_volumes(tmp_path):
    write_nifti(tmp_path / "scan.nii")
    with pytest.raises(VolumeReadError, match="none of the 1 file.*use read_volumes"):
        read_volume(tmp_path)
