"""Paired datasets: clean / corrupted slices from a user's volumes (``mtmri simulate``).

`simulate` reads volumes (fastMRI ``.h5``, NIfTI, DICOM folders), prepares every slice that
carries an image as the training pipeline does (`mtmri_lib.data.informative_slices`, then
`mtmri_lib.data.prepare_slice`: square, Fourier-resized to ``size``, scaled to [0, 1]),
corrupts it with `mtmri_lib.artefacts.corrupt_sequence` and writes, in the output folder:

``pairs.h5``
    datasets ``clean`` and ``corrupted``, float32, shape (n, size, size), one row per
    sample; both z-normalised, as the training samples are (FACTS.md: the released code
    normalises the corrupted and the clean image alike). The file attribute ``request``
    holds the run's options and its sources (path, patient, SHA-256 of the volume's data,
    the slices used) as JSON; ``format`` names this layout.
``records.jsonl``
    one JSON object per sample, in row order: ``index``, ``source`` (the volume's absolute
    path), ``slice`` (index into the volume as `mtmri_lib.data.read_volume` returns it),
    ``patient_id``, ``kinds`` (the artefacts, in the order applied), ``params`` (each
    step's `Corruption.params`) and ``seed``.

Every sample is reproducible on its own. Sample ``i`` of a run with ``seed`` draws from
``numpy.random.SeedSequence([seed, i])``: its first 64-bit word, cut to 53 bits, is the
record's ``seed``, and ``corrupt_sequence(slice_01, kinds, seed, fidelity=..., preset=...)``
gives the row again; the second word draws the artefact of ``mix="random"``. Nothing
depends on which process computed a sample or in which order, so the bits are the same
for any ``workers`` and after a resume. ``corrupt(slice_01, kind, **params)`` replays a
step without the seed (the records are self-sufficient); `replay` does that for a whole
output and compares bit for bit.

The work is done in chunks of ``chunk_size`` samples. Each finished chunk is written
atomically (`mtmri_lib.store`) into the hidden staging folder ``DIR/.partial/``, beside
``request.json``, the options and sources of the run. The same call again skips finished
chunks; a call with other options (or changed volumes) is refused while such a staged run
exists, unless ``overwrite``. At the end ``pairs.h5`` and ``records.jsonl`` are assembled
inside the staging folder and renamed into place, the records last (an earlier
``records.jsonl`` is removed first): a folder with ``records.jsonl`` always holds a complete
output whose ``pairs.h5`` it describes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import time
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from ._checks import check_choice, check_int
from .artefacts import FIDELITIES, KINDS, corrupt, corrupt_sequence
from .data import informative_slices, prepare_slice, read_volume, znorm
from .data.readers import find_volume_paths
from .parallel import process_pool
from .store import (
    StoreError,
    atomic_path,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    check_writable_folder,
    read_json,
)

__all__ = [
    "MIXES",
    "PAIRS_NAME",
    "RECORDS_NAME",
    "STAGING_NAME",
    "SimulationResult",
    "ReplayReport",
    "simulate",
    "replay",
    "sample_seed",
]

#: How the artefacts of a sample are chosen (without ``sequence``): one drawn uniformly
#: from ``kinds`` (the training mix), or one sample per kind for every slice.
MIXES: tuple[str, ...] = ("random", "each")
PAIRS_NAME = "pairs.h5"
RECORDS_NAME = "records.jsonl"
STAGING_NAME = ".partial"
REQUEST_NAME = "request.json"
FORMAT = "mtmri-pairs/1"
DEFAULT_CHUNK_SIZE = 64

_CHUNK_PATTERN = re.compile(r"^chunk-(\d+)\.npz$")
# A seed below 2**53 is exact in every JSON reader (JavaScript's doubles included).
_SEED_SHIFT = np.uint64(64 - 53)
# The volumes a process read last; a chunk's samples come from one or two volumes.
_VOLUMES: dict[str, tuple[np.ndarray, str]] = {}
_VOLUME_CACHE_SIZE = 2


@dataclass(frozen=True)
class SimulationResult:
    """What `simulate` wrote.

    Attributes
    ----------
    out_dir, pairs, records : Path
        The output folder and its two files.
    n_samples, n_chunks : int
    resumed_chunks : int
        Chunks found finished in the staging folder (0 for a fresh run).
    seconds : float
        Wall time of the call.
    """

    out_dir: Path
    pairs: Path
    records: Path
    n_samples: int
    n_chunks: int
    resumed_chunks: int
    seconds: float


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of `replay`.

    Attributes
    ----------
    out_dir : Path
    checked : tuple of int
        The sample indices recomputed.
    mismatched : dict
        Index -> why it differs ("corrupted differs", "clean differs", "replay failed: ...").
    changed_sources : tuple of str
        Volumes whose data no longer match the SHA-256 recorded in ``pairs.h5``.
    """

    out_dir: Path
    checked: tuple[int, ...]
    mismatched: dict[int, str] = field(default_factory=dict)
    changed_sources: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every checked sample matched bit for bit."""
        return not self.mismatched

    def summary(self) -> str:
        """One paragraph for the command line."""
        n = len(self.checked)
        if self.ok:
            return f"{self.out_dir}: {n} of {n} sample(s) replayed bit for bit from their sources"
        bad = sorted(self.mismatched)
        shown = ", ".join(map(str, bad[:20])) + (" ..." if len(bad) > 20 else "")
        lines = [f"{self.out_dir}: {len(bad)} of {n} sample(s) differ on replay: {shown}"]
        lines += [f"  {i}: {self.mismatched[i]}" for i in bad[:5]]
        lines += [f"  source changed since the run: {s}" for s in self.changed_sources]
        return "\n".join(lines)


# --------------------------------------------------------------------------- seeds


def _draws(seed: int, index: int) -> tuple[int, int]:
    """Sample ``index``'s corruption seed and the word that draws its artefact."""
    words = np.random.SeedSequence([int(seed), int(index)]).generate_state(2, np.uint64)
    return int(words[0] >> _SEED_SHIFT), int(words[1])


