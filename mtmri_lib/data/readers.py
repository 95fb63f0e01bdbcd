"""Readers of MR volumes: fastMRI brain HDF5, DICOM series folders and NIfTI files.

`read_volume` reads one volume and raises on any problem, naming the file and what is wrong;
`read_volumes` / `iter_volumes` read a folder (or list) of volumes and skip the bad ones with
a warning each and a count at the end, never silently.

Every reader returns a `Volume` with ``data`` of shape (slices, H, W), raw float32
intensities, and an ``affine`` (where the format has geometry) that maps the returned
(slice, row, column) indices to RAS scanner coordinates in mm, the NIfTI convention.

Nothing is dropped silently: a DICOM series with an unreadable slice or a gap in its slice
positions is an error (a volume one slice short, or an affine that is wrong after the gap,
would be wrong data); complex-valued images are read as their magnitude with a warning.

h5py, pydicom and nibabel are imported only by the reader that needs them (the ``data``
extra of the package).
"""

from __future__ import annotations

import os
import re
import warnings
import xml.etree.ElementTree as ElementTree
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..fourier import ifft2c
from .volume import Volume, VolumeReadError, reslice

__all__ = [
    "read_volume",
    "read_volumes",
    "iter_volumes",
    "find_volume_paths",
    "patient_id_of",
    "volume_format",
    "VolumeReadError",
]

HDF5_SUFFIXES = (".h5", ".hdf5")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
DICOM_SUFFIXES = (".dcm", ".ima")


def volume_format(path: str | os.PathLike) -> str:
    """``"fastmri"``, ``"nifti"`` or ``"dicom"`` from the path (a folder is a DICOM series).

    Raises FileNotFoundError for a missing path and VolumeReadError for another suffix.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        return "dicom"
    name = path.name.lower()
    if name.endswith(HDF5_SUFFIXES):
        return "fastmri"
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(DICOM_SUFFIXES):
        return "dicom"
    raise VolumeReadError(
        path,
        "unknown volume format; expected a fastMRI .h5 file, a .nii/.nii.gz file, "
        "a .dcm file or a folder holding one DICOM series",
    )


def read_volume(
    path: str | os.PathLike, *, axis: int | None = None, from_kspace: bool = False
) -> Volume:
    """Read one MR volume.

    Parameters
    ----------
    path : str or path-like
        A fastMRI brain ``.h5`` file, a ``.nii`` / ``.nii.gz`` file, a folder holding one DICOM
        series (or a single ``.dcm`` file).
    axis : int or None
        NIfTI only: the array axis to slice along (0, 1 or 2, or -3, -2, -1 counting from the
        last); default the last.
    from_kspace : bool
        fastMRI only: instead of the stored ``reconstruction_rss``, reconstruct each slice as
        the root-sum-of-squares over coils of the inverse FFT of ``kspace``, with the 2x readout
        oversampling removed and the image centre cropped to the stored reconstruction's size
        (or to a square of the smaller side when the file has none).

    Returns
    -------
    Volume
        ``data`` float32 (slices, H, W), raw intensities; ``patient_id``; ``affine`` (4x4,
        RAS mm, or None); ``source`` (the path); ``metadata``.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    TypeError, ValueError
        ``axis`` is not None or an int in [-3, 2], or ``axis`` / ``from_kspace`` is given for
        a format it does not apply to.
    VolumeReadError
        The file exists but is truncated, malformed or of another kind, holds no voxels (an
        axis of length 0), NaN or infinite values, or is not one grey-level volume; the message
        names the file and the problem. A DICOM series fails as a whole when one of its
        slices is unreadable (naming that file) or when its slice positions (or, without
        geometry, its instance numbers) have a gap (naming the slices around it). A folder
        with several DICOM series lists them.

    Warns
    -----
    UserWarning
        Complex-valued data (a complex NIfTI, or a complex ``reconstruction_rss``) is read as
        its magnitude: the warning names the file, and ``metadata["complex"]`` records that the
        phase was discarded. MR images are magnitude images; the phase is not used here.
        Files in a DICOM folder that are not DICOM images (notes, reports) are skipped with a
        warning.
    """
    axis = _check_axis(axis)
    kind = volume_format(path)
    if axis is not None and kind != "nifti":
        raise ValueError(f"axis applies to NIfTI files only; {path} is read as {kind}")
    if from_kspace and kind != "fastmri":
        raise ValueError(f"from_kspace applies to fastMRI .h5 files only; {path} is read as {kind}")
    if kind == "fastmri":
        return _read_fastmri(Path(path), from_kspace=bool(from_kspace))
    if kind == "nifti":
        return _read_nifti(Path(path), axis=axis)
    path = Path(path)
    if path.is_dir():
        return _read_dicom_folder(path)
    return read_dicom_files([path], name=path)


def find_volume_paths(folder: str | os.PathLike) -> list[Path]:
    """The volumes in a folder: fastMRI / NIfTI files, and sub-folders (each one DICOM series).

    A folder that itself holds DICOM files (and no volume files) is one series: returned
    as ``[folder]``. Files of other kinds are ignored with a warning that counts them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    volumes: list[Path] = []
    dicom_files: list[Path] = []
    ignored: list[Path] = []
    for entry in entries:
        if entry.is_dir():
            volumes.append(entry)
            continue
        name = entry.name.lower()
        if name.endswith(HDF5_SUFFIXES + NIFTI_SUFFIXES):
            volumes.append(entry)
        elif name.endswith(DICOM_SUFFIXES):
            dicom_files.append(entry)
        else:
            ignored.append(entry)
    if dicom_files and not any(p.is_file() for p in volumes):
        return [folder]
    ignored += dicom_files
    if ignored:
        shown = ", ".join(p.name for p in ignored[:5]) + (" ..." if len(ignored) > 5 else "")
        warnings.warn(
            f"{folder}: ignored {len(ignored)} file(s) that are not volumes: {shown}",
            stacklevel=2,
        )
    return volumes


