"""Training samples: one artefact per clean slice, reproducible from (seed, epoch, index).

For each sample the artefact is drawn uniformly from ``tasks`` (all four for the multi-task
model, one for a single-task model), its parameters from the article's ranges, and the
corrupted and the clean image are z-normalised (FACTS.md: the released code's order). Every
draw comes from ``numpy.random.default_rng(SeedSequence([seed, epoch, index]))``, so sample
``index`` of epoch ``epoch`` is the same in any process, on any worker, in any batch order.
The order in which slices are visited in an epoch is a permutation drawn from
``SeedSequence([seed, epoch], spawn_key=(1,))`` (an entropy that no sample's can equal).

This module needs no deep-learning framework; `mtmri_lib.data.pipeline` wraps it in a
``keras.utils.PyDataset``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int
from ..artefacts import KINDS, corrupt
from .prepare import znorm

__all__ = [
    "TrainingSample",
    "training_sample",
    "SampleGenerator",
    "sample_rng",
    "epoch_order",
]


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The Generator of sample ``index`` in epoch ``epoch``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), int(index)]))


def epoch_order(n: int, seed: int, epoch: int, *, shuffle: bool = True) -> np.ndarray:
    """The slice visited at each position of an epoch (a permutation, or 0..n-1)."""
    if not shuffle:
        return np.arange(n)
    sequence = np.random.SeedSequence([int(seed), int(epoch)], spawn_key=(1,))
    return np.random.default_rng(sequence).permutation(n)


@dataclass
class TrainingSample:
    """One training sample.

    Attributes
    ----------
    corrupted, clean : ndarray of shape (S, S), float32
        Both z-normalised.
    label : int
        Index of the artefact in ``tasks``.
    kind : str
    params : dict
        The corruption's parameters (``corrupt(clean_01, kind, **params)`` replays it).
    """

    corrupted: np.ndarray
    clean: np.ndarray
    label: int
    kind: str
    params: dict[str, Any]


def _check_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    if isinstance(tasks, str):
        tasks = (tasks,)
    tasks = tuple(tasks)
    if not tasks or len(set(tasks)) != len(tasks) or any(t not in KINDS for t in tasks):
        raise ValueError(f"tasks must be distinct names among {KINDS}; got {tasks!r}")
    return tasks


def training_sample(
    clean: np.ndarray,
    seed: int,
    epoch: int,
    index: int,
    *,
    tasks: Sequence[str] = KINDS,
    fidelity: str = "paper",
    artefact_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> TrainingSample:
    """Corrupt one clean slice (in [0, 1]) with one artefact drawn uniformly from ``tasks``.

    ``artefact_options`` maps an artefact to keywords pinned for it, for example
    ``{"motion": {"motion": "mixed"}}`` for the pelvic model.
    """

    tasks = _check_tasks(tasks)
    rng = sample_rng(seed, epoch, index)
    label = int(rng.integers(len(tasks)))
    kind = tasks[label]
    options = dict((artefact_options or {}).get(kind, {}))
    result = corrupt(clean, kind, rng, fidelity=fidelity, output="real", zscore=True, **options)
    return TrainingSample(
        corrupted=np.asarray(result.image, dtype=np.float32),
        clean=np.asarray(znorm(np.asarray(clean, dtype=np.float64)), dtype=np.float32),
        label=label,
        kind=kind,
        params=result.params,
    )


class SampleGenerator:
    """Batches of training samples from a stack of clean slices, without a framework.

    Parameters
    ----------
    clean : array-like of shape (n, S, S)
        Clean slices in [0, 1] (an ndarray, a memory-mapped array or a `SliceStack`).
    batch_size : int
    tasks : sequence of str
        The artefacts drawn (uniformly) and the order of the one-hot label.
    seed : int
    shuffle : bool
        Visit the slices in a new order each epoch (training); False: in order (validation).
    drop_last : bool
        Leave out the last, incomplete batch.
    fidelity : {"paper", "code"}
    artefact_options : dict, optional
        Pinned keywords per artefact (see `training_sample`).
    """

    def __init__(
        self,
        clean: Any,
        *,
        batch_size: int = 16,
        tasks: Sequence[str] = KINDS,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        fidelity: str = "paper",
        artefact_options: Mapping[str, Mapping[str, Any]] | None = None,
    ):
        if getattr(clean, "ndim", None) != 3 or len(clean) == 0:
            shape = getattr(clean, "shape", None)
            raise ValueError(f"clean must be a non-empty (n, S, S) stack; got shape {shape}")
        self.clean = clean
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.tasks = _check_tasks(tasks)
        self.seed = check_int("seed", seed, 0)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.fidelity = fidelity
        self.artefact_options = {k: dict(v) for k, v in (artefact_options or {}).items()}
        unknown = set(self.artefact_options) - set(self.tasks)
        if unknown:
            raise ValueError(f"artefact_options for artefacts not in tasks: {sorted(unknown)}")
        if self.drop_last and len(clean) < self.batch_size:
            raise ValueError(f"{len(clean)} slices make no full batch of {self.batch_size}")
        self._orders: dict[int, np.ndarray] = {}

    @property
    def n_batches(self) -> int:
        """Batches per epoch."""
        n = len(self.clean)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The slice index at each position of ``epoch`` (cached for the latest epochs)."""
        order = self._orders.get(epoch)
        if order is None:  # worker threads may race here; each computes the same order
            order = epoch_order(len(self.clean), self.seed, epoch, shuffle=self.shuffle)
            if len(self._orders) > 4:
                self._orders = {}
            self._orders[epoch] = order
        return order

    def sample(self, epoch: int, position: int) -> TrainingSample:
        """Sample ``position`` (0 .. n - 1) of ``epoch``."""
        slice_index = int(self.order(epoch)[position])
        clean = np.asarray(self.clean[slice_index], dtype=np.float32)
        return training_sample(
            clean,
            self.seed,
            epoch,
            position,
            tasks=self.tasks,
            fidelity=self.fidelity,
            artefact_options=self.artefact_options,
        )

    def batch(self, epoch: int, batch: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Batch ``batch`` of ``epoch``: ``(corrupted, {"clean": clean, "label": one_hot})``.

        Images are float32 of shape (B, S, S, 1); ``label`` is float32 of shape
        (B, len(tasks)). A pair, not a triple: Keras reads a third element as sample weights.
        """
        if not 0 <= batch < self.n_batches:
            raise IndexError(f"batch {batch} out of range for {self.n_batches} batches")
        start = batch * self.batch_size
        stop = min(len(self.clean), start + self.batch_size)
        samples = [self.sample(epoch, position) for position in range(start, stop)]
        corrupted = np.stack([s.corrupted for s in samples])[..., None]
        clean = np.stack([s.clean for s in samples])[..., None]
        label = np.zeros((len(samples), len(self.tasks)), dtype=np.float32)
        label[np.arange(len(samples)), [s.label for s in samples]] = 1.0
        return corrupted, {"clean": clean, "label": label}
