"""The bad-input battery: every misuse a new user tried either works as documented or fails
with a clear error that names the offending input and the problem, and writes nothing.

Each `Case` builds its own input under ``tmp_path`` and calls the public API, a reader, the
``mtmri`` command line or the book runner. With an ``error`` the test asserts its type and
that its message holds every string of ``names``; with ``error=None`` the call must succeed
and ``check`` asserts the documented behaviour. ``absent`` lists files that must not exist
afterwards (writers leave nothing half-written under a final name). No warning may escape a
case unless it is part of what ``check`` looks at.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest

from mtmri_lib.artefacts import corrupt, corrupt_sequence, make_mask
from mtmri_lib.data import VolumeReadError, read_volume, read_volumes


class Case(NamedTuple):
    id: str
    call: Callable[[Path], Any]
    error: type[BaseException] | None
    names: tuple[str, ...] = ()
    check: Callable[[Any, Path], None] | None = None
    absent: Callable[[Path], list[Path]] | None = None


class CliFailure(Exception):
    """The ``mtmri`` command exited non-zero; the message is what it wrote to stderr."""


def _cli(argv: list[str]) -> str:
    """Run ``mtmri ARGV`` in this process; its stdout, or `CliFailure` with its stderr."""
    from mtmri_lib import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as stop:  # argparse's own errors
            code = stop.code
    if code:
        raise CliFailure(f"exit {code}: {err.getvalue()}")
    return out.getvalue()


def _recording(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """``function(*args, **kwargs)`` and the messages of the warnings it gave."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    return result, [str(w.message) for w in record]


def _truncate(path: Path, keep: float) -> Path:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    return path


def _nifti(path: Path, data: np.ndarray) -> Path:
    import nibabel

    nibabel.save(nibabel.Nifti1Image(data, np.diag([0.9, 1.1, 2.5, 1.0])), path)
    return path


def _good_nifti(path: Path, shape: tuple[int, ...] = (8, 9, 5)) -> Path:
    return _nifti(path, np.random.default_rng(0).random(shape).astype(np.float32) + 0.1)


IMAGE = np.random.default_rng(0).random((32, 32))


# --------------------------------------------------------------------------- artefacts

#: The identity settings of every kind (the documented ones).
IDENTITY = {
    "bias": {"field_range": (1, 1)},
    "subsampling": {"acceleration": 1},
    "motion": {"corrupted_fraction": 0},
    "noise": {"snr_db": float("inf")},
}


def _huge() -> np.ndarray:
    """IMAGE scaled so that its largest value is float64's largest."""
    return IMAGE / IMAGE.max() * np.finfo(np.float64).max


def _mask(**kwargs: Any) -> np.ndarray:
    full = {"shape": (32, 32), "acceleration": 2, "mask": "random", "pe_axis": 0, "rng": 0}
    full.update(kwargs)
    shape = full.pop("shape")
    return make_mask(shape, **full)


def _zeros(result: Any, tmp: Any) -> None:
    image = result.image if hasattr(result, "image") else result
    assert image.shape == (32, 32)
    assert np.all(image == 0), "a constant image z-normalises to zeros"


def _pe_axis_one(result: Any, tmp: Any) -> None:
    assert result.params["pe_axis"] == 1 and type(result.params["pe_axis"]) is int
    assert result.image.tobytes() == corrupt(IMAGE, "subsampling", 0, pe_axis=1).image.tobytes()


def _scale_invariant(result: Any, tmp: Any) -> None:
    expected = corrupt(IMAGE, "motion", 3).image
    assert np.all(np.isfinite(result.image))
    assert np.max(np.abs(result.image - expected)) < 1e-12


def _near_identity(result: Any, tmp: Any) -> None:
    assert np.max(np.abs(result.image - IMAGE)) < 1e-13


def _real_part(result: Any, tmp: Any) -> None:
    assert result.image.dtype == np.float64
    np.testing.assert_array_equal(result.image, IMAGE)


def _field_range_list(result: Any, tmp: Any) -> None:
    assert result.params["field_range"] == [0.9, 1.1]