def iter_volumes(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    axis: int | None = None,
    from_kspace: bool = False,
    on_error: str = "warn",
) -> Iterator[Volume]:
    """Read volumes one at a time (a folder, or a list of paths); see `read_volumes`."""
    if on_error not in ("warn", "raise"):
        raise ValueError(f"on_error must be 'warn' or 'raise'; got {on_error!r}")
    # A bad axis is the caller's mistake, not a bad file: raise before reading anything.
    axis = _check_axis(axis)
    if isinstance(paths, (str, os.PathLike)):
        if Path(paths).is_dir():
            folder = paths
            paths = find_volume_paths(folder)
            if not paths:
                # An empty result from a folder is most often a wrong path or a wrong layout.
                warnings.warn(
                    f"{folder}: the folder holds no volume (expected fastMRI .h5 or NIfTI "
                    ".nii/.nii.gz files, DICOM files or sub-folders of DICOM series)",
                    stacklevel=2,
                )
        else:
            paths = [Path(paths)]
    paths = [Path(p) for p in paths]
    skipped: list[str] = []
    for path in paths:
        try:
            volume = read_volume(path, axis=axis, from_kspace=from_kspace)
        except (OSError, VolumeReadError) as error:
            if on_error == "raise":
                raise
            skipped.append(str(path))
            # A DICOM series fails on one of its files: name the volume skipped, then the file.
            inner = isinstance(error, VolumeReadError) and error.path != os.fspath(path)
            about = f"{path}: {error}" if inner else str(error)
            warnings.warn(f"skipped {about}", stacklevel=2)
            continue
        yield volume
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} of {len(paths)} volume(s) that could not be read",
            stacklevel=2,
        )


def read_volumes(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    axis: int | None = None,
    from_kspace: bool = False,
    on_error: str = "warn",
) -> list[Volume]:
    """Read every volume of a folder (see `find_volume_paths`) or of a list of paths.

    A file that cannot be read is skipped with a warning naming it and the problem, and a
    final warning counts the skipped files (``on_error="raise"`` raises instead). A DICOM
    series is skipped as a whole (never one slice of it) when any slice is unreadable or
    missing. A folder that holds no volume gives ``[]`` with a warning saying so.
    """
    return list(iter_volumes(paths, axis=axis, from_kspace=from_kspace, on_error=on_error))


