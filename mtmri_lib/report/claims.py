"""The article's claims, each with the check that decides it on this run's tables.

Every claim (numbered as in ../shared/paper/FACTS.md) is a `Claim` holding the article's
words, the tables it rests on and a check: a function of the built tables (`ResultTable`)
returning a `Verdict` ("held", "not held" or "not resolved", with the reason in numbers).
`check_claims` runs them; `claims_frame` is the table the results chapter shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.evalsets import EVALUATION_SETTINGS
from ..evaluation import CORRUPTED_INPUT
from ..metrics import HIGHER_IS_BETTER, METRIC_LABELS
from ..stats import ALPHA, FriedmanNemenyi
from .tables import MODEL, MT, MT_LC, NOT_AVAILABLE, SCENARIO_A, SCENARIO_B, TABLES, ResultTable

__all__ = [
    "HELD",
    "NOT_HELD",
    "NOT_RESOLVED",
    "Verdict",
    "Check",
    "Claim",
    "in_best",
    "is_top",
    "better",
    "not_worse",
    "below_any",
    "none_better",
    "affects_more",
    "all_of",
    "not_tested",
    "largest_residuals",
    "CLAIMS",
    "check_claims",
    "claims_frame",
    "verdict_counts",
    "claims_overview_html",
    "table_anchor",
]


HELD, NOT_HELD, NOT_RESOLVED = "held", "not held", "not resolved"


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a claim: ``status`` in {"held", "not held", "not resolved"}."""

    status: str
    reason: str


Check = Callable[[Mapping[int, ResultTable]], Verdict]


@dataclass(frozen=True)
class Claim:
    """One of the article's claims (FACTS.md numbering), with how it is checked here.

    Attributes
    ----------
    id : str
        FACTS.md's claim number, with a letter for each part.
    tables : tuple of int
    text : str
        The claim as the article makes it.
    reading : str
        The operational test applied to this run.
    check : callable
        Mapping table number -> ResultTable  ->  Verdict.
    """

    id: str
    tables: tuple[int, ...]
    text: str
    reading: str
    check: Check


def _combine(parts: Sequence[Verdict]) -> Verdict:
    reasons = "; ".join(dict.fromkeys(p.reason for p in parts if p.reason))
    if any(p.status == NOT_HELD for p in parts):
        return Verdict(NOT_HELD, reasons)
    if all(p.status == HELD for p in parts):
        return Verdict(HELD, reasons)
    return Verdict(NOT_RESOLVED, reasons)


def _missing(result: ResultTable, labels: Sequence[str]) -> list[str]:
    return [label for label in labels if result.status.get(label) != "run"]


def _sets(result: ResultTable, sets: Sequence[str] | None) -> list[str]:
    chosen = list(result.spec.sets) if sets is None else list(sets)
    return [s for s in chosen if any(k[0] == s for k in result.tests)]


def _short(result: ResultTable, set_name: str, metric: str) -> str:
    return f"{result.severity.get(set_name, set_name)} {METRIC_LABELS.get(metric, metric)}"


