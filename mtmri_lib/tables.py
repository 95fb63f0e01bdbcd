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
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .artefacts import KINDS
from .evaluation import CORRUPTED_INPUT, Method, evaluate, score_table, seed_of
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
    "SEQUENCES",
    "sequential_methods",
    "table_methods",
    "PUBLISHED_RESIDUALS",
    "residual_table",
    "seed_spread_table",
]

MT = "MT"
MT_LC = "MT+L_C"
#: What a trained model's row says until the training chapter has produced the model.
NOT_RUN_MODEL = "not run yet (see the training chapter)"
REFERENCE, BASELINE, NOT_AVAILABLE, MODEL = "reference", "baseline", "not available", "model"
SEQUENCE = "sequence"
#: Table 7's two scenarios (evaluation sets).
SCENARIO_A, SCENARIO_B = "subsampling+motion", "noise+bias"
#: Table 7's sequential rows: label -> (single-task models in the order applied, scenario).
SEQUENCES: dict[str, tuple[tuple[str, str], str]] = {
    "Subsampling → Motion": (("Subsampling", "Motion"), SCENARIO_A),
    "Motion → Subsampling": (("Motion", "Subsampling"), SCENARIO_A),
    "Noise → Bias": (("Noise", "Bias"), SCENARIO_B),
    "Bias → Noise": (("Bias", "Noise"), SCENARIO_B),
}
#: The article's mean absolute residuals (Results, Table 7), heads in the order bias,
#: subsampling, motion, noise.
PUBLISHED_RESIDUALS: dict[tuple[str, str], tuple[float, float, float, float]] = {
    (SCENARIO_A, MT): (0.008, 0.032, 0.021, 0.004),
    (SCENARIO_A, MT_LC): (0.005, 0.026, 0.010, 0.002),
    (SCENARIO_B, MT): (0.026, 0.002, 0.012, 0.058),
    (SCENARIO_B, MT_LC): (0.010, 0.002, 0.006, 0.060),
}
#: The multi-task models' heads, in the article's order (that of the artefacts).
HEADS = KINDS


@dataclass(frozen=True)
class Row:
    """One row of a table.

    Attributes
    ----------
    label : str
        As in the article (also the method's name in `evaluate`).
    kind : {"reference", "baseline", "not available", "model", "sequence"}
    key : str, optional
        The key in `mtmri_lib.baselines.BASELINES` or `NOT_AVAILABLE`.
    sets : tuple of str, optional
        The sets (columns) the row belongs to; default all of its table's (Table 7's
        sequential rows belong to one scenario each).
    """

    label: str
    kind: str
    key: str | None = None
    sets: tuple[str, ...] | None = None

    def applies(self, set_name: str) -> bool:
        return self.sets is None or set_name in self.sets


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
    note : str
        A sentence the caption adds about the columns.
    """

    number: int
    title: str
    artefact: str
    sets: tuple[str, ...]
    rows: tuple[Row, ...]
    metrics: tuple[str, ...] = ("ssim", "vif")
    note: str = ""

    @property
    def labels(self) -> list[str]:
        return [row.label for row in self.rows]


def _sets_of(table: int) -> tuple[str, ...]:
    from .data.evalsets import EVALUATION_SETTINGS

    return tuple(s.name for s in EVALUATION_SETTINGS if s.table == table)


def _rows(*rows: Row, single_task: str) -> tuple[Row, ...]:
    models = (Row(single_task, MODEL), Row(MT, MODEL), Row(MT_LC, MODEL))
    return (Row(CORRUPTED_INPUT, REFERENCE), *rows, *models)


#: Keeping the real part of the inverse FFT keeps half the noise power (ours and the
#: released code alike), so the SNR in effect is the nominal one + 10 log10(2) dB.
_EFFECTIVE_SNR_NOTE = (
    "The SNR columns are the nominal SNR of the complex k-space noise; the corrupted image "
    "keeps the real part of the inverse FFT, which halves the noise power, so the effective "
    f"SNR is {10 * math.log10(2):.1f} dB higher (recorded as effective_snr_db), as in the "
    "released code."
)


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
        note=_EFFECTIVE_SNR_NOTE,
    ),
    7: TableSpec(
        7,
        "Two artefacts at once: sequential single-task models against the multi-task models",
        "multi",
        _sets_of(7),
        (
            Row(CORRUPTED_INPUT, REFERENCE),
            *(Row(label, SEQUENCE, sets=(scenario,)) for label, (_, scenario) in SEQUENCES.items()),
            Row(MT, MODEL),
            Row(MT_LC, MODEL),
        ),
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

    Entries of ``methods`` named ``seed_label(row, seed)`` ("MT (seed 1)") are scored
    wherever their row is. A thin plan over `mtmri_lib.evaluation.evaluate` (``options`` go
    to it: ``cache_dir``, ``workers``, ``metrics``, ``metric_fidelity``, ``progress``...).
    """
    plan: dict[str, list[str]] = {}
    for table in tables:
        spec = _spec(table)
        for set_name in spec.sets:
            if set_name not in sets.names:
                continue
            chosen = plan.setdefault(set_name, [])
            for row in spec.rows:
                if not row.applies(set_name):
                    continue
                for label in methods:
                    origin = seed_of(label)
                    if (label == row.label or (origin and origin[0] == row.label)) and (
                        label not in chosen
                    ):
                        chosen.append(label)
    return evaluate(sets, methods, plan=plan, **options)


