"""Synthetic subjects from the MNI152 2009 tissue maps: reproducibility, shapes, contrasts,
background, tissue ordering, texture and per-subject anatomy."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mtmri_lib.data.synthetic import (
    CONTRASTS,
    TISSUE_PROPERTIES,
    synthetic_subjects,
    synthetic_tissue_maps,
)
from mtmri_lib.data.volume import Volume

SIZE = 48  # small grids keep the tests fast; the tissue tests use 64 for enough pure voxels


def _digest(volumes: list[Volume]) -> str:
    digest = hashlib.sha256()
    for volume in volumes:
        digest.update(volume.data.tobytes())
        digest.update(np.asarray(volume.affine).tobytes())
        digest.update(volume.patient_id.encode())
        digest.update(json.dumps(volume.metadata, sort_keys=True).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def subjects() -> list[Volume]:
    return synthetic_subjects(3, shape=SIZE, rng=11)


@pytest.fixture(scope="module")
def by_contrast() -> dict[str, Volume]:
    """One subject (the same anatomy) per contrast, 64 x 64, and its tissue maps."""
    return {c: synthetic_subjects(1, shape=64, contrasts=(c,), rng=3)[0] for c in CONTRASTS}


def _pure_means(volume: Volume) -> dict[str, float]:
    maps = synthetic_tissue_maps(volume)
    means = {}
    for tissue, probability in maps.items():
        pure = probability >= 0.9
        assert pure.sum() >= 5, f"too few pure {tissue} voxels"
        means[tissue] = float(volume.data[pure].mean())
    return means


def test_volumes_are_axial_float32_with_geometry_and_json_metadata(subjects):
    for k, volume in enumerate(subjects):
        assert isinstance(volume, Volume)
        assert volume.data.dtype == np.float32
        assert volume.data.ndim == 3 and volume.n_slices > 10
        assert volume.affine is not None
        voxel = volume.metadata["voxel_mm"]
        assert np.allclose(np.linalg.norm(volume.affine[:3, :3], axis=0), voxel)
        assert volume.metadata["plane"] == "axial"
        assert f"synthetic subject {k}:" in volume.source
        assert f"TR {volume.metadata['TR_ms']:.0f} ms" in volume.source
        json.dumps(volume.metadata)  # plain values only
        for key in ("contrast", "field_T", "TR_ms", "TE_ms", "TI_ms", "seed", "rotation_deg"):
            assert key in volume.metadata
        assert volume.metadata["field_T"] in TISSUE_PROPERTIES
        assert (volume.metadata["TI_ms"] is None) == (volume.metadata["contrast"] != "FLAIR")


def test_every_slice_holds_brain_and_the_robust_maximum_is_one(subjects):
    volume = subjects[0]
    maps = synthetic_tissue_maps(volume)
    fraction = sum(maps.values())
    assert np.all(fraction.reshape(volume.n_slices, -1).max(axis=1) > 0)
    assert np.percentile(volume.data[fraction >= 0.5], 99.5) == pytest.approx(1.0, rel=1e-5)


def test_same_seed_gives_the_same_bits_also_in_another_process(subjects):
    again = synthetic_subjects(3, shape=SIZE, rng=11)
    assert _digest(again) == _digest(subjects)
    script = textwrap.dedent(
        f"""
        import hashlib, json
        import numpy as np
        from mtmri_lib.data.synthetic import synthetic_subjects
        digest = hashlib.sha256()
        for volume in synthetic_subjects(3, shape={SIZE}, rng=11):
            digest.update(volume.data.tobytes())
            digest.update(np.asarray(volume.affine).tobytes())
            digest.update(volume.patient_id.encode())
            digest.update(json.dumps(volume.metadata, sort_keys=True).encode())
        print(digest.hexdigest())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == _digest(subjects)


def test_a_generator_is_accepted_and_advanced():
    rng = np.random.default_rng(11)
    first = synthetic_subjects(1, shape=16, rng=rng)[0]
    second = synthetic_subjects(1, shape=16, rng=rng)[0]
    assert first.metadata["seed"] != second.metadata["seed"]
    assert first.metadata["seed"] == synthetic_subjects(1, shape=16, rng=11)[0].metadata["seed"]


