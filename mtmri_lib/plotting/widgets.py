"""Interactive explorers of the artefacts and of a trained model's residuals.

Two kinds of each, for two audiences:

`artefact_explorer` (static-friendly)
    a slider linked in the browser (``jslink``) to a ``Stack`` of precomputed panels (image,
    k-space, difference for each parameter value). papermill stores the widget state in the
    executed notebook and the rendered book embeds it, so the slider works in the static book
    with no kernel.
`live_artefact_explorer` (needs a kernel)
    any artefact, any strength, any seed, recomputed on every change with Python callbacks;
    for teaching from a running notebook.
`residual_explorer` (static-friendly)
    a slider ``jslink``-ed to a ``Stack`` of precomputed panels, one per chosen slice: the
    model's input, its output and the residual of each head, all residuals of all slices on
    one symmetric colour scale.
`live_residual_explorer` (needs a kernel)
    any evaluation set, any test slice, recomputed with Python callbacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..artefacts import KINDS, corrupt
from ..fourier import fft2c
from ..metrics import METRICS
from ..protocols import EvaluationSets, ResidualModel
from .base import difference_panel, figure, figure_png, image_panel, kspace_panel
from .results import check_stack, residual_limit, residual_panel, residual_panels

__all__ = [
    "EXPLORERS",
    "artefact_explorer",
    "live_artefact_explorer",
    "panel_png",
    "ExplorerSlices",
    "explorer_slices",
    "residual_explorer",
    "live_residual_explorer",
]

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
    fig, axes = figure(1, 3, (7.5, 2.7))
    axes = axes[0]
    diff = corrupted - clean
    limit = float(np.abs(diff).max()) or 1.0
    image_panel(axes[0], corrupted, "image", limits=(0.0, max(1.0, float(clean.max()))))
    kspace_panel(axes[1], fft2c(corrupted), "log10 |k-space|")
    difference_panel(axes[2], diff, f"difference (max {limit:.2f})", limit=limit, colorbar=False)
    fig.suptitle(title, fontsize=10)
    return figure_png(fig, dpi)


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
    if kind not in EXPLORERS:
        raise ValueError(f"kind must be one of {', '.join(EXPLORERS)}; got {kind!r}")
    description, default_values, extra = EXPLORERS[kind]
    values = list(default_values if values is None else values)
    if not values:
        raise ValueError("values must not be empty")
    pictures = []
    for value in values:
        result = corrupt(clean, kind, seed, zscore=False, **extra, **_pinned(kind, value))
        pictures.append(panel_png(clean, result.image, f"{kind}: {description} = {value}", dpi))
    label = (
        f"<b>{kind}</b>: slide through {description} = "
        + ", ".join(str(v) for v in values)
        + " (one random seed for all)"
    )
    return _linked_stack(pictures, label, "setting", readout=False)


def _linked_stack(pictures: Sequence[bytes], label: str, description: str, *, readout: bool):
    """(label, slider, stack): an ``IntSlider`` ``jslink``-ed to a ``Stack`` of PNG images, so
    the slider works in the browser with no kernel."""
    import ipywidgets as widgets

    stack = widgets.Stack(
        [widgets.Image(value=png, format="png") for png in pictures], selected_index=0
    )
    slider = widgets.IntSlider(
        value=0,
        min=0,
        max=len(pictures) - 1,
        description=description,
        readout=readout,
        continuous_update=True,
    )
    widgets.jslink((slider, "value"), (stack, "selected_index"))
    return widgets.VBox([widgets.HTML(label), slider, stack])


def live_artefact_explorer(clean: np.ndarray):
    """Any artefact at any strength and seed, recomputed in the kernel (needs a kernel)."""
    import ipywidgets as widgets

    kind = widgets.Dropdown(options=list(KINDS), value="motion", description="artefact")
    strength = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="strength")
    seed = widgets.IntText(value=0, description="seed")
    picture = widgets.Image(format="png")

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
        extra: dict[str, Any] = {"mask": "random"} if kind.value == "subsampling" else {}
        if kind.value == "subsampling" and value not in (1, 2, 3, 4, 8):
            extra["centre_fraction"] = 0.08
        result = corrupt(
            clean, kind.value, seed.value, zscore=False, **extra, **_pinned(kind.value, value)
        )
        picture.value = panel_png(clean, result.image, f"{kind.value}: {value}")

    for control in (kind, strength, seed):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([kind, strength, seed]), picture])


# --------------------------------------------------------------------------- residuals


@dataclass
class ExplorerSlices:
    """Slices chosen from evaluation sets for `residual_explorer`.

    Attributes
    ----------
    images : ndarray of shape (n, S, S)
        The corrupted slices (z-normalised, as stored).
    references : ndarray of shape (n, S, S)
        The clean slices (z-normalised).
    titles : list of str
        Per slice: set, test slice, its volume and slice, and the artefacts in the order
        they were applied.
    """

    images: np.ndarray
    references: np.ndarray
    titles: list[str]


def explorer_slices(
    sets: EvaluationSets,
    set_names: Sequence[str] = ("subsampling+motion", "noise+bias"),
    per_set: int = 3,
) -> ExplorerSlices:
    """``per_set`` test slices of each named evaluation set, spread evenly over the test set
    (so they come from different volumes where there are several).

    Raises
    ------
    KeyError
        A set the evaluation sets do not hold.
    ValueError
        ``per_set`` < 1, or no set named.
    """
    if per_set < 1:
        raise ValueError(f"per_set must be at least 1; got {per_set}")
    if not set_names:
        raise ValueError("set_names must name at least one evaluation set")
    missing = [name for name in set_names if name not in sets.names]
    if missing:
        raise KeyError(f"no evaluation set {', '.join(missing)}; sets: {', '.join(sets.names)}")
    n_slices = int(sets.clean.shape[0])
    if n_slices == 0:
        raise ValueError("the evaluation sets hold no test slices")
    chosen = np.unique(np.linspace(0, n_slices - 1, min(per_set, n_slices)).round().astype(int))
    images, references, titles = [], [], []
    for name in set_names:
        evalset = sets[name]
        for index in chosen:
            images.append(evalset.corrupted[index])
            references.append(sets.clean[index])
            params = evalset.params[index] if index < len(evalset.params) else {}
            applied = " then ".join(params.get("order", evalset.setting.kinds))
            origin = sets.slices[index] if index < len(sets.slices) else {}
            where = f" ({origin['volume']} #{origin['slice_index']})" if origin else ""
            titles.append(f"{name}, test slice {index}{where}: {applied}")
    return ExplorerSlices(np.stack(images), np.stack(references), titles)


def residual_explorer(
    images: Any,
    corrector: ResidualModel,
    titles: Sequence[str] | None = None,
    dpi: int = 80,
    *,
    references: Any = None,
):
    """A slider over slices showing what each head of a model does, working without a kernel.

    Parameters
    ----------
    images : ndarray of shape (n, S, S) or sequence of (S, S)
        The slices (corrupted, at the model's size S), at least one.
    corrector : ModelCorrector
        A trained multi-task model (`mtmri_lib.inference.model_method`).
    titles : sequence of str or None
        One per slice (None: "slice k").
    dpi : int
        Resolution of the precomputed pictures.
    references : ndarray of shape (n, S, S) or None
        The clean slices, shown first in each picture where given.

    Returns
    -------
    ipywidgets.VBox
        (label, slider, stack): a slider ``jslink``-ed to a ``Stack`` of one precomputed
        picture per slice (`mtmri_lib.plotting.results.residual_panels`: input, output, every
        head's residual with its mean |p|; the residuals of all slices on one symmetric
        scale).

    Raises
    ------
    ValueError
        No slice, slices not of the model's size, or a wrong number of titles.
    """

    stack = check_stack(images, corrector)
    outputs = corrector.outputs(stack)
    limit = residual_limit(outputs)
    figures = residual_panels(
        stack, corrector, titles=titles, references=references, outputs=outputs
    )
    name = getattr(corrector, "name", "the model")
    label = (
        f"<b>{name}</b>: slide through {len(figures)} slices; every residual on one colour "
        f"scale, +-{limit:.3g} (z-normalised input units)"
    )
    return _linked_stack([figure_png(fig, dpi) for fig in figures], label, "slice", readout=True)


def live_residual_explorer(sets: EvaluationSets, corrector: ResidualModel, *, dpi: int = 80):
    """Any evaluation set, any test slice, through a model, recomputed in the kernel.

    Parameters
    ----------
    sets : mtmri_lib.data.EvalSets
    corrector : ModelCorrector
        At the sets' image size.

    Returns
    -------
    ipywidgets.VBox
        A dropdown of the sets and a slider of the test slice above one picture: the clean
        slice, the corrupted input and the output (SSIM and VIF against the clean slice in
        their titles) and every head's residual on this slice's own symmetric scale. Needs a
        running kernel; the static book shows the first picture only.
    """
    import ipywidgets as widgets

    if len(sets.names) == 0:
        raise ValueError("the evaluation sets hold no set")
    check_stack(sets.clean[:1], corrector)
    names = list(sets.names)
    default = "subsampling+motion" if "subsampling+motion" in names else names[0]
    chooser = widgets.Dropdown(options=names, value=default, description="set")
    index = widgets.IntSlider(
        value=0, min=0, max=int(sets.clean.shape[0]) - 1, description="test slice"
    )
    picture = widgets.Image(format="png")

    def redraw(*_: Any) -> None:
        evalset = sets[chooser.value]
        image, clean = evalset.corrupted[index.value], sets.clean[index.value]
        outputs = corrector.outputs(image[None])
        outputs = {key: value[0] for key, value in outputs.items()}
        scores = {
            name: ", ".join(
                f"{metric.upper()} {METRICS[metric](clean, values):.3f}"
                for metric in ("ssim", "vif")
            )
            for name, values in (("input", image), ("output", outputs["image"]))
        }
        fig = residual_panel(
            image,
            outputs,
            tasks=list(corrector.tasks),
            reference=clean,
            scores=scores,
            title=f"{chooser.value} ({evalset.setting.label}), test slice {index.value}",
        )
        picture.value = figure_png(fig, dpi)

    for control in (chooser, index):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([chooser, index]), picture])