def sample_seed(seed: int, index: int) -> int:
    """The integer seed of sample ``index`` in a run seeded with ``seed`` (``record["seed"]``).

    The first word of ``numpy.random.SeedSequence([seed, index])``, cut to 53 bits; the
    same in any process, whatever the number of workers.
    """
    return _draws(check_int("seed", seed, 0), check_int("index", index, 0))[0]


# --------------------------------------------------------------------------- checks


def _check_kinds(name: str, value: Any, *, distinct: bool) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of artefact names; got {value!r}")
    names = list(value)
    if not names:
        raise ValueError(f"{name} must name at least one artefact of {', '.join(KINDS)}")
    unknown = [n for n in names if not isinstance(n, str) or n not in KINDS]
    if unknown:
        raise ValueError(
            f"{name} must be names among {', '.join(KINDS)}; got unknown {unknown[0]!r}"
        )
    if distinct and len(set(names)) != len(names):
        raise ValueError(f"{name} must be distinct; got {names}")
    return names


def _check_size(size: Any) -> int:
    size = check_int("size", size, 16)
    if size % 2:
        raise ValueError(f"size must be an even number of pixels >= 16; got {size}")
    return size


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def _request_options(
    *,
    kinds: Any,
    mix: Any,
    sequence: Any,
    preset: Any,
    fidelity: Any,
    samples_per_slice: Any,
    seed: Any,
    size: Any,
    chunk_size: Any,
) -> dict[str, Any]:
    """The checked options of a run, as recorded in its request (JSON)."""
    if sequence is not None:
        if kinds is not None or mix is not None:
            raise ValueError(
                "sequence fixes the artefacts of every sample: give it without kinds and mix; "
                f"got kinds={kinds!r}, mix={mix!r}"
            )
        kinds, mix = _check_kinds("sequence", sequence, distinct=False), "sequence"
    else:
        kinds = _check_kinds("kinds", KINDS if kinds is None else kinds, distinct=True)
        mix = check_choice("mix", "random" if mix is None else mix, MIXES)
    if preset is not None and (not isinstance(preset, str) or not preset.strip()):
        raise ValueError(f"preset must be None or a preset name such as 'mild'; got {preset!r}")
    return {
        "format": FORMAT,
        "library": __version__,
        "kinds": kinds,
        "mix": mix,
        "preset": preset,
        "fidelity": check_choice("fidelity", fidelity, FIDELITIES),
        "samples_per_slice": check_int("samples_per_slice", samples_per_slice, 1),
        "seed": check_int("seed", seed, 0),
        "size": _check_size(size),
        "chunk_size": check_int("chunk_size", chunk_size, 1),
    }