def _per_column(
    table: int,
    needs: Sequence[str],
    metric: str,
    sets: Sequence[str] | None,
    judge: Callable[..., Verdict],
) -> Check:
    """A check made of one verdict per column, combined with `_combine`.

    ``judge(test, where, spread)`` gets the column's Friedman-Nemenyi result, the column's
    name and its seed spread (`ResultTable.seed_means`). Ranks, Nemenyi p-values and best
    groups depend on every method of the table, so while a row of the table is not run a
    verdict is at most "not resolved", its reason saying what the methods run so far show.
    Rows that cannot run here at all (UniRes, the implicit bias-field CNN) do not hold a
    verdict back; its reason says it was reached without them."""

    def check(results: Mapping[int, ResultTable]) -> Verdict:
        result = results.get(table)
        if result is None:
            return Verdict(NOT_RESOLVED, f"Table {table} not built")
        missing = _missing(result, needs)
        if missing:
            return Verdict(NOT_RESOLVED, f"{', '.join(missing)} not run")
        columns = _sets(result, sets)
        if not columns:
            return Verdict(NOT_RESOLVED, "no scores")
        verdict = _combine(
            [
                judge(
                    result.tests[(s, metric)],
                    _short(result, s, metric),
                    result.seed_means.get((s, metric), {}),
                )
                for s in columns
            ]
        )
        # Only rows that belong to the checked columns (Table 7's rows have one scenario each).
        rows = {
            row.label: row
            for row in result.spec.rows
            if any(row.applies(column) for column in columns)
        }
        not_run = [label for label in result.not_run if label in rows]
        absent = [label for label in not_run if rows[label].kind != NOT_AVAILABLE]
        unavailable = [label for label in not_run if rows[label].kind == NOT_AVAILABLE]
        if absent and verdict.status != NOT_RESOLVED:
            return Verdict(
                NOT_RESOLVED,
                f"{verdict.status} among the methods run ({verdict.reason}); not run: "
                + ", ".join(absent),
            )
        if unavailable and verdict.status != NOT_RESOLVED:
            return Verdict(
                verdict.status,
                f"{verdict.reason} (without {', '.join(unavailable)}, which cannot run here)",
            )
        return verdict

    return check


