"""The artefact gallery: each artefact at three strengths, with its k-space and its error.

Also `preset_effects`: what each severity preset (`mtmri_lib.artefacts.presets`) does to
image quality, measured as the SSIM and VIF drop over many slices and draws.

Used by the book's artefact chapter; the notebook only calls these functions.
"""

from __future__ import annotations

import numpy as np

from ..fourier import fft2c
from ..report.views import GalleryEntry
from .base import difference_panel, figure, image_panel, kspace_limits, kspace_log, kspace_panel

__all__ = [
    "plot_gallery",
]


def plot_gallery(clean: np.ndarray, entries: list[GalleryEntry], row: str):
    """One figure for one artefact: image, log-magnitude k-space and difference, 3 strengths.

    The first column is the clean image and its k-space, for reference.
    """
    selected = [e for e in entries if e.row == row]
    if not selected:
        raise ValueError(
            f"no gallery entries for {row!r}; rows: {sorted({e.row for e in entries})}"
        )
    columns = [("clean", clean)] + [(e.label, e.image) for e in selected]
    kspaces = [fft2c(img) for _, img in columns]
    k_limits = kspace_limits(*[kspace_log(k) for k in kspaces])
    diff_max = max(float(np.abs(e.image - clean).max()) for e in selected) or 1.0
    fig, axes = figure(3, len(columns), (2.6 * len(columns), 8.0))
    grey = (0.0, max(1.0, float(clean.max())))
    for col, ((label, img), k) in enumerate(zip(columns, kspaces, strict=True)):
        image_panel(axes[0, col], img, label, limits=grey)
        kspace_panel(axes[1, col], k, "", limits=k_limits)
        if col == 0:
            axes[2, col].axis("off")
        else:
            shown = difference_panel(axes[2, col], img - clean, "", limit=diff_max, colorbar=False)
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("log10 |k-space|")
    axes[2, 1].set_ylabel("corrupted - clean")
    fig.colorbar(shown, ax=axes[2, 1:].tolist(), shrink=0.8, label="difference")
    fig.suptitle(f"{row}: three strengths", fontsize=11)
    return fig
