"""Training the article's seven models: fit with early stopping, checkpoints and resume.

The article (Simko et al. 2023, "Bayesian hyper-parameter search") trains seven networks:
four single-task models (Bias, Subsampling, Motion, Noise), the multi-task model with the
MSE (MT), with the convolutional loss (MT+L_C), and MT+L_C on pelvic data with rigid and
periodic motion (Pelvis MT+L_C). Each training stopped when the validation MSE had not
improved for 10 epochs.

What this module does
---------------------
- `MultiTaskTrainer`: a ``keras.Model`` around a network of `mtmri_lib.models.build_model`
  whose training step minimises `mtmri_lib.losses.training_objective` (only the labelled
  residual enters the reconstruction term; the regulariser covers every head) and reports
  ``loss``, ``reconstruction``, ``regulariser`` and ``mse``: the MSE between the clean
  image and the model's inference output ``"image"`` (all residuals summed), the quantity
  early stopping watches on the validation set (``val_mse``).
- `fit_network`: RMSprop or Adam, early stopping on ``val_mse`` with the best epoch's weights
  restored, a checkpoint after every epoch (network weights, optimizer state, the data
  pipeline's epoch, the early-stopping state and the history, in one file replaced
  atomically) and a CSV history. A run killed at any moment and started again with the
  same checkpoint folder continues after its last completed epoch.
- `distribution_strategy`: ``tf.distribute.MirroredStrategy`` when more than one GPU (or,
  without GPUs, more than one logical CPU) is visible.
- `train_model` / `train_models`: the seven models (and extra seeds of MT and MT+L_C where the
  profile allows) on the profile's data, saved as ``.keras`` files with a JSON sidecar in
  `models_dir`; a saved model whose request (profile, seeds, hyper-parameters, settings, data,
  model code) is unchanged is reused, so a rerun of the training notebook loads rather than
  retrains.
- `model_method` / `load_trained_model` / `trained_model_paths`: the registry the evaluation
  and the ``mtmri correct`` command use.

Seeding: `train_model` calls `mtmri_lib.models.set_global_seed` (the project's one helper
that seeds Python's, numpy's and TensorFlow's global generators) before building the
network, as training entry points must for reproducible runs; library functions that do
not train never touch global random state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split
import keras
import numpy as np
from keras import ops

from .losses import FIDELITIES, KERNEL_NAMES, check_deltas, training_objective
from .models import TASKS, build_model, model_config, set_global_seed
from .profiles import Profile, get_profile
from .store import StoreError, atomic_path, atomic_write, atomic_write_text

__all__ = [
    "ModelSpec",
    "MODEL_SPECS",
    "MODEL_LABELS",
    "HyperParameters",
    "ARTICLE_HYPERPARAMETERS",
    "default_hyperparameters",
    "TrainingSettings",
    "TRAINING_SETTINGS",
    "training_settings",
    "OPTIMIZERS",
    "make_optimizer",
    "MultiTaskTrainer",
    "distribution_strategy",
    "configure_logical_cpus",
    "FitResult",
    "fit_network",
    "read_checkpoint_state",
    "DataSources",
    "data_sources",
    "TrainedModel",
    "train_model",
    "train_models",
    "input_validation_mse",
    "training_hyperparameters",
    "training_summary",
    "models_dir",
    "search_dir",
    "data_cache_dir",
    "model_path",
    "trained_models",
    "trained_model_paths",
    "load_trained_model",
    "read_sidecar",
    "ModelCorrector",
    "model_method",
    "SequentialCorrector",
    "trained_methods",
]

#: Increase when the way a model is trained changes, so saved models are not reused.
TRAINING_FORMAT = 2

# --------------------------------------------------------------------------- the seven models


@dataclass(frozen=True)
class ModelSpec:
    """One of the article's seven models.

    Attributes
    ----------
    label : str
        The article's name (``"MT+L_C"``); the key of `MODEL_SPECS`.
    key : str
        A file-name-safe name (``"mt_lc"``).
    tasks : tuple of str
        The heads, in the order of `mtmri_lib.models.TASKS`.
    convolutional_loss : bool
        Trained with L_C (nine kernel weights searched) instead of the MSE.
    dataset : {"brain", "pelvic"}
        Which data it is trained on.
    artefact_options : dict
        Keywords pinned per artefact in the training samples (the pelvic model's motion is
        ``"mixed"``: rigid or periodic, half and half).
    """

    label: str
    key: str
    tasks: tuple[str, ...]
    convolutional_loss: bool = False
    dataset: str = "brain"
    artefact_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def multitask(self) -> bool:
        return len(self.tasks) > 1


#: The seven models of the article, in its order.
MODEL_SPECS: dict[str, ModelSpec] = {
    spec.label: spec
    for spec in (
        ModelSpec("Bias", "bias", ("bias",)),
        ModelSpec("Subsampling", "subsampling", ("subsampling",)),
        ModelSpec("Motion", "motion", ("motion",)),
        ModelSpec("Noise", "noise", ("noise",)),
        ModelSpec("MT", "mt", TASKS),
        ModelSpec("MT+L_C", "mt_lc", TASKS, convolutional_loss=True),
        ModelSpec(
            "Pelvis MT+L_C",
            "pelvis_mt_lc",
            TASKS,
            convolutional_loss=True,
            dataset="pelvic",
            artefact_options={"motion": {"motion": "mixed"}},
        ),
    )
}

#: The labels in the article's order.
MODEL_LABELS: tuple[str, ...] = tuple(MODEL_SPECS)


def _spec(model: str | ModelSpec) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    for spec in MODEL_SPECS.values():
        if model in (spec.label, spec.key):
            return spec
    raise ValueError(f"model must be one of {', '.join(MODEL_LABELS)}; got {model!r}")


# --------------------------------------------------------------------------- hyper-parameters

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
    spec = _spec(model)
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


# --------------------------------------------------------------------------- settings


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
    # On 2 CPU cores: about 10 s of XLA compilation per network, then 3-6 s per epoch of the
    # 320 demo training slices; the seven models and two more seeds of MT and MT+L_C up to
    # 16 epochs each take about a quarter of an hour, the search about 1.5 minutes.
    "cpu": TrainingSettings(
        max_epochs=16,
        patience=4,
        batch_size=16,
        steps_per_epoch=None,
        validation_slices=None,
        extra_seeds=2,
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


def training_settings(profile: str | Profile) -> TrainingSettings:
    """The training settings of a profile."""
    profile = get_profile(profile)
    return TRAINING_SETTINGS.get(profile.name, TRAINING_SETTINGS["cpu"])


# --------------------------------------------------------------------------- the training step


@keras.saving.register_keras_serializable(package="mtmri")
class MultiTaskTrainer(keras.Model):
    """Trains a network of `mtmri_lib.models.build_model` on the article's objective.

    The network stays a plain functional model (the one that is saved); this wrapper only
    adds the training and validation steps. Each batch is ``(u, {"clean", "label"})`` as
    `mtmri_lib.data.ArtefactDataset` yields it.

    Parameters
    ----------
    network : keras.Model
        Output dict with one residual per task and ``"image"``.
    alpha : float
        Weight of the residual regulariser.
    deltas : dict or None
        Kernel weights of L_C (None: the MSE).
    fidelity : {"paper", "code"}
        Form of the regulariser.

    Notes
    -----
    Metrics (per sample, averaged over the epoch): ``loss`` (the objective), its two terms
    ``reconstruction`` (L(clean, znorm(u + p_y))) and ``regulariser``, and ``mse``, the MSE
    between the clean image and the inference output ``"image"`` = znorm(u + sum of all
    residuals). Under a distribution strategy the loss is divided by the number of replicas
    before differentiation, so the summed replica gradients are those of the global batch.
    """

    METRIC_NAMES = ("loss", "reconstruction", "regulariser", "mse")

    def __init__(
        self,
        network: keras.Model,
        *,
        alpha: float = 0.0,
        deltas: Mapping[str, float] | None = None,
        fidelity: str = "paper",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.network = network
        self.tasks = tuple(task for task in TASKS if task in network.output)
        if not self.tasks or "image" not in network.output:
            raise ValueError("network must return residuals named after tasks and 'image'")
        self.alpha = float(alpha)
        self.deltas = None if deltas is None else check_deltas(deltas)
        self.fidelity = fidelity
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.METRIC_NAMES}

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def call(self, inputs, training: bool = False):
        return self.network(inputs, training=training)

    def _terms(self, data, training: bool) -> dict[str, Any]:
        u, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self.network(u, training=training)
        terms = training_objective(
            outputs,
            u,
            targets["clean"],
            targets["label"],
            deltas=self.deltas,
            alpha=self.alpha,
            tasks=self.tasks,
            fidelity=self.fidelity,
        )
        terms["mse"] = ops.mean(ops.square(targets["clean"] - outputs["image"]))
        return terms

    def _update(self, terms: Mapping[str, Any], batch) -> dict[str, Any]:
        weight = ops.cast(ops.shape(batch)[0], "float32")
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name], sample_weight=weight)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            terms = self._terms(data, training=True)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = terms["loss"] / replicas
        variables = self.network.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        return self._update(terms, keras.utils.unpack_x_y_sample_weight(data)[0])

    def test_step(self, data):
        terms = self._terms(data, training=False)
        return self._update(terms, keras.utils.unpack_x_y_sample_weight(data)[0])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "network": keras.saving.serialize_keras_object(self.network),
            "alpha": self.alpha,
            "deltas": None if self.deltas is None else dict(self.deltas),
            "fidelity": self.fidelity,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiTaskTrainer:
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


# --------------------------------------------------------------------------- devices


def configure_logical_cpus(n: int) -> None:
    """Split the physical CPU into ``n`` logical devices (for testing MirroredStrategy).

    Must run before TensorFlow initialises its devices (before any tensor is made), so call
    it first thing in a fresh process.
    """
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(int(n))]
    )


def distribution_strategy(devices: Sequence[str] | None = None):
    """The strategy to train under: MirroredStrategy over several devices, else the default.

    Parameters
    ----------
    devices : sequence of str, optional
        Device names; None: every visible GPU when there are two or more, else every logical
        CPU when there is no GPU and two or more logical CPUs (see `configure_logical_cpus`).
    """
    import tensorflow as tf

    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) > 1:
            devices = [device.name for device in gpus]
        elif not gpus:
            cpus = tf.config.list_logical_devices("CPU")
            if len(cpus) > 1:
                devices = [device.name for device in cpus]
    if devices is not None and len(devices) > 1:
        return tf.distribute.MirroredStrategy(devices=list(devices))
    return tf.distribute.get_strategy()


# --------------------------------------------------------------------------- checkpoints

_CHECKPOINT = "checkpoint.npz"
_HISTORY = "history.csv"


def _numpy(value: Any) -> np.ndarray:
    """A variable or tensor as a numpy array (TensorFlow's own conversion, without the
    deprecated ``__array__`` path)."""
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def _save_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def _variable_arrays(prefix: str, variables: Sequence[Any]) -> dict[str, np.ndarray]:
    return {f"{prefix}{i:05d}": _numpy(v) for i, v in enumerate(variables)}


def _assign(prefix: str, variables: Sequence[Any], stored: Any, what: str) -> None:
    keys = sorted(k for k in stored.files if k.startswith(prefix))
    if len(keys) != len(variables):
        raise ValueError(
            f"checkpoint holds {len(keys)} {what} variables; the model has {len(variables)}: "
            "it was written by another network or optimizer"
        )
    for key, variable in zip(keys, variables, strict=True):
        value = stored[key]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"checkpoint {what} variable {key} has shape {value.shape}; "
                f"the model's {variable.path} has {tuple(variable.shape)}"
            )
        variable.assign(value)


def read_checkpoint_state(checkpoint_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The training state stored in a checkpoint folder (None if there is none).

    Keys: ``epoch`` (completed epochs), ``history`` (one dict per epoch, with the
    ``data_epoch`` whose corruptions it trained on), ``best_value``, ``best_epoch``, ``wait``,
    ``stopped_early``, ``diverged``, ``optimizer_iterations``, ``seconds`` (training time over
    all runs), ``runs`` (the start epoch of each run: ``[0, 2]`` for a run interrupted after
    its second epoch and resumed).
    """
    path = Path(checkpoint_dir) / _CHECKPOINT
    if not path.exists():
        return None
    with _open_checkpoint(path) as stored:
        return json.loads(bytes(stored["state"]).decode())


