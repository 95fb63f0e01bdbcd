"""The Bayesian hyper-parameter search of the article (Table 2), with keras-tuner.

The article ("Bayesian hyper-parameter search") searched, per model: the optimiser (Adam or
RMSprop), the learning rate 10^g with g in [-7, -2], the regularisation weight alpha in
[0, 1] and, for the two models with the convolutional loss, the nine kernel weights delta in
[0, 1]; 10 iterations for the five MSE models and 35 for the two L_C models, each training
stopped when the validation MSE had not improved for 10 epochs. The search code was never
published; this module uses keras-tuner's ``BayesianOptimization`` (a Gaussian process with
an upper-confidence-bound acquisition) over the same space, each trial trained by
`mtmri_lib.training.fit_network` and scored by its best validation MSE.

Resuming: each search is a keras-tuner project under `mtmri_lib.training.search_dir`
(opened with ``overwrite=False``), so a search that is interrupted and started again keeps
its completed trials and re-runs the interrupted one, which itself resumes from its last
completed epoch (its checkpoint lies in the trial's folder). A trial whose training
diverges (a non-finite validation MSE) is scored `DIVERGED_MSE`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split
import numpy as np

from .losses import KERNEL_NAMES, KERNEL_SYMBOLS
from .models import build_model, model_config, set_global_seed
from .profiles import Profile, get_profile
from .training import (
    ARTICLE_HYPERPARAMETERS,
    MODEL_LABELS,
    OPTIMIZERS,
    TRAINING_FORMAT,
    HyperParameters,
    ModelSpec,
    TrainingSettings,
    _code_digest,
    _spec,
    fit_network,
    search_dir,
    training_settings,
)

__all__ = [
    "LEARNING_RATE_RANGE",
    "DIVERGED_MSE",
    "search_space",
    "search_space_table",
    "hyperparameters_from",
    "SearchResult",
    "run_search",
    "run_searches",
    "search_trials",
    "best_hyperparameters",
    "table2",
    "TABLE2_ROWS",
]

#: The learning-rate range of the search: 10^-7 to 10^-2, sampled on a log scale.
LEARNING_RATE_RANGE: tuple[float, float] = (1e-7, 1e-2)

#: Score of a trial whose training diverged: the MSE of an output uncorrelated with the
#: (z-normalised) target, 2; worse than any trained model and than the corrupted input.
DIVERGED_MSE = 2.0

_OBJECTIVE = "val_mse"
_TRIALS_FILE = "trials.json"


def search_space(model: str | ModelSpec):
    """The keras-tuner search space of one model (``keras_tuner.HyperParameters``).

    ``optimizer`` in {adam, rmsprop}; ``learning_rate`` in [1e-7, 1e-2], log scale;
    ``alpha`` in [0, 1]; for the L_C models ``delta_<kernel>`` in [0, 1] for each of the nine
    kernels of `mtmri_lib.losses.KERNEL_NAMES`.
    """
    import keras_tuner

    spec = _spec(model)
    space = keras_tuner.HyperParameters()
    space.Choice("optimizer", list(OPTIMIZERS))
    space.Float("learning_rate", *LEARNING_RATE_RANGE, sampling="log")
    space.Float("alpha", 0.0, 1.0)
    if spec.convolutional_loss:
        for name in KERNEL_NAMES:
            space.Float(f"delta_{name}", 0.0, 1.0)
    return space


def search_space_table(model: str | ModelSpec):
    """The search space of a model as a table: one row per hyper-parameter, its range and
    scale (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for hp in search_space(model).space:
        if type(hp).__name__ == "Choice":
            rows.append({"hyper-parameter": hp.name, "values": ", ".join(map(str, hp.values))})
        else:
            rows.append(
                {
                    "hyper-parameter": hp.name,
                    "values": f"[{hp.min_value:g}, {hp.max_value:g}]",
                    "sampling": hp.sampling,
                }
            )
    return pd.DataFrame(rows).set_index("hyper-parameter").fillna("")


def hyperparameters_from(values: Mapping[str, Any]) -> HyperParameters:
    """`HyperParameters` from a trial's values (``delta_<kernel>`` keys make the deltas)."""
    deltas = {
        name: float(values[f"delta_{name}"]) for name in KERNEL_NAMES if f"delta_{name}" in values
    }
    return HyperParameters(
        optimizer=str(values["optimizer"]),
        learning_rate=float(values["learning_rate"]),
        alpha=float(values["alpha"]),
        deltas=deltas or None,
    )


def _tuner_class():
    import keras_tuner

    class ResumableBayesianSearch(keras_tuner.BayesianOptimization):
        """BayesianOptimization whose trials train with `fit_network` (checkpointed)."""

        def __init__(self, *, trainer_fit, **kwargs):
            self._trainer_fit = trainer_fit
            super().__init__(**kwargs)

        def run_trial(self, trial, *args, **kwargs):
            folder = Path(self.get_trial_dir(trial.trial_id)) / "fit"
            try:
                value = self._trainer_fit(trial.hyperparameters.values, folder)
            except Exception as error:  # a bug must stop the search, not be skipped
                raise keras_tuner.errors.FatalError(
                    f"trial {trial.trial_id} failed: {type(error).__name__}: {error}"
                ) from error
            # The score is all the search keeps of a finished trial; its checkpoints (about a
            # GB at paper scale) only served to resume it.
            shutil.rmtree(folder, ignore_errors=True)
            return {_OBJECTIVE: value}

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            _write_trials(Path(self.project_dir), self.oracle)

    return ResumableBayesianSearch


def _write_trials(project: Path, oracle: Any) -> None:
    rows = []
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        rows.append(
            {
                "trial": trial.trial_id,
                "status": str(trial.status),
                "score": None if trial.score is None else float(trial.score),
                "values": dict(trial.hyperparameters.values),
            }
        )
    text = json.dumps(rows, indent=1)
    temporary = project / f".{_TRIALS_FILE}.tmp"
    temporary.write_text(text)
    os.replace(temporary, project / _TRIALS_FILE)


@dataclass
class SearchResult:
    """One model's search: its project folder, its trials and the best hyper-parameters."""

    label: str
    project: Path
    trials: Any
    best: HyperParameters | None
    best_score: float | None


def _project_name(spec: ModelSpec, profile: str, request: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:10]
    return f"{spec.key}-{profile}-{digest}"


def run_search(
    model: str | ModelSpec,
    profile: str | Profile = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike = "_build/outputs/cpu/search",
    seed: int = 0,
    settings: TrainingSettings | None = None,
    trials: int | None = None,
    verbose: str | int = 0,
) -> SearchResult:
    """Run (or resume, or reuse) the Bayesian search of one model.

    Parameters
    ----------
    model : str or ModelSpec
        A label of `mtmri_lib.training.MODEL_SPECS`.
    profile : str or Profile
        Sets the network, the data and the search settings (`training_settings`:
        ``search_trials``, ``search_max_epochs``, ``search_patience``,
        ``search_steps_per_epoch``, ``search_initial_points``).
    data_dir : path or None
        See `mtmri_lib.training.data_sources`.
    output_dir : path
        The notebook's output folder; projects go to `mtmri_lib.training.search_dir`.
    seed : int
        Seeds the Gaussian process and every trial's training (each trial starts from the
        same weights and sees the same corruptions, so trials differ only in their
        hyper-parameters).
    trials : int, optional
        Overrides the profile's number of trials.
    verbose : "auto", 0, 1 or 2
        Keras' display inside each trial (keras-tuner prints each trial's values and score).
    """
    import keras_tuner

    from .training import _datasets

    spec = _spec(model)
    profile = get_profile(profile).name
    settings = settings if settings is not None else training_settings(profile)
    seed = int(seed)
    max_trials = int(trials if trials is not None else settings.search_trials.get(spec.label, 1))
    initial = min(max_trials, int(settings.search_initial_points.get(spec.label, 1)))
    train, validation, _, _, folder = _datasets(
        spec, profile, settings, data_dir, output_dir, seed=seed, data_seed=seed, fidelity="paper"
    )
    config = model_config(profile)
    request = {
        "format": TRAINING_FORMAT,
        "model": spec.label,
        "profile": profile,
        "seed": seed,
        "max_trials": max_trials,
        "initial_points": initial,
        "settings": {
            key: getattr(settings, key)
            for key in (
                "batch_size",
                "validation_slices",
                "search_max_epochs",
                "search_patience",
                "search_steps_per_epoch",
            )
        },
        "data": None if folder is None else str(Path(folder).resolve()),
        "code": _code_digest(),
    }

    def trainer_fit(values: Mapping[str, Any], checkpoint_dir: Path) -> float:
        hyper = hyperparameters_from(values)
        set_global_seed(seed)
        result = fit_network(
            lambda: build_model(config, tasks=spec.tasks, seed=seed),
            train,
            validation,
            hyper=hyper,
            max_epochs=settings.search_max_epochs,
            patience=settings.search_patience,
            steps_per_epoch=settings.search_steps_per_epoch,
            checkpoint_dir=checkpoint_dir,
            verbose=verbose,
            run_eagerly=settings.run_eagerly,
            jit_compile=settings.jit_compile,
        )
        value = result.best_value
        if value is None or result.diverged or not math.isfinite(value):
            return DIVERGED_MSE
        return float(value)

    directory = search_dir(output_dir)
    name = _project_name(spec, profile, request)
    tuner = _tuner_class()(
        trainer_fit=trainer_fit,
        hyperparameters=search_space(spec),
        objective=keras_tuner.Objective(_OBJECTIVE, direction="min"),
        max_trials=max_trials,
        num_initial_points=initial,
        seed=seed,
        directory=str(directory),
        project_name=name,
        overwrite=False,
        max_consecutive_failed_trials=1,
    )
    project = Path(tuner.project_dir)
    (project / "request.json").write_text(json.dumps(request, indent=1))
    tuner.search(verbose=bool(verbose))
    _write_trials(project, tuner.oracle)
    table = search_trials(spec.label, profile, output_dir, project=project)
    best, score = _best(table)
    return SearchResult(spec.label, project, table, best, score)


def run_searches(
    profile: str | Profile = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike = "_build/outputs/cpu/search",
    seed: int = 0,
    models: Sequence[str] | None = None,
    verbose: str | int = 0,
) -> dict[str, SearchResult]:
    """`run_search` for every model the profile searches (``settings.search_models``)."""
    settings = training_settings(profile)
    labels = settings.search_models if models is None else [_spec(m).label for m in models]
    return {
        label: run_search(
            label,
            profile,
            data_dir=data_dir,
            output_dir=output_dir,
            seed=seed,
            settings=settings,
            verbose=verbose,
        )
        for label in labels
    }


def _latest_project(label: str, profile: str, output_dir: str | os.PathLike) -> Path | None:
    spec = _spec(label)
    folder = search_dir(output_dir)
    candidates = [
        p.parent for p in folder.glob(f"{spec.key}-{get_profile(profile).name}-*/{_TRIALS_FILE}")
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p / _TRIALS_FILE).stat().st_mtime)


