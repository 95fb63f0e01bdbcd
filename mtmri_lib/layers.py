"""The model's custom Keras layers and the tensor z-normalisation.

Every layer here is registered as serialisable under the package name ``mtmri`` and carries
its settings in ``get_config``, so a saved ``.keras`` model loads back with
``safe_mode=True``: the model uses no ``Lambda`` layer and no pickled code.

Complex images inside the network are carried as two channels, (real, imaginary), of a
(B, H, W, 2) tensor; the Fourier layers use `fft2c_ops` and `ifft2c_ops`, the project's
one centred, orthonormal convention (`mtmri_lib.fourier`) written with ``keras.ops``. Every
layer is written with ``keras.ops`` only, so the network runs on any Keras 3 backend
(TensorFlow, JAX, PyTorch).
"""

from __future__ import annotations

from . import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

import keras
from keras import ops

__all__ = [
    "ZNORM_EPSILON",
    "znorm",
    "fft2c_ops",
    "ifft2c_ops",
    "CentredFFT2D",
    "RealToComplexChannels",
    "ChannelSlice",
    "ZNormalize",
]

#: Added to the variance before the square root, so a constant image gives zeros (as the
#: numpy `znorm` of the artefacts module does) instead of a division by zero. At the unit
#: variance of z-normalised images it is far below float32 resolution.
ZNORM_EPSILON = 1e-8


def znorm(x, epsilon: float = ZNORM_EPSILON):
    """Per-image z-normalisation of a tensor (B, H, W[, C]): every axis but the first.

    ``(x - mean) / sqrt(var + epsilon)`` with the population variance (ddof 0), the
    same statistics as the numpy ``znorm`` the data pipeline applies.
    """
    axes = tuple(range(1, len(x.shape)))
    centred = x - ops.mean(x, axis=axes, keepdims=True)
    variance = ops.mean(ops.square(centred), axis=axes, keepdims=True)
    return centred / ops.sqrt(variance + epsilon)


def _centred_fft_ops(real, imag, inverse: bool):
    real = ops.convert_to_tensor(real)
    imag = ops.convert_to_tensor(imag)
    if len(real.shape) < 2 or tuple(real.shape) != tuple(imag.shape):
        raise ValueError(
            "real and imag must have the same shape, with at least 2 dimensions (..., H, W); "
            f"got {tuple(real.shape)} and {tuple(imag.shape)}"
        )
    if inverse:
        # The orthonormal inverse is the conjugate of the forward transform of the
        # conjugate: one FFT routine, one scaling, on every backend.
        imag = -imag
    shape = ops.shape(real)
    rows, cols = shape[-2], shape[-1]
    # ifftshift before the transform, fftshift after it (rolls are exact permutations).
    real = ops.roll(ops.roll(real, -(rows // 2), axis=-2), -(cols // 2), axis=-1)
    imag = ops.roll(ops.roll(imag, -(rows // 2), axis=-2), -(cols // 2), axis=-1)
    real, imag = ops.fft2((real, imag))
    scale = ops.rsqrt(ops.cast(rows * cols, real.dtype))
    real, imag = real * scale, imag * scale
    if inverse:
        imag = -imag
    real = ops.roll(ops.roll(real, rows // 2, axis=-2), cols // 2, axis=-1)
    imag = ops.roll(ops.roll(imag, rows // 2, axis=-2), cols // 2, axis=-1)
    return real, imag


def fft2c_ops(real, imag):
    """`mtmri_lib.fourier.fft2c` on a complex image carried as a (real, imaginary) pair of
    Keras tensors.

    Backend-agnostic (``keras.ops``: ``roll`` for the centring shifts, ``fft2``), so it runs
    inside a Keras graph on TensorFlow (also under XLA), JAX and PyTorch alike; the
    convention of `mtmri_lib.fourier.fft2c`: ifftshift, FFT, fftshift, orthonormal, over
    the last two axes with any leading axes.

    Parameters
    ----------
    real, imag : float tensors of shape (..., H, W)
        Real and imaginary parts (float32 or float64; the result has their dtype).

    Returns
    -------
    (real, imag) : the two parts of the centred k-space, each (..., H, W)
    """
    return _centred_fft_ops(real, imag, inverse=False)


def ifft2c_ops(real, imag):
    """`mtmri_lib.fourier.ifft2c` on a (real, imaginary) pair of Keras tensors: the inverse
    of `fft2c_ops`.

    Parameters
    ----------
    real, imag : float tensors of shape (..., H, W)

    Returns
    -------
    (real, imag) : the two parts of the image, each (..., H, W)
    """
    return _centred_fft_ops(real, imag, inverse=True)


@keras.saving.register_keras_serializable(package="mtmri")
class CentredFFT2D(keras.layers.Layer):
    """Centred orthonormal 2-D FFT (or its inverse) of an image carried as channels.

    Input (B, H, W, 1) (a real image) or (B, H, W, 2) (real, imaginary); output
    (B, H, W, 2): the real and imaginary parts of ``fft2c`` (``inverse=False``) or
    ``ifft2c`` (``inverse=True``) of each image. No weights. The transform runs in float32
    (complex64) whatever the layer's compute dtype: the input is not cast to a
    mixed-precision compute dtype first (``autocast=False``), only the output is.
    """

    def __init__(self, inverse: bool = False, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.inverse = bool(inverse)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        channels = x.shape[-1]
        if channels not in (1, 2):
            raise ValueError(f"CentredFFT2D needs 1 or 2 channels; got {channels}")
        real = x[..., 0]
        imag = x[..., 1] if channels == 2 else ops.zeros_like(real)
        transform = ifft2c_ops if self.inverse else fft2c_ops
        real, imag = transform(real, imag)
        return ops.cast(ops.stack([real, imag], axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2,)

    def get_config(self):
        return {**super().get_config(), "inverse": self.inverse}


@keras.saving.register_keras_serializable(package="mtmri")
class RealToComplexChannels(keras.layers.Layer):
    """A real image (B, H, W, 1) as a complex one carried as channels: (real, 0)."""

    def call(self, inputs):
        return ops.concatenate([inputs, ops.zeros_like(inputs)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2 * input_shape[-1],)


@keras.saving.register_keras_serializable(package="mtmri")
class ChannelSlice(keras.layers.Layer):
    """Channels ``start:stop`` of a (B, H, W, C) tensor (for example the real part, 0:1)."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= int(start) < int(stop):
            raise ValueError(f"need 0 <= start < stop; got start={start}, stop={stop}")
        self.start = int(start)
        self.stop = int(stop)

    def call(self, inputs):
        return inputs[..., self.start : self.stop]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.stop - self.start,)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="mtmri")
class ZNormalize(keras.layers.Layer):
    """Per-image z-normalisation (see `znorm`), the article's last layer. No weights."""

    def __init__(self, epsilon: float = ZNORM_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        return znorm(inputs, self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
