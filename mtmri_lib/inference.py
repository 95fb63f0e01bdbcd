"""Trained models in use: load them, apply them, find those a book run trained.

Beside `mtmri_lib.training`, not inside it: the correction command, the tables and the
figures use trained models without importing any training code.

- `load_trained_model`: a saved ``.keras`` file, checked to be an mtmri network.
- `ModelCorrector` / `model_method`: a model as a correction method
  (``corrected = corrector(corrupted)``, on a slice or a stack, with each head's residual).
- `SequentialCorrector`: correctors applied one after the other (Table 7's sequences).
- `TrainedModel`, `read_sidecar`, `trained_models`, `trained_model_paths`,
  `trained_methods`: the models of a book run, found by their JSON records in
  `mtmri_lib.store.models_dir`.
"""

from __future__ import annotations

from . import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ._checks import profile_name
from .artefacts import znorm
from .models import TASKS
from .protocols import Corrector
from .store import file_digest, models_dir

__all__ = [
    "TrainedModel",
    "read_sidecar",
    "trained_models",
    "trained_model_paths",
    "load_trained_model",
    "ModelCorrector",
    "model_method",
    "SequentialCorrector",
    "to_numpy",
]


def to_numpy(value: Any) -> np.ndarray:
    """A variable or tensor as a numpy array (TensorFlow's own conversion, without the
    deprecated ``__array__`` path)."""
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


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


def read_sidecar(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON record beside a ``.keras`` file (None if there is none)."""
    sidecar = Path(path).with_suffix(".json")
    if not sidecar.exists():
        return None
    return json.loads(sidecar.read_text())


def trained_models(
    profile: Any, output_dir: str | os.PathLike, *, labels: Sequence[str] | None = None
) -> list[TrainedModel]:
    """Every trained model of ``profile`` in `mtmri_lib.store.models_dir` (``output_dir``'s
    sibling), found by its JSON record.

    ``labels``: the models wanted, in the order wanted (the article's order is
    `mtmri_lib.models.MODEL_LABELS`); None: every model found, by label. Then by seed.
    """
    name = profile_name(profile)
    found = []
    for path in sorted(models_dir(output_dir).glob(f"*-{name}-seed*.keras")):
        record = read_sidecar(path)
        if record is None or record.get("profile") != name:
            continue
        label = record.get("model")
        if not isinstance(label, str) or (labels is not None and label not in labels):
            continue
        found.append(TrainedModel(label, int(record["seed"]), path, record))
    order = list(labels) if labels is not None else sorted({m.label for m in found})
    return sorted(found, key=lambda m: (order.index(m.label), m.seed))


def trained_model_paths(
    profile: Any,
    output_dir: str | os.PathLike,
    *,
    all_seeds: bool = False,
    seed: int | None = None,
    labels: Sequence[str] | None = None,
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
    labels : sequence of str or None
        The models wanted, in order (see `trained_models`).

    Models not trained yet are absent (the evaluation tables show them as not run).
    """
    result: dict[str, Any] = {}
    for model in trained_models(profile, output_dir, labels=labels):
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
        self.record: dict[str, Any] | None = None if record is None else dict(record)
        self.name: str = name or (record or {}).get("model") or model.name
        if version is None:
            digest = hashlib.sha256()
            for weight in model.weights:
                digest.update(np.ascontiguousarray(to_numpy(weight)).tobytes())
            version = digest.hexdigest()
        self.version: str = version
        self.image_size: int = int(model.input_shape[1])
        self.tasks: tuple[str, ...] = tuple(task for task in TASKS if task in model.output)
        self.batch_size: int = int(batch_size)
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
        return np.stack([znorm(image) for image in images]).astype(np.float32), single

    def outputs(self, images: Any) -> dict[str, np.ndarray]:
        """Every output (each residual and ``"image"``) for a slice or a stack, as numpy."""
        stack, single = self._stack(images)
        parts: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(stack), self.batch_size):
            batch = stack[start : start + self.batch_size, :, :, None]
            for key, value in self.model(batch, training=False).items():
                parts.setdefault(key, []).append(to_numpy(value)[..., 0])
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
        model, version=file_digest(path), record=read_sidecar(path), batch_size=batch_size
    )


class SequentialCorrector:
    """Two or more correctors applied one after the other (Table 7's sequential rows).

    ``SequentialCorrector([motion, subsampling])`` corrects with the Motion model first and
    gives its output (z-normalised, as every model's output is) to the Subsampling model.

    Attributes
    ----------
    steps : tuple of Corrector
        Usually `ModelCorrector`; any `mtmri_lib.protocols.Corrector` does.
    name : str
        The steps' names joined by " → " in the order applied.
    version : str
        Digest of the steps' versions in order (the evaluation's cache key).
    batch_size, image_size : int
    """

    def __init__(self, steps: Sequence[Corrector], *, name: str | None = None):
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
