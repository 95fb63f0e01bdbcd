"""Fixed evaluation sets with the article's settings, stored with every parameter and checksums.

Tables 3-7 of the article evaluate each method on test slices corrupted at fixed severities
(FACTS.md "Evaluation settings"):

- Table 3, bias fields within [0.95, 1.05], [0.9, 1.1], [0.8, 1.2] (5, 10, 20 %; the article
  prints [0.95, 1.15] for 5 %, read as a typo);
- Table 4, centred k-space masks x2, x3, x4, with the low-resolution image of the cropped
  k-space (for bicubic upsampling);
- Table 5, rigid motion with 25, 12.5, 5 % of the k-space centre left uncorrupted;
- Table 6, complex Gaussian k-space noise at SNR 5, 0, -5 dB;
- Table 7, (a) subsampling + motion and (b) noise + bias, the two in random order per slice,
  with parameters from the training distribution.

Each slice of each set has its own Generator, ``SeedSequence([seed, set tag, slice
position])`` with the tag a CRC-32 of the set's name, so a set is regenerated bit for bit from
the seed, and adding a set changes no other. What is not pinned by the setting (length scale of
the field, phase-encoding axis, motion segments, noise draws...) is drawn from the article's
ranges and recorded per slice.

Storage: a folder with ``clean.npz`` (the test slices, [0, 1] and z-normalised), one ``.npz``
per set (corrupted images, z-normalised, float32; low-resolution images and masks where they
apply) and ``evalsets.json`` (settings, per-slice parameters and origins, and for every file
the SHA-256 of its arrays and parameters). `load_eval_sets` verifies every checksum and raises
`EvalSetChecksumError` naming the file on any mismatch; `eval_sets` generates a profile's sets
once and reuses them on later runs.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import profile_name
from ..artefacts import corrupt, corrupt_sequence
from ..artefacts import to_json as _jsonable
from ..artefacts.presets import preset_values
from ..store import (
    arrays_digest,
    atomic_folder,
    atomic_write,
    atomic_write_json,
    files_digest,
    package_version,
)
from .prepare import znorm
from .settings import DataSettings, data_settings
from .slicesets import SliceSet, cap_slices, load_slice_sets

__all__ = [
    "EvalSetting",
    "EVALUATION_SETTINGS",
    "EvalSet",
    "EvalSets",
    "EvalSetChecksumError",
    "make_eval_sets",
    "save_eval_sets",
    "load_eval_sets",
    "eval_sets",
    "code_digest",
]

FORMAT = "mtmri evaluation sets, version 1"


@dataclass(frozen=True)
class EvalSetting:
    """One evaluation set of the article.

    Attributes
    ----------
    name : str
        Also the file stem.
    kinds : tuple of str
        One artefact, or two applied in random order per slice.
    fixed : dict
        Keywords pinned for `corrupt` (the severity).
    table : int
        The article's table.
    label : str
        The severity as the article prints it.
    """

    name: str
    kinds: tuple[str, ...]
    fixed: Mapping[str, Any]
    table: int
    label: str

    @property
    def scenario(self) -> bool:
        """True for the multi-artefact sets of Table 7."""
        return len(self.kinds) > 1


def _article(kind: str, severity: str) -> dict[str, Any]:
    # The article's test settings are defined once, as presets of the artefacts.
    return preset_values(kind, f"article:{severity}")


EVALUATION_SETTINGS: tuple[EvalSetting, ...] = (
    EvalSetting("bias_05", ("bias",), _article("bias", "5%"), 3, "5 % [0.95, 1.05]"),
    EvalSetting("bias_10", ("bias",), _article("bias", "10%"), 3, "10 % [0.9, 1.1]"),
    EvalSetting("bias_20", ("bias",), _article("bias", "20%"), 3, "20 % [0.8, 1.2]"),
    EvalSetting("subsampling_x2", ("subsampling",), _article("subsampling", "x2"), 4, "x2"),
    EvalSetting("subsampling_x3", ("subsampling",), _article("subsampling", "x3"), 4, "x3"),
    EvalSetting("subsampling_x4", ("subsampling",), _article("subsampling", "x4"), 4, "x4"),
    EvalSetting("motion_25", ("motion",), _article("motion", "25%"), 5, "25 % centre clean"),
    EvalSetting("motion_12.5", ("motion",), _article("motion", "12.5%"), 5, "12.5 % centre clean"),
    EvalSetting("motion_05", ("motion",), _article("motion", "5%"), 5, "5 % centre clean"),
    EvalSetting("noise_+5dB", ("noise",), _article("noise", "5dB"), 6, "SNR 5 dB"),
    EvalSetting("noise_0dB", ("noise",), _article("noise", "0dB"), 6, "SNR 0 dB"),
    EvalSetting("noise_-5dB", ("noise",), _article("noise", "-5dB"), 6, "SNR -5 dB"),
    EvalSetting("subsampling+motion", ("subsampling", "motion"), {}, 7, "(a) random order"),
    EvalSetting("noise+bias", ("noise", "bias"), {}, 7, "(b) random order"),
)


class EvalSetChecksumError(ValueError):
    """A stored evaluation set does not match its checksum (changed, truncated or corrupt)."""


@dataclass
class EvalSet:
    """One evaluation set.

    Attributes
    ----------
    setting : EvalSetting
    corrupted : ndarray of shape (n, S, S), float32, z-normalised per slice
    params : list
        Per slice: the corruption's params (one artefact) or ``{"order": [...], "steps":
        [params, ...]}`` (two).
    low_res : ndarray of shape (n, m, m) or None
        Centred masks: the image of the cropped k-space, z-normalised.
    mask : ndarray of bool, shape (n, S, S), or None
        Subsampling: the k-space mask applied.
    """

    setting: EvalSetting
    corrupted: np.ndarray
    params: list
    low_res: np.ndarray | None = None
    mask: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.setting.name

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"corrupted": self.corrupted}
        if self.low_res is not None:
            out["low_res"] = self.low_res
        if self.mask is not None:
            out["mask"] = self.mask
        return out


@dataclass
class EvalSets:
    """The evaluation sets of one profile and seed.

    Attributes
    ----------
    clean_01 : ndarray of shape (n, S, S), float32
        The test slices as corrupted: prepared, in [0, 1].
    clean : ndarray of shape (n, S, S), float32
        The same, z-normalised per slice: the reference of the metrics.
    slices : list of dict
        Per slice: ``patient_id``, ``volume``, ``slice_index``.
    info : dict
        Profile, seed, size, data description and fingerprint, package versions.
    folder : Path or None
        Where they are stored; sets are loaded (and verified) from there on first access.
    """

    clean_01: np.ndarray
    clean: np.ndarray
    slices: list[dict[str, Any]]
    info: dict[str, Any]
    folder: Path | None = None
    _sets: dict[str, EvalSet] = field(default_factory=dict)
    _record: dict[str, Any] | None = None

    @property
    def names(self) -> list[str]:
        """Names of the sets, in the article's order."""
        if self._record is not None:
            return list(self._record["sets"])
        return list(self._sets)

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self):
        return iter(self.names)

    def __getitem__(self, name: str) -> EvalSet:
        if name not in self._sets:
            if self._record is None or name not in self._record["sets"]:
                raise KeyError(f"no evaluation set {name!r}; sets: {', '.join(self.names)}")
            if self.folder is None:
                raise ValueError(
                    f"evaluation set {name!r} is recorded but has no folder to load from"
                )
            self._sets[name] = _load_set(self.folder, name, self._record["sets"][name])
        return self._sets[name]

    @property
    def n_slices(self) -> int:
        return int(self.clean.shape[0])

    def verify(self) -> int:
        """Check every stored set against its checksum now (one at a time, not kept in memory);
        returns the number of files checked (the sets and ``clean.npz``). In-memory sets that
        were never saved have nothing to check and return 0."""
        if self.folder is None or self._record is None:
            return 0
        for name, entry in self._record["sets"].items():
            _load_set(self.folder, name, entry)
        return len(self._record["sets"]) + 1

    def table(self):
        """A pandas DataFrame: one row per set (table, artefacts, severity, slices, checksum)."""
        import pandas as pd

        rows = []
        for name in self.names:
            entry = self._record["sets"][name] if self._record else None
            setting = self[name].setting if entry is None else _setting_from(entry)
            rows.append(
                {
                    "set": name,
                    "table": setting.table,
                    "artefacts": " + ".join(setting.kinds),
                    "severity": setting.label,
                    "slices": self.n_slices,
                    "sha256": (entry or {}).get("sha256", "")[:12],
                }
            )
        return pd.DataFrame(rows).set_index("set")


