"""Every claim of `mtmri_lib.report.claims.CLAIMS` on constructed tables.

The constructions start from one "article world": per-slice scores for every row of Tables
3-7 (and residual means for Table 7) built so that every claim the article makes holds
clearly. Each case then changes that world a little (one method better or worse in some
columns, a row not run, a table not built, residuals swapped) and asserts the exact verdict
the claim's check must give, and a piece of its reason.

A score is ``base[slice] + level + noise``: the base is common to every method, so the
ranks of a slice follow the levels; the noise (sd 0.002) only breaks ties between methods
of the same level. With 60 slices a level difference of 0.02 or more (ten times the noise)
ranks the two methods the same way on every slice, a significant Nemenyi difference; equal
levels never differ significantly. "By a nose" (`nose`) is a per-slice pattern:
the method wins 3 slices in 5 by 0.01, a first rank that is not significant.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import pytest

from mtmri_lib.artefacts import KINDS
from mtmri_lib.data import EVALUATION_SETTINGS
from mtmri_lib.evaluation import COLUMNS, CORRUPTED_INPUT, seed_label
from mtmri_lib.report.claims import CLAIMS, HELD, NOT_HELD, NOT_RESOLVED, check_claims
from mtmri_lib.report.tables import (
    MT,
    MT_LC,
    PUBLISHED_RESIDUALS,
    SCENARIO_A,
    SCENARIO_B,
    TABLES,
    ResultTable,
    build_table,
)

N_SLICES = 60
N_VOLUMES = 6
NOISE_SD = 0.002
SEVERITY = {s.name: s.label for s in EVALUATION_SETTINGS}
BY_ID = {claim.id: claim for claim in CLAIMS}

M_S, S_M = "Motion → Subsampling", "Subsampling → Motion"
B_N, N_B = "Bias → Noise", "Noise → Bias"

#: A level: one number, or a tuple of one number per slice. In `WORLD` a list gives one
#: level per set (column) of the table.
Value = float | tuple[float, ...]


def nose(level: float, share: float = 0.6, by: float = 0.01) -> tuple[float, ...]:
    """Per-slice levels around ``level``: ``+by`` on ``share`` of the slices (3 in 5 for
    0.6), ``-by`` on the others; against a method at ``level`` the mean-rank gap is
    ``2 * share - 1``, far below the Nemenyi critical difference."""
    wins = round(5 * share)
    return tuple(level + (by if i % 5 < wins else -by) for i in range(N_SLICES))


def both(ssim: Value | list[Value], vif: Value | list[Value] | None = None) -> dict:
    """The levels of one row: SSIM, and VIF (the same as SSIM unless given)."""
    return {"ssim": ssim, "vif": ssim if vif is None else vif}


# --------------------------------------------------------------------------- the world

#: Table -> row -> metric -> level (one for every column, or a list: one per set).
#: Every claim but 1b (not testable) holds on it.
WORLD: dict[int, dict[str, dict[str, Value | list[Value]]]] = {
    # Bias: 3a the input's SSIM below its VIF; 3b N4ITK top on VIF only; 3c Bias and MT top
    # on SSIM only; 3d MT+L_C top on both; 1a MT+L_C above MT on VIF; 9 Bias never above.
    3: {
        CORRUPTED_INPUT: both(0.00, 0.05),
        "N4ITK": both(0.05, 0.15),
        "Bias": both(0.10, 0.10),
        MT: both(0.10, 0.10),
        MT_LC: both(0.10, 0.15),
    },
    # Subsampling (UniRes scored as if it could run): 4a/4b every model above Bicubic and
    # UniRes on VIF; 1a; 9.
    4: {
        CORRUPTED_INPUT: both(0.00),
        "Bicubic": both(0.02),
        "UniRes": both(0.04),
        "Subsampling": both(0.10),
        MT: both(0.10),
        MT_LC: both(0.10, 0.15),
    },
    # Motion, sets 25 %, 12.5 %, 5 % centre clean: 5a all equal on SSIM at 25 %; 5b the
    # models top on SSIM at 5 %; 5c TV top on VIF at 5 %; 1a; 9.
    5: {
        CORRUPTED_INPUT: both(0.00),
        "TV": both([0.00, 0.02, 0.02], [0.05, 0.05, 0.20]),
        "Motion": both([0.00, 0.10, 0.10], 0.10),
        MT: both([0.00, 0.10, 0.10], 0.10),
        MT_LC: both([0.00, 0.10, 0.10], 0.15),
    },
    # Noise: 6a the models top on SSIM; 6b MT+L_C level with C.A.D. and BM3D on VIF, Noise
    # and MT below them; 1a; 9.
    6: {
        CORRUPTED_INPUT: both(0.00),
        "C.A.D.": both(0.05, 0.15),
        "BM3D": both(0.05, 0.15),
        "Noise": both(0.10, 0.10),
        MT: both(0.10, 0.10),
        MT_LC: both(0.10, 0.15),
    },
    # Two artefacts, sets (a), (b): 2 MT+L_C above MT; 7a Motion → Subsampling first by a
    # nose on VIF in (a); 7b the reverse order below MT; 7c Bias → Noise above Noise → Bias;
    # 10a/10b the right orders level with MT+L_C. Sequential rows are scored only in their
    # own scenario.
    7: {
        CORRUPTED_INPUT: both(0.00),
        S_M: both(0.05),
        M_S: both(0.15, nose(0.15)),
        N_B: both(0.05),
        B_N: both(0.15),
        MT: both(0.10),
        MT_LC: both(0.15),
    },
}


@dataclass(frozen=True)
class Level:
    """A change to the world: ``method``'s ``metric`` level in ``sets`` (None: all)."""

    table: int
    method: str
    metric: str
    value: Value
    sets: tuple[str, ...] | None = None


