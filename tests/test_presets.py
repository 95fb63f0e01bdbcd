"""Severity presets: every one applies, is recorded and replays; overrides win; bad names raise;
the article's presets are the evaluation settings; mild < moderate < severe, measured."""

from __future__ import annotations

import dataclasses
import math
import zlib

import numpy as np
import pytest

from mtmri_lib.artefacts import (
    KINDS,
    PRESETS,
    SEVERITIES,
    Corruption,
    corrupt,
    corrupt_sequence,
    preset_names,
    preset_values,
)
from mtmri_lib.artefacts._base import to_json
from mtmri_lib.metrics import ssim, vif

ALL_PRESETS = [(kind, name) for kind in KINDS for name in preset_names(kind)]

#: The article's test settings (FACTS.md "Evaluation settings", Tables 3-6), written out here
#: from the article rather than read from the library, so a changed preset fails.
ARTICLE = {
    ("bias", "article:5%"): {"field_range": (0.95, 1.05)},
    ("bias", "article:10%"): {"field_range": (0.9, 1.1)},
    ("bias", "article:20%"): {"field_range": (0.8, 1.2)},
    ("subsampling", "article:x2"): {"acceleration": 2, "mask": "centred"},
    ("subsampling", "article:x3"): {"acceleration": 3, "mask": "centred"},
    ("subsampling", "article:x4"): {"acceleration": 4, "mask": "centred"},
    ("motion", "article:25%"): {"clean_centre": 0.25},
    ("motion", "article:12.5%"): {"clean_centre": 0.125},
    ("motion", "article:5%"): {"clean_centre": 0.05},
    ("noise", "article:5dB"): {"snr_db": 5.0},
    ("noise", "article:0dB"): {"snr_db": 0.0},
    ("noise", "article:-5dB"): {"snr_db": -5.0},
}
#: Evaluation set name -> the article preset it must be built from.
EVALUATION_PRESETS = {
    "bias_05": ("bias", "article:5%"),
    "bias_10": ("bias", "article:10%"),
    "bias_20": ("bias", "article:20%"),
    "subsampling_x2": ("subsampling", "article:x2"),
    "subsampling_x3": ("subsampling", "article:x3"),
    "subsampling_x4": ("subsampling", "article:x4"),
    "motion_25": ("motion", "article:25%"),
    "motion_12.5": ("motion", "article:12.5%"),
    "motion_05": ("motion", "article:5%"),
    "noise_+5dB": ("noise", "article:5dB"),
    "noise_0dB": ("noise", "article:0dB"),
    "noise_-5dB": ("noise", "article:-5dB"),
}


@pytest.fixture(scope="module")
def slices() -> list[np.ndarray]:
    """Four real axial slices (MNI152 template), 48 x 48, spread from low to high."""
    from mtmri_lib.data import demo_slice

    return [demo_slice(48, index=i) for i in (60, 80, 100, 120)]


# --------------------------------------------------------------------------- listing


def test_every_kind_has_the_severities_then_its_article_presets():
    assert set(preset_names()) == set(KINDS) == set(PRESETS)
    for kind in KINDS:
        names = preset_names(kind)
        assert names[:3] == SEVERITIES == ("mild", "moderate", "severe")
        assert sorted(names[3:]) == sorted(n for k, n in ARTICLE if k == kind)
        assert preset_names()[kind] == names


def test_presets_cannot_be_changed_through_what_they_hand_out():
    values = preset_values("noise", "mild")
    values["snr_db"] = 99.0
    assert preset_values("noise", "mild") == {"snr_db": 10.0}
    with pytest.raises(TypeError):
        PRESETS["noise"]["mild"]["snr_db"] = 99.0  # type: ignore[index]


def test_unknown_kind_raises_listing_kinds():
    with pytest.raises(ValueError, match="kind must be one of 'bias', 'subsampling'.*'blur'"):
        preset_names("blur")


def test_severities_lie_in_the_articles_training_ranges():
    from mtmri_lib.artefacts import motion, noise, subsampling

    for name in SEVERITIES:
        low, high = preset_values("bias", name)["field_range"]
        # bias.py: the total width is drawn in [0.1, 1.0], centred on 1.
        assert 0.1 <= high - low <= 1.0 and math.isclose(low + high, 2.0)
        assert preset_values("subsampling", name)["acceleration"] in subsampling.CENTRE_FRACTIONS
        assert preset_values("subsampling", name)["mask"] == "random"
        low_fraction, high_fraction = motion.FRACTION_RANGE
        assert low_fraction <= preset_values("motion", name)["corrupted_fraction"] <= high_fraction
        low_snr, high_snr = noise.SNR_RANGE_DB
        assert low_snr <= preset_values("noise", name)["snr_db"] <= high_snr


