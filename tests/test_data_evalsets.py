"""Evaluation sets: the article's settings, bit-identical regeneration, checksums, caching."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mtmri_lib.artefacts import corrupt, corrupt_sequence
from mtmri_lib.data import (
    EVALUATION_SETTINGS,
    EvalSetChecksumError,
    eval_sets,
    load_eval_sets,
    load_slice_sets,
    make_eval_sets,
    save_eval_sets,
)
from mtmri_lib.data import evalsets as evalsets_module


@pytest.fixture(scope="module")
def test_slices():
    test = load_slice_sets("smoke", splits=("test",))["test"]
    return test.subset(np.arange(6))


@pytest.fixture(scope="module")
def generated(test_slices):
    return make_eval_sets(test_slices, seed=5)


def test_settings_are_the_articles():
    by_name = {s.name: s for s in EVALUATION_SETTINGS}
    assert [tuple(by_name[f"bias_{p}"].fixed["field_range"]) for p in ("05", "10", "20")] == [
        (0.95, 1.05),
        (0.9, 1.1),
        (0.8, 1.2),
    ]
    assert [by_name[f"subsampling_x{r}"].fixed for r in (2, 3, 4)] == [
        {"acceleration": r, "mask": "centred"} for r in (2, 3, 4)
    ]
    assert [
        by_name[n].fixed["clean_centre"] for n in ("motion_25", "motion_12.5", "motion_05")
    ] == [
        0.25,
        0.125,
        0.05,
    ]
    assert [by_name[n].fixed["snr_db"] for n in ("noise_+5dB", "noise_0dB", "noise_-5dB")] == [
        5,
        0,
        -5,
    ]
    assert by_name["subsampling+motion"].kinds == ("subsampling", "motion")
    assert by_name["noise+bias"].kinds == ("noise", "bias")
    assert {s.table for s in EVALUATION_SETTINGS} == {3, 4, 5, 6, 7}


def test_sets_hold_every_parameter_and_replay(generated):
    assert generated.names == [s.name for s in EVALUATION_SETTINGS]
    n, size = generated.n_slices, generated.clean.shape[-1]
    for name in generated.names:
        evalset = generated[name]
        assert evalset.corrupted.shape == (n, size, size) and evalset.corrupted.dtype == np.float32
        assert len(evalset.params) == n
    x4 = generated["subsampling_x4"]
    assert x4.low_res.shape[0] == n and x4.low_res.shape[1] < size
    assert x4.mask.shape == (n, size, size) and x4.mask.dtype == bool
    assert all(p["acceleration"] == 4 and p["mask"] == "centred" for p in x4.params)
    assert all(p["snr_db"] == -5 for p in generated["noise_-5dB"].params)
    # Replaying the stored parameters on the stored [0, 1] slice gives the stored image.
    clean_01 = generated.clean_01
    for name, kind in (("bias_10", "bias"), ("motion_05", "motion"), ("noise_0dB", "noise")):
        evalset = generated[name]
        replay = corrupt(clean_01[1], kind, **evalset.params[1]).image
        np.testing.assert_array_equal(replay.astype(np.float32), evalset.corrupted[1])
    scenario = generated["noise+bias"].params[2]
    image = clean_01[2]
    for kind, params in zip(scenario["order"], scenario["steps"], strict=True):
        image = corrupt(image, kind, **params).image
    np.testing.assert_array_equal(image.astype(np.float32), generated["noise+bias"].corrupted[2])
    # Clean reference z-normalised per slice.
    np.testing.assert_allclose(generated.clean.mean(axis=(1, 2)), 0, atol=1e-5)


def test_scenarios_use_both_orders(test_slices):
    sets = make_eval_sets(test_slices, seed=0, settings=EVALUATION_SETTINGS[-2:])
    for name in sets.names:
        orders = {tuple(p["order"]) for p in sets[name].params}
        assert len(orders) == 2, (name, orders)
    assert corrupt_sequence  # the scenarios are built with it


def test_regeneration_is_bit_identical(tmp_path, test_slices, generated):
    again = make_eval_sets(test_slices, seed=5)
    for name in generated.names:
        assert np.array_equal(generated[name].corrupted, again[name].corrupted)
    first = json.loads(save_eval_sets(generated, tmp_path / "a").read_text())
    second = json.loads(save_eval_sets(again, tmp_path / "b").read_text())
    assert {n: e["sha256"] for n, e in first["sets"].items()} == {
        n: e["sha256"] for n, e in second["sets"].items()
    }
    other = make_eval_sets(test_slices, seed=6, settings=EVALUATION_SETTINGS[:1])
    assert not np.array_equal(other["bias_05"].corrupted, generated["bias_05"].corrupted)


def test_checksum_failures_name_the_file(tmp_path, generated):
    folder = tmp_path / "sets"
    save_eval_sets(generated, folder)
    loaded = load_eval_sets(folder)
    np.testing.assert_array_equal(loaded["noise_0dB"].corrupted, generated["noise_0dB"].corrupted)

    # A changed pixel.
    with np.load(folder / "noise_0dB.npz") as handle:
        arrays = {k: handle[k].copy() for k in handle.files}
    arrays["corrupted"][0, 0, 0] += 1e-3
    np.savez(folder / "noise_0dB.npz", **arrays)
    with pytest.raises(EvalSetChecksumError, match=r"noise_0dB\.npz: checksum mismatch"):
        load_eval_sets(folder)["noise_0dB"]
    # A truncated file.
    raw = (folder / "bias_05.npz").read_bytes()
    (folder / "bias_05.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(EvalSetChecksumError, match=r"bias_05\.npz.*(truncated|corrupt)"):
        load_eval_sets(folder)["bias_05"]
    # An edited parameter in the JSON.
    record = json.loads((folder / "evalsets.json").read_text())
    record["sets"]["motion_25"]["params"][0]["clean_centre"] = 0.3
    (folder / "evalsets.json").write_text(json.dumps(record))
    with pytest.raises(EvalSetChecksumError, match=r"motion_25\.npz: checksum mismatch"):
        load_eval_sets(folder)["motion_25"]
    # The untouched sets still load.
    assert load_eval_sets(folder)["noise_-5dB"].corrupted.shape[0] == generated.n_slices


def test_eval_sets_are_cached_per_profile(tmp_path, monkeypatch):
    first = eval_sets("smoke", seed=0, output_dir=tmp_path)
    assert first.folder.parent == tmp_path / "evalsets"
    assert first.n_slices == 6 and first.info["profile"] == "smoke"

    def fail(*args, **kwargs):
        raise AssertionError("the stored sets should have been reused")

    monkeypatch.setattr(evalsets_module, "make_eval_sets", fail)
    again = eval_sets("smoke", seed=0, output_dir=tmp_path)
    assert again.folder == first.folder
    np.testing.assert_array_equal(again["motion_05"].corrupted, first["motion_05"].corrupted)


def test_changed_simulator_code_regenerates(tmp_path, monkeypatch):
    first = eval_sets("smoke", seed=0, output_dir=tmp_path)
    assert first.info["code_digest"] == evalsets_module.code_digest()
    monkeypatch.setattr(evalsets_module, "code_digest", lambda: "0" * 16)
    again = eval_sets("smoke", seed=0, output_dir=tmp_path)
    assert again.info["code_digest"] == "0" * 16
    assert again.folder == first.folder
