"""Prepared slices per split: the packaged demo data, or a folder of real volumes.

`load_slice_sets(profile, data_dir=None, seed=0, output_dir=...)` is the one entry point the
notebooks, the training code and the evaluation sets use:

- ``data_dir=None``: the packaged demo data (`demo_volumes`). Training and validation are
  slices of the MNI152 template (axial, coronal, sagittal): every ``demo_validation_every``-th
  slice of each orientation goes to validation, and slices within ``demo_validation_gap`` of
  one are left out of training. The same template in both, so the demo validation set is not
  patient-independent. The test set is every single-subject image.
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..store import atomic_write, atomic_write_json, shared_data_dir
from .demo import demo_volumes
from .prepare import PreparedVolume, prepare_volume
from .readers import read_volume
from .settings import DataSettings, data_settings
from .splits import make_split

__all__ = [
    "SliceSet",
    "SliceStack",
    "load_slice_sets",
    "demo_slice_sets",
    "shared_data_dir",
    "CACHE_VERSION",
    "DataSources",
    "data_sources",
]

CACHE_VERSION = 1


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


def demo_slice_sets(settings: DataSettings, seed: int = 0) -> dict[str, SliceSet]:
    """The demo splits, prepared at ``settings.image_size`` (see the module docstring)."""
    every, gap = settings.demo_validation_every, settings.demo_validation_gap
    if every < 2 or gap < 0 or 2 * gap + 1 >= every:
        raise ValueError(
            f"demo_validation_every ({every}) must exceed 2 * demo_validation_gap + 1 ({gap})"
        )
    grouped: dict[str, tuple[list[PreparedVolume], list[str]]] = {
        name: ([], []) for name in ("train", "validation", "test")
    }
    for volume in demo_volumes():
        prepared = prepare_volume(
            volume, settings.image_size, min_foreground=settings.min_foreground
        )
        label = volume.metadata["demo"]
        if "plane" in volume.metadata and volume.metadata["role"] == "train":
            label = f"{label} ({volume.metadata['plane']})"
        if volume.metadata["role"] == "test":
            grouped["test"][0].append(prepared)
            grouped["test"][1].append(label)
            continue
        # Distance of each slice to the nearest validation slice (every `every`-th index).
        offset = (prepared.slice_index - every // 2) % every
        distance = np.minimum(offset, every - offset)
        for split, keep in (("validation", distance == 0), ("train", distance > gap)):
            grouped[split][0].append(
                PreparedVolume(
                    images=prepared.images[keep],
                    slice_index=prepared.slice_index[keep],
                    patient_id=prepared.patient_id,
                    source=prepared.source,
                    dropped=0,
                )
            )
            grouped[split][1].append(label)
    sets = {name: _from_prepared(name, *grouped[name]) for name in grouped}
    return {name: cap_slices(s, settings.max_slices.get(name), seed) for name, s in sets.items()}


def _cache_key(path: Path, settings: DataSettings, from_kspace: bool) -> str:
    stat = path.stat()
    text = json.dumps(
        [
            str(path.resolve()),
            stat.st_mtime_ns,
            stat.st_size if path.is_file() else len(list(path.iterdir())),
            settings.image_size,
            settings.min_foreground,
            bool(from_kspace),
            CACHE_VERSION,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
        None: the packaged demo data. A folder: real volumes, split by patient.
    seed : int
        Seeds the split (real data) and the subsets drawn where a profile caps a split.
    output_dir : path or None
        Real data: where the split manifest is written and reused, and the prepared slices
        cached. None: nothing written.
    dataset : {"brain", "pelvic"}
        Real data: the split fractions (70/10/20 or 80/20; pelvic has no test split).
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
    if data_dir is None:
        sets = demo_slice_sets(settings, seed)
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
    """The data folders of a run: None means the packaged demo volumes."""

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
                "packaged demo volumes (the MNI152 brain template), standing in for the pelvic "
                "data, which is not available here"
            )
        return "packaged demo volumes (the MNI152 brain template)"


def data_sources(data_dir: str | os.PathLike | None) -> DataSources:
    """Which folders the brain and the pelvic models train on.

    ``None``: both on the packaged demo volumes (the pelvic model so labelled). A folder with a
    ``brain`` and/or ``pelvic`` subfolder: those (a missing one falls back to the demo
    volumes). Any other folder: the brain data; the pelvic model then trains on the demo
    volumes, labelled as such.
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
