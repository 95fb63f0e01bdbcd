"""The one evaluation path of the book: methods x evaluation sets -> per-slice scores.

Every table notebook calls `evaluate` (or `mtmri_lib.report.tables.evaluate_tables`, which calls
it with each table's methods and sets) and displays what comes back; nothing is scored
anywhere else.

The method interface
--------------------
A method is a `Method`: a callable plus what it takes. The evaluation calls it with one
corrupted slice at a time, as stored in the evaluation sets (float32, z-normalised, (H, W)):

``input="corrupted"`` (comparison methods, the identity)
    ``function(corrupted, **settings) -> corrected``;
``input="low_res"`` (bicubic upsampling; only sets with a centred mask have it)
    ``function(low_res, shape=(H, W), **settings) -> corrected``;
``batch=True`` (trained models)
    ``function(corrupted_stack, **settings) -> corrected_stack``, stacks of shape (n, H, W),
    called in this process (a model keeps its own threads and its GPU), ``batch_size``
    slices at a time. `batch_method` wraps a prediction function that way.

The corrected image may have any scale: every metric z-normalises both images first
(`mtmri_lib.metrics`). In the ``methods`` mapping a plain callable is taken as
``Method(function)`` (``input="corrupted"``), and a callable object with a ``version``
attribute (a trained model as `mtmri_lib.inference.model_method` returns it, which takes
stacks and says which weights it holds) as a batch method with that version and its
``batch_size``.

Caching and resuming
--------------------
With ``cache_dir``, the scores of each (set, method, metric, metric fidelity) are appended
to a JSON-lines file, one line per slice, as soon as a chunk of slices is done; a rerun reads
them and computes only the slices still missing, so an interrupted evaluation resumes where
it stopped. Layout: ``<cache_dir>/<set>-<set digest>/<method key>/<metric>-<fidelity>-<metric
code digest>.jsonl``, with a ``method.json`` beside the scores saying what the method is. The
digests cover what decides the numbers: the set's arrays (corrupted, low-resolution and
clean images), the method (function, settings, ``version`` and the source of the module that
defines it; not its row label, so a method shown under two labels is computed once) and the
metric code. Change any of them and the old scores are simply not found. For a lambda or a
closure, whose behaviour the digest cannot see, give ``Method(version=...)`` (for a trained
model: a digest of its weights). `shared_cache_dir` is the folder the book's evaluation
chapters share.

Parallelism
-----------
Methods with ``parallel=True`` (the slow comparison methods) run in worker processes
(`mtmri_lib.parallel`), all (set, method) pairs sharing one pool and one progress bar;
cheap methods and models run in this process.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import metrics
from ._checks import check_choice
from .artefacts import to_json as _jsonable
from .baselines import BASELINE_INFO, BASELINES, identity
from .metrics import FIDELITIES, check_metrics, default_workers, score_pairs
from .parallel import process_pool
from .protocols import EvaluationSets, ResidualModel
from .store import (
    arrays_digest,
    atomic_write_json,
    atomic_write_text,
    file_digest,
    json_digest,
    package_version,
    shared_cache_dir,
)

__all__ = [
    "Method",
    "identity_method",
    "baseline_method",
    "batch_method",
    "comparison_methods",
    "evaluate",
    "score_table",
    "corrected_images",
    "residual_means",
    "seed_label",
    "seed_of",
    "trained_methods",
    "shared_cache_dir",
    "COLUMNS",
    "CORRUPTED_INPUT",
]

#: Columns of the tidy scores frame `evaluate` returns.
COLUMNS = (
    "set",
    "table",
    "severity",
    "method",
    "slice",
    "volume",
    "patient_id",
    "metric",
    "metric_fidelity",
    "value",
)
#: Row label of the identity method: the corrupted input, the tables' reference row.
CORRUPTED_INPUT = "Corrupted input"
_SEED_LABEL = re.compile(r"^(?P<label>.+) \(seed (?P<seed>-?\d+)\)$")


def seed_label(label: str, seed: int) -> str:
    """The row label of a model trained with another seed than the main one: "MT (seed 1)".

    Such rows are scored like any other; the tables leave them out of the displayed rows and
    the statistics and use them for the seed-to-seed spread of their model."""
    return f"{label} (seed {int(seed)})"


def seed_of(label: str) -> tuple[str, int] | None:
    """``("MT", 1)`` for ``"MT (seed 1)"``; None for a label that is not a `seed_label`."""
    match = _SEED_LABEL.match(label)
    return None if match is None else (match["label"], int(match["seed"]))


_INPUTS = ("corrupted", "low_res")


@dataclass(frozen=True)
class Method:
    """A correction method as `evaluate` calls it (see the module docstring).

    Attributes
    ----------
    function : callable
    input : {"corrupted", "low_res"}
        What the function takes: the corrupted slice, or the low-resolution image of a
        centred mask (then also ``shape=``).
    settings : dict
        Keyword arguments passed on every call (part of the cache key).
    batch : bool
        The function maps a stack (n, H, W) to a stack; called in this process.
    batch_size : int
        Slices per call of a batch function.
    parallel : bool
        Run in worker processes (slow per-slice methods); the function must be picklable
        (defined at module level).
    version : str
        Anything else that decides the output and is not in the function's source or its
        settings (weights, a package version); part of the cache key.
    """

    function: Callable[..., np.ndarray]
    input: str = "corrupted"
    settings: Mapping[str, Any] = field(default_factory=dict)
    batch: bool = False
    batch_size: int = 16
    parallel: bool = False
    version: str = ""

    def __post_init__(self) -> None:
        if not callable(self.function):
            raise TypeError(f"function must be callable; got {type(self.function).__name__}")
        check_choice("input", self.input, _INPUTS)
        if self.batch and self.input != "corrupted":
            raise ValueError("a batch method takes the corrupted stack (input='corrupted')")
        if self.batch and self.parallel:
            raise ValueError("batch methods run in this process; use parallel=False")
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1; got {self.batch_size}")

    @property
    def stable(self) -> bool:
        """Whether the cache key identifies the behaviour (module-level function or a
        ``version``)."""
        name = getattr(self.function, "__qualname__", "")
        return bool(self.version) or ("<" not in name and bool(name))

    def key(self) -> str:
        """Digest of everything that decides this method's output (the cache key)."""
        function = self.function
        name = f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"
        record = {
            "function": name,
            "source": _module_digest(function),
            "input": self.input,
            "settings": _jsonable(dict(self.settings)),
            "batch": bool(self.batch),
            "version": self.version,
        }
        return json_digest(record, default=repr)

    def correct(
        self,
        corrupted: np.ndarray,
        low_res: np.ndarray | None = None,
    ) -> np.ndarray:
        """Apply the method to a stack of slices (n, H, W) -> corrected stack (float64)."""
        corrupted = np.asarray(corrupted)
        shape = tuple(corrupted.shape[-2:])
        if self.batch:
            outputs = []
            for start in range(0, len(corrupted), int(self.batch_size)):
                chunk = corrupted[start : start + int(self.batch_size)]
                result = np.asarray(self.function(chunk, **self.settings), dtype=np.float64)
                if result.shape != chunk.shape:
                    raise ValueError(
                        f"batch method returned shape {result.shape} for input {chunk.shape}"
                    )
                outputs.append(result)
            return np.concatenate(outputs) if outputs else np.zeros((0, *shape))
        out = []
        for i in range(len(corrupted)):
            if self.input == "low_res":
                if low_res is None:
                    raise ValueError("this method needs low-resolution images")
                result = self.function(low_res[i], shape=shape, **self.settings)
            else:
                result = self.function(corrupted[i], **self.settings)
            result = np.asarray(result, dtype=np.float64)
            if result.shape != shape:
                raise ValueError(f"method returned shape {result.shape}; expected {shape}")
            out.append(result)
        return np.stack(out) if out else np.zeros((0, *shape))


