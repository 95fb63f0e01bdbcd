"""The explorers of `mtmri_lib.plotting.widgets`: what the static ones precompute and link, what the
live ones redraw, and the errors for bad input. (The browser test checks the static ones work
with no kernel.)"""

from __future__ import annotations

import io

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
    assert slider.description == "", "a description needs MathJax 2 in the static book"
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

#: The parameters the article names for each artefact (issue 16), by `corrupt` keyword.
NAMED = {
    "bias": {"field_range", "length_scale"},
    "subsampling": {"acceleration", "mask", "pe_axis"},
    "rigid motion": {
        "corrupted_fraction",
        "n_segments",
        "rotation_sd",
        "translation_sd",
        "clean_centre",
    },
    "periodic motion": {"delta", "frequency", "phase", "ky0"},
    "noise": {"snr_db"},
}


@pytest.fixture(scope="module")
def explorer_clean():
    # The smallest slice the explorers take (24 motion segments need room).
    return phantom((64, 64))


@pytest.fixture(scope="module")
def explorers(explorer_clean):
    return {name: W.artefact_explorer(explorer_clean, name, seed=3, dpi=40) for name in W.EXPLORERS}


def _linked(source, source_name, target, target_name) -> bool:
    from ipywidgets.widgets.widget import _instances
    from ipywidgets.widgets.widget_link import Link

    wanted = {(source, source_name), (target, target_name)}
    return any(
        isinstance(w, Link) and {tuple(w.source), tuple(w.target)} == wanted
        for w in list(_instances.values())
    )


def _picture(frame) -> bytes:
    image, text = frame.children
    assert isinstance(image, widgets.Image) and isinstance(text, widgets.HTML)
    return bytes(image.value)


def test_every_named_parameter_has_a_linked_control(explorers):
    assert set(explorers) == set(NAMED)
    for name, explorer in explorers.items():
        assert NAMED[name] <= set(explorer.widgets) - {"pair"}, name
        for keyword in NAMED[name]:
            heading, row, stack = explorer[keyword].children
            chooser = W.control_of(row)
            assert isinstance(chooser, (widgets.SelectionSlider, widgets.Dropdown))
            # Named by an HTML label, not a description (which needs MathJax 2).
            assert chooser.description == ""
            assert explorer.spec.control(keyword).label in row.children[0].value
            assert len(stack.children) == len(chooser.options) >= 2
            assert _linked(chooser, "index", stack, "selected_index"), (name, keyword)
            # Moving the control shows another picture.
            pictures = {_picture(frame) for frame in stack.children}
            assert len(pictures) == len(stack.children), (name, keyword)
            assert stack.selected_index == chooser.index


def test_each_pair_is_two_controls_over_nested_linked_stacks(explorers):
    for name, explorer in explorers.items():
        heading, outer_row, inner_row, outer = explorer["pair"].children
        first, second = (keyword for keyword, _ in explorer.spec.pair)
        assert explorer.spec.control(first).label in outer_row.children[0].value
        assert explorer.spec.control(second).label in inner_row.children[0].value
        outer_chooser, inner_chooser = W.control_of(outer_row), W.control_of(inner_row)
        assert len(outer.children) == len(outer_chooser.options) >= 2
        assert _linked(outer_chooser, "index", outer, "selected_index")
        for row, inner in zip(explorer.pair_states, outer.children, strict=True):
            assert len(inner.children) == len(inner_chooser.options) == len(row) >= 2
            assert _linked(inner_chooser, "index", inner, "selected_index")
        states = [state for row in explorer.pair_states for state in row]
        assert len({state.call for state in states}) == len(states), name


def test_readouts_show_the_real_values(explorers, explorer_clean):
    side = explorer_clean.shape[0]
    for name, explorer in explorers.items():
        for control in explorer.spec.controls:
            chooser = W.control_of(explorer[control.keyword].children[1])
            shown = [label for label, _ in chooser.options]
            used = [state.pinned[control.keyword] for state in explorer.states[control.keyword]]
            assert shown == [control.readout(value) for value in used], (name, control.keyword)
            assert not any(label.startswith("setting") for label in shown)
    bias = W.control_of(explorers["bias"]["field_range"].children[1])
    assert [label for label, _ in bias.options][2] == "[0.80, 1.20]"
    # Pixel values of the article (30 px at 320 x 320) are shown scaled to the slice.
    translation = W.control_of(explorers["rigid motion"]["translation_sd"].children[1])
    assert translation.options[3][0] == f"{30 * side / 320:g} px"
    assert explorers["rigid motion"].states["translation_sd"][3].pinned["translation_sd"] == (
        30 * side / 320
    )
    snr = W.control_of(explorers["noise"]["snr_db"].children[1])
    assert [label for label, _ in snr.options][:2] == ["inf (none)", "10 dB"]


def test_printed_call_reproduces_each_state(explorers, explorer_clean):
    from mtmri_lib.artefacts import corrupt

    for explorer in explorers.values():
        states = [s for values in explorer.states.values() for s in values]
        states += [s for row in explorer.pair_states for s in row]
        for state in states:
            replayed = eval(state.call, {"corrupt": corrupt, "image": explorer_clean})
            np.testing.assert_array_equal(np.real(replayed.image), state.image, err_msg=state.call)
        frame = explorer[explorer.spec.controls[0].keyword].children[2].children[0]
        assert (
            explorer.states[explorer.spec.controls[0].keyword][0].call.replace('"', "&quot;")
            in frame.children[1].value
        )
        assert "SSIM" in frame.children[1].value and "VIF" in frame.children[1].value


