"""The artefact gallery: each artefact at three strengths, with its k-space and its error.

Used by the book's artefact chapter; the notebook only calls these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .artefacts import corrupt
from .fourier import fft2c

__all__ = ["GALLERY", "GalleryEntry", "artefact_gallery", "plot_gallery", "summarise_gallery"]

#: Three strengths per artefact (mild, moderate, strong), each a set of pinned parameters.
#: Bias widths and noise levels span the article's training ranges; subsampling uses the
#: article's accelerations; motion pins the fraction of corrupted lines (and one pose draw).
GALLERY: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "bias": [
        ("field 0.9-1.1", {"field_range": (0.9, 1.1)}),
        ("field 0.75-1.25", {"field_range": (0.75, 1.25)}),
        ("field 0.5-1.5", {"field_range": (0.5, 1.5)}),
    ],
    "subsampling": [
        ("random x2", {"acceleration": 2, "mask": "random"}),
        ("random x4", {"acceleration": 4, "mask": "random"}),
        ("random x8", {"acceleration": 8, "mask": "random"}),
    ],
    "motion": [
        ("rigid, 30 % of lines", {"motion": "rigid", "corrupted_fraction": 0.3}),
        ("rigid, 55 % of lines", {"motion": "rigid", "corrupted_fraction": 0.55}),
        ("rigid, 80 % of lines", {"motion": "rigid", "corrupted_fraction": 0.8}),
    ],
    "periodic motion": [
        ("periodic, Delta 20 px", {"motion": "periodic", "delta": 20.0}),
        ("periodic, Delta 70 px", {"motion": "periodic", "delta": 70.0}),
        ("periodic, Delta 120 px", {"motion": "periodic", "delta": 120.0}),
    ],
    "noise": [
        ("SNR 10 dB", {"snr_db": 10.0}),
        ("SNR 0 dB", {"snr_db": 0.0}),
        ("SNR -10 dB", {"snr_db": -10.0}),
    ],
}


@dataclass
class GalleryEntry:
    """One corrupted image of the gallery."""

    row: str
    label: str
    image: np.ndarray
    params: dict[str, Any]


def _kind(row: str) -> str:
    return "motion" if row == "periodic motion" else row


def artefact_gallery(clean: np.ndarray, seed: int = 0) -> list[GalleryEntry]:
    """Corrupt ``clean`` with every gallery setting.

    Within a row all three strengths share one seed, so only the pinned strength changes
    (the same bias field shape, the same pose draw, the same noise pattern).
    Images keep the clean image's scale (``zscore=False``), so differences are comparable.
    """
    entries = []
    for row, settings in GALLERY.items():
        for label, fixed in settings:
            result = corrupt(clean, _kind(row), seed, zscore=False, **fixed)
            entries.append(GalleryEntry(row, label, result.image, result.params))
    return entries


def summarise_gallery(clean: np.ndarray, entries: list[GalleryEntry]):
    """A table (pandas DataFrame) of each entry's error: RMSE and max |difference|."""
    import pandas as pd

    rows = []
    for entry in entries:
        diff = entry.image - clean
        rows.append(
            {
                "artefact": entry.row,
                "setting": entry.label,
                "RMSE": float(np.sqrt(np.mean(diff**2))),
                "max |difference|": float(np.abs(diff).max()),
            }
        )
    return pd.DataFrame(rows)


def plot_gallery(clean: np.ndarray, entries: list[GalleryEntry], row: str):
    """One figure for one artefact: image, log-magnitude k-space and difference, 3 strengths.

    The first column is the clean image and its k-space, for reference.
    """
    import matplotlib.pyplot as plt

    selected = [e for e in entries if e.row == row]
    if not selected:
        raise ValueError(
            f"no gallery entries for {row!r}; rows: {sorted({e.row for e in entries})}"
        )
    columns = [("clean", clean)] + [(e.label, e.image) for e in selected]
    log_k = [np.log1p(np.abs(fft2c(img))) for _, img in columns]
    k_max = max(float(k.max()) for k in log_k)
    diff_max = max(float(np.abs(e.image - clean).max()) for e in selected) or 1.0
    fig, axes = plt.subplots(3, len(columns), figsize=(2.6 * len(columns), 8.0), squeeze=False)
    plt.close(fig)  # the caller displays the returned figure; pyplot must not show it again
    for col, ((label, img), k) in enumerate(zip(columns, log_k, strict=True)):
        axes[0, col].imshow(img, cmap="gray", vmin=0, vmax=max(1.0, float(clean.max())))
        axes[0, col].set_title(label, fontsize=9)
        axes[1, col].imshow(k, cmap="magma", vmin=0, vmax=k_max)
        if col == 0:
            axes[2, col].axis("off")
        else:
            shown = axes[2, col].imshow(img - clean, cmap="RdBu_r", vmin=-diff_max, vmax=diff_max)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("log(1 + |k-space|)")
    axes[2, 1].set_ylabel("corrupted - clean")
    fig.colorbar(shown, ax=axes[2, 1:].tolist(), shrink=0.8, label="difference")
    fig.suptitle(f"{row}: three strengths", fontsize=11)
    return fig