def search_trials(
    model: str | ModelSpec,
    profile: str | Profile,
    output_dir: str | os.PathLike,
    *,
    project: str | os.PathLike | None = None,
):
    """The trials of a model's search (the latest project), one row per trial in run order.

    Columns: ``trial``, ``status``, ``val_mse`` (the trial's best validation MSE),
    ``best so far`` (the running minimum over completed trials), ``optimizer``,
    ``learning_rate``, ``alpha`` and, for L_C models, one column per kernel weight. Empty if
    the model has not been searched.
    """
    import pandas as pd

    spec = _spec(model)
    project = (
        Path(project) if project is not None else _latest_project(spec.label, profile, output_dir)
    )
    if project is None or not (project / _TRIALS_FILE).exists():
        return pd.DataFrame()
    rows = []
    for entry in json.loads((project / _TRIALS_FILE).read_text()):
        row = {"trial": entry["trial"], "status": entry["status"], "val_mse": entry["score"]}
        row.update(entry["values"])
        rows.append(row)
    table = pd.DataFrame(rows)
    done = table["status"].eq("COMPLETED") & table["val_mse"].notna()
    table["best so far"] = table["val_mse"].where(done).cummin()
    return table


def _best(table) -> tuple[HyperParameters | None, float | None]:
    if table.empty:
        return None, None
    done = table[table["status"].eq("COMPLETED") & table["val_mse"].notna()]
    if done.empty:
        return None, None
    row = done.loc[done["val_mse"].idxmin()]
    return hyperparameters_from(row.dropna().to_dict()), float(row["val_mse"])


