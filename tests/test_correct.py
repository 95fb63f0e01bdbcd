"""``mtmri correct``: NIfTI and DICOM in, corrected and residual NIfTI volumes out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
nibabel = pytest.importorskip("nibabel")
pydicom = pytest.importorskip("pydicom")

from mtmri_lib import cli  # noqa: E402
from mtmri_lib.correct import (  # noqa: E402
    MIN_SIDE,
    UnsupportedSizeError,
    correct_file,
    correct_volume,
)
from mtmri_lib.data import VolumeReadError, prepare_slice, read_volume, znorm  # noqa: E402
from mtmri_lib.inference import model_method  # noqa: E402
from mtmri_lib.models import TASKS, build_model  # noqa: E402


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A smoke-size network (32 x 32), untrained: correcting is plumbing, not learning."""
    path = tmp_path_factory.mktemp("model") / "mt-smoke.keras"
    build_model("smoke", seed=1).save(path)
    return path


def _phantom_volume(shape=(4, 40, 36), seed=0) -> np.ndarray:
    """Smooth positive slices in scanner-like units (0-1000), one of them constant."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    volume = ndimage.gaussian_filter(rng.random(shape), (0, 3, 3)) * 1000 + 50
    volume[-1] = 7.0  # an empty slice: passed through unchanged
    return volume.astype(np.float32)


def _write_nifti(path: Path, data: np.ndarray) -> np.ndarray:
    affine = np.array(
        [[0.0, 0.0, 2.5, -30.0], [0.9, 0.0, 0.0, 12.0], [0.0, -1.1, 0.0, 40.0], [0, 0, 0, 1]]
    )
    nibabel.save(nibabel.Nifti1Image(data, affine), path)
    return affine


def _write_dicom_series(folder: Path, pixels: np.ndarray, step: float = 3.0) -> None:
    """A tiny axial DICOM series (uint16, rescaled), one file per slice."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir(parents=True)
    series = generate_uid()
    for k, image in enumerate(pixels):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "MR"
        ds.PatientID = "CORRECT-TEST"
        ds.SeriesInstanceUID = series
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-20.0, -18.0, 10.0 + k * step]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.9, 0.9]
        ds.SliceThickness = step
        ds.Rows, ds.Columns = image.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
        ds.PixelData = image.astype(np.uint16).tobytes()
        ds.save_as(folder / f"IM{k:04d}.dcm", enforce_file_format=True)


def test_nifti_in_nifti_out_with_the_inputs_geometry(tmp_path, model_file):
    data = _phantom_volume()  # NIfTI layout (x, y, z): slices along the last axis
    data = np.moveaxis(data, 0, -1).copy()
    affine = _write_nifti(tmp_path / "head.nii.gz", data)
    written = correct_file(tmp_path / "head.nii.gz", model_file, tmp_path / "out", progress=False)
    assert set(written) == {"corrected", "record", *(f"residual_{task}" for task in TASKS)}
    corrected = nibabel.load(written["corrected"])
    assert corrected.shape == data.shape
    np.testing.assert_allclose(corrected.affine, affine)
    residuals = sum(nibabel.load(written[f"residual_{task}"]).get_fdata() for task in TASKS)
    np.testing.assert_allclose(corrected.get_fdata(), data + residuals, rtol=1e-5, atol=1e-3)
    # The empty slice (the last along z) is passed through, and said so.
    np.testing.assert_array_equal(corrected.get_fdata()[..., -1], data[..., -1])
    record = json.loads(written["record"].read_text())
    assert record["skipped_constant_slices"] == [3] and record["model_size"] == 32
    assert record["model_label"] == "mtmri_smoke" and len(record["model_sha256"]) == 64