def test_different_seeds_differ(subjects):
    other = synthetic_subjects(1, shape=SIZE, rng=12)[0]
    assert other.metadata["seed"] != subjects[0].metadata["seed"]
    assert other.data.shape != subjects[0].data.shape or not np.array_equal(
        other.data, subjects[0].data
    )


def test_n_subjects_with_distinct_patient_ids(subjects):
    assert len(subjects) == 3
    ids = [v.patient_id for v in subjects]
    assert ids == ["synthetic-000", "synthetic-001", "synthetic-002"]
    assert len({v.metadata["seed"] for v in subjects}) == 3
    assert len(synthetic_subjects(7, shape=16, rng=0)) == 7


def test_subject_k_does_not_depend_on_how_many_are_drawn(subjects):
    five = synthetic_subjects(5, shape=SIZE, rng=11)
    assert _digest(five[:3]) == _digest(subjects)


@pytest.mark.parametrize("shape, expected", [(40, (40, 40)), ((40, 56), (40, 56))])
def test_shape_is_honoured(shape, expected):
    (volume,) = synthetic_subjects(1, shape=shape, rng=1)
    assert volume.data.shape[1:] == expected
    assert volume.metadata["shape"] == list(expected)
    # Isotropic voxels: the template's 233 x 197 mm field of view fits the frame.
    assert volume.metadata["voxel_mm"] == pytest.approx(max(233 / expected[0], 197 / expected[1]))
    assert volume.metadata["grid_slices"] == round(189 / volume.metadata["voxel_mm"])


@pytest.mark.slow
def test_full_size_is_the_template_grid(subjects):
    (volume,) = synthetic_subjects(1, rng=11)
    assert volume.data.shape[1:] == (233, 197)
    assert volume.metadata["voxel_mm"] == 1.0
    assert volume.metadata["seed"] == subjects[0].metadata["seed"]
    # The template's axial affine (1 mm, anterior at the top), offset to the first kept slice.
    expected = np.array(
        [[0, 0, 1, -98], [0, -1, 0, 98], [1, 0, 0, -72 + volume.metadata["first_slice"]]]
    )
    assert np.allclose(volume.affine[:3], expected)
    # Both grids put their centre at the same scanner point.
    for v in (volume, subjects[0]):
        centre = np.array(
            [(v.metadata["grid_slices"] - 1) / 2, *((n - 1) / 2 for n in v.metadata["shape"])]
        )
        centre[0] -= v.metadata["first_slice"]
        assert np.allclose(v.affine @ np.append(centre, 1), [0, -18, 22, 1])


def test_one_seed_gives_the_same_anatomy_at_every_shape():
    small, large = (synthetic_subjects(1, shape=s, rng=4)[0] for s in (32, 64))
    for key in ("seed", "rotation_deg", "scale", "shift_mm", "contrast", "TR_ms"):
        assert small.metadata[key] == large.metadata[key]
    # The same brain: its extent in mm along the slices is nearly the same.
    extent = [v.n_slices * v.metadata["voxel_mm"] for v in (small, large)]
    assert extent[0] == pytest.approx(extent[1], abs=2 * small.metadata["voxel_mm"])


def test_contrasts_subset_is_honoured():
    volumes = synthetic_subjects(12, shape=16, contrasts=("T1", "PD"), rng=2)
    assert {v.metadata["contrast"] for v in volumes} == {"T1", "PD"}
    assert {v.metadata["contrast"] for v in synthetic_subjects(3, shape=16, contrasts="FLAIR")} == {
        "FLAIR"
    }


def test_all_contrasts_are_drawn_mostly_t2_and_flair():
    volumes = synthetic_subjects(60, shape=16, rng=5)
    counts = {c: sum(v.metadata["contrast"] == c for v in volumes) for c in CONTRASTS}
    assert all(counts[c] > 0 for c in ("T1", "T2", "FLAIR"))
    assert counts["T2"] + counts["FLAIR"] > counts["T1"] + counts["PD"]
    assert {v.metadata["field_T"] for v in volumes} == {1.5, 3.0}


