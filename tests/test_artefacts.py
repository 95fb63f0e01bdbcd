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