def test_at_the_models_size_the_correction_is_the_models_output(model_file):
    method = model_method(model_file)
    volume = _phantom_volume((3, 32, 32))[:2] * 3 + 100
    # A plateau at each slice's maximum: the robust maximum is the maximum, so the
    # preparation clips nothing and the correction is exactly the model's output.
    volume[:, :2, :2] = volume.max(axis=(1, 2))[:, None, None]
    result = correct_volume(volume, method, progress=False)
    for i in range(2):
        expected = method(prepare_slice(volume[i], 32))
        np.testing.assert_allclose(
            znorm(result.corrected[i].astype(np.float64)), expected, atol=1e-4
        )


def test_only_the_residual_is_resampled(model_file):
    """Correcting a 96 x 96 slice with a 32 x 32 model changes only its lowest frequencies:
    the input's fine detail reaches the output untouched."""
    from mtmri_lib.fourier import fft2c

    volume = _phantom_volume((2, 96, 96))[:1]
    volume[0, ::2, ::2] += 200.0  # detail at the Nyquist frequency, far beyond the model's grid
    result = correct_volume(volume, model_method(model_file), progress=False)
    change = fft2c(result.corrected[0].astype(np.float64) - volume[0])
    inside = np.zeros(change.shape, dtype=bool)
    # The model's band, offsets -16..15 from the centre, and the mirror of its Nyquist line
    # (the residual is real).
    inside[48 - 16 : 48 + 17, 48 - 16 : 48 + 17] = True
    assert np.sum(np.abs(change[inside]) ** 2) > 0
    assert np.sum(np.abs(change[~inside]) ** 2) < 1e-8 * np.sum(np.abs(change) ** 2)


def test_dicom_folder_in_nifti_out(tmp_path, model_file):
    pixels = np.clip(_phantom_volume((3, 40, 36)), 0, None).astype(np.uint16)
    _write_dicom_series(tmp_path / "series", pixels)
    code = cli.main(
        [
            "correct",
            str(tmp_path / "series"),
            "--model",
            str(model_file),
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    assert code == 0
    corrected = nibabel.load(tmp_path / "o" / "series_corrected.nii.gz")
    source = read_volume(tmp_path / "series")
    assert corrected.shape == (3, 40, 36)
    np.testing.assert_allclose(corrected.affine, source.affine)
    assert (tmp_path / "o" / "series_residual_noise.nii.gz").exists()


def test_progress_is_shown(tmp_path, model_file, capsys):
    correct_volume(_phantom_volume((2, 32, 32)), model_method(model_file), progress=True)
    assert "correcting" in capsys.readouterr().err


def test_clear_errors(tmp_path, model_file, capsys):
    nifti = tmp_path / "small.nii"
    _write_nifti(nifti, np.ones((8, 8, 3), np.float32))
    with pytest.raises(UnsupportedSizeError, match=f"at least {MIN_SIDE}"):
        correct_file(nifti, model_file, tmp_path / "o", progress=False)
    long = tmp_path / "long.nii"
    _write_nifti(long, np.random.default_rng(0).random((200, 20, 2)).astype(np.float32))
    with pytest.raises(UnsupportedSizeError, match="elongated"):
        correct_file(long, model_file, tmp_path / "o", progress=False)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(VolumeReadError, match="unknown volume format"):
        correct_file(text, model_file, tmp_path / "o", progress=False)
    with pytest.raises(FileNotFoundError):
        correct_file(tmp_path / "missing.nii.gz", model_file, tmp_path / "o", progress=False)
    good = tmp_path / "good.nii.gz"
    _write_nifti(good, np.moveaxis(_phantom_volume(), 0, -1).copy())
    with pytest.raises(ValueError, match=r"\.keras"):
        correct_file(good, good, tmp_path / "o", progress=False)
    inputs = keras.Input((32, 32, 1))
    other = tmp_path / "other.keras"
    keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs)).save(other)
    with pytest.raises(ValueError, match="not an mtmri model"):
        correct_file(good, other, tmp_path / "o", progress=False)
    # The command line says what is wrong, without a traceback, and exits with 2.
    code = cli.main(["correct", str(text), "--model", str(model_file), "--out", str(tmp_path)])
    assert code == 2
    assert "mtmri correct:" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "x"])
