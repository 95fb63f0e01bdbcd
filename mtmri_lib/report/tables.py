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
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ..artefacts import KINDS
from ..baselines import BASELINE_INFO, BASELINES
from ..data.evalsets import EVALUATION_SETTINGS
from ..evaluation import (
    CORRUPTED_INPUT,
    Method,
    comparison_methods,
    evaluate,
    score_table,
    seed_of,
    trained_methods,
)
from ..inference import SequentialCorrector
from ..metrics import HIGHER_IS_BETTER, METRIC_LABELS
from ..profiles import get_profile, profile_caption
from ..protocols import Corrector, EvaluationSets
from ..stats import ALPHA, FriedmanNemenyi, friedman_nemenyi, friedman_nemenyi_by_volume
from ..store import models_dir

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
    sets: EvaluationSets,
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


def sequential_methods(models: Mapping[str, Corrector]) -> dict[str, SequentialCorrector]:
    """Table 7's sequential rows built from the trained single-task models available.

    ``models`` maps the article's labels to trained models (`mtmri_lib.evaluation.
    trained_methods`); returns ``{"Motion → Subsampling": SequentialCorrector, ...}`` for
    every pair whose two models are there."""
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
) -> dict[str, Method | Corrector]:
    """Every row of Tables 3-7 that can run in this book run, keyed by row label.

    The corrupted input and the comparison methods (`mtmri_lib.evaluation.
    comparison_methods`), the trained models of ``profile`` found beside ``output_dir``
    (`mtmri_lib.evaluation.trained_methods`, extra seeds as "MT (seed 1)"...) and Table 7's
    sequential pairs of single-task models. ``seed``: the book run's seed, so that models of
    another run in the same folder are left out (`trained_methods`).

    Raises
    ------
    FileNotFoundError
        No trained model of this profile is there (the training chapter has not run).
    """
    extra = get_profile(profile).training.extra_seeds if extra_seeds else 0
    models = trained_methods(profile, output_dir, seed=seed, extra_seeds=extra)
    if not models:
        raise FileNotFoundError(
            f"no trained models of the {getattr(profile, 'name', profile)} profile in "
            f"{models_dir(output_dir)}: run the training chapter (book/training.ipynb) with "
            "the same profile and output folder first"
        )
    return {**comparison_methods(fidelity), **models, **sequential_methods(models)}


_Entry = TypeVar("_Entry")


def methods_for(table: int | TableSpec, methods: Mapping[str, _Entry]) -> dict[str, _Entry]:
    """The entries of ``methods`` that are rows of ``table``, in the table's order."""
    return {label: methods[label] for label in _spec(table).labels if label in methods}


def describe_data(info: Mapping[str, Any]) -> str:
    """'synthetic subjects (8 test subjects), cpu profile' (or the data folder) from an
    EvalSets' ``info``; a dry run's profile says that it is one (`profile_caption`)."""
    data = info.get("data") or "synthetic subjects"
    return f"{data}, {profile_caption(info.get('profile', '?'))}"


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
        if row.key is None:
            raise ValueError(f"the comparison method row {row.label!r} names no method (key)")
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
    severity: dict[str, str] = dict(
        part[["set", "severity"]].drop_duplicates().itertuples(index=False)
    )
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
    # pandas-stubs type a frame's columns as Index[str]; these are (head, source) tuples.
    table.columns = pd.MultiIndex.from_tuples(
        table.columns,  # type: ignore[arg-type]
        names=["head", "source"],
    )
    return table


def seed_spread_table(results: Sequence[ResultTable]) -> pd.DataFrame:
    """`ResultTable.seed_spread` of several tables in one frame, indexed by (table, method,
    severity, metric); empty when no row of any table was trained with several seeds."""
    frames = [r.seed_spread().assign(table=r.spec.number) for r in results]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).set_index(["table", "method", "severity", "metric"])
