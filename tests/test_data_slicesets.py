"""Slice sets from a folder of real volumes: split by patient, prepared, cached, capped."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_data_readers import write_fastmri

from mtmri_lib.data import data_settings, eval_sets, load_slice_sets
from mtmri_lib.data.slicesets import SliceStack
from mtmri_lib.data.splits import load_split

pytest.importorskip("h5py")


@pytest.fixture
def fastmri_folder(tmp_path):
    folder = tmp_path / "fastmri"
    folder.mkdir()
    for i in range(10):
        write_fastmri(folder / f"file_brain_{i:03d}.h5", patient=f"P{i % 8}", side=24, seed=i)
    (folder / "file_brain_bad.h5").write_bytes(b"not hdf5")
    return folder


def test_real_data_split_prepared_and_cached(tmp_path, fastmri_folder):
    out = tmp_path / "out"
    settings = data_settings("smoke").with_(
        max_slices={"train": None, "validation": None, "test": 2}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sets = load_slice_sets(
            "smoke", data_dir=fastmri_folder, seed=0, output_dir=out, settings=settings
        )
    assert any("file_brain_bad.h5" in str(w.message) for w in caught)
    assert (out / "split_brain_seed0.json").exists()
    patients = {name: set(s.patient_id) for name, s in sets.items()}
    assert not patients["train"] & patients["test"]
    assert not patients["train"] & patients["validation"]
    assert len(sets["test"]) == 2  # capped by the settings
    train = sets["train"]
    assert isinstance(train.images, SliceStack) and train.images.shape[1:] == (32, 32)
    assert 0.0 <= float(np.min(train.images[0])) and float(np.max(train.images[0])) == 1.0
    cached = sorted((out / "slices" / "32").glob("*.npy"))
    assert len(cached) == 10  # every readable volume prepared once (the bad one skipped)
    # A rerun reads the cache and the manifest: same slices.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = load_slice_sets(
            "smoke", data_dir=fastmri_folder, seed=0, output_dir=out, settings=settings
        )
    assert again["train"].fingerprint() == train.fingerprint()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluation = eval_sets("smoke", data_dir=fastmri_folder, seed=0, output_dir=out)
    manifest = load_split(out / "split_brain_seed0.json")
    assert {s["patient_id"] for s in evaluation.slices} <= set(manifest["patients"]["test"])
    assert manifest["unreadable"] == ["file_brain_bad.h5"]
    assert evaluation.verify() == 15


def test_slice_stack_indexing():
    parts = [np.full((2, 3, 3), i, np.float32) for i in range(3)]
    stack = SliceStack(parts)
    assert len(stack) == 6 and stack.shape == (6, 3, 3)
    assert [float(stack[i][0, 0]) for i in range(6)] == [0, 0, 1, 1, 2, 2]
    assert float(stack[-1][0, 0]) == 2
    np.testing.assert_array_equal(stack[[4, 0]][:, 0, 0], [2, 0])
    np.testing.assert_array_equal(np.asarray(stack), np.concatenate(parts))
    with pytest.raises(IndexError):
        stack[6]