@contextlib.contextmanager
def _open_checkpoint(path: Path) -> Iterator[Any]:
    """``np.load`` of a checkpoint file, or a `StoreError` naming it and the way out."""
    remedy = (
        f"delete the folder {path.parent} to train that model from its first epoch "
        "(its other checkpoints are then lost too)"
    )
    try:
        stored = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise StoreError(
            f"{path}: the training checkpoint is corrupt or truncated ({error}); {remedy}"
        ) from None
    try:
        yield _CheckedArrays(stored, path, remedy)
    finally:
        stored.close()


class _CheckedArrays:
    """An opened ``.npz`` whose members, when read, fail with a `StoreError` naming it."""

    def __init__(self, stored: Any, path: Path, remedy: str):
        self._stored, self._path, self._remedy = stored, path, remedy
        self.files = stored.files

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self._stored[key]
        except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise StoreError(
                f"{self._path}: member {key!r} of the training checkpoint is unreadable "
                f"({type(error).__name__}: {error}); {self._remedy}"
            ) from None


def _write_history_csv(path: Path, history: Sequence[Mapping[str, Any]]) -> None:
    import pandas as pd

    atomic_write_text(path, pd.DataFrame(list(history)).to_csv(index=False))


class _Checkpointing(keras.callbacks.Callback):
    """Early stopping, best weights, checkpoint and CSV history after every epoch.

    Everything needed to continue (network weights, optimizer variables, the early-stopping
    counters, the history, the epoch reached) goes into one ``.npz`` file, replaced
    atomically, so a process killed at any moment leaves either the previous or the new
    checkpoint, never a mixture. The best epoch's network weights go to their own file,
    written before the checkpoint that refers to them.
    """

    def __init__(
        self,
        trainer: MultiTaskTrainer,
        state: dict[str, Any],
        *,
        folder: Path | None,
        monitor: str,
        patience: int,
        batch_images: Callable[[], int],
        data_epoch: Callable[[], int],
    ):
        super().__init__()
        self.trainer = trainer
        self.state = state
        self.folder = folder
        self.monitor = monitor
        self.patience = int(patience)
        self.batch_images = batch_images
        self.data_epoch = data_epoch
        self._data_epoch = 0
        self.best_weights: list[np.ndarray] | None = None
        self._epoch_start = 0.0
        self._train_seconds = 0.0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._train_seconds = 0.0
        self._data_epoch = int(self.data_epoch())

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._epoch_start and not self._train_seconds:
            self._train_seconds = time.perf_counter() - self._epoch_start

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        seconds = time.perf_counter() - self._epoch_start
        train_seconds = self._train_seconds or seconds
        row = {"epoch": epoch + 1}
        row.update({key: float(value) for key, value in (logs or {}).items()})
        row["seconds"] = seconds
        row["train_images_per_s"] = self.batch_images() / train_seconds if train_seconds else None
        row["data_epoch"] = self._data_epoch
        state = self.state
        value = row.get(self.monitor, row.get(self.monitor.removeprefix("val_")))
        improved = False
        if value is None or not math.isfinite(value):
            state["diverged"] = True
            self.model.stop_training = True
        elif state["best_value"] is None or value < state["best_value"]:
            state["best_value"], state["best_epoch"], state["wait"] = value, epoch + 1, 0
            improved = True
        else:
            state["wait"] += 1
            if state["wait"] >= self.patience:
                state["stopped_early"] = True
                self.model.stop_training = True
        state["epoch"] = epoch + 1
        state["optimizer_iterations"] = int(_numpy(self.trainer.optimizer.iterations))
        state["seconds"] += seconds
        state["history"].append(row)
        if improved:
            self.best_weights = [np.array(w) for w in self.trainer.network.get_weights()]
        if self.folder is None:
            return
        if improved:
            best = f"best-epoch{epoch + 1:05d}.npz"
            _save_arrays(self.folder / best, _variable_arrays("w", self.trainer.network.weights))
            state["best_file"] = best
        arrays = _variable_arrays("w", self.trainer.network.weights)
        arrays.update(_variable_arrays("o", self.trainer.optimizer.variables))
        arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
        _save_arrays(self.folder / _CHECKPOINT, arrays)
        _write_history_csv(self.folder / _HISTORY, state["history"])
        for stale in self.folder.glob("best-epoch*.npz"):
            if stale.name != state.get("best_file"):
                stale.unlink(missing_ok=True)


