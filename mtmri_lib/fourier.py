"""The one Fourier convention of the project.

Every k-space in mtmri is *centred* (the zero frequency sits at index ``N // 2`` of each
axis) and *orthonormal* (Parseval holds: the energy of an image equals the energy of its
k-space). ``fft2c``/``ifft2c`` act over the last two axes and accept any leading axes.

Nothing else in the package calls an FFT library directly; the Keras-graph versions of the
same pair live beside these (added with the model) and are tested equal to them.

Fourier resizing (``fourier_resize``) is how the article brings 512x512 pelvic slices to
320x320: a non-square slice is first zero-padded to a square in image space, then the centre
of its k-space is cropped (smaller image) or the k-space is zero-padded (larger image).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["fft2c", "ifft2c", "pad_to_square", "crop_or_pad_kspace", "fourier_resize"]

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


def pad_to_square(image: np.ndarray) -> np.ndarray:
    """Zero-pad the last two axes symmetrically to a square of side max(H, W).

    Where the difference is odd, the extra row or column goes after the image (the centre
    index ``N // 2`` convention of `fft2c`).
    """
    image = _check_2d(image, "image")
    h, w = image.shape[-2:]
    side = max(h, w)
    pad = [(0, 0)] * (image.ndim - 2)
    pad += [((side - h) // 2, side - h - (side - h) // 2), ((side - w) // 2, side - w - (side - w) // 2)]
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
    for n_in, n_out in zip(kspace.shape[-2:], (out_h, out_w)):
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
