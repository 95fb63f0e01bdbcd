"""The battery every artefact passes (STYLE.md): shape, dtype, seeds, replay, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mtmri_lib.artefacts import KINDS, corrupt, corrupt_sequence

#: Values that leave the image unchanged.
IDENTITY = {
    "bias": {"field_range": (1, 1)},
    "subsampling": {"acceleration": 1},
    "motion": {"corrupted_fraction": 0},
    "noise": {"snr_db": float("inf")},
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(32, 32), (33, 33), (40, 28), (27, 36)])
@pytest.mark.parametrize("output", ["real", "magnitude", "complex"])
def test_shape_and_dtype(kind, shape, output):
    from conftest import phantom

    result = corrupt(phantom(shape), kind, 3, output=output)
    assert result.image.shape == shape
    assert result.kind == kind
    if output == "complex":
        assert np.iscomplexobj(result.image)
    else:
        assert result.image.dtype == np.float64
    if output == "magnitude":
        assert result.image.min() >= 0 or np.isclose(result.image.mean(), 0)
    assert np.all(np.isfinite(result.image))


@pytest.mark.parametrize("kind", KINDS)
def test_zscore(kind, image):
    out = corrupt(image, kind, 0).image
    assert out.mean() == pytest.approx(0, abs=1e-9)
    assert out.std() == pytest.approx(1, rel=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_identity_values_return_input(kind, image):
    result = corrupt(image, kind, 0, zscore=False, **IDENTITY[kind])
    np.testing.assert_array_equal(result.image, image)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_bits_different_seed_differs(kind, image):
    a = corrupt(image, kind, 42).image
    b = corrupt(image, kind, np.random.default_rng(42)).image
    c = corrupt(image, kind, 43).image
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", KINDS)
def test_replay_from_params_is_bit_identical(kind, image):
    for seed in range(4):
        result = corrupt(image, kind, seed, output="complex")
        params = json.loads(json.dumps(result.params))
        replay = corrupt(image, kind, **params)
        assert replay.image.tobytes() == result.image.tobytes()
        assert replay.params == result.params


def test_same_seed_same_bits_in_another_process(image):
    code = (
        "import sys, numpy as np, hashlib; sys.path.insert(0, 'tests');"
        "from conftest import phantom; from mtmri_lib.artefacts import corrupt, KINDS;"
        "print(' '.join(hashlib.sha256(corrupt(phantom((48, 40)), k, 7).image.tobytes())"
        ".hexdigest() for k in KINDS))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import hashlib

    here = [hashlib.sha256(corrupt(image, k, 7).image.tobytes()).hexdigest() for k in KINDS]
    assert out.stdout.split() == here


@pytest.mark.parametrize("kind", KINDS)
def test_global_numpy_random_state_untouched(kind, image):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    corrupt(image, kind, 5)
    corrupt(image, kind)  # rng=None draws fresh entropy, still not from the global state
    after = np.random.get_state()[1]
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.ones(5), ValueError, "2-D"),
        (np.ones((2, 3, 4)), ValueError, "2-D"),
        (np.ones((0, 5)), ValueError, "at least 2x2"),
        (np.full((8, 8), np.nan), ValueError, "NaN"),
        (np.array([[1.0, np.inf], [0, 0]]), ValueError, "infinite"),
        ("image", TypeError, "numeric"),
        (np.ones((4, 4), dtype=bool), TypeError, "numeric"),
    ],
)
def test_bad_images_raise(bad, error, match):
    with pytest.raises(error, match=match):
        corrupt(bad, "noise", 0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"kind": "blur"}, ValueError, "kind must be one of"),
        ({"kind": "noise", "output": "phase"}, ValueError, "output must be one of"),
        ({"kind": "noise", "fidelity": "article"}, ValueError, "fidelity must be one of"),
        ({"kind": "noise", "zscore": "yes"}, TypeError, "zscore"),
        ({"kind": "noise", "acceleration": 2}, TypeError, "unknown keyword"),
        ({"kind": "noise", "rng": "seed"}, TypeError, "rng must be"),
    ],
)
def test_bad_arguments_raise(image, kwargs, error, match):
    with pytest.raises(error, match=match):
        corrupt(image, **kwargs)


def test_integer_images_are_accepted(image):
    ints = (image * 100).astype(np.int16)
    out = corrupt(ints, "noise", 0, zscore=False, snr_db=float("inf")).image
    np.testing.assert_array_equal(out, ints.astype(float))


def test_params_record_output_options(image):
    params = corrupt(image, "bias", 0, output="magnitude", zscore=False, fidelity="code").params
    assert params["output"] == "magnitude"
    assert params["zscore"] is False
    assert params["fidelity"] == "code"
    assert "kind" not in params


class TestSequence:
    def test_steps_and_replay(self, image):
        final, steps = corrupt_sequence(image, ["subsampling", "motion"], 11)
        assert final.shape == image.shape
        assert [s["zscore"] for s in steps] == [False, True]
        assert steps[0]["output"] == "complex"
        # Replaying step by step reproduces the final image bit for bit.
        current = image
        for kind, params in zip(["subsampling", "motion"], steps, strict=True):
            current = corrupt(current, kind, **params).image
        assert current.tobytes() == final.tobytes()

    def test_shared_option_goes_to_every_accepting_step(self, image):
        _, steps = corrupt_sequence(image, ["subsampling", "motion"], 1, pe_axis=1)
        assert steps[0]["pe_axis"] == 1 and steps[1]["pe_axis"] == 1

    def test_option_accepted_by_no_step_raises(self, image):
        with pytest.raises(TypeError, match="snr_db"):
            corrupt_sequence(image, ["bias", "motion"], 0, snr_db=3)

    @pytest.mark.parametrize("kinds", [[], "noise", None])
    def test_bad_kinds(self, image, kinds):
        with pytest.raises((ValueError, TypeError)):
            corrupt_sequence(image, kinds, 0)

    def test_same_seed_same_result(self, image):
        a, _ = corrupt_sequence(image, ["noise", "bias"], 5)
        b, _ = corrupt_sequence(image, ["noise", "bias"], 5)
        assert a.tobytes() == b.tobytes()


# --- z-normalisation of images without structure ---------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("output", ["real", "magnitude", "complex"])
@pytest.mark.parametrize("value", [0.0, 0.3, -7.5, 1e-200])
def test_constant_image_through_identity_is_zeros(kind, output, value):
    """A constant image has nothing to normalise: zeros, not a blown-up rounding residue."""
    result = corrupt(np.full((32, 24), value), kind, 0, output=output, **IDENTITY[kind])
    assert result.image.shape == (32, 24)
    np.testing.assert_array_equal(result.image, 0)


def test_constant_plus_rounding_residue_is_zeros():
    from mtmri_lib.artefacts._base import ZNORM_RELATIVE_FLOOR, znorm

    residue = 1e-17 * np.random.default_rng(0).standard_normal((16, 16))
    np.testing.assert_array_equal(znorm(0.3 + residue), 0)
    np.testing.assert_array_equal(znorm((0.3 + 0.4j) * (1 + residue)), 0)
    # Structure above the floor is normalised as usual.
    structured = 0.3 + 100 * ZNORM_RELATIVE_FLOOR * residue / 1e-17
    assert znorm(structured).std() == pytest.approx(1, rel=1e-6)


def test_znorm_of_ordinary_images_is_the_plain_formula_bit_for_bit(image):
    """Recorded results stay valid: the guard and the rescaling change no ordinary image."""
    from mtmri_lib.artefacts._base import znorm

    for x in (image, image + 1j * image[::-1], image.astype(np.float32)):
        centred = x - x.mean()
        expected = centred / float(np.sqrt(np.mean(np.abs(centred) ** 2)))
        assert znorm(x).tobytes() == expected.tobytes()


# --- scale: no overflow, no leaked warnings ----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_extreme_scales_give_the_same_znormalised_result(kind, scale, image):
    """z-normalised output is scale invariant; 1e300 used to come back as zeros."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = corrupt(image * scale, kind, 3)
        low_res_kind = corrupt(image * scale, "subsampling", 0, mask="centred", acceleration=2)
    np.testing.assert_allclose(scaled.image, corrupt(image, kind, 3).image, atol=1e-12)
    expected = corrupt(image, "subsampling", 0, mask="centred", acceleration=2).low_res
    np.testing.assert_allclose(low_res_kind.low_res, expected, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_overflowing_input_is_refused_naming_kind_and_scale(kind, image):
    import warnings

    huge = image / image.max() * np.finfo(np.float64).max
    # A field above 1 everywhere, so that the bias field cannot stay below the limit.
    pins = {"field_range": (1.5, 2.0)} if kind == "bias" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=rf"kind='{kind}'.*scale is too large.*1\.8e\+308"):
            corrupt(huge, kind, 3, **pins)
        with pytest.raises(ValueError, match=r"scale is too large"):
            corrupt(huge, kind, 3, zscore=False, **pins)
        with pytest.raises(ValueError, match=rf"kind='{kind}'.*scale is too large"):
            corrupt_sequence(huge, [kind, "noise"], 3, **pins)


