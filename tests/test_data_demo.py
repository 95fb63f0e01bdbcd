"""Packaged demo data (offline), slice preparation and the demo split."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mtmri_lib.data import (
    DEMO_SOURCES,
    MNI152_NOTICE,
    data_settings,
    demo_slice,
    demo_volumes,
    informative_slices,
    load_slice_sets,
    prepare_volume,
)
from mtmri_lib.data.volume import Volume
from mtmri_lib.stats import nemenyi_critical_difference, power_table


def test_demo_loads_without_network():
    """In a fresh process with the proxies pointing nowhere and sockets refusing to connect."""
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network disabled in this test")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        from mtmri_lib.data import demo_volumes
        volumes = demo_volumes()
        print(len(volumes), sum(v.data.shape[0] for v in volumes))
        """
    )
    env = dict(os.environ)
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env[key] = "http://127.0.0.1:9"
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    n_volumes, n_slices = map(int, out.stdout.split())
    assert n_volumes == len(DEMO_SOURCES) + 2  # the template in three orientations
    assert n_slices > 600


def test_demo_volumes_roles_and_licences():
    volumes = demo_volumes()
    template = [v for v in volumes if v.metadata["role"] == "template"]
    real = [v for v in volumes if v.metadata["role"] == "real"]
    assert {v.metadata["plane"] for v in template} == {"axial", "coronal", "sagittal"}
    assert {v.patient_id for v in template} == {"mni152_2009"}
    assert len({v.patient_id for v in real}) == len(real) == len(DEMO_SOURCES) - 1
    assert all(v.metadata["licence"] for v in volumes)
    assert "McConnell Brain Imaging Centre" in MNI152_NOTICE
    assert [v.patient_id for v in demo_volumes("real")] == [v.patient_id for v in real]
    with pytest.raises(ValueError, match="role"):
        demo_volumes("train")
    # Copies: changing one does not change the next call's volumes.
    template[0].data[:] = 0
    assert demo_volumes("template")[0].data.max() > 0


def test_demo_slice_is_prepared():
    image = demo_slice(48)
    assert image.shape == (48, 48)
    assert image.min() == 0.0 and image.max() == 1.0


def test_informative_slices_drop_constant_and_empty():
    data = np.zeros((4, 20, 20), np.float32)
    data[1] = 5.0  # constant
    data[2, 8:12, 8:12] = 100.0  # content
    data[3, 0, 0] = 100.0  # one bright pixel: 0.25 % of the slice
    assert informative_slices(data).tolist() == [False, False, True, False]
    assert informative_slices(data, min_foreground=0).tolist() == [False, False, True, True]
    prepared = prepare_volume(Volume(data=data, patient_id="p"), 16)
    assert prepared.images.shape == (1, 16, 16) and prepared.dropped == 3
    assert prepared.slice_index.tolist() == [2]
    assert prepared.images.dtype == np.float32
    assert prepared.images.min() == 0 and prepared.images.max() == 1


def test_default_split_keeps_subjects_apart():
    sets = load_slice_sets("smoke")
    train, validation, test = sets["train"], sets["validation"], sets["test"]
    settings = data_settings("smoke")
    assert train.images.shape[1:] == (32, 32) and train.images.dtype == np.float32
    subjects = {name: set(s.patient_id.tolist()) for name, s in sets.items()}
    assert not subjects["train"] & subjects["validation"]
    assert not subjects["train"] & subjects["test"]
    assert not subjects["validation"] & subjects["test"]
    # 70 / 10 / 20 of the profile's subjects, each with its slices_per_subject slices.
    assert [len(subjects[n]) for n in ("train", "validation", "test")] == [7, 1, 2]
    assert settings.subjects == 10
    assert all(
        np.sum(s.patient_id == patient) == settings.slices_per_subject
        for s in (validation, test)
        for patient in set(s.patient_id.tolist())
    )
    assert len(train) <= settings.max_slices["train"]
    assert all(label.startswith("synthetic-") for label in train.volume)
    # Reproducible from the seed; another seed gives other subjects.
    again = load_slice_sets("smoke", splits=("train",))["train"]
    assert again.fingerprint() == train.fingerprint()
    other = load_slice_sets("smoke", seed=1, splits=("train",))["train"]
    assert other.fingerprint() != train.fingerprint()