CASES_ARTEFACTS = [
    # --- noise: snr_db -------------------------------------------------------------------------
    Case(
        "noise-snr-huge",
        lambda tmp: corrupt(IMAGE, "noise", 0, snr_db=1e6),
        ValueError,
        ("snr_db", "[-100, 300]", "1e+06"),
    ),
    Case(
        "noise-snr-very-negative",
        lambda tmp: corrupt(IMAGE, "noise", 0, snr_db=-1e6),
        ValueError,
        ("snr_db", "[-100, 300]", "-1e+06"),
    ),
    Case(
        "noise-snr-300-near-identity",
        lambda tmp: corrupt(IMAGE, "noise", 0, zscore=False, output="complex", snr_db=300),
        None,
        check=_near_identity,
    ),
    # --- pe_axis -------------------------------------------------------------------------------
    Case(
        "subsampling-pe-axis-float",
        lambda tmp: corrupt(IMAGE, "subsampling", 0, pe_axis=1.0),
        TypeError,
        ("pe_axis", "1.0"),
    ),
    Case(
        "subsampling-pe-axis-bool",
        lambda tmp: corrupt(IMAGE, "subsampling", 0, pe_axis=True),
        TypeError,
        ("pe_axis", "True"),
    ),
    Case(
        "motion-pe-axis-float",
        lambda tmp: corrupt(IMAGE, "motion", 0, pe_axis=1.0),
        TypeError,
        ("pe_axis", "1.0"),
    ),
    Case(
        "motion-pe-axis-out-of-range",
        lambda tmp: corrupt(IMAGE, "motion", 0, pe_axis=2),
        ValueError,
        ("pe_axis", "[0, 1]", "2"),
    ),
    Case(
        "make-mask-pe-axis-float",
        lambda tmp: _mask(pe_axis=0.0),
        TypeError,
        ("pe_axis", "0.0"),
    ),
    Case(
        "pe-axis-numpy-int-accepted",
        lambda tmp: corrupt(IMAGE, "subsampling", 0, pe_axis=np.int64(1)),
        None,
        check=_pe_axis_one,
    ),
    # --- rng -----------------------------------------------------------------------------------
    Case(
        "rng-negative-seed",
        lambda tmp: corrupt(IMAGE, "noise", -1),
        ValueError,
        ("rng", "non-negative", "got -1"),
    ),
    Case(
        "rng-float",
        lambda tmp: corrupt(IMAGE, "bias", 1.5),
        TypeError,
        ("rng", "1.5"),
    ),
    Case(
        "rng-legacy-randomstate",
        lambda tmp: corrupt(IMAGE, "noise", np.random.RandomState(0)),  # noqa: NPY002
        TypeError,
        ("rng", "RandomState"),
    ),
    Case(
        "make-mask-rng-negative",
        lambda tmp: _mask(rng=-3),
        ValueError,
        ("rng", "got -3"),
    ),
    # --- make_mask shape -----------------------------------------------------------------------
    Case(
        "make-mask-shape-int",
        lambda tmp: _mask(shape=32),
        TypeError,
        ("shape", "(H, W)", "32"),
    ),
    Case(
        "make-mask-shape-three-values",
        lambda tmp: _mask(shape=(32, 32, 1)),
        ValueError,
        ("shape", "3 values"),
    ),
    Case(
        "make-mask-shape-too-small",
        lambda tmp: _mask(shape=(32, 1)),
        ValueError,
        ("shape[1]", ">= 2", "1"),
    ),
    # --- z-normalisation of constant images ----------------------------------------------------
    *[
        Case(
            f"constant-image-identity-{kind}-zeros",
            lambda tmp, kind=kind: corrupt(np.full((32, 32), 0.3), kind, 0, **IDENTITY[kind]),
            None,
            check=_zeros,
        )
        for kind in IDENTITY
    ],
    Case(
        "constant-plus-residue-zeros",
        lambda tmp: corrupt(
            0.3 + 1e-17 * np.random.default_rng(1).standard_normal((32, 32)),
            "noise",
            0,
            snr_db=float("inf"),
        ),
        None,
        check=_zeros,
    ),
    # --- scale ---------------------------------------------------------------------------------
    Case(
        "scale-1e300-motion-works",
        lambda tmp: corrupt(IMAGE * 1e300, "motion", 3),
        None,
        check=_scale_invariant,
    ),
    Case(
        "scale-max-float-bias-refused",
        lambda tmp: corrupt(_huge(), "bias", 0, field_range=(1.5, 2.0)),
        ValueError,
        ("'bias'", "largest magnitude", "too large"),
    ),
    Case(
        "scale-max-float-noise-refused",
        lambda tmp: corrupt(_huge(), "noise", 0),
        ValueError,
        ("'noise'", "largest magnitude", "too large"),
    ),
    Case(
        "sequence-scale-max-float-refused",
        lambda tmp: corrupt_sequence(_huge(), ["subsampling", "noise"], 0),
        ValueError,
        ("'subsampling'", "largest magnitude", "too large"),
    ),
    Case(
        "motion-pinned-delta-overflows",
        lambda tmp: corrupt(IMAGE, "motion", 0, motion="periodic", delta=1e308),
        ValueError,
        ("'motion'", "pinned value", "delta=1e+308"),
    ),
    # --- kind, keywords, pairs, images ---------------------------------------------------------
    Case(
        "unknown-kind",
        lambda tmp: corrupt(IMAGE, "blur", 0),
        ValueError,
        ("kind", "'blur'"),
    ),
    Case(
        "unknown-keyword",
        lambda tmp: corrupt(IMAGE, "noise", 0, snr=5),
        TypeError,
        ("unknown keyword", "snr", "'noise'"),
    ),
    Case(
        "bias-field-range-triple",
        lambda tmp: corrupt(IMAGE, "bias", 0, field_range=[0.9, 1.0, 1.1]),
        ValueError,
        ("field_range", "3 values"),
    ),
    Case(
        "bias-field-range-list-accepted",
        lambda tmp: corrupt(IMAGE, "bias", 0, field_range=[0.9, 1.1]),
        None,
        check=_field_range_list,
    ),
    Case(
        "bias-n-modes-too-many",
        lambda tmp: corrupt(IMAGE, "bias", 0, n_modes=10**9),
        ValueError,
        ("n_modes", "100000", "1000000000"),
    ),
    Case(
        "image-ragged-list",
        lambda tmp: corrupt([[1.0, 2.0], [3.0]], "bias", 0),
        ValueError,
        ("image", "2-D numeric array", "list"),
    ),
    Case(
        "complex-input-real-output-keeps-real-part",
        lambda tmp: corrupt(IMAGE + 0.5j, "noise", 0, zscore=False, snr_db=float("inf")),
        None,
        check=_real_part,
    ),
    # --- corrupt_sequence options --------------------------------------------------------------
    Case(
        "sequence-bad-output",
        lambda tmp: corrupt_sequence(IMAGE, ["noise", "bias"], 0, output="phase"),
        ValueError,
        ("output", "'phase'"),
    ),
]


