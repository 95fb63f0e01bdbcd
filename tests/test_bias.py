"""Bias field: positive, smooth, spans its range, covariance of the Gaussian model."""

from __future__ import annotations

import numpy as np
import pytest

from mtmri_lib.artefacts import bias, corrupt

TABLE3 = [(0.95, 1.05), (0.9, 1.1), (0.8, 1.2)]


def _field(image, **kwargs):
    """The field actually applied: corrupted / clean where the image is non-zero."""
    result = corrupt(image, "bias", zscore=False, **kwargs)
    return result.image / image, result.params


@pytest.mark.parametrize("field_range", TABLE3)
def test_field_spans_range_exactly(field_range):
    params = bias.Params(field_range=field_range, length_scale=20.0, seed=4)
    field = bias.bias_field((50, 70), params)
    assert field.shape == (50, 70)
    assert field.min() == pytest.approx(field_range[0], abs=1e-12)
    assert field.max() == pytest.approx(field_range[1], abs=1e-12)


def test_applied_field_is_the_documented_one():
    image = np.full((40, 40), 0.5)
    field, params = _field(image, rng=3)
    expected = bias.bias_field((40, 40), bias.Params(**{k: params[k] for k in bias.ACCEPTED}))
    np.testing.assert_allclose(field, expected, rtol=1e-12)


def test_paper_ranges_are_positive_and_within_article_widths():
    image = np.ones((32, 32))
    for seed in range(40):
        field, params = _field(image, rng=seed)
        low, high = params["field_range"]
        assert 0.5 <= low <= 0.95 + 1e-12 and 1.05 - 1e-12 <= high <= 1.5
        assert high - low == pytest.approx(2 - low - low)  # symmetric about 1
        assert field.min() > 0


def test_code_fidelity_range():
    widths = [
        np.diff(corrupt(np.ones((32, 32)), "bias", s, fidelity="code").params["field_range"])[0]
        for s in range(60)
    ]
    assert 0.2 <= min(widths) and max(widths) <= 2.0
    assert max(widths) > 1.0  # the code's range goes beyond the paper's widest (width 1.0)


def test_field_is_smooth():
    """Neighbouring pixels differ little: at the shortest length scale of the article (10
    cells of 32), a 128-pixel field of width 1 changes by < 0.05 between neighbours and its
    discrete Laplacian stays < 0.02 (white noise of the same range would reach ~1 and ~4)."""
    for seed in range(10):
        params = bias.Params(field_range=(0.5, 1.5), length_scale=10.0, seed=seed)
        field = bias.bias_field((128, 128), params)
        step = max(np.abs(np.diff(field, axis=0)).max(), np.abs(np.diff(field, axis=1)).max())
        laplace = (
            field[2:, 1:-1]
            + field[:-2, 1:-1]
            + field[1:-1, 2:]
            + field[1:-1, :-2]
            - 4 * field[1:-1, 1:-1]
        )
        assert step < 0.05
        assert np.abs(laplace).max() < 0.02


def test_covariance_matches_gaussian_model():
    """Empirical correlation of the raw gstools field against the model's, over many seeds."""
    import gstools

    length_scale = 12.0
    fields = np.stack(
        [bias.random_field(length_scale, seed, bias.DEFAULT_MODES) for seed in range(300)]
    )
    fields = fields - fields.mean(axis=0)
    variance = np.mean(fields**2)
    assert variance == pytest.approx(bias.VARIANCE, rel=0.15)
    model = gstools.Gaussian(dim=2, var=bias.VARIANCE, len_scale=length_scale)
    for lag in [2, 5, 10, 15]:
        empirical = np.mean(fields[:, :, :-lag] * fields[:, :, lag:]) / variance
        assert empirical == pytest.approx(model.correlation(lag), abs=0.06), lag


def test_fast_summation_equals_gstools_and_zoom():
    """The separable sum and the zoom matrices reproduce gstools' field and ndimage's zoom."""
    import gstools
    import scipy.ndimage

    axis = np.arange(bias.GRID, dtype=float)
    for length_scale, seed in [(10.0, 0), (33.3, 12345)]:
        model = gstools.Gaussian(dim=2, var=bias.VARIANCE, len_scale=length_scale)
        expected = gstools.SRF(model, seed=seed, mode_no=bias.DEFAULT_MODES).structured(
            [axis, axis]
        )
        raw = bias.random_field(length_scale, seed)
        np.testing.assert_allclose(raw, expected, atol=1e-10)
        params = bias.Params(field_range=(0.0, 1.0), length_scale=length_scale, seed=seed)
        zoomed = scipy.ndimage.zoom(
            raw, (50 / 32, 70 / 32), order=3, mode="nearest", grid_mode=True
        )
        unit = (zoomed - zoomed.min()) / (zoomed.max() - zoomed.min())
        np.testing.assert_allclose(bias.bias_field((50, 70), params), unit, atol=1e-12)


