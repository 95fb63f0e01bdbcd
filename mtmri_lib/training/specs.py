"""What each training is given: hyper-parameters and the training settings of a profile.

- `HyperParameters`: optimizer, learning rate, the regulariser's alpha and the nine kernel
  weights of L_C; `ARTICLE_HYPERPARAMETERS` the values Table 2 reports, and
  `default_hyperparameters` those a model trains with when no search ran.
- `TrainingSettings`: epochs, patience, batch size, seeds and the search's budget of one
  profile (`TRAINING_SETTINGS`, by name; a `mtmri_lib.profiles.Profile` composes one).

The seven models themselves (`ModelSpec`, `MODEL_SPECS`) are defined with the network in
`mtmri_lib.models`.
"""

from __future__ import annotations

from .. import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from .._checks import scale_settings
from ..losses import FIDELITIES, KERNEL_NAMES, check_deltas
from ..models import (
    MODEL_LABELS,
    MODEL_SPECS,
    ModelSpec,
    model_spec,
)
from ..store import (
    files_digest,
)

__all__ = [
    "TRAINING_FORMAT",
    "OPTIMIZERS",
    "HyperParameters",
    "ARTICLE_HYPERPARAMETERS",
    "DEFAULT_LEARNING_RATE",
    "UNKNOWN_DELTA",
    "default_hyperparameters",
    "make_optimizer",
    "TrainingSettings",
    "TRAINING_SETTINGS",
    "training_settings",
    "model_code_digest",
]


#: Increase when the way a model is trained changes, so saved models are not reused.
TRAINING_FORMAT = 2


#: The optimisers of the search space (Keras class names by their lower-case key).
OPTIMIZERS: tuple[str, ...] = ("adam", "rmsprop")