class _Batches(keras.utils.PyDataset):
    """The first ``steps`` batches of a dataset as an epoch (same epoch bookkeeping)."""

    def __init__(self, dataset: Any, steps: int | None):
        super().__init__(
            workers=dataset.workers,
            use_multiprocessing=dataset.use_multiprocessing,
            max_queue_size=dataset.max_queue_size,
        )
        self.dataset = dataset
        self.steps = len(dataset) if steps is None else min(int(steps), len(dataset))

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        return self.dataset[index]

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def on_epoch_begin(self) -> None:
        self.dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.dataset.on_epoch_end()


@dataclass
class FitResult:
    """What `fit_network` returns.

    Attributes
    ----------
    network : keras.Model
        The network with the best epoch's weights (lowest monitored value).
    history : pandas.DataFrame
        One row per completed epoch (over all runs): ``epoch`` (from 1), the training
        metrics, the ``val_`` ones, ``seconds`` and ``train_images_per_s``.
    best_epoch : int or None
    best_value : float or None
    epochs : int
        Completed epochs.
    stopped_early, diverged : bool
    resumed_from : int
        The epoch this run started from (0: a fresh run).
    seconds : float
        Wall time of all epochs over all runs.
    replicas : int
        Devices the batches were split over.
    """

    network: keras.Model
    history: Any
    best_epoch: int | None
    best_value: float | None
    epochs: int
    stopped_early: bool
    diverged: bool
    resumed_from: int
    seconds: float
    replicas: int

    @property
    def images_per_second(self) -> float | None:
        """Median training throughput over the epochs (training part, images per second)."""
        if self.history is None or "train_images_per_s" not in self.history:
            return None
        values = self.history["train_images_per_s"].dropna()
        return float(values.median()) if len(values) else None


