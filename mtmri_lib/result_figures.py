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
    `mtmri_lib.widgets` turn them into pictures.

Models are given as `mtmri_lib.training.model_method` returns them (a ``ModelCorrector``:
callable on a stack (n, S, S), with ``.outputs``, ``.tasks``, ``.image_size``, ``.name`` and
the JSON sidecar as ``.record``); this module does not import TensorFlow itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .figures import _image, _subplots

__all__ = [
    "FIGURE1_SETS",
    "FIGURE_MODELS",
    "figure_models",
    "model_caption",
    "example_slice",
    "figure1_scores",
    "plot_figure1",
    "describe_figure1",
    "figure2_volume",
    "plot_figure2",
    "volume_residual_table",
    "describe_figure2",
    "residual_limit",
    "residual_panel",
    "residual_panels",
]

#: Figure 1's artefacts, each at the strongest severity of its table (Tables 3-6):
#: artefact -> evaluation set (`mtmri_lib.data.EVALUATION_SETTINGS`).
FIGURE1_SETS: dict[str, str] = {
    "bias": "bias_20",
    "subsampling": "subsampling_x4",
    "motion": "motion_05",
    "noise": "noise_-5dB",
}

#: The models of the two figures: Figure 1 shows MT+L_C, Figure 2 Pelvis MT+L_C.
FIGURE_MODELS: tuple[str, ...] = ("MT+L_C", "Pelvis MT+L_C")


# --------------------------------------------------------------------------- models


def figure_models(
    profile: str,
    output_dir: str | os.PathLike,
    labels: Sequence[str] = FIGURE_MODELS,
    *,
    seed: int | None = None,
    batch_size: int = 16,
) -> dict[str, Any]:
    """The trained models of a book run, as correctors, keyed by the article's labels.

    Parameters
    ----------
    profile : str
    output_dir : path
        Any notebook's output folder of the same book run (the models are found in its
        sibling ``models`` folder, `mtmri_lib.training.models_dir`).
    labels : sequence of str
        The article's labels of the models wanted.
    seed : int or None
        The book run's seed (None: the lowest seed trained).

    Raises
    ------
    FileNotFoundError
        A model has not been trained for this profile yet; the message names it, the folder
        searched and the chapter that trains it.
    """
    from .training import model_method, models_dir, trained_model_paths

    paths = trained_model_paths(profile, output_dir, seed=seed)
    missing = [label for label in labels if label not in paths]
    if missing:
        raise FileNotFoundError(
            f"no trained {', '.join(repr(m) for m in missing)} model for profile {profile!r} "
            f"in {models_dir(output_dir)}; execute the training chapter (book/training.ipynb) "
            "of the same run first (the book runner, `mtmri book`, does so)"
        )
    return {label: model_method(paths[label], batch_size=batch_size) for label in labels}


def model_caption(corrector: Any) -> str:
    """The model's label with the profile and the data it was trained on (from its sidecar),
    e.g. ``"Pelvis MT+L_C (cpu profile), trained on packaged demo volumes (...)"``."""
    name = str(getattr(corrector, "name", "model"))
    record = getattr(corrector, "record", None) or {}
    profile = record.get("profile")
    text = f"{name} ({profile} profile)" if profile else name
    source = (record.get("data") or {}).get("source")
    return f"{text}, trained on {source}" if source else text


def _check_size(corrector: Any, size: int, what: str) -> None:
    expected = getattr(corrector, "image_size", None)
    if expected is not None and int(expected) != int(size):
        raise ValueError(
            f"the model takes {expected} x {expected} slices, but {what} are {size} x {size}: "
            "use the evaluation sets and the model of the same profile"
        )


# --------------------------------------------------------------------------- Figure 1


def example_slice(sets: Any) -> int:
    """Figure 1's default test slice: the one with the most contrast (the largest standard
    deviation of its [0, 1] intensities), so the example is a well-filled image rather than
    the edge of a volume."""
    clean = np.asarray(sets.clean_01, dtype=np.float64)
    if clean.shape[0] == 0:
        raise ValueError("the evaluation sets hold no slices")
    return int(np.argmax(clean.reshape(len(clean), -1).std(axis=1)))