def best_hyperparameters(
    model: str | ModelSpec, profile: str | Profile, output_dir: str | os.PathLike
) -> HyperParameters | None:
    """The best completed trial's hyper-parameters of a model's latest search (None: none)."""
    return _best(search_trials(model, profile, output_dir))[0]


#: Rows of Table 2: (row label, key in a trial / the article's record).
TABLE2_ROWS: tuple[tuple[str, str], ...] = (
    ("optimizer", "optimizer"),
    ("learning rate", "learning_rate"),
    ("alpha", "alpha"),
    *((f"delta ({KERNEL_SYMBOLS[name]})", f"delta_{name}") for name in KERNEL_NAMES),
    ("trials", "trials"),
    ("best val MSE", "val_mse"),
)


def _article_value(label: str, key: str) -> str:
    known = ARTICLE_HYPERPARAMETERS[label]
    spec = _spec(label)
    if key == "optimizer":
        return "RMSprop"
    if key == "learning_rate":
        return "unknown"
    if key == "alpha":
        if known["alpha"] is not None:
            return f"{known['alpha']:.2f}"
        low, high = known["alpha_range"]
        return f"unknown ({low}-{high})"
    if key.startswith("delta_"):
        if not spec.convolutional_loss:
            return "*"
        value = known["deltas"][key.removeprefix("delta_")]
        return "unknown" if value is None else f"{value:.2f}"
    if key == "trials":
        return str(known["search_trials"])
    return "unknown"