def _corrupt_options(request: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {"fidelity": request["fidelity"]}
    if request["preset"] is not None:
        # Only when given: a corrupt without presets refuses the keyword itself.
        options["preset"] = request["preset"]
    return options


def _try_options(request: Mapping[str, Any]) -> None:
    """Corrupt a small disc with every artefact list the run uses, so a bad preset fails now."""
    size = request["size"]
    y, x = np.mgrid[0:size, 0:size] - (size - 1) / 2
    disc = np.where(x**2 + y**2 <= (0.4 * size) ** 2, 1.0, 0.0) + 0.1 * (x > 0)
    if request["mix"] == "sequence":
        lists = [request["kinds"]]
    else:
        lists = [[kind] for kind in request["kinds"]]
    for kinds in lists:
        try:
            corrupt_sequence(disc, kinds, 0, **_corrupt_options(request))
        except (TypeError, ValueError) as error:
            raise type(error)(
                f"preset {request['preset']!r} cannot be applied to kinds {kinds}: {error}"
            ) from None


def _input_paths(inputs: Any, out_dir: Path) -> list[Path]:
    """The volume paths named by ``inputs`` (folders expanded), checked to exist."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not isinstance(inputs, Iterable):
        raise TypeError(f"inputs must be a list of paths; got {inputs!r}")
    inputs = list(inputs)
    if not inputs:
        raise ValueError("inputs: no input volume given (NIfTI files, DICOM folders, fastMRI .h5)")
    out = out_dir.resolve()
    paths: list[Path] = []
    for item in inputs:
        if not isinstance(item, (str, os.PathLike)) or str(item).strip() == "":
            raise TypeError(f"inputs must be paths; got {item!r}")
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such input file or folder")
        if not path.is_dir():
            paths.append(path)
            continue
        # An output folder inside an input folder must not be read as a DICOM series.
        found = [p for p in find_volume_paths(path) if not p.resolve().is_relative_to(out)]
        if not found:
            raise ValueError(
                f"{path}: the input folder holds no volume (fastMRI .h5, NIfTI .nii/.nii.gz, "
                "DICOM files or sub-folders of DICOM series)"
            )
        paths += found
    return paths


def _digest(data: np.ndarray) -> str:
    # .data: the array's own buffer (the same bytes, no copy), typed as a memoryview.
    return "sha256:" + hashlib.sha256(np.ascontiguousarray(data).data).hexdigest()


def _plan_sources(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Read every volume once: its identity and the slices that carry an image."""
    sources: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in paths:
        key = str(path.resolve())
        if key in seen:
            warnings.warn(f"{path}: given twice among the inputs; used once", stacklevel=3)
            continue
        seen.add(key)
        volume = read_volume(path)
        keep = np.flatnonzero(informative_slices(volume.data))
        if keep.size == 0:
            warnings.warn(
                f"{path}: no slice carries an image (all empty or constant); skipped",
                stacklevel=3,
            )
            continue
        sources.append(
            {
                "path": key,
                "patient_id": volume.patient_id,
                "shape": list(volume.data.shape),
                "digest": _digest(volume.data),
                "slices": keep.tolist(),
            }
        )
    if not sources:
        raise ValueError(f"inputs: none of the {len(seen)} volume(s) has a slice with an image")
    return sources


def _count_samples(request: Mapping[str, Any]) -> int:
    slices = sum(len(source["slices"]) for source in request["sources"])
    return slices * _per_slice(request)


def _per_slice(request: Mapping[str, Any]) -> int:
    kinds = len(request["kinds"]) if request["mix"] == "each" else 1
    return request["samples_per_slice"] * kinds


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class _Sample:
    index: int
    source: int
    slice: int
    kinds: tuple[str, ...]
    seed: int


def _samples(request: Mapping[str, Any], start: int, stop: int) -> list[_Sample]:
    """Samples ``start`` .. ``stop - 1``: slice by slice, repeats, then (for "each") kinds."""
    sources = request["sources"]
    # first[s]: the position of source s's first slice among all the run's slices.
    first = np.cumsum([0] + [len(source["slices"]) for source in sources])
    per_slice = _per_slice(request)
    kinds = tuple(request["kinds"])
    samples = []
    for index in range(start, stop):
        position = index // per_slice
        source = int(np.searchsorted(first, position, side="right")) - 1
        slice_ = int(sources[source]["slices"][position - first[source]])
        seed, choice = _draws(request["seed"], index)
        if request["mix"] == "sequence":
            chosen = kinds
        elif request["mix"] == "each":
            chosen = (kinds[index % len(kinds)],)
        else:
            chosen = (kinds[int(np.random.default_rng(choice).integers(len(kinds)))],)
        samples.append(_Sample(index, source, slice_, chosen, seed))
    return samples


def _read_source(path: str) -> tuple[np.ndarray, str]:
    """A volume's data and digest, from this process's small cache."""
    cached = _VOLUMES.get(path)
    if cached is None:
        with warnings.catch_warnings():
            # Its warnings (complex data read as magnitude) were shown when the run was planned.
            warnings.simplefilter("ignore")
            data = read_volume(path).data
        cached = (data, _digest(data))
        while len(_VOLUMES) >= _VOLUME_CACHE_SIZE:
            _VOLUMES.pop(next(iter(_VOLUMES)))
        _VOLUMES[path] = cached
    return cached


def _chunk_name(chunk: int) -> str:
    return f"chunk-{chunk:05d}.npz"


def _chunk_bounds(request: Mapping[str, Any], chunk: int) -> tuple[int, int]:
    start = chunk * request["chunk_size"]
    return start, min(start + request["chunk_size"], request["n_samples"])


def _compute_chunk(request: Mapping[str, Any], chunk: int, staging: str) -> int:
    """Compute chunk ``chunk`` of a run and write it into ``staging``; its sample count."""
    start, stop = _chunk_bounds(request, chunk)
    size = request["size"]
    clean = np.empty((stop - start, size, size), dtype=np.float32)
    corrupted = np.empty_like(clean)
    records = []
    options = _corrupt_options(request)
    prepared: tuple[tuple[int, int], np.ndarray] | None = None
    for row, sample in enumerate(_samples(request, start, stop)):
        source = request["sources"][sample.source]
        if prepared is None or prepared[0] != (sample.source, sample.slice):
            data, digest = _read_source(source["path"])
            if digest != source["digest"]:
                raise ValueError(
                    f"{source['path']}: the volume changed while this run was under way "
                    "(its data no longer match the digest recorded when the run started); "
                    "start the run again with overwrite (--overwrite)"
                )
            prepared = ((sample.source, sample.slice), prepare_slice(data[sample.slice], size))
        slice_01 = prepared[1]
        try:
            image, params = corrupt_sequence(slice_01, list(sample.kinds), sample.seed, **options)
        except (TypeError, ValueError) as error:
            error.add_note(
                f"sample {sample.index}: {source['path']}, slice {sample.slice}, "
                f"kinds {list(sample.kinds)}, seed {sample.seed}"
            )
            raise
        clean[row] = znorm(slice_01)
        corrupted[row] = image
        records.append(
            {
                "index": sample.index,
                "source": source["path"],
                "slice": sample.slice,
                "patient_id": source["patient_id"],
                "kinds": list(sample.kinds),
                "params": params,
                "seed": sample.seed,
            }
        )
    text = np.frombuffer(json.dumps(records).encode(), dtype=np.uint8)
    atomic_write(
        Path(staging) / _chunk_name(chunk),
        lambda handle: np.savez(handle, clean=clean, corrupted=corrupted, records=text),
    )
    return stop - start


def _read_chunk(
    staging: Path, request: Mapping[str, Any], chunk: int
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    path = staging / _chunk_name(chunk)
    start, stop = _chunk_bounds(request, chunk)
    remedy = "delete it and run the same command again to compute it anew"
    try:
        with np.load(path, allow_pickle=False) as arrays:
            clean, corrupted = arrays["clean"], arrays["corrupted"]
            records = json.loads(arrays["records"].tobytes().decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise StoreError(f"{path}: the staged chunk is unreadable ({error}); {remedy}") from None
    shape = (stop - start, request["size"], request["size"])
    indices = [record.get("index") for record in records]
    if clean.shape != shape or corrupted.shape != shape or indices != list(range(start, stop)):
        raise StoreError(f"{path}: the staged chunk does not belong to this run; {remedy}")
    return clean, corrupted, records


def _finished_chunks(staging: Path, n_chunks: float) -> set[int]:
    if not staging.is_dir():
        return set()
    found = (_CHUNK_PATTERN.match(p.name) for p in staging.iterdir())
    return {int(m.group(1)) for m in found if m and int(m.group(1)) < n_chunks}


def _run_chunks(
    request: Mapping[str, Any], todo: Sequence[int], staging: Path, workers: int, bar: Any
) -> None:
    if workers == 1 or len(todo) < 2:
        for chunk in todo:
            bar.update(_compute_chunk(request, chunk, str(staging)))
        return
    with process_pool(min(workers, len(todo))) as pool:
        futures = [pool.submit(_compute_chunk, request, chunk, str(staging)) for chunk in todo]
        try:
            for future in as_completed(futures):
                bar.update(future.result())
        except BaseException:
            # Chunks under way finish and stay staged (the pool waits for them on exit).
            for future in futures:
                future.cancel()
            raise


def _write_pairs(request: Mapping[str, Any], staging: Path, n_chunks: int) -> None:
    """Assemble pairs.h5 and records.jsonl from the chunks, inside the staging folder."""
    import h5py

    n, size = request["n_samples"], request["size"]
    lines: list[str] = []
    with atomic_path(staging / PAIRS_NAME) as temporary:
        with h5py.File(temporary, "w") as handle:
            handle.attrs["format"] = FORMAT
            handle.attrs["request"] = json.dumps(request)
            clean = handle.create_dataset("clean", shape=(n, size, size), dtype=np.float32)
            corrupted = handle.create_dataset("corrupted", shape=(n, size, size), dtype=np.float32)
            for chunk in range(n_chunks):
                start, stop = _chunk_bounds(request, chunk)
                clean[start:stop], corrupted[start:stop], records = _read_chunk(
                    staging, request, chunk
                )
                lines += [json.dumps(record) + "\n" for record in records]
    atomic_write_text(staging / RECORDS_NAME, "".join(lines))


def _move_into_place(staging: Path, out: Path) -> None:
    # records.jsonl marks a complete output: out first, in last, so it never describes
    # another run's pairs.h5.
    (out / RECORDS_NAME).unlink(missing_ok=True)
    os.replace(staging / PAIRS_NAME, out / PAIRS_NAME)
    os.replace(staging / RECORDS_NAME, out / RECORDS_NAME)
    shutil.rmtree(staging)


def _staged_request(staging: Path) -> dict[str, Any] | None:
    path = staging / REQUEST_NAME
    if not path.is_file():
        return None
    return read_json(
        path,
        what="staged request",
        remedy=f"delete {staging} (its finished chunks are lost) or give --overwrite",
    )


def _differences(staged: Mapping[str, Any], request: Mapping[str, Any]) -> str:
    shown = []
    for key in sorted(set(staged) | set(request)):
        there, here = staged.get(key), request.get(key)
        if there == here:
            continue
        if key == "sources":
            shown.append("the input volumes (their paths, contents or slices) differ")
        else:
            shown.append(f"{key}: {there!r} there, {here!r} here")
    return "; ".join(shown)


def _refuse_existing(out: Path, staging: Path, overwrite: bool) -> None:
    """Before any work: an existing output is kept unless ``overwrite``."""
    if overwrite:
        return
    remedy = "give --overwrite (overwrite=True) to replace it, or another output folder"
    if (out / RECORDS_NAME).exists():
        raise FileExistsError(
            f"{out / RECORDS_NAME} exists: {out} holds a finished paired dataset; {remedy}"
        )
    if (out / PAIRS_NAME).exists() and not (staging / REQUEST_NAME).is_file():
        raise FileExistsError(f"{out / PAIRS_NAME} exists; {remedy}")


# --------------------------------------------------------------------------- simulate


def simulate(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    kinds: Sequence[str] | None = None,
    mix: str | None = None,
    sequence: Sequence[str] | None = None,
    preset: str | None = None,
    fidelity: str = "paper",
    samples_per_slice: int = 1,
    seed: int = 0,
    size: int = 320,
    workers: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    overwrite: bool = False,
    progress: bool = True,
) -> SimulationResult:
    """Write clean / corrupted slice pairs of ``inputs`` to ``out_dir`` (see the module).

    Parameters
    ----------
    inputs : path or list of paths
        Volumes: fastMRI ``.h5`` files, ``.nii`` / ``.nii.gz`` files, DICOM series folders, or
        folders of them (`mtmri_lib.data.find_volume_paths`). Slices without an image
        (constant, or background only) are skipped, as `mtmri_lib.data.prepare_volume` does.
    out_dir : path
        Output folder (made if absent).
    kinds : list of str, optional
        The artefacts drawn from (default all four, `mtmri_lib.artefacts.KINDS`).
    mix : {"random", "each"}, optional
        "random" (default): one artefact per sample, drawn uniformly from ``kinds`` (the
        training mix); "each": one sample per artefact of ``kinds`` for every slice.
    sequence : list of str, optional
        Instead of ``kinds`` and ``mix``: every sample gets these artefacts, applied in order
        (`corrupt_sequence`; repeats allowed).
    preset : str, optional
        Passed to every step as ``preset=`` ("mild", "moderate", "severe",
        "article:<severity>"); None draws from the article's ranges.
    fidelity : {"paper", "code"}
    samples_per_slice : int
        Samples drawn from every slice (>= 1), each with its own seed.
    seed : int
        Seed of the run (>= 0); sample ``i`` draws from ``SeedSequence([seed, i])``.
    size : int
        Side of the square slices in pixels: even, >= 16 (the article's 320 by default).
    workers : int
        Processes computing chunks in parallel (>= 1); the output does not depend on it.
    chunk_size : int
        Samples per staged chunk (>= 1): the work lost to an interruption, at most.
    overwrite : bool
        Replace an existing output, and discard a staged run made with other options.
    progress : bool
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    SimulationResult

    Raises
    ------
    TypeError, ValueError
        A bad option, naming it; a volume that cannot be read (`VolumeReadError`, naming the
        file); inputs without any slice carrying an image; a staged run in ``out_dir`` made
        with other options (naming them), unless ``overwrite``.
    FileNotFoundError
        An input path that does not exist.
    FileExistsError
        ``out_dir`` holds an output already, unless ``overwrite``.
    NotADirectoryError, PermissionError
        ``out_dir`` is a file or is not writable.

    Notes
    -----
    Options, inputs and the output folder are checked before any volume is read; every
    volume is read (and checked) before any sample is computed. On an error or an
    interruption nothing appears under ``pairs.h5`` or ``records.jsonl``; finished chunks
    stay in ``out_dir/.partial`` and the same call resumes from them.
    """
    started = time.perf_counter()
    request: dict[str, Any] = _request_options(
        kinds=kinds,
        mix=mix,
        sequence=sequence,
        preset=preset,
        fidelity=fidelity,
        samples_per_slice=samples_per_slice,
        seed=seed,
        size=size,
        chunk_size=chunk_size,
    )
    workers = check_int("workers", workers, 1)
    overwrite = _check_flag("overwrite", overwrite)
    progress = _check_flag("progress", progress)
    if str(out_dir).strip() == "":
        raise ValueError("out_dir must be a folder name; got an empty string")
    out = Path(out_dir)
    paths = _input_paths(inputs, out)
    _try_options(request)
    made = not out.exists()
    out = check_writable_folder(out)
    staging = out / STAGING_NAME
    try:
        _refuse_existing(out, staging, overwrite)
        request["sources"] = _plan_sources(paths)
        request["n_samples"] = _count_samples(request)
        staged = _staged_request(staging)
        if staged is not None and staged != request:
            if not overwrite:
                if (out / PAIRS_NAME).exists():
                    raise FileExistsError(
                        f"{out / PAIRS_NAME} exists; give --overwrite (overwrite=True) to "
                        "replace it, or another output folder"
                    )
                raise ValueError(
                    f"{staging} holds an unfinished run with other options "
                    f"({_differences(staged, request)}); run the same command as before to "
                    "resume it, or give --overwrite (overwrite=True) to discard it"
                )
            staged = None
        if staged is None:
            # Leftovers without a matching request cannot be resumed.
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            atomic_write_json(staging / REQUEST_NAME, request)
        n = request["n_samples"]
        n_chunks = math.ceil(n / request["chunk_size"])
        finished = _finished_chunks(staging, n_chunks)
        todo = [chunk for chunk in range(n_chunks) if chunk not in finished]
        remaining = sum(stop - start for start, stop in (_chunk_bounds(request, c) for c in todo))
        from tqdm.auto import tqdm

        with tqdm(
            total=n, initial=n - remaining, disable=not progress, unit="pair", desc="mtmri simulate"
        ) as bar:
            _run_chunks(request, todo, staging, workers, bar)
        _write_pairs(request, staging, n_chunks)
        _move_into_place(staging, out)
    except BaseException:
        if made and not _finished_chunks(staging, math.inf):
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        _VOLUMES.clear()
    return SimulationResult(
        out_dir=out,
        pairs=out / PAIRS_NAME,
        records=out / RECORDS_NAME,
        n_samples=n,
        n_chunks=n_chunks,
        resumed_chunks=len(finished),
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- replay


def _read_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise StoreError(f"{path}, line {number}: not a JSON record ({error})") from None
    return records


def _replay_group(
    pairs: str, records: Sequence[Mapping[str, Any]], size: int, digests: Mapping[str, str]
) -> tuple[dict[int, str], set[str]]:
    """Recompute ``records`` from their sources and params; mismatches and changed sources."""
    import h5py

    mismatched: dict[int, str] = {}
    changed: set[str] = set()
    with h5py.File(pairs, "r") as handle:
        for record in records:
            index = record["index"]
            try:
                data, digest = _read_source(record["source"])
                if digest != digests.get(record["source"]):
                    changed.add(record["source"])
                slice_01 = prepare_slice(data[record["slice"]], size)
                image = slice_01
                for kind, params in zip(record["kinds"], record["params"], strict=True):
                    image = corrupt(image, kind, **params).image
            except Exception as error:  # noqa: BLE001 - any failure is this record's mismatch
                mismatched[index] = f"replay failed: {type(error).__name__}: {error}"
                continue
            clean = np.asarray(znorm(slice_01), dtype=np.float32)
            corrupted = np.asarray(image, dtype=np.float32)
            differs = [
                name
                for name, value in (("corrupted", corrupted), ("clean", clean))
                if value.tobytes() != np.asarray(handle[name][index]).tobytes()
            ]
            if differs:
                mismatched[index] = f"{' and '.join(differs)} image not bit-identical"
    return mismatched, changed


def replay(
    out_dir: str | os.PathLike,
    indices: Iterable[int] | None = None,
    *,
    workers: int = 1,
    progress: bool = False,
) -> ReplayReport:
    """Recompute samples of a `simulate` output from their sources and compare bit for bit.

    Each record's slice is read from its ``source`` and prepared again, then corrupted step
    by step with ``corrupt(image, kind, **params)`` from the record alone; the clean row
    (z-normalised) and the corrupted row must equal those of ``pairs.h5`` byte for byte.

    Parameters
    ----------
    out_dir : path
        A folder written by `simulate`.
    indices : iterable of int, optional
        The samples to check (default all).
    workers : int
        Processes (>= 1).
    progress : bool
        Show a progress bar.

    Returns
    -------
    ReplayReport
        ``.ok``, ``.mismatched`` (index -> reason), ``.changed_sources``, ``.summary()``.

    Raises
    ------
    FileNotFoundError
        ``out_dir`` lacks ``pairs.h5`` or ``records.jsonl``.
    ValueError
        An index outside the output; records that do not match ``pairs.h5`` (`StoreError`).
    """
    import h5py

    out = Path(out_dir)
    workers = check_int("workers", workers, 1)
    progress = _check_flag("progress", progress)
    pairs, records_path = out / PAIRS_NAME, out / RECORDS_NAME
    for path in (pairs, records_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file; replay needs a folder `simulate` wrote")
    records = _read_records(records_path)
    try:
        with h5py.File(pairs, "r") as handle:
            shape = handle["corrupted"].shape
            request = json.loads(handle.attrs["request"])
    except (OSError, KeyError, json.JSONDecodeError) as error:
        raise StoreError(f"{pairs}: not a pairs file of mtmri simulate ({error})") from None
    if [r.get("index") for r in records] != list(range(shape[0])):
        raise StoreError(
            f"{records_path}: its {len(records)} record(s) do not number the {shape[0]} "
            f"rows of {pairs} in order"
        )
    if indices is None:
        wanted = list(range(shape[0]))
    else:
        wanted = sorted({check_int("index", i, 0, shape[0] - 1) for i in indices})
        if not wanted:
            raise ValueError("indices must name at least one sample; got none")
    digests = {source["path"]: source["digest"] for source in request["sources"]}
    groups = [
        [records[i] for i in wanted[start : start + DEFAULT_CHUNK_SIZE]]
        for start in range(0, len(wanted), DEFAULT_CHUNK_SIZE)
    ]
    mismatched: dict[int, str] = {}
    changed: set[str] = set()
    from tqdm.auto import tqdm

    try:
        with tqdm(total=len(wanted), disable=not progress, unit="pair", desc="replay") as bar:
            if workers == 1 or len(groups) < 2:
                results = (_replay_group(str(pairs), g, shape[1], digests) for g in groups)
                for group, (bad, moved) in zip(groups, results, strict=True):
                    mismatched.update(bad)
                    changed |= moved
                    bar.update(len(group))
            else:
                with process_pool(min(workers, len(groups))) as pool:
                    futures = {
                        pool.submit(_replay_group, str(pairs), g, shape[1], digests): len(g)
                        for g in groups
                    }
                    for future in as_completed(futures):
                        bad, moved = future.result()
                        mismatched.update(bad)
                        changed |= moved
                        bar.update(futures[future])
    finally:
        _VOLUMES.clear()
    return ReplayReport(
        out_dir=out,
        checked=tuple(wanted),
        mismatched=dict(sorted(mismatched.items())),
        changed_sources=tuple(sorted(changed)),
    )
