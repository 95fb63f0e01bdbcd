"""Figures and small tables of the search and training chapters.

Each function takes what `mtmri_lib.training` and `mtmri_lib.training.search` return and builds a
matplotlib figure (closed in pyplot, so a notebook shows the returned figure once) or a
pandas DataFrame; the notebooks only call them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .base import figure
from .layout import column_size

__all__ = [
    "plot_training_curves",
    "plot_training_times",
    "plot_search_history",
]


def plot_training_curves(trained: Sequence[Any], *, metric: str = "mse"):
    """Training and validation curves of each model, one panel per model, one line per seed.

    Parameters
    ----------
    trained : sequence of TrainedModel
        From `mtmri_lib.training.train_models` or `trained_models`.
    metric : str
        A logged metric: ``"mse"`` (of the inference output, what early stopping watches),
        ``"loss"``, ``"reconstruction"`` or ``"regulariser"``.

    Solid lines: validation; dashed: training (mean over the epoch, on new corruptions each
    epoch); the dotted grey line is the validation MSE of the corrupted input itself; a dot
    marks the epoch whose weights were kept.
    """
    labels = list(dict.fromkeys(model.label for model in trained))
    columns = min(4, max(1, len(labels)))
    rows = math.ceil(len(labels) / columns) if labels else 1
    fig, axes = figure(rows, columns, column_size(3.3 * columns, 2.7 * rows))
    colours = ["C0", "C1", "C2", "C3", "C4"]
    for ax in axes.flat[len(labels) :]:
        ax.set_visible(False)
    for ax, label in zip(axes.flat, labels, strict=False):
        models = [model for model in trained if model.label == label]
        for k, model in enumerate(models):
            history = model.history
            colour = colours[k % len(colours)]
            if f"val_{metric}" in history:
                ax.plot(
                    history["epoch"],
                    history[f"val_{metric}"],
                    color=colour,
                    label=f"seed {model.seed}",
                )
                best = model.record.get("best_epoch")
                if best is not None and metric == "mse":
                    value = history.loc[history["epoch"] == best, "val_mse"]
                    ax.plot([best], value, "o", color=colour, markersize=4)
            if metric in history:
                ax.plot(history["epoch"], history[metric], "--", color=colour, alpha=0.6)
        reference = models[0].record.get("reference_val_mse") if models else None
        if reference is not None and metric == "mse":
            ax.axhline(reference, color="0.5", linestyle=":", label="corrupted input")
            low, high = ax.get_ylim()
            ax.set_ylim(low, max(high, reference + 0.05 * (high - low)))
        if ax is axes.flat[0]:
            ax.plot([], [], color="0.3", label="validation")
            ax.plot([], [], "--", color="0.3", alpha=0.6, label="training")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
    return fig


def plot_training_times(summary: Any):
    """Training time per model (bars; one per model and seed) from `training_summary`."""
    fig, axes = figure(1, 1, column_size(7.0, 2.8))
    ax = axes[0, 0]
    names = [f"{row.model} (seed {row.seed})" for row in summary.itertuples()]
    ax.barh(names, summary["training time (s)"], color="C0")
    ax.invert_yaxis()
    ax.set_xlabel("training time (s, all epochs; the first includes compilation)")
    ax.tick_params(axis="y", labelsize=8)
    return fig


def plot_search_history(trials: Mapping[str, Any]):
    """The search of each model: validation MSE per trial with the best so far, and the
    learning rate of each trial against its score.

    Parameters
    ----------
    trials : dict
        ``{label: DataFrame}`` from `mtmri_lib.training.search.search_trials` (or the ``trials`` of
        each `SearchResult`).
    """
    searched = {label: table for label, table in trials.items() if not table.empty}
    rows = max(1, len(searched))
    fig, axes = figure(rows, 2, column_size(9.0, 2.8 * rows))
    if not searched:
        axes[0, 0].text(0.5, 0.5, "no search results", ha="center", va="center")
        axes[0, 1].set_visible(False)
        return fig
    for (label, table), (left, right) in zip(searched.items(), axes, strict=False):
        order = np.arange(1, len(table) + 1)
        left.plot(order, table["val_mse"], "o", color="C0", label="trial")
        left.step(order, table["best so far"], where="post", color="C1", label="best so far")
        left.set_title(f"{label}: validation MSE per trial", fontsize=10)
        left.set_xlabel("trial (in the order run)")
        left.set_ylabel("best val MSE of the trial")
        left.legend(fontsize=7)
        for optimizer, colour in (("adam", "C2"), ("rmsprop", "C3")):
            chosen = table[table["optimizer"] == optimizer]
            right.plot(
                chosen["learning_rate"], chosen["val_mse"], "o", color=colour, label=optimizer
            )
        right.set_xscale("log")
        right.set_xlim(1e-7, 1e-2)
        right.set_title(f"{label}: learning rate", fontsize=10)
        right.set_xlabel("learning rate")
        right.set_ylabel("best val MSE of the trial")
        right.legend(fontsize=7)
    return fig
