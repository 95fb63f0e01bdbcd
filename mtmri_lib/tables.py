"""The article's result tables, rebuilt from this run's scores, and its claims checked.

`TABLES` describes Tables 3-6 (three severities each, SSIM and VIF): their evaluation sets
and their rows, in the article's order, with the corrupted input as a reference row:

- comparison methods run here (`mtmri_lib.baselines`);
- comparison methods that cannot run here (UniRes, the implicit bias-field CNN): "not run";
- trained models (single-task, MT, MT+L_C): "not run yet" until the training chapter has
  produced them.

`evaluate_tables` scores every row that can run (through `mtmri_lib.evaluation.evaluate`,
the one evaluation path); `build_table` turns the scores into a `ResultTable`: mean +/-
standard error per cell, bold per column as `mtmri_lib.stats.friedman_nemenyi` says (the
best method and every method not significantly different from it), a caption naming the
profile and the data, and the same test on per-volume means beside it.

`CLAIMS` lists the article's claims about these tables, each with an operational reading
and a check; `check_claims` returns a verdict per claim computed from the run: "held",
"not held", or "not resolved" (a method it needs was not run, or the difference is within
the statistical uncertainty).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .evaluation import CORRUPTED_INPUT, Method, evaluate, score_table
from .metrics import HIGHER_IS_BETTER, METRIC_LABELS
from .stats import ALPHA, FriedmanNemenyi, friedman_nemenyi, friedman_nemenyi_by_volume

__all__ = [
    "Row",
    "TableSpec",
    "TABLES",
    "MT",
    "MT_LC",
    "ResultTable",
    "evaluate_tables",
    "build_table",
    "describe_data",
    "methods_for",
    "Verdict",
    "Claim",
    "CLAIMS",
    "check_claims",
    "claims_frame",
    "NOT_RUN_MODEL",
]

MT = "MT"
MT_LC = "MT+L_C"
#: What a trained model's row says until the training chapter has produced the model.
NOT_RUN_MODEL = "not run yet (see the training chapter)"
REFERENCE, BASELINE, NOT_AVAILABLE, MODEL = "reference", "baseline", "not available", "model"


@dataclass(frozen=True)
class Row:
    """One row of a table.

    Attributes
    ----------
    label : str
        As in the article (also the method's name in `evaluate`).
    kind : {"reference", "baseline", "not available", "model"}
    key : str, optional
        The key in `mtmri_lib.baselines.BASELINES` or `NOT_AVAILABLE`.
    """

    label: str
    kind: str
    key: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """One of the article's tables.

    Attributes
    ----------
    number : int
    title : str
    artefact : str
    sets : tuple of str
        Evaluation sets (columns), mildest severity first as in the article.
    rows : tuple of Row
    metrics : tuple of str
    """

    number: int
    title: str
    artefact: str
    sets: tuple[str, ...]
    rows: tuple[Row, ...]
    metrics: tuple[str, ...] = ("ssim", "vif")

    @property
    def labels(self) -> list[str]:
        return [row.label for row in self.rows]


def _sets_of(table: int) -> tuple[str, ...]:
    from .data.evalsets import EVALUATION_SETTINGS

    return tuple(s.name for s in EVALUATION_SETTINGS if s.table == table)


def _rows(*rows: Row, single_task: str) -> tuple[Row, ...]:
    models = (Row(single_task, MODEL), Row(MT, MODEL), Row(MT_LC, MODEL))
    return (Row(CORRUPTED_INPUT, REFERENCE), *rows, *models)


TABLES: dict[int, TableSpec] = {
    3: TableSpec(
        3,
        "Bias field correction",
        "bias",
        _sets_of(3),
        _rows(
            Row("N4ITK", BASELINE, "n4"),
            Row("Implicit bias CNN", NOT_AVAILABLE, "implicit_bias_cnn"),
            single_task="Bias",
        ),
    ),
    4: TableSpec(
        4,
        "Super-resolution of centred-mask subsampling",
        "subsampling",
        _sets_of(4),
        _rows(
            Row("Bicubic", BASELINE, "bicubic"),
            Row("UniRes", NOT_AVAILABLE, "unires"),
            single_task="Subsampling",
        ),
    ),
    5: TableSpec(
        5,
        "Motion artefact correction",
        "motion",
        _sets_of(5),
        _rows(Row("TV", BASELINE, "tv"), single_task="Motion"),
    ),
    6: TableSpec(
        6,
        "Denoising",
        "noise",
        _sets_of(6),
        _rows(Row("C.A.D.", BASELINE, "cad"), Row("BM3D", BASELINE, "bm3d"), single_task="Noise"),
    ),
}


def _spec(table: int | TableSpec) -> TableSpec:
    if isinstance(table, TableSpec):
        return table
    if table not in TABLES:
        raise KeyError(f"no table {table!r}; tables: {', '.join(map(str, TABLES))}")
    return TABLES[table]


def evaluate_tables(
    sets: Any,
    methods: Mapping[str, Method | Callable],
    tables: Sequence[int | TableSpec] = (3, 4, 5, 6),
    **options: Any,
) -> pd.DataFrame:
    """Score every row of the given tables that ``methods`` provides, on the tables' sets.

    A thin plan over `mtmri_lib.evaluation.evaluate` (``options`` go to it: ``cache_dir``,
    ``workers``, ``metrics``, ``metric_fidelity``, ``progress``...).
    """
    plan: dict[str, list[str]] = {}
    for table in tables:
        spec = _spec(table)
        labels = [label for label in spec.labels if label in methods]
        for set_name in spec.sets:
            if set_name in sets.names:
                plan.setdefault(set_name, [])
                plan[set_name] += [label for label in labels if label not in plan[set_name]]
    return evaluate(sets, methods, plan=plan, **options)


def methods_for(table: int | TableSpec, methods: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``methods`` that are rows of ``table``, in the table's order."""
    return {label: methods[label] for label in _spec(table).labels if label in methods}


def describe_data(info: Mapping[str, Any]) -> str:
    """'packaged demo data, cpu profile' (or the data folder) from an EvalSets' ``info``."""
    data = info.get("data") or "packaged demo data"
    return f"{data}, {info.get('profile', '?')} profile"


# --------------------------------------------------------------------------- tables


@dataclass(repr=False)
class ResultTable:
    """A table built from this run's scores (see `build_table`).

    Attributes
    ----------
    spec : TableSpec
    mean, error : pandas.DataFrame
        Rows = the table's rows, columns = (severity, metric); NaN where not run.
    text : pandas.DataFrame
        The displayed cells: "mean ± error" or why a row was not run.
    bold : pandas.DataFrame of bool
        Cells in the best group of their column.
    tests, tests_by_volume : dict
        (set, metric) -> FriedmanNemenyi (per slice; per volume, None with too few volumes).
    scores : pandas.DataFrame
        The tidy per-slice scores used.
    status : dict
        Row label -> "run" or the reason it was not run.
    caption : str
    error_kind : {"se", "sd"}
    """

    spec: TableSpec
    mean: pd.DataFrame
    error: pd.DataFrame
    text: pd.DataFrame
    bold: pd.DataFrame
    tests: dict[tuple[str, str], FriedmanNemenyi]
    tests_by_volume: dict[tuple[str, str], FriedmanNemenyi | None]
    scores: pd.DataFrame
    status: dict[str, str]
    caption: str
    error_kind: str = "se"
    severity: dict[str, str] = field(default_factory=dict)

    @property
    def run(self) -> list[str]:
        """Labels of the rows that were run."""
        return [label for label, status in self.status.items() if status == "run"]

    @property
    def not_run(self) -> dict[str, str]:
        """Labels of the rows not run, with the reason."""
        return {label: s for label, s in self.status.items() if s != "run"}

    def styler(self):
        """The table as a pandas Styler: bold cells, caption, "not run" rows greyed."""
        bold = self.bold.reindex_like(self.text).fillna(False)

        def style(frame: pd.DataFrame) -> pd.DataFrame:
            css = pd.DataFrame("", index=frame.index, columns=frame.columns)
            css = css.mask(bold.astype(bool), "font-weight: bold")
            for label in self.not_run:
                css.loc[label, :] = "color: #777777; font-style: italic"
            return css

        return (
            self.text.style.apply(style, axis=None)
            .set_caption(self.caption)
            .set_table_styles(
                [{"selector": "caption", "props": "caption-side: top; text-align: left;"}]
            )
        )

    def to_html(self) -> str:
        return self.styler().to_html()

    def __repr__(self) -> str:
        bold = self.bold.reindex_like(self.text).fillna(False).astype(bool)
        marked = self.text.where(~bold, "*" + self.text + "*")
        return f"{self.caption}\n(* = bold)\n{marked.to_string()}"

    def _repr_html_(self) -> str:
        return self.to_html()

    def volume_check(self) -> pd.DataFrame:
        """Per (severity, metric): the best group per slice and per volume, side by side."""
        rows = []
        n_volumes = self.scores.groupby("set")["volume"].nunique()
        for (set_name, metric), test in self.tests.items():
            by_volume = self.tests_by_volume.get((set_name, metric))
            rows.append(
                {
                    "severity": self.severity.get(set_name, set_name),
                    "metric": METRIC_LABELS.get(metric, metric),
                    "slices": test.n,
                    "Friedman p (slices)": test.friedman_p,
                    "best (slices)": ", ".join(sorted(test.best)),
                    "volumes": int(n_volumes.get(set_name, 0)),
                    "Friedman p (volumes)": by_volume.friedman_p if by_volume else math.nan,
                    "best (volumes)": ", ".join(sorted(by_volume.best))
                    if by_volume
                    else "too few volumes",
                }
            )
        return pd.DataFrame(rows)


def _row_status(row: Row, run: set[str]) -> str:
    if row.label in run:
        return "run"
    if row.kind == MODEL:
        return NOT_RUN_MODEL
    if row.kind == NOT_AVAILABLE:
        return "not run (not available here)"
    if row.kind == BASELINE:
        from .baselines import BASELINE_INFO, BASELINES

        if row.key not in BASELINES:
            package = BASELINE_INFO[row.key].package
            return f"not run ({package} not installed)"
    return "not run"


def _format(mean: float, error: float, digits: int) -> str:
    if math.isnan(mean):
        return "n/a"
    if math.isnan(error):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {error:.{digits}f}"


def build_table(
    scores: pd.DataFrame,
    table: int | TableSpec,
    *,
    info: Mapping[str, Any] | None = None,
    error: str = "se",
    digits: int = 4,
    alpha: float = ALPHA,
    metric_fidelity: str = "paper",
) -> ResultTable:
    """Build one table from `evaluate`'s tidy scores.

    Parameters
    ----------
    scores : pandas.DataFrame
        Tidy per-slice scores (`mtmri_lib.evaluation.evaluate`); rows of other tables are
        ignored.
    table : int or TableSpec
    info : mapping, optional
        The evaluation sets' ``info`` (profile, data, seed, size) for the caption.
    error : {"se", "sd"}
        Standard error of the mean (the article) or standard deviation (ddof 1).
    digits : int
        Decimals shown.
    alpha : float
        Significance threshold of the bold groups.
    metric_fidelity : {"paper", "code"}
        Which scores to use where both were computed.
    """
    spec = _spec(table)
    if error not in ("se", "sd"):
        raise ValueError(f"error must be 'se' or 'sd'; got {error!r}")
    part = scores[scores["set"].isin(spec.sets) & scores["metric"].isin(spec.metrics)]
    if "metric_fidelity" in part:
        part = part[part["metric_fidelity"] == metric_fidelity]
    metrics = [m for m in spec.metrics if m in set(part["metric"])]
    run = set(part.loc[part["value"].notna(), "method"])
    status = {row.label: _row_status(row, run) for row in spec.rows}
    sets_present = [s for s in spec.sets if s in set(part["set"])]
    severity = dict(part[["set", "severity"]].drop_duplicates().itertuples(index=False))
    columns = pd.MultiIndex.from_tuples(
        [(severity.get(s, s), METRIC_LABELS.get(m, m)) for s in sets_present for m in metrics],
        names=["severity", "metric"],
    )
    labels = spec.labels
    mean = pd.DataFrame(np.nan, index=labels, columns=columns)
    err = pd.DataFrame(np.nan, index=labels, columns=columns)
    bold = pd.DataFrame(False, index=labels, columns=columns)
    tests: dict[tuple[str, str], FriedmanNemenyi] = {}
    by_volume: dict[tuple[str, str], FriedmanNemenyi | None] = {}
    for set_name in sets_present:
        for metric in metrics:
            column = (severity.get(set_name, set_name), METRIC_LABELS.get(metric, metric))
            wide = score_table(part, set_name, metric)
            wide = wide.reindex(columns=[label for label in labels if label in wide.columns])
            n = wide.notna().sum()
            mean.loc[wide.columns, column] = wide.mean()
            sd = wide.std(ddof=1)
            err.loc[wide.columns, column] = sd / np.sqrt(n) if error == "se" else sd
            higher = HIGHER_IS_BETTER.get(metric, True)
            test = friedman_nemenyi(wide, alpha=alpha, higher_is_better=higher)
            tests[(set_name, metric)] = test
            volumes = (
                part[(part["set"] == set_name) & (part["metric"] == metric)]
                .drop_duplicates("slice")
                .set_index("slice")["volume"]
                .reindex(wide.index)
            )
            by_volume[(set_name, metric)] = friedman_nemenyi_by_volume(
                wide, volumes.to_numpy(), alpha=alpha, higher_is_better=higher
            )
            for label in test.best:
                bold.loc[label, column] = True
    text = pd.DataFrame("", index=labels, columns=columns)
    for label in labels:
        for column in columns:
            if status[label] != "run":
                text.loc[label, column] = status[label]
            else:
                text.loc[label, column] = _format(
                    mean.loc[label, column], err.loc[label, column], digits
                )
    text.index.name = "method"
    caption = _caption(spec, info, error, part)
    return ResultTable(
        spec=spec,
        mean=mean,
        error=err,
        text=text,
        bold=bold,
        tests=tests,
        tests_by_volume=by_volume,
        scores=part,
        status=status,
        caption=caption,
        error_kind=error,
        severity=severity,
    )


def _caption(spec: TableSpec, info: Mapping[str, Any] | None, error: str, part) -> str:
    info = dict(info or {})
    n_slices = part["slice"].nunique()
    n_volumes = part["volume"].nunique()
    size = info.get("size")
    where = describe_data(info) if info else "this run"
    scale = f" at {size} x {size} pixels" if size else ""
    seed = f", seed {info['seed']}" if "seed" in info else ""
    spread = "standard error" if error == "se" else "standard deviation"
    return (
        f"Table {spec.number}: {spec.title}. This run: {where}{seed}; {n_slices} test slices "
        f"from {n_volumes} volumes{scale}. Mean ± {spread} over slices. Bold: the method with "
        "the best mean rank and every method not significantly different from it (Friedman "
        "test, then Nemenyi post-hoc test, p >= 0.05). The article's values are not available "
        "to compare with; its claims are checked below."
    )


# --------------------------------------------------------------------------- claims

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
    judge: Callable[[FriedmanNemenyi, str], Verdict],
) -> Check:
    """A check made of one verdict per column, combined with `_combine`.

    Ranks, Nemenyi p-values and best groups depend on every method of the table, so while a
    row of the table is not run a verdict is at most "not resolved", its reason saying what
    the methods run so far show."""

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
            [judge(result.tests[(s, metric)], _short(result, s, metric)) for s in columns]
        )
        absent = list(result.not_run)
        if absent and verdict.status != NOT_RESOLVED:
            return Verdict(
                NOT_RESOLVED,
                f"{verdict.status} among the methods run ({verdict.reason}); not run: "
                + ", ".join(absent),
            )
        return verdict

    return check