def patient_id_of(path: str | os.PathLike) -> str:
    """The patient of a volume without reading its pixels (for splits by patient)."""
    path = Path(path)
    kind = volume_format(path)
    if kind == "fastmri":
        h5py = _import("h5py")
        try:
            with h5py.File(path, "r") as handle:
                return _fastmri_patient(handle, path)
        except OSError as error:
            raise VolumeReadError(path, f"not a readable HDF5 file ({error})") from error
    if kind == "nifti":
        return _stem_patient(path)
    files = _dicom_candidates(path) if path.is_dir() else [path]
    pydicom = _import("pydicom")
    for file in files:
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - a stray file; read_volume reports it
            continue
        value = str(header.get("PatientID", "") or "").strip()
        if value:
            return value
    return path.stem


# --------------------------------------------------------------------------- helpers


def _import(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"reading this format needs {name}; install the data extra: pip install 'mtmri[data]'"
        ) from error


def _stem(path: Path) -> str:
    name = path.name
    for suffix in NIFTI_SUFFIXES[::-1] + HDF5_SUFFIXES + DICOM_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _stem_patient(path: Path) -> str:
    """The file stem, or the BIDS subject (``sub-XX``) when the name starts with one."""
    stem = _stem(path)
    match = re.match(r"(sub-[A-Za-z0-9]+)", stem)
    return match.group(1) if match else stem


def _check_axis(axis: Any) -> int | None:
    """``axis`` as an int in [-3, 2] or None; a float or bool is refused, not truncated."""
    if axis is None:
        return None
    allowed = "None or an int: 0, 1 or 2 (or -3, -2, -1 counting from the last)"
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be {allowed}; got {axis!r} ({type(axis).__name__})")
    if not -3 <= int(axis) <= 2:
        raise ValueError(f"axis must be {allowed}; got {int(axis)}")
    return int(axis)


def _check_voxels(shape: tuple[int, ...], path: Path, what: str = "the volume") -> None:
    """Refuse an array with an axis of length 0: it holds no image to read."""
    if 0 in shape:
        raise VolumeReadError(path, f"{what} has no voxels: shape {tuple(shape)}")


def _magnitude_warning(path: Path, what: str, dtype: Any) -> str:
    """Warn that complex data is read as its magnitude; return the note for the metadata."""
    warnings.warn(
        f"{path}: {what} is complex-valued ({dtype}); read as its magnitude, the phase is "
        "discarded",
        stacklevel=4,
    )
    return f"magnitude of {dtype} data; the phase is discarded"


def _check_finite(data: np.ndarray, path: Path) -> None:
    finite = np.isfinite(data)
    if not finite.all():
        raise VolumeReadError(path, f"{int(data.size - finite.sum())} NaN or infinite voxel(s)")


# --------------------------------------------------------------------------- fastMRI


def _fastmri_patient(handle: Any, path: Path) -> str:
    value = handle.attrs.get("patient_id", None)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = str(value).strip() if value is not None else ""
    return value or _stem(path)


def _xml_child(node: ElementTree.Element, path: str) -> ElementTree.Element:
    """The first element at ``path`` under ``node``; a ValueError where there is none."""
    child = node.find(path)
    if child is None:
        raise ValueError(f"no {path} in the ISMRMRD header")
    return child


def _xml_number(node: ElementTree.Element, name: str) -> float:
    """The number held by the child ``name`` (in any namespace) of ``node``."""
    text = _xml_child(node, f"{{*}}{name}").text
    if text is None:
        raise ValueError(f"no value in {name} of the ISMRMRD header")
    return float(text)


def _fastmri_spacing(handle: Any) -> tuple[float, float, float] | None:
    """(slice, row, column) spacing in mm from the ISMRMRD header's reconstruction space."""
    if "ismrmrd_header" not in handle:
        return None
    try:
        raw = handle["ismrmrd_header"][()]
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        root = ElementTree.fromstring(text)
        space = _xml_child(root, ".//{*}encoding/{*}reconSpace")
        fov = _xml_child(space, "{*}fieldOfView_mm")
        size = _xml_child(space, "{*}matrixSize")
        fx, fy, fz = (_xml_number(fov, a) for a in "xyz")
        nx, ny = (_xml_number(size, a) for a in "xy")
    except Exception:  # noqa: BLE001 - geometry is optional; a bad header leaves it out
        return None
    # Rows run along the readout (ISMRMRD x) in fastMRI's arrays, columns along y.
    return fz, fx / nx, fy / ny