def _module_digest(function: Callable) -> str:
    """SHA-256 of the source file of the module defining ``function`` ("" if none)."""
    try:
        path = inspect.getsourcefile(inspect.unwrap(function))
    except TypeError:
        path = None
    if not path or not os.path.exists(path):
        return ""
    return _file_digest(path)


_FILE_DIGESTS: dict[tuple[str, float], str] = {}


def _file_digest(path: str | os.PathLike) -> str:
    path = str(path)
    stamp = (path, os.path.getmtime(path))
    if stamp not in _FILE_DIGESTS:
        _FILE_DIGESTS[stamp] = file_digest(path)
    return _FILE_DIGESTS[stamp]


def _package_version(name: str | None) -> str:
    if name is None:
        return ""
    return f"{name}=={package_version(name) or '?'}"


# --------------------------------------------------------------------------- methods


def identity_method() -> Method:
    """The corrupted input itself: the reference row of every table."""
    return Method(identity)


def baseline_method(key: str, *, fidelity: str = "paper", **settings: Any) -> Method:
    """A comparison method of `mtmri_lib.baselines.BASELINES` with its settings.

    Raises
    ------
    KeyError
        The method is not available here (its package does not import).
    """

    if key not in BASELINES:
        raise KeyError(
            f"comparison method {key!r} is not available here; available: "
            f"{', '.join(BASELINES) or 'none'}"
        )
    info = BASELINE_INFO[key]
    cheap = key in ("bicubic",)
    return Method(
        BASELINES[key],
        input="low_res" if key == "bicubic" else "corrupted",
        settings={"fidelity": fidelity, **settings},
        parallel=not cheap,
        version=_package_version(info.package),
    )


