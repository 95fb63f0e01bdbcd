"""What a model trains and is validated on: the run's data folders, its slices, and the
artefact datasets built from them.

Training corruptions follow the model's seed; validation corruptions follow the data seed
only, so every seed of a model and every search trial is validated on the same images.
"""

from __future__ import annotations

from .. import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from ..data import load_slice_sets
from ..data.pipeline import ArtefactDataset
from ..data.settings import data_settings
from ..data.slicesets import data_sources
from ..models import ModelSpec
from ..store import (
    shared_data_dir,
)
from .specs import (
    TrainingSettings,
)

__all__ = [
    "data_fingerprint",
    "model_datasets",
    "reference_mse",
]


def data_fingerprint(slice_set: Any) -> str | None:
    # Hashing every pixel is cheap for the demo and cpu data; for paper-scale data (tens
    # of GB) the split manifest identifies the data instead.
    if len(slice_set) * slice_set.size**2 > 50_000_000:
        return None
    return slice_set.fingerprint()


_SLICE_SETS: dict[tuple, Any] = {}


class _DatasetOptions(TypedDict):
    """What the training and the validation dataset of a model share."""

    tasks: tuple[str, ...]
    fidelity: str
    artefact_options: Mapping[str, Mapping[str, Any]] | None


def _slice_sets(profile: Any, folder: Path | None, data_seed: int, dataset: str, output_dir: Path):
    """Train and validation slices, kept in memory for the other models of the same run."""
    key = (
        repr(data_settings(profile)),
        None if folder is None else str(folder.resolve()),
        data_seed,
        dataset,
    )
    if key not in _SLICE_SETS:
        if len(_SLICE_SETS) >= 4:
            _SLICE_SETS.clear()
        _SLICE_SETS[key] = load_slice_sets(
            profile,
            data_dir=folder,
            seed=data_seed,
            output_dir=shared_data_dir(output_dir),
            dataset=dataset,
            splits=("train", "validation"),
        )
    return _SLICE_SETS[key]


def model_datasets(
    spec: ModelSpec,
    profile: Any,
    settings: TrainingSettings,
    data_dir: str | os.PathLike | None,
    output_dir: str | os.PathLike,
    *,
    seed: int,
    data_seed: int,
    fidelity: str,
):
    """The training and validation datasets of a model (and their slice sets and folder).

    Training corruptions follow ``seed``; the validation corruptions depend on ``data_seed``
    only, so every model seed (and every search trial) is validated on the same images.
    """

    folder = data_sources(data_dir).folder(spec.dataset)
    sets = _slice_sets(profile, folder, int(data_seed), spec.dataset, Path(output_dir))
    train_set, validation_set = sets["train"], sets.get("validation")
    if validation_set is not None and settings.validation_slices is not None:
        validation_set = validation_set.subset(
            range(min(len(validation_set), settings.validation_slices))
        )
    if validation_set is not None and len(validation_set) == 0:
        validation_set = None
    common = _DatasetOptions(
        tasks=spec.tasks,
        fidelity=fidelity,
        artefact_options=spec.artefact_options or None,
    )
    # Full batches only: every batch shape costs a compilation of its own (tens of seconds
    # with XLA on a CPU). Training leaves out the last, incomplete batch of each epoch (other
    # slices each epoch); validation takes a batch size that divides its slice count.
    train = ArtefactDataset(
        train_set.images,
        seed=int(seed),
        workers=settings.workers,
        batch_size=settings.batch_size,
        drop_last=len(train_set) >= settings.batch_size,
        **common,
    )
    validation = None
    if validation_set is not None:
        validation = ArtefactDataset(
            validation_set.images,
            seed=int(data_seed) + 1_000_003,
            shuffle=False,
            vary_with_epoch=False,
            batch_size=_validation_batch(len(validation_set), settings.batch_size),
            **common,
        )
    return train, validation, train_set, validation_set, folder


def _validation_batch(n: int, batch_size: int) -> int:
    """A batch size near ``batch_size`` (between half and twice it) that divides ``n``, so
    every validation batch has one shape; ``batch_size`` itself if there is none."""
    candidates = [b for b in range(max(1, batch_size // 2), 2 * batch_size + 1) if n % b == 0]
    if not candidates:
        return batch_size
    return min(candidates, key=lambda b: (abs(b - batch_size), -b))


def reference_mse(validation: Any) -> float | None:
    """The validation MSE of the corrupted input itself (the identity "correction")."""
    if validation is None:
        return None
    total, count = 0.0, 0
    for index in range(len(validation)):
        u, targets = validation[index]
        total += float(np.sum((targets["clean"] - u) ** 2) / u[0].size)
        count += len(u)
    return total / count
