"""What a test set of a given size can resolve: the statistical power of the tables.

The article compares methods with a Friedman test and the Nemenyi post-hoc test over test
images (FACTS.md "Evaluation settings"). With n images and k methods, two methods differ
significantly when their mean ranks differ by more than the critical difference

    CD = q_alpha(k) * sqrt(k (k + 1) / (6 n))

(q_alpha: the studentized range quantile for k groups and infinite degrees of freedom, divided
by sqrt 2; Demsar 2006). Two plain-language companions: the smallest standardised paired
difference (Cohen's d of the per-image differences) a two-sided paired test detects with the
given power, and the share of images on which the better method must win for a sign test to
detect it. Slices of one volume are correlated, so the same figures for n = the number of
volumes bound the power from the other side.
"""

from __future__ import annotations

import math

from scipy import stats

from .._checks import check_int, check_number

__all__ = ["nemenyi_critical_difference", "detectable_effect", "detectable_win_rate", "power_table"]


def nemenyi_critical_difference(n_images: int, n_methods: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of mean ranks (ranks run from 1 to ``n_methods``)."""
    n = check_int("n_images", n_images, 1)
    k = check_int("n_methods", n_methods, 2)
    alpha = check_number("alpha", alpha, 0.0, 1.0, low_open=True, high_open=True)
    q = stats.studentized_range.ppf(1.0 - alpha, k, math.inf) / math.sqrt(2.0)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def _z_sum(alpha: float, power: float) -> float:
    alpha = check_number("alpha", alpha, 0.0, 1.0, low_open=True, high_open=True)
    power = check_number("power", power, 0.0, 1.0, low_open=True, high_open=True)
    return float(stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power))


def detectable_effect(
    n_images: int, alpha: float = 0.05, power: float = 0.8, *, rank_test: bool = True
) -> float:
    """Smallest standardised paired difference (mean / sd of the differences) detected.

    Normal approximation of the two-sided paired test; with ``rank_test`` the Wilcoxon
    signed-rank test's asymptotic relative efficiency 3/pi is applied (normal differences).
    """
    n = check_int("n_images", n_images, 1)
    d = _z_sum(alpha, power) / math.sqrt(n)
    return d / math.sqrt(3.0 / math.pi) if rank_test else d


def detectable_win_rate(n_images: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Share of images the better method must win for a sign test to detect it (normal
    approximation; capped at 1)."""
    n = check_int("n_images", n_images, 1)
    return min(1.0, 0.5 + _z_sum(alpha, power) / (2.0 * math.sqrt(n)))


def power_table(
    n_slices: int,
    n_volumes: int | None = None,
    *,
    n_methods: tuple[int, ...] = (4, 5),
    alpha: float = 0.05,
    power: float = 0.8,
):
    """A pandas DataFrame of what ``n_slices`` test slices (and ``n_volumes`` volumes) resolve.

    Rows: unit of analysis (slices; volumes where given). Columns: n, the Nemenyi critical
    difference of mean ranks for each number of methods, the detectable standardised paired
    difference (Wilcoxon) and the detectable win rate (sign test).
    """
    import pandas as pd

    rows = []
    units = [("slices", n_slices)] + ([("volumes", n_volumes)] if n_volumes else [])
    for unit, n in units:
        row = {"unit": unit, "n": int(n)}
        for k in n_methods:
            row[f"Nemenyi CD ({k} methods)"] = round(nemenyi_critical_difference(n, k, alpha), 3)
        row["detectable paired d"] = round(detectable_effect(n, alpha, power), 3)
        row["detectable win rate"] = round(detectable_win_rate(n, alpha, power), 3)
        rows.append(row)
    return pd.DataFrame(rows).set_index("unit")
