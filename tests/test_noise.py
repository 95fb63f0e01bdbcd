"""Noise: the measured k-space SNR matches the requested one."""

from __future__ import annotations

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