def _h5_array(handle: Any, key: str, path: Path) -> Any:
    """The dataset ``key`` of an open file, checked to be a numeric array (not read yet).

    A group, a string or a compound dataset under a fastMRI name is a malformed file: say
    what it is instead of failing later with an AttributeError or a conversion error.
    """
    h5py = _import("h5py")
    item = handle[key]
    if not isinstance(item, h5py.Dataset):
        members = ", ".join(sorted(item.keys())) if isinstance(item, h5py.Group) else ""
        raise VolumeReadError(
            path,
            f"'{key}' is an HDF5 {type(item).__name__.lower()} ({members or 'empty'}), "
            "not an array dataset",
        )
    dtype = item.dtype
    if h5py.check_string_dtype(dtype) is not None or dtype.kind in "SUO":
        raise VolumeReadError(
            path, f"'{key}' is a string dataset of shape {item.shape}, not an array of numbers"
        )
    if dtype.kind not in "biufc" or dtype.fields is not None:
        raise VolumeReadError(path, f"'{key}' has dtype {dtype}, not a numeric array")
    return item


def _read_fastmri(path: Path, *, from_kspace: bool) -> Volume:
    h5py = _import("h5py")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise VolumeReadError(
            path, f"not a readable HDF5 file (truncated or corrupt?): {error}"
        ) from error
    with handle:
        datasets = sorted(handle.keys())
        patient_id = _fastmri_patient(handle, path)
        metadata: dict[str, Any] = {"format": "fastMRI HDF5", "datasets": datasets}
        for key in ("acquisition", "max", "norm"):
            if key in handle.attrs:
                value = handle.attrs[key]
                value = value.decode() if isinstance(value, bytes) else value
                metadata[key] = value.item() if isinstance(value, np.generic) else value
        try:
            if from_kspace:
                data = _rss_from_kspace(handle, path)
                metadata["reconstruction"] = "RSS of the inverse FFT of kspace"
            else:
                if "reconstruction_rss" not in handle:
                    hint = " (it has kspace: use from_kspace=True)" if "kspace" in handle else ""
                    listing = ", ".join(datasets) or "none"
                    raise VolumeReadError(
                        path, f"no 'reconstruction_rss' dataset{hint}; datasets: {listing}"
                    )
                stored = _h5_array(handle, "reconstruction_rss", path)
                if stored.ndim != 3:
                    raise VolumeReadError(
                        path, f"'reconstruction_rss' must be 3-D (slices, H, W); got {stored.shape}"
                    )
                _check_voxels(stored.shape, path, "'reconstruction_rss'")
                values = stored[()]
                if np.iscomplexobj(values):
                    # An RSS image is real; a complex one is read like a complex NIfTI.
                    metadata["complex"] = _magnitude_warning(
                        path, "'reconstruction_rss'", stored.dtype
                    )
                    values = np.abs(values)
                data = np.asarray(values, dtype=np.float32)
                metadata["reconstruction"] = "reconstruction_rss"
        except (OSError, KeyError, zlib.error) as error:
            raise VolumeReadError(path, f"truncated or corrupt data: {error}") from error
        spacing = _fastmri_spacing(handle)
    if data.shape[0] == 0:
        raise VolumeReadError(path, f"the volume has no slices: shape {data.shape}")
    _check_voxels(data.shape, path)
    _check_finite(data, path)
    affine = None
    if spacing is not None:
        # fastMRI files store the pixel spacing but no patient position: origin 0.
        affine = np.diag([*spacing, 1.0])
        metadata["affine"] = "pixel spacing from the ISMRMRD header; no patient position"
    return Volume(
        data=data, patient_id=patient_id, affine=affine, source=str(path), metadata=metadata
    )