# --------------------------------------------------------------------------- applying


@pytest.mark.parametrize("kind, name", ALL_PRESETS)
def test_every_preset_applies_is_recorded_and_replays(kind, name, mr_slice):
    result = corrupt(mr_slice, kind, 7, preset=name)
    assert result.params["preset"] == name
    for key, value in preset_values(kind, name).items():
        assert result.params[key] == to_json(value), key
    replay = corrupt(mr_slice, kind, **result.params)
    assert replay.image.tobytes() == result.image.tobytes()
    assert replay.params == result.params
    for extra in ("mask", "low_res"):
        original, again = getattr(result, extra), getattr(replay, extra)
        assert (original is None) == (again is None)
        if original is not None:
            assert again.tobytes() == original.tobytes()


@pytest.mark.parametrize("kind, name", ALL_PRESETS)
def test_a_preset_is_the_same_as_pinning_its_values(kind, name, mr_slice):
    with_preset = corrupt(mr_slice, kind, 3, preset=name)
    pinned = corrupt(mr_slice, kind, 3, **preset_values(kind, name))
    assert with_preset.image.tobytes() == pinned.image.tobytes()
    assert {k: v for k, v in with_preset.params.items() if k != "preset"} == pinned.params


def test_no_preset_records_none(mr_slice):
    assert "preset" not in corrupt(mr_slice, "noise", 0).params


@pytest.mark.parametrize(
    "kind, name, override",
    [
        ("bias", "severe", {"field_range": (0.95, 1.05)}),
        ("subsampling", "article:x4", {"mask": "equispaced"}),
        ("motion", "mild", {"corrupted_fraction": 0.5}),
        ("noise", "mild", {"snr_db": 3}),
    ],
)
def test_a_keyword_beside_a_preset_overrides_it(kind, name, override, mr_slice):
    result = corrupt(mr_slice, kind, 5, preset=name, **override)
    assert result.params["preset"] == name
    expected = {**preset_values(kind, name), **override}
    for key, value in expected.items():
        assert result.params[key] == to_json(value), key
    # Exactly the merged values pinned, and the merged result replays.
    pinned = corrupt(mr_slice, kind, 5, **expected)
    assert result.image.tobytes() == pinned.image.tobytes()
    replay = corrupt(mr_slice, kind, **result.params)
    assert replay.image.tobytes() == result.image.tobytes()


def test_noise_override_uses_the_given_snr(mr_slice):
    assert corrupt(mr_slice, "noise", 0, preset="mild", snr_db=3).params["snr_db"] == 3.0


# --------------------------------------------------------------------------- bad presets


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", ["extreme", "Mild", "article:", 3, None])
def test_unknown_preset_raises_listing_the_presets_of_that_kind(kind, bad, mr_slice):
    if bad is None:  # None is "no preset" for corrupt; for preset_values it is unknown
        with pytest.raises(ValueError, match="must be one of"):
            preset_values(kind, bad)
        return
    with pytest.raises(ValueError) as error:
        corrupt(mr_slice, kind, 0, preset=bad)
    message = str(error.value)
    assert repr(bad) in message and kind in message
    for name in preset_names(kind):
        assert repr(name) in message


@pytest.mark.parametrize(
    "kind, name, owner",
    [
        ("noise", "article:x2", "subsampling"),
        ("bias", "article:5dB", "noise"),
        ("subsampling", "article:25%", "motion"),
        ("motion", "article:20%", "bias"),
    ],
)
def test_preset_of_another_kind_names_the_kinds(kind, name, owner, mr_slice):
    with pytest.raises(ValueError, match=f"'{name}' is a preset of {owner}, not of kind '{kind}'"):
        corrupt(mr_slice, kind, 0, preset=name)


def test_a_preset_belonging_to_two_kinds_is_not_confused(mr_slice):
    # "article:5%" is a bias preset (a 5 % field) and a motion preset (5 % clean centre).
    assert corrupt(mr_slice, "bias", 0, preset="article:5%").params["field_range"] == [0.95, 1.05]
    assert corrupt(mr_slice, "motion", 0, preset="article:5%").params["clean_centre"] == 0.05
    with pytest.raises(ValueError, match="preset of bias, motion, not of kind 'noise'"):
        corrupt(mr_slice, "noise", 0, preset="article:5%")