def test_batch_size_is_checked_before_anything_runs(tmp_path, model_file, capsys, value):
    # -1 used to exit 0 with all residuals zero (an empty range), 0 with range()'s message.
    good = tmp_path / "good.nii.gz"
    _write_nifti(good, np.moveaxis(_phantom_volume(), 0, -1).copy())
    argv = ["correct", str(good), "--model", str(model_file), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, "--batch-size", value])
    assert stop.value.code == 2
    assert "--batch-size" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises((ValueError, TypeError), match="batch_size"):
        correct_file(good, model_file, tmp_path / "o", batch_size=-1, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        correct_volume(_phantom_volume((2, 32, 32)), model_method(model_file), batch_size=0)


def _good_input(tmp_path: Path) -> Path:
    good = tmp_path / "scan.nii.gz"
    _write_nifti(good, np.moveaxis(_phantom_volume(), 0, -1).copy())
    return good


def test_a_write_failing_part_way_leaves_no_file_under_its_final_name(
    tmp_path, model_file, monkeypatch
):
    good, out = _good_input(tmp_path), tmp_path / "out"
    real_save, saved = nibabel.save, []

    def failing_save(image, path):  # the second file meets a full disk
        if saved:
            real_save(image, path)
            with open(path, "r+b") as handle:
                handle.truncate(100)
            raise OSError(28, "No space left on device")
        saved.append(path)
        real_save(image, path)

    monkeypatch.setattr(nibabel, "save", failing_save)
    with pytest.raises(OSError, match="No space left"):
        correct_file(good, model_file, out, progress=False)
    assert not out.exists()  # made for this run, removed again: nothing half-written


def test_an_existing_set_is_kept_unless_overwrite_and_a_failed_rerun_changes_nothing(
    tmp_path, model_file, monkeypatch, capsys
):
    good, out = _good_input(tmp_path), tmp_path / "out"
    first = correct_file(good, model_file, out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == sorted(p.name for p in first.values())
    with pytest.raises(FileExistsError, match="--overwrite"):
        correct_file(good, model_file, out, progress=False)
    code = cli.main(["correct", str(good), "--model", str(model_file), "--out", str(out)])
    assert code == 2 and "--overwrite" in capsys.readouterr().err
    # A re-run with another model (one head only) that fails part way: the first set stays.
    single = tmp_path / "bias.keras"
    build_model("smoke", tasks=("bias",), seed=2).save(single)
    real_save = nibabel.save
    calls = []

    def failing_save(image, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_save(image, path)

    monkeypatch.setattr(nibabel, "save", failing_save)
    with pytest.raises(OSError):
        correct_file(good, single, out, progress=False, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    monkeypatch.setattr(nibabel, "save", real_save)
    # The same re-run completed: one set, the new model's, with no stale heads.
    written = correct_file(good, single, out, progress=False, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written.values())
    assert not (out / "scan_residual_motion.nii.gz").exists()
    record = json.loads(written["record"].read_text())
    assert record["model"] == str(single)


def test_the_output_location_is_checked_before_computing(tmp_path, model_file, monkeypatch):
    import mtmri_lib.correct as correct_module

    def must_not_run(*args, **kwargs):
        raise AssertionError("the volume was corrected before the output was checked")

    monkeypatch.setattr(correct_module, "correct_volume", must_not_run)
    good = _good_input(tmp_path)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(NotADirectoryError, match="a_file"):
        correct_file(good, model_file, a_file, progress=False)
    with pytest.raises(ValueError, match="empty"):
        correct_file(good, model_file, "", progress=False)
    with pytest.raises(PermissionError, match="/proc"):
        correct_file(good, model_file, "/proc/mtmri-out", progress=False)


def test_a_plain_sequential_model_is_not_an_mtmri_model(tmp_path, model_file):
    plain = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(1, 3, padding="same")]).save(
        plain
    )
    with pytest.raises(ValueError, match="plain.keras: not an mtmri model"):
        correct_file(_good_input(tmp_path), plain, tmp_path / "o", progress=False)


def test_intensities_beyond_float32_are_refused(model_file):
    with pytest.raises(ValueError, match="largest magnitude"):
        correct_volume(_phantom_volume((2, 32, 32)).astype(np.float64) * 1e300, model_file)


def _with_batch_statistics(model, seed=1):
    """Give every batch normalisation non-trivial moving statistics, scale and offset."""
    import keras

    rng = np.random.default_rng(seed)
    count = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, c),
                    rng.normal(0, 0.2, c),
                    rng.normal(0, 0.3, c),
                    rng.uniform(0.3, 2.0, c),
                ]
            )
            count += 1
    assert count > 0
    return model