def fit_network(
    build: Callable[[], keras.Model],
    train: Any,
    validation: Any | None,
    *,
    hyper: HyperParameters,
    max_epochs: int,
    patience: int,
    steps_per_epoch: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    strategy: Any = None,
    monitor: str = "val_mse",
    verbose: str | int = "auto",
    callbacks: Iterable[keras.callbacks.Callback] = (),
    run_eagerly: bool = False,
    jit_compile: bool | str = "auto",
) -> FitResult:
    """Train a network with early stopping, resuming from ``checkpoint_dir`` if it holds a run.

    Parameters
    ----------
    build : callable
        Returns a fresh network (`mtmri_lib.models.build_model`); called inside the
        distribution strategy's scope.
    train, validation : ArtefactDataset
        Training batches (new corruptions each epoch) and fixed validation batches. The
        training dataset's epoch is set to the epoch training resumes from.
    hyper : HyperParameters
    max_epochs, patience : int
        Stop after ``max_epochs`` epochs, or after ``patience`` epochs without a lower
        ``monitor`` (the best epoch's weights are restored).
    steps_per_epoch : int or None
        Batches per epoch (the first ones of each epoch); None: all.
    checkpoint_dir : path or None
        Where the checkpoint and ``history.csv`` are written after every epoch; None: no
        checkpoints.
    strategy : tf.distribute.Strategy or None
        None: `distribution_strategy`.
    monitor : str
        The logged value early stopping minimises (``val_mse``; ``mse`` without validation).
    verbose : "auto", 0, 1 or 2
        Keras' progress display (2: one line per epoch, best in notebooks).
    callbacks : iterable
        More Keras callbacks.
    run_eagerly : bool
        Keras' eager mode (no tracing; for tiny runs).
    jit_compile : bool or "auto"
        XLA compilation of the training and validation steps (Keras' ``compile`` argument).
    """
    import pandas as pd

    if int(max_epochs) < 1 or int(patience) < 1:
        raise ValueError(f"max_epochs and patience must be >= 1; got {max_epochs}, {patience}")
    strategy = distribution_strategy() if strategy is None else strategy
    folder = None if checkpoint_dir is None else Path(checkpoint_dir)
    if validation is None and monitor.startswith("val_"):
        monitor = monitor.removeprefix("val_")
    with strategy.scope():
        network = build()
        trainer = MultiTaskTrainer(
            network, alpha=hyper.alpha, deltas=hyper.deltas, fidelity=hyper.fidelity
        )
        trainer.compile(
            optimizer=make_optimizer(hyper.optimizer, hyper.learning_rate),
            run_eagerly=bool(run_eagerly),
            # Keras leaves XLA off under tf.distribute; so do we.
            jit_compile=False
            if run_eagerly
            else ("auto" if strategy.num_replicas_in_sync > 1 else jit_compile),
        )
        trainer.optimizer.build(network.trainable_variables)
    state: dict[str, Any] = {
        "epoch": 0,
        "history": [],
        "best_value": None,
        "best_epoch": None,
        "best_file": None,
        "wait": 0,
        "stopped_early": False,
        "diverged": False,
        "seconds": 0.0,
        "runs": [],
    }
    best_weights = None
    if folder is not None and (folder / _CHECKPOINT).exists():
        with _open_checkpoint(folder / _CHECKPOINT) as stored:
            state = json.loads(bytes(stored["state"]).decode())
            _assign("w", network.weights, stored, "network")
            _assign("o", trainer.optimizer.variables, stored, "optimizer")
        if state.get("best_file") and (folder / state["best_file"]).exists():
            with _open_checkpoint(folder / state["best_file"]) as stored:
                best_weights = [stored[k] for k in sorted(stored.files)]
    start = int(state["epoch"])
    finished = state["stopped_early"] or state["diverged"] or start >= int(max_epochs)
    train = _Batches(train, steps_per_epoch)
    checkpointing = _Checkpointing(
        trainer,
        state,
        folder=folder,
        monitor=monitor,
        patience=patience,
        batch_images=lambda: _epoch_images(train),
        data_epoch=lambda: train.dataset.epoch,
    )
    if finished:
        if verbose:
            print(f"{folder}: training already finished after epoch {start}; not resumed")
    else:
        if verbose and start:
            print(f"{folder}: resuming after epoch {start} of at most {max_epochs}")
        state["runs"].append(start)
        train.set_epoch(start)
        trainer.fit(
            train,
            validation_data=validation,
            epochs=int(max_epochs),
            initial_epoch=start,
            shuffle=False,
            verbose=verbose,
            callbacks=[checkpointing, *callbacks],
        )
        if checkpointing.best_weights is not None:
            best_weights = checkpointing.best_weights
    if best_weights is not None:
        network.set_weights(best_weights)
    history = pd.DataFrame(state["history"])
    return FitResult(
        network=network,
        history=history,
        best_epoch=state["best_epoch"],
        best_value=state["best_value"],
        epochs=int(state["epoch"]),
        stopped_early=bool(state["stopped_early"]),
        diverged=bool(state["diverged"]),
        resumed_from=start,
        seconds=float(state["seconds"]),
        replicas=int(strategy.num_replicas_in_sync),
    )


def _epoch_images(batches: _Batches) -> int:
    """Training images in one epoch of ``batches``."""
    generator = batches.dataset.generator
    n = len(generator.clean)
    full = batches.steps * generator.batch_size
    if batches.steps < generator.n_batches:
        return full
    return n if not generator.drop_last else generator.n_batches * generator.batch_size


# --------------------------------------------------------------------------- where things go


def models_dir(output_dir: str | os.PathLike) -> Path:
    """The folder of the trained models of a book run.

    The book runner gives each notebook ``output_dir = <build>/outputs/<profile>/<notebook>``;
    models go to the sibling ``<build>/outputs/<profile>/models``, where every notebook of the
    same run finds them (file names carry the profile too).
    """
    return Path(output_dir).parent / "models"


def search_dir(output_dir: str | os.PathLike) -> Path:
    """The folder of the Bayesian search's projects and results (sibling of `models_dir`)."""
    return Path(output_dir).parent / "search"


def data_cache_dir(output_dir: str | os.PathLike) -> Path:
    """Where real data's split manifest and prepared slices are kept
    (`mtmri_lib.data.shared_data_dir`)."""
    from .data import shared_data_dir

    return shared_data_dir(output_dir)


def model_path(
    output_dir: str | os.PathLike, model: str | ModelSpec, profile: str, seed: int
) -> Path:
    """The ``.keras`` file of one trained model (its JSON sidecar: same name, ``.json``)."""
    spec = _spec(model)
    return models_dir(output_dir) / f"{spec.key}-{get_profile(profile).name}-seed{int(seed)}.keras"


@dataclass(frozen=True)
class DataSources:
    """The data folders of a run: None means the packaged demo volumes."""

    brain: Path | None
    pelvic: Path | None

    def folder(self, dataset: str) -> Path | None:
        return self.brain if dataset == "brain" else self.pelvic

    def describe(self, dataset: str) -> str:
        folder = self.folder(dataset)
        if folder is not None:
            return f"{dataset} volumes in {folder}"
        if dataset == "pelvic":
            return (
                "packaged demo volumes (the MNI152 brain template), standing in for the pelvic "
                "data, which is not available here"
            )
        return "packaged demo volumes (the MNI152 brain template)"


def data_sources(data_dir: str | os.PathLike | None) -> DataSources:
    """Which folders the brain and the pelvic models train on.

    ``None``: both on the packaged demo volumes (the pelvic model so labelled). A folder with a
    ``brain`` and/or ``pelvic`` subfolder: those (a missing one falls back to the demo
    volumes). Any other folder: the brain data; the pelvic model then trains on the demo
    volumes, labelled as such.
    """
    if data_dir is None:
        return DataSources(None, None)
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such data folder")
    brain, pelvic = folder / "brain", folder / "pelvic"
    if brain.is_dir() or pelvic.is_dir():
        return DataSources(brain if brain.is_dir() else None, pelvic if pelvic.is_dir() else None)
    return DataSources(folder, None)


