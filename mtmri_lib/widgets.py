"""Interactive explorers of the artefacts (and, later, of the model's residuals).

Two kinds, for two audiences:

`artefact_explorer` (static-friendly)
    a slider linked in the browser (``jslink``) to a ``Stack`` of precomputed panels (image,
    k-space, difference for each parameter value). papermill stores the widget state in the
    executed notebook and the rendered book embeds it, so the slider works in the static book
    with no kernel.
`live_artefact_explorer` (needs a kernel)
    any artefact, any strength, any seed, recomputed on every change with Python callbacks;
    for teaching from a running notebook.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from .artefacts import KINDS, corrupt
from .fourier import fft2c

__all__ = ["EXPLORERS", "artefact_explorer", "live_artefact_explorer", "panel_png"]

#: The parameter each static explorer sweeps, with its values (pinned one at a time).
EXPLORERS: dict[str, tuple[str, list[Any], dict[str, Any]]] = {
    "bias": ("field width w: field in [1 - w/2, 1 + w/2]", [0.1, 0.25, 0.5, 0.75, 1.0], {}),
    "subsampling": ("acceleration (random mask)", [2, 3, 4, 8], {"mask": "random"}),
    "motion": ("fraction of corrupted lines", [0.1, 0.3, 0.5, 0.7, 0.8], {"motion": "rigid"}),
    "noise": ("SNR (dB)", [10.0, 5.0, 0.0, -5.0, -12.0], {}),
}


def _pinned(kind: str, value: Any) -> dict[str, Any]:
    if kind == "bias":
        return {"field_range": (1 - value / 2, 1 + value / 2)}
    if kind == "subsampling":
        return {"acceleration": value}
    if kind == "motion":
        return {"corrupted_fraction": value}
    return {"snr_db": value}


def panel_png(clean: np.ndarray, corrupted: np.ndarray, title: str, dpi: int = 80) -> bytes:
    """One PNG with three panels: the corrupted image, its log k-space, the difference."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 2.7), dpi=dpi)
    axes = fig.subplots(1, 3)
    diff = corrupted - clean
    limit = float(np.abs(diff).max()) or 1.0
    axes[0].imshow(corrupted, cmap="gray", vmin=0, vmax=max(1.0, float(clean.max())))
    axes[0].set_title("image", fontsize=9)
    axes[1].imshow(np.log1p(np.abs(fft2c(corrupted))), cmap="magma")
    axes[1].set_title("log(1 + |k-space|)", fontsize=9)
    axes[2].imshow(diff, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[2].set_title(f"difference (max {limit:.2f})", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def artefact_explorer(
    clean: np.ndarray,
    kind: str,
    *,
    values: Sequence[Any] | None = None,
    seed: int = 0,
    dpi: int = 80,
):
    """A slider over one artefact's strength, working without a kernel.

    Parameters
    ----------
    clean : ndarray of shape (H, W)
        The clean slice, scaled to [0, 1].
    kind : {"bias", "subsampling", "motion", "noise"}
    values : sequence, optional
        Strengths to precompute (default: ``EXPLORERS[kind]``).
    seed : int
        One seed for every strength, so only the strength changes.

    Returns
    -------
    ipywidgets.VBox
        A slider ``jslink``-ed to a ``Stack`` of precomputed images; its ``.children`` are
        (label, slider, stack).
    """
    import ipywidgets as widgets

    if kind not in EXPLORERS:
        raise ValueError(f"kind must be one of {', '.join(EXPLORERS)}; got {kind!r}")
    description, default_values, extra = EXPLORERS[kind]
    values = list(default_values if values is None else values)
    if not values:
        raise ValueError("values must not be empty")
    panels = []
    for value in values:
        result = corrupt(clean, kind, seed, zscore=False, **extra, **_pinned(kind, value))
        title = f"{kind}: {description} = {value}"
        panels.append(widgets.Image(value=panel_png(clean, result.image, title, dpi), format="png"))
    stack = widgets.Stack(panels, selected_index=0)
    slider = widgets.IntSlider(
        value=0,
        min=0,
        max=len(values) - 1,
        description="setting",
        readout=False,
        continuous_update=True,
    )
    widgets.jslink((slider, "value"), (stack, "selected_index"))
    label = widgets.HTML(
        f"<b>{kind}</b>: slide through {description} = "
        + ", ".join(str(v) for v in values)
        + " (one random seed for all)"
    )
    return widgets.VBox([label, slider, stack])


def live_artefact_explorer(clean: np.ndarray):
    """Any artefact at any strength and seed, recomputed in the kernel (needs a kernel)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    kind = widgets.Dropdown(options=list(KINDS), value="motion", description="artefact")
    strength = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="strength")
    seed = widgets.IntText(value=0, description="seed")
    output = widgets.Output()

    def strength_to_value(name: str, s: float) -> Any:
        # 0 = the identity, 1 = the article's strongest setting.
        if name == "bias":
            return s
        if name == "subsampling":
            return 1 + round(s * 7)
        if name == "motion":
            return round(0.8 * s, 3)
        return float("inf") if s == 0 else 10 - 22 * s

    def redraw(*_: Any) -> None:
        value = strength_to_value(kind.value, strength.value)
        extra = {"mask": "random"} if kind.value == "subsampling" else {}
        if kind.value == "subsampling" and value not in (1, 2, 3, 4, 8):
            extra["centre_fraction"] = 0.08
        result = corrupt(
            clean, kind.value, seed.value, zscore=False, **extra, **_pinned(kind.value, value)
        )
        with output:
            output.clear_output(wait=True)
            title = f"{kind.value}: {value}"
            plt.imshow(plt.imread(io.BytesIO(panel_png(clean, result.image, title))))
            plt.axis("off")
            plt.show()

    for control in (kind, strength, seed):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([kind, strength, seed]), output])
