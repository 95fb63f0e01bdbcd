"""The artefact gallery: each artefact at three strengths, with its k-space and its error.

Also `preset_effects`: what each severity preset (`mtmri_lib.artefacts.presets`) does to
image quality, measured as the SSIM and VIF drop over many slices and draws.

Used by the book's artefact chapter; the notebook only calls these functions.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import check_choice, check_image, check_int
from .artefacts import KINDS, corrupt, preset_names, preset_values
from .fourier import fft2c

__all__ = [
    "GALLERY",
    "GalleryEntry",
    "artefact_gallery",
    "plot_gallery",
    "summarise_gallery",
    "preset_effects",
]

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


def _setting_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in values.items())


def _drop_statistics(label: str, drops: np.ndarray) -> dict[str, float]:
    return {
        f"{label} drop": float(np.mean(drops)),
        # The sample sd; undefined for a single value.
        f"{label} drop sd": float(np.std(drops, ddof=1)) if drops.size > 1 else float("nan"),
        f"{label} drop 5%": float(np.percentile(drops, 5)),
        f"{label} drop 95%": float(np.percentile(drops, 95)),
    }


def preset_effects(
    images: np.ndarray | Sequence[np.ndarray],
    *,
    seed: int = 0,
    draws: int = 4,
    max_images: int | None = None,
    kinds: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    fidelity: str = "paper",
):
    """The measured image-quality drop of every severity preset, over slices and draws.

    Each clean slice is corrupted ``draws`` times with each preset of each kind (what the
    preset leaves open is drawn anew each time) and scored against itself with
    `mtmri_lib.metrics.ssim` and `mtmri_lib.metrics.vif`, both images z-normalised; the drop
    is ``1 - metric`` (0: unchanged; a VIF above 1, as a contrast-raising bias field can
    give, is a negative drop).

    Parameters
    ----------
    images : ndarray of shape (n, H, W), or a sequence of (H, W) arrays
        Clean slices as the pipeline gives them (scaled to [0, 1]); at least 7 x 7 (the
        SSIM window).
    seed : int
        Non-negative. Each (kind, preset) pair draws from its own Generator,
        ``SeedSequence([seed, crc32(kind), crc32(preset)])``, so adding a preset or a kind
        changes no other row.
    draws : int
        Corruptions per slice and preset (>= 1).
    max_images : int, optional
        Use at most this many slices (>= 1), evenly spread over ``images`` (a stack holds
        the slices of one volume together, so the first few would be one volume's).
    kinds : sequence of str, optional
        The kinds to measure (default: all four, in the heads' order).
    names : sequence of str, optional
        The presets to measure for every kind (default: each kind's own, `preset_names`); for
        example ``("mild", "moderate", "severe")``.
    fidelity : {"paper", "code"}
        Passed to `corrupt` and the metrics.

    Returns
    -------
    pandas.DataFrame
        Indexed by (kind, preset); columns ``setting`` (the pinned values), ``samples``
        (slices x draws), and for SSIM and VIF the mean drop, its sample sd and its 5 % and
        95 % percentiles (``SSIM drop``, ``SSIM drop sd``, ``SSIM drop 5%``,
        ``SSIM drop 95%``, the same for ``VIF``).

    Raises
    ------
    ValueError, TypeError
        For no images, an image that is not a finite 2-D array, a bad ``seed`` or ``draws``,
        an unknown kind, or a preset a kind does not have (naming the kind).
    """
    import pandas as pd

    from .metrics import FIDELITIES, ssim, vif

    if isinstance(images, np.ndarray) and images.ndim == 2:
        raise ValueError(
            f"images must be a stack (n, H, W) or a sequence of slices; got one slice of shape "
            f"{images.shape} (wrap it in a list)"
        )
    if len(images) == 0:
        raise ValueError("images must hold at least one slice; got none")
    positions = np.arange(len(images))
    if max_images is not None:
        max_images = check_int("max_images", max_images, 1)
        if len(images) > max_images:
            positions = np.unique(np.round(np.linspace(0, len(images) - 1, max_images)))
    slices = [check_image(images[int(i)], f"images[{int(i)}]") for i in positions]
    seed = check_int("seed", seed, 0)
    draws = check_int("draws", draws, 1)
    check_choice("fidelity", fidelity, FIDELITIES)
    kinds = KINDS if kinds is None else tuple(check_choice("kind", k, KINDS) for k in kinds)
    plan = [
        (kind, name, preset_values(kind, name))  # checked before any work
        for kind in kinds
        for name in (preset_names(kind) if names is None else names)
    ]
    rows = []
    for kind, name, values in plan:
        rng = np.random.default_rng(
            np.random.SeedSequence([seed, zlib.crc32(kind.encode()), zlib.crc32(name.encode())])
        )
        ssim_drop, vif_drop = [], []
        for clean in slices:
            for _ in range(draws):
                corrupted = corrupt(clean, kind, rng, preset=name, fidelity=fidelity).image
                ssim_drop.append(1.0 - ssim(clean, corrupted, fidelity=fidelity))
                vif_drop.append(1.0 - vif(clean, corrupted, fidelity=fidelity))
        rows.append(
            {
                "kind": kind,
                "preset": name,
                "setting": _setting_text(values),
                "samples": len(ssim_drop),
                **_drop_statistics("SSIM", np.asarray(ssim_drop)),
                **_drop_statistics("VIF", np.asarray(vif_drop)),
            }
        )
    return pd.DataFrame(rows).set_index(["kind", "preset"])