def _span(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{min(values):.4f}-{max(values):.4f} over {len(values)} seeds"


def _within_seeds(
    spread: Mapping[str, Sequence[float]], winner: str, loser: str, metric: str
) -> str | None:
    """None when ``winner``'s seeds all beat ``loser``'s (or neither has several seeds);
    else why the difference is within the seed-to-seed spread."""
    a, b = list(spread.get(winner, [])), list(spread.get(loser, []))
    if len(a) < 2 and len(b) < 2:
        return None
    if not a or not b:
        return None
    higher = HIGHER_IS_BETTER.get(metric, True)
    separated = min(a) > max(b) if higher else max(a) < min(b)
    if separated:
        return None
    return f"within the seed-to-seed spread ({winner}: {_span(a)}; {loser}: {_span(b)})"


def in_best(
    table: int, method: str, metric: str, sets: Sequence[str] | None = None, *, expect=True
) -> Check:
    """``method`` is (``expect=True``) or is not (False) in each column's bold group."""

    def judge(test: FriedmanNemenyi, where: str, spread: Mapping) -> Verdict:
        member = method in test.best
        word = "in" if member else "not in"
        return Verdict(HELD if member == expect else NOT_HELD, f"{where}: {word} bold group")

    return _per_column(table, [method], metric, sets, judge)


def is_top(table: int, method: str, metric: str, sets: Sequence[str] | None = None) -> Check:
    """``method`` has the best mean rank; another first-ranked method that is not
    significantly better leaves it not resolved."""

    def judge(test: FriedmanNemenyi, where: str, spread: Mapping) -> Verdict:
        top = test.top
        if top == method:
            return Verdict(HELD, f"{where}: ranks first")
        if top is not None and test.better(top, method):
            return Verdict(NOT_HELD, f"{where}: {test.top} significantly better")
        return Verdict(NOT_RESOLVED, f"{where}: {test.top} first, not significantly better")

    return _per_column(table, [method], metric, sets, judge)


def better(
    table: int, method: str, other: str, metric: str, sets: Sequence[str] | None = None
) -> Check:
    """``method`` ranks significantly above ``other`` (Nemenyi) in every column, by more
    than the seed-to-seed spread where either was trained with several seeds."""

    def judge(test: FriedmanNemenyi, where: str, spread: Mapping) -> Verdict:
        p = test.nemenyi_p(method, other)
        for winner, loser, status in ((method, other, HELD), (other, method, NOT_HELD)):
            if test.better(winner, loser):
                noise = _within_seeds(spread, winner, loser, metric)
                if noise:
                    return Verdict(
                        NOT_RESOLVED, f"{where}: {winner} significantly better, but {noise}"
                    )
                text = f"p = {p:.3g}" if status == HELD else f"{other} significantly better"
                return Verdict(status, f"{where}: {text}")
        return Verdict(NOT_RESOLVED, f"{where}: not significant (p = {p:.3g})")

    return _per_column(table, [method, other], metric, sets, judge)


def _above(test: FriedmanNemenyi, spread: Mapping, others: Sequence[str], method: str, metric):
    """Of ``others``, those significantly better than ``method`` beyond the seed spread, and
    those significantly better but within it."""
    clear: list[str] = []
    noisy: list[str] = []
    for other in others:
        if test.better(other, method):
            (noisy if _within_seeds(spread, other, method, metric) else clear).append(other)
    return clear, noisy


def not_worse(
    table: int, method: str, others: Sequence[str], metric: str, sets: Sequence[str] | None = None
) -> Check:
    """None of ``others`` ranks significantly above ``method`` in any column (a significant
    difference within the seed-to-seed spread leaves the column not resolved)."""
    return _others_above(table, method, others, metric, sets, held_if_above=False)


def below_any(
    table: int, method: str, others: Sequence[str], metric: str, sets: Sequence[str] | None = None
) -> Check:
    """In every column at least one of ``others`` ranks significantly above ``method``,
    beyond the seed-to-seed spread."""
    return _others_above(table, method, others, metric, sets, held_if_above=True)


def _others_above(
    table: int,
    method: str,
    others: Sequence[str],
    metric: str,
    sets: Sequence[str] | None,
    *,
    held_if_above: bool,
) -> Check:
    """Per column: does one of ``others`` rank significantly above ``method``, beyond the
    seed spread? ``held_if_above`` says which answer holds the claim."""

    def judge(test: FriedmanNemenyi, where: str, spread: Mapping) -> Verdict:
        clear, noisy = _above(test, spread, others, method, metric)
        if clear:
            return Verdict(
                HELD if held_if_above else NOT_HELD,
                f"{where}: {', '.join(clear)} significantly better",
            )
        if noisy:
            return Verdict(
                NOT_RESOLVED,
                f"{where}: {', '.join(noisy)} significantly better, within the seed spread",
            )
        if held_if_above:
            return Verdict(NOT_HELD, f"{where}: matches {', '.join(others)}")
        return Verdict(HELD, f"{where}: none of {', '.join(others)} significantly better")

    return _per_column(table, [method, *others], metric, sets, judge)


def none_better(
    table: int, reference: str, metric: str, sets: Sequence[str] | None = None
) -> Check:
    """No method ranks significantly above ``reference`` in any column."""

    def judge(test: FriedmanNemenyi, where: str, spread: Mapping) -> Verdict:
        winners = [m for m in test.mean_ranks.index if test.better(m, reference)]
        if winners:
            return Verdict(NOT_HELD, f"{where}: {', '.join(winners)} significantly better")
        return Verdict(HELD, f"{where}: no method significantly better")

    return _per_column(table, [reference], metric, sets, judge)


def affects_more(
    table: int, set_name: str, metric: str, other: str, method: str = CORRUPTED_INPUT
) -> Check:
    """The artefact lowers ``metric`` more than ``other``: per slice, (1 - metric) against
    (1 - other) for ``method`` (the corrupted input), paired Wilcoxon signed-rank test."""

    def check(results: Mapping[int, ResultTable]) -> Verdict:
        from scipy import stats

        result = results.get(table)
        if result is None:
            return Verdict(NOT_RESOLVED, f"Table {table} not built")
        part = result.scores
        part = part[(part["set"] == set_name) & (part["method"] == method)]
        if part.empty:
            return Verdict(NOT_RESOLVED, f"{method} not run on {set_name}")
        wide = part.pivot_table(index="slice", columns="metric", values="value")
        loss = ((1 - wide[metric]) - (1 - wide[other])).dropna()
        if len(loss) < 2 or np.allclose(loss, 0):
            return Verdict(NOT_RESOLVED, "too few slices")
        p = float(stats.wilcoxon(loss).pvalue)
        a, b = METRIC_LABELS.get(metric, metric), METRIC_LABELS.get(other, other)
        text = (
            f"mean 1 - {a} = {float((1 - wide[metric]).mean()):.4f}, mean 1 - {b} = "
            f"{float((1 - wide[other]).mean()):.4f}; Wilcoxon p = {p:.3g}, {len(loss)} slices"
        )
        if p >= ALPHA:
            return Verdict(NOT_RESOLVED, text)
        return Verdict(HELD if loss.mean() > 0 else NOT_HELD, text)

    return check


def all_of(*checks: Check) -> Check:
    """Every part must hold; any part not held makes the claim not held."""

    def check(results: Mapping[int, ResultTable]) -> Verdict:
        return _combine([c(results) for c in checks])

    return check


def not_tested(reason: str) -> Check:
    """A claim this project lists but cannot test (the reason says what it would need)."""

    def check(results: Mapping[int, ResultTable]) -> Verdict:
        return Verdict(NOT_RESOLVED, reason)

    return check


def _present(set_name: str) -> tuple[str, ...]:
    return next(s.kinds for s in EVALUATION_SETTINGS if s.name == set_name)


def largest_residuals(table: int = 7, models: Sequence[str] = (MT, MT_LC)) -> Check:
    """In each scenario and for each model, the heads of the artefacts present have the
    largest mean |residual|: per slice, the smaller of the present heads' means minus the
    largest of the absent heads' (Wilcoxon signed-rank test over slices)."""

    def check(results: Mapping[int, ResultTable]) -> Verdict:
        from scipy import stats

        result = results.get(table)
        if result is None or result.residuals is None or result.residuals.empty:
            return Verdict(NOT_RESOLVED, "no residuals computed")
        parts = []
        frame = result.residuals
        for set_name in result.spec.sets:
            present = _present(set_name)
            for model in models:
                part = frame[(frame["set"] == set_name) & (frame["method"] == model)]
                if part.empty:
                    parts.append(Verdict(NOT_RESOLVED, f"{model} not run on {set_name}"))
                    continue
                wide = part.pivot_table(index="slice", columns="head", values="value")
                absent = [h for h in wide.columns if h not in present]
                where = f"{result.severity.get(set_name, set_name)}, {model}"
                if not absent or any(h not in wide.columns for h in present):
                    parts.append(Verdict(NOT_RESOLVED, f"{where}: heads missing"))
                    continue
                gap = wide[list(present)].min(axis=1) - wide[absent].max(axis=1)
                means = wide.mean()
                order = ", ".join(f"{h} {means[h]:.3g}" for h in means.sort_values().index[::-1])
                if len(gap) < 2 or np.allclose(gap, 0):
                    parts.append(Verdict(NOT_RESOLVED, f"{where}: too few slices"))
                    continue
                p = float(stats.wilcoxon(gap).pvalue)
                text = f"{where}: {order} (Wilcoxon p = {p:.3g})"
                if p >= ALPHA:
                    parts.append(Verdict(NOT_RESOLVED, text))
                else:
                    parts.append(Verdict(HELD if gap.mean() > 0 else NOT_HELD, text))
        return _combine(parts)

    return check


def _strong(table: int) -> str:
    return TABLES[table].sets[-1]


def _models(table: int) -> list[str]:
    return [r.label for r in TABLES[table].rows if r.kind == MODEL]


_CLAIMS: tuple[Claim, ...] = (
    Claim(
        "1a",
        (3, 4, 5, 6),
        "MT+L_C reaches a higher VIF than MT on every single-artefact task.",
        "In every column of Tables 3-6, MT+L_C ranks significantly above MT on VIF (Nemenyi).",
        all_of(*(better(t, MT_LC, MT, "vif") for t in (3, 4, 5, 6))),
    ),
    Claim(
        "3a",
        (3,),
        "Weak (5 %) bias fields affect SSIM more than VIF.",
        "On the 5 % set, the corrupted input's 1 - SSIM exceeds its 1 - VIF (paired Wilcoxon "
        "test over slices).",
        affects_more(3, "bias_05", "ssim", "vif"),
    ),
    Claim(
        "3b",
        (3,),
        "N4ITK is best on VIF but not on SSIM.",
        "N4ITK is in the bold group of every VIF column and of no SSIM column.",
        all_of(in_best(3, "N4ITK", "vif"), in_best(3, "N4ITK", "ssim", expect=False)),
    ),
    Claim(
        "3c",
        (3,),
        "The Bias and MT models are best on SSIM, but not on VIF.",
        "Bias and MT are in the bold group of every SSIM column and of no VIF column.",
        all_of(
            in_best(3, "Bias", "ssim"),
            in_best(3, MT, "ssim"),
            in_best(3, "Bias", "vif", expect=False),
            in_best(3, MT, "vif", expect=False),
        ),
    ),
    Claim(
        "3d",
        (3,),
        "MT+L_C performs well on both SSIM and VIF.",
        "MT+L_C is in the bold group of every SSIM and every VIF column.",
        all_of(in_best(3, MT_LC, "ssim"), in_best(3, MT_LC, "vif")),
    ),
    Claim(
        "4a",
        (4,),
        "The trained models beat bicubic interpolation on VIF.",
        "Subsampling, MT and MT+L_C each rank significantly above Bicubic on VIF in every column.",
        all_of(*(better(4, m, "Bicubic", "vif") for m in _models(4))),
    ),
    Claim(
        "4b",
        (4,),
        "The trained models beat UniRes on VIF.",
        "As 4a, against UniRes (not available here, so never resolved).",
        all_of(*(better(4, m, "UniRes", "vif") for m in _models(4))),
    ),
    Claim(
        "5a",
        (5,),
        "Small motions change SSIM so little that no method improves it significantly.",
        "With 25 % of the k-space centre clean, no method ranks significantly above the "
        "corrupted input on SSIM.",
        none_better(5, CORRUPTED_INPUT, "ssim", ["motion_25"]),
    ),
    Claim(
        "5b",
        (5,),
        "For large motions the trained models are best on SSIM.",
        "With 5 % of the centre clean, Motion, MT and MT+L_C are in the SSIM bold group.",
        all_of(*(in_best(5, m, "ssim", [_strong(5)]) for m in _models(5))),
    ),
    Claim(
        "5c",
        (5,),
        "For large motions TV is best on VIF.",
        "With 5 % of the centre clean, TV has the best mean rank on VIF.",
        is_top(5, "TV", "vif", [_strong(5)]),
    ),
    Claim(
        "6a",
        (6,),
        "The single-task and multi-task models are best on SSIM.",
        "Noise, MT and MT+L_C are in the SSIM bold group at every SNR.",
        all_of(*(in_best(6, m, "ssim") for m in _models(6))),
    ),
    Claim(
        "6b",
        (6,),
        "Only MT+L_C matches C.A.D. and BM3D on VIF.",
        "At every SNR neither C.A.D. nor BM3D ranks significantly above MT+L_C on VIF, while "
        "each of Noise and MT ranks significantly below C.A.D. or BM3D.",
        all_of(
            not_worse(6, MT_LC, ["C.A.D.", "BM3D"], "vif"),
            below_any(6, "Noise", ["C.A.D.", "BM3D"], "vif"),
            below_any(6, MT, ["C.A.D.", "BM3D"], "vif"),
        ),
    ),
    Claim(
        "1b",
        (3, 4, 5, 6),
        "The Laplace kernel, with at least one top and one right edge kernel, improves VIF in "
        "all cases.",
        "Would need MT+L_C retrained with kernel subsets (an ablation the article does not "
        "report); not tested here.",
        not_tested("needs a kernel ablation (MT+L_C retrained with subsets of the kernels)"),
    ),
    Claim(
        "2",
        (7,),
        "MT+L_C is significantly better than MT in both multi-artefact scenarios, on SSIM and VIF.",
        "In both scenarios of Table 7, MT+L_C ranks significantly above MT on SSIM and on VIF "
        "(Nemenyi), beyond the seed-to-seed spread.",
        all_of(better(7, MT_LC, MT, "ssim"), better(7, MT_LC, MT, "vif")),
    ),
    Claim(
        "7a",
        (7,),
        "Subsampling and motion: the Motion model, then the Subsampling model, gives the best VIF.",
        "In scenario (a), Motion → Subsampling has the best mean rank on VIF.",
        is_top(7, "Motion → Subsampling", "vif", [SCENARIO_A]),
    ),
    Claim(
        "7b",
        (7,),
        "Subsampling and motion: the other order is significantly worse than the multi-task "
        "models.",
        "In scenario (a), MT and MT+L_C each rank significantly above Subsampling → Motion on VIF.",
        all_of(
            better(7, MT, "Subsampling → Motion", "vif", [SCENARIO_A]),
            better(7, MT_LC, "Subsampling → Motion", "vif", [SCENARIO_A]),
        ),
    ),
    Claim(
        "7c",
        (7,),
        "Noise and bias: the Bias model, then the Noise model, is significantly better than "
        "the other order.",
        "In scenario (b), Bias → Noise ranks significantly above Noise → Bias on SSIM and VIF.",
        all_of(
            better(7, "Bias → Noise", "Noise → Bias", "ssim", [SCENARIO_B]),
            better(7, "Bias → Noise", "Noise → Bias", "vif", [SCENARIO_B]),
        ),
    ),
    Claim(
        "8",
        (7,),
        "The largest residuals appear on the heads of the artefacts present.",
        "In both scenarios, for MT and MT+L_C, the smaller mean |residual| of the two present "
        "heads exceeds the largest of the two absent heads, slice by slice (Wilcoxon).",
        largest_residuals(),
    ),
    Claim(
        "9",
        (3, 4, 5, 6),
        "The multi-task models correct all four artefacts without losing performance against "
        "the single-task models.",
        "In no column of Tables 3-6 does the table's single-task model rank significantly "
        "above MT or MT+L_C, on SSIM or VIF.",
        all_of(
            *(
                not_worse(t, m, [single], metric)
                for t, single in ((3, "Bias"), (4, "Subsampling"), (5, "Motion"), (6, "Noise"))
                for m in (MT, MT_LC)
                for metric in ("ssim", "vif")
            )
        ),
    ),
    Claim(
        "10a",
        (7,),
        "Two single-task models applied one after the other, in the right order, match or beat "
        "the multi-task models in both scenarios (Discussion).",
        "Motion → Subsampling in (a) and Bias → Noise in (b): neither MT nor MT+L_C ranks "
        "significantly above them on SSIM or VIF. (That the order matters is claims 7b and 7c; "
        "that single-task models do not degrade with a second, unseen artefact is what these "
        "rows measure.)",
        all_of(
            *(
                not_worse(7, right, [MT, MT_LC], metric, [scenario])
                for right, scenario in (
                    ("Motion → Subsampling", SCENARIO_A),
                    ("Bias → Noise", SCENARIO_B),
                )
                for metric in ("ssim", "vif")
            )
        ),
    ),
    Claim(
        "10b",
        (7,),
        "The multi-task approach is more robust than applying the single-task models one "
        "after the other (Conclusions).",
        "In both scenarios, neither order of the single-task models ranks significantly above "
        "MT+L_C on SSIM or VIF.",
        all_of(
            *(
                not_worse(7, MT_LC, orders, metric, [scenario])
                for scenario, orders in (
                    (SCENARIO_A, ["Subsampling → Motion", "Motion → Subsampling"]),
                    (SCENARIO_B, ["Noise → Bias", "Bias → Noise"]),
                )
                for metric in ("ssim", "vif")
            )
        ),
    ),
)


def _claim_order(claim: Claim) -> tuple[int, str]:
    number = re.match(r"\d+", claim.id)
    return (int(number.group()) if number else 0, claim.id)


#: The article's claims (FACTS.md numbering) in order.
CLAIMS: tuple[Claim, ...] = tuple(sorted(_CLAIMS, key=_claim_order))


def check_claims(
    results: Mapping[int, ResultTable] | Sequence[ResultTable],
    claims: Sequence[Claim] = CLAIMS,
    *,
    tables: Sequence[int] | None = None,
) -> list[tuple[Claim, Verdict]]:
    """Check claims against built tables.

    ``tables`` keeps the claims that concern only those tables (claim 1a, about Tables 3-6
    together, needs all four)."""
    if not isinstance(results, Mapping):
        results = {r.spec.number: r for r in results}
    chosen = [c for c in claims if tables is None or set(c.tables) <= set(tables)]
    return [(claim, claim.check(results)) for claim in chosen]


def claims_frame(checked: Sequence[tuple[Claim, Verdict]]) -> pd.DataFrame:
    """The verdicts as a table: claim, the article's words, the test, verdict, why."""
    return pd.DataFrame(
        [
            {
                "claim": claim.id,
                "the article says": claim.text,
                "tested here as": claim.reading,
                "verdict": verdict.status,
                "why": verdict.reason,
            }
            for claim, verdict in checked
        ]
    ).set_index("claim")


def table_anchor(table: int) -> str:
    """The label of a table's section in the results chapter (``(results-table-3)=``)."""
    return f"results-table-{int(table)}"


def verdict_counts(checked: Sequence[tuple[Claim, Verdict]]) -> dict[str, int]:
    """How many claims got each verdict, in the order held, not held, not resolved."""
    counts = {status: 0 for status in (HELD, NOT_HELD, NOT_RESOLVED)}
    for _, verdict in checked:
        counts[verdict.status] = counts.get(verdict.status, 0) + 1
    return counts


def claims_overview_html(checked: Sequence[tuple[Claim, Verdict]], *, page: str = "") -> str:
    """The claims x verdict overview as HTML: the verdict count on one line, then one row
    per claim (claim, the article's words, verdict, links to the tables that decide it), the
    test and the reasons folded in a ``<details>`` element of the row.

    ``page`` is the address of the results chapter relative to the page that shows the
    overview (``""`` on the results chapter itself, ``"results.html"`` from the front page);
    the links go to its sections labelled `table_anchor`.
    """
    from html import escape

    if not checked:
        raise ValueError("no claims to show: check_claims returned nothing")
    counts = verdict_counts(checked)
    line = ", ".join(f"<strong>{n}</strong> {escape(status)}" for status, n in counts.items())
    rows = []
    for claim, verdict in checked:
        links = ", ".join(
            f'<a href="{escape(page)}#{table_anchor(t)}">Table {t}</a>' for t in claim.tables
        )
        rows.append(
            f'<tr class="mtmri-verdict-{verdict.status.replace(" ", "-")}">'
            f"<td>{escape(claim.id)}</td><td>{escape(claim.text)}"
            f'<details class="mtmri-claim"><summary>test and reasons</summary>'
            f"<p><em>Tested here as:</em> {escape(claim.reading)}</p>"
            f"<p><em>Why:</em> {escape(verdict.reason)}</p></details></td>"
            f"<td><strong>{escape(verdict.status)}</strong></td><td>{links}</td></tr>"
        )
    return (
        f'<p class="mtmri-verdict-count">{len(checked)} claims of the article checked on this '
        f"run: {line}.</p>"
        '<table class="mtmri-claims"><thead><tr><th>claim</th><th>the article says</th>'
        "<th>verdict</th><th>decided by</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )
