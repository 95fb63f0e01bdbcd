"""The convolutional loss, the multi-task loss and the residual regulariser of the article.

Convolutional loss (Simko et al. 2023, "Perceptual loss", Table 1)::

    L_C(x, x_hat) = sum_k delta_k * MSE(I_k * x, I_k * x_hat)

over nine kernels `KERNELS` (identity, Prewitt, Sobel 3x3 and 5x5 top and right, Laplace
3x3 and 5x5), each divided by the sum of its absolute coefficients. ``*`` is a
cross-correlation with zero "same" padding (as the released code's convolution layer);
with only ``delta_E = 1`` the loss is the MSE. Since the correlation is linear, the loss is
computed on the difference ``x - x_hat`` with all kernels of non-zero weight stacked into
one 5 x 5 filter bank (the 3 x 3 kernels zero-padded, which changes no output).

Multi-task loss (the article's L_total), read as in the project's design: the restored
image of a training sample counts only the residual of its own artefact ``y``,
``L(clean, znorm(u + p_y))``; the z-normalisation is our reading, since the model ends with
one and the article's equation has none. Residual regulariser: ``alpha * mean(p_i ** 2)``
on each head (the text's squared L2 norm divided by the pixel count, so ``alpha`` keeps its
meaning at every image size); ``fidelity="code"`` gives the released code's
``alpha * mean(|p_i|)``.

Everything here is a plain function on tensors (usable in a custom training step) apart
from `ConvolutionalLoss`, the thin serialisable `keras.losses.Loss` around
`convolutional_loss`.
"""

from __future__ import annotations

from . import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from .artefacts import FIDELITIES
from .layers import znorm
from .models import TASKS

__all__ = [
    "KERNELS",
    "KERNEL_NAMES",
    "KERNEL_SYMBOLS",
    "FIDELITIES",
    "check_deltas",
    "convolutional_loss",
    "ConvolutionalLoss",
    "labelled_restoration",
    "multitask_loss",
    "residual_regulariser",
    "training_objective",
    "kernel_responses",
]


_RAW_KERNELS: dict[str, list[list[int]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "prewitt_top": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "prewitt_right": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
    "sobel3_top": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "sobel3_right": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
    "sobel5_top": [
        [-2, -2, -4, -2, -2],
        [-1, -1, -2, -1, -1],
        [0, 0, 0, 0, 0],
        [1, 1, 2, 1, 1],
        [2, 2, 4, 2, 2],
    ],
    "sobel5_right": [
        [2, 1, 0, -1, -2],
        [2, 1, 0, -1, -2],
        [4, 2, 0, -2, -4],
        [2, 1, 0, -1, -2],
        [2, 1, 0, -1, -2],
    ],
    "laplace3": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
    "laplace5": [
        [0, 0, -1, 0, 0],
        [0, -1, -2, -1, 0],
        [-1, -2, 16, -2, -1],
        [0, -1, -2, -1, 0],
        [0, 0, -1, 0, 0],
    ],
}


def _normalised(raw: list[list[int]]) -> np.ndarray:
    kernel = np.asarray(raw, dtype=np.float64)
    kernel = kernel / np.abs(kernel).sum()
    kernel.setflags(write=False)
    return kernel


#: The nine kernels of Table 1 (values of the released code; rows top to bottom), each
#: divided by the sum of its absolute coefficients. Read-only float64 arrays.
KERNELS: dict[str, np.ndarray] = {name: _normalised(raw) for name, raw in _RAW_KERNELS.items()}

#: The kernel names in the article's order (delta_E, delta_PT, ..., delta_L5).
KERNEL_NAMES: tuple[str, ...] = tuple(KERNELS)

#: The article's symbol of each kernel.
KERNEL_SYMBOLS: dict[str, str] = {
    "identity": "I_E",
    "prewitt_top": "I_PT",
    "prewitt_right": "I_PR",
    "sobel3_top": "I_S3T",
    "sobel3_right": "I_S3R",
    "sobel5_top": "I_S5T",
    "sobel5_right": "I_S5R",
    "laplace3": "I_L3",
    "laplace5": "I_L5",
}

_BANK_SIZE = 5


def check_deltas(deltas: Mapping[str, float] | None) -> dict[str, float]:
    """Validate kernel weights: a dict over `KERNEL_NAMES` (missing = 0), each finite and >= 0.

    ``None`` means the MSE (``{"identity": 1.0}``). Returns a dict with all nine keys, in
    the article's order.
    """
    if deltas is None:
        deltas = {"identity": 1.0}
    if not isinstance(deltas, Mapping):
        raise TypeError(f"deltas must be a dict over the kernel names; got {type(deltas)}")
    unknown = sorted(set(deltas) - set(KERNEL_NAMES))
    if unknown:
        raise ValueError(f"unknown kernel names in deltas: {unknown}; known: {KERNEL_NAMES}")
    checked = {}
    for name in KERNEL_NAMES:
        value = deltas.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"delta of {name!r} must be a real number; got {value!r}")
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"delta of {name!r} must be finite and >= 0; got {value!r}")
        checked[name] = value
    return checked


def _filter_bank(deltas: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """The kernels of non-zero weight as one (5, 5, 1, K) bank, and their weights (K,)."""
    names = [name for name in KERNEL_NAMES if deltas[name] > 0]
    bank = np.zeros((_BANK_SIZE, _BANK_SIZE, 1, len(names)), dtype=np.float32)
    for k, name in enumerate(names):
        kernel = KERNELS[name]
        offset = (_BANK_SIZE - kernel.shape[0]) // 2
        bank[offset : offset + kernel.shape[0], offset : offset + kernel.shape[1], 0, k] = kernel
    weights = np.array([deltas[name] for name in names], dtype=np.float32)
    return bank, weights


def _as_nhwc(x):
    x = ops.convert_to_tensor(x)
    if len(x.shape) == 3:
        x = ops.expand_dims(x, -1)
    if len(x.shape) != 4:
        raise ValueError(f"images must have shape (B, H, W, C) or (B, H, W); got {x.shape}")
    return x


def convolutional_loss(y_true, y_pred, deltas: Mapping[str, float] | None = None):
    """The convolutional loss L_C per image.

    Parameters
    ----------
    y_true, y_pred : tensors of shape (B, H, W, C) or (B, H, W)
        Reference and prediction (each channel is filtered on its own).
    deltas : dict or None
        Weight of each kernel of `KERNELS` (missing = 0; see `check_deltas`). None: only
        ``identity`` = 1, the MSE.

    Returns
    -------
    tensor of shape (B,)
        ``sum_k delta_k * mean_over_pixels((I_k * (y_true - y_pred)) ** 2)`` per image, with
        ``*`` a cross-correlation with zero "same" padding. 0 when ``y_true == y_pred``.
    """
    deltas = check_deltas(deltas)
    y_pred = _as_nhwc(y_pred)
    difference = _as_nhwc(y_true) - y_pred
    dtype = difference.dtype
    if not any(deltas.values()):
        return ops.zeros((ops.shape(difference)[0],), dtype=dtype)
    bank, weights = _filter_bank(deltas)
    channels = difference.shape[-1]
    if channels is None:
        raise ValueError("the channel axis of the images must be known")
    if channels > 1:
        # Each channel on its own: move the channels into the batch, (B * C, H, W, 1). A
        # plain convolution is several times faster than a depthwise one on CPUs.
        shape = ops.shape(difference)
        difference = ops.reshape(
            ops.transpose(difference, (0, 3, 1, 2)), (-1, shape[1], shape[2], 1)
        )
    filtered = ops.conv(difference, ops.cast(bank, dtype), strides=1, padding="same")
    weighted = ops.sum(ops.square(filtered) * ops.cast(weights, dtype), axis=-1)
    per_image = ops.mean(weighted, axis=(1, 2))
    if channels > 1:
        per_image = ops.mean(ops.reshape(per_image, (-1, channels)), axis=-1)
    return per_image


@keras.saving.register_keras_serializable(package="mtmri")
class ConvolutionalLoss(keras.losses.Loss):
    """The article's convolutional loss L_C as a Keras loss (see `convolutional_loss`).

    Parameters
    ----------
    deltas : dict or None
        Weight of each of the nine kernels (keys in `KERNEL_NAMES`, missing = 0, each >= 0).
        None or ``{"identity": 1}``: the MSE.
    reduction, name, dtype
        As for any Keras loss; the default averages over the batch (and, through
        `convolutional_loss`, over the pixels).
    """

    def __init__(
        self,
        deltas: Mapping[str, float] | None = None,
        reduction: str = "sum_over_batch_size",
        name: str = "convolutional_loss",
        dtype: Any = None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.deltas = check_deltas(deltas)

    def call(self, y_true, y_pred):
        return convolutional_loss(y_true, y_pred, self.deltas)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "deltas": dict(self.deltas)}


def _stack_residuals(residuals: Mapping[str, Any], tasks: Sequence[str]):
    missing = [task for task in tasks if task not in residuals]
    if missing:
        raise KeyError(f"residuals lack the heads {missing}; they have {sorted(residuals)}")
    # (B, H, W, C, n_tasks)
    return ops.stack([_as_nhwc(residuals[task]) for task in tasks], axis=-1)


def labelled_restoration(u, residuals: Mapping[str, Any], one_hot, tasks: Sequence[str]):
    """``znorm(u + p_y)``: the input plus only the residual of each image's labelled artefact.

    Parameters
    ----------
    u : tensor (B, H, W, 1)
        The corrupted (z-normalised) input.
    residuals : dict
        ``{task: p_task}`` as the model returns them, each (B, H, W, 1).
    one_hot : tensor (B, len(tasks))
        The artefact label of each image over ``tasks`` (a row of ones sums all residuals,
        the model's inference output).
    tasks : sequence of str
        The order of the one-hot columns (the model's head order).
    """
    stacked = _stack_residuals(residuals, tasks)
    u = _as_nhwc(u)
    mask = ops.reshape(ops.cast(one_hot, stacked.dtype), (-1, 1, 1, 1, len(tasks)))
    return znorm(u + ops.sum(stacked * mask, axis=-1))


def multitask_loss(
    clean,
    u,
    residuals: Mapping[str, Any],
    one_hot,
    tasks: Sequence[str],
    deltas: Mapping[str, float] | None = None,
):
    """The multi-task loss: mean over the batch of ``L_C(clean, znorm(u + p_y))``.

    ``clean`` is the artefact-free image, z-normalised like ``u`` by the data pipeline;
    ``deltas`` None gives the MSE. See `labelled_restoration` for the other arguments.
    """
    restored = labelled_restoration(u, residuals, one_hot, tasks)
    return ops.mean(convolutional_loss(clean, restored, deltas))


def residual_regulariser(
    residuals: Mapping[str, Any],
    alpha: float,
    *,
    tasks: Sequence[str] | None = None,
    fidelity: str = "paper",
):
    """The penalty on the residuals: ``alpha * sum_i mean(p_i ** 2)`` over the heads.

    Parameters
    ----------
    residuals : dict
        ``{task: p_task}``, each (B, H, W, 1); the mean runs over batch and pixels.
    alpha : float
        Weight, >= 0 (the article searched [0, 1]; 0 switches the penalty off).
    tasks : sequence of str or None
        Which heads to penalise (None: all in ``residuals``).
    fidelity : {"paper", "code"}
        ``"paper"``: the text's squared L2 norm per pixel, ``alpha * mean(p_i ** 2)``;
        ``"code"``: the released code's ``alpha * mean(|p_i|)``.
    """
    if fidelity not in FIDELITIES:
        raise ValueError(f"fidelity must be one of {', '.join(FIDELITIES)}; got {fidelity!r}")
    alpha = float(alpha)
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be finite and >= 0; got {alpha!r}")
    tasks = tuple(residuals) if tasks is None else tuple(tasks)
    penalty = ops.abs if fidelity == "code" else ops.square
    terms = [ops.mean(penalty(_as_nhwc(residuals[task]))) for task in tasks]
    return alpha * ops.sum(ops.stack(terms))


def training_objective(
    outputs: Mapping[str, Any],
    u,
    clean,
    one_hot,
    *,
    deltas: Mapping[str, float] | None = None,
    alpha: float = 0.0,
    tasks: Sequence[str] | None = None,
    fidelity: str = "paper",
) -> dict[str, Any]:
    """The full training objective of one batch, from the model's outputs.

    Parameters
    ----------
    outputs : dict
        The model's output dict (one residual per task, and ``"image"``, unused here).
    u, clean : tensors (B, H, W, 1)
        Corrupted input and artefact-free target, both z-normalised.
    one_hot : tensor (B, len(tasks))
        The artefact label of each sample.
    deltas : dict or None
        Kernel weights of L_C (None: MSE).
    alpha : float
        Weight of the residual regulariser.
    tasks : sequence of str or None
        Head order of ``one_hot``; None: the article's order (bias, subsampling, motion,
        noise) restricted to the heads present in ``outputs``.
    fidelity : {"paper", "code"}
        Form of the regulariser (see `residual_regulariser`).

    Returns
    -------
    dict
        ``"loss"`` (the total, to differentiate), ``"reconstruction"``
        (L(clean, znorm(u + p_y))) and ``"regulariser"``, all scalar tensors.
    """
    if tasks is None:
        tasks = tuple(task for task in TASKS if task in outputs)
    reconstruction = multitask_loss(clean, u, outputs, one_hot, tasks, deltas)
    regulariser = residual_regulariser(outputs, alpha, tasks=tasks, fidelity=fidelity)
    return {
        "loss": reconstruction + regulariser,
        "reconstruction": reconstruction,
        "regulariser": regulariser,
    }


def kernel_responses(image: np.ndarray) -> dict[str, np.ndarray]:
    """Each kernel of `KERNELS` applied to one image, in numpy (for figures and tables).

    The same operation as inside `convolutional_loss`: a cross-correlation with zero
    "same" padding (``scipy.ndimage.correlate``, ``mode="constant"``).

    Parameters
    ----------
    image : ndarray of shape (H, W)

    Returns
    -------
    dict
        ``{kernel name: response (H, W) float64}`` in the article's order.
    """
    from scipy import ndimage

    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must have shape (H, W); got {image.shape}")
    return {
        name: ndimage.correlate(image, kernel, mode="constant", cval=0.0)
        for name, kernel in KERNELS.items()
    }
