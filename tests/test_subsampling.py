"""Subsampling masks: sampled fractions, exact centre band, centred masks and low_res."""

from __future__ import annotations

import hashlib
import json

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


def test_make_mask_checks_fidelity_and_centred_masks_ignore_it():
    for mask in ["centred"]:
        paper = make_mask((32, 32), acceleration=2, mask=mask, pe_axis=0, rng=1)
        code = make_mask((32, 32), acceleration=2, mask=mask, pe_axis=0, rng=1, fidelity="code")
        np.testing.assert_array_equal(paper, code)
    for mask in ["random", "equispaced"]:
        paper = make_mask((32, 32), acceleration=2, mask=mask, pe_axis=0, rng=1)
        code = make_mask((32, 32), acceleration=2, mask=mask, pe_axis=0, rng=1, fidelity="code")
        assert not np.array_equal(paper, code)
    full = make_mask((32, 32), acceleration=1, mask="random", pe_axis=0, rng=1, fidelity="code")
    assert full.all()
    with pytest.raises(ValueError, match="fidelity must be one of"):
        make_mask((32, 32), acceleration=2, mask="random", pe_axis=0, rng=1, fidelity="x")


# --- fidelity="paper" masks are the ones they were -----------------------------------------

#: sha256 of the packed masks below, computed with make_mask as of commit b78a1aa (before
#: fidelity="code" had an effect): the paper masks must stay bit for bit the same.
PAPER_MASK_DIGESTS = {
    "random": "eb4b66493bbcfce3ba0ef20dd08273f7b80294e2772350a3af9071fe8490309b",
    "equispaced": "0f80d75a3aeb02273ad119a7911d9d67f1f59fd1f98d3023991b4235e68c4457",
    "centred": "99a24b4fdc74f416128eab9d275f44667e5f558c734efdae118a4f0ffcf9d511",
}


@pytest.mark.parametrize("mask", sorted(PAPER_MASK_DIGESTS))
def test_paper_masks_are_unchanged_bit_for_bit(mask):
    digest = hashlib.sha256()
    for shape in [(64, 64), (48, 40), (40, 48), (320, 320)]:
        for accel in (2, 3, 4, 8):
            for pe_axis in (0, 1):
                for exact in (False, True) if mask == "random" else (False,):
                    for seed in range(3):
                        drawn = make_mask(
                            shape,
                            acceleration=accel,
                            mask=mask,
                            pe_axis=pe_axis,
                            rng=seed,
                            exact=exact,
                            fidelity="paper",
                        )
                        digest.update(np.packbits(drawn).tobytes())
    assert digest.hexdigest() == PAPER_MASK_DIGESTS[mask]


# --- fidelity="code": the released code's masks (FACTS.md, N = 320) -----------------------

#: The released centre band at N = 320: (first, last) sampled index; FACTS.md measured
#: 50 / 38 / 26 / 14 lines centred on 158.5. Worked out by hand from the released bounds
#: round((N - n - 2) / 2), round((N + n - 2) / 2) with n = round(f N) = 51 / 38 / 26 / 13.
CODE_BAND = {2: (134, 183), 3: (140, 177), 4: (146, 171), 8: (152, 165)}


def _code_masks(accel, mask, pe_axis, seeds, shape=(N, N)):
    return [
        make_mask(shape, acceleration=accel, mask=mask, pe_axis=pe_axis, rng=s, fidelity="code")
        for s in seeds
    ]


@pytest.mark.parametrize("accel", sorted(CODE_BAND))
@pytest.mark.parametrize("pe_axis", [0, 1])
def test_code_centre_band_width_and_position(accel, pe_axis):
    """Lines kept by every one of 100 random masks: the band and nothing else (an outer
    line survives 100 draws with probability below 0.41**100)."""
    always = np.logical_and.reduce(
        [_lines(m, pe_axis) for m in _code_masks(accel, "random", pe_axis, range(100))]
    )
    first, last = CODE_BAND[accel]
    assert np.array_equal(np.flatnonzero(always), np.arange(first, last + 1))
    assert last - first + 1 == {2: 50, 3: 38, 4: 26, 8: 14}[accel]
    assert (first + last) / 2 == 158.5  # 1.5 lines below the zero frequency, index 160
    for equispaced in _code_masks(accel, "equispaced", pe_axis, range(5)):
        assert _lines(equispaced, pe_axis)[first : last + 1].all()