def in_best(
    table: int, method: str, metric: str, sets: Sequence[str] | None = None, *, expect=True
) -> Check:
    """``method`` is (``expect=True``) or is not (False) in each column's bold group."""

    def judge(test: FriedmanNemenyi, where: str) -> Verdict:
        member = method in test.best
        word = "in" if member else "not in"
        return Verdict(HELD if member == expect else NOT_HELD, f"{where}: {word} bold group")

    return _per_column(table, [method], metric, sets, judge)


def is_top(table: int, method: str, metric: str, sets: Sequence[str] | None = None) -> Check:
    """``method`` has the best mean rank; another first-ranked method that is not
    significantly better leaves it not resolved."""

    def judge(test: FriedmanNemenyi, where: str) -> Verdict:
        if test.top == method:
            return Verdict(HELD, f"{where}: ranks first")
        if test.better(test.top, method):
            return Verdict(NOT_HELD, f"{where}: {test.top} significantly better")
        return Verdict(NOT_RESOLVED, f"{where}: {test.top} first, not significantly better")

    return _per_column(table, [method], metric, sets, judge)


def better(
    table: int, method: str, other: str, metric: str, sets: Sequence[str] | None = None
) -> Check:
    """``method`` ranks significantly above ``other`` (Nemenyi) in every column."""

    def judge(test: FriedmanNemenyi, where: str) -> Verdict:
        p = float(test.nemenyi.loc[method, other])
        if test.better(method, other):
            return Verdict(HELD, f"{where}: p = {p:.3g}")
        if test.better(other, method):
            return Verdict(NOT_HELD, f"{where}: {other} significantly better")
        return Verdict(NOT_RESOLVED, f"{where}: not significant (p = {p:.3g})")

    return _per_column(table, [method, other], metric, sets, judge)


