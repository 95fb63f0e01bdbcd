"""Figures of the evaluation chapters: example corrections and per-slice score distributions.

Only plotting; the numbers come from `mtmri_lib.evaluation` and `mtmri_lib.report.tables`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..artefacts import znorm
from ..evaluation import Method, corrected_images
from ..metrics import METRIC_LABELS
from ..protocols import EvaluationSets
from .base import figure
from .layout import column_size

__all__ = [
    "plot_corrections",
    "plot_score_distributions",
    "plot_paired_differences",
    "plot_metric_fidelity",
    "plot_corruption_distributions",
]


def plot_corrections(
    sets: EvaluationSets,
    set_name: str,
    methods: Mapping[str, Method | Callable[..., np.ndarray]],
    index: int = 0,
):
    """One slice of one evaluation set: clean, corrupted and each method's correction
    (top row, same grey scale) and each image's difference to the clean slice (bottom row,
    same symmetric colour scale). All images z-normalised, as they are scored."""

    images = corrected_images(sets, set_name, methods, index)
    clean = images.pop("clean")
    shown = {"clean": clean, **{label: znorm(image) for label, image in images.items()}}
    fig, axes = figure(2, len(shown), column_size(2.2 * len(shown), 4.6))
    low, high = float(clean.min()), float(clean.max())
    differences = {label: image - clean for label, image in shown.items()}
    limit = max(float(np.max(np.abs(d))) for d in differences.values()) or 1.0
    for column, (label, image) in enumerate(shown.items()):
        axes[0, column].imshow(image, cmap="gray", vmin=low, vmax=high)
        axes[0, column].set_title(label, fontsize=9)
        if label == "clean":
            axes[1, column].axis("off")
        else:
            axes[1, column].imshow(differences[label], cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes[1, column].set_title("difference", fontsize=8)
        for row in range(2):
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
    setting = sets[set_name].setting
    fig.suptitle(f"{setting.label}: test slice {index}", fontsize=10)
    return fig


def plot_score_distributions(
    scores: pd.DataFrame,
    set_names: Sequence[str],
    metrics: Sequence[str] = ("ssim", "vif"),
    methods: Sequence[str] | None = None,
):
    """Per-slice scores: one panel per (metric, set), one box per method, slices as dots."""
    rows, columns = len(metrics), len(set_names)
    fig, axes = figure(rows, columns, column_size(3.2 * columns, 2.8 * rows))
    for r, metric in enumerate(metrics):
        for c, set_name in enumerate(set_names):
            ax = axes[r, c]
            part = scores[(scores["set"] == set_name) & (scores["metric"] == metric)]
            order = list(dict.fromkeys(part["method"])) if methods is None else list(methods)
            order = [m for m in order if m in set(part["method"])]
            values = [part.loc[part["method"] == m, "value"].dropna().to_numpy() for m in order]
            if order:
                ax.boxplot(values, showfliers=False)
                for i, v in enumerate(values, start=1):
                    jitter = np.linspace(-0.15, 0.15, len(v)) if len(v) > 1 else np.zeros(len(v))
                    ax.plot(i + jitter, v, ".", markersize=2, alpha=0.5, color="C0")
                ax.set_xticks(range(1, len(order) + 1), order, rotation=30, ha="right", fontsize=8)
            severity = part["severity"].iloc[0] if not part.empty else set_name
            ax.set_title(f"{severity}", fontsize=9)
            if c == 0:
                ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    return fig


def plot_paired_differences(
    scores: pd.DataFrame,
    pairs: Mapping[str, tuple[str, str]],
    metric: str,
):
    """Per-slice differences between two variants of the same method, one panel per pair:
    ``pairs`` maps a title to (method a, method b); each dot is a slice, a - b, per set."""
    fig, axes = figure(1, len(pairs), column_size(3.4 * len(pairs), 2.8))
    for ax, (title, (a, b)) in zip(axes[0], pairs.items(), strict=True):
        part = scores[scores["metric"] == metric]
        wide = part.pivot_table(index=["set", "slice"], columns="method", values="value")
        if a not in wide or b not in wide:
            ax.set_title(f"{title}\n(not run)", fontsize=9)
            ax.axis("off")
            continue
        difference = (wide[a] - wide[b]).dropna()
        sets = list(dict.fromkeys(difference.index.get_level_values("set")))
        for i, set_name in enumerate(sets):
            values = difference.xs(set_name, level="set").to_numpy()
            ax.plot(
                np.full(len(values), i) + np.linspace(-0.2, 0.2, len(values)),
                values,
                ".",
                markersize=3,
                alpha=0.6,
            )
        ax.axhline(0, color="k", linewidth=0.8)
        labels = [
            part.loc[part["set"] == s, "severity"].iloc[0] if (part["set"] == s).any() else s
            for s in sets
        ]
        ax.set_xticks(range(len(sets)), labels, rotation=20, fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(f"{METRIC_LABELS.get(metric, metric)}: a - b")
    return fig


def plot_metric_fidelity(scores: pd.DataFrame, metric: str = "ssim"):
    """Per slice: the metric with the code's setting against the text's, one colour per
    method; the diagonal marks no change."""
    part = scores[scores["metric"] == metric]
    wide = part.pivot_table(
        index=["set", "method", "slice"], columns="metric_fidelity", values="value"
    ).dropna()
    fig, axes = figure(1, 1, (4.2, 4.0))
    ax = axes[0, 0]
    for method, group in wide.groupby(level="method"):
        ax.plot(group["paper"], group["code"], ".", markersize=3, alpha=0.6, label=method)
    low = float(min(wide["paper"].min(), wide["code"].min()))
    ax.plot([low, 1], [low, 1], "k-", linewidth=0.8)
    label = METRIC_LABELS.get(metric, metric)
    ax.set_xlabel(f"{label}, text (data range = reference's max - min)")
    ax.set_ylabel(f"{label}, code (data range 2)")
    ax.legend(fontsize=7, markerscale=2)
    return fig


def plot_corruption_distributions(samples: pd.DataFrame, columns: Sequence[str]):
    """Histograms of some columns of `sample_training_corruptions`, one colour per variant
    (a column whose values span more than two decades is shown on a log axis)."""
    fig, axes = figure(1, len(columns), column_size(3.2 * len(columns), 2.6))
    for ax, column in zip(axes[0], columns, strict=True):
        values = samples[column].dropna()
        low, high = float(values.min()), float(values.max())
        logarithmic = low > 0 and high / low > 100
        bins: np.ndarray | int
        if logarithmic:
            bins = np.geomspace(low, high, 20)
            ax.set_xscale("log")
        else:
            bins = np.linspace(low, high, 16) if high > low else 5
        for variant, part in samples.groupby("variant", sort=False):
            ax.hist(part[column], bins=bins, alpha=0.5, label=str(variant))
        ax.set_title(column, fontsize=9)
    axes[0, 0].legend(fontsize=8)
    return fig
