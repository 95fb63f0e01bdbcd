"""Named run settings: ``smoke`` (tests), ``cpu`` (the default main job), ``paper`` (GPU).

A notebook takes ``profile`` as a papermill parameter and reads everything that depends on
scale from here, so the same notebook runs in seconds (``smoke``), in minutes on a 2-core
laptop (``cpu``) or at the article's full settings on a GPU machine with real data
(``paper``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Profile", "PROFILES", "get_profile"]


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
        notebook_budget_s=600.0,
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
