"""Friedman + Nemenyi: equal to scipy and scikit-posthocs, bold groups, NaN handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs as sp
from scipy import stats as scipy_stats

from mtmri_lib.stats import friedman_nemenyi, friedman_nemenyi_by_volume, friedman_test, summarise


def test_friedman_statistic_equals_scipy_with_ties():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=(25, 4)), 1)  # rounding makes ties
    expected = scipy_stats.friedmanchisquare(*scores.T)
    statistic, p = friedman_test(scores)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-12)


def test_nemenyi_equals_scikit_posthocs():
    rng = np.random.default_rng(1)
    scores = pd.DataFrame(
        rng.normal(size=(30, 5)) + [0.0, 0.2, 0.5, 1.0, 1.1], columns=list("abcde")
    )
    result = friedman_nemenyi(scores)
    expected = sp.posthoc_nemenyi_friedman(scores)
    np.testing.assert_allclose(result.nemenyi.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert list(result.nemenyi.index) == list("abcde")
    assert result.n == 30 and result.dropped == 0


def test_best_group_known_answer():
    # 20 images, 4 methods; a and b share first and second place half the time each, c is
    # always third and d last: mean ranks 3.5, 3.5, 2, 1. Nemenyi's critical difference for
    # k = 4, n = 20 is 2.569 * sqrt(4 * 5 / (6 * 20)) = 1.05, so a ~ b and both beat c and d.
    rows = [[4, 3, 2, 1] if i % 2 else [3, 4, 2, 1] for i in range(20)]
    scores = pd.DataFrame(rows, columns=["a", "b", "c", "d"], dtype=float)
    result = friedman_nemenyi(scores)
    assert result.friedman_p < 1e-6
    assert result.best == {"a", "b"}
    assert result.mean_ranks.to_dict() == {"a": 3.5, "b": 3.5, "c": 2.0, "d": 1.0}
    assert result.better("a", "c") and not result.better("a", "b")
    # Lower is better (MSE): the order reverses.
    assert friedman_nemenyi(scores, higher_is_better=False).best == {"c", "d"}


def test_best_group_is_everyone_without_a_significant_friedman_test():
    # A Latin square: every method takes every rank equally often, so the statistic is 0.
    rows = [[1, 2, 3], [2, 3, 1], [3, 1, 2]] * 4
    result = friedman_nemenyi(pd.DataFrame(rows, columns=["x", "y", "z"], dtype=float))
    assert result.statistic == pytest.approx(0.0)
    assert result.friedman_p == pytest.approx(1.0)
    assert result.best == {"x", "y", "z"}


def test_nan_handling():
    rng = np.random.default_rng(2)
    scores = pd.DataFrame(rng.normal(size=(12, 3)), columns=["a", "b", "c"])
    scores["not run"] = np.nan
    scores.iloc[2, 0] = np.nan
    scores.iloc[7, 1] = np.nan
    result = friedman_nemenyi(scores)
    assert result.dropped_methods == ["not run"]
    assert result.dropped == 2
    assert result.n == 10
    expected = sp.posthoc_nemenyi_friedman(scores.drop(columns="not run").dropna())
    np.testing.assert_allclose(result.nemenyi.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert "not run" not in result.best


def test_degenerate_inputs():
    one = friedman_nemenyi(pd.DataFrame({"a": [1.0, 2.0]}))
    assert np.isnan(one.friedman_p) and one.best == {"a"}
    empty = friedman_nemenyi(pd.DataFrame({"a": [np.nan], "b": [np.nan]}))
    assert empty.best == set()
    with pytest.raises(TypeError):
        friedman_nemenyi(np.zeros((3, 3)))


def test_per_volume_test_uses_volume_means():
    rng = np.random.default_rng(3)
    scores = pd.DataFrame(rng.normal(size=(24, 3)) + [0, 0.3, 0.6], columns=["a", "b", "c"])
    volumes = np.repeat(np.arange(6), 4)
    result = friedman_nemenyi_by_volume(scores, volumes)
    expected = friedman_nemenyi(scores.groupby(volumes).mean())
    assert result.n == 6
    assert result.friedman_p == pytest.approx(expected.friedman_p)
    assert result.best == expected.best
    assert friedman_nemenyi_by_volume(scores, np.repeat(np.arange(3), 8)) is None


def test_summarise_se_and_sd():
    scores = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, 2.0, np.nan, 2.0]})
    summary = summarise(scores)
    sd = np.std([1, 2, 3, 4], ddof=1)
    assert summary.loc["a", "sd"] == pytest.approx(sd)
    assert summary.loc["a", "se"] == pytest.approx(sd / 2)
    assert summary.loc["a", "sd_population"] == pytest.approx(np.std([1, 2, 3, 4]))
    assert summary.loc["b", "n"] == 3 and summary.loc["b", "se"] == 0