def batch_method(
    predict: Callable[[np.ndarray], np.ndarray], *, version: str, batch_size: int = 16
) -> Method:
    """Wrap a prediction function on stacks (a trained model) for `evaluate`.

    Parameters
    ----------
    predict : callable
        Maps a stack of corrupted slices (n, H, W) to the corrected stack (n, H, W); for a
        Keras model of `mtmri_lib.models.build_model`, for example
        ``lambda x: model.predict(x[..., None], verbose=0)["image"][..., 0]``.
    version : str
        Identifies the weights (for example their SHA-256): the cache key of the scores.
    batch_size : int
        Slices per call.
    """
    if not version:
        raise ValueError("give the model's version (for example a digest of its weights)")
    return Method(predict, batch=True, batch_size=batch_size, version=version)


def comparison_methods(fidelity: str = "paper") -> dict[str, Method]:
    """The identity and every available comparison method, keyed by their table labels."""
    methods = {CORRUPTED_INPUT: identity_method()}
    for key in BASELINES:
        methods[BASELINE_INFO[key].label] = baseline_method(key, fidelity=fidelity)
    return methods


def _as_method(value: Method | Callable) -> Method:
    if isinstance(value, Method):
        return value
    version = getattr(value, "version", None)
    if isinstance(version, str) and version:
        # A trained model's corrector: takes stacks, names its weights.
        return Method(
            value, batch=True, batch_size=int(getattr(value, "batch_size", 16)), version=version
        )
    return Method(value)


# --------------------------------------------------------------------------- cache


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_") or "method"


def _describe_method(folder: Path, label: str, method: Method) -> None:
    """Write (once) a human-readable description of a cached method next to its scores."""
    path = folder / "method.json"
    if path.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    function = method.function
    module = getattr(function, "__module__", "?")
    record = {
        "label": label,
        "function": f"{module}.{getattr(function, '__qualname__', '?')}",
        "input": method.input,
        "settings": _jsonable(dict(method.settings)),
        "batch": method.batch,
        "version": method.version,
    }
    atomic_write_json(path, record, default=repr)


def _metrics_digest() -> str:
    return _file_digest(metrics.__file__)[:10]


class _ScoreCache:
    """Per-slice scores of one (set, method) on disk: ``<metric>-<fidelity>-<code>.jsonl``.

    One JSON line per slice, the whole file replaced atomically after every chunk
    (`mtmri_lib.store.atomic_write_text`), so an interruption loses at most the chunk being
    scored; a line that does not parse (a file from elsewhere) is skipped when read. NaN is
    written as JSON's common extension, which ``json.loads`` reads back.
    """

    def __init__(self, folder: Path | None, keys: Sequence[tuple[str, str]]):
        self.folder = folder
        self.keys = tuple(keys)
        self.values: dict[tuple[str, str], dict[int, float]] = {k: {} for k in self.keys}
        if folder is not None:
            for key in self.keys:
                self.values[key] = self._read(self._path(key))

    def _path(self, key: tuple[str, str]) -> Path:
        if self.folder is None:
            raise ValueError("this score cache keeps its scores in memory only (no folder)")
        metric, fidelity = key
        return self.folder / f"{metric}-{fidelity}-{_metrics_digest()}.jsonl"

    @staticmethod
    def _read(path: Path) -> dict[int, float]:
        values: dict[int, float] = {}
        if not path.exists():
            return values
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
                values[int(record["slice"])] = float(record["value"])
            except (ValueError, KeyError, TypeError):
                continue
        return values

    def missing(self, n: int) -> list[int]:
        return [i for i in range(n) if any(i not in self.values[k] for k in self.keys)]

    def add(self, slices: Sequence[int], scores: Mapping[tuple[str, str], np.ndarray]) -> None:
        for key in self.keys:
            for i, value in zip(slices, scores[key], strict=True):
                self.values[key][int(i)] = float(value)
            if self.folder is not None:
                lines = "".join(
                    json.dumps({"slice": i, "value": v}) + "\n"
                    for i, v in sorted(self.values[key].items())
                )
                atomic_write_text(self._path(key), lines)


