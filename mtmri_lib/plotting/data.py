"""Tables and figures of the data chapter (the notebook only calls these and displays them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..artefacts import KINDS
from ..data.evalsets import EvalSets
from ..data.slicesets import SliceSet, volume_contrast
from .base import figure, image_panel
from .layout import column_size

__all__ = [
    "plot_subjects",
    "plot_examples",
    "plot_artefact_distribution",
    "plot_eval_sets",
]


def plot_subjects(
    sets: Mapping[str, SliceSet],
    real: Sequence[tuple[str, np.ndarray]] = (),
    *,
    per_contrast: int = 3,
):
    """A montage: the middle slice of a few synthetic subjects per contrast (one row per
    contrast), then a row of real packaged images (`mtmri_lib.report.views.real_slices`)
    prepared the same way, for comparison. Titles give the subject and its split."""
    chosen: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, slice_set in sets.items():
        for patient in dict.fromkeys(slice_set.patient_id.tolist()):
            where = np.flatnonzero(slice_set.patient_id == patient)
            label = str(slice_set.volume[where[0]])
            contrast = volume_contrast(patient, label)
            row = chosen.setdefault(contrast, [])
            if len(row) < per_contrast:
                middle = int(where[len(where) // 2])
                row.append((f"{patient}\n({name})", np.asarray(slice_set.images[middle])))
    rows = [(contrast, chosen[contrast]) for contrast in sorted(chosen)]
    if real:
        rows.append(("real images", list(real)))
    columns = max(len(panels) for _, panels in rows)
    fig, axes = figure(len(rows), columns, column_size(2.2 * columns, 2.4 * len(rows)))
    for r, (contrast, panels) in enumerate(rows):
        for c in range(columns):
            ax = axes[r, c]
            if c >= len(panels):
                ax.axis("off")
                continue
            title, image = panels[c]
            image_panel(ax, image, title, limits=(0.0, 1.0))
        axes[r, 0].set_ylabel(contrast, fontsize=10)
    fig.suptitle("Synthetic subjects by contrast, and the real packaged images", fontsize=11)
    return fig


def plot_examples(sets: Mapping[str, SliceSet], n_columns: int = 5):
    """Example slices of each split, spread evenly over the split (one row per split)."""
    names = [name for name, s in sets.items() if len(s)]
    fig, axes = figure(len(names), n_columns, column_size(2.1 * n_columns, 2.3 * len(names)))
    for row, name in enumerate(names):
        slice_set = sets[name]
        chosen = np.unique(np.linspace(0, len(slice_set) - 1, n_columns).round().astype(int))
        for col in range(n_columns):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(chosen):
                ax.axis("off")
                continue
            i = int(chosen[col])
            ax.imshow(np.asarray(slice_set.images[i]), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{slice_set.volume[i]}\nslice {slice_set.slice_index[i]}", fontsize=7)
        axes[row, 0].set_ylabel(f"{name}\n({len(slice_set)} slices)")
    fig.suptitle(f"Prepared slices ({sets[names[0]].size} x {sets[names[0]].size}, [0, 1])")
    return fig


def _hist(ax: Any, values: Any, title: str, bins: Any = 12) -> None:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size:
        ax.hist(values, bins=bins, color="0.35")
    ax.set_title(f"{title} (n = {values.size})", fontsize=9)


def plot_artefact_distribution(samples: Any):
    """Histograms of the artefact kinds and their main parameters over training samples.

    ``samples`` is the DataFrame of `describe_samples`.
    """
    fig, axes = figure(2, 4, column_size(13, 5.6))
    axes = axes.ravel()
    counts = samples["kind"].value_counts().reindex(list(KINDS))
    counts = counts.dropna()
    axes[0].bar(counts.index, counts.values, color="0.35")
    axes[0].set_title(f"artefact per sample (n = {len(samples)})", fontsize=9)
    axes[0].tick_params(axis="x", labelsize=8)

    def column(kind: str, key: str) -> Any:
        if key not in samples:
            return []
        return samples.loc[samples["kind"] == kind, key].dropna()

    _hist(axes[1], column("bias", "field_width"), "bias: field max - min")
    _hist(axes[2], column("bias", "length_scale"), "bias: length scale (cells)")
    masks = column("subsampling", "mask")
    if len(masks):
        table = (
            samples.loc[samples["kind"] == "subsampling"].groupby(["acceleration", "mask"]).size()
        )
        table = table.unstack(fill_value=0)
        bottom = np.zeros(len(table))
        for mask in table.columns:
            axes[3].bar(table.index.astype(str), table[mask].values, bottom=bottom, label=mask)
            bottom += table[mask].values
        axes[3].legend(fontsize=7)
    axes[3].set_title(f"subsampling: acceleration, mask (n = {len(masks)})", fontsize=9)
    _hist(axes[4], column("motion", "corrupted_fraction"), "motion: corrupted fraction")
    segments = column("motion", "n_segments")
    _hist(axes[5], segments, "motion: segments", bins=np.arange(0.5, 26.5, 1.0))
    _hist(axes[6], column("noise", "snr_db"), "noise: SNR (dB)")
    pe = _pe_axis_counts(samples)
    axes[7].bar([str(k) for k in pe.index], pe.values, color="0.35")
    axes[7].set_title("phase-encoding axis (subsampling, motion)", fontsize=9)
    return fig


def _pe_axis_counts(samples: Any):
    """Counts of the phase-encoding axis over the samples that have one."""
    if "pe_axis" not in samples:
        import pandas as pd

        return pd.Series(dtype=int)
    return samples["pe_axis"].dropna().astype(int).value_counts().sort_index()


def plot_eval_sets(sets: EvalSets, index: int = 0):
    """One test slice in every evaluation set: a row per table (3-7), the clean slice first."""
    by_table: dict[int, list[str]] = {}
    for name in sets.names:
        by_table.setdefault(sets[name].setting.table, []).append(name)
    n_columns = 1 + max(len(v) for v in by_table.values())
    fig, axes = figure(len(by_table), n_columns, column_size(2.3 * n_columns, 2.4 * len(by_table)))
    clean = sets.clean[index]
    limits = (float(clean.min()), float(clean.max()))
    for row, (table, names) in enumerate(sorted(by_table.items())):
        axes[row, 0].imshow(clean, cmap="gray", vmin=limits[0], vmax=limits[1])
        axes[row, 0].set_title("clean", fontsize=8)
        axes[row, 0].set_ylabel(f"Table {table}")
        for col in range(1, n_columns):
            ax = axes[row, col]
            if col - 1 >= len(names):
                ax.axis("off")
                continue
            evalset = sets[names[col - 1]]
            ax.imshow(evalset.corrupted[index], cmap="gray", vmin=limits[0], vmax=limits[1])
            title = evalset.setting.label
            if evalset.setting.scenario:
                title += "\n" + " then ".join(evalset.params[index]["order"])
            ax.set_title(title, fontsize=8)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    origin = sets.slices[index]
    fig.suptitle(
        f"Evaluation sets, test slice {index}: {origin['volume']} slice {origin['slice_index']} "
        "(z-normalised, same grey scale)",
        fontsize=10,
    )
    return fig
