"""Splits by patient: exact counts, determinism from the seed, exclusivity, manifest reuse."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mtmri_lib.data import make_split, split_patients
from mtmri_lib.data.splits import load_split, split_counts

nibabel = pytest.importorskip("nibabel")


@pytest.mark.parametrize(
    ("n", "fractions", "expected"),
    [
        (10, "brain", {"train": 7, "validation": 1, "test": 2}),
        (3, "brain", {"train": 1, "validation": 1, "test": 1}),
        (8, "brain", {"train": 6, "validation": 1, "test": 1}),  # 5.6 / 0.8 / 1.6: a tie
        (1, "brain", {"train": 1, "validation": 0, "test": 0}),
        (375, "pelvic", {"train": 300, "validation": 75}),
        (3969, "brain", {"train": 2778, "validation": 397, "test": 794}),
    ],
)
def test_split_counts(n, fractions, expected):
    assert split_counts(n, fractions) == expected


def test_bad_fractions_raise():
    with pytest.raises(ValueError, match="sum to 1"):
        split_patients(["a", "b"], {"train": 0.5, "test": 0.4})
    with pytest.raises(ValueError, match="brain, pelvic"):
        split_patients(["a"], "knee")


def test_split_is_deterministic_and_exclusive():
    patients = [f"p{i:03d}" for i in range(50)]
    first = split_patients(patients, "brain", seed=3)
    # Input order and duplicates (several files per patient) change nothing.
    again = split_patients(list(reversed(patients)) + patients[:10], "brain", seed=3)
    assert first == again
    assert split_patients(patients, "brain", seed=4) != first
    groups = [set(v) for v in first.values()]
    assert sum(len(g) for g in groups) == 50
    assert set().union(*groups) == set(patients)
    assert {k: len(v) for k, v in first.items()} == {"train": 35, "validation": 5, "test": 10}


def _write(folder, names):
    folder.mkdir(exist_ok=True)
    for name in names:
        image = nibabel.Nifti1Image(np.ones((4, 4, 2), np.float32), np.eye(4))
        nibabel.save(image, folder / name)


def test_make_split_keeps_a_patient_together_and_reuses_the_manifest(tmp_path):
    data = tmp_path / "data"
    names = [f"sub-{i:02d}_run-{r}_T1w.nii" for i in range(12) for r in (1, 2)]
    _write(data, names)
    manifest = tmp_path / "out" / "split.json"
    split = make_split(data, dataset="brain", seed=0, manifest=manifest)
    assert not split.reused and manifest.exists()
    for name, files in split.files.items():
        patients = {f.name.split("_")[0] for f in files}
        assert patients == set(split.patients[name])
        assert len(files) == 2 * len(patients)  # both runs of each patient
    record = load_split(manifest)
    assert record["seed"] == 0 and record["counts"]["train"]["patients"] == 9
    assert record["files"]["test"][0].endswith(".nii")  # relative to the data folder

    # A rerun reuses the manifest, even when it was edited by hand (it is the source of truth).
    edited = json.loads(manifest.read_text())
    moved = edited["patients"]["train"].pop()
    edited["patients"]["test"].append(moved)
    manifest.write_text(json.dumps(edited))
    rerun = make_split(data, dataset="brain", seed=0, manifest=manifest)
    assert rerun.reused and moved in rerun.patients["test"]

    with pytest.raises(ValueError, match="seed 0"):
        make_split(data, dataset="brain", seed=1, manifest=manifest)
    _write(data, ["sub-99_T1w.nii"])
    with pytest.raises(ValueError, match="1 new patient"):
        make_split(data, dataset="brain", seed=0, manifest=manifest)


def test_pelvic_split_has_no_test(tmp_path):
    _write(tmp_path, [f"case{i}.nii.gz" for i in range(10)])
    split = make_split(tmp_path, dataset="pelvic", seed=0)
    assert split.summary() == {
        "train": {"patients": 8, "files": 8},
        "validation": {"patients": 2, "files": 2},
    }
