"""Named run settings: ``smoke`` (tests), ``cpu`` (the default main job), ``paper`` (GPU).

A notebook takes ``profile`` as a papermill parameter and reads everything that depends on
scale from its `Profile`, so the same notebook runs in seconds (``smoke``), in minutes on a
2-core laptop (``cpu``) or at the article's full settings on a GPU machine with real data
(``paper``).

A `Profile` composes the settings objects of the layers below it, each of which keeps its own
named defaults and never imports this module: `mtmri_lib.data.DataSettings` (slices, split
sizes, evaluation-set sizes), `mtmri_lib.models.ModelConfig` (the network),
`mtmri_lib.training.TrainingSettings` (epochs, batch size, seeds, the search) and the book's
own `BookSettings` (time budget, the sizes and draws the chapters show). Every setting lives
in one of them; ``profile.with_(image_size=96)`` changes the slices and the network together,
and a function of a lower layer given the Profile reads the part it composes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from typing import Any

from .data.settings import DATA_SETTINGS, DataSettings
from .models import MODEL_CONFIGS, ModelConfig
from .training.specs import TRAINING_SETTINGS, TrainingSettings

__all__ = ["BookSettings", "BOOK_SETTINGS", "Profile", "PROFILES", "get_profile"]


@dataclass(frozen=True)
class BookSettings:
    """What the book's chapters afford in one profile.

    Attributes
    ----------
    notebook_budget_s : float
        Time budget of one notebook, in seconds; the book runner reports each notebook's
        time against it.
    gallery_size : int
        Side of the slice the artefact and loss chapters show.
    corruption_draws : int
        Random corruptions drawn per variant where the paper-vs-code chapter compares the
        distributions of the text's and the released code's sampling.
    """

    notebook_budget_s: float
    gallery_size: int
    corruption_draws: int

    def with_(self, **changes: Any) -> BookSettings:
        """A copy with some settings changed."""
        return replace(self, **changes)


BOOK_SETTINGS: dict[str, BookSettings] = {
    "smoke": BookSettings(notebook_budget_s=60.0, gallery_size=64, corruption_draws=12),
    "cpu": BookSettings(notebook_budget_s=1200.0, gallery_size=192, corruption_draws=200),
    "paper": BookSettings(notebook_budget_s=24 * 3600.0, gallery_size=320, corruption_draws=1000),
}

_PARTS = ("data", "model", "training", "book")


@dataclass(frozen=True)
class Profile:
    """Everything that depends on the scale of a run, composed from each layer's settings.

    Attributes
    ----------
    name : str
    description : str
    data : DataSettings
    model : ModelConfig
    training : TrainingSettings
    book : BookSettings
    """

    name: str
    description: str
    data: DataSettings
    model: ModelConfig
    training: TrainingSettings
    book: BookSettings

    def __post_init__(self) -> None:
        if self.data.image_size != self.model.image_size:
            raise ValueError(
                f"profile {self.name!r}: the data's slices are {self.data.image_size} pixels "
                f"but the network takes {self.model.image_size}; change both with "
                "Profile.with_(image_size=...)"
            )

    @property
    def image_size(self) -> int:
        """Side of the square slices the data pipeline produces and the network takes."""
        return self.data.image_size

    def with_(self, **changes: Any) -> Profile:
        """A copy with some settings changed, wherever they live.

        A keyword names a field of the Profile (``description``, or a whole settings object
        such as ``training=...``) or a field of one of its settings objects
        (``max_epochs=4``, ``eval_slices=10``, ``gallery_size=96``); ``image_size`` changes
        the data and the network together. A name that no part has, or that two parts
        share, raises.
        """
        own = {key: changes.pop(key) for key in list(changes) if key in ("description", *_PARTS)}
        updated = {part: own.get(part, getattr(self, part)) for part in _PARTS}
        if "image_size" in changes:
            size = changes.pop("image_size")
            updated["data"] = updated["data"].with_(image_size=size)
            updated["model"] = replace(updated["model"], image_size=size)
        for key, value in changes.items():
            owners = [
                part
                for part in _PARTS
                if key in {f.name for f in dataclasses.fields(updated[part])}
            ]
            if not owners:
                raise TypeError(f"no part of a Profile has a setting {key!r}")
            if len(owners) > 1:
                raise TypeError(
                    f"{key!r} is a setting of {' and '.join(owners)}: change it through "
                    f"{owners[0]}=profile.{owners[0]}.with_({key}=...)"
                )
            part = owners[0]
            updated[part] = replace(updated[part], **{key: value})
        return replace(self, description=own.get("description", self.description), **updated)


def _named(name: str, description: str) -> Profile:
    return Profile(
        name=name,
        description=description,
        data=DATA_SETTINGS[name],
        model=MODEL_CONFIGS[name],
        training=TRAINING_SETTINGS[name],
        book=BOOK_SETTINGS[name],
    )


PROFILES: dict[str, Profile] = {
    "smoke": _named("smoke", "tiny: every notebook executes in seconds (the tests)"),
    "cpu": _named("cpu", "default: meaningful results on a 2-core laptop in well under an hour"),
    "paper": _named("paper", "the article's full settings: GPU machines and real data"),
}


def get_profile(profile: str | Profile) -> Profile:
    """Return the named profile (or ``profile`` itself if it is already a Profile); an
    unknown name raises."""
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    return PROFILES[profile]