def not_worse(
    table: int, method: str, others: Sequence[str], metric: str, sets: Sequence[str] | None = None
) -> Check:
    """None of ``others`` ranks significantly above ``method`` in any column."""

    def judge(test: FriedmanNemenyi, where: str) -> Verdict:
        above = [o for o in others if test.better(o, method)]
        if above:
            return Verdict(NOT_HELD, f"{where}: {', '.join(above)} significantly better")
        return Verdict(HELD, f"{where}: none of {', '.join(others)} significantly better")

    return _per_column(table, [method, *others], metric, sets, judge)


def below_any(
    table: int, method: str, others: Sequence[str], metric: str, sets: Sequence[str] | None = None
) -> Check:
    """In every column at least one of ``others`` ranks significantly above ``method``."""

    def judge(test: FriedmanNemenyi, where: str) -> Verdict:
        above = [o for o in others if test.better(o, method)]
        if above:
            return Verdict(HELD, f"{where}: {', '.join(above)} significantly better")
        return Verdict(NOT_HELD, f"{where}: matches {', '.join(others)}")

    return _per_column(table, [method, *others], metric, sets, judge)


def none_better(
    table: int, reference: str, metric: str, sets: Sequence[str] | None = None
) -> Check:
    """No method ranks significantly above ``reference`` in any column."""

    def judge(test: FriedmanNemenyi, where: str) -> Verdict:
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


def _strong(table: int) -> str:
    return TABLES[table].sets[-1]


def _models(table: int) -> list[str]:
    return [r.label for r in TABLES[table].rows if r.kind == MODEL]


CLAIMS: tuple[Claim, ...] = (
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
)


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
