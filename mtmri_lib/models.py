"""The dual-domain multi-task network of the article (and its single-task variants).

Two U-Net branches in parallel (Simko et al. 2023, "Model architecture"; layer recipe in
the project's FACTS.md, "The network"):

- the **image branch** sees the input image u;
- the **k-space branch** sees ``fft2c(u)`` (real and imaginary parts as two channels), and
  each of its output heads passes through the inverse FFT and one more 3x3 convolution, so
  it too returns image-space residuals.

Per branch: an input step (one 3x3 convolution on the real part and one on the imaginary
part, concatenated), a stem convolution with batch norm, stride-2 encoder blocks (the
first convolution strides; the block ends with batch norm and LeakyReLU(0.2) and is kept as
a skip), a bottleneck whose output is concatenated with the deepest skip, decoder blocks
(2x upsampling, concatenation with the skip of that scale, convolutions; batch norm at the
end of every block but the last) and one head per artefact: a 3x3 convolution with two
channels (real, imaginary), of which the real part is the residual. The two branches'
residuals are added per artefact, giving ``p_i``; the model returns each ``p_i`` under its
task name and ``"image"`` = znorm(u + sum_i p_i).

With the ``paper`` configuration (320 x 320, channels 64, 128, 256, 512, 512) the network
has 75,479,912 trainable and 75,489,672 parameters in all: the article's "75.4 million".
"""

from __future__ import annotations

from . import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import keras
import numpy as np

from ._checks import scale_settings
from .artefacts import KINDS
from .layers import ZNORM_EPSILON, CentredFFT2D, ChannelSlice, RealToComplexChannels, ZNormalize

__all__ = [
    "TASKS",
    "BRANCHES",
    "PRECISIONS",
    "layer_part",
    "ModelConfig",
    "MODEL_CONFIGS",
    "ParameterCount",
    "model_config",
    "parameter_breakdown",
    "count_parameters",
    "model_parameter_breakdown",
    "branch_outputs",
    "model_summary",
    "build_model",
    "set_global_seed",
    "ModelSpec",
    "MODEL_SPECS",
    "MODEL_LABELS",
    "model_spec",
]

#: The artefacts, in the order of the model's heads (and of the one-hot labels).
TASKS: tuple[str, ...] = KINDS

#: The two branches; a config may keep one of them (an ablation the article does not run).
BRANCHES: tuple[str, ...] = ("image", "kspace")

_INTERPOLATIONS = ("nearest", "bilinear")