def sequential_methods(models: Mapping[str, Any]) -> dict[str, Any]:
    """Table 7's sequential rows built from the trained single-task models available.

    ``models`` maps the article's labels to trained models (`mtmri_lib.training.
    trained_methods`); returns ``{"Motion → Subsampling": SequentialCorrector, ...}`` for
    every pair whose two models are there."""
    from .training import SequentialCorrector

    return {
        label: SequentialCorrector([models[first], models[second]], name=label)
        for label, ((first, second), _) in SEQUENCES.items()
        if first in models and second in models
    }


def table_methods(
    profile: Any,
    output_dir: Any,
    *,
    seed: int | None = None,
    fidelity: str = "paper",
    extra_seeds: bool = True,
) -> dict[str, Any]:
    """Every row of Tables 3-7 that can run in this book run, keyed by row label.

    The corrupted input and the comparison methods (`mtmri_lib.evaluation.
    comparison_methods`), the trained models of ``profile`` found beside ``output_dir``
    (`mtmri_lib.training.trained_methods`, extra seeds as "MT (seed 1)"...) and Table 7's
    sequential pairs of single-task models. ``seed``: the book run's seed, so that models of
    another run in the same folder are left out (`trained_methods`).

    Raises
    ------
    FileNotFoundError
        No trained model of this profile is there (the training chapter has not run).
    """
    from .evaluation import comparison_methods
    from .training import models_dir, trained_methods

    models = trained_methods(profile, output_dir, seed=seed, extra_seeds=extra_seeds)
    if not models:
        raise FileNotFoundError(
            f"no trained models of the {getattr(profile, 'name', profile)} profile in "
            f"{models_dir(output_dir)}: run the training chapter (book/training.ipynb) with "
            "the same profile and output folder first"
        )
    return {**comparison_methods(fidelity), **models, **sequential_methods(models)}


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
    severity : dict
        Set name -> its column label.
    seed_means : dict
        (set, metric) -> {row label: [mean over slices of each seed]}, in the columns where
        a row was trained with more than one seed (`mtmri_lib.evaluation.seed_label` rows in
        the scores); the other rows of such a column give their one mean.
    residuals : pandas.DataFrame or None
        Table 7: `mtmri_lib.evaluation.residual_means` of the multi-task models.
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
    seed_means: dict[tuple[str, str], dict[str, list[float]]] = field(default_factory=dict)
    residuals: pd.DataFrame | None = None

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

    def seed_spread(self) -> pd.DataFrame:
        """Per row trained with several seeds and per column: the seeds' means, lowest and
        highest, and how many seeds (empty when no row has more than one)."""
        rows = []
        for (set_name, metric), spread in self.seed_means.items():
            for label, means in spread.items():
                if len(means) < 2:
                    continue
                rows.append(
                    {
                        "method": label,
                        "severity": self.severity.get(set_name, set_name),
                        "metric": METRIC_LABELS.get(metric, metric),
                        "seeds": len(means),
                        "lowest mean": min(means),
                        "highest mean": max(means),
                        "spread": max(means) - min(means),
                    }
                )
        return pd.DataFrame(rows)

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
    if row.kind in (MODEL, SEQUENCE):
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
        return "–"
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
    residuals: pd.DataFrame | None = None,
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
    residuals : pandas.DataFrame, optional
        Table 7: the multi-task models' residual means (`mtmri_lib.evaluation.
        residual_means`), kept for `residual_table` and claim 8.

    Scores of rows named ``seed_label(row, seed)`` do not enter the displayed rows or the
    statistics; they give ``seed_means``, the seed-to-seed spread the claims are checked
    against. A cell of a row that does not belong to a column (Table 7's sequential rows in
    the other scenario) shows "–".
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
    seed_means: dict[tuple[str, str], dict[str, list[float]]] = {}
    for set_name in sets_present:
        for metric in metrics:
            column = (severity.get(set_name, set_name), METRIC_LABELS.get(metric, metric))
            wide = score_table(part, set_name, metric)
            spread: dict[str, list[float]] = {}
            for method in wide.columns:
                origin = seed_of(method)
                if origin and origin[0] in wide.columns and origin[0] in labels:
                    spread.setdefault(origin[0], [float(wide[origin[0]].mean())])
                    spread[origin[0]].append(float(wide[method].mean()))
            if spread:  # rows with one seed give their one mean, to compare with
                for label in labels:
                    if label in wide.columns and label not in spread:
                        spread[label] = [float(wide[label].mean())]
                seed_means[(set_name, metric)] = spread
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
    applies = {row.label: row.applies for row in spec.rows}
    set_of = {severity.get(s, s): s for s in sets_present}
    for label in labels:
        for column in columns:
            if label in applies and not applies[label](set_of[column[0]]):
                text.loc[label, column] = "–"  # not a row of this column's set
            elif status[label] != "run":
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
        seed_means=seed_means,
        residuals=residuals,
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
        "to compare with; its claims are checked below." + (f" {spec.note}" if spec.note else "")
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
        if test.top == method:
            return Verdict(HELD, f"{where}: ranks first")
        if test.better(test.top, method):
            return Verdict(NOT_HELD, f"{where}: {test.top} significantly better")
        return Verdict(NOT_RESOLVED, f"{where}: {test.top} first, not significantly better")

    return _per_column(table, [method], metric, sets, judge)


def better(
    table: int, method: str, other: str, metric: str, sets: Sequence[str] | None = None
) -> Check:
    """``method`` ranks significantly above ``other`` (Nemenyi) in every column, by more
    than the seed-to-seed spread where either was trained with several seeds."""

    def judge(test: FriedmanNemenyi, where: str, spread: Mapping) -> Verdict:
        p = float(test.nemenyi.loc[method, other])
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
    clear, noisy = [], []
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
    from .data.evalsets import EVALUATION_SETTINGS

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


def residual_table(residuals: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Mean |residual| per head of each multi-task model and scenario, beside the article's.

    ``residuals`` is `mtmri_lib.evaluation.residual_means`' frame. Rows: (scenario, model);
    columns: (head, "this run" / "article"). The run's values are in units of the model's
    z-normalised input; the article does not state its units, so compare the order of the
    heads, not the values."""
    frame = residuals[residuals["method"].isin([MT, MT_LC])]
    means = frame.groupby(["set", "method", "head"], sort=False)["value"].mean()
    # Every scenario and model the article reports, and any other the run has; a model that
    # has not run shows NaN beside the article's values.
    pairs = list(PUBLISHED_RESIDUALS)
    ran = dict.fromkeys(zip(frame["set"], frame["method"], strict=True))
    pairs += [key for key in ran if key not in pairs]
    rows = {}
    for set_name, model in pairs:
        published = PUBLISHED_RESIDUALS.get((set_name, model))
        row = {}
        for i, head in enumerate(HEADS):
            value = means.get((set_name, model, head), math.nan)
            row[(head, "this run")] = round(float(value), digits)
            row[(head, "article")] = published[i] if published else math.nan
        rows[(set_name, model)] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["scenario", "model"]
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["head", "source"])
    return table


def seed_spread_table(results: Sequence[ResultTable]) -> pd.DataFrame:
    """`ResultTable.seed_spread` of several tables in one frame, indexed by (table, method,
    severity, metric); empty when no row of any table was trained with several seeds."""
    frames = [r.seed_spread().assign(table=r.spec.number) for r in results]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).set_index(["table", "method", "severity", "metric"])
