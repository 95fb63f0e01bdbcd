"""Figures of the model and loss chapters, drawn on `mtmri_lib.plotting.base`.

`plot_kernels` (Table 1), `plot_kernel_responses`, `plot_loss_comparison`,
`plot_kspace_branch`, `plot_model_outputs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..losses import KERNEL_SYMBOLS, KERNELS, kernel_responses
from .base import figure, image_panel, kspace_log

__all__ = [
    "plot_kernels",
    "plot_kernel_responses",
    "plot_loss_comparison",
    "plot_kspace_branch",
    "plot_model_outputs",
]


def _divisor(kernel: np.ndarray) -> int:
    """The sum of the absolute raw coefficients (all Table 1 kernels have a coefficient 1)."""
    return int(round(1.0 / np.min(np.abs(kernel[kernel != 0]))))


def plot_kernels(kernels: Mapping[str, np.ndarray] | None = None):
    """The nine kernels of the convolutional loss as images, with their raw coefficients.

    Parameters
    ----------
    kernels : dict or None
        ``{name: normalised kernel}``; None: `mtmri_lib.losses.KERNELS` (Table 1).

    Returns
    -------
    matplotlib.figure.Figure
        A 3 x 3 grid; colour = normalised value (blue negative, red positive), numbers =
        the integer coefficients before division by the sum of their absolute values.
    """

    kernels = KERNELS if kernels is None else kernels
    fig, axes = figure(3, 3, (8.0, 8.4))
    for ax, (name, kernel) in zip(axes.ravel(), kernels.items(), strict=False):
        divisor = _divisor(kernel)
        symbol = KERNEL_SYMBOLS.get(name, name)
        image_panel(ax, kernel, f"{symbol} ({name}), 1/{divisor}", symmetric=True)
        for (row, column), value in np.ndenumerate(kernel):
            ax.text(
                column,
                row,
                f"{value * divisor:.0f}",
                ha="center",
                va="center",
                fontsize=8 if kernel.shape[0] > 3 else 10,
            )
    for ax in axes.ravel()[len(kernels) :]:
        ax.axis("off")
    return fig


def plot_kernel_responses(image: np.ndarray, responses: Mapping[str, np.ndarray] | None = None):
    """A slice and what each kernel of the loss makes of it.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    responses : dict or None
        ``{name: response}``; None: `mtmri_lib.losses.kernel_responses` of ``image``.

    Returns
    -------
    matplotlib.figure.Figure
        Two rows of five panels: the slice, then the nine responses (blue negative, red
        positive, each on its own symmetric scale; the title gives the RMS response).
    """

    responses = kernel_responses(image) if responses is None else responses
    columns = 5
    rows = int(np.ceil((len(responses) + 1) / columns))
    fig, axes = figure(rows, columns, (2.3 * columns, 2.5 * rows))
    flat = axes.ravel()
    image_panel(flat[0], image, "slice")
    for ax, (name, response) in zip(flat[1:], responses.items(), strict=False):
        rms = float(np.sqrt(np.mean(np.asarray(response) ** 2)))
        image_panel(
            ax, response, f"{KERNEL_SYMBOLS.get(name, name)}, RMS {rms:.3f}", symmetric=True
        )
    for ax in flat[len(responses) + 1 :]:
        ax.axis("off")
    return fig


def plot_loss_comparison(
    table, images: Mapping[str, np.ndarray] | None = None, reference: np.ndarray | None = None
):
    """Loss terms of several corrupted images, side by side (e.g. blurred against noisy).

    Parameters
    ----------
    table : pandas.DataFrame
        From `mtmri_lib.losses.kernel_loss_table`: one row per image; columns ``MSE``, the
        nine kernel terms and ``L_C``.
    images : dict or None
        ``{row label: image}`` to show above the bars (optional), with ``reference``.
    reference : ndarray or None
        The artefact-free image.

    Returns
    -------
    matplotlib.figure.Figure
        Optional image row, then grouped bars of every column on a log scale.
    """

    n_images = (len(images) + (reference is not None)) if images is not None else 0
    columns = max(n_images, 1)
    rows = 2 if images is not None else 1
    fig, axes = figure(rows, columns, (max(3.0 * columns, 9.0), 3.2 * rows + 0.6))
    if images is not None:
        panels = ([("reference", reference)] if reference is not None else []) + list(
            images.items()
        )
        for ax, (label, image) in zip(axes[0], panels, strict=True):
            image_panel(ax, image, label)
        gs = axes[1, 0].get_gridspec()
        for ax in axes[1]:
            ax.remove()
        bars = fig.add_subplot(gs[1, :])
    else:
        bars = axes[0, 0]
    labels = [KERNEL_SYMBOLS.get(c, c) for c in table.columns]
    x = np.arange(len(table.columns))
    width = 0.8 / max(len(table), 1)
    for i, (label, row) in enumerate(table.iterrows()):
        bars.bar(x + (i - (len(table) - 1) / 2) * width, row.to_numpy(float), width, label=label)
    bars.set_xticks(x, labels, rotation=45, ha="right")
    bars.set_yscale("log")
    bars.set_ylabel("loss")
    bars.legend()
    bars.grid(axis="y", alpha=0.3)
    return fig


def plot_kspace_branch(image: np.ndarray, parts: Mapping[str, Any], task: str, index: int = 0):
    """What the k-space branch sees and returns, beside the image branch, for one head.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        The model's input u.
    parts : dict
        From `mtmri_lib.models.branch_outputs`.
    task : str
        Which head to show.
    index : int
        Which image of the batch.

    Returns
    -------
    matplotlib.figure.Figure
        u; log10 |fft2c(u)| (the k-space branch's input); log10 |head output| in k-space;
        the k-space branch's residual after its inverse FFT and last convolution; the image
        branch's residual; their sum, the model's residual of ``task``.
    """
    kspace_res = parts["kspace_residuals"][task][index]
    image_res = parts["image_residuals"][task][index]
    panels: list[tuple[str, np.ndarray, dict[str, Any]]] = [
        ("input u", np.asarray(image), {}),
        (
            "k-space branch input\nlog10 |fft2c(u)|",
            kspace_log(parts["kspace_input"][index]),
            {"cmap": "magma"},
        ),
        (
            f"k-space head '{task}'\nlog10 |output|",
            kspace_log(parts["kspace_heads"][task][index]),
            {"cmap": "magma"},
        ),
        ("k-space branch residual\n(after inverse FFT)", kspace_res, {"symmetric": True}),
        ("image branch residual", image_res, {"symmetric": True}),
        (f"residual p_{task}\n(sum of both)", kspace_res + image_res, {"symmetric": True}),
    ]
    fig, axes = figure(1, len(panels), (2.5 * len(panels), 3.0))
    for ax, (title, data, options) in zip(axes[0], panels, strict=True):
        shown = image_panel(ax, data, title, **options)
        fig.colorbar(shown, ax=ax, shrink=0.7)
    return fig


def plot_model_outputs(
    image: np.ndarray, outputs: Mapping[str, np.ndarray], tasks: Sequence[str] | None = None
):
    """A model's input, its residuals and its restored image for one slice.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        The input u.
    outputs : dict
        ``{task: residual (H, W), "image": restored (H, W)}`` (one image of the model's
        output dict).
    tasks : sequence of str or None
        Order of the residual panels (None: every key but ``"image"``).

    Returns
    -------
    matplotlib.figure.Figure
        u, each residual (own symmetric scale; title gives its mean |p|), the restored image.
    """
    tasks = [k for k in outputs if k != "image"] if tasks is None else list(tasks)
    fig, axes = figure(1, len(tasks) + 2, (2.5 * (len(tasks) + 2), 3.0))
    image_panel(axes[0, 0], image, "input u")
    for ax, task in zip(axes[0, 1 : 1 + len(tasks)], tasks, strict=True):
        residual = np.asarray(outputs[task])
        shown = image_panel(
            ax, residual, f"p_{task}\nmean |p| {np.mean(np.abs(residual)):.3f}", symmetric=True
        )
        fig.colorbar(shown, ax=ax, shrink=0.7)
    image_panel(axes[0, -1], outputs["image"], "output: znorm(u + sum p)")
    return fig
