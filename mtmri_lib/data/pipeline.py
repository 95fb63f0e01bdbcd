"""The training-sample pipeline for Keras: a ``keras.utils.PyDataset`` over `SampleGenerator`.

Each item is a pair ``(corrupted, {"clean": clean, "label": one_hot})`` (a pair on purpose:
Keras reads a third tuple element as sample weights). Images are float32 (B, S, S, 1), both
z-normalised; the label is the one-hot artefact index over ``tasks``.

Epochs: the dataset counts the epochs Keras runs (``on_epoch_begin`` / ``on_epoch_end``); a
training run that resumes at epoch ``e`` calls ``set_epoch(e)`` first. Batches are a pure
function of (seed, epoch, batch index), so worker threads or processes
(``workers``, ``use_multiprocessing``) and Keras's own batch shuffling change nothing in
what a batch holds. Importing this module imports Keras.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from ..artefacts import KINDS
from .samples import SampleGenerator

__all__ = ["ArtefactDataset"]


class ArtefactDataset(keras.utils.PyDataset):
    """Corrupted / clean training pairs with their artefact label, for ``model.fit``.

    Parameters
    ----------
    clean : array-like of shape (n, S, S)
        Clean slices in [0, 1] (e.g. ``load_slice_sets(...)["train"].images``).
    batch_size : int
    tasks : sequence of str
        Artefacts drawn uniformly per sample; a single one for a single-task model.
    seed : int
    epoch : int
        The epoch the first pass produces (to resume a run).
    shuffle : bool
        New slice order each epoch (training). For validation use ``shuffle=False,
        vary_with_epoch=False``: the same corrupted images every epoch.
    vary_with_epoch : bool
        Advance the epoch counter at each ``on_epoch_end`` (new corruptions each epoch).
    drop_last, fidelity, artefact_options
        As `SampleGenerator`.
    workers, use_multiprocessing, max_queue_size
        As ``keras.utils.PyDataset``.
    cache_bytes : int
        Where the batches are the same every epoch (``vary_with_epoch=False``: validation),
        keep them after the first epoch, up to this many bytes (default 512 MiB; 0: never):
        the same arrays, bit for bit, without simulating the artefacts again. Batches past
        the limit are made again each time.
    """

    def __init__(
        self,
        clean: Any,
        *,
        batch_size: int = 16,
        tasks: Sequence[str] = KINDS,
        seed: int = 0,
        epoch: int = 0,
        shuffle: bool = True,
        vary_with_epoch: bool = True,
        drop_last: bool = False,
        fidelity: str = "paper",
        artefact_options: Mapping[str, Mapping[str, Any]] | None = None,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
        cache_bytes: int = 512 * 2**20,
    ):
        super().__init__(
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size
        )
        self.generator = SampleGenerator(
            clean,
            batch_size=batch_size,
            tasks=tasks,
            seed=seed,
            shuffle=shuffle,
            drop_last=drop_last,
            fidelity=fidelity,
            artefact_options=artefact_options,
        )
        self.epoch = int(epoch)
        self.vary_with_epoch = bool(vary_with_epoch)
        self._in_epoch = False
        if isinstance(cache_bytes, bool) or not isinstance(cache_bytes, (int, np.integer)):
            raise ValueError(f"cache_bytes must be an integer >= 0; got {cache_bytes!r}")
        if cache_bytes < 0:
            raise ValueError(f"cache_bytes must be an integer >= 0; got {cache_bytes}")
        self.cache_bytes = int(cache_bytes)
        self._cache: dict[tuple[int, int], Any] = {}
        self._cached_bytes = 0

    @property
    def tasks(self) -> tuple[str, ...]:
        """The artefacts, in the order of the one-hot label."""
        return self.generator.tasks

    def __len__(self) -> int:
        return self.generator.n_batches

    def __getitem__(self, index: int):
        key = (self.epoch, int(index))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        batch = self.generator.batch(*key)
        if not self.vary_with_epoch and self.cache_bytes:
            size = batch[0].nbytes + sum(value.nbytes for value in batch[1].values())
            if self._cached_bytes + size <= self.cache_bytes:
                self._cache[key] = batch
                self._cached_bytes += size
        return batch

    def set_epoch(self, epoch: int) -> None:
        """Produce the batches of ``epoch`` next (e.g. when training resumes)."""
        self.epoch = int(epoch)

    def on_epoch_begin(self) -> None:
        self._in_epoch = True

    def on_epoch_end(self) -> None:
        # Keras also calls on_epoch_end once when fit() starts, outside any epoch: only an
        # end that follows a begin advances the counter. Keras stops its worker queue before
        # calling this, so no batch of the finished epoch is made with the new epoch number.
        if self.vary_with_epoch and self._in_epoch:
            self.epoch += 1
        self._in_epoch = False
