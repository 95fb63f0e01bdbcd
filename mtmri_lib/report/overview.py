"""The profiles side by side: what each one runs, as the reproduce chapter shows it."""

from __future__ import annotations

import pandas as pd

from ..models import count_parameters
from ..profiles import get_profile

__all__ = ["profile_overview"]


def profile_overview(profiles: tuple[str, ...] = ("smoke", "cpu", "paper")):
    """What each profile runs, gathered from the settings the notebooks read.

    Returns a pandas DataFrame, one column per profile, one row per setting: slice size,
    parameters of the multi-task network, training slices, epochs, patience, batch size,
    seeds of MT and MT+L_C, hyper-parameters used, search trials, evaluation slices per set,
    and the time budget of one notebook. Needs the ``model`` extra (TensorFlow).
    """

    def count(value: int | None, what: str) -> str:
        return f"all {what}" if value is None else f"{value:,}"

    columns = {}
    for name in profiles:
        profile = get_profile(name)
        data, training = profile.data, profile.training
        trials = ", ".join(f"{label} {n}" for label, n in training.search_trials.items())
        columns[name] = {
            "slice size (pixels)": f"{profile.image_size} x {profile.image_size}",
            "multi-task network (parameters)": f"{count_parameters(profile.model).total:,}",
            "training slices": count(data.max_slices.get("train"), "of the training split"),
            "maximum epochs": training.max_epochs,
            "early-stopping patience (epochs)": training.patience,
            "batch size": training.batch_size,
            "seeds of MT and MT+L_C": 1 + training.extra_seeds,
            "hyper-parameters of the trained models": (
                "found by the Bayesian search"
                if training.use_search
                else "the article's where reported, defaults elsewhere (search not used)"
            ),
            "search trials": trials,
            "search trainings (epochs each)": training.search_max_epochs,
            "evaluation slices per set": count(data.eval_slices, "test slices"),
            "notebook time budget": _duration(profile.book.notebook_budget_s),
        }
    frame = pd.DataFrame(columns)
    frame.index.name = "setting"
    return frame


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
