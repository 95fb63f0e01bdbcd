"""Running the article's seven models: train or reuse each one, on the profile's data.

The article (Simko et al. 2023, "Bayesian hyper-parameter search") trains seven networks
(`mtmri_lib.models.MODEL_SPECS`): four single-task models (Bias, Subsampling, Motion,
Noise), the multi-task model with the MSE (MT), with the convolutional loss (MT+L_C), and
MT+L_C on pelvic data with rigid and periodic motion (Pelvis MT+L_C).

- `train_model` / `train_models`: the seven models (and extra seeds of MT and MT+L_C where
  the profile allows) on the profile's data, saved as ``.keras`` files with one JSON record
  each in `mtmri_lib.store.models_dir` (read back by `mtmri_lib.inference.read_sidecar`); a
  saved model whose request (profile, seeds, hyper-parameters, settings, data, model code)
  is unchanged is reused, so a rerun of the training notebook loads rather than retrains.
- `data_sources`: which folders the brain and the pelvic models train on.
- `input_validation_mse`: what the corrupted input itself scores on a model's validation
  samples.

Seeding: `train_model` calls `mtmri_lib.models.set_global_seed` (the project's one helper
that seeds Python's, numpy's and TensorFlow's global generators) before building the
network, as training entry points must for reproducible runs; library functions that do
not train never touch global random state.
"""

from __future__ import annotations

from .. import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

import dataclasses
import datetime as _dt
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import profile_name
from ..inference import TrainedModel, read_sidecar
from ..models import MODEL_LABELS, ModelSpec, model_config, model_spec
from ..store import (
    atomic_path,
    atomic_write_text,
    json_digest,
    models_dir,
    package_versions,
)
from .datasets import data_fingerprint, data_sources, model_datasets, reference_mse
from .fit import fit_model, read_checkpoint_state, worker_task
from .search import best_hyperparameters
from .specs import (
    TRAINING_FORMAT,
    HyperParameters,
    TrainingSettings,
    default_hyperparameters,
    model_code_digest,
    training_settings,
)

__all__ = [
    "train_model",
    "train_models",
    "input_validation_mse",
    "training_hyperparameters",
    "model_path",
    "RECORDED_PACKAGES",
]


# --------------------------------------------------------------------------- where things go


def model_path(
    output_dir: str | os.PathLike, model: str | ModelSpec, profile: Any, seed: int
) -> Path:
    """The ``.keras`` file of one trained model (its JSON sidecar: same name, ``.json``)."""
    spec = model_spec(model)
    return models_dir(output_dir) / f"{spec.key}-{profile_name(profile)}-seed{int(seed)}.keras"


# --------------------------------------------------------------------------- training a model


#: The distributions whose versions a trained model's record keeps.
RECORDED_PACKAGES = ("mtmri", "keras", "tensorflow", "tensorflow-cpu", "jax", "torch", "numpy")


def _resolve_hyperparameters(
    spec: ModelSpec, profile: Any, settings: TrainingSettings, output_dir: Path, hyper
) -> tuple[HyperParameters, str]:
    if hyper is not None:
        if not isinstance(hyper, HyperParameters):
            hyper = HyperParameters.from_dict(hyper)
        return hyper, "given"
    if settings.use_search and spec.label in settings.search_models:
        found = best_hyperparameters(spec.label, profile, output_dir)
        if found is not None:
            return found, "Bayesian search"
    return default_hyperparameters(spec), "defaults (article values where known)"


def training_hyperparameters(
    profile: Any,
    output_dir: str | os.PathLike,
    *,
    models: Sequence[str] = MODEL_LABELS,
    settings: TrainingSettings | None = None,
) -> dict[str, tuple[HyperParameters, str]]:
    """The hyper-parameters each model trains with in this profile, and where they come from
    (the Bayesian search, where the profile uses it and it covered the model, else
    `default_hyperparameters`)."""
    settings = settings if settings is not None else training_settings(profile)
    return {
        model_spec(m).label: _resolve_hyperparameters(
            model_spec(m), profile, settings, Path(output_dir), None
        )
        for m in models
    }


def input_validation_mse(
    model: str | ModelSpec,
    profile: Any = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike,
    seed: int = 0,
    settings: TrainingSettings | None = None,
) -> float | None:
    """The validation MSE of the corrupted input itself, on a model's validation samples.

    What a model that changes nothing would score: the scale against which the validation
    MSE of trained models and search trials reads (``seed`` is the data seed).
    """
    spec = model_spec(model)
    settings = settings if settings is not None else training_settings(profile)
    _, validation, *_ = model_datasets(
        spec, profile, settings, data_dir, output_dir, seed=seed, data_seed=seed, fidelity="paper"
    )
    return reference_mse(validation)


