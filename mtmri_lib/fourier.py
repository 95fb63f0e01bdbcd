"""The one Fourier convention of the project.

Every k-space in mtmri is *centred* (the zero frequency sits at index ``N // 2`` of each
axis) and *orthonormal* (Parseval holds: the energy of an image equals the energy of its
k-space). ``fft2c``/``ifft2c`` act over the last two axes and accept any leading axes.

Nothing else in the package calls an FFT library directly; the TensorFlow versions of the
same pair, `fft2c_tf`/`ifft2c_tf` (TensorFlow imported only when they are called), live
beside these and are tested equal to them. The network's Fourier layers use the same
convention on any Keras backend through `mtmri_lib.layers.fft2c_ops` (``keras.ops``; kept
there because this module imports no Keras), also tested equal to these. `nufft2c`
evaluates the same transform at arbitrary (off-grid) frequencies with a non-uniform FFT
(finufft); the motion simulator uses it to rotate k-space directly.

Fourier resizing (``fourier_resize``) is how the article brings 512x512 pelvic slices to
320x320: a non-square slice is first zero-padded to a square in image space, then the centre
of its k-space is cropped (smaller image) or the k-space is zero-padded (larger image).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = [
    "fft2c",
    "ifft2c",
    "filter2c",
    "filter_lines2c",
    "fft2c_tf",
    "ifft2c_tf",
    "nufft2c",
    "pad_to_square",
    "crop_or_pad_kspace",
    "fourier_resize",
]

_AXES = (-2, -1)


def _check_2d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (..., H, W); got shape {x.shape}")
    return x


def fft2c(image: np.ndarray) -> np.ndarray:
    """Centred, orthonormal 2-D FFT over the last two axes.

    Parameters
    ----------
    image : ndarray of shape (..., H, W)
        Real or complex image(s).

    Returns
    -------
    kspace : complex ndarray of shape (..., H, W)
        ``fftshift(fft2(ifftshift(image), norm="ortho"))``.
    """
    image = _check_2d(image, "image")
    shifted = scipy.fft.ifftshift(image, axes=_AXES)
    return scipy.fft.fftshift(scipy.fft.fft2(shifted, axes=_AXES, norm="ortho"), axes=_AXES)


def ifft2c(kspace: np.ndarray) -> np.ndarray:
    """Centred, orthonormal inverse 2-D FFT over the last two axes (inverse of `fft2c`).

    Parameters
    ----------
    kspace : ndarray of shape (..., H, W)

    Returns
    -------
    image : complex ndarray of shape (..., H, W)
    """
    kspace = _check_2d(kspace, "kspace")
    shifted = scipy.fft.ifftshift(kspace, axes=_AXES)
    return scipy.fft.fftshift(scipy.fft.ifft2(shifted, axes=_AXES, norm="ortho"), axes=_AXES)


def filter2c(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``ifft2c(fft2c(image) * weights)``, bit for bit, with half the shifts.

    The shifts are permutations, so the inner ``fftshift`` of the forward transform and the
    ``ifftshift`` of the inverse cancel once the weights are moved instead
    (``ifftshift(fftshift(F) * w) == F * ifftshift(w)``, exactly, for odd and even sizes):
    a k-space mask or phase error costs two FFTs and two shifts rather than four.

    Parameters
    ----------
    image : ndarray of shape (..., H, W)
    weights : ndarray broadcastable to (..., H, W)
        Centred-k-space weights (a mask, or a phase error ``exp(-i phi)``). A size-1 axis
        broadcasts along that axis (a weight per phase-encoding line).

    Returns
    -------
    image : complex ndarray of shape (..., H, W)
    """
    image = _check_2d(image, "image")
    weights = np.asarray(weights)
    if weights.ndim < 2:
        raise ValueError(f"weights must have at least 2 dimensions; got shape {weights.shape}")
    spectrum = scipy.fft.fft2(scipy.fft.ifftshift(image, axes=_AXES), axes=_AXES, norm="ortho")
    spectrum *= scipy.fft.ifftshift(weights, axes=_AXES)
    return scipy.fft.fftshift(scipy.fft.ifft2(spectrum, axes=_AXES, norm="ortho"), axes=_AXES)


