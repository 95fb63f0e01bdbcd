"""Statistics of the tables: Friedman test, Nemenyi post-hoc test, mean +/- standard error.

The article compares methods image by image: a Friedman test of equivalence over the
methods (images are the blocks), then the Nemenyi post-hoc test of every pair (scikit-posthocs
``posthoc_nemenyi_friedman``, as the released code), threshold 0.05. A table's bold cells are
the best method and every method not significantly different from it.

`friedman_nemenyi`
    the test on a scores table (rows = images, columns = methods, higher is better);
`friedman_nemenyi_by_volume`
    the same test on per-volume means: slices of one volume are not independent, so the
    per-slice test overstates the evidence; this is the check from the other side;
`summarise`
    mean, standard deviation, standard error and count per method (the article reports
    "standard errors"; the released scripts printed ``np.std``, the population SD).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._checks import check_int, check_number

__all__ = [
    "ALPHA",
    "FriedmanNemenyi",
    "friedman_nemenyi",
    "friedman_nemenyi_by_volume",
    "friedman_test",
    "summarise",
    "MIN_VOLUMES",
    "nemenyi_critical_difference",
    "detectable_effect",
    "detectable_win_rate",
    "power_table",
]

#: Significance threshold of the article.
ALPHA = 0.05
#: Fewest volumes for which the per-volume test is run.
MIN_VOLUMES = 5


@dataclass
class FriedmanNemenyi:
    """The result of `friedman_nemenyi`.

    Attributes
    ----------
    friedman_p : float
        p-value of the Friedman test (NaN when fewer than two images or methods remain).
    statistic : float
        Friedman's chi-squared statistic (tie-corrected, as scipy computes it).
    nemenyi : pandas.DataFrame
        Pairwise p-values of the Nemenyi test (methods x methods, 1 on the diagonal), as
        scikit-posthocs' ``posthoc_nemenyi_friedman`` gives them.
    best : set of str
        The method with the best mean rank and every method whose Nemenyi p against it is
        >= ``alpha``; all methods when the Friedman p is >= ``alpha`` (or NaN).
    mean_ranks : pandas.Series
        Mean rank of each method over the images (1 = worst, k = best; ties averaged).
    dropped : int
        Images (rows) dropped because a remaining method had no score for them.
    dropped_methods : list of str
        Methods (columns) dropped because they had no score at all (not run).
    n : int
        Images used.
    alpha : float
    """

    friedman_p: float
    statistic: float
    nemenyi: pd.DataFrame
    best: set[str]
    mean_ranks: pd.Series
    dropped: int = 0
    dropped_methods: list[str] = field(default_factory=list)
    n: int = 0
    alpha: float = ALPHA

    @property
    def top(self) -> str | None:
        """The method with the best mean rank (None without methods)."""
        if self.mean_ranks.empty:
            return None
        return str(self.mean_ranks.idxmax())

    def nemenyi_p(self, a: str, b: str) -> float:
        """The Nemenyi p-value of the pair (a, b)."""
        value = self.nemenyi.loc[a, b]
        if not isinstance(value, (float, int, np.number)):
            raise TypeError(f"the Nemenyi p of ({a!r}, {b!r}) is not a number; got {value!r}")
        return float(value)

    def significant(self, a: str, b: str) -> bool:
        """True when the Friedman test rejects and the Nemenyi p of (a, b) is < alpha."""
        if not (self.friedman_p < self.alpha):
            return False
        return self.nemenyi_p(a, b) < self.alpha

    def better(self, a: str, b: str) -> bool:
        """``a`` ranks significantly above ``b``."""
        return self.significant(a, b) and bool(self.mean_ranks[a] > self.mean_ranks[b])


def friedman_test(scores: np.ndarray) -> tuple[float, float]:
    """Friedman's chi-squared test on an (n images, k methods) array without NaN.

    Ranks within each row (ties averaged) and applies the usual tie correction, as
    ``scipy.stats.friedmanchisquare`` does, but also for k = 2. Returns (statistic, p);
    (NaN, NaN) for n < 2 or k < 2; (0, 1) when every row is all ties.
    """
    from scipy import stats

    scores = np.asarray(scores, dtype=np.float64)
    n, k = scores.shape if scores.ndim == 2 else (0, 0)
    if n < 2 or k < 2:
        return math.nan, math.nan
    ranks = np.apply_along_axis(stats.rankdata, 1, scores)
    rank_sums = ranks.sum(axis=0)
    statistic = 12.0 / (n * k * (k + 1)) * np.sum(rank_sums**2) - 3.0 * n * (k + 1)
    ties = 0.0
    for row in scores:
        _, counts = np.unique(row, return_counts=True)
        ties += float(np.sum(counts**3 - counts))
    correction = 1.0 - ties / (n * k * (k * k - 1))
    if correction <= 0:
        return 0.0, 1.0
    statistic /= correction
    return float(statistic), float(stats.chi2.sf(statistic, k - 1))


def _mean_ranks(scores: pd.DataFrame) -> pd.Series:
    return scores.rank(axis=1, method="average").mean(axis=0)


def numeric_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` as float64, or a TypeError naming the columns that hold no numbers."""
    try:
        return scores.astype(np.float64)
    except (TypeError, ValueError):
        bad = [
            str(c)
            for c in scores.columns
            if (pd.to_numeric(scores[c], errors="coerce").isna() & scores[c].notna()).any()
        ]
        raise TypeError(
            f"scores must be numbers (NaN for no score); column(s) {bad} hold other values"
        ) from None