def train_model(
    model: str | ModelSpec,
    profile: Any = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike,
    seed: int = 0,
    data_seed: int | None = None,
    hyper: HyperParameters | Mapping[str, Any] | None = None,
    settings: TrainingSettings | None = None,
    force: bool = False,
    verbose: str | int = "auto",
    strategy: Any = None,
) -> TrainedModel:
    """Train one of the seven models (or reuse it), save it as ``.keras`` with a JSON sidecar.

    Parameters
    ----------
    model : str or ModelSpec
        A label of `MODEL_SPECS` (``"MT+L_C"``) or its key (``"mt_lc"``).
    profile : str or Profile
        Sets the network (`mtmri_lib.models.MODEL_CONFIGS`), the data size and the training
        settings (`training_settings`).
    data_dir : path or None
        See `data_sources`; None: synthetic subjects (`synthetic_subjects`).
    output_dir : path
        The notebook's output folder; the model goes to `models_dir` (``output_dir``'s
        sibling ``models``), the checkpoints to ``models/checkpoints``.
    seed : int
        Seeds the weights, the order of the training slices and the training corruptions
        (through `mtmri_lib.models.set_global_seed`, which seeds the global generators).
    data_seed : int or None
        Seeds the data split, subsets and the fixed validation corruptions (default ``seed``);
        models of several seeds share it, so they are validated on the same images.
    hyper : HyperParameters, dict or None
        None: the search's best where ``settings.use_search``, else `default_hyperparameters`.
    settings : TrainingSettings, optional
        Overrides the profile's.
    force : bool
        Retrain (from scratch) even if a matching model or checkpoint exists.
    verbose : "auto", 0, 1 or 2
        Keras' progress display.
    strategy : tf.distribute.Strategy, optional

    Returns
    -------
    TrainedModel
        A model whose request (profile, seeds, hyper-parameters, settings, data folder and
        the network / loss / sample code) matches a saved one is loaded from disk, not
        retrained; an interrupted training resumes from its last completed epoch.
    """
    import shutil

    spec = model_spec(model)
    settings = settings if settings is not None else training_settings(profile)
    seed = int(seed)
    data_seed = seed if data_seed is None else int(data_seed)
    output_dir = Path(output_dir)
    hyper, hyper_source = _resolve_hyperparameters(spec, profile, settings, output_dir, hyper)
    sources = data_sources(data_dir)
    folder = sources.folder(spec.dataset)
    config = model_config(profile)
    request: dict[str, Any] = {
        "format": TRAINING_FORMAT,
        "profile": profile_name(profile),
        "model": spec.label,
        "tasks": list(spec.tasks),
        "artefact_options": {k: dict(v) for k, v in spec.artefact_options.items()},
        "seed": seed,
        "data_seed": data_seed,
        "hyperparameters": hyper.to_dict(),
        "settings": {
            key: getattr(settings, key)
            for key in (
                "max_epochs",
                "patience",
                "batch_size",
                "steps_per_epoch",
                "validation_slices",
            )
        },
        "model_config": dataclasses.asdict(config),
        "data": {
            "dataset": spec.dataset,
            "folder": None if folder is None else str(folder.resolve()),
        },
        "code": model_code_digest(),
    }
    digest = json_digest(request)[:12]
    path = model_path(output_dir, spec, profile, seed)
    record = read_sidecar(path)
    if (
        not force
        and path.exists()
        and record is not None
        and record.get("request_digest") == digest
    ):
        return TrainedModel(spec.label, seed, path, record, trained_now=False)

    train, validation, train_set, validation_set, _ = model_datasets(
        spec,
        profile,
        settings,
        data_dir,
        output_dir,
        seed=seed,
        data_seed=data_seed,
        fidelity=hyper.fidelity,
    )
    checkpoint_dir = models_dir(output_dir) / "checkpoints" / f"{path.stem}-{digest}"
    if force and checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)
    result = fit_model(
        config,
        spec.tasks,
        train,
        validation,
        hyper=hyper,
        seed=seed,
        settings=settings,
        checkpoint_dir=checkpoint_dir,
        verbose=verbose,
        strategy=strategy,
    )
    task = worker_task()
    if task.workers > 1 and not task.is_chief:
        # Only the chief writes the model file; every other worker waits for it.
        return _chief_model(spec.label, seed, path, digest)
    state = read_checkpoint_state(checkpoint_dir)
    if state is None:  # every epoch of fit_network writes one
        raise RuntimeError(f"{checkpoint_dir}: training left no checkpoint")
    record = {
        "model": spec.label,
        "key": spec.key,
        "tasks": list(spec.tasks),
        "profile": profile_name(profile),
        "seed": seed,
        "data_seed": data_seed,
        "hyperparameters": hyper.to_dict(),
        "hyperparameters_source": hyper_source,
        "settings": request["settings"],
        "model_config": request["model_config"],
        "image_size": config.image_size,
        "parameters": int(result.network.count_params()),
        "data": {
            "dataset": spec.dataset,
            "source": sources.describe(spec.dataset),
            "folder": request["data"]["folder"],
            "artefact_options": request["artefact_options"],
            "train": train_set.summary(),
            "validation": None if validation_set is None else validation_set.summary(),
            "train_fingerprint": data_fingerprint(train_set),
        },
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "best_val_mse": result.best_value,
        "stopped_early": result.stopped_early,
        "diverged": result.diverged,
        "runs": len(state["runs"]),
        "reference_val_mse": reference_mse(validation),
        "train_seconds": result.seconds,
        "images_per_second": result.images_per_second,
        "replicas": result.replicas,
        "history": result.history.to_dict(orient="records"),
        "versions": package_versions(RECORDED_PACKAGES),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "request_digest": digest,
    }
    with atomic_path(path) as temporary:
        result.network.save(temporary)
    text = json.dumps(record, indent=1, default=_json_default)
    atomic_write_text(path.with_suffix(".json"), text)
    # The saved model and its sidecar replace the checkpoints (at paper scale, about a GB
    # each); those of an earlier request for the same file go too.
    for folder in checkpoint_dir.parent.glob(f"{path.stem}-*"):
        shutil.rmtree(folder, ignore_errors=True)
    return TrainedModel(spec.label, seed, path, json.loads(text), trained_now=True)


