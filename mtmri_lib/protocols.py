"""What the evaluation, the report and the plotting modules expect of the objects given to them.

Those modules take trained models and evaluation sets, whose classes live where they should
not import them for a type: `mtmri_lib.inference` loads TensorFlow, and the evaluation sets
belong to the data layer. The protocols here describe these objects by what is used of them.
A `Corrector` is a correction method with a name, a version that identifies its weights, the
image size it works at and the slices it takes per call; called on a slice or a stack, it
returns the corrected image or images. A `ResidualModel` is a corrector that is a multi-task
network and also gives every output and each head's residual, as
`mtmri_lib.inference.ModelCorrector` does. `EvaluationSets` are the clean test slices, their
origins and the corrupted sets by name, as `mtmri_lib.data.EvalSets` holds them; each set is
an `EvaluationSet` described by its `EvaluationSetting`.

The attributes are read-only properties, so a plain attribute, a property or a field of a
frozen dataclass satisfies them. Nothing is checked at run time: any object with these
attributes fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

__all__ = [
    "Corrector",
    "ResidualModel",
    "EvaluationSetting",
    "EvaluationSet",
    "EvaluationSets",
]


class Corrector(Protocol):
    """A correction method: ``corrected = corrector(image, **context)``."""

    @property
    def name(self) -> str:
        """The method's label (the article's name of a trained model)."""
        ...

    @property
    def version(self) -> str:
        """Identifies what decides the output (for a model, a digest of its weights)."""
        ...

    @property
    def image_size(self) -> int:
        """Side of the square slices the method takes, in pixels."""
        ...

    @property
    def batch_size(self) -> int:
        """Slices per call."""
        ...

    def __call__(self, image: np.ndarray, **context: Any) -> np.ndarray:
        """The corrected slice (H, W) or stack (n, H, W); ``context`` may be ignored."""
        ...


class ResidualModel(Corrector, Protocol):
    """A trained multi-task model as a corrector, with every output and each head's residual."""

    @property
    def tasks(self) -> tuple[str, ...]:
        """The artefacts the model has a residual head for, in the article's order."""
        ...

    def outputs(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Every output (each residual and ``"image"``) for a slice or a stack."""
        ...

    def residuals(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """The residual of each head for a slice or a stack."""
        ...


class EvaluationSetting(Protocol):
    """How one evaluation set was corrupted."""

    @property
    def name(self) -> str:
        """The set's name."""
        ...

    @property
    def kinds(self) -> tuple[str, ...]:
        """The artefacts applied: one, or two in random order per slice."""
        ...

    @property
    def table(self) -> int:
        """The article's table the set belongs to."""
        ...

    @property
    def label(self) -> str:
        """The severity as the article prints it."""
        ...


class EvaluationSet(Protocol):
    """One evaluation set: the corrupted test slices and what was done to each."""

    @property
    def name(self) -> str:
        """The set's name (that of its setting)."""
        ...

    @property
    def setting(self) -> EvaluationSetting:
        """How the set was corrupted."""
        ...

    @property
    def corrupted(self) -> np.ndarray:
        """The corrupted slices, shape (n, S, S), z-normalised."""
        ...

    @property
    def low_res(self) -> np.ndarray | None:
        """The low-resolution images of a centred mask, or None."""
        ...

    @property
    def params(self) -> Sequence[Any]:
        """Per slice: the parameters of its corruption."""
        ...


class EvaluationSets(Protocol):
    """The evaluation sets of one run: the clean test slices and the corrupted sets by name."""

    @property
    def names(self) -> Sequence[str]:
        """The names of the sets, in the article's order."""
        ...

    @property
    def clean(self) -> np.ndarray:
        """The clean test slices, shape (n, S, S), z-normalised: the metrics' reference."""
        ...

    @property
    def clean_01(self) -> np.ndarray:
        """The same slices in [0, 1], as they were corrupted."""
        ...

    @property
    def slices(self) -> Sequence[Mapping[str, Any]]:
        """Per test slice: where it comes from (``patient_id``, ``volume``, ``slice_index``)."""
        ...

    @property
    def info(self) -> Mapping[str, Any]:
        """What the sets were made from (profile, seed, size, data)."""
        ...

    def __getitem__(self, name: str, /) -> EvaluationSet:
        """The set called ``name``."""
        ...