@pytest.mark.parametrize(
    "accel, expected",
    [(2, 0.577), (3, 0.34), (4, 0.264), (8, 0.13)],  # FACTS.md: the released code measured
)
def test_code_equispaced_masks_over_sample(accel, expected):
    """Averaged over 60 draws (every offset several times): 0.5766 / 0.3385 / 0.2645 /
    0.1303 here; the paper's masks keep about 1/R."""
    for pe_axis in (0, 1):
        fractions = [
            _lines(m, pe_axis).mean() for m in _code_masks(accel, "equispaced", pe_axis, range(60))
        ]
        assert np.mean(fractions) == pytest.approx(expected, abs=0.01)
    paper = make_mask((N, N), acceleration=accel, mask="equispaced", pe_axis=0, rng=0)
    assert abs(_lines(paper, 0).mean() - 1 / accel) < 0.03


def test_code_equispaced_lines_have_an_integer_spacing():
    """The released spacing is rounded: 2 at R = 2 (fastMRI's is 2.47), 5 at R = 4."""
    for accel, spacing in [(2, 2), (3, 4), (4, 5), (8, 11)]:
        offsets = set()
        for drawn in _code_masks(accel, "equispaced", 0, range(40)):
            lines = _lines(drawn, 0)
            first, last = CODE_BAND[accel]
            outer = np.flatnonzero(lines[: first - 1])
            assert set(np.diff(outer)) == {spacing}
            offsets.add(int(outer[0]))
            assert not lines[N - 1]  # the released range stops below N - 1
        assert offsets == set(range(spacing))  # the offset is drawn in [0, spacing)


@pytest.mark.parametrize("accel, expected", [(2, 0.50), (3, 0.33), (4, 0.25), (8, 0.13)])
def test_code_random_mask_fraction(accel, expected):
    fractions = [_lines(m, 1).mean() for m in _code_masks(accel, "random", 1, range(200))]
    assert np.mean(fractions) == pytest.approx(expected, abs=0.01)


def test_code_exact_random_mask_keeps_the_code_band():
    for seed in range(5):
        drawn = make_mask(
            (N, N), acceleration=4, mask="random", pe_axis=0, rng=seed, exact=True, fidelity="code"
        )
        lines = _lines(drawn, 0)
        assert lines.sum() == N // 4
        assert lines[146:172].all()


def test_corrupt_uses_the_code_masks_and_replays(mr_slice):
    for seed in range(4):
        result = corrupt(
            mr_slice, "subsampling", seed, fidelity="code", mask="equispaced", acceleration=2
        )
        params = result.params
        assert params["fidelity"] == "code"
        expected = make_mask(
            (64, 64),
            acceleration=2,
            mask="equispaced",
            pe_axis=params["pe_axis"],
            rng=params["seed"],
            fidelity="code",
        )
        np.testing.assert_array_equal(result.mask, expected)
        # 64 lines, n = round(10.24) = 10: band round(26) to round(36), exclusive; spacing
        # round(2 * 54 / 44) = round(2.45) = 2.
        lines = _lines(result.mask, params["pe_axis"])
        assert lines[26:36].all()
        assert set(np.diff(np.flatnonzero(lines[:25]))) == {2}
        replay = corrupt(mr_slice, "subsampling", **json.loads(json.dumps(params)))
        assert replay.image.tobytes() == result.image.tobytes()
        assert replay.params == params
        paper = corrupt(mr_slice, "subsampling", seed, mask="equispaced", acceleration=2).params
        assert paper["fidelity"] == "paper" and paper["seed"] == params["seed"]


# --- Non-square images: the same battery as square ones -----------------------------------

NON_SQUARE = [(48, 40), (40, 48), (256, 232)]