def _rss_from_kspace(handle: Any, path: Path) -> np.ndarray:
    if "kspace" not in handle:
        raise VolumeReadError(
            path, f"no 'kspace' dataset; datasets: {', '.join(sorted(handle)) or 'none'}"
        )
    h5py = _import("h5py")
    kspace = _h5_array(handle, "kspace", path)
    if kspace.ndim == 3:  # single-coil files: (slices, H, W)
        coil_axis = False
    elif kspace.ndim == 4:  # multi-coil: (slices, coils, H, W)
        coil_axis = True
    else:
        raise VolumeReadError(
            path, f"'kspace' must be (slices, coils, H, W) or (slices, H, W); got {kspace.shape}"
        )
    if not np.issubdtype(kspace.dtype, np.complexfloating):
        raise VolumeReadError(path, f"'kspace' must be complex; got dtype {kspace.dtype}")
    if kspace.shape[0] == 0:
        raise VolumeReadError(path, f"'kspace' has no slices: shape {kspace.shape}")
    _check_voxels(kspace.shape, path, "'kspace'")
    height, width = kspace.shape[-2:]
    stored = handle.get("reconstruction_rss", None)
    # Only a usable stored reconstruction sets the crop; a malformed one is ignored here
    # because the image comes from kspace.
    if isinstance(stored, h5py.Dataset) and stored.ndim == 3 and 0 not in stored.shape:
        target = tuple(stored.shape[-2:])
    else:
        side = min(height // 2, width)
        target = (side, side)
        if stored is not None:
            warnings.warn(
                f"{path}: 'reconstruction_rss' is not a 3-D array, so it cannot give the crop "
                f"size; the reconstruction is cropped to {side} x {side}",
                stacklevel=4,
            )
    slices = []
    for index in range(kspace.shape[0]):
        # One slice at a time: a full multi-coil file is about half a gigabyte.
        coil_images = ifft2c(np.asarray(kspace[index]))
        if not coil_axis:
            coil_images = coil_images[None]
        rss = np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=0))
        slices.append(_centre_crop(rss, target))
    return np.stack(slices).astype(np.float32)


def _centre_crop(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Centre crop (the 2x readout oversampling first, then the side) with zero-padding where
    the image is smaller. The centre index N // 2 stays at N // 2."""
    out = np.zeros(shape, dtype=image.dtype)
    src, dst = [], []
    for n_in, n_out in zip(image.shape, shape, strict=True):
        n = min(n_in, n_out)
        start_in, start_out = n_in // 2 - n // 2, n_out // 2 - n // 2
        src.append(slice(start_in, start_in + n))
        dst.append(slice(start_out, start_out + n))
    out[dst[0], dst[1]] = image[src[0], src[1]]
    return out


# --------------------------------------------------------------------------- NIfTI


def _read_nifti(path: Path, *, axis: int | None) -> Volume:
    """One NIfTI volume; a 2-D image is one slice, trailing axes of length 1 are dropped.

    Complex voxels are read as their magnitude with a warning (and ``metadata["complex"]``);
    RGB or other structured voxels, an axis of length 0, or several volumes (4-D) are errors.
    """
    nibabel = _import("nibabel")
    try:
        image = nibabel.load(path)
    except FileNotFoundError:
        raise
    except Exception as error:  # nibabel raises several types for a bad header
        raise VolumeReadError(path, f"not a readable NIfTI file: {error}") from error
    original = tuple(int(n) for n in image.shape)
    if len(original) < 2:
        raise VolumeReadError(
            path, f"the image has shape {original}; expected a 2-D slice or one 3-D volume"
        )
    _check_voxels(original, path, "the image")
    shape = original
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) == 2:
        shape = shape + (1,)
    if len(shape) == 4:
        raise VolumeReadError(
            path,
            f"the image has shape {original}: {shape[3]} volumes along the 4th axis (a time "
            "series or several echoes?); expected one 3-D volume: extract one first "
            "(nibabel.funcs.four_to_three)",
        )
    if len(shape) != 3:
        raise VolumeReadError(path, f"the image has shape {original}; expected one 3-D volume")
    dtype = image.get_data_dtype()
    if dtype.fields is not None or not (
        np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)
    ):
        raise VolumeReadError(
            path, f"voxel type {dtype} (RGB or structured?) is not a grey-level image"
        )
    metadata: dict[str, Any] = {"format": "NIfTI"}
    try:
        if np.issubdtype(dtype, np.complexfloating):
            # get_fdata would keep the real part only (a ComplexWarning at most): take the
            # magnitude, the MR image, and say so.
            metadata["complex"] = _magnitude_warning(path, "the image", dtype)
            data = np.abs(np.asanyarray(image.dataobj)).astype(np.float32).reshape(shape)
        else:
            data = np.asarray(image.get_fdata(dtype=np.float32)).reshape(shape)
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise VolumeReadError(path, f"truncated or corrupt image data: {error}") from error
    _check_finite(data, path)
    slice_axis = 2 if axis is None else axis
    data, affine = reslice(data, image.affine, slice_axis)
    zooms = [float(z) for z in image.header.get_zooms()[:3]]
    metadata |= {
        "shape": list(shape),
        "voxel_size_mm": zooms,
        "slice_axis": slice_axis % 3,
        "orientation": "".join(nibabel.aff2axcodes(image.affine)),
    }
    return Volume(
        data=data.astype(np.float32, copy=False),
        patient_id=_stem_patient(path),
        affine=affine,
        source=str(path),
        metadata=metadata,
    )