@pytest.mark.parametrize("contrasts, named", [(("T3",), "T3"), (("T1", "flair"), "flair")])
def test_unknown_contrasts_raise_naming_them(contrasts, named):
    with pytest.raises(ValueError, match=f"unknown contrast '{named}'"):
        synthetic_subjects(1, shape=16, contrasts=contrasts)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="at least one"):
        synthetic_subjects(1, shape=16, contrasts=())
    with pytest.raises(ValueError, match="n must be >= 1"):
        synthetic_subjects(0)
    with pytest.raises(TypeError, match="n must be an integer"):
        synthetic_subjects(1.5)
    with pytest.raises(ValueError, match=r"shape\[0\] must lie in \[16, 320\]"):
        synthetic_subjects(1, shape=8)
    with pytest.raises(ValueError, match=r"shape\[1\]"):
        synthetic_subjects(1, shape=(64, 0))
    with pytest.raises(ValueError, match="pair"):
        synthetic_subjects(1, shape=(64,))
    with pytest.raises(TypeError, match="rng"):
        synthetic_subjects(1, shape=16, rng=1.5)


def test_background_is_exactly_zero_and_no_value_is_negative(subjects):
    for volume in subjects:
        maps = synthetic_tissue_maps(volume)
        brain = sum(maps.values()) > 0
        assert brain.any() and not brain.all()
        assert np.all(volume.data[~brain] == 0)
        assert np.all(volume.data >= 0)
        assert np.mean(volume.data[brain] > 0) > 0.99


def test_tissue_maps_refuse_other_volumes(subjects):
    with pytest.raises(ValueError, match="not a synthetic subject"):
        synthetic_tissue_maps(Volume(data=np.zeros((2, 4, 4)), patient_id="x"))
    cropped = Volume(
        data=subjects[0].data[:, :-1],
        patient_id=subjects[0].patient_id,
        metadata=subjects[0].metadata,
    )
    with pytest.raises(ValueError, match="no longer match"):
        synthetic_tissue_maps(cropped)


def test_tissue_ordering_per_contrast(by_contrast):
    means = {c: _pure_means(v) for c, v in by_contrast.items()}
    t1, t2, pd, flair = (means[c] for c in ("T1", "T2", "PD", "FLAIR"))
    assert t1["WM"] > t1["GM"] > t1["CSF"]
    assert t2["CSF"] > t2["GM"] > t2["WM"]
    assert flair["GM"] > flair["WM"] > flair["CSF"]
    # FLAIR nulls CSF: far darker against GM than in the T2-weighted image.
    assert flair["CSF"] / flair["GM"] < 0.25 * t2["CSF"] / t2["GM"]
    # PD-weighted: GM above WM; CSF, not fully relaxed at TR 2-4 s, between its T1w and T2w.
    assert pd["GM"] > pd["WM"]
    assert t1["CSF"] / t1["GM"] < pd["CSF"] / pd["GM"] < t2["CSF"] / t2["GM"]


def test_texture_is_present_and_mild(by_contrast):
    volume = by_contrast["T2"]
    wm = volume.data[synthetic_tissue_maps(volume)["WM"] >= 0.95]
    relative = wm.std() / wm.mean()
    assert 0.01 < relative < 0.1


def test_deformations_differ_between_subjects(subjects):
    masks = []
    for volume in subjects:
        # Each brain mask on the whole grid, so that the slices line up.
        mask = np.zeros((volume.metadata["grid_slices"], SIZE, SIZE), dtype=bool)
        first = volume.metadata["first_slice"]
        mask[first : first + volume.n_slices] = sum(synthetic_tissue_maps(volume).values()) > 0
        masks.append(mask)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert not np.array_equal(masks[a], masks[b])
        changed = (masks[a] ^ masks[b]).sum() / masks[a].sum()
        assert changed > 0.01
    assert subjects[0].metadata["rotation_deg"] != subjects[1].metadata["rotation_deg"]
