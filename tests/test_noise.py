"""Noise: the measured k-space SNR matches the requested one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mtmri_lib.artefacts import corrupt, noise
from mtmri_lib.fourier import fft2c


@pytest.mark.parametrize("snr_db", [-12.0, -5.0, 0.0, 5.0, 10.0, 30.0])
def test_measured_snr_within_quarter_db(mr_slice, snr_db):
    clean_k = fft2c(mr_slice)
    signal = np.mean(np.abs(clean_k))
    parts = []
    for seed in range(20):
        out = corrupt(mr_slice, "noise", seed, output="complex", zscore=False, snr_db=snr_db)
        added = fft2c(out.image) - clean_k
        parts.append(np.concatenate([added.real.ravel(), added.imag.ravel()]))
    sd = np.std(np.concatenate(parts))
    measured = 20 * np.log10(signal / sd)
    assert measured == pytest.approx(snr_db, abs=0.25)


def test_real_and_imaginary_parts_have_equal_sd(mr_slice):
    out = corrupt(mr_slice, "noise", 1, output="complex", zscore=False, snr_db=0)
    added = fft2c(out.image) - fft2c(mr_slice)
    assert np.std(added.real) == pytest.approx(np.std(added.imag), rel=0.05)
    assert np.mean(added.real) == pytest.approx(0, abs=4 * np.std(added.real) / 64)


def test_sampled_snr_in_article_range(image):
    values = [corrupt(image, "noise", s).params["snr_db"] for s in range(200)]
    assert min(values) >= -12 and max(values) <= 10
    assert max(values) - min(values) > 18  # covers the range


def test_lower_snr_is_noisier(mr_slice):
    errors = [
        np.mean((corrupt(mr_slice, "noise", 0, zscore=False, snr_db=s).image - mr_slice) ** 2)
        for s in (10, 0, -10)
    ]
    assert errors[0] < errors[1] < errors[2]


def test_noise_sd_formula():
    k = np.full((4, 4), 2.0 + 0j)
    assert noise.noise_sd(k, 20.0) == pytest.approx(0.2)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"snr_db": float("-inf")}, ValueError),
        ({"snr_db": float("nan")}, ValueError),
        ({"snr_db": "5"}, TypeError),
        ({"seed": 1.5}, TypeError),
        ({"seed": -3}, ValueError),
    ],
)
def test_bad_parameters_raise(image, kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        corrupt(image, "noise", 0, **kwargs)


@pytest.mark.parametrize("snr_db", [1e6, -1e6, 300.5, -100.5, float("-inf"), 1e308])
def test_snr_outside_the_limits_is_refused_with_the_range(image, snr_db):
    """Once OverflowError (1e6) and ZeroDivisionError (-1e6); now a ValueError with the range."""
    with pytest.raises(ValueError, match=r"snr_db must lie in \[-100, 300\] dB, or be inf"):
        corrupt(image, "noise", 0, snr_db=snr_db)
    with pytest.raises(ValueError, match=r"snr_db must lie in \[-100, 300\] dB"):
        noise.noise_sd(fft2c(image), snr_db)


def test_snr_limits_work_and_the_top_one_is_near_identity(image):
    top = corrupt(image, "noise", 0, zscore=False, output="complex", snr_db=300)
    np.testing.assert_allclose(top.image, image, rtol=0, atol=1e-13)
    bottom = corrupt(image, "noise", 0, zscore=False, output="complex", snr_db=-100)
    assert np.all(np.isfinite(bottom.image))
    # Noise 1e5 times the signal: the clean image no longer shows.
    assert np.std(bottom.image - image) > 1e3 * np.std(image)
    assert corrupt(image, "noise", 0, snr_db=np.float32(-100)).params["snr_db"] == -100.0


def test_noise_sd_of_infinite_snr_is_zero():
    assert noise.noise_sd(np.full((4, 4), 2.0 + 0j), float("inf")) == 0.0


def test_snr_error_message_shows_the_value(image):
    with pytest.raises(ValueError, match=r"got 1e\+06$"):
        corrupt(image, "noise", 0, snr_db=1e6)


# --- Effective SNR: the real part halves the noise power ----------------------------------

#: 10 log10 2, written out (not taken from the module) so a wrong constant there fails.
HALF_POWER_DB = 3.010299956639812


@pytest.fixture(scope="module")
def slice_320():
    """A 320 x 320 MNI152 slice, the article's image size."""
    from mtmri_lib.data import demo_slice

    return demo_slice(320)


