"""Paired datasets (`mtmri_lib.simulate`, ``mtmri simulate``): layout, replay, resume, refusals.

The volumes are tiny NIfTI files (40 x 36 slices, prepared at 32 x 32) so that every run
takes a fraction of a second; the last slice of each is empty and must be skipped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import phantom

from mtmri_lib import simulate as simulate_module
from mtmri_lib.artefacts import KINDS, corrupt, corrupt_sequence
from mtmri_lib.cli import main
from mtmri_lib.data import prepare_slice, read_volume, znorm
from mtmri_lib.simulate import replay, sample_seed, simulate

h5py = pytest.importorskip("h5py")
nib = pytest.importorskip("nibabel")

SIZE = 32
FIELDS = ["index", "source", "slice", "patient_id", "kinds", "params", "seed"]


def _write_volume(path: Path, scale: float, *, flip: bool = False) -> Path:
    """Three phantom slices of 40 x 36 (each a little different) and one empty slice."""
    slices = [phantom((40, 36), margin=0.15 + 0.05 * i) * scale * (1 + i) for i in range(3)]
    if flip:
        slices = [s[::-1] for s in slices]
    data = np.stack([*slices, np.zeros((40, 36))], axis=-1).astype(np.float32)
    nib.Nifti1Image(data, np.eye(4)).to_filename(path)
    return path


@pytest.fixture
def volumes(tmp_path) -> list[Path]:
    folder = tmp_path / "volumes"
    folder.mkdir()
    return [_write_volume(folder / "sub-01_T1w.nii.gz", 100.0), _write_volume(folder / "b.nii", 3)]


def _run(volumes, out, **options):
    options = {"size": SIZE, "progress": False, **options}
    return simulate(volumes, out, **options)


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def _rows(out: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(out / "pairs.h5", "r") as handle:
        return handle["clean"][()], handle["corrupted"][()]


def _same_files(first: Path, second: Path) -> bool:
    return all(
        (first / name).read_bytes() == (second / name).read_bytes()
        for name in ("pairs.h5", "records.jsonl")
    )


def _clean_01(record: dict) -> np.ndarray:
    return prepare_slice(read_volume(record["source"]).data[record["slice"]], SIZE)


# --------------------------------------------------------------------------- layout


def test_files_datasets_and_record_fields(volumes, tmp_path):
    state = np.random.get_state()
    out = tmp_path / "out"
    result = _run(volumes, out, samples_per_slice=2, seed=3)
    # The library never touches numpy's global random state.
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), state, strict=True))
    assert sorted(p.name for p in out.iterdir()) == ["pairs.h5", "records.jsonl"]
    n = 2 * 3 * 2  # volumes x informative slices x samples per slice
    assert result.n_samples == n
    with h5py.File(out / "pairs.h5", "r") as handle:
        assert sorted(handle) == ["clean", "corrupted"]
        for name in ("clean", "corrupted"):
            assert handle[name].dtype == np.float32
            assert handle[name].shape == (n, SIZE, SIZE)
        request = json.loads(handle.attrs["request"])
    assert request["seed"] == 3 and request["size"] == SIZE
    records = _records(out)
    assert [r["index"] for r in records] == list(range(n))
    for record in records:
        assert list(record) == FIELDS
        assert record["source"] in {str(v.resolve()) for v in volumes}
        assert record["slice"] in (0, 1, 2)  # slice 3 is empty
        assert len(record["kinds"]) == 1 and record["kinds"][0] in KINDS
        assert len(record["params"]) == 1 and record["params"][0]["zscore"] is True
        assert record["seed"] == sample_seed(3, record["index"])
    assert {r["patient_id"] for r in records} == {"sub-01", "b"}
    # Two samples of one slice: the same clean image, different corruptions.
    clean, corrupted = _rows(out)
    assert np.array_equal(clean[0], clean[1]) and not np.array_equal(corrupted[0], corrupted[1])
    np.testing.assert_allclose(clean.mean(axis=(1, 2)), 0, atol=1e-5)  # z-normalised


def test_mix_each_gives_every_kind_for_every_slice(volumes, tmp_path):
    out = tmp_path / "out"
    _run(volumes[:1], out, kinds=["noise", "subsampling"], mix="each")
    records = _records(out)
    assert [(r["slice"], r["kinds"]) for r in records] == [
        (s, [k]) for s in range(3) for k in ("noise", "subsampling")
    ]


def test_random_mix_draws_only_from_kinds_and_uses_several(volumes, tmp_path):
    out = tmp_path / "out"
    _run(volumes, out, kinds=["motion", "noise", "bias"], samples_per_slice=4)
    drawn = [r["kinds"][0] for r in _records(out)]
    assert set(drawn) == {"motion", "noise", "bias"}


def test_sequence_applies_every_step_in_order(volumes, tmp_path):
    out = tmp_path / "out"
    _run(volumes[:1], out, sequence=["motion", "subsampling"])
    for record in _records(out):
        assert record["kinds"] == ["motion", "subsampling"]
        first, last = record["params"]
        assert (first["output"], first["zscore"]) == ("complex", False)
        assert (last["output"], last["zscore"]) == ("real", True)


# --------------------------------------------------------------------------- replay


def test_records_replay_by_hand_bit_for_bit(volumes, tmp_path):
    out = tmp_path / "out"
    _run(volumes, out, samples_per_slice=2)
    clean, corrupted = _rows(out)
    for record in _records(out):
        i, slice_01 = record["index"], _clean_01(record)
        assert np.asarray(znorm(slice_01), np.float32).tobytes() == clean[i].tobytes()
        (kind,), (params,) = record["kinds"], record["params"]
        by_params = corrupt(slice_01, kind, **params).image
        assert np.asarray(by_params, np.float32).tobytes() == corrupted[i].tobytes()
        by_seed, again = corrupt_sequence(slice_01, record["kinds"], record["seed"])
        assert np.asarray(by_seed, np.float32).tobytes() == corrupted[i].tobytes()
        assert json.loads(json.dumps(again)) == record["params"]


def test_sequence_records_replay_step_by_step(volumes, tmp_path):
    out = tmp_path / "out"
    _run(volumes[1:], out, sequence=["bias", "motion", "noise"])
    _, corrupted = _rows(out)
    for record in _records(out):
        image = _clean_01(record)
        for kind, params in zip(record["kinds"], record["params"], strict=True):
            image = corrupt(image, kind, **params).image
        assert np.asarray(image, np.float32).tobytes() == corrupted[record["index"]].tobytes()


def test_replay_passes_then_names_a_tampered_sample(volumes, tmp_path, capsys):
    out = tmp_path / "out"
    _run(volumes, out)
    report = replay(out)
    assert report.ok and report.checked == tuple(range(6))
    assert main(["simulate", "--replay", str(out), "--quiet"]) == 0
    assert "6 of 6" in capsys.readouterr().out
    with h5py.File(out / "pairs.h5", "r+") as handle:
        row = handle["corrupted"][4]
        row[0, 0] = np.nextafter(row[0, 0], np.float32(np.inf))  # one bit in one pixel
        handle["corrupted"][4] = row
    report = replay(out, workers=2)
    assert not report.ok and list(report.mismatched) == [4]
    assert "corrupted" in report.mismatched[4]
    assert replay(out, [0, 5]).ok
    assert main(["simulate", "--replay", str(out), "--quiet"]) == 1
    assert "differ on replay: 4" in capsys.readouterr().out
    assert main(["simulate", "--replay", str(out), "--index", "1", "2", "--quiet"]) == 0


def test_replay_reports_a_changed_source(volumes, tmp_path):
    out = tmp_path / "out"
    _run(volumes, out)
    _write_volume(volumes[1], 3.0, flip=True)  # same shape, the slices upside down
    report = replay(out)
    assert report.changed_sources == (str(volumes[1].resolve()),)
    assert set(report.mismatched) == {3, 4, 5}  # the second volume's samples


def test_replay_refuses_what_it_cannot_check(volumes, tmp_path):
    with pytest.raises(FileNotFoundError, match="pairs.h5"):
        replay(tmp_path)
    out = tmp_path / "out"
    _run(volumes[:1], out)
    with pytest.raises(ValueError, match=r"index must lie in \[0, 2\]; got 3"):
        replay(out, [3])


# --------------------------------------------------------------------------- determinism


def test_workers_and_chunking_do_not_change_the_bits(volumes, tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    _run(volumes, serial, samples_per_slice=3, seed=11, chunk_size=4)
    _run(volumes, parallel, samples_per_slice=3, seed=11, chunk_size=4, workers=2)
    assert _same_files(serial, parallel)
    other_chunks = tmp_path / "chunks"
    _run(volumes, other_chunks, samples_per_slice=3, seed=11, chunk_size=7)
    assert _rows(other_chunks)[1].tobytes() == _rows(serial)[1].tobytes()
    assert other_chunks.joinpath("records.jsonl").read_bytes() == (
        serial.joinpath("records.jsonl").read_bytes()
    )
    different = tmp_path / "different"
    _run(volumes, different, samples_per_slice=3, seed=12, chunk_size=4)
    assert _rows(different)[1].tobytes() != _rows(serial)[1].tobytes()


def test_cli_writes_what_the_library_writes(volumes, tmp_path):
    library, command = tmp_path / "library", tmp_path / "command"
    _run(volumes, library, kinds=["noise", "motion"], samples_per_slice=2, seed=5)
    argv = ["simulate", *map(str, volumes), "--out", str(command), "--size", str(SIZE)]
    argv += ["--kinds", "noise,motion", "--samples-per-slice", "2", "--seed", "5", "--quiet"]
    assert main(argv) == 0
    assert _same_files(library, command)


def test_preset_is_passed_to_every_step(volumes, tmp_path):
    try:
        corrupt(phantom((32, 32)), "noise", 0, preset="mild")
    except TypeError:
        pytest.skip("corrupt takes no preset yet")
    out = tmp_path / "out"
    _run(volumes[:1], out, kinds=["noise"], preset="mild")
    assert all(r["params"][0].get("preset") == "mild" for r in _records(out))
    assert replay(out).ok
    unpinned = tmp_path / "unpinned"
    _run(volumes[:1], unpinned, kinds=["noise"])
    assert _rows(unpinned)[1].tobytes() != _rows(out)[1].tobytes()


def test_a_preset_that_does_not_apply_is_refused_before_any_work(volumes, tmp_path):
    out = tmp_path / "out"
    with pytest.raises((TypeError, ValueError), match="preset 'no-such-preset'"):
        _run(volumes, out, preset="no-such-preset")
    assert not out.exists()


# --------------------------------------------------------------------------- resume


class _Killed(RuntimeError):
    pass


def _dying_after(monkeypatch, chunks: int) -> list[int]:
    """Make the chunk function raise once ``chunks`` chunks are done; returns the calls."""
    original = simulate_module._compute_chunk
    calls: list[int] = []

    def compute(request, chunk, staging):
        calls.append(chunk)
        if len(calls) > chunks:
            raise _Killed(f"killed before chunk {chunk}")
        return original(request, chunk, staging)

    monkeypatch.setattr(simulate_module, "_compute_chunk", compute)
    return calls


def test_an_interrupted_run_resumes_to_the_same_bytes(volumes, tmp_path, monkeypatch):
    options = {"samples_per_slice": 3, "chunk_size": 4, "seed": 2}  # 18 samples, 5 chunks
    reference = tmp_path / "reference"
    _run(volumes, reference, **options)
    out = tmp_path / "out"
    calls = _dying_after(monkeypatch, 2)
    with pytest.raises(_Killed):
        _run(volumes, out, **options)
    assert not (out / "pairs.h5").exists() and not (out / "records.jsonl").exists()
    staged = sorted(p.name for p in (out / ".partial").iterdir())
    assert staged == ["chunk-00000.npz", "chunk-00001.npz", "request.json"]
    monkeypatch.undo()
    calls = _dying_after(monkeypatch, 100)
    result = _run(volumes, out, **options)
    assert calls == [2, 3, 4] and result.resumed_chunks == 2
    assert _same_files(reference, out)
    assert not (out / ".partial").exists()


def test_a_staged_run_with_other_options_is_refused(volumes, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _dying_after(monkeypatch, 1)
    with pytest.raises(_Killed):
        _run(volumes, out, chunk_size=2, seed=1)
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"seed: 1 there, 2 here"):
        _run(volumes, out, chunk_size=2, seed=2)
    with pytest.raises(ValueError, match="input volumes"):
        _run(volumes[:1], out, chunk_size=2, seed=1)
    assert main(["simulate", str(volumes[0]), "--out", str(out), "--size", str(SIZE)]) == 2
    assert (out / ".partial" / "chunk-00000.npz").exists()  # refused runs leave it be
    _run(volumes, out, chunk_size=2, seed=2, overwrite=True)
    assert {r["seed"] for r in _records(out)} == {sample_seed(2, i) for i in range(6)}


def test_a_run_stopped_between_the_final_renames_resumes(volumes, tmp_path, monkeypatch):
    reference, out = tmp_path / "reference", tmp_path / "out"
    _run(volumes, reference, chunk_size=4)

    def stopped(staging, out_dir):
        os.replace(staging / "pairs.h5", out_dir / "pairs.h5")
        raise _Killed("killed before records.jsonl was moved in")

    monkeypatch.setattr(simulate_module, "_move_into_place", stopped)
    with pytest.raises(_Killed):
        _run(volumes, out, chunk_size=4)
    assert (out / "pairs.h5").exists() and not (out / "records.jsonl").exists()
    monkeypatch.undo()
    # The pairs file is this very run's (its staged request matches): no --overwrite needed.
    _run(volumes, out, chunk_size=4)
    assert _same_files(reference, out)
    # Another run's request does not make that pairs file ours to replace.
    monkeypatch.setattr(simulate_module, "_move_into_place", stopped)
    with pytest.raises(_Killed):
        _run(volumes, tmp_path / "other2", chunk_size=4)
    monkeypatch.undo()
    with pytest.raises(FileExistsError, match="pairs.h5 exists"):
        _run(volumes, tmp_path / "other2", chunk_size=4, seed=9)


def test_a_killed_process_resumes_to_the_same_bytes(volumes, tmp_path):
    options = ["--size", str(SIZE), "--samples-per-slice", "4", "--chunk-size", "2", "--quiet"]
    reference, out = tmp_path / "reference", tmp_path / "out"
    assert main(["simulate", *map(str, volumes), "--out", str(reference), *options]) == 0
    # The child sleeps after each chunk (its own patch, not the library's) so that the kill
    # lands mid-run, between or inside the atomic writes of chunks.
    child = (
        "import sys, time\n"
        "import mtmri_lib.simulate as s\n"
        "compute = s._compute_chunk\n"
        "def slow(*args):\n"
        "    n = compute(*args)\n"
        "    time.sleep(0.15)\n"
        "    return n\n"
        "s._compute_chunk = slow\n"
        "from mtmri_lib.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = [sys.executable, "-c", child, "simulate", *map(str, volumes), "--out", str(out)]
    process = subprocess.Popen([*argv, *options], cwd=Path(__file__).parent.parent)
    staging = out / ".partial"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if staging.is_dir() and len(list(staging.glob("chunk-*.npz"))) >= 3:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "pairs.h5").exists() and not (out / "records.jsonl").exists()
    assert main(["simulate", *map(str, volumes), "--out", str(out), *options]) == 0
    assert _same_files(reference, out)
    assert sorted(os.listdir(out)) == ["pairs.h5", "records.jsonl"]


# --------------------------------------------------------------------------- refusals


def test_an_existing_output_is_kept_unless_overwrite(volumes, tmp_path, capsys):
    out = tmp_path / "out"
    _run(volumes, out, seed=1)
    before = (out / "pairs.h5").read_bytes()
    with pytest.raises(FileExistsError, match="records.jsonl exists.*overwrite"):
        _run(volumes, out, seed=2)
    assert main(["simulate", str(volumes[0]), "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "pairs.h5").read_bytes() == before
    _run(volumes, out, seed=2, overwrite=True)
    assert (out / "pairs.h5").read_bytes() != before
    assert {r["seed"] for r in _records(out)} == {sample_seed(2, i) for i in range(6)}


def test_a_pairs_file_of_unknown_origin_is_kept(volumes, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "pairs.h5").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError, match="pairs.h5 exists"):
        _run(volumes, out)
    assert (out / "pairs.h5").read_bytes() == b"someone else's"


def test_a_failed_assembly_leaves_nothing_under_a_final_name(volumes, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(volumes, out, seed=1)
    old = {name: (out / name).read_bytes() for name in ("pairs.h5", "records.jsonl")}
    original = simulate_module._read_chunk

    def failing(staging, request, chunk):
        if chunk == 1:
            raise OSError("disk full")
        return original(staging, request, chunk)

    monkeypatch.setattr(simulate_module, "_read_chunk", failing)
    with pytest.raises(OSError, match="disk full"):
        _run(volumes, out, seed=2, chunk_size=2, overwrite=True)
    # The earlier output is intact; the new run's chunks wait in the staging folder.
    assert {name: (out / name).read_bytes() for name in old} == old
    assert not [p for p in (out / ".partial").iterdir() if p.name.startswith(".")]
    fresh = tmp_path / "fresh"
    with pytest.raises(OSError, match="disk full"):
        _run(volumes, fresh, chunk_size=2)
    assert not (fresh / "pairs.h5").exists() and not (fresh / "records.jsonl").exists()
    monkeypatch.undo()
    _run(volumes, fresh, chunk_size=2)
    assert replay(fresh).ok


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"size": 15}, ValueError, "size must be >= 16; got 15"),
        ({"size": 34.5}, TypeError, "size must be an integer"),
        ({"size": 33}, ValueError, "size must be an even number"),
        ({"workers": 0}, ValueError, "workers must be >= 1; got 0"),
        ({"kinds": ["bias", "blur"]}, ValueError, "kinds must be names among .* 'blur'"),
        ({"kinds": ["noise", "noise"]}, ValueError, "kinds must be distinct"),
        ({"kinds": []}, ValueError, "kinds must name at least one"),
        ({"mix": "sometimes"}, ValueError, "mix must be one of 'random', 'each'"),
        ({"sequence": ["motion"], "mix": "each"}, ValueError, "sequence .* without kinds and mix"),
        ({"sequence": ["motion", "ghost"]}, ValueError, "sequence must be names among"),
        ({"samples_per_slice": 0}, ValueError, "samples_per_slice must be >= 1"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"chunk_size": 0}, ValueError, "chunk_size must be >= 1"),
        ({"fidelity": "text"}, ValueError, "fidelity must be one of"),
        ({"overwrite": "yes"}, TypeError, "overwrite must be True or False"),
        ({"preset": ""}, ValueError, "preset must be None or a preset name"),
    ],
)
def test_bad_options_are_named_before_any_work(volumes, tmp_path, options, error, message):
    out = tmp_path / "out"
    with pytest.raises(error, match=message):
        _run(volumes, out, **options)
    assert not out.exists()


def test_bad_inputs_are_named_before_any_work(volumes, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no input volume given"):
        _run([], out)
    with pytest.raises(FileNotFoundError, match="missing.nii: no such input"):
        _run([volumes[0], tmp_path / "missing.nii"], out)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty: the input folder holds no volume"):
        _run([empty], out)
    assert not out.exists()
    broken = tmp_path / "broken.nii"
    broken.write_bytes(b"not a NIfTI file")
    with pytest.raises(ValueError, match="broken.nii"):
        _run([volumes[0], broken], out)
    assert not out.exists()  # made for the run, removed again: nothing was computed
    blank = tmp_path / "blank.nii"
    nib.Nifti1Image(np.zeros((8, 8, 2), np.float32), np.eye(4)).to_filename(blank)
    with pytest.warns(UserWarning, match="no slice carries an image"):
        with pytest.raises(ValueError, match="none of the 1 volume"):
            _run([blank], out)


def test_an_output_folder_that_is_a_file_is_refused(volumes, tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="taken"):
        _run(volumes, target)


def test_a_folder_of_volumes_is_expanded_without_the_output_inside_it(volumes, tmp_path):
    folder = volumes[0].parent
    out = folder / "pairs"
    first = _run([folder], out)
    assert first.n_samples == 6
    # Rerunning with the output now inside the input folder must not read it as a volume.
    second = _run([folder], out, overwrite=True)
    assert second.n_samples == 6


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--size", "15"], "--size"),
        (["--size", "34"], None),
        (["--size", "33"], "--size"),
        (["--workers", "0"], "--workers"),
        (["--kinds", "bias,blur"], "--kinds"),
        (["--mix", "sometimes"], "--mix"),
        (["--samples-per-slice", "0"], "--samples-per-slice"),
        (["--sequence", "motion", "--kinds", "noise"], "--sequence"),
        (["--index", "1"], "--index"),
    ],
)
def test_cli_names_a_bad_option(volumes, tmp_path, capsys, arguments, named):
    out = tmp_path / "out"
    argv = ["simulate", str(volumes[0]), "--out", str(out), "--quiet", *arguments]
    if named is None:  # the control case: a valid value is accepted
        assert main(argv) == 0
        return
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert not out.exists()


def test_cli_refuses_inputs_with_replay_and_names_an_unreadable_volume(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "a.nii", "--replay", str(tmp_path)])
    assert "--replay checks an existing output and takes no INPUT" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["simulate", "--out", str(tmp_path / "out")])
    assert "INPUT" in capsys.readouterr().err
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b truncated")
    assert main(["simulate", str(broken), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "broken.nii.gz" in capsys.readouterr().err
    assert main(["simulate", "--replay", str(tmp_path / "nothing"), "--quiet"]) == 2
    assert "pairs.h5: no such file" in capsys.readouterr().err


def test_sample_seed_comes_from_the_seed_sequence():
    words = np.random.SeedSequence([7, 12]).generate_state(2, np.uint64)
    assert sample_seed(7, 12) == int(words[0]) >> 11
    assert sample_seed(7, 12) < 2**53
    assert len({sample_seed(0, i) for i in range(1000)}) == 1000
    assert sample_seed(0, 5) != sample_seed(1, 5)