def test_folding_batch_norm_keeps_the_outputs_within_1e_5():
    import keras

    from mtmri_lib.inference import fold_batch_norm

    model = _with_batch_statistics(build_model("smoke", seed=3))
    folded = fold_batch_norm(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert [layer.name for layer in folded.layers] == [layer.name for layer in model.layers]
    assert sorted(folded.output) == sorted(model.output)
    x = np.random.default_rng(0).standard_normal((3, 32, 32, 1)).astype(np.float32)
    expected, got = model.predict_on_batch(x), folded.predict_on_batch(x)
    for key in expected:
        assert np.max(np.abs(got[key] - expected[key])) < 1e-5, key
    # The original is left as it was.
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_a_folded_corrector_corrects_like_the_original_and_is_cached_apart():
    model = _with_batch_statistics(build_model("smoke", seed=4))
    plain = model_method(model, batch_size=2)
    folded = model_method(model, batch_size=2, fold_batch_norm=True)
    assert folded.version == plain.version + "+bn-folded"
    stack = np.random.default_rng(2).random((5, 32, 32))
    np.testing.assert_allclose(folded(stack), plain(stack), atol=1e-5)


def test_a_stack_runs_in_batches_of_one_shape_and_the_padding_changes_nothing():
    model = build_model("smoke", seed=5)
    corrector = model_method(model, batch_size=4)
    shapes = []
    original = corrector.model.predict_on_batch
    corrector.model.predict_on_batch = lambda x: shapes.append(x.shape) or original(x)
    stack = np.random.default_rng(3).random((6, 32, 32))
    done = []
    outputs = corrector.outputs(stack, on_batch=done.append)
    assert shapes == [(4, 32, 32, 1), (4, 32, 32, 1)]  # the last batch padded
    assert done == [4, 2]
    for i in range(6):  # each slice as if corrected on its own
        alone = corrector.outputs(stack[i])
        for key, value in alone.items():
            np.testing.assert_allclose(outputs[key][i], value, atol=1e-5)
    assert shapes[-1] == (1, 32, 32, 1)  # a stack of one batch or less runs as it is


def test_corrector_options_are_checked():
    model = build_model("smoke", seed=5)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            model_method(model, batch_size=bad)
    with pytest.raises(ValueError, match="jit_compile"):
        model_method(model, jit_compile="yes")


def test_forward_flops_count_each_convolution_once_per_output_pixel():
    import keras

    from mtmri_lib.inference import forward_flops

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.Conv2D(2, 3, strides=2, padding="same")(x)
    counts = forward_flops(keras.Model(inputs, x))
    assert counts["conv"] == 2 * 8 * 8 * 9 * 1 * 4 + 2 * 4 * 4 * 9 * 4 * 2
    assert counts["total"] == counts["conv"]
    model = build_model("smoke", seed=0)
    counts = forward_flops(model)
    by_kernel = sum(
        2.0 * layer.output.shape[1] * layer.output.shape[2] * np.prod(layer.kernel.shape)
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
    )
    assert counts["conv"] == by_kernel
    assert counts["fft"] > 0 and counts["elementwise"] > 0
    assert counts["total"] == counts["conv"] + counts["fft"] + counts["elementwise"]
