"""The one figure convention of the library: how a figure is made, and its three panels.

- `figure`: a constrained-layout figure with a 2-D array of axes, closed in pyplot as soon
  as it is made. Pyplot never keeps it, so a notebook cell shows the returned figure once
  (as its value) and no figure leaks into the next cell; the library never selects a
  matplotlib backend.
- `image_panel`: an image without ticks, grey or on a symmetric blue-red scale.
- `kspace_panel` and `kspace_log`: the one k-space display, log10 of the magnitude with its
  grey levels clipped at percentiles, so that masks, corrupted lines and the noise floor
  show (a plain ``log(1 + |k|)`` leaves a dark square with one bright dot).
- `difference_panel`: an image difference on a fixed symmetric scale, with its colour bar.
- `figure_png`: a figure as PNG bytes (the explorers' frames), optionally with a small
  palette so that the pages holding many frames stay small.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..report.images import palette_png

__all__ = [
    "KSPACE_PERCENTILES",
    "figure",
    "figure_png",
    "image_panel",
    "kspace_log",
    "kspace_limits",
    "kspace_panel",
    "difference_panel",
]

#: Percentiles of log10 |k| that set the grey scale of a k-space panel.
KSPACE_PERCENTILES: tuple[float, float] = (1.0, 99.95)


def figure(rows: int, columns: int, size: tuple[float, float], **options: Any):
    """``(fig, axes)``: a constrained-layout figure with a (rows, columns) array of axes.

    The figure is closed in pyplot before it is returned (the caller displays it).
    ``options`` go to ``plt.subplots`` (``sharex``, ``gridspec_kw``, ...).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        rows, columns, figsize=size, squeeze=False, layout="constrained", **options
    )
    plt.close(fig)
    return fig, axes


def figure_png(fig: Any, dpi: int = 80, *, colours: int | None = None) -> bytes:
    """The figure as PNG bytes.

    ``colours``: None keeps full colour; an int from 2 to 256 stores the picture with a
    palette of that many colours (`mtmri_lib.report.images.palette_png`: about a third of
    the bytes, for the static explorers, which embed every frame in the page).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    if colours is None:
        return buffer.getvalue()
    return palette_png(buffer.getvalue(), colours)


def image_panel(
    ax,
    image: np.ndarray,
    title: str,
    *,
    symmetric: bool = False,
    cmap: Any = "gray",
    limits: tuple[float, float] | None = None,
    **options: Any,
):
    """Show one image without ticks; returns the ``AxesImage``.

    ``symmetric``: blue-red around 0, on +-``limits[1]`` if given, else on +- the image's own
    largest magnitude; otherwise ``cmap`` (a name or a matplotlib ``Colormap``) on ``limits``
    (None: the image's range).
    ``options`` go to ``imshow`` (``aspect``, ``origin``).
    """
    image = np.asarray(image, dtype=np.float64)
    if symmetric:
        limit = float(limits[1]) if limits is not None else float(np.max(np.abs(image)))
        limit = limit or 1.0
        shown = ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit, **options)
    else:
        low, high = (None, None) if limits is None else limits
        shown = ax.imshow(image, cmap=cmap, vmin=low, vmax=high, **options)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def kspace_log(kspace: np.ndarray) -> np.ndarray:
    """log10 of the k-space magnitude, with zeros (masked lines) at the smallest non-zero
    magnitude's level rather than at minus infinity."""
    magnitude = np.abs(np.asarray(kspace))
    positive = magnitude[magnitude > 0]
    floor = float(positive.min()) if positive.size else 1.0
    return np.log10(np.maximum(magnitude, floor))


def kspace_limits(
    *logs: np.ndarray, percentiles: tuple[float, float] = KSPACE_PERCENTILES
) -> tuple[float, float]:
    """The grey-scale limits shared by k-space panels: the ``percentiles`` (default
    `KSPACE_PERCENTILES`) of their log magnitudes together."""
    low_p, high_p = (float(p) for p in percentiles)
    if not 0.0 <= low_p < high_p <= 100.0:
        raise ValueError(
            f"percentiles must be (low, high) with 0 <= low < high <= 100; got {percentiles!r}"
        )
    values = np.concatenate([np.ravel(log) for log in logs])
    low, high = np.percentile(values, (low_p, high_p))
    return float(low), float(max(high, low + 1e-6))


def kspace_panel(ax, kspace: np.ndarray, title: str, *, limits: tuple[float, float] | None = None):
    """Show a k-space (complex, centred) as `kspace_log` on ``limits`` (None: its own
    percentiles)."""
    log = kspace_log(kspace)
    return image_panel(ax, log, title, cmap="magma", limits=limits or kspace_limits(log))


def difference_panel(ax, difference: np.ndarray, title: str, *, limit: float, colorbar=True):
    """Show a difference image on the fixed symmetric scale +-``limit`` (blue-red), with its
    colour bar unless ``colorbar`` is False."""
    shown = image_panel(ax, difference, title, symmetric=True, limits=(-limit, limit))
    if colorbar:
        ax.figure.colorbar(shown, ax=ax, shrink=0.8)
    return shown