def _run_value(label: str, key: str, best: Mapping[str, Any] | None, n_trials: int) -> str:
    if best is None:
        return "not searched"
    if key == "trials":
        return str(n_trials)
    if key.startswith("delta_") and not _spec(label).convolutional_loss:
        return "*"
    value = best.get(key)
    if value is None:
        return "-"
    if key == "optimizer":
        return {"adam": "Adam", "rmsprop": "RMSprop"}[value]
    if key == "learning_rate":
        return f"{value:.2e}"
    if key == "val_mse":
        return f"{value:.4f}"
    return f"{value:.2f}"


def table2(
    profile: str | Profile,
    output_dir: str | os.PathLike,
    *,
    models: Sequence[str] = MODEL_LABELS,
):
    """Table 2: the best hyper-parameters of this run's search beside the article's.

    Rows: optimiser, learning rate, alpha, the nine deltas, the number of trials and the best
    validation MSE; columns: (model, ``"article"`` / ``"this run"``). The article's values are
    those FACTS.md lists (all else "unknown", never filled in); "*" marks deltas that do not
    apply (models without L_C, as the article's table marks them); "not searched" marks models
    this profile does not search. The table's ``attrs["caption"]`` names the profile.
    """
    import pandas as pd

    profile = get_profile(profile).name
    columns, data = [], []
    for label in models:
        trials = search_trials(label, profile, output_dir)
        best = None
        if not trials.empty:
            done = trials[trials["status"].eq("COMPLETED") & trials["val_mse"].notna()]
            if not done.empty:
                best = done.loc[done["val_mse"].idxmin()].dropna().to_dict()
        n_trials = 0 if trials.empty else int(trials["status"].eq("COMPLETED").sum())
        columns += [(label, "article"), (label, "this run")]
        data.append([_article_value(label, key) for _, key in TABLE2_ROWS])
        data.append([_run_value(label, key, best, n_trials) for _, key in TABLE2_ROWS])
    table = pd.DataFrame(
        np.array(data, dtype=object).T,
        index=[row for row, _ in TABLE2_ROWS],
        columns=pd.MultiIndex.from_tuples(columns, names=["model", "source"]),
    )
    settings = training_settings(profile)
    table.attrs["caption"] = (
        f"Table 2 of the article beside this run's search (profile {profile!r}: "
        f"{settings.search_max_epochs} epoch(s) of at most "
        f"{settings.search_steps_per_epoch or 'all'} batches per trial"
        + (
            ", the packaged demo data"
            if profile != "paper"
            else ", patience " + str(settings.search_patience)
        )
        + "). The article's table body is not available: values it does not state are "
        "'unknown'. '*': not optimised (no L_C)."
    )
    return table