@pytest.mark.parametrize("motion", ["periodic", "mixed"])
def test_motion_presets_refuse_non_rigid_motion(motion, mr_slice):
    with pytest.raises(ValueError, match=f"rigid motion.*preset='mild'.*motion='{motion}'"):
        corrupt(mr_slice, "motion", 0, preset="mild", motion=motion)


def test_an_override_that_contradicts_the_preset_raises_clearly(mr_slice):
    # Severe motion corrupts 80 % of the lines; a 25 % clean centre leaves only 75 %.
    with pytest.raises(ValueError, match="corrupted_fraction=0.8 asks for"):
        corrupt(mr_slice, "motion", 0, preset="severe", clean_centre=0.25)


# --------------------------------------------------------------------------- the article


@pytest.mark.parametrize("kind, name", sorted(ARTICLE))
def test_article_presets_hold_the_articles_values(kind, name):
    assert preset_values(kind, name) == ARTICLE[kind, name]


def test_article_presets_are_the_evaluation_settings():
    from mtmri_lib.data import EVALUATION_SETTINGS

    single = {s.name: s for s in EVALUATION_SETTINGS if not s.scenario}
    assert set(single) == set(EVALUATION_PRESETS)
    for set_name, (kind, name) in EVALUATION_PRESETS.items():
        setting = single[set_name]
        assert setting.kinds == (kind,)
        assert dict(setting.fixed) == preset_values(kind, name) == ARTICLE[kind, name]
        # Same types too: they are written into the stored record.
        assert [type(v) for v in setting.fixed.values()] == [
            type(v) for v in ARTICLE[kind, name].values()
        ]


@pytest.mark.parametrize("set_name", ["bias_10", "subsampling_x3", "motion_05", "noise_-5dB"])
def test_an_evaluation_slice_is_the_article_preset_applied(set_name, mr_slice):
    from mtmri_lib.data import EVALUATION_SETTINGS

    setting = next(s for s in EVALUATION_SETTINGS if s.name == set_name)
    kind, name = EVALUATION_PRESETS[set_name]
    from_setting = corrupt(mr_slice, kind, 11, **setting.fixed)
    from_preset = corrupt(mr_slice, kind, 11, preset=name)
    assert from_setting.image.tobytes() == from_preset.image.tobytes()


# --------------------------------------------------------------------------- sequences


class TestSequence:
    def test_one_name_applies_to_every_step_and_each_step_replays(self, image):
        final, steps = corrupt_sequence(image, ["noise", "bias"], 2, preset="severe")
        assert [s["preset"] for s in steps] == ["severe", "severe"]
        assert steps[0]["snr_db"] == -10.0 and steps[1]["field_range"] == [0.5, 1.5]
        current = image
        for kind, params in zip(["noise", "bias"], steps, strict=True):
            current = corrupt(current, kind, **params).image
        assert current.tobytes() == final.tobytes()

    def test_a_mapping_follows_the_kind_whatever_the_order(self, image):
        chosen = {"noise": "article:-5dB", "bias": "mild"}
        for order in (["noise", "bias"], ["bias", "noise"]):
            _, steps = corrupt_sequence(image, order, 0, preset=chosen)
            by_kind = dict(zip(order, steps, strict=True))
            assert by_kind["noise"]["preset"] == "article:-5dB"
            assert by_kind["noise"]["snr_db"] == -5.0
            assert by_kind["bias"]["field_range"] == [0.9, 1.1]

    def test_a_mapping_may_leave_a_step_without_preset(self, image):
        _, steps = corrupt_sequence(image, ["subsampling", "motion"], 0, preset={"motion": "mild"})
        assert "preset" not in steps[0] and steps[1]["preset"] == "mild"

    def test_a_list_gives_one_preset_per_step(self, image):
        _, steps = corrupt_sequence(
            image, ["subsampling", "motion"], 4, preset=["article:x2", None]
        )
        assert steps[0]["preset"] == "article:x2" and steps[0]["mask"] == "centred"
        assert "preset" not in steps[1]

    def test_an_option_overrides_the_preset_in_every_accepting_step(self, image):
        _, steps = corrupt_sequence(image, ["noise", "bias"], 1, preset="mild", snr_db=3)
        assert steps[0]["snr_db"] == 3.0 and steps[1]["field_range"] == [0.9, 1.1]

    @pytest.mark.parametrize(
        "preset, error, match",
        [
            (
                "article:x2",
                ValueError,
                "'article:x2' is a preset of subsampling, not of kind 'noise'",
            ),
            (["mild"], ValueError, r"one entry per step \(2 for \['noise', 'bias'\]\); got 1"),
            ({"motion": "mild"}, ValueError, "kind\\(s\\) 'motion' that are not steps"),
            ({"bias": "article:x2"}, ValueError, "not of kind 'bias'"),
            (["mild", "extreme"], ValueError, "preset \\(for kind 'bias'\\) must be one of"),
            (5, TypeError, "preset must be None, a preset name, a mapping"),
        ],
    )
    def test_bad_presets_raise_before_any_step(self, image, monkeypatch, preset, error, match):
        from mtmri_lib.artefacts import noise

        def fail(*args, **kwargs):
            raise AssertionError("a step ran before the presets were checked")

        monkeypatch.setattr(noise, "apply", fail)
        with pytest.raises(error, match=match):
            corrupt_sequence(image, ["noise", "bias"], 0, preset=preset)

    def test_motion_preset_with_periodic_option_raises_before_any_step(self, image, monkeypatch):
        from mtmri_lib.artefacts import subsampling

        def fail(*args, **kwargs):
            raise AssertionError("a step ran before the presets were checked")

        monkeypatch.setattr(subsampling, "apply", fail)
        with pytest.raises(ValueError, match="motion presets are for rigid motion"):
            corrupt_sequence(image, ["subsampling", "motion"], 0, preset="mild", motion="periodic")


