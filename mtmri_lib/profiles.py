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

__all__ = [
    "BookSettings",
    "BOOK_SETTINGS",
    "Profile",
    "PROFILES",
    "get_profile",
    "register_profile",
    "DRY_RUNS",
    "DRY_RUN_NOTE",
    "dry_run_profile",
    "is_dry_run",
    "profile_caption",
]


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
    "cpu": BookSettings(notebook_budget_s=1800.0, gallery_size=192, corruption_draws=200),
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

        A keyword names a field of the Profile (``name``, ``description``, or a whole
        settings object such as ``training=...``) or a field of one of its settings objects
        (``max_epochs=4``, ``eval_slices=10``, ``gallery_size=96``); ``image_size`` changes
        the data and the network together. A name that no part has, or that two parts
        share, raises.
        """
        own = {
            key: changes.pop(key)
            for key in list(changes)
            if key in ("name", "description", *_PARTS)
        }
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
        return replace(
            self,
            name=own.get("name", self.name),
            description=own.get("description", self.description),
            **updated,
        )


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


def register_profile(profile: Profile) -> Profile:
    """Make a derived profile reachable by its name, like the three built in.

    The profile goes into `PROFILES`, and each of its parts into its layer's own table of
    named settings (`mtmri_lib.data.DATA_SETTINGS`, `mtmri_lib.models.MODEL_CONFIGS`,
    `mtmri_lib.training.TRAINING_SETTINGS`, `BOOK_SETTINGS`), so that a notebook given the
    name as its ``profile`` parameter reads the same settings through every layer (those
    layers look names up in their own tables and never import this module). Registering a
    name again with other settings raises; with the same settings it is a no-op. Returns
    ``profile``.
    """
    tables: dict[str, dict[str, Any]] = {
        "data": DATA_SETTINGS,
        "model": MODEL_CONFIGS,
        "training": TRAINING_SETTINGS,
        "book": BOOK_SETTINGS,
    }
    known = PROFILES.get(profile.name)
    if known is not None:
        if known != profile:
            raise ValueError(f"a profile named {profile.name!r} is registered with other settings")
        return known
    clashes = [
        part
        for part, table in tables.items()
        if profile.name in table and table[profile.name] != getattr(profile, part)
    ]
    if clashes:
        raise ValueError(
            f"profile {profile.name!r}: the {' and '.join(clashes)} settings of that name differ"
        )
    for part, table in tables.items():
        table[profile.name] = getattr(profile, part)
    PROFILES[profile.name] = profile
    return profile


#: What a dry run is, in the words the captions of its tables and figures use.
DRY_RUN_NOTE = (
    "a dry run: the paper's shapes and network with tiny counts (a few steps, a handful of "
    "slices), on synthetic subjects; timings and memory, not results"
)


def _paper_dry_run() -> Profile:
    """The ``paper`` profile at its own shapes (320 x 320, the 75.4 M-parameter network for
    all seven models, every model searched) with only the counts shrunk, so that every
    chapter executes on a 2-core CPU in well under an hour.

    Batch 1 (the paper's 4 needs about 11 GB at these shapes; batch 1 leaves room on a 24 GB
    machine shared with other work); two epochs of two steps, so the second epoch's rate is
    free of the first one's tracing; one search trial of one step per model; four
    evaluation slices per setting; 20 corruption draws in the paper-vs-code chapter.
    """
    paper = PROFILES["paper"]
    one_each = dict.fromkeys(paper.training.search_models, 1)
    return paper.with_(
        name="paper-dry",
        description="dry run of the paper profile: its shapes and network, tiny counts",
        training=paper.training.with_(
            max_epochs=2,
            patience=2,
            batch_size=1,
            steps_per_epoch=2,
            validation_slices=2,
            extra_seeds=0,
            search_trials=one_each,
            search_max_epochs=1,
            search_patience=1,
            search_steps_per_epoch=1,
            search_initial_points=one_each,
            workers=1,
        ),
        eval_slices=4,
        max_slices={"train": None, "validation": None, "test": None},
        subjects=10,
        slices_per_subject=4,
        distribution_samples=40,
        notebook_budget_s=900.0,
        corruption_draws=20,
    )


def get_profile(profile: str | Profile) -> Profile:
    """Return the named profile (or ``profile`` itself if it is already a Profile); an
    unknown name raises."""
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    return PROFILES[profile]


#: Each profile that has a dry run, and the registered profile that runs it.
DRY_RUNS: dict[str, str] = {"paper": register_profile(_paper_dry_run()).name}


def dry_run_profile(profile: str | Profile) -> Profile:
    """The dry run of a profile (``mtmri book --profile paper --dry-run``): the registered
    profile with its shapes and tiny counts. A profile without one raises a ValueError
    saying which profiles have one."""
    name = profile if isinstance(profile, str) else profile.name
    if name not in DRY_RUNS:
        raise ValueError(
            f"--dry-run runs a profile at its own shapes with tiny counts; only "
            f"{', '.join(DRY_RUNS)} has one (the smoke and cpu profiles run in full quickly); "
            f"got {name!r}"
        )
    return PROFILES[DRY_RUNS[name]]


def is_dry_run(profile: Any) -> bool:
    """Whether ``profile`` (a name or a Profile) is a registered dry run."""
    name = profile if isinstance(profile, str) else getattr(profile, "name", None)
    return name in DRY_RUNS.values()


def profile_caption(profile: Any) -> str:
    """``"cpu profile"``, or for a dry run ``"paper-dry profile (a dry run: ...)"``: how a
    caption names the profile a table or figure comes from."""
    name = profile if isinstance(profile, str) else getattr(profile, "name", str(profile))
    return f"{name} profile ({DRY_RUN_NOTE})" if is_dry_run(name) else f"{name} profile"