def _measured_snr_db(clean, noisy):
    """20 log10(mean |clean k-space| / per-part sd of the k-space difference)."""
    clean_k = fft2c(clean)
    added = fft2c(noisy) - clean_k
    sd = np.sqrt(np.mean(np.concatenate([added.real.ravel() ** 2, added.imag.ravel() ** 2])))
    return 20 * np.log10(np.mean(np.abs(clean_k)) / sd)


@pytest.mark.parametrize("snr_db", [5.0, 0.0, -5.0])  # Table 6
def test_real_output_snr_is_the_effective_one(slice_320, snr_db):
    """Measured on one 320 x 320 slice: 8.003 / 3.003 / -1.997 dB for 5 / 0 / -5 dB."""
    out = corrupt(slice_320, "noise", 3, zscore=False, snr_db=snr_db)
    measured = _measured_snr_db(slice_320, out.image)
    assert measured == pytest.approx(snr_db + HALF_POWER_DB, abs=0.1)
    assert noise.effective_snr_db(snr_db, "real") == pytest.approx(measured, abs=0.1)
    # The complex output keeps the nominal SNR: the 3 dB come from the real part alone.
    complex_out = corrupt(slice_320, "noise", 3, zscore=False, output="complex", snr_db=snr_db)
    assert _measured_snr_db(slice_320, complex_out.image) == pytest.approx(snr_db, abs=0.1)


@pytest.mark.parametrize(
    "snr_db, output, expected",
    [
        (5.0, "real", 5.0 + HALF_POWER_DB),
        (-5.0, "real", -5.0 + HALF_POWER_DB),
        (5.0, "complex", 5.0),
        (5.0, "magnitude", 5.0),
        (float("inf"), "real", float("inf")),
        (float("inf"), "complex", float("inf")),
    ],
)
def test_effective_snr_rule(snr_db, output, expected):
    assert noise.effective_snr_db(snr_db, output) == pytest.approx(expected, abs=1e-12)
    params = noise.Params(snr_db=snr_db, seed=0)
    assert noise.derived(params, output=output, fixed={}) == {
        "effective_snr_db": pytest.approx(expected, abs=1e-12)
    }


def test_effective_snr_rule_checks_its_arguments():
    with pytest.raises(ValueError, match="output must be one of"):
        noise.effective_snr_db(5.0, "phase")
    with pytest.raises(ValueError, match=r"snr_db must lie in \[-100, 300\] dB"):
        noise.effective_snr_db(400.0, "real")


@pytest.mark.parametrize(
    "snr_db, output, given",
    [
        (5.0, "real", 5.0),  # the nominal value given for the real output
        (5.0, "complex", 5.0 + HALF_POWER_DB),  # the real rule given for a complex output
        (5.0, "real", 5.0 + HALF_POWER_DB + 1e-6),  # beyond float rounding
        (5.0, "real", float("inf")),
        (float("inf"), "real", 8.0),
    ],
)
def test_disagreeing_effective_snr_raises_naming_both(snr_db, output, given):
    params = noise.Params(snr_db=snr_db, seed=0)
    with pytest.raises(ValueError, match=r"effective_snr_db .* disagrees with snr_db .*output"):
        noise.derived(params, output=output, fixed={"effective_snr_db": given})


def test_effective_snr_within_rounding_is_accepted():
    params = noise.Params(snr_db=5.0, seed=0)
    value = 5.0 + HALF_POWER_DB + 1e-12
    assert noise.derived(params, output="real", fixed={"effective_snr_db": value})
    assert noise.derived(params, output="complex", fixed={"effective_snr_db": np.float32(5.0)})