# --------------------------------------------------------------------------- motion lines


def test_motion_lines_are_passed_through(mr_slice):
    if "lines" not in {f.name for f in dataclasses.fields(Corruption)}:
        pytest.skip("Corruption has no lines field yet")
    from mtmri_lib.artefacts.motion import centre_band

    result = corrupt(mr_slice, "motion", 0, preset="moderate")
    n_lines = mr_slice.shape[result.params["pe_axis"]]
    assert result.lines is not None and result.lines.dtype == bool
    assert result.lines.shape == (n_lines,)
    assert result.lines.sum() == round(0.55 * n_lines)
    band = centre_band(n_lines, 0.07)
    assert not result.lines[band].any()
    assert corrupt(mr_slice, "noise", 0, preset="moderate").lines is None


# --------------------------------------------------------------------------- measured effect


def _paired_drops(slices, kind, metric, seeds=(0, 1, 2, 3)):
    """Drop of each severity on the same slices and seeds (same field shape, lines, noise)."""
    drops = {name: [] for name in SEVERITIES}
    for clean in slices:
        for seed in seeds:
            for name in SEVERITIES:
                corrupted = corrupt(clean, kind, seed, preset=name).image
                drops[name].append(1.0 - metric(clean, corrupted))
    return {name: np.asarray(values) for name, values in drops.items()}


def _assert_clearly_ordered(drops, kind, label):
    """Each severity's mean drop exceeds the milder one's by a paired t above 3 and at least
    20 %: margins far from what the measured drops give (t of 8 and more, ratios of 1.4 to 9 on
    these slices), so the test fails only when the order itself breaks."""
    for milder, stronger in zip(SEVERITIES, SEVERITIES[1:], strict=False):
        difference = drops[stronger] - drops[milder]
        t = difference.mean() / (difference.std(ddof=1) / math.sqrt(difference.size))
        assert t > 3, f"{kind} {label}: {milder} -> {stronger} paired t {t:.2f}"
        ratio = drops[stronger].mean() / drops[milder].mean()
        assert ratio > 1.2, f"{kind} {label}: {milder} -> {stronger} ratio {ratio:.2f}"


@pytest.mark.parametrize("kind", KINDS)
def test_severities_are_clearly_ordered_in_ssim_drop(kind, slices):
    _assert_clearly_ordered(_paired_drops(slices, kind, ssim), kind, "SSIM drop")


@pytest.mark.parametrize("kind", ["subsampling", "motion", "noise"])
def test_severities_are_clearly_ordered_in_vif_drop(kind, slices):
    # Not bias: a field barely changes VIF (presets.py; the article's remark on Table 3).
    _assert_clearly_ordered(_paired_drops(slices, kind, vif), kind, "VIF drop")