# --------------------------------------------------------------------------- evaluation


@dataclass
class _Job:
    set_name: str
    method_name: str
    method: Method
    cache: _ScoreCache
    todo: list[int]


def _score_slices(
    method: Method,
    corrupted: np.ndarray,
    low_res: np.ndarray | None,
    clean: np.ndarray,
    metrics: Sequence[str],
    fidelities: Sequence[str],
) -> dict[tuple[str, str], np.ndarray]:
    """Correct a chunk of slices once and score it with every metric and metric fidelity
    (run in a worker or in this process)."""
    corrected = method.correct(corrupted, low_res)
    out = {}
    for fidelity in fidelities:
        frame = score_pairs(clean, corrected, metrics, fidelity=fidelity, workers=1, progress=False)
        out.update({(m, fidelity): frame[m].to_numpy() for m in metrics})
    return out


def _chunks(todo: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(todo), size):
        yield list(todo[start : start + size])


def evaluate(
    sets: EvaluationSets,
    methods: Mapping[str, Method | Callable],
    *,
    set_names: Sequence[str] | None = None,
    plan: Mapping[str, Sequence[str]] | None = None,
    metrics: str | Sequence[str] = ("mse", "ssim", "vif"),
    metric_fidelity: str | Sequence[str] = "paper",
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    chunk_size: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Score methods on evaluation sets, slice by slice, with caching and parallel workers.

    Parameters
    ----------
    sets : mtmri_lib.data.EvalSets
        The evaluation sets (`mtmri_lib.data.eval_sets`); ``sets.clean`` is the reference.
    methods : mapping of str to Method or callable
        Row label -> method (see the module docstring for the interface).
    set_names : sequence of str, optional
        Sets to evaluate every method on (default: all). Ignored when ``plan`` is given.
    plan : mapping of set name to method labels, optional
        Which methods to run on which set (each table's own methods).
    metrics : str or sequence of str
        Names in `mtmri_lib.metrics.METRICS`.
    metric_fidelity : {"paper", "code"} or a sequence of them
        Passed to the metrics (SSIM's data range). With both, each corrected image is scored
        both ways (the column ``metric_fidelity`` tells the rows apart).
    cache_dir : path, optional
        Where per-slice scores are kept (see "Caching and resuming"); None: nothing stored.
    workers : int, optional
        Worker processes for ``parallel`` methods (default: usable cores).
    chunk_size : int, optional
        Slices per task and per cache write (default: a few tasks per worker, at most 8).
    progress : bool
        One tqdm progress bar over all slices still to compute.

    Returns
    -------
    pandas.DataFrame
        Tidy: one row per (set, method, slice, metric) with the columns `COLUMNS`. Methods
        taking ``low_res`` are skipped on sets without it.
    """
    metrics = check_metrics(metrics)
    fidelities = (metric_fidelity,) if isinstance(metric_fidelity, str) else tuple(metric_fidelity)
    if not fidelities:
        raise ValueError("give at least one metric_fidelity")
    for fidelity in fidelities:
        check_choice("metric_fidelity", fidelity, FIDELITIES)
    keys = [(metric, fidelity) for fidelity in fidelities for metric in metrics]
    resolved = {str(name): _as_method(method) for name, method in methods.items()}
    if plan is None:
        names = list(sets.names) if set_names is None else list(set_names)
        plan = {name: list(resolved) for name in names}
    for set_name, labels in plan.items():
        if set_name not in sets.names:
            raise KeyError(f"no evaluation set {set_name!r}; sets: {', '.join(sets.names)}")
        unknown = [label for label in labels if label not in resolved]
        if unknown:
            raise KeyError(f"methods {unknown} of set {set_name!r} are not in methods")
    root = Path(cache_dir) if cache_dir is not None else None
    clean = np.asarray(sets.clean)
    n = len(clean)
    workers = default_workers() if workers is None else max(1, int(workers))

    jobs: list[_Job] = []
    for set_name, labels in plan.items():
        evalset = sets[set_name]
        set_folder = None
        if root is not None:
            digest = arrays_digest(
                {"corrupted": evalset.corrupted, "low_res": evalset.low_res, "clean": clean}
            )[:12]
            set_folder = root / f"{_slug(set_name)}-{digest}"
        for label in labels:
            method = resolved[label]
            if method.input == "low_res" and evalset.low_res is None:
                continue
            folder = None
            if set_folder is not None:
                if not method.stable:
                    raise ValueError(
                        f"method {label!r} is a lambda or closure: give Method(version=...) so "
                        "its cached scores can be told apart, or evaluate without cache_dir"
                    )
                # Named by the method's key alone, so the same method under another row
                # label reuses the scores; method.json says what it is.
                folder = set_folder / method.key()[:16]
                _describe_method(folder, label, method)
            cache = _ScoreCache(folder, keys)
            jobs.append(_Job(set_name, label, method, cache, cache.missing(n)))

    total = sum(len(job.todo) for job in jobs)
    bar = None
    if progress and total:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="evaluating", unit="slice", leave=False)

    def inputs(job: _Job, chunk: list[int]):
        evalset = sets[job.set_name]
        low_res = None if evalset.low_res is None else evalset.low_res[chunk]
        return (
            job.method,
            evalset.corrupted[chunk],
            low_res if job.method.input == "low_res" else None,
            clean[chunk],
            metrics,
            fidelities,
        )

    try:
        local = [job for job in jobs if job.todo and not (job.method.parallel and workers > 1)]
        remote = [job for job in jobs if job.todo and job.method.parallel and workers > 1]
        for job in local:
            size = chunk_size or (int(job.method.batch_size) if job.method.batch else 8)
            for chunk in _chunks(job.todo, size):
                job.cache.add(chunk, _score_slices(*inputs(job, chunk)))
                if bar is not None:
                    bar.set_postfix_str(f"{job.set_name}: {job.method_name}", refresh=False)
                    bar.update(len(chunk))
        if remote:
            from concurrent.futures import FIRST_COMPLETED, wait

            n_remote = sum(len(job.todo) for job in remote)
            size = chunk_size or max(1, min(8, math.ceil(n_remote / (4 * workers))))
            tasks = iter([(job, chunk) for job in remote for chunk in _chunks(job.todo, size)])
            with process_pool(workers) as pool:
                # A few tasks per worker in flight: the slices of a task are copied when it
                # is submitted, so submitting everything at once would hold every set in
                # memory twice at paper scale.
                pending = {}
                for job, chunk in itertools.islice(tasks, 2 * workers):
                    pending[pool.submit(_score_slices, *inputs(job, chunk))] = (job, chunk)
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        job, chunk = pending.pop(future)
                        job.cache.add(chunk, future.result())
                        if bar is not None:
                            bar.set_postfix_str(f"{job.set_name}: {job.method_name}", refresh=False)
                            bar.update(len(chunk))
                        for job, chunk in itertools.islice(tasks, 1):
                            future = pool.submit(_score_slices, *inputs(job, chunk))
                            pending[future] = (job, chunk)
    finally:
        if bar is not None:
            bar.close()

    rows = []
    for job in jobs:
        evalset = sets[job.set_name]
        for metric, fidelity in keys:
            values = job.cache.values[(metric, fidelity)]
            for i in range(n):
                origin = sets.slices[i] if i < len(sets.slices) else {}
                rows.append(
                    (
                        job.set_name,
                        int(evalset.setting.table),
                        evalset.setting.label,
                        job.method_name,
                        i,
                        str(origin.get("volume", "")),
                        str(origin.get("patient_id", "")),
                        metric,
                        fidelity,
                        values.get(i, math.nan),
                    )
                )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def score_table(scores: pd.DataFrame, set_name: str, metric: str) -> pd.DataFrame:
    """One set and metric of a tidy scores frame as a table: rows = slices, columns = methods
    (in order of first appearance), the input of `mtmri_lib.stats.friedman_nemenyi`."""
    part = scores[(scores["set"] == set_name) & (scores["metric"] == metric)]
    order = list(dict.fromkeys(part["method"]))
    table = part.pivot_table(index="slice", columns="method", values="value", dropna=False)
    return table.reindex(columns=order)


def corrected_images(
    sets: EvaluationSets, set_name: str, methods: Mapping[str, Method | Callable], index: int = 0
) -> dict[str, np.ndarray]:
    """The clean, corrupted and corrected versions of one slice (for figures)."""
    evalset = sets[set_name]
    out = {"clean": np.asarray(sets.clean[index], dtype=np.float64)}
    for label, method in methods.items():
        method = _as_method(method)
        if method.input == "low_res" and evalset.low_res is None:
            continue
        low_res = None if evalset.low_res is None else evalset.low_res[index : index + 1]
        out[label] = method.correct(evalset.corrupted[index : index + 1], low_res)[0]
    return out


def residual_means(
    sets: EvaluationSets,
    models: Mapping[str, ResidualModel],
    set_names: Sequence[str],
    *,
    progress: bool = True,
) -> pd.DataFrame:
    """The mean absolute value of each output residual, per slice (Table 7's residuals).

    Parameters
    ----------
    sets : mtmri_lib.data.EvalSets
    models : mapping of str to ModelCorrector
        Row label -> a trained model as `mtmri_lib.inference.model_method` returns it (it
        needs ``.residuals(stack)``).
    set_names : sequence of str
        The sets to run the models on.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``set``, ``method``, ``slice``, ``volume``, ``head``, ``value``, where value is
        mean |p_head| over the pixels of one slice, in the units of the model's input (the
        corrupted slice, z-normalised).
    """
    from tqdm.auto import tqdm

    for label, model in models.items():
        if not callable(getattr(model, "residuals", None)):
            raise TypeError(
                f"{label!r}: expected a trained model from mtmri_lib.inference.model_method "
                f"(with .residuals); got {type(model).__name__}"
            )
    missing = [name for name in set_names if name not in sets.names]
    if missing:
        raise KeyError(f"no evaluation set {', '.join(missing)}; sets: {', '.join(sets.names)}")
    rows = []
    pairs = [(name, label) for name in set_names for label in models]
    for set_name, label in tqdm(pairs, desc="residuals", disable=not progress):
        heads = models[label].residuals(sets[set_name].corrupted)
        for head, values in heads.items():
            means = np.abs(np.asarray(values, dtype=np.float64)).mean(axis=(1, 2))
            for i, value in enumerate(means):
                origin = sets.slices[i] if i < len(sets.slices) else {}
                rows.append((set_name, label, i, str(origin.get("volume", "")), head, float(value)))
    return pd.DataFrame(rows, columns=["set", "method", "slice", "volume", "head", "value"])


def trained_methods(
    profile: Any,
    output_dir: str | os.PathLike,
    *,
    seed: int | None = None,
    extra_seeds: int | None = None,
    labels: Sequence[str] | None = None,
    batch_size: int = 16,
) -> dict[str, ResidualModel]:
    """Every trained model of a profile as an evaluation method, keyed by its row label.

    The main seed of each model is keyed by the article's label ("MT+L_C"); other seeds by
    `seed_label` ("MT+L_C (seed 1)"). Models not trained yet are absent.

    Parameters
    ----------
    seed : int or None
        The book run's seed: its models are those of this seed and of the ``extra_seeds``
        seeds after it (``seed + 1``, ...), as the training chapter trains them; models of
        other runs in the same folder are left out. None: the lowest seed found per model
        is the main one, every other seed an extra.
    extra_seeds : int or None
        How many seeds after the main one count (the profile's
        ``TrainingSettings.extra_seeds``); 0: the main seeds only; None: every seed found.
    labels : sequence of str or None
        The models wanted, in order (see `trained_models`).
    """
    from .inference import model_method, trained_models  # TensorFlow: only when models are used

    first = None if seed is None else int(seed)
    last = None if first is None or extra_seeds is None else first + int(extra_seeds)
    methods: dict[str, ResidualModel] = {}
    for model in trained_models(profile, output_dir, labels=labels):
        if first is not None and (model.seed < first or (last is not None and model.seed > last)):
            continue
        is_main = model.label not in methods and (seed is None or model.seed == int(seed))
        if not is_main and (extra_seeds == 0 or model.label not in methods):
            continue
        key = model.label if is_main else seed_label(model.label, model.seed)
        methods[key] = model_method(model.path, batch_size=batch_size)
    return methods