@pytest.mark.parametrize("shape", NON_SQUARE)
@pytest.mark.parametrize("pe_axis", [0, 1])
@pytest.mark.parametrize("mask", ["random", "equispaced", "centred"])
def test_non_square_identity_seeds_shape_dtype(shape, pe_axis, mask):
    from conftest import phantom

    image = phantom(shape)
    pins = {"mask": mask, "pe_axis": pe_axis}
    same = corrupt(image, "subsampling", 0, zscore=False, acceleration=1, **pins)
    np.testing.assert_array_equal(same.image, image)
    assert same.mask.shape == shape and same.mask.all()
    a, b = (corrupt(image, "subsampling", 5, acceleration=4, **pins) for _ in range(2))
    assert a.image.tobytes() == b.image.tobytes()
    assert a.image.shape == shape and a.image.dtype == np.float64
    assert a.mask.shape == shape and a.mask.dtype == bool
    replay = corrupt(image, "subsampling", **json.loads(json.dumps(a.params)))
    assert replay.image.tobytes() == a.image.tobytes()
    if mask != "centred":  # a centred mask has no random part: every seed gives the same
        differs = [
            not np.array_equal(
                a.mask, corrupt(image, "subsampling", s, acceleration=4, **pins).mask
            )
            for s in range(6, 10)
        ]
        assert any(differs)
        assert _lines(a.mask, pe_axis).size == shape[pe_axis]


@pytest.mark.parametrize("shape", NON_SQUARE)
@pytest.mark.parametrize("pe_axis", [0, 1])
@pytest.mark.parametrize("accel", [2, 4, 8])
def test_non_square_sampled_fractions(shape, pe_axis, accel):
    n = shape[pe_axis]
    fraction = CENTRE_FRACTIONS[accel]
    draws = 200
    random = [
        _lines(make_mask(shape, acceleration=accel, mask="random", pe_axis=pe_axis, rng=s), pe_axis)
        for s in range(draws)
    ]
    for lines in random:
        assert lines.size == n and lines[_centre(n, fraction)].all()
    # Expected N/R lines; per line the draw has sd <= 0.5, so the mean is within 4 sd.
    assert np.mean(random) == pytest.approx(1 / accel, abs=4 * 0.5 / np.sqrt(draws * n))
    exact = make_mask(shape, acceleration=accel, mask="random", pe_axis=pe_axis, rng=1, exact=True)
    assert _lines(exact, pe_axis).sum() == round(n / accel)
    for seed in range(5):
        equi = make_mask(shape, acceleration=accel, mask="equispaced", pe_axis=pe_axis, rng=seed)
        lines = _lines(equi, pe_axis)
        assert lines[_centre(n, fraction)].all()
        assert abs(lines.sum() - n / accel) <= max(2, 0.03 * n)


@pytest.mark.parametrize("shape", NON_SQUARE + [(48, 32)])
@pytest.mark.parametrize("accel", [2, 3, 4])
def test_non_square_low_res_keeps_the_fraction_of_each_side(shape, accel):
    """`.low_res` of a centred mask on H x W: round(f H) x round(f W), the k-space crop."""
    from conftest import phantom

    image = phantom(shape)
    fraction = CENTRE_FRACTIONS[accel]
    side = (round(fraction * shape[0]), round(fraction * shape[1]))
    results = [
        corrupt(
            image, "subsampling", 0, zscore=False, mask="centred", acceleration=accel, pe_axis=p
        )
        for p in (0, 1)
    ]
    np.testing.assert_array_equal(results[0].mask, results[1].mask)  # pe_axis plays no part
    result = results[0]
    assert result.low_res.shape == side
    assert result.mask.sum() == side[0] * side[1]
    assert result.mask[_centre(shape[0], fraction), _centre(shape[1], fraction)].all()
    scale = np.sqrt(side[0] * side[1] / (shape[0] * shape[1]))
    expected = ifft2c(crop_or_pad_kspace(fft2c(image), side)).real * scale
    np.testing.assert_allclose(result.low_res, expected, atol=1e-12)
    assert result.low_res.mean() == pytest.approx(image.mean(), rel=1e-9)


def test_low_res_of_48_by_32_at_r4():
    """The example of the rule: round(0.08 * 48) = 4 rows, round(0.08 * 32) = 3 columns."""
    result = corrupt(np.ones((48, 32)), "subsampling", 0, mask="centred", acceleration=4)
    assert result.low_res.shape == (4, 3)