def test_the_split_manifest_names_subjects_and_contrasts(tmp_path):
    sets = load_slice_sets("smoke", output_dir=tmp_path)
    manifest = json.loads((tmp_path / "split_synthetic_brain_seed0.json").read_text())
    listed = {
        name: {entry["subject"] for entry in entries}
        for name, entries in manifest["splits"].items()
    }
    assert listed == {name: set(s.patient_id.tolist()) for name, s in sets.items()}
    contrasts = {e["contrast"] for entries in manifest["splits"].values() for e in entries}
    assert contrasts <= {"T1", "T2", "PD", "FLAIR"} and contrasts
    # The prepared slices are cached there and read back identically.
    cached = load_slice_sets("smoke", output_dir=tmp_path)
    assert all(cached[n].fingerprint() == sets[n].fingerprint() for n in sets)
    assert list((tmp_path / "slices").glob("synthetic-*.npz"))


def test_the_pelvic_stand_in_has_its_own_subjects_and_no_test_split():
    brain = load_slice_sets("smoke", splits=("train",))["train"]
    pelvic = load_slice_sets("smoke", dataset="pelvic")
    assert set(pelvic) == {"train", "validation"}
    assert pelvic["train"].fingerprint() != brain.fingerprint()


def test_cpu_test_set_has_eight_unseen_subjects():
    sets = load_slice_sets("cpu")
    assert len(set(sets["test"].patient_id.tolist())) == 8
    assert len(sets["test"]) == 8 * data_settings("cpu").slices_per_subject
    assert not set(sets["test"].patient_id.tolist()) & set(sets["train"].patient_id.tolist())


def test_power_table_matches_demsar():
    # Demsar (2006), Table 5(a): q_0.05 = 2.569 (4 methods), 2.728 (5 methods).
    assert nemenyi_critical_difference(1, 4) / np.sqrt(4 * 5 / 6) == pytest.approx(2.569, abs=1e-3)
    assert nemenyi_critical_difference(1, 5) / np.sqrt(5 * 6 / 6) == pytest.approx(2.728, abs=1e-3)
    table = power_table(50, 5)
    assert list(table.index) == ["slices", "volumes"]
    assert table.loc["slices", "detectable win rate"] < table.loc["volumes", "detectable win rate"]


def test_the_subject_table_counts_subjects_and_contrasts():
    from mtmri_lib.data.slicesets import volume_contrast
    from mtmri_lib.report.views import subject_table

    assert volume_contrast("synthetic-007", "synthetic-007 (FLAIR)") == "FLAIR"
    assert volume_contrast("p1", "file.h5") == "real data"
    sets = load_slice_sets("smoke")
    table = subject_table(sets)
    assert table.loc["train", "subjects"] == 7 and table.loc["test", "subjects"] == 2
    contrast_columns = [c for c in table.columns if c.endswith(" subjects") and c != "subjects"]
    assert (table[contrast_columns].sum(axis=1) == table["subjects"]).all()
    assert table.loc["validation", "slices"] == len(sets["validation"])


def test_an_unreadable_subject_cache_is_made_again(tmp_path):
    sets = load_slice_sets("smoke", output_dir=tmp_path, splits=("train",))
    (cache,) = (tmp_path / "slices").glob("synthetic-*.npz")
    cache.write_bytes(cache.read_bytes()[:100])  # truncated by hand, not by the library
    with pytest.warns(UserWarning, match="unreadable cache"):
        again = load_slice_sets("smoke", output_dir=tmp_path, splits=("train",))
    assert again["train"].fingerprint() == sets["train"].fingerprint()
    assert load_slice_sets("smoke", output_dir=tmp_path, splits=("train",))["train"].fingerprint()
