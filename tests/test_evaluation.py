"""The evaluation path: scores, cache and resume, parallel workers, tables and claims."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import phantom

from mtmri_lib import baselines, metrics
from mtmri_lib.artefacts import corrupt
from mtmri_lib.artefacts._base import znorm
from mtmri_lib.data.evalsets import EvalSet, EvalSets, EvalSetting
from mtmri_lib.evaluation import (
    COLUMNS,
    CORRUPTED_INPUT,
    Method,
    baseline_method,
    batch_method,
    evaluate,
    identity_method,
    score_table,
    seed_label,
)
from mtmri_lib.report import claims, tables
from mtmri_lib.store import shared_cache_dir

N = 6


@pytest.fixture(scope="module")
def sets() -> EvalSets:
    """Six 32 x 32 slices from two 'volumes', a noise set and a centred-mask set."""
    clean_01 = np.stack([phantom((32, 32), margin=0.15 + 0.02 * i) for i in range(N)])
    noise, subsampling, low_res = [], [], []
    for i, image in enumerate(clean_01):
        noise.append(corrupt(image, "noise", i, snr_db=0).image)
        result = corrupt(image, "subsampling", i, acceleration=2, mask="centred")
        subsampling.append(result.image)
        low_res.append(result.low_res)
    noise_setting = EvalSetting("noise_0dB", ("noise",), {"snr_db": 0.0}, 6, "SNR 0 dB")
    sub_setting = EvalSetting(
        "subsampling_x2", ("subsampling",), {"acceleration": 2, "mask": "centred"}, 4, "x2"
    )
    return EvalSets(
        clean_01=clean_01.astype(np.float32),
        clean=np.stack([znorm(c) for c in clean_01]).astype(np.float32),
        slices=[
            {"patient_id": f"p{i // 3}", "volume": f"v{i // 3}", "slice_index": i} for i in range(N)
        ],
        info={"profile": "smoke", "data": "packaged demo data", "seed": 0, "size": 32},
        _sets={
            "noise_0dB": EvalSet(noise_setting, np.stack(noise).astype(np.float32), [{}] * N),
            "subsampling_x2": EvalSet(
                sub_setting,
                np.stack(subsampling).astype(np.float32),
                [{}] * N,
                low_res=np.stack(low_res).astype(np.float32),
            ),
        },
    )


# A method that can be told to fail after some calls: stands in for an interrupted run.
CALLS: list[int] = []
FAIL_AFTER: list[int | None] = [None]


def flaky_tv(image: np.ndarray) -> np.ndarray:
    if FAIL_AFTER[0] is not None and len(CALLS) >= FAIL_AFTER[0]:
        raise KeyboardInterrupt("interrupted on purpose")
    CALLS.append(1)
    return baselines.tv(image)


def test_tidy_scores_equal_direct_metrics(sets):
    scores = evaluate(sets, {CORRUPTED_INPUT: identity_method()}, progress=False)
    assert list(scores.columns) == list(COLUMNS)
    assert len(scores) == 2 * N * 3
    ssim = score_table(scores, "noise_0dB", "ssim")[CORRUPTED_INPUT]
    for i in range(N):
        expected = metrics.ssim(sets.clean[i], sets["noise_0dB"].corrupted[i])
        assert ssim[i] == pytest.approx(expected)
    assert set(scores["volume"]) == {"v0", "v1"}
    assert set(scores["table"]) == {4, 6}


def test_low_res_methods_run_only_where_there_is_a_low_res_image(sets):
    scores = evaluate(sets, {"Bicubic": baseline_method("bicubic")}, progress=False)
    assert set(scores["set"]) == {"subsampling_x2"}
    expected = metrics.vif(
        sets.clean[0], baselines.bicubic(sets["subsampling_x2"].low_res[0], shape=(32, 32))
    )
    assert score_table(scores, "subsampling_x2", "vif")["Bicubic"][0] == pytest.approx(expected)


def test_interrupted_evaluation_resumes(sets, tmp_path):
    method = {"TV": Method(flaky_tv)}
    options = dict(set_names=["noise_0dB"], cache_dir=tmp_path, chunk_size=1, progress=False)
    reference = evaluate(sets, method, set_names=["noise_0dB"], progress=False)
    CALLS.clear()
    FAIL_AFTER[0] = 4
    with pytest.raises(KeyboardInterrupt):
        evaluate(sets, method, **options)
    assert len(CALLS) == 4
    CALLS.clear()
    FAIL_AFTER[0] = None
    resumed = evaluate(sets, method, **options)
    assert len(CALLS) == N - 4  # only the slices the interruption left
    pd.testing.assert_frame_equal(resumed, reference)
    CALLS.clear()
    evaluate(sets, method, **options)
    assert CALLS == []  # everything cached


def test_cache_key_follows_settings_and_metric_fidelity(sets, tmp_path):
    options = dict(set_names=["noise_0dB"], cache_dir=tmp_path, progress=False)
    a = evaluate(sets, {"TV": baseline_method("tv")}, **options)
    b = evaluate(sets, {"TV": baseline_method("tv", weight=0.2)}, **options)
    assert not np.allclose(a["value"], b["value"])
    c = evaluate(
        sets, {"TV": baseline_method("tv")}, metrics="ssim", metric_fidelity="code", **options
    )
    paper_ssim = a[a["metric"] == "ssim"]["value"].to_numpy()
    assert not np.allclose(c["value"], paper_ssim)
    assert set(c["metric_fidelity"]) == {"code"}


def test_scores_are_shared_across_labels_and_fidelities(sets, tmp_path):
    method = Method(flaky_tv)
    CALLS.clear()
    FAIL_AFTER[0] = None
    both = evaluate(
        sets,
        {"TV": method},
        set_names=["noise_0dB"],
        metric_fidelity=("paper", "code"),
        cache_dir=tmp_path,
        progress=False,
    )
    assert len(CALLS) == N  # each slice corrected once, scored both ways
    assert set(both["metric_fidelity"]) == {"paper", "code"}
    CALLS.clear()
    again = evaluate(
        sets,
        {"TV, another label": method},
        set_names=["noise_0dB"],
        metrics="ssim",
        cache_dir=tmp_path,
        progress=False,
    )
    assert CALLS == []  # the same method under another label reads the cache
    paper = both[(both["metric"] == "ssim") & (both["metric_fidelity"] == "paper")]
    np.testing.assert_array_equal(again["value"], paper["value"])


def test_shared_cache_dir_is_one_level_above_output_dir(tmp_path):
    assert shared_cache_dir(tmp_path / "cpu" / "baselines") == (tmp_path / "cpu" / "scores")


def test_parallel_workers_give_the_serial_scores(sets):
    serial = evaluate(sets, {"TV": Method(baselines.tv)}, set_names=["noise_0dB"], progress=False)
    parallel = evaluate(
        sets,
        {"TV": Method(baselines.tv, parallel=True)},
        set_names=["noise_0dB"],
        workers=2,
        chunk_size=2,
        progress=False,
    )
    pd.testing.assert_frame_equal(parallel, serial)


def test_batch_methods_and_unstable_keys(sets, tmp_path):
    seen = []

    def predict(stack):
        seen.append(stack.shape)
        return stack * 2.0

    method = batch_method(predict, version="weights-sha", batch_size=4)
    scores = evaluate(
        sets, {"model": method}, set_names=["noise_0dB"], cache_dir=tmp_path, progress=False
    )
    assert seen == [(4, 32, 32), (2, 32, 32)]
    identity = evaluate(sets, {"x": identity_method()}, set_names=["noise_0dB"], progress=False)
    np.testing.assert_allclose(scores["value"], identity["value"])  # scale does not matter
    with pytest.raises(ValueError, match="version"):
        evaluate(sets, {"lambda": lambda image: image}, cache_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="version"):
        batch_method(predict, version="")


class FakeCorrector:
    """Stands in for `mtmri_lib.inference.ModelCorrector`: stacks in, stacks out, a version."""

    version = "sha-of-weights"
    batch_size = 5

    def __init__(self):
        self.calls = []

    def __call__(self, images, **context):
        self.calls.append(np.shape(images))
        return np.asarray(images) * 3.0


def test_model_correctors_are_evaluated_as_batch_methods(sets, tmp_path):
    corrector = FakeCorrector()
    scores = evaluate(
        sets, {"MT": corrector}, set_names=["noise_0dB"], cache_dir=tmp_path, progress=False
    )
    assert corrector.calls == [(5, 32, 32), (1, 32, 32)]
    identity = evaluate(sets, {"x": identity_method()}, set_names=["noise_0dB"], progress=False)
    np.testing.assert_allclose(scores["value"], identity["value"])


def test_unknown_sets_and_methods_raise(sets):
    with pytest.raises(KeyError, match="no evaluation set"):
        evaluate(sets, {"x": identity_method()}, set_names=["bias_05"], progress=False)
    with pytest.raises(KeyError, match="not in methods"):
        evaluate(sets, {"x": identity_method()}, plan={"noise_0dB": ["y"]}, progress=False)


# --------------------------------------------------------------------------- tables


def _synthetic_scores(table: int, means: dict[str, dict[str, list[float]]], n: int = 30):
    """Tidy scores for a table: per method and metric, one mean per set, small noise."""
    from mtmri_lib.data import EVALUATION_SETTINGS

    labels = {s.name: s.label for s in EVALUATION_SETTINGS}
    spec = tables.TABLES[table]
    rng = np.random.default_rng(table)
    rows = []
    for method, by_metric in means.items():
        for metric, values in by_metric.items():
            for set_name, mean in zip(spec.sets, values, strict=True):
                noise = rng.normal(0, 0.01, n)
                for i in range(n):
                    rows.append(
                        (
                            set_name,
                            table,
                            labels[set_name],
                            method,
                            i,
                            f"v{i % 6}",
                            f"p{i % 6}",
                            metric,
                            "paper",
                            mean + noise[i],
                        )
                    )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def test_table_cells_bold_and_not_run_rows():
    means = {
        CORRUPTED_INPUT: {"ssim": [0.80, 0.70, 0.60], "vif": [0.90, 0.80, 0.70]},
        "TV": {"ssim": [0.80, 0.75, 0.65], "vif": [0.90, 0.81, 0.75]},
    }
    result = tables.build_table(
        _synthetic_scores(5, means),
        5,
        info={"profile": "cpu", "data": "packaged demo data", "seed": 0, "size": 64},
    )
    assert "packaged demo data, cpu profile" in result.caption
    assert "30 test slices from 6 volumes" in result.caption
    assert result.status["Motion"] == tables.NOT_RUN_MODEL
    assert result.text.loc["MT+L_C"].eq(tables.NOT_RUN_MODEL).all()
    column = ("5 % centre clean", "VIF")
    assert result.bold.loc["TV", column] and not result.bold.loc[CORRUPTED_INPUT, column]
    assert result.mean.loc["TV", column] == pytest.approx(0.75, abs=0.01)
    assert "±" in result.text.loc["TV", column]
    html = result.to_html()
    assert "font-weight: bold" in html and "not run yet" in html
    assert len(result.volume_check()) == 6


def test_table_marks_unavailable_methods():
    means = {CORRUPTED_INPUT: {"ssim": [0.5, 0.4, 0.3], "vif": [0.5, 0.4, 0.3]}}
    result = tables.build_table(_synthetic_scores(4, means), 4)
    assert result.status["UniRes"] == "not run (not available here)"
    assert result.status["Bicubic"].startswith("not run")


def test_claim_verdicts_on_constructed_data():
    # Table 5 with every row run: on the 25 % set nobody beats the corrupted input on SSIM
    # (5a held); on the 5 % set TV leads VIF (5c held) and the models lead SSIM (5b held).
    means = {
        CORRUPTED_INPUT: {"ssim": [0.90, 0.80, 0.60], "vif": [0.9, 0.8, 0.60]},
        "TV": {"ssim": [0.90, 0.80, 0.62], "vif": [0.9, 0.8, 0.80]},
        "Motion": {"ssim": [0.90, 0.85, 0.75], "vif": [0.9, 0.8, 0.65]},
        tables.MT: {"ssim": [0.90, 0.85, 0.75], "vif": [0.9, 0.8, 0.65]},
        tables.MT_LC: {"ssim": [0.90, 0.85, 0.75], "vif": [0.9, 0.8, 0.66]},
    }
    result = tables.build_table(_synthetic_scores(5, means), 5)
    verdicts = {c.id: v for c, v in claims.check_claims({5: result}, tables=[5])}
    assert verdicts["5a"].status == "held"
    assert verdicts["5b"].status == "held"
    assert verdicts["5c"].status == "held"

    # TV far behind on VIF: 5c not held. MT+L_C missing: claims on it not resolved.
    means["TV"]["vif"] = [0.9, 0.8, 0.40]
    del means[tables.MT_LC]
    result = tables.build_table(_synthetic_scores(5, means), 5)
    verdicts = {c.id: v for c, v in claims.check_claims([result], tables=[5])}
    assert verdicts["5b"].status == "not resolved"
    assert "MT+L_C not run" in verdicts["5b"].reason
    # With a row not run a verdict is at most "not resolved", and says what the run shows.
    assert verdicts["5c"].status == "not resolved"
    assert verdicts["5c"].reason.startswith("not held among the methods run")
    frame = claims.claims_frame(claims.check_claims([result], tables=[5]))
    assert list(frame.columns) == ["the article says", "tested here as", "verdict", "why"]


def test_affects_more_claim():
    means = {CORRUPTED_INPUT: {"ssim": [0.95, 0.9, 0.8], "vif": [0.99, 0.95, 0.9]}}
    result = tables.build_table(_synthetic_scores(3, means), 3)
    verdicts = {c.id: v for c, v in claims.check_claims([result], tables=[3])}
    assert verdicts["3a"].status == "held"
    assert verdicts["3b"].status == "not resolved"  # N4ITK not in these scores


def test_not_available_rows_do_not_hold_verdicts_back():
    # Table 4 with every runnable row: 4a can be decided without UniRes, and says so; 4b,
    # which needs UniRes, cannot.
    means = {
        CORRUPTED_INPUT: {"ssim": [0.80, 0.70, 0.60], "vif": [0.50, 0.40, 0.30]},
        "Bicubic": {"ssim": [0.80, 0.70, 0.60], "vif": [0.52, 0.42, 0.32]},
        "Subsampling": {"ssim": [0.90, 0.80, 0.70], "vif": [0.70, 0.60, 0.50]},
        tables.MT: {"ssim": [0.90, 0.80, 0.70], "vif": [0.70, 0.60, 0.50]},
        tables.MT_LC: {"ssim": [0.90, 0.80, 0.70], "vif": [0.72, 0.62, 0.52]},
    }
    result = tables.build_table(_synthetic_scores(4, means), 4)
    verdicts = {c.id: v for c, v in claims.check_claims([result], tables=[4])}
    assert verdicts["4a"].status == "held"
    assert "without UniRes" in verdicts["4a"].reason
    assert verdicts["4b"].status == "not resolved"


def _with_seeds(table, means, seeds):
    """Synthetic scores plus extra-seed rows: ``seeds`` maps row label -> per seed, the
    means (by metric) of that seed."""
    frame = _synthetic_scores(table, means)
    extra = []
    for label, per_seed in seeds.items():
        for seed, seed_means in enumerate(per_seed, start=1):
            part = _synthetic_scores(table, {seed_label(label, seed): seed_means})
            extra.append(part)
    return pd.concat([frame, *extra], ignore_index=True)


def test_seed_spread_decides_between_held_and_not_resolved():
    base = {
        CORRUPTED_INPUT: {"ssim": [0.80, 0.70, 0.60], "vif": [0.50, 0.40, 0.30]},
        "TV": {"ssim": [0.80, 0.70, 0.60], "vif": [0.50, 0.40, 0.30]},
        "Motion": {"ssim": [0.85, 0.75, 0.65], "vif": [0.60, 0.50, 0.40]},
        tables.MT: {"ssim": [0.85, 0.75, 0.65], "vif": [0.60, 0.50, 0.40]},
        tables.MT_LC: {"ssim": [0.85, 0.75, 0.65], "vif": [0.70, 0.60, 0.50]},
    }
    check = claims.better(5, tables.MT_LC, tables.MT, "vif")
    # One seed each: the clear Nemenyi difference holds.
    plain = tables.build_table(_synthetic_scores(5, base), 5)
    assert plain.seed_means == {}
    assert check({5: plain}).status == "held"
    # A second MT seed as good as MT+L_C: the difference is within seed noise.
    noisy = {tables.MT: [{"vif": [0.71, 0.61, 0.51]}]}
    result = tables.build_table(_with_seeds(5, base, noisy), 5)
    assert "MT (seed 1)" not in result.text.index  # extra seeds are not table rows
    spread = result.seed_means[("motion_05", "vif")][tables.MT]
    assert len(spread) == 2 and spread[1] == pytest.approx(0.51, abs=0.01)
    verdict = check({5: result})
    assert verdict.status == "not resolved"
    assert "seed-to-seed spread" in verdict.reason
    assert not result.seed_spread().empty
    combined = tables.seed_spread_table([plain, result])
    assert combined.index.names == ["table", "method", "severity", "metric"]
    assert set(combined.index.get_level_values("method")) == {tables.MT}
    assert tables.seed_spread_table([plain]).empty
    # Seeds that stay apart: held again.
    apart = {tables.MT: [{"vif": [0.61, 0.51, 0.41]}], tables.MT_LC: [{"vif": [0.69, 0.59, 0.49]}]}
    result = tables.build_table(_with_seeds(5, base, apart), 5)
    assert check({5: result}).status == "held"


def _table7_scores(means):
    frame = _synthetic_scores(7, means)
    scenario = {label: sc for label, (_, sc) in tables.SEQUENCES.items()}
    keep = frame["method"].map(scenario).isna() | (frame["method"].map(scenario) == frame["set"])
    return frame[keep]


def test_table7_rows_scenarios_and_claims():
    a_seq, a_rev = "Motion → Subsampling", "Subsampling → Motion"
    b_seq, b_rev = "Bias → Noise", "Noise → Bias"
    means = {
        CORRUPTED_INPUT: {"ssim": [0.60, 0.60], "vif": [0.30, 0.30]},
        a_seq: {"ssim": [0.80, 0.80], "vif": [0.62, 0.62]},
        a_rev: {"ssim": [0.70, 0.70], "vif": [0.25, 0.25]},
        b_seq: {"ssim": [0.80, 0.80], "vif": [0.60, 0.60]},
        b_rev: {"ssim": [0.70, 0.70], "vif": [0.45, 0.45]},
        tables.MT: {"ssim": [0.78, 0.78], "vif": [0.50, 0.50]},
        tables.MT_LC: {"ssim": [0.80, 0.80], "vif": [0.60, 0.60]},
    }
    result = tables.build_table(_table7_scores(means), 7)
    assert result.status[a_seq] == "run"
    b_column = [c for c in result.text.columns if c[0] == "(b) random order"][0]
    assert result.text.loc[a_seq, b_column] == "–"  # not a row of scenario (b)
    assert "±" in result.text.loc[b_seq, b_column]
    verdicts = {c.id: v for c, v in claims.check_claims([result], tables=[7])}
    assert verdicts["7a"].status == "held"
    assert verdicts["7b"].status == "held"
    assert verdicts["7c"].status == "held"
    assert verdicts["8"].status == "not resolved"  # no residuals given
    # MT+L_C against MT: VIF clearly apart, SSIM close in both scenarios.
    assert verdicts["2"].status in ("not resolved", "held")
    # A scenario (b) row not run yet holds back the claims about (b) only.
    partial = _table7_scores(means)
    partial = partial[partial["method"] != b_rev]
    result = tables.build_table(partial, 7)
    assert result.text.loc[b_rev, b_column] == tables.NOT_RUN_MODEL
    a_column = [c for c in result.text.columns if c[0] == "(a) random order"][0]
    assert result.text.loc[b_rev, a_column] == "–"
    verdicts = {c.id: v for c, v in claims.check_claims([result], tables=[7])}
    assert verdicts["7a"].status == "held" and verdicts["7b"].status == "held"
    assert verdicts["7c"].status == "not resolved"
    # Now the wrong order is as good as the multi-task models: 7b not held.
    means[a_rev] = {"ssim": [0.80, 0.80], "vif": [0.62, 0.62]}
    result = tables.build_table(_table7_scores(means), 7)
    verdicts = {c.id: v for c, v in claims.check_claims([result], tables=[7])}
    assert verdicts["7b"].status == "not held"


def test_residual_claim_and_table():
    rng = np.random.default_rng(0)
    rows = []
    present = {"subsampling+motion": ("subsampling", "motion"), "noise+bias": ("noise", "bias")}
    for set_name, heads in present.items():
        for model in (tables.MT, tables.MT_LC):
            for i in range(20):
                for head in tables.HEADS:
                    level = 0.03 if head in heads else 0.005
                    rows.append(
                        (set_name, model, i, f"v{i % 4}", head, level + rng.normal(0, 1e-3))
                    )
    residuals = pd.DataFrame(rows, columns=["set", "method", "slice", "volume", "head", "value"])
    means = {label: {"ssim": [0.7, 0.7], "vif": [0.5, 0.5]} for label in (CORRUPTED_INPUT,)}
    result = tables.build_table(_table7_scores(means), 7, residuals=residuals)
    check = claims.largest_residuals()
    assert check({7: result}).status == "held"
    # Swap the heads of scenario (a): the absent heads now carry the largest residuals.
    swapped = residuals.copy()
    in_a = swapped["set"] == "subsampling+motion"
    present_a = swapped["head"].isin(["subsampling", "motion"])
    swapped.loc[in_a & present_a, "value"] = 0.001
    result = tables.build_table(_table7_scores(means), 7, residuals=swapped)
    assert check({7: result}).status == "not held"
    table = tables.residual_table(residuals)
    assert table.loc[("noise+bias", tables.MT_LC), ("noise", "article")] == 0.060
    assert table.loc[("noise+bias", tables.MT_LC), ("noise", "this run")] == pytest.approx(
        0.03, abs=2e-3
    )


class _Scale:
    """A stand-in trained model: multiplies by a factor, says its version and size."""

    image_size = 32
    batch_size = 4

    def __init__(self, name, factor):
        self.name, self.factor, self.version = name, factor, f"v-{name}"

    def __call__(self, images, **context):
        return np.asarray(images) * self.factor + 1.0


def test_sequential_methods_compose_in_order(sets):
    models = {"Motion": _Scale("Motion", 2.0), "Subsampling": _Scale("Subsampling", 3.0)}
    methods = tables.sequential_methods(models)
    assert list(methods) == ["Subsampling → Motion", "Motion → Subsampling"]
    forward = methods["Motion → Subsampling"]
    x = np.ones((2, 32, 32))
    np.testing.assert_allclose(forward(x), (x * 2 + 1) * 3 + 1)  # Motion first
    assert forward.version != methods["Subsampling → Motion"].version
    scores = evaluate(sets, {"seq": forward}, set_names=["noise_0dB"], progress=False)
    assert scores["value"].notna().all()
    with pytest.raises(ValueError, match="at least two"):
        type(forward)([models["Motion"]])


def test_evaluate_tables_plans_sequences_and_seeds_on_their_sets():
    calls = {}

    class Sets:
        names = ["subsampling+motion", "noise+bias"]

    def fake_evaluate(sets, methods, plan, **options):
        calls.update(plan)
        return pd.DataFrame()

    import mtmri_lib.report.tables as module

    original = module.evaluate
    module.evaluate = fake_evaluate
    try:
        methods = {
            CORRUPTED_INPUT: identity_method(),
            "Motion → Subsampling": identity_method(),
            "Bias → Noise": identity_method(),
            tables.MT: identity_method(),
            seed_label(tables.MT, 1): identity_method(),
        }
        tables.evaluate_tables(Sets(), methods, tables=[7])
    finally:
        module.evaluate = original
    assert calls["subsampling+motion"] == [
        CORRUPTED_INPUT,
        "Motion → Subsampling",
        tables.MT,
        "MT (seed 1)",
    ]
    assert "Motion → Subsampling" not in calls["noise+bias"]
    assert "Bias → Noise" in calls["noise+bias"]


def test_the_denoising_caption_gives_the_effective_snr():
    from mtmri_lib.report.tables import TABLES, _caption

    part = pd.DataFrame({"slice": [0, 1], "volume": ["a", "a"]})
    caption = _caption(TABLES[6], {"size": 64}, "se", part)
    assert "effective SNR is 3.0 dB higher" in caption
    assert "effective SNR" not in _caption(TABLES[3], {"size": 64}, "se", part)
