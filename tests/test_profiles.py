"""The profiles and the overview the book's first chapter shows."""

from __future__ import annotations

import pytest

from mtmri_lib.profiles import PROFILES, get_profile
from mtmri_lib.report.overview import profile_overview


def test_get_profile_names_the_choices():
    assert get_profile("cpu") is PROFILES["cpu"]
    assert get_profile(PROFILES["smoke"]) is PROFILES["smoke"]
    with pytest.raises(ValueError, match="smoke, cpu, paper"):
        get_profile("gpu")


def test_profile_overview_reads_the_settings_the_notebooks_use():
    pytest.importorskip("keras")
    from mtmri_lib.data.settings import data_settings
    from mtmri_lib.models import count_parameters
    from mtmri_lib.training import training_settings

    overview = profile_overview()
    assert list(overview.columns) == ["smoke", "cpu", "paper"]
    assert overview.loc["multi-task network (parameters)", "paper"] == "75,489,672"
    for name in overview.columns:
        training = training_settings(name)
        column = overview[name]
        assert column["slice size (pixels)"] == f"{PROFILES[name].image_size} x " + str(
            PROFILES[name].image_size
        )
        assert column["seeds of MT and MT+L_C"] == 1 + training.extra_seeds
        assert column["early-stopping patience (epochs)"] == training.patience
        assert column["multi-task network (parameters)"] == f"{count_parameters(name).total:,}"
        slices = data_settings(name).eval_slices
        expected = "all test slices" if slices is None else f"{slices:,}"
        assert column["evaluation slices per set"] == expected
    assert overview.loc["early-stopping patience (epochs)", "paper"] == 10
    assert overview.loc["notebook time budget", "cpu"] == "20 min"
