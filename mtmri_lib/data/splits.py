"""Splits by patient, never by slice: deterministic from a seed, written as a JSON manifest.

The article splits fastMRI brain scans 70/10/20 (train/validation/test) and its pelvic scans
80/20 (train/validation) by patient. `split_patients` shuffles the sorted patient ids with
the seed and cuts them in those proportions (largest remainders, every split non-empty when
there are enough patients), so the result does not depend on file order. `make_split` maps
files to patients, writes the manifest, and on a rerun reuses the manifest it finds.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int
from ..store import atomic_write_json
from .readers import find_volume_paths, patient_id_of
from .settings import SPLIT_FRACTIONS

__all__ = ["split_patients", "split_counts", "make_split", "load_split", "Split"]

MANIFEST_FORMAT = "mtmri split manifest, version 1"


def _fractions(fractions: Mapping[str, float] | str) -> dict[str, float]:
    if isinstance(fractions, str):
        if fractions not in SPLIT_FRACTIONS:
            names = ", ".join(SPLIT_FRACTIONS)
            raise ValueError(f"fractions must be a dict or one of {names}; got {fractions!r}")
        fractions = SPLIT_FRACTIONS[fractions]
    fractions = {str(k): float(v) for k, v in dict(fractions).items()}
    if not fractions or any(v < 0 or not math.isfinite(v) for v in fractions.values()):
        raise ValueError(f"fractions must be non-negative numbers; got {fractions}")
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1; got {fractions} (sum {total:g})")
    return fractions


def split_counts(n: int, fractions: Mapping[str, float] | str) -> dict[str, int]:
    """Patients per split: largest remainders of ``n * fraction``; a split with a positive
    fraction gets at least one patient whenever ``n`` allows it."""
    n = check_int("n", n, 0)
    fractions = _fractions(fractions)
    exact = {k: n * v for k, v in fractions.items()}
    counts = {k: int(math.floor(v)) for k, v in exact.items()}
    # Remainders rounded so that float noise (8 * 0.7 = 5.5999...) does not break exact ties,
    # which go to the split listed first.
    order = list(fractions)
    by_remainder = sorted(order, key=lambda k: (-round(exact[k] - counts[k], 9), order.index(k)))
    for key in by_remainder[: n - sum(counts.values())]:
        counts[key] += 1
    wanted = [k for k, v in fractions.items() if v > 0]
    if n >= len(wanted):
        for key in wanted:
            if counts[key] == 0:
                donor = max(counts, key=lambda k: counts[k])
                counts[donor] -= 1
                counts[key] += 1
    return counts


def split_patients(
    patient_ids: Iterable[str], fractions: Mapping[str, float] | str = "brain", seed: int = 0
) -> dict[str, list[str]]:
    """Assign each patient to one split.

    Parameters
    ----------
    patient_ids : iterable of str
        Duplicates are fine (one entry per file); each patient lands in exactly one split.
    fractions : dict or {"brain", "pelvic"}
        Split name -> fraction of patients (summing to 1); "brain" is 70/10/20
        (train/validation/test), "pelvic" 80/20 (train/validation).
    seed : int
        The same seed and patient set give the same split, whatever the input order.

    Returns
    -------
    dict of split name -> sorted list of patient ids
    """
    patients = sorted({str(p) for p in patient_ids})
    fractions = _fractions(fractions)
    counts = split_counts(len(patients), fractions)
    order = np.random.default_rng(check_int("seed", seed, 0)).permutation(len(patients))
    shuffled = [patients[i] for i in order]
    result, start = {}, 0
    for name in fractions:
        result[name] = sorted(shuffled[start : start + counts[name]])
        start += counts[name]
    return result


@dataclass
class Split:
    """A split of volume files by patient.

    Attributes
    ----------
    patients : dict of split name -> list of patient ids
    files : dict of split name -> list of Path
    seed : int
    fractions : dict of split name -> float
    manifest : Path or None
        Where the manifest was written or read.
    reused : bool
        True when an existing manifest was reused.
    """

    patients: dict[str, list[str]]
    files: dict[str, list[Path]]
    seed: int
    fractions: dict[str, float]
    manifest: Path | None = None
    reused: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def split_of(self, patient_id: str) -> str:
        """The split a patient belongs to."""
        for name, patients in self.patients.items():
            if patient_id in patients:
                return name
        raise KeyError(f"patient {patient_id!r} is in no split")

    def summary(self) -> dict[str, dict[str, int]]:
        """Patients and files per split."""
        return {
            name: {"patients": len(self.patients[name]), "files": len(self.files.get(name, []))}
            for name in self.patients
        }


def _manifest_record(split: Split, dataset: str, root: Path | None) -> dict[str, Any]:
    def name(path: Path) -> str:
        if root is not None:
            try:
                return str(path.relative_to(root))
            except ValueError:
                pass
        return str(path)

    return {
        "format": MANIFEST_FORMAT,
        "dataset": dataset,
        "seed": split.seed,
        "fractions": split.fractions,
        "counts": split.summary(),
        "patients": split.patients,
        "files": {k: [name(p) for p in v] for k, v in split.files.items()},
        **split.extra,
    }


def load_split(manifest: str | os.PathLike) -> dict[str, Any]:
    """Read a split manifest (JSON); a damaged file raises an error naming it."""
    manifest = Path(manifest)
    try:
        record = json.loads(manifest.read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as error:
        raise ValueError(f"{manifest}: not a readable split manifest ({error})") from error
    if not isinstance(record, dict) or record.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{manifest}: not a split manifest of this version ({MANIFEST_FORMAT!r})")
    return record


def make_split(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    dataset: str = "brain",
    fractions: Mapping[str, float] | None = None,
    seed: int = 0,
    manifest: str | os.PathLike | None = None,
) -> Split:
    """Split volume files by patient, writing (or reusing) a JSON manifest.

    Parameters
    ----------
    paths : folder or iterable of paths
        A folder (its volumes, see `find_volume_paths`) or the volume paths.
    dataset : {"brain", "pelvic"}
        Chooses the default fractions (70/10/20 or 80/20).
    fractions : dict, optional
        Overrides the dataset's fractions.
    seed : int
    manifest : path, optional
        If the file exists it is reused: its seed and fractions must match the request and
        it must cover exactly the patients found now (else a ValueError says what differs;
        delete the manifest or name another to split afresh). If it does not exist, it is
        written.

    A file whose patient cannot be read is left out with a warning naming it, and a final
    warning counts them; the manifest lists them under ``unreadable``.
    """

    root = None
    given: Iterable[str | os.PathLike]
    if isinstance(paths, (str, os.PathLike)):
        root = Path(paths)
        given = find_volume_paths(root) if root.is_dir() else [root]
        root = root if root.is_dir() else root.parent
    else:
        given = paths
    volume_paths = [Path(p) for p in given]
    if not volume_paths:
        raise ValueError("no volumes to split")
    fractions = _fractions(fractions if fractions is not None else dataset)
    patient_of: dict[Path, str] = {}
    skipped: list[str] = []
    for path in volume_paths:
        try:
            patient_of[path] = patient_id_of(path)
        except (OSError, ValueError) as error:
            skipped.append(path.name)
            warnings.warn(f"left out of the split: {error}", stacklevel=2)
    if skipped:
        warnings.warn(
            f"left {len(skipped)} of {len(volume_paths)} volume(s) out of the split (unreadable)",
            stacklevel=2,
        )
    volume_paths = list(patient_of)
    if not volume_paths:
        raise ValueError("no readable volumes to split")
    patients_now = sorted(set(patient_of.values()))

    if manifest is not None and Path(manifest).exists():
        record = load_split(manifest)
        if int(record["seed"]) != int(seed) or _fractions(record["fractions"]) != fractions:
            raise ValueError(
                f"{manifest}: made with seed {record['seed']} and fractions {record['fractions']}; "
                f"requested seed {seed} and fractions {fractions}. Delete it or name another file."
            )
        assigned = {p: name for name, ps in record["patients"].items() for p in ps}
        added = sorted(set(patients_now) - set(assigned))
        missing = sorted(set(assigned) - set(patients_now))
        if added or missing:
            raise ValueError(
                f"{manifest}: the data changed since the manifest was written "
                f"({len(added)} new patient(s), e.g. {added[:3]}; {len(missing)} missing, "
                f"e.g. {missing[:3]}). Delete it or name another file to split afresh."
            )
        patients = {name: list(ps) for name, ps in record["patients"].items()}
        reused = True
    else:
        patients = split_patients(patients_now, fractions, seed)
        reused = False
    split_name = {p: name for name, ps in patients.items() for p in ps}
    files: dict[str, list[Path]] = {name: [] for name in patients}
    for path in volume_paths:
        files[split_name[patient_of[path]]].append(path)
    split = Split(
        patients=patients,
        files=files,
        seed=int(seed),
        fractions=fractions,
        manifest=Path(manifest) if manifest is not None else None,
        reused=reused,
        extra={"unreadable": skipped} if skipped else {},
    )
    if manifest is not None and not reused:
        atomic_write_json(manifest, _manifest_record(split, dataset, root))
    return split