def test_scores_are_the_metrics_of_each_state(explorers, explorer_clean):
    from mtmri_lib.metrics import ssim, vif

    state = explorers["noise"].states["snr_db"][3]
    assert state.ssim == pytest.approx(ssim(explorer_clean, state.image))
    assert state.vif == pytest.approx(vif(explorer_clean, state.image))
    identity = explorers["noise"].states["snr_db"][0]
    assert identity.ssim == pytest.approx(1.0)


def test_kspace_scale_is_percentile_clipped_and_difference_scale_fixed(explorers, explorer_clean):
    from mtmri_lib.fourier import fft2c
    from mtmri_lib.plotting.base import kspace_log

    expected = np.percentile(kspace_log(fft2c(explorer_clean)), (1.0, 99.5))
    for name, explorer in explorers.items():
        np.testing.assert_allclose(explorer.kspace_limits, expected, err_msg=name)
        states = [s for values in explorer.states.values() for s in values]
        states += [s for row in explorer.pair_states for s in row]
        spreads = [np.percentile(np.abs(s.image - explorer_clean), 99.5) for s in states]
        # One scale for every frame of the artefact: the largest of all states, not each own.
        assert explorer.difference_limit == pytest.approx(max(spreads)), name
        assert min(spreads) < explorer.difference_limit
        assert f"+-{explorer.difference_limit:.3g}" in explorer["pair"].children[0].value


def test_motion_and_subsampling_frames_mark_the_lines_they_touch(explorers):
    rigid = explorers["rigid motion"].states["corrupted_fraction"][2]
    assert rigid.marked is not None and rigid.marked.shape == rigid.image.shape
    # pe_axis 1: a corrupted line is a column, marked over its whole length.
    columns = rigid.marked.all(axis=0)
    assert columns.any() and np.array_equal(columns, rigid.marked.any(axis=0))
    np.testing.assert_allclose(columns.mean(), rigid.pinned["corrupted_fraction"], atol=0.05)
    periodic = explorers["periodic motion"].states["ky0"][0]
    assert periodic.marked.all(axis=1).any()  # pe_axis 0: rows
    mask_state = explorers["subsampling"].states["acceleration"][3]  # x4
    assert 0.6 < mask_state.marked.mean() < 0.85  # about 3/4 of k-space not acquired
    assert explorers["noise"].states["snr_db"][1].marked is None


def test_explorer_frame_has_large_panels_and_fixed_scales(explorer_clean):
    from mtmri_lib.plotting.artefacts import EXPLORER_DPI, plot_explorer_state

    noisy = explorer_clean + 0.05 * np.random.default_rng(0).standard_normal(explorer_clean.shape)
    fig = plot_explorer_state(
        explorer_clean, noisy, kspace_limits=(-2.0, 0.5), difference_limit=0.3
    )
    panels = fig.axes[:4]
    fig.savefig(io.BytesIO(), dpi=EXPLORER_DPI)  # lays the panels out at the book's size
    width, height = fig.get_size_inches() * EXPLORER_DPI
    sides = [
        min(ax.get_position().width * width, ax.get_position().height * height) for ax in panels
    ]
    # Twice the 140 px panels of the first explorers, at the resolution the book uses.
    assert min(sides) >= 280, sides
    assert width <= 784, "the frame fits the book's text column"
    assert panels[2].images[0].get_clim() == (-2.0, 0.5)
    assert panels[3].images[0].get_clim() == (-0.3, 0.3)
    (bar,) = panels[3].child_axes  # the difference panel's colour bar
    assert bar.get_ylim() == pytest.approx((-0.3, 0.3))


def test_artefact_explorer_rejects_bad_input():
    with pytest.raises(ValueError, match="name must be one of"):
        W.artefact_explorer(phantom((32, 32)), "blur")
    with pytest.raises(ValueError, match="finite 2-D image"):
        W.artefact_explorer(np.zeros((4, 4, 4)), "bias")
    with pytest.raises(ValueError, match="at least 64 x 64"):
        W.artefact_explorer(phantom((32, 32)), "rigid motion")
    with pytest.raises(ValueError, match="colours"):
        W.artefact_explorer(phantom((64, 64)), "noise", colours=1)


def test_plot_helpers_reject_bad_input(explorer_clean):
    from mtmri_lib.plotting.artefacts import plot_explorer_state
    from mtmri_lib.plotting.base import kspace_limits

    with pytest.raises(ValueError, match="percentiles"):
        kspace_limits(np.zeros(4), percentiles=(50, 10))
    with pytest.raises(ValueError, match="difference_limit"):
        plot_explorer_state(
            explorer_clean, explorer_clean, kspace_limits=(0, 1), difference_limit=0
        )
    with pytest.raises(ValueError, match="one shape"):
        plot_explorer_state(
            explorer_clean, explorer_clean[:8], kspace_limits=(0, 1), difference_limit=1
        )


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