CHIEF_SAVE_TIMEOUT_VARIABLE = "MTMRI_CHIEF_SAVE_TIMEOUT"
"""Seconds a non-chief worker waits for the chief's saved model (default 600)."""


def _chief_model(label: str, seed: int, path: Path, digest: str) -> TrainedModel:
    """The chief's saved model of this request, once its sidecar has appeared.

    The workers finish the same last step together and the chief then writes the file, so
    the wait is the time one save takes; a model that never appears means the workers do
    not share the output folder (or the chief died), and the error says so.
    """
    timeout = float(os.environ.get(CHIEF_SAVE_TIMEOUT_VARIABLE, "600"))
    deadline = time.monotonic() + timeout
    while True:
        record = read_sidecar(path)
        if path.exists() and record is not None and record.get("request_digest") == digest:
            return TrainedModel(label, seed, path, record, trained_now=True)
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{path}: the chief's trained model did not appear within {timeout:g} s "
                f"(${CHIEF_SAVE_TIMEOUT_VARIABLE}). Only the chief writes it: every worker "
                "needs the output folder on one file system they all see."
            )
        time.sleep(1.0)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _run_plan(
    settings: TrainingSettings, seed: int, models: Sequence[str]
) -> list[tuple[str, int]]:
    """(label, seed) of every run: the seven models first, then the extra seeds."""
    labels = [model_spec(m).label for m in models]
    plan = [(label, seed) for label in labels]
    for extra in range(1, settings.extra_seeds + 1):
        plan += [(label, seed + extra) for label in labels if label in ("MT", "MT+L_C")]
    return plan


def train_models(
    profile: Any = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike,
    seed: int = 0,
    models: Sequence[str] = MODEL_LABELS,
    settings: TrainingSettings | None = None,
    force: bool = False,
    verbose: str | int = 2,
) -> list[TrainedModel]:
    """Train (or reuse) the seven models, then the extra seeds of MT and MT+L_C.

    Every run shares ``data_seed = seed``; the extra runs use seeds ``seed + 1``, ... (as many
    as ``settings.extra_seeds``). See `train_model` for the other arguments.
    """
    settings = settings if settings is not None else training_settings(profile)
    trained = []
    for label, run_seed in _run_plan(settings, int(seed), models):
        if verbose:
            print(f"== {label}, seed {run_seed}")
        trained.append(
            train_model(
                label,
                profile,
                data_dir=data_dir,
                output_dir=output_dir,
                seed=run_seed,
                data_seed=seed,
                settings=settings,
                force=force,
                verbose=verbose,
            )
        )
        if verbose and not trained[-1].trained_now:
            print(f"   reused {trained[-1].path}")
    return trained


# --------------------------------------------------------------------------- registry
