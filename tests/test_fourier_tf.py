"""The TensorFlow FFT pair follows the numpy pair's convention exactly."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mtmri_lib.fourier import fft2c, fft2c_tf, ifft2c, ifft2c_tf

tf = pytest.importorskip("tensorflow")

SHAPES = [(8, 8), (7, 7), (6, 9), (3, 5, 4), (2, 3, 11, 10)]


def _complex(shape, seed=0, dtype=np.complex128):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def test_fourier_imports_without_tensorflow():
    code = "import sys, mtmri_lib.fourier; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pair", [(fft2c, fft2c_tf), (ifft2c, ifft2c_tf)], ids=["fft", "ifft"])
def test_equal_to_numpy_pair(shape, pair):
    numpy_fn, tf_fn = pair
    x = _complex(shape)
    out = tf_fn(tf.constant(x))
    assert out.dtype == tf.complex128
    np.testing.assert_allclose(out.numpy(), numpy_fn(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 16, 16), (4, 15, 13)])
def test_complex64_within_float32_precision(shape):
    x = _complex(shape, seed=1, dtype=np.complex64)
    out = fft2c_tf(x)
    assert out.dtype == tf.complex64
    np.testing.assert_allclose(out.numpy(), fft2c(x.astype(np.complex128)), atol=2e-5)


def test_real_input_is_cast():
    x = np.random.default_rng(2).standard_normal((2, 6, 5))
    assert fft2c_tf(x).dtype == tf.complex128
    assert fft2c_tf(x.astype(np.float32)).dtype == tf.complex64
    np.testing.assert_allclose(fft2c_tf(x).numpy(), fft2c(x), atol=1e-12)


@pytest.mark.parametrize("shape", [(9, 9), (10, 8)])
def test_round_trip_and_parseval(shape):
    x = _complex((3, *shape), seed=3)
    k = fft2c_tf(x)
    np.testing.assert_allclose(ifft2c_tf(k).numpy(), x, atol=1e-12)
    np.testing.assert_allclose(
        np.sum(np.abs(k.numpy()) ** 2, axis=(-2, -1)), np.sum(np.abs(x) ** 2, axis=(-2, -1))
    )


@pytest.mark.parametrize("n", [8, 9])
def test_zero_frequency_at_centre_index(n):
    # A constant image has all its energy at index n // 2 (value = sum / sqrt(N)).
    k = fft2c_tf(np.ones((n, n))).numpy()
    assert np.isclose(k[n // 2, n // 2], n)
    k[n // 2, n // 2] = 0
    assert np.abs(k).max() < 1e-12


def test_inside_xla_with_unknown_shape():
    spec = tf.TensorSpec(shape=(None, None, None), dtype=tf.complex64)
    forward = tf.function(fft2c_tf, input_signature=[spec], jit_compile=True)
    inverse = tf.function(ifft2c_tf, input_signature=[spec], jit_compile=True)
    for shape in [(2, 12, 12), (1, 7, 9)]:
        x = _complex(shape, seed=4, dtype=np.complex64)
        np.testing.assert_allclose(forward(x).numpy(), fft2c(x), atol=2e-5)
        np.testing.assert_allclose(inverse(x).numpy(), ifft2c(x), atol=2e-5)


def test_rejects_one_dimensional_input():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fft2c_tf(np.ones(4, dtype=np.complex64))


@pytest.mark.parametrize("shape", SHAPES)
def test_the_networks_keras_ops_pair_is_the_same_transform(shape):
    # mtmri_lib.layers' backend-agnostic pair (what the Fourier layers use) on TensorFlow.
    from mtmri_lib.layers import fft2c_ops, ifft2c_ops

    x = _complex(shape, seed=6)
    for ops_fn, tf_fn in ((fft2c_ops, fft2c_tf), (ifft2c_ops, ifft2c_tf)):
        real, imag = ops_fn(x.real, x.imag)
        assert real.dtype == tf.float64 and imag.dtype == tf.float64
        expected = tf_fn(tf.constant(x)).numpy()
        np.testing.assert_allclose(real.numpy() + 1j * imag.numpy(), expected, rtol=0, atol=1e-12)