@dataclass(frozen=True)
class HyperParameters:
    """The hyper-parameters of Table 2.

    Attributes
    ----------
    optimizer : {"adam", "rmsprop"}
    learning_rate : float
        > 0 (the article searched 10^g, g in [-7, -2]).
    alpha : float
        Weight of the residual regulariser, >= 0 (searched in [0, 1]).
    deltas : dict or None
        Kernel weights of L_C over `mtmri_lib.losses.KERNEL_NAMES` (each >= 0; searched in
        [0, 1]); None: the MSE (models without L_C).
    fidelity : {"paper", "code"}
        Form of the regulariser (see `mtmri_lib.losses.residual_regulariser`).
    """

    optimizer: str = "rmsprop"
    learning_rate: float = 1e-3
    alpha: float = 0.5
    deltas: Mapping[str, float] | None = None
    fidelity: str = "paper"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}"
            )
        rate = float(self.learning_rate)
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"learning_rate must be finite and > 0; got {self.learning_rate!r}")
        object.__setattr__(self, "learning_rate", rate)
        alpha = float(self.alpha)
        if not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be finite and >= 0; got {self.alpha!r}")
        object.__setattr__(self, "alpha", alpha)
        if self.deltas is not None:
            object.__setattr__(self, "deltas", check_deltas(self.deltas))
        if self.fidelity not in FIDELITIES:
            raise ValueError(
                f"fidelity must be one of {', '.join(FIDELITIES)}; got {self.fidelity!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (`from_dict` reads it back)."""
        return {
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "alpha": self.alpha,
            "deltas": None if self.deltas is None else dict(self.deltas),
            "fidelity": self.fidelity,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> HyperParameters:
        return cls(
            **{
                k: values[k]
                for k in ("optimizer", "learning_rate", "alpha", "deltas", "fidelity")
                if k in values
            }
        )

    def with_(self, **changes: Any) -> HyperParameters:
        return dataclasses.replace(self, **changes)


#: What the article reports of Table 2 (FACTS.md "Table 2"); None = not known. The table
#: body is not available: all seven models chose RMSprop; alpha lies between 0.48 and 0.89
#: (MT+L_C 0.87, Pelvis MT+L_C 0.89); delta_E is 0.30 (MT+L_C) and 0.13 (Pelvis MT+L_C).
#: Learning rates, the other alphas and the other deltas are unknown (only qualitative
#: statements, in ``notes``).
ARTICLE_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    label: {
        "optimizer": "rmsprop",
        "learning_rate": None,
        "alpha": {"MT+L_C": 0.87, "Pelvis MT+L_C": 0.89}.get(label),
        "alpha_range": (0.48, 0.89),
        "deltas": (
            {name: None for name in KERNEL_NAMES}
            | {"identity": {"MT+L_C": 0.30, "Pelvis MT+L_C": 0.13}[label]}
            if MODEL_SPECS[label].convolutional_loss
            else None
        ),
        "search_trials": 35 if MODEL_SPECS[label].convolutional_loss else 10,
        "notes": (
            "delta_S3T > delta_S5T, delta_S5R > delta_S3R, delta_L5 >> delta_L3; in each "
            "kernel family one delta dominates"
            + (
                "; delta_PT large (much larger than for the pelvic model)"
                if label == "MT+L_C"
                else ""
            )
            if MODEL_SPECS[label].convolutional_loss
            else ""
        ),
    }
    for label in MODEL_LABELS
}


#: The learning rate of `default_hyperparameters` (the article does not report one; chosen
#: on the ``cpu`` network with a short pilot, see the training chapter).
DEFAULT_LEARNING_RATE = 1e-3


#: Kernel weight used where the article gives no value: the middle of the searched [0, 1].
UNKNOWN_DELTA = 0.5


def default_hyperparameters(model: str | ModelSpec) -> HyperParameters:
    """Hyper-parameters of a model when no search result is used.

    The article's value where it reports one (RMSprop for all; alpha 0.87 / 0.89 and delta_E
    0.30 / 0.13 for the two L_C models); where it reports a range, its middle (alpha of the
    five other models: 0.685, the middle of 0.48-0.89); where it reports nothing, the middle
    of the searched range (the other eight deltas: 0.5), except the learning rate,
    `DEFAULT_LEARNING_RATE`.
    """
    spec = model_spec(model)
    known = ARTICLE_HYPERPARAMETERS[spec.label]
    alpha = known["alpha"] if known["alpha"] is not None else sum(known["alpha_range"]) / 2
    deltas = None
    if spec.convolutional_loss:
        deltas = {
            name: UNKNOWN_DELTA if value is None else value
            for name, value in known["deltas"].items()
        }
    return HyperParameters(
        optimizer=known["optimizer"],
        learning_rate=DEFAULT_LEARNING_RATE,
        alpha=round(alpha, 6),
        deltas=deltas,
    )


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """A fresh Keras optimizer: ``"adam"`` or ``"rmsprop"`` with Keras' other defaults."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")


@dataclass(frozen=True)
class TrainingSettings:
    """How much training a profile affords.

    Attributes
    ----------
    max_epochs : int
        Upper bound of epochs per model (the article gives none; it stopped early only).
    patience : int
        Early stopping: epochs without a better validation MSE before stopping (article: 10).
    batch_size : int
    steps_per_epoch : int or None
        Batches per epoch; None: one pass over the training slices.
    validation_slices : int or None
        Validation slices used (the first ones; None: all).
    extra_seeds : int
        Additional seeds for MT and MT+L_C (seed + 1, seed + 2, ...), to tell a real
        difference from seed noise.
    use_search : bool
        Train with the hyper-parameters the Bayesian search found (where it covered the
        model); False: `default_hyperparameters`.
    search_models : tuple of str
        The models the search covers.
    search_trials : dict
        Trials per searched model (article: 10, and 35 for the L_C models).
    search_max_epochs, search_patience, search_steps_per_epoch
        The short trainings of the search.
    search_initial_points : dict
        Random trials before the Gaussian process takes over, per searched model.
    workers : int
        Threads preparing training batches (``keras.utils.PyDataset``).
    run_eagerly : bool
        Run the training step eagerly: slower per step, but it saves the several seconds
        of tracing each new network costs (the ``smoke`` profile's few steps).
    jit_compile : bool or "auto"
        Compile the steps with XLA. Keras' ``"auto"`` leaves XLA off on CPU-only machines;
        on this project's 2-core CPU, XLA trains the ``cpu`` network about 2.5 times faster
        at the price of a compilation of about half a minute per network.
    """

    max_epochs: int
    patience: int
    batch_size: int
    steps_per_epoch: int | None
    validation_slices: int | None
    extra_seeds: int
    use_search: bool
    search_models: tuple[str, ...]
    search_trials: dict[str, int]
    search_max_epochs: int
    search_patience: int
    search_steps_per_epoch: int | None
    search_initial_points: dict[str, int]
    workers: int = 1
    run_eagerly: bool = False
    jit_compile: bool | str = "auto"

    def with_(self, **changes: Any) -> TrainingSettings:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)


TRAINING_SETTINGS: dict[str, TrainingSettings] = {
    # Seconds: the whole training notebook, seven models of one eager step each.
    "smoke": TrainingSettings(
        max_epochs=1,
        patience=1,
        batch_size=8,
        steps_per_epoch=1,
        validation_slices=8,
        extra_seeds=0,
        use_search=False,
        search_models=("MT", "MT+L_C"),
        search_trials={"MT": 1, "MT+L_C": 1},
        search_max_epochs=1,
        search_patience=1,
        search_steps_per_epoch=1,
        search_initial_points={"MT": 1, "MT+L_C": 1},
        run_eagerly=True,
    ),
    # On 2 CPU cores: about 10 s of XLA compilation per network, then 7-10 s per epoch of
    # the 320 training slices (34-52 images/s on the machine last measured): the seven
    # models and one more seed of MT and MT+L_C, up to 16 epochs each, took 1634 s, the
    # search 212 s. One extra seed, not two: the main job has to stay within 45 minutes.
    "cpu": TrainingSettings(
        max_epochs=16,
        patience=4,
        batch_size=16,
        steps_per_epoch=None,
        validation_slices=None,
        extra_seeds=1,
        use_search=False,
        search_models=("MT", "MT+L_C"),
        search_trials={"MT": 2, "MT+L_C": 3},
        search_max_epochs=2,
        search_patience=2,
        search_steps_per_epoch=8,
        search_initial_points={"MT": 2, "MT+L_C": 2},
        workers=2,
        jit_compile=True,
    ),
    # The article's patience (10) and trial counts (10; 35 for the L_C models); it states no
    # epoch limit (300 is ours) and no batch size (4, the data layer's paper setting).
    "paper": TrainingSettings(
        max_epochs=300,
        patience=10,
        batch_size=4,
        steps_per_epoch=None,
        validation_slices=None,
        extra_seeds=0,
        use_search=True,
        search_models=MODEL_LABELS,
        search_trials={
            label: ARTICLE_HYPERPARAMETERS[label]["search_trials"] for label in MODEL_LABELS
        },
        search_max_epochs=300,
        search_patience=10,
        search_steps_per_epoch=None,
        search_initial_points={
            label: max(2, ARTICLE_HYPERPARAMETERS[label]["search_trials"] // 3)
            for label in MODEL_LABELS
        },
        workers=4,
    ),
}


def training_settings(profile: Any) -> TrainingSettings:
    """The training settings of a profile: ``profile`` itself if it is `TrainingSettings`,
    those a `mtmri_lib.profiles.Profile` composes, or the named ones (an unknown name
    raises)."""
    return scale_settings(profile, "training", TRAINING_SETTINGS, TrainingSettings)


def model_code_digest() -> str:
    """SHA-256 of the code that decides what a trained model is (network, loss, samples):
    part of every training and search request, so a change to it retrains."""
    root = Path(__file__).resolve().parents[1]
    files = [root / name for name in ("models.py", "layers.py", "losses.py", "fourier.py")]
    files += sorted((root / "artefacts").glob("*.py"))
    files += [root / "data" / name for name in ("samples.py", "prepare.py", "pipeline.py")]
    return files_digest(files)