def filter_lines2c(
    image: np.ndarray, lines: np.ndarray, factors: np.ndarray, axis: int
) -> np.ndarray:
    """``ifft2c`` of ``fft2c(image)`` with some lines multiplied by a factor, bit for bit.

    ``lines`` are centred indices along ``axis`` (0: rows, 1: columns of the last two axes)
    and ``factors`` their multipliers; the other lines are left as they are (not multiplied
    by 1, which could flip the sign of a zero). As `filter2c`, with two shifts saved: centred
    line ``i`` is line ``(i - N // 2) % N`` of the unshifted spectrum.
    """
    image = _check_2d(image, "image")
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (rows) or 1 (columns); got {axis!r}")
    n_lines = image.shape[-2 + axis]
    spectrum = scipy.fft.fft2(scipy.fft.ifftshift(image, axes=_AXES), axes=_AXES, norm="ortho")
    unshifted = (np.asarray(lines) - n_lines // 2) % n_lines
    factors = np.asarray(factors)
    if axis == 0:
        spectrum[..., unshifted, :] *= factors[:, None]
    else:
        spectrum[..., :, unshifted] *= factors[None, :]
    return scipy.fft.fftshift(scipy.fft.ifft2(spectrum, axes=_AXES, norm="ortho"), axes=_AXES)


def _centred_fft_tf(x, inverse: bool):
    # TensorFlow is imported here, not at module level: the core imports without it.
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    if not x.dtype.is_complex:
        x = tf.cast(x, tf.complex128 if x.dtype == tf.float64 else tf.complex64)
    if x.shape.rank is not None and x.shape.rank < 2:
        raise ValueError(f"tensor must have at least 2 dimensions (..., H, W); got {x.shape}")
    shape = tf.shape(x)
    n_pixels = tf.cast(shape[-2] * shape[-1], x.dtype.real_dtype)
    shifted = tf.signal.ifftshift(x, axes=(-2, -1))
    if inverse:
        # tf.signal.ifft2d divides by H*W; the orthonormal inverse divides by sqrt(H*W).
        out = tf.signal.ifft2d(shifted) * tf.cast(tf.sqrt(n_pixels), x.dtype)
    else:
        out = tf.signal.fft2d(shifted) * tf.cast(tf.math.rsqrt(n_pixels), x.dtype)
    return tf.signal.fftshift(out, axes=(-2, -1))


def fft2c_tf(image):
    """`fft2c` for TensorFlow tensors (usable inside a Keras graph and under XLA).

    The same convention as `fft2c`: ifftshift, FFT, fftshift, orthonormal, over the last
    two axes with any leading axes. TensorFlow is imported only when this is called.

    Parameters
    ----------
    image : tensor of shape (..., H, W)
        Complex (complex64 or complex128) or real; a real tensor is cast to complex64
        (complex128 for float64). In the model the layout is (B, H, W): channels are moved
        out of the last two axes before the transform.

    Returns
    -------
    kspace : complex tensor of shape (..., H, W)
    """
    return _centred_fft_tf(image, inverse=False)


def ifft2c_tf(kspace):
    """`ifft2c` for TensorFlow tensors: the inverse of `fft2c_tf` (see there for the layout).

    Parameters
    ----------
    kspace : tensor of shape (..., H, W), complex or real

    Returns
    -------
    image : complex tensor of shape (..., H, W)
    """
    return _centred_fft_tf(kspace, inverse=True)


def nufft2c(
    image: np.ndarray,
    freq_rows: np.ndarray,
    freq_cols: np.ndarray,
    *,
    eps: float = 1e-6,
    coherent: bool = False,
) -> np.ndarray:
    """`fft2c`'s transform of one image, evaluated at arbitrary (off-grid) frequencies.

    Evaluates the discrete-time Fourier transform with `fft2c`'s origin and scaling,

        K(f_r, f_c) = (H W)^(-1/2) sum_{r, c} image[r, c]
                      exp(-2 pi i (f_r (r - H // 2) + f_c (c - W // 2))),

    at the frequencies ``(freq_rows[j], freq_cols[j])``. At the grid frequencies
    ``f_r = (k - H // 2) / H``, ``f_c = (l - W // 2) / W`` it equals ``fft2c(image)[k, l]``;
    K is periodic with period 1 along each frequency axis. This is how a rotation acts on
    k-space directly: the k-space of the rotated image at ``f`` is K at the rotated ``f``.

    Computed with a type-2 non-uniform FFT (finufft), single-threaded so that the bits do
    not depend on the machine's core count.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        Real or complex.
    freq_rows, freq_cols : ndarray of float, same shape (any)
        Frequencies along the row and column axes, in cycles per pixel; any finite value
        (the transform is periodic, values are wrapped into [-0.5, 0.5)).
    eps : float
        Requested relative accuracy, in (0, 1); finufft's tolerance (relative l2 error of the
        result about ``eps``; 1e-6 costs about 13 ms for 80 000 frequencies on a 320 x 320
        image, single-threaded).
    coherent : bool
        The frequencies come in a spatially coherent order (for example point by point along
        lines), so finufft's sorting step is skipped (about 2 ms of 13 above). The values
        are the same bits either way; only the speed differs.

    Returns
    -------
    complex128 ndarray of the shape of ``freq_rows``
    """
    # finufft is imported here so that the rest of the convention works without it.
    import finufft

    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W); got shape {image.shape}")
    freq_rows = np.asarray(freq_rows, dtype=np.float64)
    freq_cols = np.asarray(freq_cols, dtype=np.float64)
    if freq_rows.shape != freq_cols.shape:
        raise ValueError(
            f"freq_rows and freq_cols must have the same shape; got {freq_rows.shape} "
            f"and {freq_cols.shape}"
        )
    if not (np.all(np.isfinite(freq_rows)) and np.all(np.isfinite(freq_cols))):
        raise ValueError("frequencies must be finite")
    if not (isinstance(eps, (int, float, np.floating)) and 0 < eps < 1):
        raise ValueError(f"eps must lie in (0, 1); got {eps!r}")
    if freq_rows.size == 0:
        return np.zeros(freq_rows.shape, dtype=np.complex128)
    x, y = 2 * np.pi * freq_rows.ravel(), 2 * np.pi * freq_cols.ravel()
    # finufft wants angles in [-3 pi, 3 pi); wrapping is exact because K is periodic (and
    # skipped when not needed: it costs as much as a tenth of the transform).
    if max(np.abs(x).max(), np.abs(y).max()) >= 2.5 * np.pi:
        x = 2 * np.pi * (np.remainder(freq_rows.ravel() + 0.5, 1.0) - 0.5)
        y = 2 * np.pi * (np.remainder(freq_cols.ravel() + 0.5, 1.0) - 0.5)
    # modeord=0: mode index j stands for frequency j - N // 2, which is pixel j's offset
    # from fft2c's origin N // 2 (even and odd N alike).
    values = finufft.nufft2d2(
        x,
        y,
        np.ascontiguousarray(image, dtype=np.complex128),
        eps=float(eps),
        isign=-1,
        modeord=0,
        nthreads=1,
        spread_sort=0 if coherent else 2,  # 2: finufft's own choice
    )
    return (values / np.sqrt(image.shape[0] * image.shape[1])).reshape(freq_rows.shape)


