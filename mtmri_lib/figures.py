"""Figures of the book: each function takes data and returns a matplotlib figure.

Notebooks only call these (they define no functions of their own). Every function here is
self-contained: it builds its own figure and closes it in pyplot, so a notebook shows the
returned figure exactly once.

Model and loss chapters: `plot_kernels` (Table 1), `plot_kernel_responses`,
`plot_loss_comparison`, `plot_kspace_branch`, `plot_model_outputs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "plot_kernels",
    "plot_kernel_responses",
    "plot_loss_comparison",
    "plot_kspace_branch",
    "plot_model_outputs",
]


def _subplots(rows: int, columns: int, size: tuple[float, float]):
    """A constrained-layout figure with a 2-D array of axes, closed in pyplot.

    The one helper of every figure module (`figures`, `evaluation_plots`,
    `training_figures`, `result_figures`).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False, layout="constrained")
    plt.close(fig)  # the caller displays the returned figure; pyplot must not show it again
    return fig, axes


def _image(
    ax,
    image: np.ndarray,
    title: str,
    *,
    symmetric: bool = False,
    cmap: str = "gray",
    limits: tuple[float, float] | None = None,
    **options: Any,
):
    """Show one image without ticks. ``symmetric``: blue-red around 0, on +-``limits[1]`` if
    given, else on +- the image's own largest magnitude; otherwise ``cmap`` on ``limits``
    (None: the image's range). ``options`` go to ``imshow`` (``aspect``, ``origin``)."""
    image = np.asarray(image, dtype=np.float64)
    if symmetric:
        limit = float(limits[1]) if limits is not None else float(np.max(np.abs(image)))
        limit = limit or 1.0
        shown = ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit, **options)
    else:
        low, high = (None, None) if limits is None else limits
        shown = ax.imshow(image, cmap=cmap, vmin=low, vmax=high, **options)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


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
    from .losses import KERNEL_SYMBOLS, KERNELS

    kernels = KERNELS if kernels is None else kernels
    fig, axes = _subplots(3, 3, (8.0, 8.4))
    for ax, (name, kernel) in zip(axes.ravel(), kernels.items(), strict=False):
        divisor = _divisor(kernel)
        symbol = KERNEL_SYMBOLS.get(name, name)
        _image(ax, kernel, f"{symbol} ({name}), 1/{divisor}", symmetric=True)
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
    from .losses import KERNEL_SYMBOLS, kernel_responses

    responses = kernel_responses(image) if responses is None else responses
    columns = 5
    rows = int(np.ceil((len(responses) + 1) / columns))
    fig, axes = _subplots(rows, columns, (2.3 * columns, 2.5 * rows))
    flat = axes.ravel()
    _image(flat[0], image, "slice")
    for ax, (name, response) in zip(flat[1:], responses.items(), strict=False):
        rms = float(np.sqrt(np.mean(np.asarray(response) ** 2)))
        _image(ax, response, f"{KERNEL_SYMBOLS.get(name, name)}, RMS {rms:.3f}", symmetric=True)
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
    from .losses import KERNEL_SYMBOLS

    show_images = images is not None
    n_images = (len(images) + (reference is not None)) if show_images else 0
    columns = max(n_images, 1)
    rows = 2 if show_images else 1
    fig, axes = _subplots(rows, columns, (max(3.0 * columns, 9.0), 3.2 * rows + 0.6))
    if show_images:
        panels = ([("reference", reference)] if reference is not None else []) + list(
            images.items()
        )
        for ax, (label, image) in zip(axes[0], panels, strict=True):
            _image(ax, image, label)
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


def _log_magnitude(kspace: np.ndarray) -> np.ndarray:
    return np.log10(np.abs(kspace) + 1e-6)


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
    panels = [
        ("input u", np.asarray(image), {}),
        (
            "k-space branch input\nlog10 |fft2c(u)|",
            _log_magnitude(parts["kspace_input"][index]),
            {"cmap": "magma"},
        ),
        (
            f"k-space head '{task}'\nlog10 |output|",
            _log_magnitude(parts["kspace_heads"][task][index]),
            {"cmap": "magma"},
        ),
        ("k-space branch residual\n(after inverse FFT)", kspace_res, {"symmetric": True}),
        ("image branch residual", image_res, {"symmetric": True}),
        (f"residual p_{task}\n(sum of both)", kspace_res + image_res, {"symmetric": True}),
    ]
    fig, axes = _subplots(1, len(panels), (2.5 * len(panels), 3.0))
    for ax, (title, data, options) in zip(axes[0], panels, strict=True):
        shown = _image(ax, data, title, **options)
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
    fig, axes = _subplots(1, len(tasks) + 2, (2.5 * (len(tasks) + 2), 3.0))
    _image(axes[0, 0], image, "input u")
    for ax, task in zip(axes[0, 1 : 1 + len(tasks)], tasks, strict=True):
        residual = np.asarray(outputs[task])
        shown = _image(
            ax, residual, f"p_{task}\nmean |p| {np.mean(np.abs(residual)):.3f}", symmetric=True
        )
        fig.colorbar(shown, ax=ax, shrink=0.7)
    _image(axes[0, -1], outputs["image"], "output: znorm(u + sum p)")
    return fig