@pytest.mark.parametrize("given, error", [(float("nan"), ValueError), ("8", TypeError)])
def test_bad_effective_snr_names_it(given, error):
    params = noise.Params(snr_db=5.0, seed=0)
    with pytest.raises(error, match="effective_snr_db"):
        noise.derived(params, output="real", fixed={"effective_snr_db": given})


# The three tests below go through `corrupt`: they need artefacts/__init__.py to call
# `noise.derived` (the hook that sees `output`).


@pytest.mark.parametrize("output", ["real", "magnitude", "complex"])
def test_params_record_effective_snr_and_replay(image, output):
    result = corrupt(image, "noise", 4, output=output, snr_db=5.0)
    expected = 5.0 + HALF_POWER_DB if output == "real" else 5.0
    assert result.params["effective_snr_db"] == pytest.approx(expected, abs=1e-12)
    params = json.loads(json.dumps(result.params))
    replay = corrupt(image, "noise", **params)
    assert replay.image.tobytes() == result.image.tobytes()
    assert replay.params == result.params
    identity = corrupt(image, "noise", 4, output=output, snr_db=float("inf")).params
    assert identity["effective_snr_db"] == float("inf")
    assert corrupt(image, "noise", **json.loads(json.dumps(identity))).params == identity


def test_replay_with_a_changed_output_or_effective_snr_raises(image):
    params = corrupt(image, "noise", 4, snr_db=5.0).params
    with pytest.raises(ValueError, match=r"effective_snr_db .* snr_db 5\.0 and output 'complex'"):
        corrupt(image, "noise", **{**params, "output": "complex"})
    with pytest.raises(ValueError, match="effective_snr_db .* disagrees with snr_db"):
        corrupt(image, "noise", **{**params, "effective_snr_db": 5.0})


def test_effective_snr_is_checked_before_any_work(image, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("apply ran before the check")

    monkeypatch.setattr(noise, "apply", fail)
    with pytest.raises(ValueError, match="effective_snr_db"):
        corrupt(image, "noise", 0, snr_db=5.0, effective_snr_db=5.0)


# --- Non-square images: the same battery as square ones -----------------------------------

NON_SQUARE = [(48, 40), (40, 48), (256, 232)]


@pytest.mark.parametrize("shape", NON_SQUARE)
def test_non_square_identity_seeds_shape_dtype(shape):
    from conftest import phantom

    image = phantom(shape)
    same = corrupt(image, "noise", 0, zscore=False, snr_db=float("inf"))
    np.testing.assert_array_equal(same.image, image)
    a, b, c = (corrupt(image, "noise", s, snr_db=2.0).image for s in (7, 7, 8))
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)
    for output, dtype in [("real", np.float64), ("magnitude", np.float64)]:
        out = corrupt(image, "noise", 7, output=output).image
        assert out.shape == shape and out.dtype == dtype
    complex_out = corrupt(image, "noise", 7, output="complex").image
    assert complex_out.shape == shape and complex_out.dtype == np.complex128


@pytest.mark.parametrize("shape", NON_SQUARE)
@pytest.mark.parametrize("output, gain_db", [("complex", 0.0), ("real", HALF_POWER_DB)])
def test_non_square_measured_snr(shape, output, gain_db):
    """Pooled over draws so that the smallest image (1920 k-space values) measures to 0.1 dB."""
    from conftest import phantom

    image = phantom(shape)
    draws = max(1, 40 * 48 * 40 // (shape[0] * shape[1]))
    measured = [
        _measured_snr_db(
            image, corrupt(image, "noise", s, output=output, zscore=False, snr_db=0.0).image
        )
        for s in range(draws)
    ]
    power = np.mean(10 ** (-np.asarray(measured) / 10))  # mean noise power, signal = 1
    assert -10 * np.log10(power) == pytest.approx(gain_db, abs=0.1)
