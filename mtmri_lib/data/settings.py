"""Data settings that depend on the profile (how many slices, batch size, evaluation-set size).

The data layer's own named defaults, keyed by the profile names; `mtmri_lib.profiles.Profile`
composes one of them (and ``Profile.with_`` changes it), without this layer importing it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .._checks import scale_settings

__all__ = ["DataSettings", "DATA_SETTINGS", "data_settings", "SPLIT_FRACTIONS"]

#: Patient fractions of the article: brain (fastMRI) 70/10/20, pelvic (in-house) 80/20.
SPLIT_FRACTIONS: dict[str, dict[str, float]] = {
    "brain": {"train": 0.7, "validation": 0.1, "test": 0.2},
    "pelvic": {"train": 0.8, "validation": 0.2},
}


@dataclass(frozen=True)
class DataSettings:
    """Data settings of one profile.

    Attributes
    ----------
    image_size : int
        Side of the prepared slices (the profile's ``image_size``).
    max_slices : dict
        Most slices per split (``train``, ``validation``, ``test``); None keeps all. Where a
        split has more, a subset is drawn from the seed (evenly over the volumes' slices).
    eval_slices : int or None
        Slices per fixed evaluation set (drawn from the test split); None: all test slices.
    demo_validation_every : int
        Demo data: every n-th template slice (per orientation) goes to validation.
    demo_validation_gap : int
        Demo data: template slices this close to a validation slice are left out of training
        (neighbouring 1 mm slices are near copies).
    min_foreground : float
        Slices with fewer pixels than this fraction above 5 % of the volume's 99.9th
        percentile are dropped as empty (`informative_slices`).
    distribution_samples : int
        Training samples drawn to show the artefact distribution in the data chapter.
    """

    image_size: int
    max_slices: dict[str, int | None]
    eval_slices: int | None
    demo_validation_every: int = 10
    demo_validation_gap: int = 1
    min_foreground: float = 0.01
    distribution_samples: int = 400

    def with_(self, **changes: Any) -> DataSettings:
        """A copy with some settings changed."""
        return replace(self, **changes)


DATA_SETTINGS: dict[str, DataSettings] = {
    "smoke": DataSettings(
        image_size=32,
        max_slices={"train": 48, "validation": 12, "test": 12},
        eval_slices=6,
        distribution_samples=40,
    ),
    "cpu": DataSettings(
        image_size=64,
        max_slices={"train": None, "validation": None, "test": None},
        eval_slices=None,
    ),
    # The article evaluates on the whole fastMRI test split; stored as float32 that is about
    # 70 GB of evaluation sets at 320 x 320, so the paper profile keeps a documented subset of
    # 2000 slices per setting (11 GB). Set eval_slices=None to store them all.
    "paper": DataSettings(
        image_size=320,
        max_slices={"train": None, "validation": None, "test": None},
        eval_slices=2000,
        distribution_samples=2000,
    ),
}


def data_settings(profile: Any) -> DataSettings:
    """The data settings of a profile: ``profile`` itself if it is a `DataSettings`, those a
    `mtmri_lib.profiles.Profile` composes, or the named ones (an unknown name raises)."""
    return scale_settings(profile, "data", DATA_SETTINGS, DataSettings)
