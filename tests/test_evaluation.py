"""The evaluation path: scores, cache and resume, parallel workers, tables and claims."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import phantom

from mtmri_lib import baselines, metrics, tables
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
    shared_cache_dir,
)

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
    """Stands in for `mtmri_lib.training.ModelCorrector`: stacks in, stacks out, a version."""

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
    verdicts = {c.id: v for c, v in tables.check_claims({5: result}, tables=[5])}
    assert verdicts["5a"].status == "held"
    assert verdicts["5b"].status == "held"
    assert verdicts["5c"].status == "held"

    # TV far behind on VIF: 5c not held. MT+L_C missing: claims on it not resolved.
    means["TV"]["vif"] = [0.9, 0.8, 0.40]
    del means[tables.MT_LC]
    result = tables.build_table(_synthetic_scores(5, means), 5)
    verdicts = {c.id: v for c, v in tables.check_claims([result], tables=[5])}
    assert verdicts["5b"].status == "not resolved"
    assert "MT+L_C not run" in verdicts["5b"].reason
    # With a row not run a verdict is at most "not resolved", and says what the run shows.
    assert verdicts["5c"].status == "not resolved"
    assert verdicts["5c"].reason.startswith("not held among the methods run")
    frame = tables.claims_frame(tables.check_claims([result], tables=[5]))
    assert list(frame.columns) == ["the article says", "tested here as", "verdict", "why"]


def test_affects_more_claim():
    means = {CORRUPTED_INPUT: {"ssim": [0.95, 0.9, 0.8], "vif": [0.99, 0.95, 0.9]}}
    result = tables.build_table(_synthetic_scores(3, means), 3)
    verdicts = {c.id: v for c, v in tables.check_claims([result], tables=[3])}
    assert verdicts["3a"].status == "held"
    assert verdicts["3b"].status == "not resolved"  # N4ITK not in these scores
