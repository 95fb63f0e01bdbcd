"""How the project writes files that are read later: whole, or not at all.

Every file written for later reading (checkpoints, stamps, score caches, manifests,
evaluation sets, correction outputs, saved models) goes through `atomic_path` (one file;
`atomic_write` and its text and JSON forms build on it), `atomic_folder` (a folder that only
makes sense whole) or `atomic_files` (a set of files beside others). Both write beside the
target under a hidden temporary name, flush to disk, and only then rename into place, so a
process killed at any moment, a full disk or a failing writer leaves the previous state
readable and nothing half-written under the final name.

It also holds the other conventions of files: the folders one book run shares between its
notebooks (`run_folder` and its named forms), the SHA-256 digests that identify data, code
and settings (`file_digest`, `files_digest`, `json_digest`, `arrays_digest`), and the
installed versions of packages (`package_versions`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "atomic_write",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_folder",
    "atomic_files",
    "check_writable_folder",
    "refuse_earlier_set",
    "read_json",
    "StoreError",
    "run_folder",
    "models_dir",
    "search_dir",
    "shared_data_dir",
    "shared_cache_dir",
    "file_digest",
    "files_digest",
    "json_digest",
    "arrays_digest",
    "package_version",
    "package_versions",
]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process's umask, read once at import (reading it means setting it).
_UMASK = _read_umask()


class StoreError(ValueError):
    """A file the project wrote earlier is unreadable (truncated or corrupt)."""


def _temporary_sibling(path: Path) -> Path:
    # Hidden, unique, and ending in the target's own suffix (Keras checks it even on handles).
    handle, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    # mkstemp makes the file private (0600); the final file gets the usual permissions.
    os.fchmod(handle, 0o666 & ~_UMASK)
    os.close(handle)
    return Path(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it is renamed to ``path``.

    For writers that take a file name rather than a handle (Keras' ``save_model``). The
    temporary name is hidden, unique and ends in ``path``'s suffix. If the block raises (or
    the process dies), ``path`` keeps its previous content (or stays absent) and the
    temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_sibling(path)
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())  # on disk before the rename makes it visible
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], Any]) -> Path:
    """Write ``path`` through ``write(handle)`` on a temporary sibling, then rename it.

    ``write`` receives a binary file handle. If it raises (or the process dies), ``path``
    keeps its previous content (or stays absent) and the temporary file is removed.
    Returns ``path``.
    """
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        write(handle)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """`atomic_write` of a UTF-8 text."""
    data = text.encode()
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_json(path: str | os.PathLike, value: Any, **dumps: Any) -> Path:
    """`atomic_write` of ``json.dumps(value, **dumps)`` (indent 1 unless given)."""
    dumps.setdefault("indent", 1)
    return atomic_write_text(path, json.dumps(value, **dumps))


def read_json(path: str | os.PathLike, *, what: str = "file", remedy: str = "") -> Any:
    """Read a JSON file the project wrote, or raise `StoreError` naming it.

    ``what`` says what the file is ("search trial", "stamps file"); ``remedy`` how to start
    over, appended to the message.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        hint = f"; {remedy}" if remedy else ""
        raise StoreError(f"{path}: the {what} is corrupt or truncated ({error}){hint}") from None


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging folder beside ``target``; on success it becomes ``target``.

    Everything written into the staging folder appears under ``target`` at once, when the
    ``with`` block ends without an error; on an error the staging folder is removed and
    ``target`` is left as it was. An existing ``target`` raises `FileExistsError` unless
    ``overwrite`` is true, in which case it is replaced (the old folder is removed only
    after the new one is complete).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; give overwrite=True to replace it")
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent)
    )
    try:
        yield staging
        if target.exists():
            retired = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, retired / "old")
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_writable_folder(folder: str | os.PathLike, *, what: str = "output folder") -> Path:
    """Return ``folder`` as a Path if files can be written into it (made if absent), or raise.

    Checked before any work is done, so a long computation never ends in a write error:
    an empty name, an existing file, a folder that cannot be made, or one in which a file
    cannot be created (read-only, ``/proc``) raises `NotADirectoryError`, `ValueError` or
    `PermissionError` naming ``folder``. A folder made here and left empty is removed
    again by `atomic_files` if the work fails.
    """
    if str(folder).strip() == "":
        raise ValueError(f"the {what} must be a folder name; got an empty string")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder}: the {what} is an existing file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = _temporary_sibling(folder / "probe")
        probe.unlink()
    except OSError as error:
        raise PermissionError(
            f"{folder}: the {what} is not writable ({error.strerror or error})"
        ) from None
    return folder


