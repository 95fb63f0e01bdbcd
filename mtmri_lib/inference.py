"""Trained models in use: load them, apply them, find those a book run trained.

Beside `mtmri_lib.training`, not inside it: the correction command, the tables and the
figures use trained models without importing any training code.

- `load_trained_model`: a saved ``.keras`` file, checked to be an mtmri network.
- `ModelCorrector` / `model_method`: a model as a correction method
  (``corrected = corrector(corrupted)``, on a slice or a stack, with each head's residual),
  run through one compiled forward function at a fixed batch shape.
- `forward_flops`: what one forward pass of a model costs, for benchmarks' share of peak.
- `fold_batch_norm`: an inference copy of a model with each batch normalisation folded
  into the convolution before it.
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
from collections.abc import Callable, Mapping, Sequence
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
    "fold_batch_norm",
    "forward_flops",
    "SequentialCorrector",
    "to_numpy",
]


def to_numpy(value: Any) -> np.ndarray:
    """A variable or tensor as a numpy array: TensorFlow's own conversion there (without the
    deprecated ``__array__`` path), Keras' on the other backends (GPU tensors included)."""
    if keras.backend.backend() == "tensorflow" and hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(keras.ops.convert_to_numpy(value))


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


def forward_flops(model: keras.Model) -> dict[str, float]:
    """Floating-point operations of one forward pass per input image, by kind of layer.

    Counted from the built model's layers: a `keras.layers.Conv2D` costs
    2 x H_out x W_out x k_h x k_w x C_in x C_out (a multiply and an add per weight per
    output pixel; its bias and groups of 1 as this package builds them), a centred 2-D FFT
    5 N log2 N per complex channel (N pixels, the usual radix-2 count), a batch
    normalisation or an activation 2 per output value. Concatenation, slicing and
    upsampling move data and count 0. A training step costs about three times the forward
    count (the backward pass computes gradients for inputs and weights).

    Returns
    -------
    dict
        ``conv``, ``fft``, ``elementwise`` and ``total``, in FLOP per image.
    """
    counts = {"conv": 0.0, "fft": 0.0, "elementwise": 0.0}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, channels_out = layer.output.shape
            channels_in = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            counts["conv"] += 2.0 * height * width * kh * kw * channels_in * channels_out
        elif type(layer).__name__ == "CentredFFT2D":
            _, height, width, channels = layer.input.shape
            pixels = height * width
            counts["fft"] += 5.0 * pixels * np.log2(pixels) * max(1, channels // 2)
        elif isinstance(
            layer, (keras.layers.BatchNormalization, keras.layers.LeakyReLU, keras.layers.ReLU)
        ):
            shape = layer.output.shape[1:]
            counts["elementwise"] += 2.0 * float(np.prod(shape))
    counts["total"] = sum(counts.values())
    return counts


def _history_sources(node: Any) -> list[str]:
    """The names of the layers whose outputs a serialised inbound node reads."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return [node["config"]["keras_history"][0]]
        return [name for value in node.values() for name in _history_sources(value)]
    if isinstance(node, (list, tuple)):
        return [name for value in node for name in _history_sources(value)]
    return []


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """An inference copy of ``model`` with every batch normalisation that directly follows
    a convolution folded into that convolution.

    At inference a batch normalisation is an affine map per channel,
    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``, with its moving statistics. Where
    its input is a `keras.layers.Conv2D` whose output nothing else reads, the map moves
    into the convolution: the kernel's output channel ``c`` is multiplied by
    ``s_c = gamma_c / sqrt(var_c + eps)`` and the bias becomes
    ``(b_c - mean_c) * s_c + beta_c`` (computed in float64, stored in the variables'
    dtype). The normalisation layer becomes a `keras.layers.Identity` of the same name, so
    every other layer, weight and output name is unchanged. The copy is for inference only:
    training it would not train a normalisation.

    Returns
    -------
    keras.Model
        A new functional model; ``model`` is not changed. Its outputs equal the original's
        in inference mode up to float32 rounding (the tests hold them to 1e-5 on
        z-normalised outputs).

    Raises
    ------
    ValueError
        ``model`` is not a functional Keras model (a config with layers and their inputs).
    """
    if not isinstance(model, keras.Model) or isinstance(model, keras.Sequential):
        raise ValueError(
            f"fold_batch_norm takes a functional Keras model; got {type(model).__name__}"
        )
    config = model.get_config()
    if "layers" not in config or "output_layers" not in config:
        raise ValueError(f"{model.name}: not a functional model (its config has no layer graph)")
    entries = {entry["name"]: entry for entry in config["layers"]}
    readers: dict[str, list[str]] = {name: [] for name in entries}
    for entry in config["layers"]:
        for source in _history_sources(entry.get("inbound_nodes", [])):
            readers.setdefault(source, []).append(entry["name"])
    outputs = {item[0] for item in _iter_output_layers(config["output_layers"])}
    folds: dict[str, str] = {}  # normalisation -> convolution
    for name, entry in entries.items():
        if entry["class_name"] != "BatchNormalization":
            continue
        sources = _history_sources(entry.get("inbound_nodes", []))
        if len(sources) != 1 or entries.get(sources[0], {}).get("class_name") != "Conv2D":
            continue
        conv = entries[sources[0]]
        axis = entry["config"].get("axis", -1)
        if (
            readers.get(conv["name"]) != [name]
            or conv["name"] in outputs
            or conv["config"].get("data_format", "channels_last") != "channels_last"
            or axis not in (-1, 3, [-1], [3])
        ):
            continue
        folds[name] = conv["name"]
    for name, conv_name in folds.items():
        identity = keras.saving.serialize_keras_object(
            keras.layers.Identity(name=name, dtype=entries[name]["config"].get("dtype"))
        )
        # The normalisation's call arguments (a mask, training) mean nothing to an identity.
        identity["inbound_nodes"] = [
            {**node, "kwargs": {}} for node in entries[name]["inbound_nodes"]
        ]
        identity["name"] = name
        entries[name].clear()
        entries[name].update(identity)
        entries[conv_name]["config"]["use_bias"] = True
    folded = model.__class__.from_config(config)
    originals = {layer.name: layer for layer in model.layers}
    for layer in folded.layers:
        if layer.name in folds or not layer.weights:
            continue
        original = originals[layer.name]
        if layer.name not in folds.values():
            layer.set_weights(original.get_weights())
            continue
        norm = originals[next(n for n, c in folds.items() if c == layer.name)]
        kernel = to_numpy(original.kernel).astype(np.float64)
        bias = (
            to_numpy(original.bias).astype(np.float64)
            if original.use_bias
            else np.zeros(kernel.shape[-1])
        )
        gamma = to_numpy(norm.gamma).astype(np.float64) if norm.scale else 1.0
        beta = to_numpy(norm.beta).astype(np.float64) if norm.center else 0.0
        mean = to_numpy(norm.moving_mean).astype(np.float64)
        variance = to_numpy(norm.moving_variance).astype(np.float64)
        factor = gamma / np.sqrt(variance + float(norm.epsilon))
        layer.set_weights(
            [
                (kernel * factor).astype(to_numpy(original.kernel).dtype),
                ((bias - mean) * factor + beta).astype(to_numpy(original.kernel).dtype),
            ]
        )
    return folded


def _iter_output_layers(spec: Any) -> list[list[Any]]:
    """The ``[name, node, tensor]`` triples of a functional config's ``output_layers``."""
    if isinstance(spec, dict):
        return [item for value in spec.values() for item in _iter_output_layers(value)]
    if isinstance(spec, (list, tuple)):
        if len(spec) == 3 and isinstance(spec[0], str) and isinstance(spec[1], int):
            return [list(spec)]
        return [item for value in spec for item in _iter_output_layers(value)]
    return []


_folded_copy = fold_batch_norm  # the name ModelCorrector's keyword hides


class ModelCorrector:
    """A trained model as a correction method: ``corrected = corrector(corrupted)``.

    Takes one slice (H, W) or a stack (n, H, W) at the model's size, z-normalises each slice
    as the data pipeline does, runs the model and returns its ``"image"`` output
    (znorm(u + sum of the residuals)) with the input's shape, float32. Keyword arguments
    (the evaluation's context, such as ``fidelity``) are accepted and ignored.

    The model runs through Keras' compiled prediction step (``predict_on_batch``: a graph
    function on TensorFlow, ``jax.jit`` on JAX), built once. A stack longer than one batch
    is cut into batches of ``batch_size`` and its last batch is padded to that size, so the
    compiled function sees one input shape; a stack of one batch or less runs as it is.

    Parameters
    ----------
    model : keras.Model
        An mtmri model (from `mtmri_lib.models.build_model` or `load_trained_model`).
    name, version, record
        See the attributes.
    batch_size : int
        Slices per forward pass (>= 1).
    jit_compile : bool or None
        Compile the prediction step with XLA (True), as a plain graph (False), or as Keras
        decides for the model (None). It is the model's own setting (``model.jit_compile``),
        so correctors sharing one model object share it. ``benchmarks/model.py --correct``
        measures both.
    fold_batch_norm : bool
        Run a copy with each batch normalisation folded into its convolution
        (`fold_batch_norm`); outputs equal within float32 rounding. ``version`` then gets a
        ``+bn-folded`` suffix, so cached scores of the two are kept apart.

    Attributes
    ----------
    model : keras.Model
        The model run (the folded copy where ``fold_batch_norm``).
    name : str
        The article's label where the sidecar names it, else the model's name.
    version : str
        SHA-256 of the ``.keras`` file (or of the weights of an in-memory model): identifies
        the weights, for the evaluation's score cache (with ``+bn-folded`` for a folded run).
    weights_digest : str
        ``version`` without that suffix.
    folded : bool
        Whether the batch normalisations were folded.
    record : dict or None
        The JSON sidecar.
    image_size : int
    tasks : tuple of str
    batch_size : int
    """

    def __init__(
        self,
        model: keras.Model,
        *,
        name: str | None = None,
        version: str | None = None,
        record: Mapping[str, Any] | None = None,
        batch_size: int = 16,
        jit_compile: bool | None = None,
        fold_batch_norm: bool = False,
    ):
        _check_mtmri_model(model, name or model.name)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1; got {batch_size}")
        if jit_compile not in (None, True, False):
            raise ValueError(f"jit_compile must be True, False or None; got {jit_compile!r}")
        self.record: dict[str, Any] | None = None if record is None else dict(record)
        self.name: str = name or (record or {}).get("model") or model.name
        if version is None:
            digest = hashlib.sha256()
            for weight in model.weights:
                digest.update(np.ascontiguousarray(to_numpy(weight)).tobytes())
            version = digest.hexdigest()
        self.model = _folded_copy(model) if fold_batch_norm else model
        self.weights_digest: str = version
        self.folded: bool = bool(fold_batch_norm)
        self.version: str = version + ("+bn-folded" if fold_batch_norm else "")
        if jit_compile is not None and self.model.jit_compile != jit_compile:
            # Keras' setting of the model: its prediction step is rebuilt with it (and is
            # shared by every corrector of this model object).
            self.model.jit_compile = jit_compile
            self.model.predict_function = None
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
        stack = np.empty((len(images), self.image_size, self.image_size, 1), dtype=np.float32)
        for i, image in enumerate(images):
            stack[i, :, :, 0] = znorm(image)
        return stack, single

    def outputs(
        self, images: Any, *, on_batch: Callable[[int], Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Every output (each residual and ``"image"``) for a slice or a stack, as numpy.

        ``on_batch(n)`` is called after each forward pass with the slices it corrected (a
        progress bar's ``update``).
        """
        stack, single = self._stack(images)
        n, batch = len(stack), self.batch_size
        result: dict[str, np.ndarray] = {}
        for start in range(0, n, batch):
            chunk = stack[start : start + batch]
            kept = len(chunk)
            if n > batch and kept < batch:  # the last batch, padded to the compiled shape
                chunk = np.concatenate(
                    [chunk, np.zeros((batch - kept, *chunk.shape[1:]), chunk.dtype)]
                )
            for key, value in self.model.predict_on_batch(chunk).items():
                if key not in result:
                    result[key] = np.empty((n, *value.shape[1:-1]), dtype=np.float32)
                result[key][start : start + kept] = to_numpy(value)[:kept, ..., 0]
            if on_batch is not None:
                on_batch(kept)
        return {key: value[0] for key, value in result.items()} if single else result

    def residuals(
        self, images: Any, *, on_batch: Callable[[int], Any] | None = None
    ) -> dict[str, np.ndarray]:
        """The residual of each head (z-normalised input units), for a slice or a stack."""
        outputs = self.outputs(images, on_batch=on_batch)
        return {task: outputs[task] for task in self.tasks}

    def __call__(self, image: Any, **context: Any) -> np.ndarray:
        return self.outputs(image)["image"]


def model_method(
    path_or_model: str | os.PathLike | keras.Model,
    *,
    batch_size: int = 16,
    jit_compile: bool | None = None,
    fold_batch_norm: bool = False,
) -> ModelCorrector:
    """A saved (or in-memory) model as a method ``corrected = f(corrupted_2d, **context)``.

    Also takes stacks (n, H, W); ``.version`` identifies the weights and ``.residuals``
    gives each head's residual (Table 7's mean absolute residuals). ``jit_compile`` and
    ``fold_batch_norm``: see `ModelCorrector`.
    """
    if isinstance(path_or_model, keras.Model):
        model, version, record = path_or_model, None, None
    else:
        path = Path(path_or_model)
        model, version, record = load_trained_model(path), file_digest(path), read_sidecar(path)
    return ModelCorrector(
        model,
        version=version,
        record=record,
        batch_size=batch_size,
        jit_compile=jit_compile,
        fold_batch_norm=fold_batch_norm,
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
