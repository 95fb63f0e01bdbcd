"""The model's custom Keras layers and the tensor z-normalisation.

Every layer here is registered as serialisable under the package name ``mtmri`` and carries
its settings in ``get_config``, so a saved ``.keras`` model loads back with
``safe_mode=True``: the model uses no ``Lambda`` layer and no pickled code.

Complex images inside the network are carried as two channels, (real, imaginary), of a
(B, H, W, 2) tensor; the Fourier layers use `mtmri_lib.fourier.fft2c_tf` and
`~mtmri_lib.fourier.ifft2c_tf`, the project's one centred, orthonormal convention.
"""

from __future__ import annotations

from . import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

import keras
from keras import ops

from .fourier import fft2c_tf, ifft2c_tf

__all__ = [
    "ZNORM_EPSILON",
    "znorm",
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


@keras.saving.register_keras_serializable(package="mtmri")
class CentredFFT2D(keras.layers.Layer):
    """Centred orthonormal 2-D FFT (or its inverse) of an image carried as channels.

    Input (B, H, W, 1) (a real image) or (B, H, W, 2) (real, imaginary); output
    (B, H, W, 2): the real and imaginary parts of ``fft2c`` (``inverse=False``) or
    ``ifft2c`` (``inverse=True``) of each image. No weights. The transform runs in float32
    (complex64) whatever the layer's compute dtype.
    """

    def __init__(self, inverse: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.inverse = bool(inverse)

    def call(self, inputs):
        import tensorflow as tf

        x = tf.cast(inputs, tf.float32)
        channels = x.shape[-1]
        if channels == 1:
            z = tf.complex(x[..., 0], tf.zeros_like(x[..., 0]))
        elif channels == 2:
            z = tf.complex(x[..., 0], x[..., 1])
        else:
            raise ValueError(f"CentredFFT2D needs 1 or 2 channels; got {channels}")
        k = ifft2c_tf(z) if self.inverse else fft2c_tf(z)
        out = tf.stack([tf.math.real(k), tf.math.imag(k)], axis=-1)
        return tf.cast(out, self.compute_dtype)

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
