"""The Bayesian hyper-parameter search: the space, resuming, Table 2."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("keras_tuner")

from mtmri_lib import search as S  # noqa: E402
from mtmri_lib import training as T  # noqa: E402
from mtmri_lib.losses import KERNEL_NAMES  # noqa: E402


def test_search_space_is_the_articles():
    mse = S.search_space("MT")
    assert [hp.name for hp in mse.space] == ["optimizer", "learning_rate", "alpha"]
    optimizer, rate, alpha = mse.space
    assert sorted(optimizer.values) == ["adam", "rmsprop"]
    assert (rate.min_value, rate.max_value, rate.sampling) == (1e-7, 1e-2, "log")
    assert (alpha.min_value, alpha.max_value) == (0.0, 1.0)
    lc = S.search_space("MT+L_C")
    assert len(lc.space) == 3 + 9
    deltas = [hp for hp in lc.space if hp.name.startswith("delta_")]
    assert [hp.name.removeprefix("delta_") for hp in deltas] == list(KERNEL_NAMES)
    assert all((hp.min_value, hp.max_value) == (0.0, 1.0) for hp in deltas)


def test_trial_values_become_hyperparameters():
    values = {"optimizer": "adam", "learning_rate": 1e-5, "alpha": 0.2}
    values |= {f"delta_{name}": 0.1 for name in KERNEL_NAMES}
    hyper = S.hyperparameters_from(values)
    assert hyper.optimizer == "adam" and hyper.learning_rate == 1e-5 and hyper.alpha == 0.2
    assert hyper.deltas == {name: 0.1 for name in KERNEL_NAMES}
    assert (
        S.hyperparameters_from({"optimizer": "rmsprop", "learning_rate": 1, "alpha": 0}).deltas
        is None
    )


@pytest.fixture(scope="module")
def interrupted_search(tmp_path_factory):
    """A two-trial search of MT interrupted in its second trial, then run again."""
    output_dir = tmp_path_factory.mktemp("book") / "outputs" / "smoke" / "search"
    settings = T.training_settings("smoke")
    calls = []
    original = S.fit_network

    def interrupting(*args, **kwargs):
        calls.append(kwargs["checkpoint_dir"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # as a user stopping the notebook: not a failed trial
        return original(*args, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(S, "fit_network", interrupting)
    try:
        with pytest.raises(KeyboardInterrupt):
            S.run_search("MT", "smoke", output_dir=output_dir, settings=settings, trials=2)
    finally:
        patch.undo()
    first = S.search_trials("MT", "smoke", output_dir)
    calls_after_interruption = list(calls)
    patch.setattr(S, "fit_network", interrupting)
    try:
        result = S.run_search("MT", "smoke", output_dir=output_dir, settings=settings, trials=2)
    finally:
        patch.undo()
    return output_dir, first, calls_after_interruption, calls, result


def test_an_interrupted_search_keeps_its_completed_trials(interrupted_search):
    output_dir, first, before, calls, result = interrupted_search
    assert list(first["status"]) == ["COMPLETED"]
    assert len(before) == 2
    # Run again: only the interrupted trial is trained (in its own folder), the first is kept.
    assert len(calls) == 3 and calls[2] == calls[1] != calls[0]
    trials = result.trials
    assert list(trials["trial"]) == ["0", "1"] and set(trials["status"]) == {"COMPLETED"}
    assert trials.loc[0, "val_mse"] == first.loc[0, "val_mse"]
    assert result.best_score == min(trials["val_mse"])
    assert math.isfinite(result.best_score)
    assert result.project.parent == T.search_dir(output_dir)


def test_best_hyperparameters_are_read_back_from_disk(interrupted_search):
    output_dir, *_, result = interrupted_search
    assert S.best_hyperparameters("MT", "smoke", output_dir.parent / "training") == result.best
    assert S.best_hyperparameters("Bias", "smoke", output_dir) is None
    trials = S.search_trials("MT", "smoke", output_dir)
    assert list(trials["best so far"]) == list(trials["val_mse"].cummin())
    lr = trials["learning_rate"]
    assert ((lr >= 1e-7) & (lr <= 1e-2)).all()


def test_table2_sets_the_run_beside_the_article_without_inventing(interrupted_search):
    output_dir, *_, result = interrupted_search
    table = S.table2("smoke", output_dir)
    assert list(table.columns.get_level_values(0).unique()) == list(T.MODEL_LABELS)
    assert table.loc["optimizer", ("MT", "article")] == "RMSprop"
    assert table.loc["learning rate", ("MT", "article")] == "unknown"
    assert table.loc["alpha", ("MT+L_C", "article")] == "0.87"
    assert table.loc["alpha", ("Pelvis MT+L_C", "article")] == "0.89"
    assert table.loc["delta (I_E)", ("MT+L_C", "article")] == "0.30"
    assert table.loc["delta (I_E)", ("Pelvis MT+L_C", "article")] == "0.13"
    assert table.loc["delta (I_L5)", ("MT+L_C", "article")] == "unknown"
    assert table.loc["delta (I_E)", ("MT", "article")] == "*"
    assert table.loc["trials", ("MT+L_C", "article")] == "35"
    assert table.loc["trials", ("MT", "this run")] == "2"
    assert table.loc["alpha", ("MT", "this run")] == f"{result.best.alpha:.2f}"
    assert table.loc["alpha", ("Bias", "this run")] == "not searched"
    assert "smoke" in table.attrs["caption"]


def test_training_uses_the_search_where_the_profile_says_so(interrupted_search):
    output_dir, *_, result = interrupted_search
    settings = T.training_settings("smoke")
    assert not settings.use_search
    chosen = T.training_hyperparameters("smoke", output_dir, models=["MT", "Bias"])
    assert chosen["MT"] == (
        T.default_hyperparameters("MT"),
        "defaults (article values where known)",
    )
    searched = T.training_hyperparameters(
        "smoke", output_dir, models=["MT", "Bias"], settings=settings.with_(use_search=True)
    )
    assert searched["MT"] == (result.best, "Bayesian search")
    assert searched["Bias"][1].startswith("defaults")  # not searched in this profile