#: The dtype policies a config may ask for (Keras' names): plain float32, or mixed precision
#: with float16 or bfloat16 computation and float32 weights.
PRECISIONS: tuple[str, ...] = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the dual-domain network.

    Attributes
    ----------
    name : str
        The profile name the config belongs to (or any label).
    image_size : int
        Side of the square input in pixels; a multiple of ``2 ** depth``.
    channels : tuple of int
        Width of each stride-2 encoder block, top to bottom (``depth = len(channels)``).
        The decoder mirrors it: block i has the width of encoder block ``depth - 2 - i``
        and the last one the width of the first.
    encoder_convs : tuple of int
        3x3 convolutions per encoder block (the first one has stride 2).
    decoder_convs : int
        3x3 convolutions per decoder block.
    bottleneck_convs : int
        3x3 convolutions of the bottleneck (width ``channels[-1]``).
    stem_channels : int
        Width of the stem convolution (after the input step).
    input_channels : int
        Output channels of each of the input step's two convolutions (real part and
        imaginary part).
    head_channels : int
        Channels of each output head (2: real and imaginary; the real part is the residual).
    kernel_size : int
        Side of every convolution kernel.
    leaky_slope : float
        Negative slope of the LeakyReLU activations.
    upsampling : {"nearest", "bilinear"}
        Interpolation of the decoder's 2x upsampling (the recipe does not say; nearest).
    branches : tuple of str
        Which of ``"image"`` and ``"kspace"`` to build (both: the article's network).
    precision : {"float32", "mixed_float16", "mixed_bfloat16"} or None
        Keras dtype policy of the branches' layers. Mixed precision computes the
        convolutions in float16 / bfloat16 (weights stay float32); the Fourier transforms,
        the sums of the residuals, the final z-normalisation and so the training loss stay
        float32 (those layers are built with ``dtype="float32"``). With ``mixed_float16``
        `mtmri_lib.training.fit_network` scales the loss (``LossScaleOptimizer``) against
        gradient underflow. None: Keras' global policy (float32 unless changed with
        ``keras.config.set_dtype_policy``).
    """

    name: str
    image_size: int
    channels: tuple[int, ...]
    encoder_convs: tuple[int, ...]
    decoder_convs: int = 3
    bottleneck_convs: int = 3
    stem_channels: int = 8
    input_channels: int = 2
    head_channels: int = 2
    kernel_size: int = 3
    leaky_slope: float = 0.2
    upsampling: str = "nearest"
    branches: tuple[str, ...] = field(default=BRANCHES)
    precision: str | None = None

    def __post_init__(self) -> None:
        def positive(name: str, value: Any) -> None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")

        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "encoder_convs", tuple(self.encoder_convs))
        object.__setattr__(self, "branches", tuple(self.branches))
        if not self.channels:
            raise ValueError("channels must name at least one encoder block")
        for value in self.channels:
            positive("channels", value)
        if len(self.encoder_convs) != len(self.channels):
            raise ValueError(
                f"encoder_convs needs one entry per encoder block ({len(self.channels)}); "
                f"got {self.encoder_convs}"
            )
        for value in self.encoder_convs:
            positive("encoder_convs", value)
        for name in ("decoder_convs", "bottleneck_convs", "stem_channels", "input_channels"):
            positive(name, getattr(self, name))
        positive("image_size", self.image_size)
        positive("kernel_size", self.kernel_size)
        if self.head_channels not in (1, 2):
            raise ValueError(f"head_channels must be 1 or 2; got {self.head_channels!r}")
        if self.image_size % 2**self.depth:
            raise ValueError(
                f"image_size must be a multiple of 2 ** depth = {2**self.depth}; "
                f"got {self.image_size}"
            )
        if not 0 <= self.leaky_slope < 1:
            raise ValueError(f"leaky_slope must lie in [0, 1); got {self.leaky_slope!r}")
        if self.upsampling not in _INTERPOLATIONS:
            raise ValueError(
                f"upsampling must be one of {', '.join(_INTERPOLATIONS)}; got {self.upsampling!r}"
            )
        if not self.branches or len(set(self.branches)) != len(self.branches):
            raise ValueError(f"branches must name distinct branches; got {self.branches}")
        for branch in self.branches:
            if branch not in BRANCHES:
                raise ValueError(f"branches must be among {BRANCHES}; got {branch!r}")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ValueError(
                f"precision must be None or one of {', '.join(PRECISIONS)}; got {self.precision!r}"
            )

    @property
    def depth(self) -> int:
        """Number of stride-2 encoder blocks (and of decoder blocks)."""
        return len(self.channels)

    @property
    def decoder_channels(self) -> tuple[int, ...]:
        """Width of each decoder block, deepest first."""
        return tuple(self.channels[-2::-1]) + (self.channels[0],)

    def with_(self, **changes: Any) -> ModelConfig:
        """A copy with some settings changed."""
        return replace(self, **changes)


def _paper_config() -> ModelConfig:
    return ModelConfig(
        name="paper",
        image_size=320,
        channels=(64, 128, 256, 512, 512),
        encoder_convs=(2, 3, 3, 3, 3),
        decoder_convs=3,
        bottleneck_convs=3,
    )


#: One configuration per profile. ``paper`` is the article's network; ``cpu`` a narrow,
#: shallow one that trains on a 2-core CPU at 64 x 64; ``smoke`` a tiny one for the tests.
MODEL_CONFIGS: dict[str, ModelConfig] = {
    "smoke": ModelConfig(
        name="smoke",
        image_size=32,
        channels=(8, 16),
        encoder_convs=(1, 1),
        decoder_convs=1,
        bottleneck_convs=1,
        stem_channels=4,
    ),
    "cpu": ModelConfig(
        name="cpu",
        image_size=64,
        channels=(16, 32, 64, 64),
        encoder_convs=(2, 2, 2, 2),
        decoder_convs=2,
        bottleneck_convs=2,
    ),
    "paper": _paper_config(),
}


def model_config(config: Any) -> ModelConfig:
    """The network of a profile: ``config`` itself if it is a `ModelConfig`, the one a
    `mtmri_lib.profiles.Profile` composes, or the named one (``smoke``, ``cpu``, ``paper``)."""
    return scale_settings(config, "model", MODEL_CONFIGS, ModelConfig)


def _check_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    if isinstance(tasks, str):
        tasks = (tasks,)
    tasks = tuple(tasks)
    if not tasks:
        raise ValueError("tasks must name at least one artefact")
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f"tasks must be among {', '.join(TASKS)}; got {task!r}")
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must be distinct; got {tasks}")
    return tasks


class ParameterCount(NamedTuple):
    """Parameters of a network: trainable, non-trainable (batch-norm statistics), total."""

    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


def layer_part(layer_name: str) -> str:
    """The part of a branch a layer belongs to, from its name (``{branch}_{part}_...``)."""
    name = layer_name.split("_", 1)[1]
    if name.startswith("in"):
        return "input step"
    if name.startswith("stem"):
        return "stem"
    if name.startswith("enc"):
        return "encoder " + name[3 : name.index("_")]
    if name.startswith("bottleneck"):
        return "bottleneck"
    if name.startswith("dec"):
        return "decoder " + name[3 : name.index("_")]
    return "heads"


def parameter_breakdown(
    config: str | ModelConfig = "cpu", *, tasks: Sequence[str] = TASKS
) -> list[dict[str, Any]]:
    """Parameters of each part of each branch of `build_model`, by arithmetic.

    No weights are allocated, so the ``paper`` network can be counted anywhere in
    microseconds. Returns rows ``{"branch", "part", "trainable", "non_trainable"}``, parts
    in the order data flows through them (input step, stem, encoder 1..d, bottleneck,
    decoder 1..d, heads); ``non_trainable`` are the batch-norm moving statistics. The tests
    check it against built models.
    """
    cfg = model_config(config)
    tasks = _check_tasks(tasks)
    k2 = cfg.kernel_size**2

    def conv(c_in: int, c_out: int) -> int:
        return k2 * c_in * c_out + c_out

    def convs(c_in: int, widths: Sequence[int]) -> int:
        total = 0
        for width in widths:
            total += conv(c_in, width)
            c_in = width
        return total

    parts: list[tuple[str, int, int]] = []  # (part, weights, batch-norm channels)
    parts.append(("input step", 2 * conv(1, cfg.input_channels), 0))
    parts.append(("stem", conv(2 * cfg.input_channels, cfg.stem_channels), cfg.stem_channels))
    skips = [cfg.stem_channels]
    c_in = cfg.stem_channels
    for d, (width, n_convs) in enumerate(
        zip(cfg.channels, cfg.encoder_convs, strict=True), start=1
    ):
        parts.append((f"encoder {d}", convs(c_in, [width] * n_convs), width))
        skips.append(width)
        c_in = width
    parts.append(("bottleneck", convs(c_in, [cfg.channels[-1]] * cfg.bottleneck_convs), 0))
    c_in = cfg.channels[-1] + skips[-1]
    for i, width in enumerate(cfg.decoder_channels):
        c_in += skips[cfg.depth - 1 - i]
        bn = width if i < cfg.depth - 1 else 0
        parts.append((f"decoder {i + 1}", convs(c_in, [width] * cfg.decoder_convs), bn))
        c_in = width
    rows = []
    for branch in cfg.branches:
        heads = len(tasks) * conv(c_in, cfg.head_channels)
        if branch == "kspace":  # the extra convolution after each head's inverse FFT
            heads += len(tasks) * conv(cfg.head_channels, cfg.head_channels)
        for part, weights, bn in [*parts, ("heads", heads, 0)]:
            rows.append(
                {
                    "branch": branch,
                    "part": part,
                    "trainable": weights + 2 * bn,
                    "non_trainable": 2 * bn,
                }
            )
    return rows


def count_parameters(
    config: str | ModelConfig = "cpu", *, tasks: Sequence[str] = TASKS
) -> ParameterCount:
    """Parameters of `build_model` (config, tasks), by arithmetic (see `parameter_breakdown`).

    ``count_parameters("paper").total`` is 75,489,672 (75,479,912 trainable).
    """
    rows = parameter_breakdown(config, tasks=tasks)
    return ParameterCount(
        trainable=sum(row["trainable"] for row in rows),
        non_trainable=sum(row["non_trainable"] for row in rows),
    )


def model_parameter_breakdown(model: keras.Model) -> list[dict[str, Any]]:
    """The rows of `parameter_breakdown`, counted from the weights of a built model."""
    counts: dict[tuple[str, str], list[int]] = {}
    for layer in model.layers:
        branch = layer.name.split("_", 1)[0]
        if branch not in BRANCHES or not layer.weights:
            continue
        entry = counts.setdefault((branch, layer_part(layer.name)), [0, 0])
        entry[0] += sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        entry[1] += sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)
    rows = [
        {"branch": branch, "part": part, "trainable": t, "non_trainable": n}
        for (branch, part), (t, n) in counts.items()
    ]
    return sorted(rows, key=lambda row: (BRANCHES.index(row["branch"]), _part_rank(row["part"])))


def _part_rank(part: str) -> int:
    """Order of the parts as data flows through a branch."""
    fixed = {"input step": 0, "stem": 1, "bottleneck": 10_000, "heads": 100_000}
    if part in fixed:
        return fixed[part]
    kind, index = part.split()
    return int(index) + (1 if kind == "encoder" else 10_000)


def set_global_seed(seed: int) -> None:
    """Seed Python's, numpy's and TensorFlow's global random generators (Keras' one helper).

    This is the project's only place that seeds global state: it calls
    ``keras.utils.set_random_seed(seed)``, which sets Python's `random`, numpy's global
    generator and TensorFlow's (and so Keras') global seed. Training entry points and
    notebooks call it for reproducible weight initialisation, shuffling and dropout; library
    functions never do. (`build_model` with ``seed=`` is reproducible without it.)
    """
    keras.utils.set_random_seed(int(seed))


def _initialiser_factory(seed: int | None) -> Callable[[], keras.initializers.Initializer]:
    """Glorot-uniform initialisers, each with its own seed derived from ``seed``."""
    counter = iter(range(10**9))

    def make() -> keras.initializers.Initializer:
        if seed is None:
            return keras.initializers.GlorotUniform()
        return keras.initializers.GlorotUniform(seed=(int(seed) * 10_007 + next(counter)) % 2**31)

    return make


def _branch(
    u,
    cfg: ModelConfig,
    tasks: tuple[str, ...],
    domain: str,
    init: Callable[[], Any],
    synchronized: bool = False,
) -> dict[str, Any]:
    """One U-Net branch; returns {task: real residual (B, H, W, 1)} in image space."""
    layers = keras.layers
    policy = cfg.precision  # None: Keras' global policy

    def conv(x, width: int, name: str, strides: int = 1):
        return layers.Conv2D(
            width,
            cfg.kernel_size,
            strides=strides,
            padding="same",
            kernel_initializer=init(),
            name=f"{domain}_{name}",
            dtype=policy,
        )(x)

    def act(x, name: str):
        return layers.LeakyReLU(
            negative_slope=cfg.leaky_slope, name=f"{domain}_{name}", dtype=policy
        )(x)

    def norm(x, name: str):
        return layers.BatchNormalization(
            name=f"{domain}_{name}", dtype=policy, synchronized=synchronized
        )(x)

    if domain == "kspace":
        z = CentredFFT2D(name="kspace_fft", dtype=policy)(u)
    else:
        z = RealToComplexChannels(name="image_complex", dtype=policy)(u)
    real = ChannelSlice(0, 1, name=f"{domain}_real", dtype=policy)(z)
    imag = ChannelSlice(1, 2, name=f"{domain}_imag", dtype=policy)(z)
    real = conv(real, cfg.input_channels, "in_real")
    imag = conv(imag, cfg.input_channels, "in_imag")
    x = layers.Concatenate(name=f"{domain}_in", dtype=policy)([real, imag])
    x = act(norm(conv(x, cfg.stem_channels, "stem_conv"), "stem_bn"), "stem_act")

    skips = [x]
    for d, (width, n_convs) in enumerate(
        zip(cfg.channels, cfg.encoder_convs, strict=True), start=1
    ):
        for j in range(1, n_convs + 1):
            x = conv(x, width, f"enc{d}_conv{j}", strides=2 if j == 1 else 1)
            if j < n_convs:
                x = act(x, f"enc{d}_act{j}")
        x = act(norm(x, f"enc{d}_bn"), f"enc{d}_act")
        skips.append(x)

    for j in range(1, cfg.bottleneck_convs + 1):
        x = act(conv(x, cfg.channels[-1], f"bottleneck_conv{j}"), f"bottleneck_act{j}")
    x = layers.Concatenate(name=f"{domain}_bottleneck_skip", dtype=policy)([x, skips[-1]])

    for i, width in enumerate(cfg.decoder_channels):
        d = i + 1
        last = i == cfg.depth - 1
        x = layers.UpSampling2D(
            2, interpolation=cfg.upsampling, name=f"{domain}_dec{d}_up", dtype=policy
        )(x)
        x = layers.Concatenate(name=f"{domain}_dec{d}_skip", dtype=policy)(
            [x, skips[cfg.depth - 1 - i]]
        )
        for j in range(1, cfg.decoder_convs + 1):
            x = conv(x, width, f"dec{d}_conv{j}")
            if last or j < cfg.decoder_convs:
                x = act(x, f"dec{d}_act{j}")
        if not last:
            x = act(norm(x, f"dec{d}_bn"), f"dec{d}_act")

    residuals = {}
    for task in tasks:
        head = conv(x, cfg.head_channels, f"head_{task}")
        if domain == "kspace":
            head = CentredFFT2D(inverse=True, name=f"kspace_head_{task}_ifft", dtype=policy)(head)
            head = conv(head, cfg.head_channels, f"head_{task}_image")
        residuals[task] = ChannelSlice(0, 1, name=f"{domain}_head_{task}_real", dtype=policy)(head)
    return residuals


def build_model(
    config: str | ModelConfig = "cpu",
    *,
    tasks: Sequence[str] = TASKS,
    seed: int | None = None,
    synchronized_batch_norm: bool = False,
) -> keras.Model:
    """Build the dual-domain multi-task network (or a single-task variant).

    Parameters
    ----------
    config : str or ModelConfig
        A profile name (``"smoke"``, ``"cpu"``, ``"paper"``; see `MODEL_CONFIGS`) or a
        config. ``"paper"`` is the article's 75.4 M-parameter, 320 x 320 network. Its
        ``precision`` picks the dtype policy (``config.with_(precision="mixed_bfloat16")``
        for mixed precision; the outputs stay float32).
    tasks : sequence of str
        The artefacts the model has heads for, in head order (the article's four by
        default; one name gives the single-task models Bias, Subsampling, Motion, Noise).
    seed : int or None
        Seed of the weight initialisation, without touching any global random state
        (each layer gets its own seed derived from it). None: Keras' global generator (see
        `set_global_seed`).
    synchronized_batch_norm : bool
        Batch normalisation statistics over the global batch of all replicas of a
        tf.distribute strategy (``keras.layers.BatchNormalization(synchronized=True)``;
        TensorFlow backend only). Off by default: on one device it changes nothing.
        `mtmri_lib.training.fit_network` switches it on by itself when it trains over
        several replicas, and off again before it returns the network.

    Returns
    -------
    keras.Model
        Input ``"u"`` of shape (B, S, S, 1), S = ``config.image_size``: the corrupted,
        z-normalised image. Output: a dict with one residual ``p_i`` (B, S, S, 1) per task
        (keys = task names, image space, the sum of both branches' heads) and ``"image"`` =
        znorm(u + sum_i p_i). The training loss uses the residuals (see
        `mtmri_lib.losses.training_objective`).
    """
    cfg = model_config(config)
    tasks = _check_tasks(tasks)
    init = _initialiser_factory(seed)
    u = keras.Input(shape=(cfg.image_size, cfg.image_size, 1), name="u")
    per_branch = [
        _branch(u, cfg, tasks, domain, init, bool(synchronized_batch_norm))
        for domain in cfg.branches
    ]
    # The output layers compute in float32 whatever the dtype policy (the config's or the
    # global one), so a mixed-precision network still returns float32 residuals and image,
    # z-normalises in float32, and its training loss is computed in float32.
    outputs = {}
    for task in tasks:
        parts = [residuals[task] for residuals in per_branch]
        if len(parts) > 1:
            outputs[task] = keras.layers.Add(name=task, dtype="float32")(parts)
        else:
            outputs[task] = keras.layers.Identity(name=task, dtype="float32")(parts[0])
    restored = keras.layers.Add(name="u_plus_residuals", dtype="float32")([u, *outputs.values()])
    outputs["image"] = ZNormalize(epsilon=ZNORM_EPSILON, name="image", dtype="float32")(restored)
    name = f"mtmri_{cfg.name}" + ("" if tasks == TASKS else "_" + "_".join(tasks))
    return keras.Model(inputs=u, outputs=outputs, name=name)


def branch_outputs(model: keras.Model, images: Any) -> dict[str, Any]:
    """What each branch of a built model computes, for inspection (numpy arrays).

    Parameters
    ----------
    model : keras.Model
        A model from `build_model` (both branches).
    images : array of shape (B, S, S, 1) or (S, S)
        Input images (z-normalised, as the model expects).

    Returns
    -------
    dict
        ``"kspace_input"``: the k-space branch's input, ``fft2c(u)`` (complex, (B, S, S));
        ``"image_residuals"`` and ``"kspace_residuals"``: ``{task: (B, S, S)}`` each
        branch's real residual in image space (their sum is the model's ``p_task``);
        ``"kspace_heads"``: ``{task: complex (B, S, S)}`` the k-space branch's head output
        before its inverse FFT.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        images = images[None, :, :, None]
    names = {"kspace_input": "kspace_fft"}
    tasks = [task for task in TASKS if task in model.output]
    for task in tasks:
        names[f"image_residuals/{task}"] = f"image_head_{task}_real"
        names[f"kspace_residuals/{task}"] = f"kspace_head_{task}_real"
        names[f"kspace_heads/{task}"] = f"kspace_head_{task}"
    probe = keras.Model(
        inputs=model.input,
        outputs={key: model.get_layer(name).output for key, name in names.items()},
    )
    raw = {key: np.asarray(value) for key, value in probe(images, training=False).items()}

    def complex_of(x: np.ndarray) -> np.ndarray:
        return x[..., 0] + 1j * x[..., 1]

    result: dict[str, Any] = {
        "kspace_input": complex_of(raw["kspace_input"]),
        "image_residuals": {},
        "kspace_residuals": {},
        "kspace_heads": {},
    }
    for task in tasks:
        result["image_residuals"][task] = raw[f"image_residuals/{task}"][..., 0]
        result["kspace_residuals"][task] = raw[f"kspace_residuals/{task}"][..., 0]
        result["kspace_heads"][task] = complex_of(raw[f"kspace_heads/{task}"])
    return result


def model_summary(model: keras.Model, line_length: int = 110) -> str:
    """Keras' layer-by-layer summary of a model as plain text (no terminal colour codes)."""
    lines: list[str] = []
    model.summary(line_length=line_length, print_fn=lambda text, **_: lines.append(text))
    return "\n".join(lines)


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


def model_spec(model: str | ModelSpec) -> ModelSpec:
    """The `ModelSpec` of one of the seven models, by its label (``"MT+L_C"``) or key
    (``"mt_lc"``)."""
    if isinstance(model, ModelSpec):
        return model
    for spec in MODEL_SPECS.values():
        if model in (spec.label, spec.key):
            return spec
    raise ValueError(f"model must be one of {', '.join(MODEL_LABELS)}; got {model!r}")
