"""Subsampling masks: sampled fractions, exact centre band, centred masks and low_res."""

from __future__ import annotations

import numpy as np
import pytest

from mtmri_lib.artefacts import corrupt, make_mask
from mtmri_lib.artefacts.subsampling import CENTRE_FRACTIONS
from mtmri_lib.fourier import crop_or_pad_kspace, fft2c, ifft2c

N = 320


def _lines(mask, pe_axis):
    """Sampled phase-encoding lines; each line must be constant along the other axis."""
    lines = mask.all(axis=1 - pe_axis)
    assert np.array_equal(lines, mask.any(axis=1 - pe_axis))
    return lines


def _centre(n, fraction):
    width = round(fraction * n)
    return slice(n // 2 - width // 2, n // 2 - width // 2 + width)


@pytest.mark.parametrize("accel", [2, 3, 4, 8])
@pytest.mark.parametrize("pe_axis", [0, 1])
def test_random_mask_fraction_is_one_over_r_in_expectation(accel, pe_axis):
    fractions = []
    for seed in range(200):
        mask = make_mask((N, 256), acceleration=accel, mask="random", pe_axis=pe_axis, rng=seed)
        lines = _lines(mask, pe_axis)
        assert lines[_centre(lines.size, CENTRE_FRACTIONS[accel])].all()
        fractions.append(lines.mean())
    n = (N, 256)[pe_axis]
    assert np.mean(fractions) == pytest.approx(1 / accel, abs=3 * 0.5 / np.sqrt(200 * n))


@pytest.mark.parametrize("accel", [2, 3, 4, 8])
def test_exact_random_mask_has_exact_line_count(accel):
    for seed in range(10):
        mask = make_mask((N, N), acceleration=accel, mask="random", pe_axis=1, rng=seed, exact=True)
        assert _lines(mask, 1).sum() == round(N / accel)


@pytest.mark.parametrize("accel", [2, 3, 4, 8])
def test_equispaced_mask_total_fraction_about_one_over_r(accel):
    for seed in range(10):
        mask = make_mask((N, N), acceleration=accel, mask="equispaced", pe_axis=0, rng=seed)
        lines = _lines(mask, 0)
        assert lines[_centre(N, CENTRE_FRACTIONS[accel])].all()
        # Within a few lines of N / R (rounding of the positions and the band's overlap).
        assert abs(lines.sum() - N / accel) <= 0.03 * N
        outer = np.flatnonzero(lines)
        gaps = np.diff(outer[outer < N // 2 - round(CENTRE_FRACTIONS[accel] * N) // 2])
        assert gaps.max() - gaps.min() <= 1  # equispaced (up to rounding)


@pytest.mark.parametrize("accel, fraction", sorted(CENTRE_FRACTIONS.items()))
def test_centred_mask_is_centre_square(accel, fraction):
    mask = make_mask((N, N), acceleration=accel, mask="centred", pe_axis=0, rng=0)
    side = round(fraction * N)
    assert mask.sum() == side * side
    assert mask[_centre(N, fraction), _centre(N, fraction)].all()


def test_centred_corruption_low_res(mr_slice):
    result = corrupt(mr_slice, "subsampling", 0, mask="centred", acceleration=2, zscore=False)
    side = round(0.16 * 64)
    assert result.low_res.shape == (side, side)
    expected = ifft2c(crop_or_pad_kspace(fft2c(mr_slice), (side, side))).real * side / 64
    np.testing.assert_allclose(result.low_res, expected, atol=1e-12)
    # Same intensity scale as the input: the means agree.
    assert result.low_res.mean() == pytest.approx(mr_slice.mean(), rel=1e-9)
    z = corrupt(mr_slice, "subsampling", 0, mask="centred", acceleration=2).low_res
    assert z.mean() == pytest.approx(0, abs=1e-9) and z.std() == pytest.approx(1)


def test_corruption_keeps_only_masked_kspace(mr_slice):
    for seed in range(6):
        result = corrupt(mr_slice, "subsampling", seed, output="complex", zscore=False)
        k = fft2c(result.image)
        assert np.abs(k[~result.mask]).max() < 1e-12
        np.testing.assert_allclose(k[result.mask], fft2c(mr_slice)[result.mask], atol=1e-12)
        assert result.low_res is None or result.params["mask"] == "centred"


def test_sampler_covers_settings(image):
    seen = {
        (p["acceleration"], p["mask"], p["pe_axis"])
        for p in (corrupt(image, "subsampling", s).params for s in range(300))
    }
    assert {a for a, _, _ in seen} == {2, 3, 4, 8}
    assert {m for _, m, _ in seen} == {"random", "equispaced", "centred"}
    assert {p for _, _, p in seen} == {0, 1}


def test_other_acceleration_with_centre_fraction():
    mask = make_mask(
        (64, 64), acceleration=6, centre_fraction=0.1, mask="random", pe_axis=0, rng=0, exact=True
    )
    assert _lines(mask, 0).sum() == round(64 / 6)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"acceleration": 5}, ValueError, "centre_fraction"),
        ({"acceleration": 0.5}, ValueError, "acceleration"),
        ({"acceleration": 20, "centre_fraction": 0.1}, ValueError, "does not fit"),
        ({"acceleration": 2, "centre_fraction": 1.5}, ValueError, "centre_fraction"),
        ({"acceleration": 2, "centre_fraction": 0.001}, ValueError, "does not fit"),
        ({"acceleration": 2, "mask": "spiral"}, ValueError, "mask must be one of"),
        ({"acceleration": 2, "pe_axis": 2}, ValueError, "pe_axis"),
        ({"acceleration": 2, "exact": "yes"}, TypeError, "exact"),
        ({"acceleration": "2"}, TypeError, "acceleration"),
    ],
)
def test_bad_parameters_raise(kwargs, error, match):
    full = {"mask": "random", "pe_axis": 0, **kwargs}
    with pytest.raises(error, match=match):
        make_mask((64, 64), rng=0, **full)
    with pytest.raises(error, match=match):
        corrupt(np.ones((64, 64)), "subsampling", 0, **full)