def _levels(table: int, changes: tuple[Level, ...]) -> dict[str, dict[str, list[Value]]]:
    """The world's levels of ``table`` (one per set) with ``changes`` applied."""
    sets = TABLES[table].sets
    out: dict[str, dict[str, list[Value]]] = {}
    for method, by_metric in WORLD[table].items():
        out[method] = {}
        for metric, value in by_metric.items():
            per_set = list(value) if isinstance(value, list) else [value] * len(sets)
            assert len(per_set) == len(sets), (table, method, metric)
            out[method][metric] = per_set
    for change in changes:
        row = out.setdefault(change.method, {})
        values = row.setdefault(change.metric, [None] * len(sets))
        for i, set_name in enumerate(sets):
            if change.sets is None or set_name in change.sets:
                values[i] = change.value
    return out


def _rng(*key: object) -> np.random.Generator:
    """A generator seeded by ``key``: the same noise for a method whatever else changes."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def scores_frame(table: int, levels: Mapping[str, Mapping[str, list[Value]]]) -> pd.DataFrame:
    """Tidy per-slice scores (`mtmri_lib.evaluation.COLUMNS`) of ``table``'s sets."""
    spec = TABLES[table]
    applies = {row.label: row.applies for row in spec.rows}
    base = 0.5 + 0.05 * _rng("base", table).standard_normal(N_SLICES)
    rows = []
    for method, by_metric in levels.items():
        for metric, per_set in by_metric.items():
            for set_name, level in zip(spec.sets, per_set, strict=True):
                if level is None or not applies.get(method, lambda s: True)(set_name):
                    continue
                noise = NOISE_SD * _rng(table, method, metric, set_name).standard_normal(N_SLICES)
                values = base + np.asarray(level, dtype=float) + noise
                for i in range(N_SLICES):
                    volume = i % N_VOLUMES
                    rows.append(
                        (
                            set_name,
                            table,
                            SEVERITY[set_name],
                            method,
                            i,
                            f"v{volume}",
                            f"p{volume}",
                            metric,
                            "paper",
                            float(values[i]),
                        )
                    )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def residual_frame(kind: str) -> pd.DataFrame | None:
    """Table 7's residual means (`mtmri_lib.evaluation.residual_means`' frame).

    ``kind``: "article" (the present heads 0.03, the absent ones 0.005), "published" (the
    article's own means, `PUBLISHED_RESIDUALS`), "swapped" (in scenario (a) the present
    heads 0.001, the absent bias 0.01 and noise 0.005), "no MT+L_C" (only MT), "present
    only" (the absent heads not recorded), "none" (no residuals)."""
    if kind == "none":
        return None
    present = {SCENARIO_A: ("subsampling", "motion"), SCENARIO_B: ("noise", "bias")}
    rng = _rng("residuals", kind)
    rows = []
    for set_name, heads in present.items():
        for model in (MT, MT_LC):
            if kind == "no MT+L_C" and model == MT_LC:
                continue
            for i in range(N_SLICES):
                for h, head in enumerate(KINDS):
                    if kind == "present only" and head not in heads:
                        continue
                    level = 0.03 if head in heads else 0.005
                    if kind == "published":
                        level = PUBLISHED_RESIDUALS[(set_name, model)][h]
                    if kind == "swapped" and set_name == SCENARIO_A:
                        level = {"bias": 0.01, "noise": 0.005}.get(head, 0.001)
                    value = abs(level + 5e-4 * rng.standard_normal())
                    rows.append((set_name, model, i, f"v{i % N_VOLUMES}", head, value))
    return pd.DataFrame(rows, columns=["set", "method", "slice", "volume", "head", "value"])