# --------------------------------------------------------------------------- training a model


@dataclass
class TrainedModel:
    """A trained model on disk: its file, its sidecar record and its history.

    Attributes
    ----------
    label : str
        The article's name.
    seed : int
    path : Path
        The ``.keras`` file.
    record : dict
        The JSON sidecar (profile, seeds, hyper-parameters, epochs, data, timing).
    trained_now : bool
        Trained (or resumed) in this call; False: reused from disk.
    """

    label: str
    seed: int
    path: Path
    record: dict[str, Any]
    trained_now: bool = False

    @property
    def history(self):
        """The per-epoch history (pandas DataFrame) from the sidecar."""
        import pandas as pd

        return pd.DataFrame(self.record.get("history", []))

    def load(self) -> keras.Model:
        return load_trained_model(self.path)


def _code_digest() -> str:
    """SHA-256 of the code that decides what a trained model is (network, loss, samples)."""
    root = Path(__file__).resolve().parent
    files = [root / name for name in ("models.py", "layers.py", "losses.py", "fourier.py")]
    files += sorted((root / "artefacts").glob("*.py"))
    files += [root / "data" / name for name in ("samples.py", "prepare.py", "pipeline.py")]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import tensorflow as tf

    from . import __version__

    return {"mtmri": __version__, "tensorflow": tf.__version__, "keras": keras.__version__}


