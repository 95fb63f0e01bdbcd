"""Correcting a user's volume with a trained model: the ``mtmri correct`` command.

A trained network works at one size (its config's ``image_size``, 320 for the article's). A
user's volume has slices of any size, and its fine detail should not be blurred by a trip
through a smaller (or larger) grid. So each slice goes:

1. padded to a square of side N = max(H, W), Fourier-resized to the model's size S, its
   ringing below 0 and outside the slice's support removed, scaled by a robust maximum to
   [0, 1] and z-normalised, exactly as the training slices were
   (`mtmri_lib.data.prepare.prepare_slice_scaled`, then the pipeline's z-norm);
2. through the model, which returns one residual p_i per artefact (in the z-normalised
   units of its input);
3. each residual is brought back to the **input's intensity units** by undoing the two
   scalings of step 1, ``p_i * sd * scale`` (sd: the standard deviation of the [0, 1]
   slice; scale: the robust maximum it was divided by), then Fourier-resized from S back
   to N and the padding cropped away;
4. the corrected slice is the input slice plus the sum of these residuals.

At the model's size, the corrected slice z-normalised equals the model's own output
znorm(u + sum of p_i) wherever step 1 clipped nothing (no pixel below 0, none above the
robust maximum): the correction is the model's, expressed in the input's units. Only
the (smooth) residual is resampled, so the input's own detail reaches the output untouched.
The model's last z-normalisation is not applied: the corrected volume keeps the input's
intensity scale, so it can be compared with the input voxel by voxel.

Slices that are constant (no image) are passed through unchanged, with zero residuals.
The output NIfTI files keep the input's geometry: a NIfTI input's own layout, affine and
header; a DICOM series as (slice, row, column) with the affine the reader computed (RAS).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import check_int
from .data import read_volume
from .data.prepare import prepare_slice_scaled
from .data.readers import volume_format
from .fourier import fourier_resize
from .store import atomic_files, atomic_write_json, check_writable_folder, refuse_earlier_set

__all__ = [
    "MIN_SIDE",
    "MAX_ASPECT",
    "UnsupportedSizeError",
    "CorrectedVolume",
    "correct_volume",
    "write_corrected",
    "output_names",
    "correct_file",
]

#: The shortest slice side accepted, in pixels.
MIN_SIDE = 16

#: The largest ratio of a slice's long side to its short side: a longer slice, padded to a
#: square, would leave most of the model's field of view to padding.
MAX_ASPECT = 4.0


#: Intensities above this would overflow the float32 outputs once a residual is added.
_FLOAT32_SAFE = float(np.finfo(np.float32).max) / 8


class UnsupportedSizeError(ValueError):
    """A volume whose slices the model cannot correct (too small or too elongated)."""


@dataclass
class CorrectedVolume:
    """The result of `correct_volume`.

    Attributes
    ----------
    corrected : ndarray of shape (slices, H, W), float32
        Input plus the summed residual, in the input's intensity units.
    residuals : dict
        ``{artefact: ndarray (slices, H, W) float32}``, each head's residual in the input's
        units (their sum is ``corrected - input``).
    input : ndarray of shape (slices, H, W), float32
    affine : ndarray (4, 4) or None
    model_size : int
        The side of the model's input.
    skipped : list of int
        Constant slices, left unchanged.
    scale : ndarray of shape (slices,)
        Per slice, the factor that brings a residual from the model's units to the input's.
    """

    corrected: np.ndarray
    residuals: dict[str, np.ndarray]
    input: np.ndarray
    affine: np.ndarray | None
    model_size: int
    skipped: list[int] = field(default_factory=list)
    scale: np.ndarray | None = None


def _check_size(shape: tuple[int, ...], source: str) -> None:
    height, width = (int(v) for v in shape[-2:])
    if min(height, width) < MIN_SIDE:
        raise UnsupportedSizeError(
            f"{source}: slices of {height} x {width} pixels are too small; each side must be "
            f"at least {MIN_SIDE}"
        )
    if max(height, width) / min(height, width) > MAX_ASPECT:
        raise UnsupportedSizeError(
            f"{source}: slices of {height} x {width} pixels are too elongated (more than "
            f"{MAX_ASPECT:g} times longer than wide); slice along another axis (--axis)"
        )


def _crop(square: np.ndarray, height: int, width: int) -> np.ndarray:
    """Undo `pad_to_square` on the last two axes."""
    side = square.shape[-1]
    top, left = (side - height) // 2, (side - width) // 2
    return square[..., top : top + height, left : left + width]


def correct_volume(
    volume: Any,
    model: Any,
    *,
    batch_size: int = 8,
    progress: bool = True,
) -> CorrectedVolume:
    """Correct every slice of a volume with a trained model (see the module docstring).

    Parameters
    ----------
    volume : Volume or ndarray of shape (slices, H, W)
        From `mtmri_lib.data.read_volume` (raw intensities), or an array.
    model : ModelCorrector, keras.Model or path
        A trained model (`mtmri_lib.inference.model_method` accepts all three).
    batch_size : int
        Slices per forward pass (a `ModelCorrector` given with another batch size is run at
        this one). Every pass of a volume longer than one batch has this many slices (the
        last one padded), so the compiled forward function is built once.
    progress : bool
        Show a progress bar (tqdm).

    Raises
    ------
    UnsupportedSizeError
        Slices smaller than `MIN_SIDE` or more elongated than `MAX_ASPECT`.
    ValueError
        ``batch_size`` below 1, NaN or infinite values in the volume, or a correction that
        is not finite (intensities beyond float32's range).
    """
    from tqdm.auto import tqdm

    from .inference import ModelCorrector, model_method  # TensorFlow: only to correct

    batch_size = check_int("batch_size", batch_size, 1)
    if isinstance(model, ModelCorrector):
        corrector = model
        if corrector.batch_size != batch_size:
            corrector = copy.copy(corrector)
            corrector.batch_size = batch_size
    else:
        corrector = model_method(model, batch_size=batch_size)
    data = np.asarray(getattr(volume, "data", volume), dtype=np.float64)
    affine = getattr(volume, "affine", None)
    source = str(getattr(volume, "source", "") or "volume")
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise UnsupportedSizeError(f"{source}: expected a 3-D volume; got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{source}: the volume holds NaN or infinite values")
    largest = float(np.abs(data).max()) if data.size else 0.0
    if largest > _FLOAT32_SAFE:
        raise ValueError(
            f"{source}: the volume's largest magnitude, {largest:.3g}, is beyond what the "
            f"float32 outputs can hold (at most {_FLOAT32_SAFE:.3g}); rescale the volume first"
        )
    _check_size(data.shape, source)
    n_slices, height, width = data.shape
    side, size = max(height, width), corrector.image_size
    residuals = {task: np.zeros(data.shape, dtype=np.float32) for task in corrector.tasks}
    scale = np.zeros(n_slices)
    skipped, kept, inputs = [], [], []
    for i in range(n_slices):
        if data[i].max() <= data[i].min():  # no image (padding would make one)
            skipped.append(i)
            continue
        try:
            unit, robust = prepare_slice_scaled(data[i], size)
        except ValueError:  # nothing above 0: no image to correct
            skipped.append(i)
            continue
        deviation = float(unit.std())
        if deviation == 0.0:
            skipped.append(i)
            continue
        inputs.append(unit)
        kept.append(i)
        scale[i] = deviation * robust
    with tqdm(total=n_slices, unit="slice", desc="correcting", disable=not progress) as bar:
        bar.update(len(skipped))
        if inputs:
            # One call: the corrector cuts the stack into batches of one shape, so its
            # compiled forward pass is built once. It z-normalises each slice, as the
            # training pipeline did.
            heads = corrector.residuals(np.stack(inputs), on_batch=bar.update)
            factors = scale[kept][:, None, None]
            for task, values in heads.items():
                for start in range(0, len(kept), batch_size):  # bounded float64 copies
                    part = slice(start, start + batch_size)
                    upsampled = fourier_resize(
                        values[part].astype(np.float64) * factors[part], side
                    )
                    residuals[task][kept[part]] = _crop(upsampled, height, width)
    with np.errstate(over="ignore", invalid="ignore"):
        corrected = (data + sum(residuals.values())).astype(np.float32)
    if not np.all(np.isfinite(corrected)):
        raise ValueError(
            f"{source}: the correction is not finite in float32 (the volume's largest "
            f"magnitude is {np.abs(data).max():.3g}); rescale the volume before correcting it"
        )
    return CorrectedVolume(
        corrected=corrected,
        residuals=residuals,
        input=data.astype(np.float32),
        affine=None if affine is None else np.asarray(affine, dtype=np.float64),
        model_size=size,
        skipped=skipped,
        scale=scale,
    )


def _stem(path: Path) -> str:
    name = path.name.rstrip("/")
    for suffix in (".nii.gz", ".nii", ".dcm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def output_names(stem: str, tasks: Sequence[str]) -> list[str]:
    """The file names of one correction's output set, the JSON record last."""
    return [
        f"{stem}_corrected.nii.gz",
        *(f"{stem}_residual_{task}.nii.gz" for task in tasks),
        f"{stem}_correction.json",
    ]


def _earlier_set(out_dir: Path, stem: str) -> list[str]:
    """Files of an earlier output set with the same stem (another model's heads too)."""
    if not out_dir.is_dir():
        return []
    patterns = (f"{stem}_corrected.nii.gz", f"{stem}_residual_*.nii.gz", f"{stem}_correction.json")
    return sorted({path.name for pattern in patterns for path in out_dir.glob(pattern)})


def write_corrected(
    result: CorrectedVolume,
    out_dir: str | os.PathLike,
    *,
    stem: str = "volume",
    nifti_source: str | os.PathLike | None = None,
    slice_axis: int | None = None,
    extra: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write the corrected volume and the residual volumes as NIfTI files, as one set.

    Files: ``<stem>_corrected.nii.gz`` and ``<stem>_residual_<artefact>.nii.gz`` (one per
    head), and ``<stem>_correction.json`` (what was done). With ``nifti_source`` (the input
    NIfTI file) and its ``slice_axis``, the outputs take its layout, affine and header;
    otherwise the (slice, row, column) layout with ``result.affine`` (the identity, and a
    note in the JSON, when the input had no geometry).

    The set is written into a staging folder inside ``out_dir`` and moved into place only
    when every file is complete (`mtmri_lib.store.atomic_files`): a failure part way (a
    full disk) leaves ``out_dir`` as it was. An earlier set of the same stem raises
    `FileExistsError` unless ``overwrite``; with it, the earlier set's files are replaced
    (or removed, for heads the new model lacks).

    Returns ``{"corrected": path, "residual_<artefact>": path, ..., "record": path}``.
    """
    import nibabel

    out_dir = Path(out_dir)
    volumes = {"corrected": result.corrected}
    volumes.update({f"residual_{task}": values for task, values in result.residuals.items()})
    header, affine, shape = None, result.affine, None
    if nifti_source is not None:
        original = nibabel.load(nifti_source)
        if not isinstance(original, nibabel.spatialimages.SpatialImage):
            raise ValueError(f"{nifti_source}: not an image with a geometry (affine and shape)")
        header, affine, shape = original.header.copy(), original.affine, original.shape
    geometry = "the input's affine"
    if affine is None:
        affine = np.eye(4)
        geometry = "none in the input: identity affine (voxel indices)"
    names = output_names(stem, list(result.residuals))
    written = {}
    with atomic_files(
        out_dir, names, overwrite=overwrite, replaces=_earlier_set(out_dir, stem)
    ) as staging:
        for name, values in volumes.items():
            array = values
            if shape is not None:
                array = np.moveaxis(values, 0, slice_axis if slice_axis is not None else 2)
                array = array.reshape(shape)
            image = nibabel.Nifti1Image(np.asarray(array, dtype=np.float32), affine, header=header)
            image.set_data_dtype(np.float32)
            if header is not None:
                image.header.set_slope_inter(1.0, 0.0)
            file_name = f"{stem}_{name}.nii.gz"
            nibabel.save(image, staging / file_name)
            written[name] = out_dir / file_name
        record = {
            "outputs": {name: path.name for name, path in written.items()},
            "geometry": geometry,
            "model_size": result.model_size,
            "slices": int(result.corrected.shape[0]),
            "slice_shape": list(result.corrected.shape[1:]),
            "skipped_constant_slices": result.skipped,
            "intensity": (
                "input units: each residual times the slice's [0, 1] range and z-norm standard "
                "deviation, Fourier-resized back to the input size and added to the input"
            ),
            **(dict(extra) if extra else {}),
        }
        atomic_write_json(staging / names[-1], record)
        written["record"] = out_dir / names[-1]
    return written


def correct_file(
    input_path: str | os.PathLike,
    model_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    axis: int | None = None,
    batch_size: int = 8,
    progress: bool = True,
    overwrite: bool = False,
    jit_compile: bool | None = None,
    fold_batch_norm: bool = False,
) -> dict[str, Path]:
    """Read a NIfTI file or DICOM folder, correct it, write NIfTI files (``mtmri correct``).

    ``jit_compile`` and ``fold_batch_norm`` choose how the model runs
    (`mtmri_lib.inference.ModelCorrector`); the outputs agree within float32 rounding.

    Everything that can be checked is checked before the correction starts: the options,
    the input, the model, that ``out_dir`` is a writable folder and that it holds no
    earlier output set of this input (unless ``overwrite``). The outputs appear together,
    complete, or not at all (`write_corrected`).

    Raises
    ------
    FileNotFoundError
        The input or the model does not exist.
    FileExistsError
        ``out_dir`` holds an earlier output set of this input and ``overwrite`` is false.
    PermissionError, NotADirectoryError
        ``out_dir`` cannot be written.
    mtmri_lib.data.VolumeReadError
        The input is not a readable volume.
    ValueError
        The model is not an mtmri model; `UnsupportedSizeError` for slices it cannot handle.
    """
    from .inference import model_method  # TensorFlow: only to correct

    batch_size = check_int("batch_size", batch_size, 1)
    input_path = Path(input_path)
    if not input_path.exists():
        raise FileNotFoundError(f"{input_path}: no such file or folder")
    kind = volume_format(input_path)
    if kind not in ("nifti", "dicom"):
        raise ValueError(
            f"{input_path}: mtmri correct takes a NIfTI file or a DICOM folder; got a {kind} file"
        )
    corrector = model_method(
        model_path, batch_size=batch_size, jit_compile=jit_compile, fold_batch_norm=fold_batch_norm
    )
    stem = _stem(input_path)
    made = not Path(out_dir).exists()
    out = check_writable_folder(out_dir)
    refuse_earlier_set(out, _earlier_set(out, stem), overwrite=overwrite)
    try:
        volume = read_volume(input_path, axis=axis)
        result = correct_volume(volume, corrector, batch_size=batch_size, progress=progress)
        nifti = kind == "nifti"
        return write_corrected(
            result,
            out,
            stem=stem,
            overwrite=overwrite,
            nifti_source=input_path if nifti else None,
            slice_axis=volume.metadata.get("slice_axis") if nifti else None,
            extra={
                "input": str(input_path),
                "model": str(model_path),
                "model_label": corrector.name,
                "model_sha256": corrector.weights_digest,
                "batch_norm_folded": corrector.folded,
            },
        )
    except BaseException:
        if made and not any(out.iterdir()):
            out.rmdir()  # made by the check above: leave no trace of a failed run
        raise