def test_identity_and_constant_range():
    image = np.random.default_rng(0).uniform(size=(16, 16))
    out = corrupt(image, "bias", 0, zscore=False, field_range=(2, 2)).image
    np.testing.assert_allclose(out, 2 * image)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"field_range": (1.2, 0.8)}, "min <= max"),
        ({"field_range": (-0.1, 1.0)}, "below 0"),
        ({"field_range": (0.9,)}, "pair"),
        ({"field_range": 1.0}, "pair"),
        ({"field_range": (np.nan, 1.0)}, "finite"),
        ({"length_scale": 0}, "length_scale"),
        ({"length_scale": "long"}, "length_scale"),
        ({"seed": -1}, "seed"),
        ({"n_modes": 0}, "n_modes"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        corrupt(np.ones((16, 16)), "bias", 0, **kwargs)


def test_n_modes_has_an_upper_limit():
    """Memory grows with n_modes: a huge count is refused, not left to exhaust memory."""
    with pytest.raises(ValueError, match=r"n_modes must lie in \[1, 100000\]; got 100001"):
        corrupt(np.ones((16, 16)), "bias", 0, n_modes=bias.MAX_MODES + 1)
    assert corrupt(np.ones((16, 16)), "bias", 0, n_modes=bias.MAX_MODES).params["n_modes"] == (
        bias.MAX_MODES
    )


@pytest.mark.parametrize(
    "field_range, error, match",
    [
        ([0.9, 1.1], None, None),
        (np.array([0.9, 1.1]), None, None),
        ((0.9, float("inf")), ValueError, r"field_range\[1\] must be finite"),
        ((True, 1.1), TypeError, r"field_range\[0\] must be a real number"),
        ("0.9,1.1", TypeError, "field_range must be a .min, max. pair"),
    ],
)
def test_field_range_forms(field_range, error, match):
    image = np.random.default_rng(0).uniform(size=(16, 16))
    if error is None:
        result = corrupt(image, "bias", 0, field_range=field_range)
        assert result.params["field_range"] == [0.9, 1.1]
    else:
        with pytest.raises(error, match=match):
            corrupt(image, "bias", 0, field_range=field_range)


# --- Non-square images: the same battery as square ones -----------------------------------

NON_SQUARE = [(48, 40), (40, 48), (256, 232)]


@pytest.mark.parametrize("shape", NON_SQUARE)
def test_non_square_identity_seeds_shape_dtype(shape):
    import json

    from conftest import phantom

    image = phantom(shape)
    same = corrupt(image, "bias", 0, zscore=False, field_range=(1, 1))
    np.testing.assert_array_equal(same.image, image)
    a, b, c = (corrupt(image, "bias", s).image for s in (11, 11, 12))
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)
    assert a.shape == shape and a.dtype == np.float64
    complex_out = corrupt(image, "bias", 11, output="complex").image
    assert complex_out.shape == shape and complex_out.dtype == np.complex128
    result = corrupt(image, "bias", 11)
    replay = corrupt(image, "bias", **json.loads(json.dumps(result.params)))
    assert replay.image.tobytes() == result.image.tobytes()


@pytest.mark.parametrize("shape", NON_SQUARE)
@pytest.mark.parametrize("field_range", TABLE3 + [(0.5, 1.5)])
def test_non_square_field_spans_its_range(shape, field_range):
    """The applied field (corrupted / clean on a constant image) spans the pinned range."""
    for seed in range(3):
        field, params = _field(np.full(shape, 0.5), rng=seed, field_range=field_range)
        assert field.shape == shape
        assert field.min() == pytest.approx(field_range[0], abs=1e-12)
        assert field.max() == pytest.approx(field_range[1], abs=1e-12)
        expected = bias.bias_field(shape, bias.Params(**{k: params[k] for k in bias.ACCEPTED}))
        np.testing.assert_allclose(field, expected, rtol=1e-12)


@pytest.mark.parametrize("shape", NON_SQUARE)
def test_non_square_sampled_ranges_and_smoothness(shape):
    """Drawn (paper) ranges stay positive and within the article's widths; the field is as
    smooth along both axes (its 32 x 32 grid is stretched by H / 32 and W / 32)."""
    image = np.ones(shape)
    for seed in range(10):
        field, params = _field(image, rng=seed)
        low, high = params["field_range"]
        assert 0.5 <= low <= 0.95 + 1e-12 and 1.05 - 1e-12 <= high <= 1.5
        assert field.min() == pytest.approx(low, abs=1e-12)
        assert field.max() == pytest.approx(high, abs=1e-12)
        width = high - low
        # A length scale of >= 10 cells over >= 40 / 32 pixels a cell: neighbouring pixels
        # differ by well under a tenth of the field's width (white noise: about the width).
        for axis in (0, 1):
            assert np.abs(np.diff(field, axis=axis)).max() < 0.1 * width


def test_a_seed_gives_the_same_field_whatever_the_blas_thread_count():
    """OpenBLAS sums the field's larger product in another order with more threads; the
    field is computed on one, so worker processes and other machines get the same bits."""
    import hashlib
    import os
    import subprocess
    import sys

    script = (
        "import hashlib, numpy as np\n"
        "from mtmri_lib.artefacts import corrupt\n"
        "image = np.random.default_rng(0).random((320, 320))\n"
        "digest = hashlib.sha256()\n"
        "for seed in range(4):\n"
        "    digest.update(corrupt(image, 'bias', seed, zscore=False).image.tobytes())\n"
        "print(digest.hexdigest())\n"
    )
    digests = set()
    for threads in ("1", "2"):
        environment = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
        done = subprocess.run(
            [sys.executable, "-c", script], env=environment, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1
    assert hashlib.sha256().hexdigest() not in digests