def read_sidecar(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON record beside a ``.keras`` file (None if there is none)."""
    sidecar = Path(path).with_suffix(".json")
    if not sidecar.exists():
        return None
    return json.loads(sidecar.read_text())


def _resolve_hyperparameters(
    spec: ModelSpec, profile: str, settings: TrainingSettings, output_dir: Path, hyper
) -> tuple[HyperParameters, str]:
    if hyper is not None:
        if not isinstance(hyper, HyperParameters):
            hyper = HyperParameters.from_dict(hyper)
        return hyper, "given"
    if settings.use_search and spec.label in settings.search_models:
        from .search import best_hyperparameters

        found = best_hyperparameters(spec.label, profile, output_dir)
        if found is not None:
            return found, "Bayesian search"
    return default_hyperparameters(spec), "defaults (article values where known)"


def training_hyperparameters(
    profile: str | Profile,
    output_dir: str | os.PathLike,
    *,
    models: Sequence[str] = MODEL_LABELS,
    settings: TrainingSettings | None = None,
) -> dict[str, tuple[HyperParameters, str]]:
    """The hyper-parameters each model trains with in this profile, and where they come from
    (the Bayesian search, where the profile uses it and it covered the model, else
    `default_hyperparameters`)."""
    profile = get_profile(profile).name
    settings = settings if settings is not None else training_settings(profile)
    return {
        _spec(m).label: _resolve_hyperparameters(
            _spec(m), profile, settings, Path(output_dir), None
        )
        for m in models
    }


def _fingerprint(slice_set: Any) -> str | None:
    # Hashing every pixel is cheap for the demo and cpu data; for paper-scale data (tens
    # of GB) the split manifest identifies the data instead.
    if len(slice_set) * slice_set.size**2 > 50_000_000:
        return None
    return slice_set.fingerprint()


_SLICE_SETS: dict[tuple, Any] = {}


def _slice_sets(profile: str, folder: Path | None, data_seed: int, dataset: str, output_dir: Path):
    """Train and validation slices, kept in memory for the other models of the same run."""
    from .data import load_slice_sets

    key = (profile, None if folder is None else str(folder.resolve()), data_seed, dataset)
    if key not in _SLICE_SETS:
        if len(_SLICE_SETS) >= 4:
            _SLICE_SETS.clear()
        _SLICE_SETS[key] = load_slice_sets(
            profile,
            data_dir=folder,
            seed=data_seed,
            output_dir=None if folder is None else data_cache_dir(output_dir),
            dataset=dataset,
            splits=("train", "validation"),
        )
    return _SLICE_SETS[key]


def _datasets(
    spec: ModelSpec,
    profile: str,
    settings: TrainingSettings,
    data_dir: str | os.PathLike | None,
    output_dir: str | os.PathLike,
    *,
    seed: int,
    data_seed: int,
    fidelity: str,
):
    """The training and validation datasets of a model (and their slice sets and folder).

    Training corruptions follow ``seed``; the validation corruptions depend on ``data_seed``
    only, so every model seed (and every search trial) is validated on the same images.
    """
    from .data.pipeline import ArtefactDataset

    folder = data_sources(data_dir).folder(spec.dataset)
    sets = _slice_sets(profile, folder, int(data_seed), spec.dataset, Path(output_dir))
    train_set, validation_set = sets["train"], sets.get("validation")
    if validation_set is not None and settings.validation_slices is not None:
        validation_set = validation_set.subset(
            range(min(len(validation_set), settings.validation_slices))
        )
    if validation_set is not None and len(validation_set) == 0:
        validation_set = None
    common = {
        "tasks": spec.tasks,
        "fidelity": fidelity,
        "artefact_options": spec.artefact_options or None,
    }
    # Full batches only: every batch shape costs a compilation of its own (tens of seconds
    # with XLA on a CPU). Training leaves out the last, incomplete batch of each epoch (other
    # slices each epoch); validation takes a batch size that divides its slice count.
    train = ArtefactDataset(
        train_set.images,
        seed=int(seed),
        workers=settings.workers,
        batch_size=settings.batch_size,
        drop_last=len(train_set) >= settings.batch_size,
        **common,
    )
    validation = None
    if validation_set is not None:
        validation = ArtefactDataset(
            validation_set.images,
            seed=int(data_seed) + 1_000_003,
            shuffle=False,
            vary_with_epoch=False,
            batch_size=_validation_batch(len(validation_set), settings.batch_size),
            **common,
        )
    return train, validation, train_set, validation_set, folder


def _validation_batch(n: int, batch_size: int) -> int:
    """A batch size near ``batch_size`` (between half and twice it) that divides ``n``, so
    every validation batch has one shape; ``batch_size`` itself if there is none."""
    candidates = [b for b in range(max(1, batch_size // 2), 2 * batch_size + 1) if n % b == 0]
    if not candidates:
        return batch_size
    return min(candidates, key=lambda b: (abs(b - batch_size), -b))


def reference_mse(validation: Any) -> float | None:
    """The validation MSE of the corrupted input itself (the identity "correction")."""
    if validation is None:
        return None
    total, count = 0.0, 0
    for index in range(len(validation)):
        u, targets = validation[index]
        total += float(np.sum((targets["clean"] - u) ** 2) / u[0].size)
        count += len(u)
    return total / count


def input_validation_mse(
    model: str | ModelSpec,
    profile: str | Profile = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike = "_build/outputs/cpu/training",
    seed: int = 0,
    settings: TrainingSettings | None = None,
) -> float | None:
    """The validation MSE of the corrupted input itself, on a model's validation samples.

    What a model that changes nothing would score: the scale against which the validation
    MSE of trained models and search trials reads (``seed`` is the data seed).
    """
    spec = _spec(model)
    profile = get_profile(profile).name
    settings = settings if settings is not None else training_settings(profile)
    _, validation, *_ = _datasets(
        spec, profile, settings, data_dir, output_dir, seed=seed, data_seed=seed, fidelity="paper"
    )
    return reference_mse(validation)


def train_model(
    model: str | ModelSpec,
    profile: str | Profile = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike = "_build/outputs/cpu/training",
    seed: int = 0,
    data_seed: int | None = None,
    hyper: HyperParameters | Mapping[str, Any] | None = None,
    settings: TrainingSettings | None = None,
    force: bool = False,
    verbose: str | int = "auto",
    strategy: Any = None,
) -> TrainedModel:
    """Train one of the seven models (or reuse it), save it as ``.keras`` with a JSON sidecar.

    Parameters
    ----------
    model : str or ModelSpec
        A label of `MODEL_SPECS` (``"MT+L_C"``) or its key (``"mt_lc"``).
    profile : str or Profile
        Sets the network (`mtmri_lib.models.MODEL_CONFIGS`), the data size and the training
        settings (`training_settings`).
    data_dir : path or None
        See `data_sources`; None: the packaged demo volumes.
    output_dir : path
        The notebook's output folder; the model goes to `models_dir` (``output_dir``'s
        sibling ``models``), the checkpoints to ``models/checkpoints``.
    seed : int
        Seeds the weights, the order of the training slices and the training corruptions
        (through `mtmri_lib.models.set_global_seed`, which seeds the global generators).
    data_seed : int or None
        Seeds the data split, subsets and the fixed validation corruptions (default ``seed``);
        models of several seeds share it, so they are validated on the same images.
    hyper : HyperParameters, dict or None
        None: the search's best where ``settings.use_search``, else `default_hyperparameters`.
    settings : TrainingSettings, optional
        Overrides the profile's.
    force : bool
        Retrain (from scratch) even if a matching model or checkpoint exists.
    verbose : "auto", 0, 1 or 2
        Keras' progress display.
    strategy : tf.distribute.Strategy, optional

    Returns
    -------
    TrainedModel
        A model whose request (profile, seeds, hyper-parameters, settings, data folder and
        the network / loss / sample code) matches a saved one is loaded from disk, not
        retrained; an interrupted training resumes from its last completed epoch.
    """
    import shutil

    spec = _spec(model)
    profile = get_profile(profile).name
    settings = settings if settings is not None else training_settings(profile)
    seed = int(seed)
    data_seed = seed if data_seed is None else int(data_seed)
    output_dir = Path(output_dir)
    hyper, hyper_source = _resolve_hyperparameters(spec, profile, settings, output_dir, hyper)
    sources = data_sources(data_dir)
    folder = sources.folder(spec.dataset)
    config = model_config(profile)
    request = {
        "format": TRAINING_FORMAT,
        "profile": profile,
        "model": spec.label,
        "tasks": list(spec.tasks),
        "artefact_options": {k: dict(v) for k, v in spec.artefact_options.items()},
        "seed": seed,
        "data_seed": data_seed,
        "hyperparameters": hyper.to_dict(),
        "settings": {
            key: getattr(settings, key)
            for key in (
                "max_epochs",
                "patience",
                "batch_size",
                "steps_per_epoch",
                "validation_slices",
            )
        },
        "model_config": dataclasses.asdict(config),
        "data": {
            "dataset": spec.dataset,
            "folder": None if folder is None else str(folder.resolve()),
        },
        "code": _code_digest(),
    }
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:12]
    path = model_path(output_dir, spec, profile, seed)
    record = read_sidecar(path)
    if (
        not force
        and path.exists()
        and record is not None
        and record.get("request_digest") == digest
    ):
        return TrainedModel(spec.label, seed, path, record, trained_now=False)

    train, validation, train_set, validation_set, _ = _datasets(
        spec,
        profile,
        settings,
        data_dir,
        output_dir,
        seed=seed,
        data_seed=data_seed,
        fidelity=hyper.fidelity,
    )
    checkpoint_dir = models_dir(output_dir) / "checkpoints" / f"{path.stem}-{digest}"
    if force and checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)
    set_global_seed(seed)
    result = fit_network(
        lambda: build_model(config, tasks=spec.tasks, seed=seed),
        train,
        validation,
        hyper=hyper,
        max_epochs=settings.max_epochs,
        patience=settings.patience,
        steps_per_epoch=settings.steps_per_epoch,
        checkpoint_dir=checkpoint_dir,
        strategy=strategy,
        verbose=verbose,
        run_eagerly=settings.run_eagerly,
        jit_compile=settings.jit_compile,
    )
    record = {
        "model": spec.label,
        "key": spec.key,
        "tasks": list(spec.tasks),
        "profile": profile,
        "seed": seed,
        "data_seed": data_seed,
        "hyperparameters": hyper.to_dict(),
        "hyperparameters_source": hyper_source,
        "settings": request["settings"],
        "model_config": request["model_config"],
        "image_size": config.image_size,
        "parameters": int(result.network.count_params()),
        "data": {
            "dataset": spec.dataset,
            "source": sources.describe(spec.dataset),
            "folder": request["data"]["folder"],
            "artefact_options": request["artefact_options"],
            "train": train_set.summary(),
            "validation": None if validation_set is None else validation_set.summary(),
            "train_fingerprint": _fingerprint(train_set),
        },
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "best_val_mse": result.best_value,
        "stopped_early": result.stopped_early,
        "diverged": result.diverged,
        "runs": len(read_checkpoint_state(checkpoint_dir)["runs"]),
        "reference_val_mse": reference_mse(validation),
        "train_seconds": result.seconds,
        "images_per_second": result.images_per_second,
        "replicas": result.replicas,
        "history": result.history.to_dict(orient="records"),
        "versions": _versions(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "request_digest": digest,
    }
    with atomic_path(path) as temporary:
        result.network.save(temporary)
    text = json.dumps(record, indent=1, default=_json_default)
    atomic_write_text(path.with_suffix(".json"), text)
    # The saved model and its sidecar replace the checkpoints (at paper scale, about a GB
    # each); those of an earlier request for the same file go too.
    for folder in checkpoint_dir.parent.glob(f"{path.stem}-*"):
        shutil.rmtree(folder, ignore_errors=True)
    return TrainedModel(spec.label, seed, path, json.loads(text), trained_now=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _run_plan(
    settings: TrainingSettings, seed: int, models: Sequence[str]
) -> list[tuple[str, int]]:
    """(label, seed) of every run: the seven models first, then the extra seeds."""
    labels = [_spec(m).label for m in models]
    plan = [(label, seed) for label in labels]
    for extra in range(1, settings.extra_seeds + 1):
        plan += [(label, seed + extra) for label in labels if label in ("MT", "MT+L_C")]
    return plan


def train_models(
    profile: str | Profile = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike = "_build/outputs/cpu/training",
    seed: int = 0,
    models: Sequence[str] = MODEL_LABELS,
    settings: TrainingSettings | None = None,
    force: bool = False,
    verbose: str | int = 2,
) -> list[TrainedModel]:
    """Train (or reuse) the seven models, then the extra seeds of MT and MT+L_C.

    Every run shares ``data_seed = seed``; the extra runs use seeds ``seed + 1``, ... (as many
    as ``settings.extra_seeds``). See `train_model` for the other arguments.
    """
    settings = settings if settings is not None else training_settings(profile)
    trained = []
    for label, run_seed in _run_plan(settings, int(seed), models):
        if verbose:
            print(f"== {label}, seed {run_seed}")
        trained.append(
            train_model(
                label,
                profile,
                data_dir=data_dir,
                output_dir=output_dir,
                seed=run_seed,
                data_seed=seed,
                settings=settings,
                force=force,
                verbose=verbose,
            )
        )
        if verbose and not trained[-1].trained_now:
            print(f"   reused {trained[-1].path}")
    return trained


def training_summary(trained: Sequence[TrainedModel]):
    """One row per trained model: epochs, best validation MSE, time, throughput, settings."""
    import pandas as pd

    rows = []
    for model in trained:
        record = model.record
        hyper = record["hyperparameters"]
        rows.append(
            {
                "model": model.label,
                "seed": model.seed,
                "epochs": record["epochs"],
                "best epoch": record["best_epoch"],
                "stopped early": record["stopped_early"],
                "best val MSE": record["best_val_mse"],
                "input val MSE": record.get("reference_val_mse"),
                "training time (s)": record["train_seconds"],
                "images/s": record["images_per_second"],
                "runs (1 = not interrupted)": record["runs"],
                "optimizer": hyper["optimizer"],
                "learning rate": hyper["learning_rate"],
                "alpha": hyper["alpha"],
                "loss": "L_C" if hyper["deltas"] is not None else "MSE",
                "hyper-parameters": record["hyperparameters_source"],
                "data": record["data"]["source"],
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- registry


def trained_models(profile: str | Profile, output_dir: str | os.PathLike) -> list[TrainedModel]:
    """Every trained model of ``profile`` in `models_dir` (``output_dir``'s sibling), in the
    article's order, then by seed."""
    profile = get_profile(profile).name
    folder = models_dir(output_dir)
    found = []
    for path in sorted(folder.glob(f"*-{profile}-seed*.keras")):
        record = read_sidecar(path)
        if (
            record is None
            or record.get("profile") != profile
            or record.get("model") not in MODEL_SPECS
        ):
            continue
        found.append(TrainedModel(record["model"], int(record["seed"]), path, record))
    return sorted(found, key=lambda m: (MODEL_LABELS.index(m.label), m.seed))


def trained_model_paths(
    profile: str | Profile,
    output_dir: str | os.PathLike,
    *,
    all_seeds: bool = False,
    seed: int | None = None,
) -> dict[str, Any]:
    """The ``.keras`` files of the trained models, keyed by the article's labels.

    Parameters
    ----------
    profile : str or Profile
    output_dir : path
        Any notebook's output folder of the same book run (``<build>/outputs/<profile>/<nb>``).
    all_seeds : bool
        False: ``{label: path}`` of the main seed; True: ``{label: [paths, by seed]}``.
    seed : int or None
        The main seed (default: the lowest seed found per model).

    Models not trained yet are absent (the evaluation tables show them as not run).
    """
    result: dict[str, Any] = {}
    for model in trained_models(profile, output_dir):
        if all_seeds:
            result.setdefault(model.label, []).append(model.path)
        elif model.label not in result and (seed is None or model.seed == int(seed)):
            result[model.label] = model.path
    return result


def load_trained_model(path: str | os.PathLike) -> keras.Model:
    """Load a saved mtmri model (``.keras``), checking that it is one.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a ``.keras`` file, not loadable by Keras, or not a model of
        `mtmri_lib.models.build_model` (one square single-channel input, residual outputs
        named after artefacts and an ``"image"`` output).
    """
    from . import layers  # noqa: F401  (registers the custom layers before loading)

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.is_dir() or path.suffix != ".keras":
        raise ValueError(f"{path}: expected a Keras model file ending in .keras")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises several types for a bad archive
        raise ValueError(
            f"{path}: not a loadable Keras model ({type(error).__name__}: {error})"
        ) from error
    _check_mtmri_model(model, str(path))
    return model


def _check_mtmri_model(model: Any, name: str) -> None:
    problem = None
    if not isinstance(model, keras.Model):
        problem = f"it holds a {type(model).__name__}, not a Keras model"
    elif isinstance(model, keras.Sequential) or not _has_outputs(model):
        problem = (
            f"it holds a {type(model).__name__} without named outputs; mtmri models come "
            "from mtmri_lib.models.build_model (residual outputs named after artefacts and "
            "'image')"
        )
    else:
        outputs = model.output if isinstance(model.output, dict) else {}
        shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else ()
        if "image" not in outputs or not any(task in outputs for task in TASKS):
            problem = (
                "its outputs are not the residuals of the artefacts and 'image' "
                f"(got {sorted(outputs) or 'an unnamed output'})"
            )
        elif len(shape) != 4 or shape[1] != shape[2] or shape[1] is None or shape[3] != 1:
            problem = f"its input shape is {shape}; expected (batch, S, S, 1)"
    if problem:
        raise ValueError(f"{name}: not an mtmri model: {problem}")


def _has_outputs(model: Any) -> bool:
    """Whether a Keras model has defined outputs (an unbuilt subclassed one raises)."""
    try:
        model.output  # noqa: B018  (the property raises for a model never called)
        model.input_shape  # noqa: B018
    except (AttributeError, ValueError):
        return False
    return True


def _digest_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelCorrector:
    """A trained model as a correction method: ``corrected = corrector(corrupted)``.

    Takes one slice (H, W) or a stack (n, H, W) at the model's size, z-normalises each slice
    as the data pipeline does, runs the model and returns its ``"image"`` output
    (znorm(u + sum of the residuals)) with the input's shape, float32. Keyword arguments
    (the evaluation's context, such as ``fidelity``) are accepted and ignored.

    Attributes
    ----------
    model : keras.Model
    name : str
        The article's label where the sidecar names it, else the model's name.
    version : str
        SHA-256 of the ``.keras`` file (or of the weights of an in-memory model): identifies
        the weights, for the evaluation's score cache.
    record : dict or None
        The JSON sidecar.
    image_size : int
    tasks : tuple of str
    batch_size : int
        Slices per forward pass.
    """

    def __init__(
        self,
        model: keras.Model,
        *,
        name: str | None = None,
        version: str | None = None,
        record: Mapping[str, Any] | None = None,
        batch_size: int = 16,
    ):
        _check_mtmri_model(model, name or model.name)
        self.model = model
        self.record = None if record is None else dict(record)
        self.name = name or (record or {}).get("model") or model.name
        if version is None:
            digest = hashlib.sha256()
            for weight in model.weights:
                digest.update(np.ascontiguousarray(_numpy(weight)).tobytes())
            version = digest.hexdigest()
        self.version = version
        self.image_size = int(model.input_shape[1])
        self.tasks = tuple(task for task in TASKS if task in model.output)
        self.batch_size = int(batch_size)
        self.__name__ = f"model {self.name}"

    def __repr__(self) -> str:
        return f"ModelCorrector({self.name!r}, size {self.image_size}, version {self.version[:12]})"

    def _stack(self, images: Any) -> tuple[np.ndarray, bool]:
        images = np.asarray(images, dtype=np.float64)
        single = images.ndim == 2
        if single:
            images = images[None]
        if images.ndim != 3:
            raise ValueError(
                f"expected an image (H, W) or a stack (n, H, W); got shape {images.shape}"
            )
        if images.shape[1:] != (self.image_size, self.image_size):
            raise ValueError(
                f"the model takes {self.image_size} x {self.image_size} slices; got "
                f"{images.shape[1]} x {images.shape[2]} (resize first, or use mtmri correct)"
            )
        from .data import znorm

        return np.stack([znorm(image) for image in images]).astype(np.float32), single

    def outputs(self, images: Any) -> dict[str, np.ndarray]:
        """Every output (each residual and ``"image"``) for a slice or a stack, as numpy."""
        stack, single = self._stack(images)
        parts: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(stack), self.batch_size):
            batch = stack[start : start + self.batch_size, :, :, None]
            for key, value in self.model(batch, training=False).items():
                parts.setdefault(key, []).append(_numpy(value)[..., 0])
        result = {key: np.concatenate(value) for key, value in parts.items()}
        return {key: value[0] for key, value in result.items()} if single else result

    def residuals(self, images: Any) -> dict[str, np.ndarray]:
        """The residual of each head (z-normalised input units), for a slice or a stack."""
        outputs = self.outputs(images)
        return {task: outputs[task] for task in self.tasks}

    def __call__(self, image: Any, **context: Any) -> np.ndarray:
        return self.outputs(image)["image"]