def _figure1_data(
    sets: Any,
    corrector: Any,
    index: int | None,
    set_names: Mapping[str, str] | None,
    fidelity: str,
) -> dict[str, Any]:
    from .metrics import METRICS

    set_names = dict(FIGURE1_SETS if set_names is None else set_names)
    if not set_names:
        raise ValueError("set_names must name at least one evaluation set")
    missing = [name for name in set_names.values() if name not in sets.names]
    if missing:
        raise KeyError(f"no evaluation set {', '.join(missing)}; sets: {', '.join(sets.names)}")
    n_slices = int(sets.clean.shape[0])
    index = example_slice(sets) if index is None else index
    if not isinstance(index, int | np.integer) or not 0 <= int(index) < n_slices:
        raise ValueError(f"index must be a test slice in [0, {n_slices - 1}]; got {index!r}")
    index = int(index)
    clean = np.asarray(sets.clean[index], dtype=np.float64)
    _check_size(corrector, clean.shape[-1], "the evaluation sets' slices")
    corrupted = {
        artefact: np.asarray(sets[name].corrupted[index], dtype=np.float64)
        for artefact, name in set_names.items()
    }
    # One forward pass for the four images.
    corrected_stack = np.asarray(corrector(np.stack(list(corrupted.values()))), dtype=np.float64)
    corrected = dict(zip(corrupted, corrected_stack, strict=True))
    rows = []
    for artefact, name in set_names.items():
        row: dict[str, Any] = {
            "artefact": artefact,
            "set": name,
            "severity": sets[name].setting.label,
        }
        for metric in ("ssim", "vif"):
            label = metric.upper()
            row[f"{label} corrupted"] = METRICS[metric](
                clean, corrupted[artefact], fidelity=fidelity
            )
            row[f"{label} corrected"] = METRICS[metric](
                clean, corrected[artefact], fidelity=fidelity
            )
        rows.append(row)
    import pandas as pd

    scores = pd.DataFrame(rows).set_index("artefact")
    scores.attrs.update(index=index, model=str(getattr(corrector, "name", "model")))
    origin = sets.slices[index] if index < len(sets.slices) else {}
    return {
        "index": index,
        "origin": origin,
        "clean": clean,
        "corrupted": corrupted,
        "corrected": corrected,
        "scores": scores,
    }


def figure1_scores(
    sets: Any,
    corrector: Any,
    index: int | None = None,
    *,
    set_names: Mapping[str, str] | None = None,
    fidelity: str = "paper",
):
    """SSIM and VIF of Figure 1's corrupted and corrected images against the clean slice.

    Parameters are those of `plot_figure1`. Returns a pandas DataFrame, one row per
    artefact: ``set``, ``severity``, ``SSIM corrupted``, ``SSIM corrected``, ``VIF
    corrupted``, ``VIF corrected`` (``.attrs`` holds the slice ``index`` and the ``model``).
    """
    return _figure1_data(sets, corrector, index, set_names, fidelity)["scores"]