# --------------------------------------------------------------------------- DICOM


def _dicom_candidates(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.upper() != "DICOMDIR"
    )


def _folder_hint(folder: Path) -> str:
    """A hint for a folder read as one DICOM series that looks like a folder of volumes."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    volumes = [
        p for p in entries if p.is_dir() or p.name.lower().endswith(HDF5_SUFFIXES + NIFTI_SUFFIXES)
    ]
    if volumes:
        return f" (it holds {len(volumes)} volume file(s) or folder(s): use read_volumes)"
    return ""


def _sop_class_name(header: Any) -> str:
    """The SOP class of a DICOM header as a name ("MR Image Storage"), or "" when absent."""
    meta = getattr(header, "file_meta", None)
    uid = (meta.get("MediaStorageSOPClassUID", None) if meta is not None else None) or header.get(
        "SOPClassUID", None
    )
    if not uid:
        return ""
    return str(getattr(uid, "name", "") or uid)


def _read_dicom_folder(folder: Path) -> Volume:
    """The one DICOM series of a folder, read as a whole or not at all.

    A file named ``.dcm`` / ``.ima`` that is not a readable DICOM file, an empty file, or a
    DICOM image whose header is cut short (an image SOP class but no ``Rows``) is an error
    naming that file: skipping it would lose a slice. Other files that are not DICOM images
    (notes, structured reports, a DICOMDIR) are skipped with a warning.
    """
    pydicom = _import("pydicom")
    from pydicom.errors import InvalidDicomError

    files = _dicom_candidates(folder)
    if not files:
        raise VolumeReadError(
            folder, f"the folder holds no files (expected one DICOM series){_folder_hint(folder)}"
        )
    series: dict[str, list[tuple[Path, Any]]] = {}
    not_dicom: list[Path] = []
    for file in files:
        named_dicom = file.name.lower().endswith(DICOM_SUFFIXES)
        if named_dicom and file.stat().st_size == 0:
            raise VolumeReadError(file, "empty DICOM file (0 bytes) in the series folder")
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True)
        except InvalidDicomError as error:
            if named_dicom:
                raise VolumeReadError(
                    file, f"not a readable DICOM file (truncated, or no DICOM header): {error}"
                ) from error
            not_dicom.append(file)
            continue
        except Exception as error:  # noqa: BLE001 - pydicom raises many types for bad files
            raise VolumeReadError(file, f"malformed DICOM header: {error}") from error
        if "Rows" not in header:
            # pydicom reads a cut-short file without complaint, so a missing Rows is either a
            # non-image object (a DICOMDIR, a report, a presentation state) or a truncated
            # image: the SOP class in the file meta (written first) tells them apart.
            sop_class = _sop_class_name(header)
            if not sop_class or "Image Storage" in sop_class:
                raise VolumeReadError(
                    file,
                    f"truncated DICOM file: the header ends before the image attributes "
                    f"(no Rows; SOP class {sop_class or 'missing'})",
                )
            not_dicom.append(file)
            continue
        uid = str(header.get("SeriesInstanceUID", "unknown series"))
        series.setdefault(uid, []).append((file, header))
    if not series:
        raise VolumeReadError(
            folder, f"none of the {len(files)} file(s) is a DICOM image{_folder_hint(folder)}"
        )
    if not_dicom:
        shown = ", ".join(p.name for p in not_dicom[:5]) + (" ..." if len(not_dicom) > 5 else "")
        warnings.warn(
            f"{folder}: skipped {len(not_dicom)} file(s) that are not DICOM images: {shown}",
            stacklevel=3,
        )
    if len(series) > 1:
        listing = "; ".join(
            f"{uid} (series {members[0][1].get('SeriesNumber', '?')}, "
            f"'{members[0][1].get('SeriesDescription', '')}', {len(members)} files)"
            for uid, members in sorted(series.items())
        )
        raise VolumeReadError(
            folder,
            f"the folder holds {len(series)} DICOM series; put each in its own folder: {listing}",
        )
    (members,) = series.values()
    return read_dicom_files([file for file, _ in members], name=folder, skipped=not_dicom)


def read_dicom_files(files: list[Path], *, name: Path, skipped: Iterable[Path] = ()) -> Volume:
    """One series from its files: sorted along the slice normal, rescaled, with its affine.

    ``skipped`` (files of the folder not read as images) is named in a gap error, as a clue.
    """
    pydicom = _import("pydicom")
    slices = []
    for file in files:
        try:
            dataset = pydicom.dcmread(file)
        except FileNotFoundError:
            raise
        except Exception as error:  # noqa: BLE001
            raise VolumeReadError(file, f"not a readable DICOM file: {error}") from error
        if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
            raise VolumeReadError(
                file, "multi-frame (enhanced) DICOM is not supported; convert it to NIfTI"
            )
        try:
            pixels = np.asarray(dataset.pixel_array, dtype=np.float32)
        except Exception as error:  # noqa: BLE001 - truncated data, missing codec...
            raise VolumeReadError(file, f"truncated or unreadable pixel data: {error}") from error
        if pixels.ndim != 2:
            raise VolumeReadError(file, f"expected a 2-D grey image; got pixels of {pixels.shape}")
        slope = float(dataset.get("RescaleSlope", 1) or 1)
        intercept = float(dataset.get("RescaleIntercept", 0) or 0)
        slices.append((file, dataset, pixels * slope + intercept))
    shapes = {pixels.shape for _, _, pixels in slices}
    if len(shapes) > 1:
        raise VolumeReadError(name, f"the series mixes image sizes {sorted(shapes)}")
    has_geometry = all(
        "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds and "PixelSpacing" in ds
        for _, ds, _ in slices
    )
    skipped = list(skipped)
    clue = (
        f"; skipped as not DICOM images: {', '.join(p.name for p in skipped[:5])}"
        + (" ..." if len(skipped) > 5 else "")
        if skipped
        else ""
    )
    if has_geometry:
        slices, affine = _sort_by_position(slices, name, clue=clue)
    else:
        if len(slices) > 1 and not all("InstanceNumber" in ds for _, ds, _ in slices):
            raise VolumeReadError(
                name, "slices have neither ImagePositionPatient nor InstanceNumber to sort them"
            )
        if len(slices) > 1:
            slices = _sort_by_instance(slices, name, clue=clue)
            warnings.warn(
                f"{name}: no slice geometry; slices sorted by InstanceNumber, affine unknown",
                stacklevel=3,
            )
        affine = None
    first = slices[0][1]
    patient_id = str(first.get("PatientID", "") or "").strip() or (
        name.name if name.is_dir() else _stem(name)
    )
    metadata = {
        "format": "DICOM",
        "files": len(slices),
        "series_uid": str(first.get("SeriesInstanceUID", "")),
        "series_description": str(first.get("SeriesDescription", "")),
        "modality": str(first.get("Modality", "")),
    }
    data = np.stack([pixels for _, _, pixels in slices]).astype(np.float32)
    _check_finite(data, name)
    return Volume(
        data=data, patient_id=patient_id, affine=affine, source=str(name), metadata=metadata
    )


def _instance_number(file: Path, dataset: Any) -> int:
    try:
        return int(dataset.InstanceNumber)
    except (TypeError, ValueError) as error:
        raise VolumeReadError(
            file, f"InstanceNumber {dataset.get('InstanceNumber', None)!r} is not an integer"
        ) from error


def _sort_by_instance(slices: list, name: Path, *, clue: str = "") -> list:
    """Slices without geometry in InstanceNumber order; a repeated or missing number is an
    error, since the stack would then have a slice twice or one too few."""
    numbers = [_instance_number(file, ds) for file, ds, _ in slices]
    order = np.argsort(numbers, kind="stable")
    slices = [slices[i] for i in order]
    numbers = [numbers[i] for i in order]
    for k in range(len(numbers) - 1):
        (file_a, _, _), (file_b, _, _) = slices[k], slices[k + 1]
        if numbers[k + 1] == numbers[k]:
            raise VolumeReadError(
                name,
                f"two slices with InstanceNumber {numbers[k]} ({file_a.name}, {file_b.name}) "
                "and no slice geometry to order them",
            )
        if numbers[k + 1] > numbers[k] + 1:
            missing = numbers[k + 1] - numbers[k] - 1
            raise VolumeReadError(
                name,
                f"gap in the instance numbers: {numbers[k]} ({file_a.name}) is followed by "
                f"{numbers[k + 1]} ({file_b.name}); {missing} slice(s) missing{clue}",
            )
    return slices


def _geometry_values(file: Path, dataset: Any, keyword: str, count: int) -> list[float]:
    """A multi-valued geometry attribute as floats, or an error naming the file."""
    value = dataset.get(keyword, None)
    try:
        values = [float(v) for v in value]
    except (TypeError, ValueError) as error:
        raise VolumeReadError(file, f"{keyword} {value!r} is not {count} numbers") from error
    if len(values) != count:
        raise VolumeReadError(file, f"{keyword} has {len(values)} value(s); expected {count}")
    return values


def _sort_by_position(slices: list, name: Path, *, clue: str = "") -> tuple[list, np.ndarray]:
    """Slices in order along the normal and the affine; a gap in the positions is an error.

    The affine has one slice step, so a missing slice (a step about twice the others) would
    put every slice after it at the wrong place; small jitter is only warned about.
    """
    orientations = np.array(
        [_geometry_values(f, ds, "ImageOrientationPatient", 6) for f, ds, _ in slices]
    )
    if not np.allclose(orientations, orientations[0], atol=1e-4):
        raise VolumeReadError(name, "the slices do not share one ImageOrientationPatient")
    along_row, along_column = orientations[0, :3], orientations[0, 3:]
    normal = np.cross(along_row, along_column)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-2):
        raise VolumeReadError(
            name,
            f"ImageOrientationPatient {orientations[0].tolist()} is not two orthogonal unit "
            "vectors",
        )
    positions = np.array(
        [_geometry_values(f, ds, "ImagePositionPatient", 3) for f, ds, _ in slices]
    )
    for file, ds, _ in slices:
        _geometry_values(file, ds, "PixelSpacing", 2)
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    slices = [slices[i] for i in order]
    positions, distance = positions[order], distance[order]
    steps = np.diff(distance)
    if np.any(np.abs(steps) < 1e-4):
        i = int(np.argmin(np.abs(steps)))
        raise VolumeReadError(
            name,
            f"two slices at the same position ({slices[i][0].name}, {slices[i + 1][0].name}): "
            "a multi-echo or repeated series? put each repetition in its own folder",
        )
    if len(steps) > 1 and steps.max() > 1.5 * steps.min():
        i = int(np.argmax(steps))

        def where(k: int) -> str:
            file, dataset = slices[k][0], slices[k][1]
            number = dataset.get("InstanceNumber", None)
            instance = f", instance {number}" if number is not None else ""
            return f"{distance[k]:.4g} mm ({file.name}{instance})"

        missing = max(1, round(steps[i] / steps.min()) - 1)
        raise VolumeReadError(
            name,
            f"gap in the slice positions: {where(i)} is followed by {where(i + 1)}, "
            f"{steps[i]:.3g} mm apart where the other slices are {steps.min():.3g} mm apart: "
            f"about {missing} slice(s) missing (or irregular spacing), so one affine cannot "
            f"place the slices{clue}",
        )
    if len(steps) > 1 and np.ptp(steps) > 0.01 * np.mean(steps) + 1e-3:
        warnings.warn(
            f"{name}: slice spacing varies ({steps.min():.3g} to {steps.max():.3g} mm); "
            "the affine uses the mean",
            stacklevel=4,
        )
    row_spacing, column_spacing = (float(v) for v in slices[0][1].PixelSpacing)
    if len(slices) > 1:
        slice_vector = (positions[-1] - positions[0]) / (len(slices) - 1)
    else:
        dataset = slices[0][1]
        thickness = dataset.get("SpacingBetweenSlices", None) or dataset.get("SliceThickness", 1)
        slice_vector = normal * float(thickness or 1)
    # DICOM: row index runs along the second direction cosine, column index along the first.
    affine_lps = np.eye(4)
    affine_lps[:3, 0] = slice_vector
    affine_lps[:3, 1] = along_column * row_spacing
    affine_lps[:3, 2] = along_row * column_spacing
    affine_lps[:3, 3] = positions[0]
    lps_to_ras = np.diag([-1.0, -1.0, 1.0, 1.0])
    return slices, lps_to_ras @ affine_lps