def model_method(
    path_or_model: str | os.PathLike | keras.Model, *, batch_size: int = 16
) -> ModelCorrector:
    """A saved (or in-memory) model as a method ``corrected = f(corrupted_2d, **context)``.

    Also takes stacks (n, H, W); ``.version`` identifies the weights and ``.residuals``
    gives each head's residual (Table 7's mean absolute residuals).
    """
    if isinstance(path_or_model, keras.Model):
        return ModelCorrector(path_or_model, batch_size=batch_size)
    path = Path(path_or_model)
    model = load_trained_model(path)
    return ModelCorrector(
        model, version=_digest_file(path), record=read_sidecar(path), batch_size=batch_size
    )


class SequentialCorrector:
    """Two or more correctors applied one after the other (Table 7's sequential rows).

    ``SequentialCorrector([motion, subsampling])`` corrects with the Motion model first and
    gives its output (z-normalised, as every model's output is) to the Subsampling model.

    Attributes
    ----------
    steps : tuple of ModelCorrector
    name : str
        The steps' names joined by " → " in the order applied.
    version : str
        Digest of the steps' versions in order (the evaluation's cache key).
    batch_size, image_size : int
    """

    def __init__(self, steps: Sequence[ModelCorrector], *, name: str | None = None):
        steps = tuple(steps)
        if len(steps) < 2:
            raise ValueError(f"a sequence needs at least two correctors; got {len(steps)}")
        sizes = {step.image_size for step in steps}
        if len(sizes) != 1:
            raise ValueError(f"the correctors take different image sizes: {sorted(sizes)}")
        self.steps = steps
        self.name = name or " → ".join(step.name for step in steps)
        self.version = hashlib.sha256("|".join(step.version for step in steps).encode()).hexdigest()
        self.batch_size = min(step.batch_size for step in steps)
        self.image_size = steps[0].image_size
        self.__name__ = f"sequence {self.name}"

    def __repr__(self) -> str:
        return f"SequentialCorrector({self.name!r}, version {self.version[:12]})"

    def __call__(self, image: Any, **context: Any) -> np.ndarray:
        for step in self.steps:
            image = step(image)
        return image