@cache
def built(
    table: int, changes: tuple[Level, ...], dropped: tuple[str, ...], residuals: str
) -> ResultTable:
    scores = scores_frame(table, _levels(table, changes))
    scores = scores[~scores["method"].isin(dropped)]
    return build_table(scores, table, residuals=residual_frame(residuals) if table == 7 else None)


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """A construction and the verdict that ``claim``'s check must give on it.

    ``changes`` alter the world's levels; ``drop`` lists (table, row) not run; ``without``
    the tables not built; ``residuals`` the kind of `residual_frame`; ``reason`` a piece of
    the verdict's reason, ``starts`` how it must start, ``absent`` a piece it must not hold
    (where the other outcome's reason would also contain ``reason``)."""

    claim: str
    status: str
    name: str
    reason: str = ""
    changes: tuple[Level, ...] = ()
    drop: tuple[tuple[int, str], ...] = ()
    without: tuple[int, ...] = ()
    residuals: str = "article"
    starts: str = ""
    absent: str = ""

    def results(self) -> dict[int, ResultTable]:
        return {
            table: built(
                table,
                tuple(c for c in self.changes if c.table == table),
                tuple(m for t, m in self.drop if t == table),
                self.residuals,
            )
            for table in TABLES
            if table not in self.without
        }

    @property
    def id(self) -> str:
        return f"{self.claim}-{self.status.replace(' ', '_')}-{self.name}"


STRONG = {t: TABLES[t].sets[-1] for t in (3, 4, 5, 6)}
SINGLE = {3: "Bias", 4: "Subsampling", 5: "Motion", 6: "Noise"}
IN, NOT_IN = ": in bold group", "not in bold group"