def friedman_nemenyi(
    scores: pd.DataFrame, *, alpha: float = ALPHA, higher_is_better: bool = True
) -> FriedmanNemenyi:
    """Friedman test over methods, Nemenyi post-hoc test, and the best group.

    Parameters
    ----------
    scores : pandas.DataFrame
        Rows = images (the blocks), columns = methods; NaN = no score. Columns that are all
        NaN (methods not run) are dropped first, then rows with any NaN (their count is
        ``.dropped``).
    alpha : float
        Significance threshold (0.05, the article's).
    higher_is_better : bool
        False for MSE: the scores are negated before ranking.

    Returns
    -------
    FriedmanNemenyi
    """
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be a pandas DataFrame; got {type(scores).__name__}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha!r}")
    data = numeric_scores(scores)
    if not higher_is_better:
        data = -data
    empty = [str(c) for c in data.columns if data[c].isna().all()]
    data = data.drop(columns=empty)
    complete = data.dropna(axis=0, how="any")
    dropped = len(data) - len(complete)
    methods = [str(c) for c in complete.columns]
    complete.columns = methods
    n, k = complete.shape
    statistic, p = friedman_test(complete.to_numpy())
    if n >= 2 and k >= 2:
        import scikit_posthocs as sp

        nemenyi = sp.posthoc_nemenyi_friedman(complete.reset_index(drop=True))
        nemenyi = nemenyi.loc[methods, methods].astype(np.float64)
    else:
        nemenyi = pd.DataFrame(np.ones((k, k)), index=methods, columns=methods)
    ranks = _mean_ranks(complete) if n else pd.Series(np.nan, index=methods, dtype=float)
    if k == 0:
        best: set[str] = set()
    elif not (p < alpha):  # also NaN: too little data to tell methods apart
        best = set(methods)
    else:
        top = str(ranks.idxmax())
        best = {m for m in methods if m == top or nemenyi.loc[top, m] >= alpha}
    return FriedmanNemenyi(
        friedman_p=p,
        statistic=statistic,
        nemenyi=nemenyi,
        best=best,
        mean_ranks=ranks,
        dropped=dropped,
        dropped_methods=empty,
        n=n,
        alpha=alpha,
    )


def friedman_nemenyi_by_volume(
    scores: pd.DataFrame,
    volumes: Sequence[Any] | pd.Series | np.ndarray,
    *,
    alpha: float = ALPHA,
    higher_is_better: bool = True,
    min_volumes: int = MIN_VOLUMES,
) -> FriedmanNemenyi | None:
    """`friedman_nemenyi` on per-volume means (each volume one block).

    Slices of one volume are correlated, so the per-slice test treats them as more
    independent evidence than they are. Averaging each method's scores over a volume's
    slices (after the same NaN handling) gives one block per volume. Returns None when
    fewer than ``min_volumes`` volumes have complete scores.
    """
    if len(volumes) != len(scores):
        raise ValueError(f"volumes has {len(volumes)} entries for {len(scores)} rows of scores")
    data = numeric_scores(scores)
    empty = [str(c) for c in data.columns if data[c].isna().all()]
    data = data.drop(columns=[c for c in data.columns if data[c].isna().all()])
    keep = ~data.isna().any(axis=1).to_numpy()
    groups = np.asarray(volumes)[keep]
    means = data[keep].groupby(groups).mean()
    if len(means) < min_volumes:
        return None
    result = friedman_nemenyi(means, alpha=alpha, higher_is_better=higher_is_better)
    result.dropped = int((~keep).sum())
    result.dropped_methods = empty
    return result


def summarise(scores: pd.DataFrame | Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """Mean, SD (ddof 1), population SD (ddof 0, the released code's ``np.std``), SE, n.

    Parameters
    ----------
    scores : pandas.DataFrame or mapping
        Columns = methods; NaN values are left out per method.

    Returns
    -------
    pandas.DataFrame
        Index = methods; columns ``mean``, ``sd``, ``sd_population``, ``se`` (= sd / sqrt(n))
        and ``n``.
    """
    data = pd.DataFrame(scores).astype(np.float64)
    n = data.notna().sum(axis=0)
    sd = data.std(axis=0, ddof=1)
    return pd.DataFrame(
        {
            "mean": data.mean(axis=0),
            "sd": sd,
            "sd_population": data.std(axis=0, ddof=0),
            "se": sd / np.sqrt(n.where(n > 0)),
            "n": n.astype(int),
        }
    )


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
