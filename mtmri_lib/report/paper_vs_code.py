"""Measuring what each difference between the article's text and the released code changes.

FACTS.md lists where the released code differs from the article; ``fidelity="code"``
reproduces the code throughout the package. The paper-vs-code chapter measures each
difference on the same data, at three levels:

- artefacts: the training distributions of bias fields and rigid motion under each
  fidelity (`sample_training_corruptions`);
- metrics and methods: the same slices scored or corrected both ways, as a table with
  rows for each variant (`variant_table`, then `mtmri_lib.report.tables.build_table`);
- statistics: what the difference does to the bold groups (`compare_tables`).

No model is retrained: the differences that only act through training (the residual
regulariser, the training artefact distributions) are shown at the artefact level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..artefacts import corrupt, make_mask
from ..evaluation import CORRUPTED_INPUT
from ..fourier import fft2c
from ..metrics import METRIC_LABELS, score_pairs
from .tables import BASELINE, REFERENCE, ResultTable, Row, TableSpec, build_table

__all__ = [
    "variant_table",
    "compare_tables",
    "compare_metric_fidelity",
    "summarise_comparison",
    "sample_training_corruptions",
    "describe_corruptions",
    "severity_table",
    "mask_fractions",
    "measured_snr",
]


def variant_table(
    number: int,
    title: str,
    artefact: str,
    sets: Sequence[str],
    labels: Sequence[str],
    *,
    reference: str | None = CORRUPTED_INPUT,
) -> TableSpec:
    """A table whose rows are variants of one method (and the corrupted input first)."""
    rows = [Row(reference, REFERENCE)] if reference else []
    rows += [Row(label, BASELINE) for label in labels]
    return TableSpec(number, title, artefact, tuple(sets), tuple(rows))


def compare_tables(
    first: ResultTable, second: ResultTable, names: tuple[str, str] = ("paper", "code")
) -> pd.DataFrame:
    """Cell by cell: both means, their difference, and each cell's bold status.

    Rows: (severity, metric, method) over the rows run in both tables; the last column says
    whether the cell's membership of the bold group differs.
    """
    a, b = names
    records = []
    for column in first.mean.columns:
        if column not in second.mean.columns:
            continue
        for label in first.mean.index:
            if label not in second.mean.index:
                continue
            mean_a, mean_b = first.mean.loc[label, column], second.mean.loc[label, column]
            if np.isnan(mean_a) or np.isnan(mean_b):
                continue
            bold_a = bool(first.bold.loc[label, column])
            bold_b = bool(second.bold.loc[label, column])
            records.append(
                {
                    "severity": column[0],
                    "metric": column[1],
                    "method": label,
                    f"mean ({a})": mean_a,
                    f"mean ({b})": mean_b,
                    f"{b} - {a}": mean_b - mean_a,
                    f"bold ({a})": bold_a,
                    f"bold ({b})": bold_b,
                    "bold changes": bold_a != bold_b,
                }
            )
    return pd.DataFrame(records).set_index(["severity", "metric", "method"])


def compare_metric_fidelity(
    scores: pd.DataFrame,
    tables: Sequence[int] = (3, 4, 5, 6),
    *,
    info: Any = None,
) -> pd.DataFrame:
    """`compare_tables` of each table built from the "paper" and the "code" metric scores
    (``scores`` must hold both, see `mtmri_lib.evaluation.evaluate`'s ``metric_fidelity``);
    one frame with a ``table`` column."""

    frames = []
    for number in tables:
        paper = build_table(scores, number, info=info, metric_fidelity="paper")
        code = build_table(scores, number, info=info, metric_fidelity="code")
        frames.append(compare_tables(paper, code).assign(table=number))
    return pd.concat(frames)


def summarise_comparison(comparison: pd.DataFrame, names: tuple[str, str] = ("paper", "code")):
    """Per table and metric: mean and largest absolute difference, cells whose bold status
    changes, and cells compared."""
    a, b = names
    difference = f"{b} - {a}"
    grouped = comparison.reset_index().groupby(["table", "metric"])
    return pd.DataFrame(
        {
            "mean difference": grouped[difference].mean(),
            "largest |difference|": grouped[difference].apply(lambda d: d.abs().max()),
            "bold changes": grouped["bold changes"].sum().astype(int),
            "cells": grouped.size(),
        }
    )


def _summary(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    if kind == "bias":
        low, high = params["field_range"]
        return {"field min": float(low), "field max": float(high), "width": high - low}
    if kind == "motion":
        return {
            "corrupted fraction": float(params.get("corrupted_fraction") or 0.0),
            "segments": int(params.get("n_segments") or 0),
            "clean centre": float(params.get("clean_centre") or 0.0),
        }
    return {
        k: v
        for k, v in params.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seed"
    }


def sample_training_corruptions(
    images: np.ndarray,
    kind: str,
    *,
    fidelity: str = "paper",
    n: int = 100,
    seed: int = 0,
    metrics: Sequence[str] = ("ssim", "vif"),
    variant: str | None = None,
    **fixed: Any,
) -> pd.DataFrame:
    """Draw ``n`` corruptions of ``kind`` from the training distribution of a fidelity.

    The images (clean slices in [0, 1]) are used in turn; draw ``i`` uses
    ``SeedSequence([seed, i])`` for every variant, so all see the same slices and the same
    random stream. ``fixed`` pins keywords of `corrupt` (``clean_centre=0`` for motion
    without a clean centre); ``variant`` names the variant (default: the fidelity, with the
    pinned values). Returns one row per draw: the variant, the parameters that differ
    between the fidelities (field range for bias; corrupted fraction, segments and clean
    centre for motion), the NMSE of the corrupted image to the clean slice
    (``||corrupted - clean||^2 / ||clean||^2``, on the [0, 1] scale, before
    z-normalisation) and the metrics of the corrupted image against the clean slice.
    """

    if variant is None:
        pins = ", ".join(f"{key}={value!r}" for key, value in fixed.items())
        variant = f"{fidelity} ({pins})" if pins else fidelity
    images = np.asarray(images)
    rows, references, corrupted = [], [], []
    for i in range(int(n)):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), i]))
        image = images[i % len(images)]
        result = corrupt(image, kind, rng, fidelity=fidelity, zscore=False, **fixed)
        nmse = float(np.sum((result.image - image) ** 2) / np.sum(image**2))
        rows.append(
            {
                "variant": variant,
                "slice": i % len(images),
                **_summary(kind, result.params),
                "NMSE": nmse,
            }
        )
        references.append(image)
        corrupted.append(result.image)
    frame = pd.DataFrame(rows)
    # The metrics z-normalise both images, as the training pipeline does.
    scores = score_pairs(
        np.stack(references), np.stack(corrupted), metrics, workers=1, progress=False
    )
    for metric in metrics:
        frame[METRIC_LABELS.get(metric, metric)] = scores[metric].to_numpy()
    return frame


def describe_corruptions(samples: pd.DataFrame) -> pd.DataFrame:
    """Median and 5th / 95th percentiles of every column, per variant (in order of first
    appearance), to 4 decimals."""
    order = list(dict.fromkeys(samples["variant"]))
    numeric = samples.drop(columns=["slice"]).groupby("variant", sort=False)
    quantiles = numeric.quantile(np.array([0.05, 0.5, 0.95]))
    quantiles.index = quantiles.index.set_names(["variant", "quantile"])
    wide = quantiles.unstack("quantile")
    assert isinstance(wide, pd.DataFrame)  # a frame's two-level index unstacks to a frame
    return wide.T[order].round(4)


def severity_table(samples: dict[str, pd.DataFrame], reference: str = "code") -> pd.DataFrame:
    """Median NMSE to clean of each artefact's variants, and its ratio to the ``reference``
    variant of the same artefact (the released code's training distribution, by default).

    ``samples`` maps an artefact to its `sample_training_corruptions` rows. Rows: (artefact,
    variant) in the order given.
    """
    frames = []
    for kind, rows in samples.items():
        median = rows.groupby("variant", sort=False)["NMSE"].median()
        if reference not in median.index:
            raise ValueError(f"{kind}: no {reference!r} variant among {list(median.index)}")
        frames.append(
            pd.DataFrame(
                {
                    "median NMSE": median,
                    f"relative to {reference}": median / median[reference],
                }
            ).assign(artefact=kind)
        )
    return pd.concat(frames).reset_index().set_index(["artefact", "variant"])


def mask_fractions(
    n_lines: int = 320,
    *,
    accelerations: Sequence[int] = (2, 3, 4, 8),
    masks: Sequence[str] = ("equispaced", "random"),
    draws: int = 50,
    seed: int = 0,
) -> pd.DataFrame:
    """The fraction of phase-encoding lines each mask samples, under both fidelities.

    ``draws`` masks of ``n_lines`` lines per (mask, acceleration, fidelity), draw ``i`` from
    ``SeedSequence([seed, i])`` for every row. Columns: the mean and standard deviation of
    the sampled fraction, and the nominal 1 / R beside them.
    """

    records = []
    for mask in masks:
        for acceleration in accelerations:
            for fidelity in ("paper", "code"):
                fractions = [
                    make_mask(
                        (n_lines, 2),
                        acceleration=acceleration,
                        mask=mask,
                        pe_axis=0,
                        rng=np.random.default_rng(np.random.SeedSequence([int(seed), i])),
                        fidelity=fidelity,
                    ).mean()
                    for i in range(int(draws))
                ]
                records.append(
                    {
                        "mask": mask,
                        "R": acceleration,
                        "fidelity": fidelity,
                        "nominal 1/R": 1 / acceleration,
                        "sampled fraction": float(np.mean(fractions)),
                        "sd": float(np.std(fractions)),
                    }
                )
    return pd.DataFrame(records).set_index(["mask", "R", "fidelity"])


def measured_snr(
    image: np.ndarray,
    snr_db: Sequence[float] = (5.0, 0.0, -5.0),
    *,
    outputs: Sequence[str] = ("complex", "real"),
    draws: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """The SNR a noise corruption has in the image it returns, against the nominal one.

    For each nominal ``snr_db`` and output, ``draws`` corruptions of ``image`` (in [0, 1]):
    the noise that reached the output, ``out - image``, is taken back to k-space, and its
    SNR is 20 log10(mean |k| / sd) with sd that of each of its real and imaginary parts, as
    the article defines it. Keeping the real part halves the noise power, so "real" comes
    out 10 log10 2 dB (3.0 dB) above the nominal value; ``effective_snr_db`` is what the
    parameters record.
    """

    image = np.asarray(image, dtype=np.float64)
    signal = float(np.mean(np.abs(fft2c(image))))
    records = []
    for nominal in snr_db:
        for output in outputs:
            measured, recorded = [], None
            for i in range(int(draws)):
                rng = np.random.default_rng(np.random.SeedSequence([int(seed), i]))
                result = corrupt(
                    image, "noise", rng, snr_db=float(nominal), output=output, zscore=False
                )
                noise = fft2c(result.image - image)
                sd = float(np.sqrt(np.mean(np.abs(noise) ** 2) / 2))
                measured.append(20 * np.log10(signal / sd))
                recorded = result.params["effective_snr_db"]
            if recorded is None:
                raise ValueError(f"draws must be at least 1; got {draws!r}")
            records.append(
                {
                    "nominal SNR (dB)": float(nominal),
                    "output": output,
                    "measured SNR (dB)": float(np.mean(measured)),
                    "effective_snr_db recorded": float(recorded),
                }
            )
    return pd.DataFrame(records).set_index(["nominal SNR (dB)", "output"])
