"""The one centred, orthonormal FFT convention, checked against plain numpy expressions."""

from __future__ import annotations

import numpy as np
import pytest

from mtmri_lib import fourier

SHAPES = [(8, 8), (9, 9), (8, 11), (15, 6), (3, 16, 10)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fft2c_equals_numpy_expression(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    expected = np.fft.fftshift(
        np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )
    np.testing.assert_allclose(fourier.fft2c(x), expected, atol=1e-12)
    expected_inv = np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )
    np.testing.assert_allclose(fourier.ifft2c(x), expected_inv, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_and_energy(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    k = fourier.fft2c(x)
    np.testing.assert_allclose(fourier.ifft2c(k), x, atol=1e-12)
    np.testing.assert_allclose(np.sum(np.abs(k) ** 2), np.sum(x**2), rtol=1e-12)


def test_dc_at_centre_index():
    x = np.ones((6, 7))
    k = fourier.fft2c(x)
    assert np.argmax(np.abs(k)) == np.ravel_multi_index((3, 3), k.shape)
    assert k[3, 3] == pytest.approx(np.sqrt(42))


def test_fft2c_rejects_1d():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fourier.fft2c(np.ones(5))


def test_pad_to_square():
    x = np.ones((4, 7))
    sq = fourier.pad_to_square(x)
    assert sq.shape == (7, 7)
    assert sq.sum() == 28
    assert sq[:1].sum() == 0 and sq[1:5].sum() == 28


@pytest.mark.parametrize("size", [16, 20, 33, 64])
def test_fourier_resize_keeps_constant_and_shape(size):
    x = np.full((32, 24), 3.0)
    out = fourier.fourier_resize(x, size)
    assert out.shape == (size, size)
    # The padded square has mean 3 * 24 / 32; the k-space DC term keeps that mean.
    assert out.mean() == pytest.approx(3.0 * 24 / 32, rel=1e-9)


def test_fourier_resize_down_then_up_is_band_limited_identity():
    rng = np.random.default_rng(2)
    k = np.zeros((32, 32), complex)
    k[12:20, 12:20] = rng.standard_normal((8, 8))
    low_pass = fourier.ifft2c(k).real
    small = fourier.fourier_resize(low_pass, 16, output="complex")
    back = fourier.fourier_resize(small, 32, output="complex")
    # Down then up again loses nothing of a band-limited image (up to the Hermitian partner
    # of the band edge, which the low-pass image does not have): compare k-spaces.
    np.testing.assert_allclose(back.real, low_pass, atol=1e-10)


def test_crop_or_pad_kspace_centre_alignment():
    k = np.zeros((9, 10))
    k[4, 5] = 1.0
    for shape in [(5, 6), (4, 4), (12, 13)]:
        out = fourier.crop_or_pad_kspace(k, shape)
        assert out[shape[0] // 2, shape[1] // 2] == 1.0


def test_fourier_resize_bad_size():
    with pytest.raises(ValueError, match="size"):
        fourier.fourier_resize(np.ones((4, 4)), 0)


@pytest.mark.parametrize("shape", [(8, 8), (7, 9), (6, 5)])
def test_the_filters_equal_the_four_shift_round_trip_bit_for_bit(shape):
    from mtmri_lib.fourier import filter2c, filter_lines2c

    rng = np.random.default_rng(5)
    image = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    weights = rng.random(shape) > 0.4
    expected = fourier.ifft2c(fourier.fft2c(image) * weights)
    assert filter2c(image, weights).tobytes() == expected.tobytes()
    for axis in (0, 1):
        lines = np.array([0, 2, shape[axis] - 1])
        factors = np.exp(-1j * rng.random(3))
        kspace = fourier.fft2c(image)
        if axis == 0:
            kspace[lines, :] *= factors[:, None]
        else:
            kspace[:, lines] *= factors[None, :]
        got = filter_lines2c(image, lines, factors, axis)
        assert got.tobytes() == fourier.ifft2c(kspace).tobytes()
