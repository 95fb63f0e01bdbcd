"""The data behind Figures 1 and 2: which models, which slices, the scores and captions.

`figure_models` loads the trained models the figures show; `figure1_data` /
`figure1_scores` correct one test slice per artefact; `figure2_volume` picks the real volume
(the Gold Atlas stand-in) and `volume_residual_table` summarises its correction. The
drawing is in `mtmri_lib.plotting.results`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..data import data_sources, demo_volumes, read_volumes
from ..fourier import fft2c
from ..inference import ModelCorrector, model_method, trained_model_paths
from ..metrics import METRICS
from ..profiles import profile_caption
from ..protocols import Corrector, EvaluationSets
from ..store import models_dir

__all__ = [
    "figure_models",
    "model_caption",
    "check_model_size",
    "example_slice",
    "figure1_data",
    "figure1_scores",
    "describe_figure1",
    "figure2_volume",
    "volume_residual_table",
    "describe_figure2",
    "FIGURE1_SETS",
    "FIGURE_MODELS",
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


def figure_models(
    profile: str,
    output_dir: str | os.PathLike,
    labels: Sequence[str] = FIGURE_MODELS,
    *,
    seed: int | None = None,
    batch_size: int = 16,
) -> dict[str, ModelCorrector]:
    """The trained models of a book run, as correctors, keyed by the article's labels.

    Parameters
    ----------
    profile : str
    output_dir : path
        Any notebook's output folder of the same book run (the models are found in its
        sibling ``models`` folder, `mtmri_lib.store.models_dir`).
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
    paths = trained_model_paths(profile, output_dir, seed=seed)
    missing = [label for label in labels if label not in paths]
    if missing:
        raise FileNotFoundError(
            f"no trained {', '.join(repr(m) for m in missing)} model for profile {profile!r} "
            f"in {models_dir(output_dir)}; execute the training chapter (book/training.ipynb) "
            "of the same run first (the book runner, `mtmri book`, does so)"
        )
    return {label: model_method(paths[label], batch_size=batch_size) for label in labels}


def model_caption(corrector: Corrector) -> str:
    """The model's label with the profile and the data it was trained on (from its sidecar),
    e.g. ``"Pelvis MT+L_C (cpu profile), trained on synthetic subjects (...)"``."""
    name = str(getattr(corrector, "name", "model"))
    record = getattr(corrector, "record", None) or {}
    profile = record.get("profile")
    text = f"{name} ({profile_caption(profile)})" if profile else name
    source = (record.get("data") or {}).get("source")
    return f"{text}, trained on {source}" if source else text


def check_model_size(corrector: Corrector, size: int, what: str) -> None:
    expected = getattr(corrector, "image_size", None)
    if expected is not None and int(expected) != int(size):
        raise ValueError(
            f"the model takes {expected} x {expected} slices, but {what} are {size} x {size}: "
            "use the evaluation sets and the model of the same profile"
        )


def example_slice(sets: EvaluationSets) -> int:
    """Figure 1's default test slice: the one with the most contrast (the largest standard
    deviation of its [0, 1] intensities), so the example is a well-filled image rather than
    the edge of a volume."""
    clean = np.asarray(sets.clean_01, dtype=np.float64)
    if clean.shape[0] == 0:
        raise ValueError("the evaluation sets hold no slices")
    return int(np.argmax(clean.reshape(len(clean), -1).std(axis=1)))


def figure1_data(
    sets: EvaluationSets,
    corrector: Corrector,
    index: int | None,
    set_names: Mapping[str, str] | None,
    fidelity: str,
) -> dict[str, Any]:
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
    check_model_size(corrector, clean.shape[-1], "the evaluation sets' slices")
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
    sets: EvaluationSets,
    corrector: Corrector,
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
    return figure1_data(sets, corrector, index, set_names, fidelity)["scores"]


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


def figure2_volume(
    volumes: Sequence[Any] | None = None, *, data_dir: str | os.PathLike | None = None
):
    """The volume of Figure 2: the one with the most slices among those with a geometry (an
    affine, so the orthogonal view can be drawn to scale).

    Parameters
    ----------
    volumes : sequence of Volume or None
        The candidates. None: the pelvic volumes of ``data_dir`` where it has a ``pelvic``
        folder (`mtmri_lib.data.data_sources`), else the real packaged images
        (`mtmri_lib.data.demo_volumes("real")`); there this is dipy's ``aniso_vox`` brain
        volume (24 axial slices of 58 x 58, 4 x 4 x 5 mm).
    data_dir : path or None
        The run's data folder (only used when ``volumes`` is None).

    Raises
    ------
    ValueError
        No volume with at least two slices.
    """
    if volumes is None:
        pelvic = data_sources(data_dir).pelvic
        if pelvic is not None:
            volumes = read_volumes(pelvic)
        else:
            volumes = demo_volumes("real")
    candidates = [v for v in volumes if np.asarray(v.data).ndim == 3 and v.data.shape[0] > 1]
    if not candidates:
        raise ValueError("Figure 2 needs a volume with at least two slices; none was given")
    return max(candidates, key=_slice_count_with_geometry)


def _slice_count_with_geometry(volume: Any) -> tuple[bool, int]:
    return (getattr(volume, "affine", None) is not None, int(volume.data.shape[0]))


def volume_residual_table(volume_result: Any):
    """What each head did to a whole volume (the article's reading of Figure 2, in numbers).

    Returns a pandas DataFrame, one row per head: ``mean |p|`` (input units, over the
    corrected slices), ``relative to mean |input|`` and ``low-frequency share``: the share of
    the residual's energy in the centre of k-space (spatial frequencies below 1/16 of the
    sampling rate in both directions): near 1 for a smooth, slowly varying map such as a bias
    field, small for ripples and noise.
    """
    import pandas as pd

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
