"""The paper profile's dry run: the fastMRI writer, the derived profile, the measurements.

The full dry run (``mtmri book --profile paper --dry-run``, about half an hour on 2 cores)
is a benchmark command in the README; here its code path runs on the smoke profile's shapes
with one chapter, and the writer and the profile are checked on their own.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from mtmri_lib.data import (
    data_settings,
    load_slice_sets,
    read_volume,
    synthetic_subjects,
    write_fastmri_file,
    write_fastmri_folder,
    write_synthetic_fastmri,
)
from mtmri_lib.data.fastmri_files import coil_sensitivities
from mtmri_lib.data.volume import Volume


@pytest.fixture(scope="module")
def small_volume() -> Volume:
    subject = synthetic_subjects(1, shape=32, rng=3)[0]
    keep = np.linspace(len(subject.data) // 4, 3 * len(subject.data) // 4, 3).astype(int)
    return Volume(data=subject.data[keep], patient_id=subject.patient_id, affine=subject.affine)


def test_writer_round_trip(tmp_path, small_volume):
    import h5py

    path = write_fastmri_file(tmp_path / "file_brain_a.h5", small_volume, coils=3, rng=1)
    stored = read_volume(path)
    from_kspace = read_volume(path, from_kspace=True)
    np.testing.assert_array_equal(stored.data, small_volume.data)
    # The k-space path removes the 2x readout oversampling and the coils (RSS): the volume
    # comes back within float32 rounding of the FFT pair.
    np.testing.assert_allclose(from_kspace.data, small_volume.data, atol=1e-5)
    assert stored.patient_id == small_volume.patient_id
    with h5py.File(path) as handle:
        assert handle["kspace"].shape == (3, 3, 64, 32)
        assert handle["kspace"].dtype == np.complex64
        assert handle["reconstruction_rss"].dtype == np.float32
        assert handle.attrs["max"] == pytest.approx(float(small_volume.data.max()))
    # The header's reconstruction space gives the spacing of the volume's grid.
    spacing = np.linalg.norm(small_volume.affine[:3, :3], axis=0)
    np.testing.assert_allclose(np.diag(stored.affine)[:3], spacing, rtol=1e-5)


def test_writer_same_seed_same_bytes(tmp_path, small_volume):
    first = write_fastmri_folder(tmp_path / "a", [small_volume], rng=7)
    second = write_fastmri_folder(tmp_path / "b", [small_volume], rng=7)
    other = write_fastmri_folder(tmp_path / "c", [small_volume], rng=8)

    def digest(paths):
        return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]

    assert digest(first) == digest(second) != digest(other)
    assert first[0].name == f"file_brain_{small_volume.patient_id}.h5"
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]


def test_writer_refuses_bad_input(tmp_path, small_volume):
    path = write_fastmri_file(tmp_path / "x.h5", small_volume)
    with pytest.raises(FileExistsError, match="overwrite"):
        write_fastmri_file(path, small_volume)
    with pytest.raises(ValueError, match=r"\.h5"):
        write_fastmri_file(tmp_path / "x.nii", small_volume)
    negative = Volume(data=-np.ones((1, 8, 8), np.float32), patient_id="n")
    with pytest.raises(ValueError, match=">= 0"):
        write_fastmri_file(tmp_path / "n.h5", negative)
    with pytest.raises(ValueError, match="distinct"):
        write_fastmri_folder(tmp_path / "d", [small_volume, small_volume])
    with pytest.raises(ValueError, match="coils"):
        coil_sensitivities((8, 8), 0)


def test_coil_sensitivities_sum_to_one():
    maps = coil_sensitivities((24, 16), 5, rng=0)
    np.testing.assert_allclose(np.sum(np.abs(maps) ** 2, axis=0), 1.0, atol=1e-5)


def test_synthetic_layout_is_read_as_the_readme_says(tmp_path):
    written = write_synthetic_fastmri(
        tmp_path, brain_subjects=5, pelvic_subjects=2, size=32, slices_per_subject=2
    )
    assert [len(written["brain"]), len(written["pelvic"])] == [5, 2]
    assert all(p.parent == tmp_path / "brain" for p in written["brain"])
    settings = data_settings("smoke")
    brain = load_slice_sets(settings, data_dir=tmp_path, splits=("train", "test"))
    pelvic = load_slice_sets(settings, data_dir=tmp_path, dataset="pelvic")
    patients = set(brain["train"].patient_id.tolist()) | set(brain["test"].patient_id.tolist())
    assert patients and all(p.startswith("brain-") for p in patients)
    assert all(p.startswith("pelvic-") for p in pelvic["train"].patient_id.tolist())
    with pytest.raises(ValueError, match="pelvic_subjects"):
        write_synthetic_fastmri(tmp_path / "bad", pelvic_subjects=1, size=32)


def test_paper_dry_profile_keeps_the_shapes_and_shrinks_the_counts():
    from mtmri_lib.models import model_config
    from mtmri_lib.profiles import dry_run_profile, get_profile, is_dry_run, profile_caption
    from mtmri_lib.training import training_settings

    paper, dry = get_profile("paper"), dry_run_profile("paper")
    assert dry is get_profile("paper-dry")
    assert dry.image_size == paper.image_size == 320
    assert dry.model == paper.model
    assert dry.training.search_models == paper.training.search_models
    assert set(dry.training.search_trials.values()) == {1}
    assert dry.training.max_epochs <= 2 and dry.training.steps_per_epoch <= 2
    assert dry.data.eval_slices < paper.data.eval_slices
    assert dry.book.corruption_draws < paper.book.corruption_draws
    # The lower layers find the derived name in their own tables.
    assert data_settings("paper-dry") == dry.data
    assert model_config("paper-dry") == paper.model
    assert training_settings("paper-dry") == dry.training
    assert is_dry_run("paper-dry") and not is_dry_run("paper")
    assert "dry run" in profile_caption("paper-dry")
    assert profile_caption("cpu") == "cpu profile"
    with pytest.raises(ValueError, match="only paper has one"):
        dry_run_profile("cpu")


def test_register_profile_refuses_a_clash():
    from mtmri_lib.profiles import get_profile, register_profile

    dry = get_profile("paper-dry")
    assert register_profile(dry) is dry
    with pytest.raises(ValueError, match="other settings"):
        register_profile(dry.with_(eval_slices=3))
    with pytest.raises(ValueError, match="other settings"):
        register_profile(get_profile("cpu").with_(name="smoke"))


def test_dry_run_of_another_profile_is_a_clear_error(tmp_path, capsys):
    from mtmri_lib.cli import main

    assert main(["book", "--profile", "cpu", "--dry-run", "--build-dir", str(tmp_path)]) == 1
    assert "--dry-run" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_resource_monitor_measures_a_child(tmp_path):
    from mtmri_lib.report.runner import ResourceMonitor

    script = (
        "import sys, time, numpy as np\n"
        "block = np.ones(40 * 2**20, np.uint8)\n"
        "open(sys.argv[1], 'wb').write(block.tobytes())\n"
        "time.sleep(0.5)\n"
    )
    with ResourceMonitor(interval=0.05, watch=tmp_path) as monitor:
        subprocess.run([sys.executable, "-c", script, str(tmp_path / "out.bin")], check=True)
    assert monitor.peak_rss_bytes >= 40 * 2**20
    assert monitor.disk_bytes == 40 * 2**20
    assert monitor.seconds >= 0.5


def test_dry_run_driver_on_smoke_shapes(tmp_path):
    from mtmri_lib.report.runner import ROOT, _run_measured

    report = _run_measured(
        "smoke",
        report_name="dry-run-smoke.json",
        data_dir=None,
        seed=0,
        build_dir=tmp_path,
        force=False,
        root=ROOT,
        only=["reproduce"],
        correct=False,
        machine={},
    )
    steps = {step["step"]: step for step in report.steps}
    assert list(steps) == ["write fastMRI", "reproduce"]
    assert steps["write fastMRI"]["kspace_check"]["relative_error"] < 1e-5
    assert (tmp_path / "dry-run-data" / "brain").is_dir()
    assert (tmp_path / "dry-run-data" / "pelvic").is_dir()
    for step in steps.values():
        assert step["seconds"] > 0 and step["peak_rss_bytes"] > 2**20
        assert step["disk_bytes"] > 0
    stored = json.loads(report.path.read_text())
    assert stored["steps"] == report.steps
    assert "reproduce" in report.table()
    # No training chapter ran: nothing to extrapolate from, and the report says so.
    assert report.extrapolation["paper_epoch_hours"] is None
    assert report.memory["fits_24gb_note"] == "no training chapter measured"
