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
    subjects : int
        Without a data folder: how many synthetic subjects (`synthetic_subjects`) the run
        makes, split by subject as the article splits patients (70/10/20 brain, 80/20 pelvic).
    slices_per_subject : int or None
        Synthetic subjects: axial slices kept per subject, evenly spaced over its informative
        ones (fastMRI brain volumes hold about 16); None keeps all.
    contrasts : tuple of str or None
        Synthetic subjects: the contrasts drawn (None: T1, T2, PD and FLAIR, mostly T2 and
        FLAIR as in fastMRI brain).
    min_foreground : float
        Slices with fewer pixels than this fraction above 5 % of the volume's 99.9th
        percentile are dropped as empty (`informative_slices`).
    distribution_samples : int
        Training samples drawn to show the artefact distribution in the data chapter.
    """

    image_size: int
    max_slices: dict[str, int | None]
    eval_slices: int | None
    subjects: int = 40
    slices_per_subject: int | None = 16
    contrasts: tuple[str, ...] | None = None
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
        subjects=10,
        slices_per_subject=6,
    ),
    # 40 subjects: 28 train, 4 validation, 8 test (16 slices each). The caps keep the main
    # job within 45 minutes on 2 cores: 320 training slices a epoch (of 448), 64 test slices
    # per evaluation set (8 per test subject on average).
    "cpu": DataSettings(
        image_size=64,
        max_slices={"train": 320, "validation": None, "test": None},
        eval_slices=64,
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
