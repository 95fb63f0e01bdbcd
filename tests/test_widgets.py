"""The explorers of `mtmri_lib.plotting.widgets`: what the static ones precompute and link, what the
live ones redraw, and the errors for bad input. (The browser test checks the static ones work
with no kernel.)"""

from __future__ import annotations

import numpy as np
import pytest

widgets = pytest.importorskip("ipywidgets")
pytest.importorskip("keras")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from conftest import phantom  # noqa: E402

from mtmri_lib.data import EVALUATION_SETTINGS, load_slice_sets, make_eval_sets  # noqa: E402
from mtmri_lib.inference import model_method  # noqa: E402
from mtmri_lib.models import build_model  # noqa: E402
from mtmri_lib.plotting import widgets as W  # noqa: E402


@pytest.fixture(scope="module")
def corrector():
    return model_method(build_model("smoke", seed=0))


@pytest.fixture(scope="module")
def sets():
    test = load_slice_sets("smoke", splits=("test",))["test"].subset(np.arange(4))
    wanted = {"subsampling+motion", "noise+bias", "noise_-5dB"}
    return make_eval_sets(
        test, seed=0, settings=[s for s in EVALUATION_SETTINGS if s.name in wanted]
    )


def _parts(explorer):
    label, slider, stack = explorer.children
    assert isinstance(label, widgets.HTML)
    assert isinstance(slider, widgets.IntSlider)
    assert isinstance(stack, widgets.Stack)
    return label, slider, stack


def _links_slider_to_stack(slider, stack) -> bool:
    """A jslink between the slider's value and the stack's selected index exists."""
    from ipywidgets.widgets.widget import _instances
    from ipywidgets.widgets.widget_link import Link

    return any(
        isinstance(w, Link)
        and {tuple(w.source), tuple(w.target)} == {(slider, "value"), (stack, "selected_index")}
        for w in list(_instances.values())
    )


# --- artefacts -------------------------------------------------------------------------------


def test_artefact_explorer_precomputes_one_distinct_picture_per_value():
    clean = phantom((48, 48))
    explorer = W.artefact_explorer(clean, "noise", values=[10, 0, -10], seed=3)
    label, slider, stack = _parts(explorer)
    assert (slider.min, slider.max, slider.value) == (0, 2, 0)
    assert len(stack.children) == 3
    pictures = [child.value for child in stack.children]
    assert all(bytes(p).startswith(b"\x89PNG") for p in pictures)
    assert len(set(pictures)) == 3, "each strength must give its own picture"
    assert _links_slider_to_stack(slider, stack)
    assert "10, 0, -10" in label.value


def test_artefact_explorer_is_deterministic_in_its_seed():
    clean = phantom((40, 40))
    first = W.artefact_explorer(clean, "motion", values=[0.2], seed=1).children[2].children[0]
    again = W.artefact_explorer(clean, "motion", values=[0.2], seed=1).children[2].children[0]
    other = W.artefact_explorer(clean, "motion", values=[0.2], seed=2).children[2].children[0]
    assert first.value == again.value
    assert first.value != other.value


def test_artefact_explorer_rejects_bad_input():
    with pytest.raises(ValueError, match="kind must be one of"):
        W.artefact_explorer(phantom((32, 32)), "blur")
    with pytest.raises(ValueError, match="values must not be empty"):
        W.artefact_explorer(phantom((32, 32)), "bias", values=[])


def test_live_artefact_explorer_redraws_on_change():
    explorer = W.live_artefact_explorer(phantom((40, 40)))
    controls, picture = explorer.children
    kind, strength, seed = controls.children
    before = picture.value
    assert bytes(before).startswith(b"\x89PNG")
    strength.value = 0.9
    assert picture.value != before
    changed = picture.value
    kind.value = "bias"
    assert picture.value != changed


# --- residuals -------------------------------------------------------------------------------


def test_explorer_slices_spreads_over_the_test_set(sets):
    chosen = W.explorer_slices(sets, ("subsampling+motion", "noise+bias"), per_set=2)
    assert chosen.images.shape == (4, 32, 32)
    assert chosen.references.shape == (4, 32, 32)
    assert len(chosen.titles) == 4
    # Two slices per set, the first and the last of the test set.
    np.testing.assert_array_equal(chosen.images[0], sets["subsampling+motion"].corrupted[0])
    np.testing.assert_array_equal(chosen.images[1], sets["subsampling+motion"].corrupted[3])
    np.testing.assert_array_equal(chosen.references[3], sets.clean[3])
    assert chosen.titles[2].startswith("noise+bias, test slice 0")
    assert " then " in chosen.titles[0], "the title names the artefacts in their order"


def test_explorer_slices_rejects_bad_input(sets):
    with pytest.raises(KeyError, match="no evaluation set blur"):
        W.explorer_slices(sets, ("blur",))
    with pytest.raises(ValueError, match="per_set"):
        W.explorer_slices(sets, per_set=0)
    with pytest.raises(ValueError, match="at least one"):
        W.explorer_slices(sets, ())


def test_residual_explorer_links_one_picture_per_slice(sets, corrector):
    chosen = W.explorer_slices(sets, ("subsampling+motion",), per_set=3)
    explorer = W.residual_explorer(
        chosen.images, corrector, chosen.titles, references=chosen.references
    )
    label, slider, stack = _parts(explorer)
    assert (slider.min, slider.max) == (0, 2)
    assert len(stack.children) == 3
    assert len({child.value for child in stack.children}) == 3
    assert _links_slider_to_stack(slider, stack)
    # The shared scale in the label is the largest residual of all slices and heads.
    outputs = corrector.outputs(chosen.images)
    largest = max(float(np.abs(outputs[t]).max()) for t in corrector.tasks)
    assert f"+-{largest:.3g}" in label.value


def test_residual_explorer_rejects_bad_input(corrector):
    with pytest.raises(ValueError, match="takes 32 x 32"):
        W.residual_explorer(np.zeros((2, 48, 48)), corrector)
    with pytest.raises(ValueError, match="NaN"):
        W.residual_explorer(np.full((1, 32, 32), np.nan), corrector)
    with pytest.raises(ValueError, match="titles"):
        W.residual_explorer(np.zeros((2, 32, 32)), corrector, titles=["only one"])
    with pytest.raises(ValueError, match="at least one slice"):
        W.residual_explorer([], corrector)


def test_live_residual_explorer_redraws_on_change(sets, corrector):
    explorer = W.live_residual_explorer(sets, corrector)
    controls, picture = explorer.children
    chooser, index = controls.children
    assert chooser.value == "subsampling+motion"
    assert index.max == sets.clean.shape[0] - 1
    before = picture.value
    index.value = 2
    assert picture.value != before
    moved = picture.value
    chooser.value = "noise+bias"
    assert picture.value != moved
