"""Named run settings: ``smoke`` (tests), ``cpu`` (the default main job), ``paper`` (GPU).

A notebook takes ``profile`` as a papermill parameter and reads everything that depends on
scale from here, so the same notebook runs in seconds (``smoke``), in minutes on a 2-core
laptop (``cpu``) or at the article's full settings on a GPU machine with real data
(``paper``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Profile", "PROFILES", "get_profile", "profile_overview"]


@dataclass(frozen=True)
class Profile:
    """Settings of one scale of run.

    Attributes
    ----------
    name : str
    description : str
    image_size : int
        Side of the square slices the data pipeline produces and the model takes (pixels;
        a multiple of 32). The article uses 320.
    notebook_budget_s : float
        Time budget of one notebook, in seconds; the book runner reports each notebook's
        time against it.
    gallery_size : int
        Side of the slice shown in the artefact gallery.
    bench_repeats : int
        Repetitions per timing in the benchmarks.
    """

    name: str
    description: str
    image_size: int
    notebook_budget_s: float
    gallery_size: int
    bench_repeats: int

    def with_(self, **changes: Any) -> Profile:
        """A copy with some settings changed (for experiments; the named ones stay fixed)."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="tiny: every notebook executes in seconds (the tests)",
        image_size=32,
        notebook_budget_s=60.0,
        gallery_size=64,
        bench_repeats=3,
    ),
    "cpu": Profile(
        name="cpu",
        description="default: meaningful results on a 2-core laptop in well under an hour",
        image_size=64,
        notebook_budget_s=1200.0,
        gallery_size=192,
        bench_repeats=20,
    ),
    "paper": Profile(
        name="paper",
        description="the article's full settings: GPU machines and real data",
        image_size=320,
        notebook_budget_s=24 * 3600.0,
        gallery_size=320,
        bench_repeats=50,
    ),
}


def get_profile(profile: str | Profile) -> Profile:
    """Return the named profile (or ``profile`` itself if it is already a Profile)."""
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    return PROFILES[profile]


def profile_overview(profiles: tuple[str, ...] = ("smoke", "cpu", "paper")):
    """What each profile runs, gathered from the settings the notebooks read.

    Returns a pandas DataFrame, one column per profile, one row per setting: slice size,
    parameters of the multi-task network, training slices, epochs, patience, batch size,
    seeds of MT and MT+L_C, hyper-parameters used, search trials, evaluation slices per set,
    and the time budget of one notebook. Needs the ``model`` extra (TensorFlow).
    """
    import pandas as pd

    from .data.settings import data_settings
    from .models import count_parameters
    from .training import training_settings

    def count(value: int | None, what: str) -> str:
        return f"all {what}" if value is None else f"{value:,}"

    columns = {}
    for name in profiles:
        profile = get_profile(name)
        data, training = data_settings(profile), training_settings(profile)
        trials = ", ".join(f"{label} {n}" for label, n in training.search_trials.items())
        columns[name] = {
            "slice size (pixels)": f"{profile.image_size} x {profile.image_size}",
            "multi-task network (parameters)": f"{count_parameters(name).total:,}",
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
            "notebook time budget": _duration(profile.notebook_budget_s),
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