def test_identity_result_is_a_copy_not_the_input(image):
    for kind in KINDS:
        original = image.copy()
        result = corrupt(image, kind, 0, zscore=False, **IDENTITY[kind])
        result.image[...] = -1
        np.testing.assert_array_equal(image, original)


# --- rng ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rng, error, match",
    [
        (-1, ValueError, r"rng must be .*non-negative int seed.*; got -1$"),
        (np.int64(-5), ValueError, r"rng must be .*; got -5$"),
        (1.5, TypeError, r"rng must be .*; got 1\.5 \(float\)"),
        (3.0, TypeError, r"rng must be .*; got 3\.0 \(float\)"),
        (True, TypeError, r"rng must be .*; got True \(bool\)"),
        ("seed", TypeError, r"rng must be .*; got 'seed' \(str\)"),
        (np.random.RandomState(0), TypeError, r"rng must be .*; got a RandomState"),  # noqa: NPY002
        ([1, 2], TypeError, r"rng must be .*; got a list"),
    ],
)
def test_bad_rng_names_rng_and_value(image, rng, error, match):
    with pytest.raises(error, match=match):
        corrupt(image, "noise", rng)
    with pytest.raises(error, match=match):
        corrupt_sequence(image, ["noise", "bias"], rng)


def test_numpy_integer_seed_equals_int_seed(image):
    assert corrupt(image, "noise", np.int64(7)).image.tobytes() == (
        corrupt(image, "noise", 7).image.tobytes()
    )