CASES: tuple[Case, ...] = (
    # 1a: MT+L_C above MT on VIF in every column of Tables 3-6.
    Case("1a", HELD, "world", "p = "),
    Case(
        "1a",
        NOT_HELD,
        "MT ahead on one motion column",
        "12.5 % centre clean VIF: MT significantly better",
        changes=(Level(5, MT, "vif", 0.20, ("motion_12.5",)),),
    ),
    Case("1a", NOT_RESOLVED, "table 6 not built", "Table 6 not built", without=(6,)),
    Case(
        "1a",
        NOT_RESOLVED,
        "level on one column",
        "x3 VIF: not significant",
        changes=(Level(4, MT_LC, "vif", 0.10, ("subsampling_x3",)),),
    ),
    # 1b: needs a kernel ablation; never decided.
    Case("1b", NOT_RESOLVED, "world", "kernel ablation"),
    Case("1b", NOT_RESOLVED, "no tables", "kernel ablation", without=(3, 4, 5, 6, 7)),
    # 2: MT+L_C above MT in both scenarios, SSIM and VIF.
    Case("2", HELD, "world", "p = "),
    Case(
        "2",
        NOT_HELD,
        "MT ahead on SSIM in (b)",
        "(b) random order SSIM: MT significantly better",
        changes=(Level(7, MT, "ssim", 0.20, (SCENARIO_B,)),),
    ),
    Case("2", NOT_RESOLVED, "MT not run", "MT not run", drop=((7, MT),)),
    Case(
        "2",
        NOT_RESOLVED,
        "a second MT seed as good as MT+L_C",
        "seed-to-seed spread",
        changes=(Level(7, seed_label(MT, 1), "vif", 0.20),),
    ),
    # 3a: the 5 % field lowers SSIM more than VIF (the corrupted input).
    Case("3a", HELD, "world", "Wilcoxon p"),
    Case(
        "3a",
        NOT_HELD,
        "SSIM above VIF",
        "Wilcoxon p",
        changes=(Level(3, CORRUPTED_INPUT, "ssim", 0.10, ("bias_05",)),),
    ),
    Case(
        "3a",
        NOT_RESOLVED,
        "input not scored",
        "Corrupted input not run on bias_05",
        drop=((3, CORRUPTED_INPUT),),
    ),
    Case(
        "3a",
        NOT_RESOLVED,
        "differences of both signs",
        "Wilcoxon p",
        changes=(
            Level(
                3,
                CORRUPTED_INPUT,
                "ssim",
                tuple(0.05 + (-1) ** i * 0.005 * (1 + i // 2) for i in range(N_SLICES)),
                ("bias_05",),
            ),
        ),
    ),
    Case("3a", NOT_RESOLVED, "table 3 not built", "Table 3 not built", without=(3,)),
    # 3b: N4ITK in every VIF bold group, in no SSIM one.
    Case("3b", HELD, "world", "without Implicit bias CNN"),
    Case(
        "3b",
        NOT_HELD,
        "N4ITK behind on VIF",
        "VIF: " + NOT_IN,
        changes=(Level(3, "N4ITK", "vif", 0.05, ("bias_10",)),),
    ),
    Case(
        "3b",
        NOT_HELD,
        "N4ITK top on SSIM too",
        "SSIM" + IN,
        changes=(Level(3, "N4ITK", "ssim", 0.10, ("bias_20",)),),
    ),
    Case("3b", NOT_RESOLVED, "N4ITK not run", "N4ITK not run", drop=((3, "N4ITK"),)),
    # 3c: Bias and MT in every SSIM bold group, in no VIF one.
    Case("3c", HELD, "world", "SSIM" + IN),
    Case(
        "3c",
        NOT_HELD,
        "Bias top on VIF too",
        "VIF" + IN,
        changes=(Level(3, "Bias", "vif", 0.15, ("bias_05",)),),
    ),
    Case(
        "3c",
        NOT_HELD,
        "MT behind on SSIM",
        "SSIM: " + NOT_IN,
        changes=(Level(3, MT, "ssim", 0.0),),
    ),
    Case(
        "3c",
        NOT_RESOLVED,
        "another row not run",
        "not run: MT+L_C",
        drop=((3, MT_LC),),
        starts="held among the methods run",
    ),
    # 3d: MT+L_C in every bold group.
    Case("3d", HELD, "world", "VIF" + IN),
    Case(
        "3d",
        NOT_HELD,
        "MT+L_C behind on SSIM",
        "20 % [0.8, 1.2] SSIM: " + NOT_IN,
        changes=(Level(3, MT_LC, "ssim", 0.05, ("bias_20",)),),
    ),
    Case("3d", NOT_RESOLVED, "MT+L_C not run", "MT+L_C not run", drop=((3, MT_LC),)),
    # 4a: every trained model above Bicubic on VIF.
    Case("4a", HELD, "world", "p = "),
    Case(
        "4a",
        HELD,
        "UniRes not run",
        "without UniRes, which cannot run here",
        drop=((4, "UniRes"),),
    ),
    Case(
        "4a",
        NOT_HELD,
        "Bicubic above two models",
        "Bicubic significantly better",
        changes=(Level(4, "Bicubic", "vif", 0.12, ("subsampling_x4",)),),
    ),
    Case("4a", NOT_RESOLVED, "Bicubic not run", "Bicubic not run", drop=((4, "Bicubic"),)),
    # 4b: as 4a against UniRes (decidable only on scores that include UniRes).
    Case("4b", HELD, "UniRes scored", "p = "),
    Case(
        "4b",
        NOT_HELD,
        "UniRes best",
        "UniRes significantly better",
        changes=(Level(4, "UniRes", "vif", 0.20),),
    ),
    Case("4b", NOT_RESOLVED, "UniRes not run", "UniRes not run", drop=((4, "UniRes"),)),
    # 5a: at 25 % centre clean no method above the corrupted input on SSIM.
    Case("5a", HELD, "world", "no method significantly better"),
    Case(
        "5a",
        NOT_HELD,
        "MT+L_C improves SSIM",
        "25 % centre clean SSIM: MT+L_C significantly better",
        changes=(Level(5, MT_LC, "ssim", 0.05, ("motion_25",)),),
    ),
    Case(
        "5a",
        HELD,
        "only the 25 % set counts",
        "no method significantly better",
        changes=(Level(5, MT_LC, "ssim", 0.30, ("motion_12.5",)),),
    ),
    Case(
        "5a",
        NOT_RESOLVED,
        "TV not run",
        "not run: TV",
        drop=((5, "TV"),),
        starts="held among the methods run",
    ),
    # 5b: at 5 % centre clean the trained models in the SSIM bold group.
    Case("5b", HELD, "world", "5 % centre clean SSIM" + IN),
    Case(
        "5b",
        NOT_HELD,
        "Motion behind",
        NOT_IN,
        changes=(Level(5, "Motion", "ssim", 0.02, ("motion_05",)),),
    ),
    Case(
        "5b",
        HELD,
        "only the 5 % set counts",
        IN,
        changes=(Level(5, "Motion", "ssim", -0.05, ("motion_12.5",)),),
    ),
    Case("5b", NOT_RESOLVED, "Motion not run", "Motion not run", drop=((5, "Motion"),)),
    # 5c: at 5 % centre clean TV first on VIF.
    Case("5c", HELD, "world", "ranks first"),
    Case(
        "5c",
        NOT_HELD,
        "MT+L_C clearly ahead",
        "MT+L_C significantly better",
        changes=(Level(5, MT_LC, "vif", 0.30, ("motion_05",)),),
    ),
    Case(
        "5c",
        NOT_RESOLVED,
        "MT+L_C ahead by a nose",
        "MT+L_C first, not significantly better",
        changes=(Level(5, MT_LC, "vif", nose(0.20), ("motion_05",)),),
    ),
    # 6a: Noise, MT and MT+L_C in every SSIM bold group.
    Case("6a", HELD, "world", "SSIM" + IN),
    Case(
        "6a",
        NOT_HELD,
        "Noise behind at 0 dB",
        "SNR 0 dB SSIM: " + NOT_IN,
        changes=(Level(6, "Noise", "ssim", 0.05, ("noise_0dB",)),),
    ),
    Case("6a", NOT_RESOLVED, "Noise not run", "Noise not run", drop=((6, "Noise"),)),
    # 6b: MT+L_C level with C.A.D. and BM3D on VIF, Noise and MT below one of them.
    Case("6b", HELD, "world", "none of C.A.D., BM3D significantly better"),
    Case(
        "6b",
        NOT_HELD,
        "MT+L_C behind",
        "C.A.D., BM3D significantly better",
        changes=(Level(6, MT_LC, "vif", 0.10),),
        absent="none of",
    ),
    Case(
        "6b",
        NOT_HELD,
        "Noise level with them at -5 dB",
        "SNR -5 dB VIF: matches C.A.D., BM3D",
        changes=(Level(6, "Noise", "vif", 0.15, ("noise_-5dB",)),),
    ),
    Case("6b", NOT_RESOLVED, "BM3D not run", "BM3D not run", drop=((6, "BM3D"),)),
    # 7a: Motion → Subsampling first on VIF in (a).
    Case("7a", HELD, "world (first by a nose)", "ranks first"),
    Case(
        "7a",
        NOT_HELD,
        "MT+L_C clearly ahead",
        "MT+L_C significantly better",
        changes=(Level(7, MT_LC, "vif", 0.30, (SCENARIO_A,)),),
    ),
    Case(
        "7a",
        NOT_RESOLVED,
        "behind MT+L_C by a nose",
        "MT+L_C first, not significantly better",
        changes=(Level(7, M_S, "vif", nose(0.15, share=0.4), (SCENARIO_A,)),),
    ),
    # 7b: MT and MT+L_C above Subsampling → Motion on VIF in (a).
    Case("7b", HELD, "world", "p = "),
    Case(
        "7b",
        NOT_HELD,
        "the wrong order above MT",
        f"{S_M} significantly better",
        changes=(Level(7, S_M, "vif", 0.12, (SCENARIO_A,)),),
    ),
    Case("7b", NOT_RESOLVED, "wrong order not run", f"{S_M} not run", drop=((7, S_M),)),
    Case(
        "7b",
        HELD,
        "scenario (b) does not count",
        "p = ",
        changes=(Level(7, MT, "vif", 0.0, (SCENARIO_B,)),),
    ),
    # 7c: Bias → Noise above Noise → Bias in (b), SSIM and VIF.
    Case("7c", HELD, "world", "p = "),
    Case(
        "7c",
        NOT_HELD,
        "the other order ahead on VIF",
        f"{N_B} significantly better",
        changes=(Level(7, N_B, "vif", 0.20, (SCENARIO_B,)),),
    ),
    Case(
        "7c",
        NOT_RESOLVED,
        "level on SSIM",
        "not significant",
        changes=(Level(7, N_B, "ssim", 0.15, (SCENARIO_B,)),),
    ),
    Case("7c", NOT_RESOLVED, "other order not run", f"{N_B} not run", drop=((7, N_B),)),
    # 8: the present heads carry the largest residuals.
    Case("8", HELD, "world", "Wilcoxon p"),
    Case("8", HELD, "the article's residual means", "Wilcoxon p", residuals="published"),
    Case(
        "8",
        NOT_HELD,
        "absent heads larger in (a)",
        "(a) random order, MT: bias ",
        residuals="swapped",
    ),
    Case("8", NOT_RESOLVED, "no residuals", "no residuals computed", residuals="none"),
    Case("8", NOT_RESOLVED, "MT+L_C not run", "MT+L_C not run on", residuals="no MT+L_C"),
    Case("8", NOT_RESOLVED, "absent heads missing", "heads missing", residuals="present only"),
    # 9: no single-task model above MT or MT+L_C (Tables 3-6, SSIM and VIF).
    Case("9", HELD, "world", "none of Motion significantly better"),
    *(
        Case(
            "9",
            NOT_HELD,
            f"{single} ahead in table {table}",
            f"{SEVERITY[STRONG[table]]} VIF: {single} significantly better",
            changes=(Level(table, single, "vif", 0.30, (STRONG[table],)),),
        )
        for table, single in SINGLE.items()
    ),
    Case("9", NOT_RESOLVED, "table 5 not built", "Table 5 not built", without=(5,)),
    Case("9", NOT_RESOLVED, "Noise not run", "Noise not run", drop=((6, "Noise"),)),
    # 10a: neither MT nor MT+L_C above the right orders.
    Case("10a", HELD, "world", "none of MT, MT+L_C significantly better"),
    Case(
        "10a",
        NOT_HELD,
        "MT ahead of Bias → Noise",
        "(b) random order SSIM: MT significantly better",
        changes=(Level(7, MT, "ssim", 0.30, (SCENARIO_B,)),),
    ),
    Case("10a", NOT_RESOLVED, "right order not run", f"{M_S} not run", drop=((7, M_S),)),
    # 10b: neither order above MT+L_C.
    Case("10b", HELD, "world", f"none of {S_M}, {M_S} significantly better"),
    Case(
        "10b",
        NOT_HELD,
        "the right order ahead of MT+L_C",
        f"(a) random order VIF: {M_S} significantly better",
        changes=(Level(7, M_S, "vif", 0.30, (SCENARIO_A,)),),
    ),
    Case("10b", NOT_RESOLVED, "table 7 not built", "Table 7 not built", without=(7,)),
)

#: Claims whose check can only ever give "not resolved" (not testable here).
NEVER_DECIDED = {"1b"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_claim_verdict(case: Case):
    verdict = BY_ID[case.claim].check(case.results())
    assert verdict.status == case.status, verdict.reason
    assert case.reason in verdict.reason
    assert verdict.reason.startswith(case.starts)
    assert not case.absent or case.absent not in verdict.reason


def test_every_claim_has_held_not_held_and_not_resolved_cases():
    ids = {claim.id for claim in CLAIMS}
    assert len(ids) == len(CLAIMS)
    covered = {
        status: {c.claim for c in CASES if c.status == status}
        for status in (HELD, NOT_HELD, NOT_RESOLVED)
    }
    assert covered[NOT_RESOLVED] == ids
    assert covered[HELD] == ids - NEVER_DECIDED
    assert covered[NOT_HELD] == ids - NEVER_DECIDED
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_world_holds_every_decidable_claim():
    checked = check_claims(Case("all", HELD, "world").results())
    assert [claim.id for claim, _ in checked] == [claim.id for claim in CLAIMS]
    verdicts = {claim.id: verdict.status for claim, verdict in checked}
    assert verdicts == {i: NOT_RESOLVED if i in NEVER_DECIDED else HELD for i in verdicts}


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda claim: claim.id)
def test_no_tables_resolve_no_claim(claim):
    verdict = claim.check({})
    assert verdict.status == NOT_RESOLVED
    assert verdict.reason


def test_check_claims_keeps_the_claims_of_the_tables_given():
    results = Case("all", HELD, "world").results()
    chosen = [claim.id for claim, _ in check_claims(results, tables=[5])]
    assert chosen == ["5a", "5b", "5c"]
    assert {claim.id for claim, _ in check_claims(list(results.values()))} == set(BY_ID)
