"""Files written whole or not at all: `mtmri_lib.store` and the writers that use it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mtmri_lib import store
from mtmri_lib.store import (
    StoreError,
    atomic_files,
    atomic_folder,
    atomic_write,
    atomic_write_json,
    check_writable_folder,
    read_json,
)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_failing_writer_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "record.json"
    atomic_write_json(path, {"version": 1})

    def half_then_fail(handle):
        handle.write(b'{"version": 2, "trunc')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(path, half_then_fail)
    assert json.loads(path.read_text()) == {"version": 1}
    assert _hidden(tmp_path) == []


def test_a_writer_killed_mid_write_leaves_the_previous_file_readable(tmp_path):
    path = tmp_path / "big.npy"
    atomic_write(path, lambda handle: np.save(handle, np.zeros(4)))
    started = tmp_path / "started"
    # A child writes 64 MB slowly through the helper and is killed half way.
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from mtmri_lib.store import atomic_write

        def slow(handle):
            for i in range(64):
                handle.write(b"x" * (1 << 20))
                if i == 4:
                    Path({str(started)!r}).write_text("")
                time.sleep(0.05)

        atomic_write({str(path)!r}, slow)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not started.exists():
        assert child.poll() is None and time.monotonic() < deadline, "the writer did not start"
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert np.load(path).tolist() == [0.0] * 4  # the previous state, whole
    # The killed writer's temporary file is hidden and never mistaken for the target.
    assert all(name.endswith(".tmp.npy") for name in _hidden(tmp_path))


def test_read_json_names_a_truncated_file_and_the_way_out(tmp_path):
    path = tmp_path / "stamps.json"
    path.write_text('{"a": 1, "b"')
    with pytest.raises(StoreError, match=r"stamps\.json: the stamps file is corrupt.*delete it"):
        read_json(path, what="stamps file", remedy="delete it")


def test_atomic_folder_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "sets"
    with atomic_folder(target) as staging:
        (staging / "a.txt").write_text("first")
    assert (target / "a.txt").read_text() == "first"
    with pytest.raises(FileExistsError, match="sets exists"):
        with atomic_folder(target):
            pass
    with pytest.raises(RuntimeError), atomic_folder(target, overwrite=True) as staging:
        (staging / "a.txt").write_text("second, incomplete")
        raise RuntimeError("interrupted")
    assert (target / "a.txt").read_text() == "first"
    with atomic_folder(target, overwrite=True) as staging:
        (staging / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert _hidden(tmp_path) == []


def test_atomic_files_moves_a_complete_set_and_refuses_an_earlier_one(tmp_path):
    folder = tmp_path / "out"
    names = ["v_data.bin", "v_record.json"]
    with atomic_files(folder, names) as staging:
        for name in names:
            (staging / name).write_text(name)
    assert sorted(p.name for p in folder.iterdir()) == names
    with pytest.raises(FileExistsError, match="v_data.bin exists"):
        with atomic_files(folder, names):
            pass
    with pytest.raises(FileNotFoundError, match="incomplete"):
        with atomic_files(folder, names, overwrite=True) as staging:
            (staging / names[0]).write_text("new data, no record")
    assert (folder / names[0]).read_text() == names[0]  # the earlier set, untouched
    assert _hidden(folder) == []


@pytest.mark.parametrize(
    "bad, error, words",
    [
        ("", ValueError, "empty"),
        ("a_file", NotADirectoryError, "a_file"),
        ("/proc/mtmri", PermissionError, "/proc/mtmri"),
    ],
)
def test_check_writable_folder_names_the_folder(tmp_path, bad, error, words):
    (tmp_path / "a_file").write_text("")
    target = bad if bad in ("", "/proc/mtmri") else tmp_path / bad
    with pytest.raises(error, match=words):
        check_writable_folder(target)


def _failing_fsync(monkeypatch):
    def fail(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", fail)


def _stamps(tmp_path):
    from mtmri_lib.report import runner as book

    path = tmp_path / "stamps-smoke.json"
    return path, lambda: book.atomic_write_json(path, {"x": "new"})


def _manifest(tmp_path):
    from mtmri_lib.data import splits

    path = tmp_path / "manifest.json"
    return path, lambda: splits.atomic_write_json(path, {"x": "new"})


def _provenance(tmp_path):
    from mtmri_lib.report.provenance import show_provenance

    return tmp_path / "provenance.json", lambda: show_provenance(
        profile="smoke", output_dir=tmp_path
    )


def _score_cache(tmp_path):
    from mtmri_lib.evaluation import _ScoreCache

    cache = _ScoreCache(tmp_path, [("ssim", "paper")])
    return cache._path(("ssim", "paper")), lambda: cache.add([0], {("ssim", "paper"): [0.5]})


def _checkpoint(tmp_path):
    fit = pytest.importorskip("mtmri_lib.training.fit")
    path = tmp_path / "checkpoint.npz"
    return path, lambda: fit._save_arrays(path, {"w": np.zeros(3)})


@pytest.mark.parametrize(
    "writer", [_stamps, _manifest, _provenance, _score_cache, _checkpoint], ids=lambda w: w.__name__
)
def test_the_projects_writers_keep_the_previous_file_when_a_write_fails(
    tmp_path, monkeypatch, writer
):
    path, write = writer(tmp_path)
    path.write_bytes(b"previous")
    _failing_fsync(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        write()
    assert path.read_bytes() == b"previous"
    assert _hidden(tmp_path) == []


def test_files_get_the_usual_permissions_not_the_temporary_files_private_ones(tmp_path):
    path = atomic_write_json(tmp_path / "shared.json", {})
    assert path.stat().st_mode & 0o777 == 0o666 & ~store._UMASK
