"""The artefact gallery: each artefact at three strengths, with its k-space and its error.

Also `plot_explorer_state`: one frame of the artefact explorers (`mtmri_lib.plotting.widgets`),
the clean and the corrupted slice, the corrupted k-space with the lines the artefact touched
drawn over it, and the difference on the explorer's fixed scale.

Also `preset_effects`: what each severity preset (`mtmri_lib.artefacts.presets`) does to
image quality, measured as the SSIM and VIF drop over many slices and draws.

Used by the book's artefact chapter; the notebook only calls these functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..fourier import fft2c
from ..report.views import GalleryEntry
from .base import difference_panel, figure, image_panel, kspace_limits, kspace_log, kspace_panel
from .layout import column_size

__all__ = [
    "EXPLORER_DPI",
    "EXPLORER_FIGSIZE",
    "EXPLORER_LEVELS",
    "plot_explorer_state",
    "plot_gallery",
]

#: Size (inches) of an explorer frame: four panels of at least 280 px each at
#: `EXPLORER_DPI`, 780 px wide in all (the book's text column is 784 px).
EXPLORER_FIGSIZE = (6.5, 6.6)
#: Resolution of the explorer frames (pixels per inch).
EXPLORER_DPI = 120
#: Grey and colour levels of an explorer frame's maps: few enough that a frame, text
#: included, fits a 256-colour palette exactly (see `mtmri_lib.plotting.base.figure_png`).
EXPLORER_LEVELS = 64
#: Colour and opacity of the samples marked on the k-space panel.
_MARK_RGBA = {"not acquired": (0.0, 0.75, 1.0, 0.45), "corrupted": (1.0, 0.15, 0.1, 0.35)}


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
    fig, axes = figure(3, len(columns), column_size(2.6 * len(columns), 8.0))
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


def plot_explorer_state(
    clean: np.ndarray,
    corrupted: np.ndarray,
    *,
    kspace_limits: tuple[float, float],
    difference_limit: float,
    marked: np.ndarray | None = None,
    mark: str = "corrupted",
    title: str = "",
):
    """One explorer frame: clean | corrupted over k-space | difference (2 x 2 panels).

    Parameters
    ----------
    clean, corrupted : ndarray of shape (H, W)
        On the clean slice's [0, 1] scale (``corrupt(..., zscore=False)``).
    kspace_limits : (low, high)
        Grey-scale limits of log10 |k| (fixed for every frame of an explorer).
    difference_limit : float > 0
        The symmetric scale of corrupted - clean, with its colour bar.
    marked : ndarray of bool, shape (H, W), or None
        k-space samples tinted over the k-space panel: ``mark="not acquired"`` (a
        subsampling mask's complement, cyan) or ``"corrupted"`` (motion lines, red).
    """
    clean = np.asarray(clean, dtype=np.float64)
    corrupted = np.real(np.asarray(corrupted)).astype(np.float64)
    if clean.shape != corrupted.shape or clean.ndim != 2:
        raise ValueError(
            f"clean and corrupted must be 2-D images of one shape; got {clean.shape} and "
            f"{corrupted.shape}"
        )
    if not difference_limit > 0:
        raise ValueError(f"difference_limit must be > 0; got {difference_limit!r}")
    if mark not in _MARK_RGBA:
        raise ValueError(f"mark must be one of {', '.join(_MARK_RGBA)}; got {mark!r}")
    import matplotlib

    maps = {
        name: matplotlib.colormaps[name].resampled(EXPLORER_LEVELS)
        for name in ("gray", "magma", "RdBu_r")
    }
    fig, axes = figure(2, 2, EXPLORER_FIGSIZE)
    grey = (0.0, max(1.0, float(clean.max())))
    # Nearest-neighbour pixels: what the simulator computed, and small PNG frames.
    sharp: dict[str, Any] = {"interpolation": "nearest"}
    image_panel(axes[0, 0], clean, "clean", limits=grey, cmap=maps["gray"], **sharp)
    image_panel(axes[0, 1], corrupted, "corrupted", limits=grey, cmap=maps["gray"], **sharp)
    k_title = "log10 |k-space|, clipped"
    if marked is not None:
        marked = np.asarray(marked, dtype=bool)
        if marked.shape != clean.shape:
            raise ValueError(
                f"marked must have the image's shape {clean.shape}; got {marked.shape}"
            )
        k_title += f"\n{mark}: {'cyan' if mark == 'not acquired' else 'red'}"
    image_panel(
        axes[1, 0],
        kspace_log(fft2c(corrupted)),
        k_title,
        cmap=maps["magma"],
        limits=kspace_limits,
        **sharp,
    )
    if marked is not None and marked.any():
        tint = np.zeros(marked.shape + (4,))
        tint[marked] = _MARK_RGBA[mark]
        axes[1, 0].imshow(tint, **sharp)
    shown = difference_panel(
        axes[1, 1], corrupted - clean, "corrupted - clean", limit=difference_limit, colorbar=False
    )
    shown.set_interpolation("nearest")
    shown.set_cmap(maps["RdBu_r"])
    # The colour bar in the margin beside the panel, so the panel keeps its full size.
    bar = axes[1, 1].inset_axes((1.04, 0.05, 0.05, 0.9))
    fig.colorbar(shown, cax=bar, label=f"fixed scale +-{difference_limit:.3g}")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
