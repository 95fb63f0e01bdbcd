"""Figures 1 and 2 of the article, and the residual panels of the residual explorers.

Figure 1
    One test slice, each of the four artefacts applied at the strongest severity of Tables
    3-6 (`FIGURE1_SETS`), the difference of each to the clean slice, the correction by
    MT+L_C and the difference of the correction to the clean slice; SSIM and VIF of the
    corrupted and the corrected image in the titles. `plot_figure1`, `figure1_scores`,
    `describe_figure1`.
Figure 2
    A real volume corrected slice by slice (`mtmri_lib.correct.correct_volume`): one slice
    with the model's prediction and its four residuals on one colour scale, then an
    orthogonal reformat (slice axis vertical) of the input, of the corrected volume and of
    their difference, which shows whether slice-wise correction leaves stripes between
    slices. `plot_figure2`, `figure2_volume`, `volume_residual_table`, `describe_figure2`.
Residual panels
    Input, output and every head's residual of a model for one slice, the residuals on one
    symmetric scale (`residual_panel`, `residual_panels`); the explorers of
    `mtmri_lib.plotting.widgets` turn them into pictures.

Models are given as `mtmri_lib.inference.model_method` returns them (a ``ModelCorrector``:
callable on a stack (n, S, S), with ``.outputs``, ``.tasks``, ``.image_size``, ``.name`` and
the JSON sidecar as ``.record``); this module does not import TensorFlow itself.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..data import znorm
from ..protocols import Corrector, EvaluationSets, ResidualModel
from ..report.figures import check_model_size, figure1_data
from .base import figure, image_panel
from .layout import column_size

__all__ = [
    "plot_figure1",
    "plot_figure2",
    "residual_limit",
    "robust_label",
    "ROBUST_PERCENTILE",
    "residual_panel",
    "residual_panels",
    "plot_real_data",
]

#: The percentile of |value| that sets the symmetric colour scale of the book's residual and
#: difference maps (`residual_limit`): a few large values are clipped rather than leaving
#: every other pixel nearly white.
ROBUST_PERCENTILE = 99.0


# --------------------------------------------------------------------------- Figure 1


def plot_figure1(
    sets: EvaluationSets,
    corrector: Corrector,
    index: int | None = None,
    *,
    set_names: Mapping[str, str] | None = None,
    fidelity: str = "paper",
    model_label: str | None = None,
):
    """Figure 1 of the article: the four artefacts on one test slice and their corrections.

    Parameters
    ----------
    sets : mtmri_lib.data.EvalSets
        The fixed evaluation sets (`mtmri_lib.data.eval_sets`).
    corrector : ModelCorrector
        MT+L_C, as `mtmri_lib.inference.model_method` returns it (any callable that maps a
        stack (n, S, S) to corrected images does).
    index : int or None
        The test slice (None: `example_slice`).
    set_names : dict or None
        ``{artefact: evaluation set}``, one column each (None: `FIGURE1_SETS`).
    fidelity : {"paper", "code"}
        Of the metrics (`mtmri_lib.metrics`).
    model_label : str or None
        The name of the correction's row (None: the model's name).

    Returns
    -------
    matplotlib.figure.Figure
        Five rows, one column per artefact: the clean slice (repeated, so each column reads
        top to bottom on its own), the corrupted image, its difference to the clean slice,
        the correction, its difference to the clean slice. All images z-normalised, as they
        are scored, on the clean slice's grey range; the eight difference maps on one
        symmetric colour scale (one colour bar). SSIM and VIF against the clean slice in the
        titles.

    Raises
    ------
    ValueError
        ``index`` outside the test set, or a model whose input size is not the sets' size.
    KeyError
        A set of ``set_names`` that the evaluation sets do not hold.
    """
    data = figure1_data(sets, corrector, index, set_names, fidelity)
    clean, scores = data["clean"], data["scores"]
    label = model_label or str(getattr(corrector, "name", "model"))
    artefacts = list(data["corrupted"])
    differences = {
        (row, artefact): images[artefact] - clean
        for row, images in ((2, data["corrupted"]), (4, data["corrected"]))
        for artefact in artefacts
    }
    limit = residual_limit(
        {f"{row} {artefact}": d for (row, artefact), d in differences.items()},
        percentile=ROBUST_PERCENTILE,
    )
    grey = (float(clean.min()), float(clean.max()))
    columns = len(artefacts)
    # Sized for the book's text column, so 9 pt text stays 9 pt on the page.
    fig, axes = figure(5, columns, column_size(7.8, 10.4))
    shown = None
    for column, artefact in enumerate(artefacts):
        score = scores.loc[artefact]
        image_panel(axes[0, column], clean, "clean", limits=grey)
        image_panel(
            axes[1, column],
            data["corrupted"][artefact],
            f"{artefact}: {score['severity']}\n"
            f"SSIM {score['SSIM corrupted']:.3f}, VIF {score['VIF corrupted']:.3f}",
            limits=grey,
        )
        image_panel(
            axes[3, column],
            data["corrected"][artefact],
            f"{label}\nSSIM {score['SSIM corrected']:.3f}, VIF {score['VIF corrected']:.3f}",
            limits=grey,
        )
        for row, what in ((2, "corrupted - clean"), (4, "corrected - clean")):
            shown = image_panel(
                axes[row, column],
                differences[(row, artefact)],
                what,
                symmetric=True,
                limits=(-limit, limit),
            )
    for row, name in enumerate(("clean", "corrupted", "difference", label, "difference")):
        axes[row, 0].set_ylabel(name, fontsize=9)
    fig.colorbar(
        shown,
        ax=list(axes[2]) + list(axes[4]),
        shrink=0.6,
        label=robust_label("difference to clean (z-score units)", limit),
    )
    origin = data["origin"]
    where = f" ({origin['volume']}, slice {origin['slice_index']})" if origin else ""
    fig.suptitle(f"Figure 1: test slice {data['index']}{where}, corrected by {label}", fontsize=10)
    return fig


# --------------------------------------------------------------------------- Figure 2


def _spacing(affine: np.ndarray | None) -> tuple[float, float, float]:
    """Voxel size along (slice, row, column), from the affine (1 where there is none)."""
    if affine is None:
        return 1.0, 1.0, 1.0
    sizes = np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)
    along_slices, along_rows, along_columns = (float(s) if s > 0 else 1.0 for s in sizes)
    return along_slices, along_rows, along_columns


def plot_figure2(
    volume_result: Any,
    *,
    slice_index: int | None = None,
    row: int | None = None,
    title: str | None = None,
):
    """Figure 2 of the article: a real volume corrected slice by slice.

    Parameters
    ----------
    volume_result : mtmri_lib.correct.CorrectedVolume
        From `mtmri_lib.correct.correct_volume` (input, corrected volume and each head's
        residual, in the input's intensity units).
    slice_index : int or None
        The slice of the top row (None: the middle slice).
    row : int or None
        The image row the orthogonal view cuts along (None: the middle row). For axial
        slices in the usual orientation this is a coronal view.
    title : str or None
        The figure's title (say which model and which volume).

    Returns
    -------
    matplotlib.figure.Figure
        Top: the input slice, the prediction (input + sum of residuals; both on the input's
        grey range) and the four residuals, all on one symmetric colour scale with one colour
        bar, their mean |p| in the titles; a dashed line marks the row of the orthogonal
        view. Bottom: the orthogonal view (slices stacked vertically, to scale where the
        volume has an affine) of the input, of the corrected volume (same grey range) and of
        their difference (the summed residual), with the top row's slice marked.

    Raises
    ------
    ValueError
        A volume with one slice (no orthogonal view), or an index outside the volume.
    """
    volume = np.asarray(volume_result.input, dtype=np.float64)
    corrected = np.asarray(volume_result.corrected, dtype=np.float64)
    residuals = {
        task: np.asarray(r, dtype=np.float64) for task, r in volume_result.residuals.items()
    }
    if volume.ndim != 3 or volume.shape[0] < 2:
        raise ValueError(
            f"Figure 2 needs a volume of at least two slices; got shape {volume.shape}"
        )
    n_slices, height, _ = volume.shape
    slice_index = n_slices // 2 if slice_index is None else int(slice_index)
    row = height // 2 if row is None else int(row)
    if not 0 <= slice_index < n_slices:
        raise ValueError(f"slice_index must be in [0, {n_slices - 1}]; got {slice_index}")
    if not 0 <= row < height:
        raise ValueError(f"row must be in [0, {height - 1}]; got {row}")

    # Sized for the book's text column: the slice's panels in rows of three, then a row of
    # the three orthogonal views.
    top = -(-(2 + len(residuals)) // 3)
    fig, axes = figure(top + 1, 3, column_size(7.8, 2.4 * top + 3.0))
    panels = list(axes[:top].flat)
    for ax in panels[2 + len(residuals) :]:
        ax.set_axis_off()
    grey = (float(volume[slice_index].min()), float(volume[slice_index].max()))
    image_panel(panels[0], volume[slice_index], f"input, slice {slice_index}", limits=grey)
    panels[0].axhline(row, color="y", linestyle="--", linewidth=0.8)
    image_panel(panels[1], corrected[slice_index], "prediction", limits=grey)
    limit = residual_limit(
        {t: r[slice_index] for t, r in residuals.items()}, percentile=ROBUST_PERCENTILE
    )
    shown = None
    residual_axes = panels[2 : 2 + len(residuals)]
    for ax, (task, values) in zip(residual_axes, residuals.items(), strict=True):
        mean = float(np.mean(np.abs(values[slice_index])))
        shown = image_panel(
            ax,
            values[slice_index],
            f"p_{task}\nmean |p| {mean:.3g}",
            symmetric=True,
            limits=(-limit, limit),
        )
    if shown is not None:
        fig.colorbar(
            shown, ax=residual_axes, shrink=0.8, label=robust_label("residual (input units)", limit)
        )

    # Bottom: the orthogonal view.
    spacing = _spacing(getattr(volume_result, "affine", None))
    affine = getattr(volume_result, "affine", None)
    # Put the slice that lies highest in the scanner (largest z) at the top.
    upward = affine is None or float(np.asarray(affine)[2, 0]) >= 0
    options: dict[str, Any] = {
        "aspect": spacing[0] / spacing[2],
        "origin": "lower" if upward else "upper",
    }
    views = {
        "input": volume[:, row, :],
        "corrected slice by slice": corrected[:, row, :],
        "corrected - input": corrected[:, row, :] - volume[:, row, :],
    }
    view_grey = (float(views["input"].min()), float(views["input"].max()))
    for k, (name, view) in enumerate(views.items()):
        ax = axes[top, k]
        if name == "corrected - input":
            shown = image_panel(ax, view, f"{name}\n(orthogonal view)", symmetric=True, **options)
            fig.colorbar(shown, ax=ax, shrink=0.8)
        else:
            image_panel(
                ax, view, f"{name}\n(orthogonal view, row {row})", limits=view_grey, **options
            )
        ax.axhline(slice_index, color="y", linestyle="--", linewidth=0.8)
        if k == 0:  # one label: more would widen the gaps between the top row's panels
            ax.set_ylabel("slice", fontsize=9)
    if title:
        # Wrapped: one long line would widen the saved figure beyond the book's column.
        fig.suptitle(textwrap.fill(title, 90), fontsize=10)
    return fig


# --------------------------------------------------------------------------- residual panels


def residual_limit(
    outputs: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]],
    *,
    percentile: float = 100.0,
) -> float:
    """The half-width of one symmetric colour scale for every residual given: the
    ``percentile`` of |p| over all heads (the ``"image"`` output excluded), over every slice
    of a stack of outputs and over every dict of a sequence of them; 1 where every residual
    is 0. 100 (the default) is the largest |p|; the book's figures use `ROBUST_PERCENTILE`,
    so that a few large values do not wash the rest of the maps out (they are clipped)."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100]; got {percentile!r}")
    many = [outputs] if isinstance(outputs, Mapping) else list(outputs)
    values = [
        np.abs(np.asarray(value, dtype=np.float64)).ravel()
        for output in many
        for key, value in output.items()
        if key != "image" and np.size(value)
    ]
    if not values:
        return 1.0
    return float(np.percentile(np.concatenate(values), percentile)) or 1.0