def refuse_earlier_set(
    folder: str | os.PathLike, names: Sequence[str], *, overwrite: bool = False
) -> None:
    """`FileExistsError` naming the first of ``names`` that exists in ``folder``, unless
    ``overwrite``: the check `atomic_files` makes, for callers that make it before the work."""
    existing = [name for name in names if (Path(folder) / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{Path(folder) / existing[0]} exists (an earlier output set: {len(existing)} "
            "file(s)); give --overwrite (overwrite=True) to replace it, or another output folder"
        )


@contextlib.contextmanager
def atomic_files(
    folder: str | os.PathLike,
    names: Sequence[str],
    *,
    overwrite: bool = False,
    replaces: Sequence[str] = (),
) -> Iterator[Path]:
    """Yield a staging folder inside ``folder``; on success its files move into ``folder``.

    For a set of files that belong together beside other files (the outputs of one
    ``mtmri correct`` run in a folder of many). ``names`` lists the set's file names; the
    last one, the record that describes the others, is removed first and moved in last, so
    a set is never described by a record of another run. ``replaces`` names files of an
    earlier version of the set that the new one may not write again (another model's
    residuals): they count as existing and are removed once the new set is in place.

    Before the block, `check_writable_folder` checks ``folder``, and an existing file of
    ``names`` or ``replaces`` raises `FileExistsError` unless ``overwrite``. On an error
    the staging folder is removed and ``folder`` is left as it was (a ``folder`` this call
    made is removed again).
    """
    folder = Path(folder)
    made = not folder.exists()
    folder = check_writable_folder(folder)
    try:
        refuse_earlier_set(folder, [*names, *replaces], overwrite=overwrite)
    except FileExistsError:
        if made:
            folder.rmdir()
        raise
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        yield staging
        missing = [name for name in names if not (staging / name).is_file()]
        if missing:
            raise FileNotFoundError(f"the output set is incomplete: {missing} not written")
        (folder / names[-1]).unlink(missing_ok=True)
        for name in names:
            os.replace(staging / name, folder / name)
        for name in set(replaces) - set(names):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if made and not any(folder.iterdir()):
            folder.rmdir()
        raise


# --------------------------------------------------------------------------- run folders


def run_folder(output_dir: str | os.PathLike, part: str) -> Path:
    """A folder that every notebook of one book run shares.

    The book runner gives each notebook ``output_dir = <build>/outputs/<profile>/<notebook>``;
    what several notebooks read goes to a sibling ``<build>/outputs/<profile>/<part>``:
    ``models`` (`models_dir`), ``search`` (`search_dir`), ``data`` (`shared_data_dir`) and
    ``scores`` (`shared_cache_dir`). File names inside carry the profile where it matters.
    """
    if not part or "/" in part or part in (".", ".."):
        raise ValueError(f"a run folder's part must be one folder name; got {part!r}")
    return Path(output_dir).parent / part


def models_dir(output_dir: str | os.PathLike) -> Path:
    """The trained models (``.keras`` files and their JSON records) of a book run."""
    return run_folder(output_dir, "models")


def search_dir(output_dir: str | os.PathLike) -> Path:
    """The Bayesian search's projects and results of a book run."""
    return run_folder(output_dir, "search")


def shared_data_dir(output_dir: str | os.PathLike) -> Path:
    """The data a book run's notebooks share: split manifests, prepared slices, evaluation
    sets."""
    return run_folder(output_dir, "data")


def shared_cache_dir(output_dir: str | os.PathLike) -> Path:
    """The evaluation's score cache of a book run (every chapter that scores reuses it)."""
    return run_folder(output_dir, "scores")


# --------------------------------------------------------------------------- digests


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_digest(
    paths: Iterable[str | os.PathLike], *, root: str | os.PathLike | None = None
) -> str:
    """SHA-256 (hex) over files in the order given: each one's name (relative to ``root``, or
    its base name) and bytes. Identifies code: a digest of the modules that decide a result."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        name = str(path.relative_to(root)) if root is not None else path.name
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def json_digest(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """SHA-256 (hex) of ``value`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=default)
    return hashlib.sha256(text.encode()).hexdigest()


def arrays_digest(arrays: Mapping[str, Any], params: Any = None) -> str:
    """SHA-256 (hex) over arrays in name order (each one's name, dtype, shape and bytes; None
    counts as absent) and, if given, ``params`` as canonical JSON: equal data give equal
    digests whatever container they were stored in."""
    import numpy as np

    digest = hashlib.sha256()
    for key in sorted(arrays):
        if arrays[key] is None:
            digest.update(f"{key}|none|".encode())
            continue
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    if params is not None:
        digest.update(json.dumps(params, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- versions


def package_version(distribution: str) -> str | None:
    """The installed version of a distribution (None if it is not installed)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def package_versions(distributions: Iterable[str]) -> dict[str, str]:
    """``{name: version}`` of those of ``distributions`` that are installed."""
    return {name: v for name in distributions if (v := package_version(name)) is not None}