# --------------------------------------------------------------------------- generation


def _tag(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def _setting_record(setting: EvalSetting) -> dict[str, Any]:
    return {
        "kinds": list(setting.kinds),
        "fixed": _jsonable(setting.fixed),
        "table": setting.table,
        "label": setting.label,
    }


def _setting_from(entry: Mapping[str, Any], name: str | None = None) -> EvalSetting:
    return EvalSetting(
        name=name if name is not None else entry.get("name", ""),
        kinds=tuple(entry["kinds"]),
        fixed=dict(entry["fixed"]),
        table=int(entry["table"]),
        label=str(entry["label"]),
    )


def _make_set(
    setting: EvalSetting, clean_01: np.ndarray, seed: int, fidelity: str, progress: bool
) -> EvalSet:
    corrupted, low_res, masks, params = [], [], [], []
    positions = range(len(clean_01))
    if progress:
        from tqdm.auto import tqdm

        positions = tqdm(positions, desc=setting.name, unit="slice", leave=False)
    for position in positions:
        rng = np.random.default_rng(np.random.SeedSequence([seed, _tag(setting.name), position]))
        image = clean_01[position]
        if setting.scenario:
            order = [setting.kinds[i] for i in rng.permutation(len(setting.kinds))]
            sequence_image, steps = corrupt_sequence(
                image, order, rng, fidelity=fidelity, output="real", zscore=True, **setting.fixed
            )
            corrupted.append(sequence_image)
            params.append({"order": order, "steps": steps})
            continue
        result = corrupt(
            image,
            setting.kinds[0],
            rng,
            fidelity=fidelity,
            output="real",
            zscore=True,
            **setting.fixed,
        )
        corrupted.append(result.image)
        params.append(result.params)
        if result.low_res is not None:
            low_res.append(result.low_res)
        if result.mask is not None:
            masks.append(result.mask)
    return EvalSet(
        setting=setting,
        corrupted=np.stack(corrupted).astype(np.float32),
        params=_jsonable(params),
        low_res=np.stack(low_res).astype(np.float32) if low_res else None,
        mask=np.stack(masks).astype(bool) if masks else None,
    )


def make_eval_sets(
    test: SliceSet,
    *,
    seed: int = 0,
    settings: Sequence[EvalSetting] = EVALUATION_SETTINGS,
    fidelity: str = "paper",
    info: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> EvalSets:
    """Corrupt the test slices with each evaluation setting (in memory; see `save_eval_sets`)."""
    if len(test) == 0:
        raise ValueError("the test set holds no slices")
    names = [s.name for s in settings]
    if len(set(names)) != len(names):
        raise ValueError(f"evaluation set names must be unique; got {names}")
    clean_01 = np.asarray(test.images[np.arange(len(test))], dtype=np.float32)
    clean = np.stack([znorm(image.astype(np.float64)) for image in clean_01]).astype(np.float32)
    sets = {s.name: _make_set(s, clean_01, int(seed), fidelity, progress) for s in settings}
    slices = [
        {"patient_id": str(p), "volume": str(v), "slice_index": int(i)}
        for p, v, i in zip(test.patient_id, test.volume, test.slice_index, strict=True)
    ]
    record_info = {
        "seed": int(seed),
        "fidelity": fidelity,
        "size": int(clean.shape[-1]),
        "n_slices": int(clean.shape[0]),
        "data_fingerprint": test.fingerprint(),
        "code_digest": code_digest(),
        "mtmri": package_version("mtmri"),
        "numpy": package_version("numpy"),
        "gstools": package_version("gstools"),
        **dict(info or {}),
    }
    return EvalSets(clean_01=clean_01, clean=clean, slices=slices, info=record_info, _sets=sets)


def code_digest() -> str:
    """SHA-256 (16 hex digits) of the source that decides what a set holds: the artefact
    simulators, the Fourier convention, and this module. Stored sets made by other code are
    regenerated by `eval_sets`."""
    package = Path(__file__).resolve().parent.parent
    files = sorted((package / "artefacts").glob("*.py")) + [package / "fourier.py", Path(__file__)]
    return files_digest(files)[:16]


# --------------------------------------------------------------------------- storage


def _save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    # As Any: mypy would match the names against savez's own keyword (allow_pickle).
    named: dict[str, Any] = dict(arrays)
    atomic_write(path, lambda handle: np.savez(handle, **named))


def save_eval_sets(sets: EvalSets, folder: str | os.PathLike) -> Path:
    """Write ``sets`` into ``folder`` (created; files replaced) and return the JSON path.

    Each file is written atomically, the ``evalsets.json`` record that names them last, so
    a folder whose record exists holds complete files.
    """
    folder = Path(folder)
    clean_arrays = {"clean_01": sets.clean_01, "clean": sets.clean}
    _save_npz(folder / "clean.npz", clean_arrays)
    record: dict[str, Any] = {
        "format": FORMAT,
        "info": sets.info,
        "clean": {
            "file": "clean.npz",
            "sha256": arrays_digest(clean_arrays, sets.slices),
            "slices": sets.slices,
        },
        "sets": {},
    }
    for name in sets.names:
        evalset = sets[name]
        arrays = evalset.arrays()
        file = f"{name}.npz"
        _save_npz(folder / file, arrays)
        record["sets"][name] = {
            **_setting_record(evalset.setting),
            "file": file,
            "sha256": arrays_digest(arrays, evalset.params),
            "params": evalset.params,
        }
    path = atomic_write_json(folder / "evalsets.json", record)
    sets.folder, sets._record = folder, record
    return path


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as handle:
            return {key: handle[key] for key in handle.files}
    except FileNotFoundError as error:
        raise EvalSetChecksumError(
            f"{path}: file missing; delete the folder to regenerate"
        ) from error
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise EvalSetChecksumError(
            f"{path}: unreadable ({error}); the file is truncated or corrupt. Delete the folder "
            "to regenerate the evaluation sets from the seed."
        ) from error


def _verify(path: Path, arrays: Mapping[str, np.ndarray], params: Any, expected: str) -> None:
    actual = arrays_digest(arrays, params)
    if actual != expected:
        raise EvalSetChecksumError(
            f"{path}: checksum mismatch (expected {expected[:16]}..., got {actual[:16]}...); the "
            "file or its parameters were changed or corrupted. Delete the folder to regenerate "
            "the evaluation sets from the seed."
        )


def _load_set(folder: Path, name: str, entry: Mapping[str, Any], verify: bool = True) -> EvalSet:
    path = folder / entry["file"]
    arrays = _read_npz(path)
    if verify:
        _verify(path, arrays, entry["params"], entry["sha256"])
    if "corrupted" not in arrays:
        raise EvalSetChecksumError(f"{path}: no 'corrupted' array")
    return EvalSet(
        setting=_setting_from(entry, name),
        corrupted=arrays["corrupted"],
        params=entry["params"],
        low_res=arrays.get("low_res"),
        mask=arrays.get("mask"),
    )


def load_eval_sets(folder: str | os.PathLike, *, verify: bool = True) -> EvalSets:
    """Open stored evaluation sets; with ``verify`` every set is checked on first access.

    Raises
    ------
    FileNotFoundError
        No ``evalsets.json`` in ``folder``.
    EvalSetChecksumError
        A file is missing, unreadable, or differs from its checksum (the message names it).
    """
    folder = Path(folder)
    path = folder / "evalsets.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no stored evaluation sets here")
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise EvalSetChecksumError(f"{path}: unreadable ({error})") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise EvalSetChecksumError(f"{path}: not evaluation sets of this version ({FORMAT!r})")
    clean_path = folder / record["clean"]["file"]
    arrays = _read_npz(clean_path)
    if verify:
        _verify(clean_path, arrays, record["clean"]["slices"], record["clean"]["sha256"])
    sets = EvalSets(
        clean_01=arrays["clean_01"],
        clean=arrays["clean"],
        slices=record["clean"]["slices"],
        info=record["info"],
        folder=folder,
        _record=record,
    )
    if not verify:
        sets._sets = {n: _load_set(folder, n, e, verify=False) for n, e in record["sets"].items()}
    return sets


def eval_sets(
    profile: Any = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    output_dir: str | os.PathLike | None = "_build/outputs",
    dataset: str = "brain",
    fidelity: str = "paper",
    settings: DataSettings | None = None,
    progress: bool = False,
) -> EvalSets:
    """The profile's evaluation sets: loaded (and verified) if stored, else generated and stored.

    The test split of `load_slice_sets` (the synthetic test subjects, or the real data's test
    patients),
    at most ``eval_slices`` of them (`data_settings`), is corrupted with every
    `EVALUATION_SETTINGS` entry. Stored under ``output_dir/evalsets/<profile>-seed<seed>-<data
    fingerprint>``; a rerun with the same profile, seed, data and simulator code
    (`code_digest`) reuses the folder, and regenerates it when the code changed. With
    ``output_dir=None`` nothing is stored.
    """
    settings = settings if settings is not None else data_settings(profile)
    test = load_slice_sets(
        profile,
        data_dir=data_dir,
        seed=seed,
        output_dir=output_dir,
        dataset=dataset,
        splits=("test",),
        settings=settings,
        progress=progress,
    ).get("test")
    if test is None or len(test) == 0:
        raise ValueError(f"no test slices (dataset {dataset!r} has no test split?)")
    test = cap_slices(test, settings.eval_slices, seed)
    fingerprint = test.fingerprint()
    info = {
        "profile": profile_name(profile),
        "data": (
            f"synthetic subjects ({len(set(test.patient_id.tolist()))} test subjects)"
            if data_dir is None
            else str(data_dir)
        ),
        "dataset": dataset,
    }
    if output_dir is None:
        return make_eval_sets(test, seed=seed, fidelity=fidelity, info=info, progress=progress)
    suffix = "" if fidelity == "paper" else f"-{fidelity}"
    folder = (
        Path(output_dir)
        / "evalsets"
        / f"{profile_name(profile)}-seed{seed}{suffix}-{fingerprint[:12]}"
    )
    if (folder / "evalsets.json").exists():
        stored = load_eval_sets(folder)
        current = (
            stored.info.get("data_fingerprint") == fingerprint
            and stored.info.get("code_digest") == code_digest()
            and stored.names == [s.name for s in EVALUATION_SETTINGS]
        )
        if current:
            return stored
    sets = make_eval_sets(test, seed=seed, fidelity=fidelity, info=info, progress=progress)
    # Written as a whole folder: an interrupted run leaves no half-written sets behind.
    with atomic_folder(folder, overwrite=True) as staging:
        save_eval_sets(sets, staging)
    return load_eval_sets(folder)