def trained_methods(
    profile: str | Profile,
    output_dir: str | os.PathLike,
    *,
    seed: int | None = None,
    extra_seeds: bool = True,
    batch_size: int = 16,
) -> dict[str, ModelCorrector]:
    """Every trained model of a profile as an evaluation method, keyed by its row label.

    The main seed of each model is keyed by the article's label ("MT+L_C"); other seeds,
    with ``extra_seeds``, by `seed_label` ("MT+L_C (seed 1)"). Models not trained yet are
    absent.

    Parameters
    ----------
    seed : int or None
        The book run's seed: its models are those of this seed and, for the models trained
        with several seeds, of the profile's extra seeds after it (``seed + 1``, ...), as the
        training chapter trains them; models of other runs in the same folder are left out.
        None: the lowest seed found per model is the main one, every other seed an extra.
    """
    from .evaluation import seed_label

    if seed is not None:
        wanted = range(int(seed), int(seed) + training_settings(profile).extra_seeds + 1)
    methods: dict[str, ModelCorrector] = {}
    for model in trained_models(profile, output_dir):
        if seed is not None and model.seed not in wanted:
            continue
        is_main = model.label not in methods and (seed is None or model.seed == int(seed))
        if not is_main and (not extra_seeds or model.label not in methods):
            continue
        key = model.label if is_main else seed_label(model.label, model.seed)
        methods[key] = model_method(model.path, batch_size=batch_size)
    return methods