class TestPresetEffects:
    def test_table_layout_and_counts(self, slices):
        from mtmri_lib.report.views import preset_effects

        table = preset_effects(slices[:2], seed=0, draws=2, kinds=["noise", "subsampling"])
        expected_index = [("noise", n) for n in preset_names("noise")] + [
            ("subsampling", n) for n in preset_names("subsampling")
        ]
        assert list(table.index) == expected_index
        assert list(table.index.names) == ["kind", "preset"]
        for metric in ("SSIM", "VIF"):
            for suffix in ("", " sd", " 5%", " 95%"):
                assert f"{metric} drop{suffix}" in table.columns
        assert (table["samples"] == 4).all()
        assert table.loc[("noise", "mild"), "setting"] == "snr_db=10.0"
        assert table.loc[("subsampling", "article:x2"), "setting"] == (
            "acceleration=2, mask='centred'"
        )
        low, mean, high = (table[f"SSIM drop{s}"] for s in (" 5%", "", " 95%"))
        assert ((low <= mean) & (mean <= high)).all()
        assert ((table["SSIM drop"] > 0) & (table["SSIM drop"] < 1)).all()

    def test_values_are_the_documented_draws(self, slices):
        from mtmri_lib.report.views import preset_effects

        table = preset_effects(slices[:2], seed=4, draws=2, kinds=["noise"], names=["mild"])
        # Recomputed by hand, with the Generator the docstring promises.
        rng = np.random.default_rng(
            np.random.SeedSequence([4, zlib.crc32(b"noise"), zlib.crc32(b"mild")])
        )
        ssim_drops, vif_drops = [], []
        for clean in slices[:2]:
            for _ in range(2):
                corrupted = corrupt(clean, "noise", rng, preset="mild").image
                ssim_drops.append(1 - ssim(clean, corrupted))
                vif_drops.append(1 - vif(clean, corrupted))
        row = table.loc[("noise", "mild")]
        assert row["SSIM drop"] == pytest.approx(np.mean(ssim_drops), rel=1e-12)
        assert row["SSIM drop sd"] == pytest.approx(np.std(ssim_drops, ddof=1), rel=1e-12)
        assert row["VIF drop"] == pytest.approx(np.mean(vif_drops), rel=1e-12)
        assert row["VIF drop 95%"] == pytest.approx(np.percentile(vif_drops, 95), rel=1e-12)

    def test_same_seed_same_table_other_seed_differs(self, slices):
        from mtmri_lib.report.views import preset_effects

        options = {"draws": 1, "kinds": ["noise"], "names": SEVERITIES}
        first = preset_effects(slices[:2], seed=1, **options)
        assert first.equals(preset_effects(slices[:2], seed=1, **options))
        assert not first.equals(preset_effects(slices[:2], seed=2, **options))

    def test_max_images_spreads_over_the_stack(self, slices):
        from mtmri_lib.report.views import preset_effects

        stack = np.stack(slices)
        options = {"draws": 1, "kinds": ["noise"], "names": ["severe"]}
        capped = preset_effects(stack, max_images=2, seed=0, **options)
        assert capped["samples"].iloc[0] == 2
        # First and last slice: the same as giving just those two.
        ends = preset_effects(stack[[0, -1]], seed=0, **options)
        assert capped.equals(ends)

    @pytest.mark.parametrize(
        "images, options, error, match",
        [
            ([], {}, ValueError, "at least one slice"),
            (np.zeros((48, 48)), {}, ValueError, "one slice of shape \\(48, 48\\)"),
            (None, {"draws": 0}, ValueError, "draws must be >= 1; got 0"),
            (None, {"seed": -1}, ValueError, "seed must be >= 0; got -1"),
            (None, {"max_images": 0}, ValueError, "max_images must be >= 1; got 0"),
            (None, {"kinds": ["blur"]}, ValueError, "kind must be one of"),
            (
                None,
                {"kinds": ["noise"], "names": ["article:x2"]},
                ValueError,
                "preset of subsampling, not of kind 'noise'",
            ),
            (None, {"fidelity": "article"}, ValueError, "fidelity must be one of"),
            ([np.zeros((4, 4, 4))], {}, ValueError, "images\\[0\\] must be 2-D"),
        ],
    )
    def test_bad_arguments_raise(self, slices, images, options, error, match):
        from mtmri_lib.report.views import preset_effects

        with pytest.raises(error, match=match):
            preset_effects(slices[:1] if images is None else images, **options)
