"""Prepared slices per split: synthetic subjects, or a folder of real volumes.

`load_slice_sets(profile, data_dir=None, seed=0, output_dir=...)` is the one entry point the
notebooks, the training code and the evaluation sets use:

- ``data_dir=None``: the profile's ``subjects`` synthetic subjects (`synthetic_subjects`,
  made from the packaged MNI152 tissue maps, each with its own anatomy and contrast), split
  by subject as the article splits patients (`split_patients`: 70/10/20 brain, 80/20 for
  the pelvic stand-in), so validation and test subjects are never seen in training. Each
  subject keeps ``slices_per_subject`` axial slices. With ``output_dir``, the prepared
  slices are cached there and the split manifest (subjects, contrasts, slices per split)
  written beside them. The real single-subject images the packages ship (`demo_volumes`)
  are not used here: they are the book's qualitative, real-data check (Figure 2).
- ``data_dir`` a folder of volumes (fastMRI ``.h5``, NIfTI, DICOM series folders): split by
  patient (`make_split`, 70/10/20 for brain, 80/20 for pelvic), the manifest written to (and
  reused from) ``output_dir``; each volume is prepared once and cached there as ``.npy``, read
  back memory-mapped, so paper-scale data need not fit in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..store import atomic_write, atomic_write_json, files_digest, json_digest, shared_data_dir
from .prepare import PreparedVolume, prepare_volume
from .readers import read_volume
from .settings import SPLIT_FRACTIONS, DataSettings, data_settings
from .splits import make_split, split_patients
from .synthetic import synthetic_subjects
from .volume import Volume

__all__ = [
    "SliceSet",
    "SliceStack",
    "load_slice_sets",
    "synthetic_slice_sets",
    "volume_contrast",
    "shared_data_dir",
    "CACHE_VERSION",
    "DataSources",
    "data_sources",
]

CACHE_VERSION = 2


class SliceStack:
    """Several (n_i, S, S) arrays seen as one (sum n_i, S, S) stack, without copying.

    Integer indexing returns one slice; an index array returns a stacked copy. The arrays
    may be memory-mapped ``.npy`` files.
    """

    def __init__(self, parts: Sequence[np.ndarray]):
        parts = [p for p in parts if len(p)]
        shapes = {p.shape[1:] for p in parts}
        if len(shapes) > 1:
            raise ValueError(f"all parts must share the slice shape; got {sorted(shapes)}")
        self.parts = parts
        self._ends = np.cumsum([len(p) for p in parts]) if parts else np.zeros(0, np.int64)
        self.shape = (int(self._ends[-1]) if parts else 0, *(shapes.pop() if shapes else (0, 0)))
        self.dtype = parts[0].dtype if parts else np.dtype(np.float32)
        self.ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    def _locate(self, index: int) -> tuple[int, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} slices")
        index %= len(self)
        part = int(np.searchsorted(self._ends, index, side="right"))
        start = int(self._ends[part - 1]) if part else 0
        return part, index - start

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            part, local = self._locate(int(index))
            return np.asarray(self.parts[part][local])
        indices = np.arange(len(self))[index]
        return np.stack([self[int(i)] for i in np.atleast_1d(indices)])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = (
            np.concatenate([np.asarray(p) for p in self.parts])
            if self.parts
            else np.zeros(self.shape, self.dtype)
        )
        return out.astype(dtype) if dtype is not None else out


@dataclass
class SliceSet:
    """The prepared slices of one split, with where each came from.

    Attributes
    ----------
    name : str
        ``train``, ``validation`` or ``test``.
    images : ndarray or SliceStack of shape (n, S, S), float32 in [0, 1]
    patient_id, volume : ndarray of str, shape (n,)
        The slice's patient and its volume (source and, for the demo template, orientation).
    slice_index : ndarray of int, shape (n,)
        Index of the slice in its volume.
    """

    name: str
    images: np.ndarray | SliceStack
    patient_id: np.ndarray
    volume: np.ndarray
    slice_index: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        """Side of the slices in pixels."""
        return int(self.images.shape[-1])

    def subset(self, indices: Sequence[int] | np.ndarray) -> SliceSet:
        """The slices at ``indices`` (in that order), as an in-memory set."""
        chosen = np.asarray(indices, dtype=np.int64)
        return SliceSet(
            name=self.name,
            images=np.asarray(self.images[chosen], dtype=np.float32).reshape(
                len(chosen), self.size, self.size
            ),
            patient_id=self.patient_id[chosen],
            volume=self.volume[chosen],
            slice_index=self.slice_index[chosen],
        )

    def summary(self) -> dict[str, Any]:
        """Counts of slices, volumes and patients (JSON-serialisable)."""
        return {
            "split": self.name,
            "slices": len(self),
            "volumes": int(len(set(self.volume.tolist()))),
            "patients": int(len(set(self.patient_id.tolist()))),
            "size": self.size if len(self) else None,
        }

    def fingerprint(self) -> str:
        """SHA-256 of the slice pixels and their origins: identifies the exact data."""
        digest = hashlib.sha256()
        for i in range(len(self)):
            digest.update(np.ascontiguousarray(self.images[i], dtype=np.float32).tobytes())
        for column in (self.patient_id, self.volume):
            digest.update("\x00".join(map(str, column.tolist())).encode())
        digest.update(np.asarray(self.slice_index, dtype=np.int64).tobytes())
        return digest.hexdigest()


def _from_prepared(name: str, prepared: list[PreparedVolume], labels: list[str]) -> SliceSet:
    images = [p.images for p in prepared]
    size = images[0].shape[-1] if images else 0
    return SliceSet(
        name=name,
        images=np.concatenate(images) if images else np.zeros((0, size, size), np.float32),
        patient_id=np.array([p.patient_id for p in prepared for _ in p.slice_index], dtype=str),
        volume=np.array(
            [lab for p, lab in zip(prepared, labels, strict=True) for _ in p.slice_index], dtype=str
        ),
        slice_index=np.concatenate([p.slice_index for p in prepared]).astype(np.int64)
        if prepared
        else np.zeros(0, np.int64),
    )


def cap_slices(slice_set: SliceSet, limit: int | None, seed: int) -> SliceSet:
    """At most ``limit`` slices, drawn from the seed and kept in their original order."""
    if limit is None or len(slice_set) <= limit:
        return slice_set
    tag = int.from_bytes(hashlib.sha256(slice_set.name.encode()).digest()[:4], "little")
    rng = np.random.default_rng(np.random.SeedSequence([seed, tag]))
    chosen = np.sort(rng.choice(len(slice_set), size=limit, replace=False))
    return slice_set.subset(chosen)


def _evenly(indices: np.ndarray, count: int | None) -> np.ndarray:
    """``count`` positions spread evenly over ``indices`` (all of them if fewer)."""
    if count is None or len(indices) <= count:
        return np.arange(len(indices))
    return np.unique(np.linspace(0, len(indices) - 1, count).round().astype(np.int64))


def _subject_label(volume: Volume) -> str:
    return f"{volume.patient_id} ({volume.metadata['contrast']})"


def volume_contrast(patient_id: str, volume_label: str) -> str:
    """The contrast in a synthetic subject's volume label ("synthetic-007 (FLAIR)" ->
    "FLAIR"); "real data" for the volume of a real data set."""
    rest = str(volume_label)[len(str(patient_id)) :].strip()
    return rest[1:-1] if rest.startswith("(") and rest.endswith(")") else "real data"


def synthetic_slice_sets(
    settings: DataSettings,
    seed: int = 0,
    *,
    dataset: str = "brain",
    output_dir: Path | None = None,
) -> dict[str, SliceSet]:
    """The synthetic subjects of a run, prepared at ``settings.image_size`` and split by
    subject (see the module docstring).

    The subjects depend on ``seed`` and the settings only (the pelvic stand-in draws its
    own, from another stream of the same seed). With ``output_dir``, the prepared slices are
    cached in ``output_dir/slices`` (keyed by the settings, the seed and the generator's
    code) and the split manifest ``split_synthetic_<dataset>_seed<seed>.json`` is written.
    """
    fractions = SPLIT_FRACTIONS[dataset]
    stream = 0 if dataset == "brain" else 1
    key = json_digest(
        {
            "version": CACHE_VERSION,
            "subjects": settings.subjects,
            "slices_per_subject": settings.slices_per_subject,
            "contrasts": settings.contrasts,
            "size": settings.image_size,
            "min_foreground": settings.min_foreground,
            "seed": seed,
            "stream": stream,
            "code": files_digest(
                [Path(__file__).with_name(name) for name in ("synthetic.py", "prepare.py")]
            ),
        }
    )[:16]
    cache = None if output_dir is None else output_dir / "slices" / f"synthetic-{key}.npz"
    cached = _read_cache(cache) if cache is not None and cache.exists() else None
    if cached is not None:
        prepared, labels, contrasts = cached
    else:
        volumes = synthetic_subjects(
            settings.subjects,
            shape=settings.image_size,
            contrasts=settings.contrasts,
            rng=np.random.default_rng(np.random.SeedSequence([seed, stream])),
        )
        prepared, labels, contrasts = [], [], {}
        for volume in volumes:
            whole = prepare_volume(
                volume, settings.image_size, min_foreground=settings.min_foreground
            )
            keep = _evenly(whole.slice_index, settings.slices_per_subject)
            prepared.append(
                PreparedVolume(
                    images=whole.images[keep],
                    slice_index=whole.slice_index[keep],
                    patient_id=whole.patient_id,
                    source=whole.source,
                    dropped=whole.dropped,
                )
            )
            labels.append(_subject_label(volume))
            contrasts[volume.patient_id] = str(volume.metadata["contrast"])
        if cache is not None:
            arrays = _pack(prepared, labels)
            atomic_write(cache, lambda handle: np.savez(handle, **arrays))
    patients = split_patients([p.patient_id for p in prepared], fractions, seed=seed)
    where = {patient: name for name, members in patients.items() for patient in members}
    sets = {
        name: _from_prepared(
            name,
            [p for p in prepared if where[p.patient_id] == name],
            [lab for p, lab in zip(prepared, labels, strict=True) if where[p.patient_id] == name],
        )
        for name in fractions
    }
    if output_dir is not None:
        atomic_write_json(
            output_dir / f"split_synthetic_{dataset}_seed{seed}.json",
            {
                "data": "synthetic subjects (mtmri_lib.data.synthetic_subjects)",
                "dataset": dataset,
                "seed": seed,
                "fractions": fractions,
                "splits": {
                    name: [
                        {
                            "subject": patient,
                            "contrast": contrasts[patient],
                            "slices": int(sum(p.patient_id == patient for p in prepared)),
                        }
                        for patient in members
                    ]
                    for name, members in patients.items()
                },
            },
            indent=1,
        )
    return {name: cap_slices(s, settings.max_slices.get(name), seed) for name, s in sets.items()}


def _pack(prepared: list[PreparedVolume], labels: list[str]) -> dict[str, Any]:
    arrays: dict[str, Any] = {}
    for k, (volume, label) in enumerate(zip(prepared, labels, strict=True)):
        arrays[f"images_{k}"] = volume.images
        arrays[f"index_{k}"] = volume.slice_index
        arrays[f"meta_{k}"] = np.array([volume.patient_id, volume.source, label])
    return arrays


def _read_cache(
    path: Path,
) -> tuple[list[PreparedVolume], list[str], dict[str, str]] | None:
    """The cached subjects, or None (with a warning) if the file cannot be read: they are
    then made again and the file replaced."""
    try:
        with np.load(path) as stored:
            return _unpack({str(k): stored[k] for k in stored.files})
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        warnings.warn(
            f"{path}: unreadable cache of synthetic subjects ({error}); made again", stacklevel=3
        )
        return None


def _unpack(
    arrays: dict[str, np.ndarray],
) -> tuple[list[PreparedVolume], list[str], dict[str, str]]:
    prepared, labels, contrasts = [], [], {}
    for k in range(sum(name.startswith("images_") for name in arrays)):
        patient, source, label = (str(x) for x in arrays[f"meta_{k}"])
        prepared.append(
            PreparedVolume(
                images=arrays[f"images_{k}"],
                slice_index=arrays[f"index_{k}"],
                patient_id=patient,
                source=source,
                dropped=0,
            )
        )
        labels.append(label)
        contrasts[patient] = volume_contrast(patient, label)
    return prepared, labels, contrasts


def _cache_key(path: Path, settings: DataSettings, from_kspace: bool) -> str:
    stat = path.stat()
    return json_digest(
        [
            str(path.resolve()),
            stat.st_mtime_ns,
            stat.st_size if path.is_file() else len(list(path.iterdir())),
            settings.image_size,
            settings.min_foreground,
            bool(from_kspace),
            CACHE_VERSION,
        ]
    )[:16]


def _prepared_from_cache(
    path: Path, settings: DataSettings, cache: Path | None, from_kspace: bool
) -> PreparedVolume:
    """Read and prepare one volume, or reuse its cached preparation (memory-mapped)."""
    if cache is not None:
        key = _cache_key(path, settings, from_kspace)
        stem = cache / f"{path.name.split('.')[0]}-{key}"
        images_file, info_file = stem.with_suffix(".npy"), stem.with_suffix(".json")
        if images_file.exists() and info_file.exists():
            try:
                info = json.loads(info_file.read_text())
                images = np.load(images_file, mmap_mode="r")
                if images.shape[0] == len(info["slice_index"]):
                    return PreparedVolume(
                        images=images,
                        slice_index=np.asarray(info["slice_index"], dtype=np.int64),
                        patient_id=info["patient_id"],
                        source=info["source"],
                        dropped=int(info["dropped"]),
                    )
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache entry is rebuilt below
    prepared = prepare_volume(
        read_volume(path, from_kspace=from_kspace),
        settings.image_size,
        min_foreground=settings.min_foreground,
    )
    if cache is not None:
        # The images first: an entry counts only once its description exists.
        atomic_write(images_file, lambda handle: np.save(handle, prepared.images))
        info = {
            "slice_index": prepared.slice_index.tolist(),
            "patient_id": prepared.patient_id,
            "source": prepared.source,
            "dropped": prepared.dropped,
        }
        atomic_write_json(info_file, info, indent=None)
        prepared.images = np.load(images_file, mmap_mode="r")
    return prepared


def _real_slice_sets(
    data_dir: Path,
    settings: DataSettings,
    *,
    seed: int,
    dataset: str,
    output_dir: Path | None,
    from_kspace: bool,
    splits: Sequence[str],
    progress: bool,
) -> dict[str, SliceSet]:
    manifest = None if output_dir is None else output_dir / f"split_{dataset}_seed{seed}.json"
    split = make_split(data_dir, dataset=dataset, seed=seed, manifest=manifest)
    cache = None if output_dir is None else output_dir / "slices" / str(settings.image_size)
    sets: dict[str, SliceSet] = {}
    for name in splits:
        if name not in split.files:
            continue
        files = split.files[name]
        if progress:
            from tqdm.auto import tqdm

            files = tqdm(files, desc=f"preparing {name}", unit="volume")
        prepared, labels, skipped = [], [], 0
        for path in files:
            try:
                volume = _prepared_from_cache(path, settings, cache, from_kspace)
            except (OSError, ValueError) as error:
                skipped += 1
                warnings.warn(f"skipped {error}", stacklevel=2)
                continue
            prepared.append(volume)
            labels.append(path.name)
        if skipped:
            warnings.warn(
                f"{name}: skipped {skipped} of {len(split.files[name])} volume(s)", stacklevel=2
            )
        stack = SliceStack([p.images for p in prepared])
        slice_set = SliceSet(
            name=name,
            images=stack,
            patient_id=np.array([p.patient_id for p in prepared for _ in p.slice_index], dtype=str),
            volume=np.array(
                [lab for p, lab in zip(prepared, labels, strict=True) for _ in p.slice_index],
                dtype=str,
            ),
            slice_index=np.concatenate([p.slice_index for p in prepared]).astype(np.int64)
            if prepared
            else np.zeros(0, np.int64),
        )
        sets[name] = cap_slices(slice_set, settings.max_slices.get(name), seed)
    return sets


def load_slice_sets(
    profile: Any = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    output_dir: str | os.PathLike | None = None,
    dataset: str = "brain",
    from_kspace: bool = False,
    splits: Sequence[str] = ("train", "validation", "test"),
    settings: DataSettings | None = None,
    progress: bool = False,
) -> dict[str, SliceSet]:
    """Prepared slices per split, for a profile.

    Parameters
    ----------
    profile : str or Profile
        Sets the slice size and the slice caps (`data_settings`).
    data_dir : path or None
        None: synthetic subjects, split by subject. A folder: real volumes, split by
        patient; a folder with ``brain/`` and / or ``pelvic/`` (`data_sources`): the one of
        ``dataset`` (synthetic subjects where it is missing).
    seed : int
        Seeds the split (real data) and the subsets drawn where a profile caps a split.
    output_dir : path or None
        Where the split manifest is written (and, for real data, reused) and the prepared
        slices cached. None: nothing written.
    dataset : {"brain", "pelvic"}
        The split fractions (70/10/20 or 80/20; pelvic has no test split).
    from_kspace : bool
        fastMRI files: reconstruct from k-space instead of reading ``reconstruction_rss``.
    splits : sequence of str
        Which splits to prepare (real data: the others are not read).
    settings : DataSettings, optional
        Overrides the profile's data settings.
    progress : bool
        Show a progress bar while preparing real volumes.

    Returns
    -------
    dict of split name -> SliceSet
    """
    settings = settings if settings is not None else data_settings(profile)
    if data_dir is not None and any(Path(data_dir, name).is_dir() for name in ("brain", "pelvic")):
        # The README's layout (brain/ and pelvic/): this dataset's folder, or synthetic
        # subjects where it has none, as the trainings read it (`data_sources`).
        data_dir = data_sources(data_dir).folder(dataset)
    if data_dir is None:
        sets = synthetic_slice_sets(
            settings,
            seed,
            dataset=dataset,
            output_dir=None if output_dir is None else Path(output_dir),
        )
        return {name: sets[name] for name in splits if name in sets}
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: no such data folder")
    return _real_slice_sets(
        data_dir,
        settings,
        seed=seed,
        dataset=dataset,
        output_dir=None if output_dir is None else Path(output_dir),
        from_kspace=from_kspace,
        splits=splits,
        progress=progress,
    )


@dataclass(frozen=True)
class DataSources:
    """The data folders of a run: None means synthetic subjects (`synthetic_subjects`)."""

    brain: Path | None
    pelvic: Path | None

    def folder(self, dataset: str) -> Path | None:
        return self.brain if dataset == "brain" else self.pelvic

    def describe(self, dataset: str) -> str:
        folder = self.folder(dataset)
        if folder is not None:
            return f"{dataset} volumes in {folder}"
        if dataset == "pelvic":
            return (
                "synthetic brain subjects made from the packaged MNI152 tissue maps (with rigid "
                "and periodic motion), standing in for the pelvic data, which is not available "
                "here"
            )
        return "synthetic subjects made from the packaged MNI152 tissue maps, split by subject"


def data_sources(data_dir: str | os.PathLike | None) -> DataSources:
    """Which folders the brain and the pelvic models train on.

    ``None``: both on synthetic subjects (the pelvic model so labelled). A folder with a
    ``brain`` and/or ``pelvic`` subfolder: those (a missing one falls back to synthetic
    subjects). Any other folder: the brain data; the pelvic model then trains on synthetic
    subjects, labelled as such.
    """
    if data_dir is None:
        return DataSources(None, None)
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such data folder")
    brain, pelvic = folder / "brain", folder / "pelvic"
    if brain.is_dir() or pelvic.is_dir():
        return DataSources(brain if brain.is_dir() else None, pelvic if pelvic.is_dir() else None)
    return DataSources(folder, None)