def test_bad_shape_raises():
    with pytest.raises(ValueError, match="shape"):
        make_mask((64,), acceleration=2, mask="random", pe_axis=0, rng=0)


@pytest.mark.parametrize(
    "shape, error, match",
    [
        (32, TypeError, r"shape must be an \(H, W\) pair of ints; got 32 \(int\)"),
        (None, TypeError, r"shape must be an \(H, W\) pair of ints; got None"),
        ("64x64", TypeError, r"shape must be an \(H, W\) pair"),
        ((64, 64, 1), ValueError, r"shape must be an \(H, W\) pair of ints; got 3 values"),
        ((64, 1), ValueError, r"shape\[1\] must be >= 2; got 1"),
        ((64.5, 64), TypeError, r"shape\[0\] must be an integer; got 64\.5"),
        ((True, 64), TypeError, r"shape\[0\] must be an integer"),
    ],
)
def test_bad_shapes_name_shape(shape, error, match):
    with pytest.raises(error, match=match):
        make_mask(shape, acceleration=2, mask="random", pe_axis=0, rng=0)


def test_numpy_shape_and_numpy_pe_axis_are_accepted():
    a = make_mask(np.array([40, 32]), acceleration=4, mask="random", pe_axis=np.int64(1), rng=3)
    b = make_mask((40, 32), acceleration=4, mask="random", pe_axis=1, rng=3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "pe_axis, error",
    [(1.0, TypeError), (True, TypeError), (np.float32(0), TypeError), (2, ValueError)],
)
def test_make_mask_pe_axis_is_the_int_0_or_1(pe_axis, error):
    """1.0 once failed inside with a tuple-index TypeError, True was taken as 1."""
    with pytest.raises(error, match="pe_axis"):
        make_mask((32, 32), acceleration=2, mask="random", pe_axis=pe_axis, rng=0)


@pytest.mark.parametrize(
    "rng, error, match",
    [(-1, ValueError, "rng must be .*; got -1"), ("0", TypeError, "rng must be")],
)
def test_make_mask_bad_rng(rng, error, match):
    with pytest.raises(error, match=match):
        make_mask((32, 32), acceleration=2, mask="random", pe_axis=0, rng=rng)


def test_make_mask_accepts_fidelity_and_checks_it():
    paper = make_mask((32, 32), acceleration=2, mask="random", pe_axis=0, rng=1)
    code = make_mask((32, 32), acceleration=2, mask="random", pe_axis=0, rng=1, fidelity="code")
    np.testing.assert_array_equal(paper, code)
    with pytest.raises(ValueError, match="fidelity must be one of"):
        make_mask((32, 32), acceleration=2, mask="random", pe_axis=0, rng=1, fidelity="x")