def pad_to_square(image: np.ndarray) -> np.ndarray:
    """Zero-pad the last two axes symmetrically to a square of side max(H, W).

    Where the difference is odd, the extra row or column goes after the image (the centre
    index ``N // 2`` convention of `fft2c`).
    """
    image = _check_2d(image, "image")
    h, w = image.shape[-2:]
    side = max(h, w)
    pad = [(0, 0)] * (image.ndim - 2)
    pad += [
        ((side - h) // 2, side - h - (side - h) // 2),
        ((side - w) // 2, side - w - (side - w) // 2),
    ]
    return np.pad(image, pad)


def crop_or_pad_kspace(kspace: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Centre-crop or zero-pad a centred k-space (last two axes) to ``shape``.

    The zero frequency stays at index ``N // 2`` of each axis, in the input and the output.
    """
    kspace = _check_2d(kspace, "kspace")
    out_h, out_w = (int(s) for s in shape)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"shape must be positive; got {shape}")
    out = np.zeros(kspace.shape[:-2] + (out_h, out_w), dtype=kspace.dtype)
    src, dst = [], []
    for n_in, n_out in zip(kspace.shape[-2:], (out_h, out_w), strict=True):
        n = min(n_in, n_out)
        # Align the centre indices n_in // 2 and n_out // 2.
        start_in = n_in // 2 - n // 2
        start_out = n_out // 2 - n // 2
        src.append(slice(start_in, start_in + n))
        dst.append(slice(start_out, start_out + n))
    out[(..., dst[0], dst[1])] = kspace[(..., src[0], src[1])]
    return out


def fourier_resize(image: np.ndarray, size: int, *, output: str = "real") -> np.ndarray:
    """Resize an image to ``size x size`` in k-space.

    The image (last two axes) is zero-padded to a square, transformed with `fft2c`, its
    k-space centre-cropped (``size`` smaller) or zero-padded (``size`` larger), and
    transformed back. Intensities are rescaled by ``size / side`` so that a constant image
    keeps its value (the orthonormal FFT would otherwise change it with the pixel count).

    Parameters
    ----------
    image : ndarray of shape (..., H, W)
    size : int
        Side of the output, in pixels (>= 1).
    output : {"real", "magnitude", "complex"}
        What to keep of the complex result.

    Returns
    -------
    resized : ndarray of shape (..., size, size)
    """
    image = _check_2d(image, "image")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive integer; got {size!r}")
    square = pad_to_square(image)
    side = square.shape[-1]
    if side == size:
        resized = square.astype(np.result_type(square.dtype, np.float32), copy=True)
        return _convert(resized, output)
    kspace = crop_or_pad_kspace(fft2c(square), (size, size))
    return _convert(ifft2c(kspace) * (size / side), output)


def _convert(x: np.ndarray, output: str) -> np.ndarray:
    if output == "real":
        return np.real(x).copy() if np.iscomplexobj(x) else x
    if output == "magnitude":
        return np.abs(x)
    if output == "complex":
        return x.astype(np.complex128) if not np.iscomplexobj(x) else x
    raise ValueError(f"output must be one of 'real', 'magnitude', 'complex'; got {output!r}")