def plot_figure1(
    sets: Any,
    corrector: Any,
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
        MT+L_C, as `mtmri_lib.training.model_method` returns it (any callable that maps a
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
    data = _figure1_data(sets, corrector, index, set_names, fidelity)
    clean, scores = data["clean"], data["scores"]
    label = model_label or str(getattr(corrector, "name", "model"))
    artefacts = list(data["corrupted"])
    differences = {
        (row, artefact): images[artefact] - clean
        for row, images in ((2, data["corrupted"]), (4, data["corrected"]))
        for artefact in artefacts
    }
    limit = max(float(np.max(np.abs(d))) for d in differences.values()) or 1.0
    grey = (float(clean.min()), float(clean.max()))
    columns = len(artefacts)
    fig, axes = _subplots(5, columns, (2.3 * columns + 0.8, 12.0))
    shown = None
    for column, artefact in enumerate(artefacts):
        score = scores.loc[artefact]
        _image(axes[0, column], clean, "clean", limits=grey)
        _image(
            axes[1, column],
            data["corrupted"][artefact],
            f"{artefact}: {score['severity']}\n"
            f"SSIM {score['SSIM corrupted']:.3f}, VIF {score['VIF corrupted']:.3f}",
            limits=grey,
        )
        _image(
            axes[3, column],
            data["corrected"][artefact],
            f"{label}\nSSIM {score['SSIM corrected']:.3f}, VIF {score['VIF corrected']:.3f}",
            limits=grey,
        )
        for row, what in ((2, "corrupted - clean"), (4, "corrected - clean")):
            shown = _image(
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
        label="difference to clean (z-score units)",
    )
    origin = data["origin"]
    where = f" ({origin['volume']}, slice {origin['slice_index']})" if origin else ""
    fig.suptitle(f"Figure 1: test slice {data['index']}{where}, corrected by {label}", fontsize=10)
    return fig


def describe_figure1(scores) -> str:
    """One paragraph: for which artefacts the correction raised SSIM and VIF on this slice.

    ``scores`` is `figure1_scores`' table.
    """
    parts = []
    for metric in ("SSIM", "VIF"):
        raised = [
            a
            for a, row in scores.iterrows()
            if row[f"{metric} corrected"] > row[f"{metric} corrupted"]
        ]
        lowered = [a for a in scores.index if a not in raised]
        if not lowered:
            text = f"{metric} rose for all {len(scores)} artefacts"
        elif not raised:
            text = f"{metric} rose for none of the {len(scores)} artefacts"
        else:
            text = (
                f"{metric} rose for {len(raised)} of {len(scores)} ({', '.join(raised)}; "
                f"not for {', '.join(lowered)})"
            )
        parts.append(text)
    model = scores.attrs.get("model", "the model")
    index = scores.attrs.get("index")
    where = f"test slice {index}" if index is not None else "this slice"
    return f"On {where}, the correction by {model}: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- Figure 2


def figure2_volume(
    volumes: Sequence[Any] | None = None, *, data_dir: str | os.PathLike | None = None
):
    """The volume of Figure 2: the one with the most slices among those with a geometry (an
    affine, so the orthogonal view can be drawn to scale).

    Parameters
    ----------
    volumes : sequence of Volume or None
        The candidates. None: the pelvic volumes of ``data_dir`` where it has a ``pelvic``
        folder (`mtmri_lib.training.data_sources`), else the packaged demo test volumes
        (`mtmri_lib.data.demo_volumes("test")`); there this is dipy's ``aniso_vox`` brain
        volume (24 axial slices of 58 x 58, 4 x 4 x 5 mm).
    data_dir : path or None
        The run's data folder (only used when ``volumes`` is None).

    Raises
    ------
    ValueError
        No volume with at least two slices.
    """
    if volumes is None:
        from .training import data_sources

        pelvic = data_sources(data_dir).pelvic
        if pelvic is not None:
            from .data import read_volumes

            volumes = read_volumes(pelvic)
        else:
            from .data import demo_volumes

            volumes = demo_volumes("test")
    candidates = [v for v in volumes if np.asarray(v.data).ndim == 3 and v.data.shape[0] > 1]
    if not candidates:
        raise ValueError("Figure 2 needs a volume with at least two slices; none was given")
    return max(candidates, key=_slice_count_with_geometry)


def _slice_count_with_geometry(volume: Any) -> tuple[bool, int]:
    return (getattr(volume, "affine", None) is not None, int(volume.data.shape[0]))


def _spacing(affine: np.ndarray | None) -> tuple[float, float, float]:
    """Voxel size along (slice, row, column), from the affine (1 where there is none)."""
    if affine is None:
        return 1.0, 1.0, 1.0
    sizes = np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)
    return tuple(float(s) if s > 0 else 1.0 for s in sizes)


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

    fig, axes = _subplots(2, 2 + len(residuals), (2.3 * (2 + len(residuals)) + 0.8, 6.6))
    # Top: one slice, the prediction and every residual.
    grey = (float(volume[slice_index].min()), float(volume[slice_index].max()))
    _image(axes[0, 0], volume[slice_index], f"input, slice {slice_index}", limits=grey)
    axes[0, 0].axhline(row, color="y", linestyle="--", linewidth=0.8)
    _image(axes[0, 1], corrected[slice_index], "prediction", limits=grey)
    limit = residual_limit({t: r[slice_index] for t, r in residuals.items()})
    shown = None
    for ax, (task, values) in zip(axes[0, 2:], residuals.items(), strict=True):
        mean = float(np.mean(np.abs(values[slice_index])))
        shown = _image(
            ax,
            values[slice_index],
            f"p_{task}\nmean |p| {mean:.3g}",
            symmetric=True,
            limits=(-limit, limit),
        )
    if shown is not None:
        fig.colorbar(shown, ax=list(axes[0, 2:]), shrink=0.8, label="residual (input units)")

    # Bottom: the orthogonal view, three panels each two columns wide.
    grid = axes[1, 0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    spacing = _spacing(getattr(volume_result, "affine", None))
    affine = getattr(volume_result, "affine", None)
    # Put the slice that lies highest in the scanner (largest z) at the top.
    upward = affine is None or float(np.asarray(affine)[2, 0]) >= 0
    options = {"aspect": spacing[0] / spacing[2], "origin": "lower" if upward else "upper"}
    views = {
        "input": volume[:, row, :],
        "corrected slice by slice": corrected[:, row, :],
        "corrected - input": corrected[:, row, :] - volume[:, row, :],
    }
    view_grey = (float(views["input"].min()), float(views["input"].max()))
    span = max(1, (2 + len(residuals)) // 3)
    for k, (name, view) in enumerate(views.items()):
        ax = fig.add_subplot(grid[1, k * span : (k + 1) * span])
        if name == "corrected - input":
            shown = _image(ax, view, f"{name} (orthogonal view)", symmetric=True, **options)
            fig.colorbar(shown, ax=ax, shrink=0.8)
        else:
            _image(ax, view, f"{name} (orthogonal view, row {row})", limits=view_grey, **options)
        ax.axhline(slice_index, color="y", linestyle="--", linewidth=0.8)
        if k == 0:  # one label: more would widen the gaps between the top row's panels
            ax.set_ylabel("slice", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def volume_residual_table(volume_result: Any):
    """What each head did to a whole volume (the article's reading of Figure 2, in numbers).

    Returns a pandas DataFrame, one row per head: ``mean |p|`` (input units, over the
    corrected slices), ``relative to mean |input|`` and ``low-frequency share``: the share of
    the residual's energy in the centre of k-space (spatial frequencies below 1/16 of the
    sampling rate in both directions): near 1 for a smooth, slowly varying map such as a bias
    field, small for ripples and noise.
    """
    import pandas as pd

    from .fourier import fft2c

    volume = np.asarray(volume_result.input, dtype=np.float64)
    kept = [i for i in range(volume.shape[0]) if i not in set(volume_result.skipped or [])]
    if not kept:
        raise ValueError("every slice of the volume was skipped (constant); nothing to show")
    level = float(np.mean(np.abs(volume[kept]))) or 1.0
    rows = {}
    for task, values in volume_result.residuals.items():
        values = np.asarray(values, dtype=np.float64)[kept]
        energy = np.abs(fft2c(values)) ** 2
        height, width = values.shape[-2:]
        fy = np.abs(np.fft.fftshift(np.fft.fftfreq(height)))[:, None]
        fx = np.abs(np.fft.fftshift(np.fft.fftfreq(width)))[None, :]
        low = (fy < 1 / 16) & (fx < 1 / 16)
        total = float(energy.sum())
        mean = float(np.mean(np.abs(values)))
        rows[task] = {
            "mean |p|": mean,
            "relative to mean |input|": mean / level,
            "low-frequency share": float(energy[..., low].sum()) / total if total else np.nan,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def describe_figure2(table) -> Any:
    """The article's reading of Figure 2, checked against `volume_residual_table`.

    The article says of its Figure 2 that the bias residual is smooth and slowly varying and
    that the subsampling residual is insignificant on a full-resolution input (all residuals
    on one scale). Here: "smooth" holds when the bias head has the largest low-frequency
    share of all heads, "insignificant" when the subsampling head has the smallest mean |p|.

    Returns
    -------
    pandas.DataFrame
        One row per statement: ``claim``, ``measured`` (the numbers it was judged on) and
        ``verdict`` ("held" or "not held"; "not resolved" where the table lacks the head).
    """
    import pandas as pd

    # (head, statement, column, largest first?, format): the head must come first in the
    # column's ranking for the statement to hold.
    statements = (
        (
            "bias",
            "the bias residual is smooth and slowly varying",
            "low-frequency share",
            True,
            ".2f",
        ),
        (
            "subsampling",
            "the subsampling residual is insignificant on a full-resolution input",
            "mean |p|",
            False,
            ".3g",
        ),
    )
    rows = []
    for head, claim, column, descending, form in statements:
        if head not in table.index:
            rows.append({"claim": claim, "measured": f"no {head} head", "verdict": "not resolved"})
            continue
        ranked = table[column].sort_values(ascending=not descending)
        rows.append(
            {
                "claim": claim,
                "measured": f"{column}: "
                + ", ".join(f"{task} {value:{form}}" for task, value in ranked.items()),
                "verdict": "held" if ranked.index[0] == head else "not held",
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- residual panels


def residual_limit(
    outputs: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]],
) -> float:
    """The half-width of one symmetric colour scale for every residual given: the largest
    |p| over all heads (the ``"image"`` output excluded), over every slice of a stack of
    outputs and over every dict of a sequence of them; 1 where every residual is 0."""
    many = [outputs] if isinstance(outputs, Mapping) else list(outputs)
    values = [
        float(np.max(np.abs(np.asarray(value))))
        for output in many
        for key, value in output.items()
        if key != "image" and np.size(value)
    ]
    return max(values, default=0.0) or 1.0


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
        One row: [clean,] input, output, then the residuals (blue negative, red positive, one
        colour bar), each titled with its mean |p|.
    """
    from .data import znorm

    tasks = [k for k in outputs if k != "image"] if tasks is None else list(tasks)
    limit = residual_limit({t: outputs[t] for t in tasks}) if limit is None else float(limit)
    scores = dict(scores or {})
    panels = ([("clean", reference)] if reference is not None else []) + [
        ("input", image),
        ("output", outputs["image"]),
    ]
    columns = len(panels) + len(tasks)
    fig, axes = _subplots(1, columns, (2.0 * columns + 0.8, 2.9))
    grey_source = znorm(np.asarray(reference if reference is not None else image, np.float64))
    grey = (float(grey_source.min()), float(grey_source.max()))
    for ax, (name, values) in zip(axes[0], panels, strict=False):
        extra = f"\n{scores[name]}" if name in scores else ""
        _image(ax, znorm(np.asarray(values, np.float64)), f"{name}{extra}", limits=grey)
    shown = None
    for ax, task in zip(axes[0, len(panels) :], tasks, strict=True):
        residual = np.asarray(outputs[task], dtype=np.float64)
        shown = _image(
            ax,
            residual,
            f"p_{task}\nmean |p| {np.mean(np.abs(residual)):.3f}",
            symmetric=True,
            limits=(-limit, limit),
        )
    if shown is not None:
        fig.colorbar(shown, ax=list(axes[0, len(panels) :]), shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def residual_panels(
    images: Any,
    corrector: Any,
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
    stack = _check_stack(images, corrector)
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


def _check_stack(images: Any, corrector: Any) -> np.ndarray:
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
    _check_size(corrector, stack.shape[-1], "the slices given")
    if not np.all(np.isfinite(stack)):
        raise ValueError("images hold NaN or infinite values")
    return stack
