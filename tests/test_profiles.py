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
    assert overview.loc["notebook time budget", "cpu"] == "30 min"


def test_a_profile_composes_each_layers_own_settings():
    pytest.importorskip("keras")
    from mtmri_lib.data import DATA_SETTINGS
    from mtmri_lib.models import MODEL_CONFIGS
    from mtmri_lib.profiles import BOOK_SETTINGS
    from mtmri_lib.training import TRAINING_SETTINGS

    for name, profile in PROFILES.items():
        assert profile.data is DATA_SETTINGS[name]
        assert profile.model is MODEL_CONFIGS[name]
        assert profile.training is TRAINING_SETTINGS[name]
        assert profile.book is BOOK_SETTINGS[name]
        assert profile.image_size == profile.data.image_size == profile.model.image_size


def test_with_reaches_the_layer_that_holds_the_setting():
    pytest.importorskip("keras")
    from mtmri_lib.data import data_settings
    from mtmri_lib.models import build_model, model_config
    from mtmri_lib.training import training_settings

    cpu = get_profile("cpu")
    wider = cpu.with_(image_size=96, max_epochs=3, eval_slices=10, gallery_size=80)
    assert wider.name == "cpu" and cpu.image_size == 64  # the named profile is unchanged
    # The lower layers, given the Profile, read the part it composes.
    assert data_settings(wider).image_size == 96 and data_settings(wider).eval_slices == 10
    assert model_config(wider).image_size == 96
    assert training_settings(wider).max_epochs == 3
    assert wider.book.gallery_size == 80
    assert build_model(model_config(wider)).input_shape == (None, 96, 96, 1)
    # By name, they keep their own defaults.
    assert data_settings("cpu").image_size == model_config("cpu").image_size == 64


def test_with_refuses_unknown_and_shared_settings():
    cpu = get_profile("cpu")
    with pytest.raises(TypeError, match="no part of a Profile"):
        cpu.with_(learning_rate=1e-3)
    # image_size lives in two parts and is changed through with_(image_size=...) only.
    with pytest.raises(ValueError, match="with_"):
        type(cpu)(
            name="odd",
            description="",
            data=cpu.data.with_(image_size=32),
            model=cpu.model,
            training=cpu.training,
            book=cpu.book,
        )


def test_an_unknown_profile_name_has_no_fallback():
    pytest.importorskip("keras")
    from mtmri_lib.data import data_settings
    from mtmri_lib.models import model_config
    from mtmri_lib.training import training_settings

    for settings_of in (data_settings, model_config, training_settings):
        with pytest.raises(ValueError, match="smoke, cpu, paper"):
            settings_of("laptop")