def robust_label(what: str, limit: float) -> str:
    """A colour bar's label that states the robust scale: what it shows, and that it is
    clipped at the `ROBUST_PERCENTILE` of |values| (+-``limit``), on two lines so that it
    fits beside a short colour bar."""
    return f"{what}\nscale ±{limit:.3g} = {ROBUST_PERCENTILE:g}th pct of |values|, clipped"


def residual_panel(
    image: np.ndarray,
    outputs: Mapping[str, np.ndarray],
    *,
    tasks: Sequence[str] | None = None,
    limit: float | None = None,
    title: str | None = None,
    reference: np.ndarray | None = None,
    scores: Mapping[str, str] | None = None,
):
    """One slice through a multi-task model: input, output and each head's residual.

    Parameters
    ----------
    image : ndarray of shape (S, S)
        The model's input (shown z-normalised, as the model sees it).
    outputs : dict
        One slice of the model's outputs: ``{task: residual, "image": output}``.
    tasks : sequence of str or None
        Order of the residual panels (None: every key but ``"image"``).
    limit : float or None
        Half-width of the residuals' symmetric colour scale (None: `residual_limit` of this
        slice); give one value to several panels to compare them.
    title : str or None
    reference : ndarray of shape (S, S) or None
        The clean slice, shown first where given (z-normalised).
    scores : dict or None
        Extra title lines for ``"input"`` and ``"output"`` (e.g. their SSIM against the
        reference).

    Returns
    -------
    matplotlib.figure.Figure
        Two rows, sized to the book's column: [clean,] input and output above, the residuals
        below (blue negative, red positive, one colour bar), each titled with its mean |p|.
    """

    tasks = [k for k in outputs if k != "image"] if tasks is None else list(tasks)
    limit = residual_limit({t: outputs[t] for t in tasks}) if limit is None else float(limit)
    scores = dict(scores or {})
    panels = ([("clean", reference)] if reference is not None else []) + [
        ("input", image),
        ("output", outputs["image"]),
    ]
    columns = max(len(panels), len(tasks))
    fig, axes = figure(2, columns, column_size(2.0 * columns + 0.8, 5.2))
    for ax in axes.flat:
        ax.set_axis_off()
    grey_source = znorm(np.asarray(reference if reference is not None else image, np.float64))
    grey = (float(grey_source.min()), float(grey_source.max()))
    for ax, (name, values) in zip(axes[0], panels, strict=False):
        ax.set_axis_on()
        extra = f"\n{scores[name]}" if name in scores else ""
        image_panel(ax, znorm(np.asarray(values, np.float64)), f"{name}{extra}", limits=grey)
    shown = None
    for ax, task in zip(axes[1], tasks, strict=False):
        ax.set_axis_on()
        residual = np.asarray(outputs[task], dtype=np.float64)
        shown = image_panel(
            ax,
            residual,
            f"p_{task}\nmean |p| {np.mean(np.abs(residual)):.3f}",
            symmetric=True,
            limits=(-limit, limit),
        )
    if shown is not None:
        fig.colorbar(shown, ax=list(axes[1, : len(tasks)]), shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def plot_real_data(real: Sequence[tuple[str, np.ndarray]], corrector: ResidualModel):
    """The real-data check: real images without a clean reference, corrected by a trained
    multi-task model and not scored.

    One row per ``(name, slice)`` of ``real`` (prepared at the model's size, e.g.
    `mtmri_lib.report.views.real_slices`): the input and the output (both z-normalised, on
    the input's grey scale), then each head's residual on one symmetric scale per row, with
    its mean |p|. What a head changes on images unlike its training data is what the row
    shows.
    """
    if not real:
        raise ValueError("no real images to show")
    tasks = list(corrector.tasks)
    columns = 2 + len(tasks)
    fig, axes = figure(len(real), columns, column_size(7.8, 1.75 * len(real) + 0.5))
    for row, (name, image) in enumerate(real):
        check_model_size(corrector, np.shape(image)[-1], f"the real image {name!r}")
        outputs = corrector.outputs(np.asarray(image))
        shown_input = znorm(np.asarray(image, np.float64))
        grey = (float(shown_input.min()), float(shown_input.max()))
        image_panel(axes[row, 0], shown_input, "input", limits=grey)
        # The name beside the row, not above it (a long name would reach past the figure),
        # on two lines at the underscore nearest its middle if it is longer than the row.
        cuts = [i for i, c in enumerate(name) if c == "_"]
        if len(name) > 14 and cuts:
            cut = min(cuts, key=lambda i: abs(i - len(name) / 2)) + 1
            name = f"{name[:cut]}\n{name[cut:]}"
        axes[row, 0].set_ylabel(name, fontsize=9)
        image_panel(axes[row, 1], znorm(outputs["image"].astype(np.float64)), "output", limits=grey)
        limit = residual_limit(
            {task: outputs[task] for task in tasks}, percentile=ROBUST_PERCENTILE
        )
        shown = None
        for column, task in enumerate(tasks, start=2):
            residual = np.asarray(outputs[task], dtype=np.float64)
            shown = image_panel(
                axes[row, column],
                residual,
                f"p_{task}\n|p| {np.mean(np.abs(residual)):.3f}",
                symmetric=True,
                limits=(-limit, limit),
            )
        if shown is not None:
            fig.colorbar(shown, ax=list(axes[row, 2:]), shrink=0.8, label=f"±{limit:.3g}")
    fig.suptitle(
        f"Real images, no clean reference: {corrector.name}; |p|: a head's mean |residual|\n"
        f"residuals of each row on ±(the {ROBUST_PERCENTILE:g}th percentile of their |p|), "
        "clipped",
        fontsize=10,
    )
    return fig


def residual_panels(
    images: Any,
    corrector: ResidualModel,
    *,
    titles: Sequence[str] | None = None,
    references: Any = None,
    outputs: Mapping[str, np.ndarray] | None = None,
) -> list:
    """`residual_panel` for each slice of a stack, every residual on one shared scale.

    Parameters
    ----------
    images : ndarray of shape (n, S, S) or sequence of (S, S)
        The slices to show (corrupted, at the model's size).
    corrector : ModelCorrector
        Needs ``.outputs(stack)``, ``.tasks`` and ``.image_size``.
    titles : sequence of str or None
        One per slice (None: "slice k").
    references : ndarray of shape (n, S, S) or None
        The clean slices, shown first where given.
    outputs : dict or None
        ``corrector.outputs(images)`` where already computed.

    Returns
    -------
    list of matplotlib.figure.Figure
        One per slice; their residual colour scales are identical and symmetric.

    Raises
    ------
    ValueError
        No slice, not a stack of 2-D slices, slices not of the model's size, or titles /
        references whose number differs from the slices'.
    """
    stack = check_stack(images, corrector)
    titles = [f"slice {k}" for k in range(len(stack))] if titles is None else list(titles)
    if len(titles) != len(stack):
        raise ValueError(f"got {len(titles)} titles for {len(stack)} slices")
    if references is not None:
        references = np.asarray(references, dtype=np.float64)
        if references.shape != stack.shape:
            raise ValueError(
                f"references must have the slices' shape {stack.shape}; got {references.shape}"
            )
    outputs = corrector.outputs(stack) if outputs is None else outputs
    tasks = list(getattr(corrector, "tasks", [k for k in outputs if k != "image"]))
    per_slice = [{key: value[k] for key, value in outputs.items()} for k in range(len(stack))]
    limit = residual_limit({task: outputs[task] for task in tasks})
    return [
        residual_panel(
            stack[k],
            per_slice[k],
            tasks=tasks,
            limit=limit,
            title=titles[k],
            reference=None if references is None else references[k],
        )
        for k in range(len(stack))
    ]


def check_stack(images: Any, corrector: Corrector) -> np.ndarray:
    if isinstance(images, np.ndarray):
        stack = np.asarray(images, dtype=np.float64)
    else:
        images = list(images)
        if not images:
            raise ValueError("images must hold at least one slice; got none")
        shapes = {np.shape(image) for image in images}
        if len(shapes) > 1:
            raise ValueError(f"the slices must all have one shape; got {sorted(shapes)}")
        stack = np.asarray(images, dtype=np.float64)
    if stack.ndim == 2:
        stack = stack[None]
    if stack.ndim != 3:
        raise ValueError(f"images must be a stack (n, S, S) of slices; got shape {stack.shape}")
    if stack.shape[0] == 0:
        raise ValueError("images must hold at least one slice; got none")
    if stack.shape[1] != stack.shape[2]:
        raise ValueError(f"slices must be square; got {stack.shape[1]} x {stack.shape[2]}")
    check_model_size(corrector, stack.shape[-1], "the slices given")
    if not np.all(np.isfinite(stack)):
        raise ValueError("images hold NaN or infinite values")
    return stack