# --- pe_axis: one check for every artefact -----------------------------------------------------


@pytest.mark.parametrize("kind", ["subsampling", "motion"])
@pytest.mark.parametrize(
    "pe_axis, error, match",
    [
        (1.0, TypeError, r"pe_axis must be an integer array axis in \[0, 1\]; got 1\.0 \(float\)"),
        (np.float64(0.0), TypeError, r"pe_axis must be an integer .*; got np\.float64\(0\.0\)"),
        (True, TypeError, r"pe_axis must be an integer .*; got True \(bool\)"),
        (np.bool_(False), TypeError, r"pe_axis must be an integer .*bool"),
        ("0", TypeError, r"pe_axis must be an integer .*; got '0' \(str\)"),
        (2, ValueError, r"pe_axis must lie in \[0, 1\]; got 2"),
        (-1, ValueError, r"pe_axis must lie in \[0, 1\]; got -1"),
    ],
)
def test_pe_axis_is_the_int_0_or_1_for_every_kind(image, kind, pe_axis, error, match):
    with pytest.raises(error, match=match):
        corrupt(image, kind, 0, pe_axis=pe_axis)
    with pytest.raises(error, match=match):
        corrupt_sequence(image, ["subsampling", "motion"], 0, pe_axis=pe_axis)


@pytest.mark.parametrize("kind", ["subsampling", "motion"])
def test_numpy_integer_pe_axis_is_accepted_and_recorded_as_int(image, kind):
    result = corrupt(image, kind, 0, pe_axis=np.int64(1))
    assert result.params["pe_axis"] == 1 and type(result.params["pe_axis"]) is int
    assert result.image.tobytes() == corrupt(image, kind, 0, pe_axis=1).image.tobytes()


# --- other bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ([[1.0, 2.0], [3.0]], ValueError, "image must be a 2-D numeric array; got list"),
        (np.ones((1, 1)), ValueError, r"at least 2x2; got shape \(1, 1\)"),
        (np.ones((1, 8)), ValueError, r"at least 2x2; got shape \(1, 8\)"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "numeric"),
    ],
)
def test_more_bad_images_raise(bad, error, match):
    for kind in KINDS:
        with pytest.raises(error, match=match):
            corrupt(bad, kind, 0)


@pytest.mark.parametrize(
    "option, match",
    [
        ({"output": "phase"}, "output must be one of"),
        ({"zscore": "yes"}, "zscore must be True or False"),
        ({"fidelity": "article"}, "fidelity must be one of"),
    ],
)
def test_sequence_checks_options_before_any_step(image, monkeypatch, option, match):
    from mtmri_lib.artefacts import noise

    def fail(*args, **kwargs):
        raise AssertionError("a step ran before the options were checked")

    monkeypatch.setattr(noise, "apply", fail)
    with pytest.raises((ValueError, TypeError), match=match):
        corrupt_sequence(image, ["noise", "bias"], 0, **option)


def test_kind_of_numpy_string_is_recorded_as_str(image):
    assert type(corrupt(image, np.str_("noise"), 0).kind) is str