# --------------------------------------------------------------------------- readers


def _h5(path: Path, **datasets: Any) -> Path:
    """An HDF5 file with the given datasets; a ``dict`` value makes a group."""
    import h5py

    with h5py.File(path, "w") as handle:
        for key, value in datasets.items():
            if isinstance(value, dict):
                handle.create_group(key)
            else:
                handle.create_dataset(key, data=value)
    return path


def _dicom_series(folder: Path, *, n: int = 5, geometry: bool = True) -> dict[int, Path]:
    """A small axial MR series, one file per slice 2.5 mm apart; {InstanceNumber: file}."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 4000, size=(n, 8, 6)).astype(np.uint16)
    files = {}
    for k in range(n):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "MR"
        ds.PatientID = "BATTERY"
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.77"
        ds.InstanceNumber = k + 1
        if geometry:
            ds.ImagePositionPatient = [0.0, 0.0, 2.5 * k]
            ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
            ds.PixelSpacing = [0.8, 0.8]
        ds.Rows, ds.Columns = pixels.shape[1:]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = pixels[k].tobytes()
        files[k + 1] = folder / f"IM{k + 1:04d}.dcm"
        ds.save_as(files[k + 1], enforce_file_format=True)
    return files


def _dicom_empty_slice(tmp: Path) -> Any:
    files = _dicom_series(tmp / "series")
    files[3].write_bytes(b"")
    return read_volume(tmp / "series")


def _dicom_truncated_slice(tmp: Path) -> Any:
    files = _dicom_series(tmp / "series")
    _truncate(files[3], keep=0.4)  # cut inside the header: pydicom itself reads it quietly
    return read_volume(tmp / "series")


def _dicom_gap(tmp: Path) -> Any:
    files = _dicom_series(tmp / "gapped_series")
    files[3].unlink()
    return read_volume(tmp / "gapped_series")


def _dicom_instance_gap(tmp: Path) -> Any:
    files = _dicom_series(tmp / "plain_series", geometry=False)
    files[2].unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_volume(tmp / "plain_series")


def _dicom_no_dicom(tmp: Path) -> Any:
    folder = tmp / "not_dicom"
    folder.mkdir()
    (folder / "notes.txt").write_text("no images here")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_volume(folder)


def _read_volumes_bad_series(tmp: Path) -> Any:
    _good_nifti(tmp / "good.nii")
    files = _dicom_series(tmp / "series01", n=4)
    files[2].write_bytes(b"")
    return _recording(read_volumes, tmp)


def _check_bad_series_skipped(result: Any, tmp: Path) -> None:
    volumes, messages = result
    # The whole series is skipped, never read one slice short.
    assert [v.patient_id for v in volumes] == ["good"], [v.source for v in volumes]
    assert any(str(tmp / "series01") in m and "IM0002.dcm" in m for m in messages), messages
    assert any("skipped 1 of 2" in m for m in messages), messages


def _nifti_complex(tmp: Path) -> Any:
    data = np.full((4, 5, 3), 3 + 4j, dtype=np.complex64)
    return _recording(read_volume, _nifti(tmp / "phase.nii", data))


def _check_complex_magnitude(result: Any, tmp: Path) -> None:
    volume, messages = result
    np.testing.assert_allclose(volume.data, 5.0)  # |3 + 4j|, not the real part 3
    assert volume.data.shape == (3, 4, 5)
    assert "phase is discarded" in volume.metadata["complex"]
    assert any("phase.nii" in m and "magnitude" in m for m in messages), messages


def _nifti_axis(axis: Any) -> Callable[[Path], Any]:
    return lambda tmp: read_volume(_good_nifti(tmp / "scan.nii"), axis=axis)


def _nifti_zero_axis(tmp: Path) -> Any:
    return read_volume(_nifti(tmp / "empty_axis.nii", np.zeros((64, 64, 0), np.float32)))


def _nifti_4d(tmp: Path) -> Any:
    return read_volume(_nifti(tmp / "bold.nii", np.ones((4, 4, 3, 5), np.float32)))


def _nifti_truncated(tmp: Path) -> Any:
    path = _good_nifti(tmp / "cut.nii.gz", shape=(16, 16, 12))
    return read_volume(_truncate(path, keep=0.5))


def _nifti_nan(tmp: Path) -> Any:
    data = np.ones((4, 4, 3), np.float32)
    data[1, 2, 0] = np.nan
    return read_volume(_nifti(tmp / "nan.nii", data))


def _h5_rss_group(tmp: Path) -> Any:
    return read_volume(_h5(tmp / "group_rss.h5", reconstruction_rss={}))


def _h5_rss_string(tmp: Path) -> Any:
    return read_volume(_h5(tmp / "string_rss.h5", reconstruction_rss="not an image"))


def _h5_not_hdf5(tmp: Path) -> Any:
    path = tmp / "fake.h5"
    path.write_text("this is a text file with an .h5 name")
    return read_volume(path)


def _h5_neither(tmp: Path) -> Any:
    return read_volume(_h5(tmp / "neither.h5", ismrmrd_header=b"<xml/>"))


def _read_volumes_bad_h5(tmp: Path) -> Any:
    _good_nifti(tmp / "good.nii")
    _h5(tmp / "group_rss.h5", reconstruction_rss={})
    _h5(tmp / "string_rss.h5", reconstruction_rss="n/a")
    return _recording(read_volumes, tmp)


def _check_bad_h5_skipped(result: Any, tmp: Path) -> None:
    volumes, messages = result
    assert [v.patient_id for v in volumes] == ["good"]
    assert any("group_rss.h5" in m and "HDF5 group" in m for m in messages), messages
    assert any("string_rss.h5" in m and "string dataset" in m for m in messages), messages
    assert any("skipped 2 of 3" in m for m in messages), messages


def _read_volumes_empty(tmp: Path) -> Any:
    folder = tmp / "nothing_here"
    folder.mkdir()
    return _recording(read_volumes, folder)


def _check_empty_folder_warns(result: Any, tmp: Path) -> None:
    volumes, messages = result
    assert volumes == []
    assert any("nothing_here" in m and "holds no volume" in m for m in messages), messages


CASES_READERS = [
    Case("dicom-empty-slice", _dicom_empty_slice, VolumeReadError, ("IM0003.dcm", "empty")),
    Case(
        "dicom-truncated-slice",
        _dicom_truncated_slice,
        VolumeReadError,
        ("IM0003.dcm", "truncated"),
    ),
    Case(
        "dicom-gap-in-positions",
        _dicom_gap,
        VolumeReadError,
        ("gapped_series", "gap in the slice positions", "IM0002.dcm", "IM0004.dcm"),
    ),
    Case(
        "dicom-gap-in-instance-numbers",
        _dicom_instance_gap,
        VolumeReadError,
        ("plain_series", "gap in the instance numbers", "IM0001.dcm", "IM0003.dcm"),
    ),
    Case(
        "dicom-folder-without-dicom",
        _dicom_no_dicom,
        VolumeReadError,
        ("not_dicom", "none of the 1 file(s) is a DICOM image"),
    ),
    Case(
        "read-volumes-skips-bad-series-whole",
        _read_volumes_bad_series,
        None,
        check=_check_bad_series_skipped,
    ),
    Case("nifti-complex-magnitude", _nifti_complex, None, check=_check_complex_magnitude),
    Case("nifti-axis-str", _nifti_axis("x"), TypeError, ("axis", "'x'", "0, 1 or 2")),
    Case("nifti-axis-float", _nifti_axis(1.0), TypeError, ("axis", "1.0", "0, 1 or 2")),
    Case("nifti-axis-out-of-range", _nifti_axis(3), ValueError, ("axis", "got 3", "0, 1 or 2")),
    Case(
        "nifti-zero-length-axis",
        _nifti_zero_axis,
        VolumeReadError,
        ("empty_axis.nii", "no voxels", "(64, 64, 0)"),
    ),
    Case(
        "nifti-4d-several-volumes",
        _nifti_4d,
        VolumeReadError,
        ("bold.nii", "5 volumes along the 4th axis"),
    ),
    Case("nifti-truncated-gz", _nifti_truncated, VolumeReadError, ("cut.nii.gz", "truncated")),
    Case("nifti-nan", _nifti_nan, VolumeReadError, ("nan.nii", "1 NaN")),
    Case(
        "h5-rss-is-a-group",
        _h5_rss_group,
        VolumeReadError,
        ("group_rss.h5", "'reconstruction_rss' is an HDF5 group"),
    ),
    Case(
        "h5-rss-is-a-string",
        _h5_rss_string,
        VolumeReadError,
        ("string_rss.h5", "'reconstruction_rss' is a string dataset"),
    ),
    Case("h5-not-hdf5", _h5_not_hdf5, VolumeReadError, ("fake.h5", "not a readable HDF5 file")),
    Case(
        "h5-neither-kspace-nor-rss",
        _h5_neither,
        VolumeReadError,
        ("neither.h5", "no 'reconstruction_rss' dataset"),
    ),
    Case(
        "read-volumes-skips-malformed-h5", _read_volumes_bad_h5, None, check=_check_bad_h5_skipped
    ),
    Case("read-volumes-empty-folder", _read_volumes_empty, None, check=_check_empty_folder_warns),
]


# --------------------------------------------------------------------------- search


def _output(tmp: Path) -> Path:
    return tmp / "outputs" / "smoke" / "search"


def _search(**options: Any) -> Any:
    from mtmri_lib.training.search import run_search

    return run_search(**options)


def _truncated_project_file(tmp: Path, name: str) -> Any:
    """A project of MT (smoke, seed 0) whose ``name`` holds half a JSON object; then the
    search of those arguments is run again."""
    from mtmri_lib.training.search import search_project

    project = search_project("MT", "smoke", output_dir=_output(tmp), seed=0)
    path = project / name
    path.parent.mkdir(parents=True)
    path.write_text('{"ongoing_trials": {}, "hyperparameters": {"spa')
    return _search(model="MT", profile="smoke", output_dir=_output(tmp), seed=0)


def _truncated_trials_file(tmp: Path) -> Any:
    from mtmri_lib.training.search import search_trials

    project = tmp / "mt-smoke-0123456789"
    project.mkdir()
    (project / "trials.json").write_text('[\n {\n  "trial": "0",\n  "status": "COMPL')
    return search_trials("MT", "smoke", _output(tmp), project=project)


def _nothing_written(tmp: Path) -> list[Path]:
    return [tmp / "outputs"]


CASES_SEARCH = [
    Case(
        "search-oracle-json-truncated",
        lambda tmp: _truncated_project_file(tmp, "oracle.json"),
        ValueError,  # StoreError
        ("oracle.json", "truncated", "delete the folder", "mt-smoke-"),
    ),
    Case(
        "search-trial-json-truncated",
        lambda tmp: _truncated_project_file(tmp, "trial_0/trial.json"),
        ValueError,  # StoreError
        ("trial_0/trial.json", "truncated", "delete the folder", "mt-smoke-"),
    ),
    Case(
        "search-trials-file-truncated",
        _truncated_trials_file,
        ValueError,  # StoreError
        ("trials.json", "truncated", "mt-smoke-0123456789"),
    ),
    Case(
        "search-seed-float",
        lambda tmp: _search(model="MT", profile="smoke", output_dir=_output(tmp), seed=0.5),
        TypeError,
        ("seed", "non-negative integer", "0.5"),
        absent=_nothing_written,
    ),
    Case(
        "search-trials-zero",
        lambda tmp: _search(model="MT", profile="smoke", output_dir=_output(tmp), trials=0),
        ValueError,
        ("trials", "positive integer", "got 0"),
        absent=_nothing_written,
    ),
    Case(
        "search-model-unknown",
        lambda tmp: _search(model="MT+LC", profile="smoke", output_dir=_output(tmp)),
        ValueError,
        ("model must be one of", "MT+L_C", "'MT+LC'"),
        absent=_nothing_written,
    ),
]


# --------------------------------------------------------------------------- measurement


def _scores(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame(columns)


def _friedman(scores: Any, **options: Any) -> Any:
    from mtmri_lib.stats import friedman_nemenyi

    return friedman_nemenyi(scores, **options)


def _metric(name: str, reference: Any, image: Any, **options: Any) -> Any:
    from mtmri_lib import metrics

    return getattr(metrics, name)(reference, image, **options)


def _nan_image() -> np.ndarray:
    image = IMAGE.copy()
    image[3, 4] = np.nan
    return image


CASES_MEASUREMENT = [
    Case(
        "metric-shapes-differ",
        lambda tmp: _metric("mse", IMAGE, IMAGE[:16]),
        ValueError,
        ("same shape", "(32, 32)", "(16, 32)"),
    ),
    Case(
        "metric-nan-image",
        lambda tmp: _metric("ssim", IMAGE, _nan_image()),
        ValueError,
        ("image", "1 NaN"),
    ),
    Case(
        "metric-volume-not-slice",
        lambda tmp: _metric("vif", IMAGE[None], IMAGE[None]),
        ValueError,
        ("reference", "2-D", "(1, 32, 32)"),
    ),
    Case(
        "metric-unknown-fidelity",
        lambda tmp: _metric("vif", IMAGE, IMAGE, fidelity="exact"),
        ValueError,
        ("fidelity", "'exact'"),
    ),
    Case(
        "ssim-smaller-than-its-window",
        lambda tmp: _metric("ssim", IMAGE[:4, :4], IMAGE[:4, :4]),
        ValueError,
        ("ssim", "7 x 7", "(4, 4)"),
    ),
    Case(
        "friedman-scores-not-a-dataframe",
        lambda tmp: _friedman([[1.0, 2.0], [3.0, 4.0]]),
        TypeError,
        ("scores", "DataFrame", "list"),
    ),
    Case(
        "friedman-scores-not-numbers",
        lambda tmp: _friedman(_scores(N4=["good", 0.9], TV=[0.5, 0.4])),
        TypeError,
        ("scores", "['N4']"),
    ),
    Case(
        "friedman-alpha-out-of-range",
        lambda tmp: _friedman(_scores(a=[1.0, 2.0], b=[2.0, 1.0]), alpha=5),
        ValueError,
        ("alpha", "(0, 1)", "5"),
    ),
    Case(
        "friedman-rows-with-nan-are-counted",
        lambda tmp: _friedman(_scores(a=[1.0, 2.0, 3.0], b=[np.nan, 2.5, 1.0])),
        None,
        check=lambda result, tmp: (result.dropped == 1 and result.n == 2) or pytest.fail(result),
    ),
]


# --------------------------------------------------------------------------- learning


def _loss(deltas: Any) -> Any:
    from mtmri_lib.losses import ConvolutionalLoss

    return ConvolutionalLoss(deltas)


def _deltas(**deltas: Any) -> Any:
    return _loss(deltas)


def _hyperparameters(**values: Any) -> Any:
    from mtmri_lib.training import HyperParameters

    return HyperParameters(**values)


def _build(config: Any = "smoke", **options: Any) -> Any:
    from mtmri_lib.models import build_model

    return build_model(config, **options)


def _checkpoint(tmp: Path, keep: float) -> Any:
    from mtmri_lib.training import fit

    folder = tmp / "mt-smoke-seed0-0123"
    path = folder / "checkpoint.npz"
    state = np.frombuffer(json.dumps({"epoch": 2}).encode(), dtype=np.uint8)
    fit._save_arrays(path, {"state": state, "w00000": np.zeros(2000)})
    _truncate(path, keep)
    return fit.read_checkpoint_state(folder)


CASES_LEARNING = [
    Case("model-unknown-profile", lambda tmp: _build("huge"), ValueError, ("profile", "'huge'")),
    Case(
        "model-unknown-task",
        lambda tmp: _build(tasks=("blur",)),
        ValueError,
        ("tasks", "'blur'"),
    ),
    Case("model-no-task", lambda tmp: _build(tasks=()), ValueError, ("tasks", "at least one")),
    Case(
        "model-repeated-task",
        lambda tmp: _build(tasks=("bias", "bias")),
        ValueError,
        ("tasks", "distinct"),
    ),
    Case(
        "loss-unknown-kernel",
        lambda tmp: _deltas(sobel7_top=1.0),
        ValueError,
        ("kernel", "sobel7_top"),
    ),
    Case(
        "loss-negative-delta",
        lambda tmp: _deltas(laplace3=-0.5),
        ValueError,
        ("'laplace3'", "-0.5"),
    ),
    Case("loss-text-delta", lambda tmp: _deltas(identity="1"), TypeError, ("'identity'", "'1'")),
    Case(
        "loss-deltas-not-a-dict",
        lambda tmp: _loss([1.0, 0.5]),
        TypeError,
        ("deltas", "dict"),
    ),
    Case(
        "hyperparameters-nan-learning-rate",
        lambda tmp: _hyperparameters(learning_rate=float("nan")),
        ValueError,
        ("learning_rate", "nan"),
    ),
    Case(
        "hyperparameters-negative-alpha",
        lambda tmp: _hyperparameters(alpha=-1),
        ValueError,
        ("alpha", "-1"),
    ),
    Case(
        "checkpoint-truncated",
        lambda tmp: _checkpoint(tmp, keep=0.5),
        ValueError,  # StoreError, a ValueError
        ("checkpoint.npz", "corrupt or truncated", "delete the folder"),
    ),
    Case(
        "checkpoint-empty",
        lambda tmp: _checkpoint(tmp, keep=0.0),
        ValueError,
        ("checkpoint.npz", "corrupt or truncated", "mt-smoke-seed0-0123"),
    ),
]


# --------------------------------------------------------------------------- mtmri correct


@functools.lru_cache(maxsize=1)
def _model_file() -> Path:
    """A smoke-size mtmri network (untrained: these cases test the plumbing), saved once."""
    from mtmri_lib.models import build_model

    path = Path(tempfile.mkdtemp(prefix="battery-model-")) / "mt-smoke.keras"
    build_model("smoke", seed=1).save(path)
    return path


def _scan(tmp: Path) -> Path:
    from scipy import ndimage

    data = ndimage.gaussian_filter(np.random.default_rng(0).random((36, 40, 3)), 3) * 900 + 50
    return _nifti(tmp / "scan.nii.gz", data.astype(np.float32))


def _correct(tmp: Path, *options: str, out: str | Path | None = None) -> str:
    target = tmp / "out" if out is None else out
    argv = ["correct", str(_scan(tmp)), "--model", str(_model_file()), "--out", str(target)]
    return _cli([*argv, "--quiet", *options])


def _outputs(tmp: Path) -> list[Path]:
    return [tmp / "out" / "scan_corrected.nii.gz", tmp / "out" / "scan_correction.json"]


def _correct_twice(tmp: Path) -> str:
    _correct(tmp)
    return _correct(tmp)


def _correct_with(tmp: Path, model: Path) -> str:
    argv = ["correct", str(_scan(tmp)), "--model", str(model), "--out", str(tmp / "out")]
    return _cli([*argv, "--quiet"])


def _plain_sequential(tmp: Path) -> Path:
    import keras

    path = tmp / "plain.keras"
    layers = [keras.Input((32, 32, 1)), keras.layers.Conv2D(1, 3, padding="same")]
    keras.Sequential(layers).save(path)
    return path


def _correct_array(volume: np.ndarray, **options: Any) -> Any:
    from mtmri_lib.correct import correct_volume

    return correct_volume(volume, _model_file(), progress=False, **options)


def _smooth_volume(scale: float = 1.0) -> np.ndarray:
    from scipy import ndimage

    volume = ndimage.gaussian_filter(np.random.default_rng(1).random((2, 32, 32)), (0, 3, 3))
    return volume * scale


def _check_overwrite(result: Any, tmp: Path) -> None:
    record = json.loads((tmp / "out" / "scan_correction.json").read_text())
    assert record["model"] == str(_model_file())
    assert not [p for p in (tmp / "out").iterdir() if p.name.startswith(".")]


def _a_file(tmp: Path) -> Path:
    (tmp / "taken").write_text("")
    return tmp / "taken"


CASES_CORRECT = [
    Case(
        "correct-batch-size-negative",
        lambda tmp: _correct(tmp, "--batch-size", "-1"),
        CliFailure,
        ("exit 2", "--batch-size", "-1"),
        absent=lambda tmp: [tmp / "out"],
    ),
    Case(
        "correct-batch-size-zero",
        lambda tmp: _correct(tmp, "--batch-size", "0"),
        CliFailure,
        ("--batch-size", "got 0"),
        absent=lambda tmp: [tmp / "out"],
    ),
    Case(
        "correct-batch-size-fraction",
        lambda tmp: _correct(tmp, "--batch-size", "2.5"),
        CliFailure,
        ("--batch-size", "'2.5'"),
    ),
    Case(
        "correct-axis-out-of-range",
        lambda tmp: _correct(tmp, "--axis", "7"),
        CliFailure,
        ("--axis", "got 7"),
    ),
    Case(
        "correct-input-missing",
        lambda tmp: _cli(["correct", str(tmp / "gone.nii"), "--model", "m.keras", "--out", "o"]),
        CliFailure,
        ("mtmri correct:", "gone.nii", "no such file"),
    ),
    Case(
        "correct-model-missing",
        lambda tmp: _correct_with(tmp, tmp / "missing.keras"),
        CliFailure,
        ("missing.keras", "no such model file"),
        absent=_outputs,
    ),
    Case(
        "correct-model-not-keras",
        lambda tmp: _correct_with(tmp, _scan(tmp)),
        CliFailure,
        ("scan.nii.gz", ".keras"),
        absent=_outputs,
    ),
    Case(
        "correct-model-plain-sequential",
        lambda tmp: _correct_with(tmp, _plain_sequential(tmp)),
        CliFailure,
        ("plain.keras", "not an mtmri model", "Sequential"),
        absent=_outputs,
    ),
    Case(
        "correct-out-is-a-file",
        lambda tmp: _correct(tmp, out=_a_file(tmp)),
        CliFailure,
        ("taken", "existing file, not a folder"),
    ),
    Case(
        "correct-out-not-writable",
        lambda tmp: _correct(tmp, out="/proc/mtmri-corrected"),
        CliFailure,
        ("/proc/mtmri-corrected", "not writable"),
    ),
    Case(
        "correct-out-empty-name",
        lambda tmp: _correct(tmp, out=""),
        CliFailure,
        ("output folder", "empty"),
    ),
    Case(
        "correct-earlier-set-needs-overwrite",
        _correct_twice,
        CliFailure,
        ("scan_corrected.nii.gz exists", "--overwrite"),
    ),
    Case(
        "correct-overwrite-replaces-the-set",
        lambda tmp: (_correct(tmp), _correct(tmp, "--overwrite")),
        None,
        check=_check_overwrite,
    ),
    Case(
        "correct-volume-beyond-float32",
        lambda tmp: _correct_array(_smooth_volume(1e300)),
        ValueError,
        ("largest magnitude", "e+299", "float32", "rescale"),
    ),
    Case(
        "correct-volume-with-nan",
        lambda tmp: _correct_array(np.where(_smooth_volume() > 0.5, np.nan, 1.0)),
        ValueError,
        ("NaN",),
    ),
    Case(
        "correct-volume-too-small",
        lambda tmp: _correct_array(np.ones((2, 8, 8))),
        ValueError,  # UnsupportedSizeError
        ("8 x 8", "at least 16"),
    ),
    Case(
        "correct-volume-batch-size-zero",
        lambda tmp: _correct_array(_smooth_volume(), batch_size=0),
        ValueError,
        ("batch_size", "0"),
    ),
]


# --------------------------------------------------------------------------- mtmri book


def _book(tmp: Path, *options: str) -> str:
    return _cli(["book", "--profile", "smoke", "--no-build", *options])


def _book_with_stamps(tmp: Path) -> Any:
    from mtmri_lib.report.runner import execute_notebooks

    (tmp / "stamps-smoke.json").write_text('{"book/data": "3fa')  # cut short by a crash
    return _recording(execute_notebooks, "smoke", build_dir=tmp, only=["no such chapter"])


def _check_stamps(result: Any, tmp: Path) -> None:
    runs, messages = result
    assert runs == []
    assert any("stamps-smoke.json" in m and "every notebook runs again" in m for m in messages)


CASES_BOOK = [
    Case(
        "book-build-dir-is-a-file",
        lambda tmp: _book(tmp, "--build-dir", str(_a_file(tmp))),
        CliFailure,
        ("mtmri book:", "taken", "existing file"),
    ),
    Case(
        "book-build-dir-not-writable",
        lambda tmp: _book(tmp, "--build-dir", "/proc/mtmri-build"),
        CliFailure,
        ("mtmri book:", "/proc/mtmri-build", "not writable"),
    ),
    Case(
        "book-build-dir-empty-name",
        lambda tmp: _book(tmp, "--build-dir", ""),
        CliFailure,
        ("mtmri book:", "build folder", "empty"),
    ),
    Case(
        "book-data-dir-missing",
        lambda tmp: _book(tmp, "--build-dir", str(tmp), "--data-dir", str(tmp / "fastmri")),
        CliFailure,
        ("mtmri book:", "--data-dir", "fastmri", "does not exist"),
        absent=lambda tmp: [tmp / "book_src"],
    ),
    Case(
        "book-data-dir-is-a-file",
        lambda tmp: _book(tmp, "--build-dir", str(tmp), "--data-dir", str(_a_file(tmp))),
        CliFailure,
        ("mtmri book:", "taken", "is a file"),
    ),
    Case(
        "book-unknown-profile",
        lambda tmp: _cli(["book", "--profile", "gpu"]),
        CliFailure,
        ("--profile", "'gpu'"),
    ),
    Case(
        "book-negative-seed",
        lambda tmp: _book(tmp, "--seed", "-3"),
        CliFailure,
        ("--seed", "got -3"),
    ),
    Case("book-stamps-half-written", _book_with_stamps, None, check=_check_stamps),
    Case(
        "bench-unknown-benchmark",
        lambda tmp: _cli(["bench", "speed-of-light"]),
        CliFailure,
        ("mtmri bench:", "'speed-of-light'", "available"),
    ),
]


ALL_CASES = [
    *CASES_ARTEFACTS,
    *CASES_READERS,
    *CASES_SEARCH,
    *CASES_MEASUREMENT,
    *CASES_LEARNING,
    *CASES_CORRECT,
    *CASES_BOOK,
]


def test_the_battery_is_large_and_its_ids_are_unique():
    ids = [case.id for case in ALL_CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len(ids) >= 60


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.id for case in ALL_CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        # A case's warnings are its own business (it records them): none escapes. Third-party
        # deprecation notices are not the input's fault and stay out of this.
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("error", RuntimeWarning)
        if case.error is None:
            result = case.call(tmp_path)
            if case.check is not None:
                case.check(result, tmp_path)
        else:
            with pytest.raises(case.error) as raised:
                case.call(tmp_path)
            message = str(raised.value)
            missing = [name for name in case.names if name not in message]
            assert not missing, f"the message {message!r} does not name {missing}"
    for path in case.absent(tmp_path) if case.absent else []:
        assert not path.exists(), f"{path} was left behind"
