"""Figures of the model and loss chapters, drawn on `mtmri_lib.plotting.base`.

`plot_kernels` (Table 1), `plot_kernel_responses`, `plot_loss_comparison`,
`plot_kspace_branch`, `plot_model_outputs`, `plot_architecture` (with `architecture_parts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..losses import KERNEL_SYMBOLS, KERNELS, kernel_responses
from .base import figure, image_panel, kspace_log
from .layout import column_size

__all__ = [
    "plot_kernels",
    "plot_kernel_responses",
    "plot_loss_comparison",
    "plot_kspace_branch",
    "plot_model_outputs",
    "architecture_parts",
    "plot_architecture",
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
    fig, axes = figure(3, 3, column_size(8.0, 8.4))
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
    # Two rows of three, sized for the book's text column (9 pt text at that width).
    fig, axes = figure(2, 3, column_size(7.8, 5.6))
    for ax, (title, data, options) in zip(axes.flat, panels, strict=True):
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
    columns = -(-(len(tasks) + 2) // 2)
    # Two rows, sized for the book's text column (9 pt text at that width).
    fig, axes = figure(2, columns, column_size(7.8, 5.6))
    panels = list(axes.flat)
    for ax in panels[len(tasks) + 2 :]:
        ax.set_axis_off()
    image_panel(panels[0], image, "input u")
    for ax, task in zip(panels[1 : 1 + len(tasks)], tasks, strict=True):
        residual = np.asarray(outputs[task])
        shown = image_panel(
            ax, residual, f"p_{task}\nmean |p| {np.mean(np.abs(residual)):.3f}", symmetric=True
        )
        fig.colorbar(shown, ax=ax, shrink=0.7)
    image_panel(panels[len(tasks) + 1], outputs["image"], "output: znorm(u + sum p)")
    return fig


def _count(n: int) -> str:
    """A parameter count in a few characters: 950, 12.3k, 4.56M."""
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    if n >= 1_000:
        return f"{n / 1e3:.1f}k"
    return str(n)


def _short(part: str) -> str:
    return (
        part.replace("encoder ", "enc ").replace("decoder ", "dec ").replace("bottleneck", "bottl.")
    )


def architecture_parts(model) -> list[dict[str, Any]]:
    """The parts of each branch of a built `build_model` network, in the order data flows:
    rows ``{"branch", "part", "trainable", "non_trainable", "height", "width", "channels"}``,
    the shape being the output of the part's last layer (read from the model's layers)."""
    from ..models import BRANCHES, layer_part, model_parameter_breakdown

    shapes: dict[tuple[str, str], tuple[int, int, int]] = {}
    for layer in model.layers:
        branch = layer.name.split("_", 1)[0]
        if branch not in BRANCHES or "_" not in layer.name:
            continue
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is None or len(shape) != 4:
            continue
        shapes[(branch, layer_part(layer.name))] = (int(shape[1]), int(shape[2]), int(shape[3]))
    rows = []
    for row in model_parameter_breakdown(model):
        height, width, channels = shapes.get((row["branch"], row["part"]), (0, 0, 0))
        rows.append({**row, "height": height, "width": width, "channels": channels})
    return rows


def plot_architecture(model, *, title: str | None = None):
    """The dual-domain network drawn from a built model's layers (`architecture_parts`): one
    lane per branch (image above, k-space below), one box per part (stem, encoder blocks,
    bottleneck, decoder blocks, heads) placed lower the coarser its resolution, labelled with
    its output size x channels and trainable parameters; dashed lines are the U-Net skips
    (a part to the decoder block of the same resolution), and the heads of both branches add
    into one residual p_i per task."""
    from matplotlib.patches import FancyBboxPatch

    rows = [r for r in architecture_parts(model) if r["part"] != "input step"]
    if not rows:
        raise ValueError(
            "the model has no layers named {branch}_{part}_...: not a build_model network"
        )
    branches = list(dict.fromkeys(r["branch"] for r in rows))
    full = max(r["height"] for r in rows) or 1
    n = max(sum(r["branch"] == b for r in rows) for b in branches)
    levels = max(int(round(np.log2(full / r["height"]))) for r in rows if r["height"])
    lane_height = 1.9 + 0.8 * levels
    fig, axes = figure(1, 1, column_size(7.8, 0.9 + 0.62 * lane_height * len(branches)))
    ax = axes[0, 0]
    ax.set_axis_off()
    box_w, box_h = 0.94, 0.98
    colours = {"ste": "#d9d9d9", "enc": "#9ecae1", "bot": "#fdae6b", "dec": "#a1d99b"}
    tasks = [name for name in getattr(model, "output_names", []) if name != "image"]
    for lane, branch in enumerate(branches):
        top = -lane * (lane_height + 0.5)
        label = "image branch, on u" if branch == "image" else "k-space branch, on fft2c(u)"
        ax.text(-0.5, top + 0.25, label, fontsize=10, fontweight="bold", ha="left")
        centres: dict[str, tuple[float, float, int]] = {}
        for index, row in enumerate(r for r in rows if r["branch"] == branch):
            level = int(round(np.log2(full / row["height"]))) if row["height"] else 0
            x, y = float(index), top - level * 0.8
            ax.add_patch(
                FancyBboxPatch(
                    (x - box_w / 2, y - box_h),
                    box_w,
                    box_h,
                    boxstyle="round,pad=0.01",
                    facecolor=colours.get(row["part"][:3], "#fbb4b9"),
                    edgecolor="0.3",
                )
            )
            name = f"{len(tasks)} heads" if row["part"] == "heads" else _short(row["part"])
            size = f"{row['height']}²×{row['channels']}" if row["height"] else ""
            for offset, text in zip(
                (0.2, 0.49, 0.78), (name, size, _count(row["trainable"])), strict=True
            ):
                ax.text(x, y - offset, text, ha="center", va="center", fontsize=9)
            centres[row["part"]] = (x, y, level)
        decoders = {lvl: (x, y) for p, (x, y, lvl) in centres.items() if p.startswith("decoder")}
        for part, (x, y, level) in centres.items():
            if part.startswith(("encoder", "stem")) and level in decoders:
                x2, y2 = decoders[level]
                if x2 > x + 1:
                    ax.plot(
                        [x + box_w / 2, x2 - box_w / 2], [y - 0.1, y2 - 0.1], "--", lw=0.8, c="0.5"
                    )
    bottom = -(len(branches) - 1) * (lane_height + 0.5) - lane_height
    ax.text(
        (n - 1) / 2,
        bottom + 0.3,
        "per task: p_i = image head + k-space head (after its inverse FFT)\n"
        f"tasks: {', '.join(tasks)};  output: znorm(u + Σ p_i)",
        ha="center",
        va="center",
        fontsize=9,
    )
    ax.set_xlim(-0.55, n - 0.45)
    ax.set_ylim(bottom, 0.7)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
