"""`prepare_slice`: square, Fourier-resized, background at 0, scaled to [0, 1]."""

import numpy as np
import pytest

from mtmri_lib.data import demo_volumes, informative_slices, prepare_slice
from mtmri_lib.data.prepare import ROBUST_MAXIMUM_PERCENTILE, support_mask
from mtmri_lib.fourier import fourier_resize


def _ellipse(shape: tuple[int, int], value: float = 200.0) -> np.ndarray:
    rows, cols = np.indices(shape, dtype=np.float64)
    r, c = (rows - shape[0] / 2) / (0.35 * shape[0]), (cols - shape[1] / 2) / (0.3 * shape[1])
    inside = r**2 + c**2 <= 1
    image = np.where(inside, value * (1 + 0.3 * np.sin(rows / 7.0)), 0.0)
    image[inside & (r**2 + c**2 <= 0.2)] *= 0.4  # an inner structure: more edges that ring
    return image


@pytest.mark.parametrize("size", [32, 64, 96])
def test_the_template_background_stays_at_zero(size):
    template = demo_volumes("template")[0]
    informative = np.flatnonzero(informative_slices(template.data))
    for index in informative[:: max(1, len(informative) // 6)]:
        raw = template.data[index]
        prepared = prepare_slice(raw, size)
        outside = ~support_mask(raw, size)
        assert outside.mean() > 0.2  # there is a background to check
        assert np.all(prepared[outside] == 0)
        assert prepared.min() == 0 and prepared.max() == 1


def test_a_fastmri_like_slice_keeps_its_background_and_no_ringing_below_zero():
    # fastMRI brain reconstructions are 320 x 320 after the readout crop; the raw image with
    # its readout oversampling is 640 x 320: rectangular, with an empty background.
    raw = _ellipse((640, 320))
    ringing = fourier_resize(raw, 64)
    assert ringing.min() < -0.01 * raw.max()  # the plain Fourier resize does undershoot
    outside = ~support_mask(raw, 64)
    assert np.abs(ringing[outside]).max() > 1e-3  # ... and ripples into the background
    prepared = prepare_slice(raw, 64)
    assert prepared.min() == 0
    assert np.all(prepared[outside] == 0)
    assert outside.sum() > 0.3 * outside.size


def test_a_noisy_background_is_kept_not_masked():
    rng = np.random.default_rng(0)
    raw = _ellipse((128, 128)) + rng.rayleigh(5.0, (128, 128))  # every pixel above 0
    assert support_mask(raw, 64).all()
    prepared = prepare_slice(raw, 64)
    assert (prepared > 0).mean() > 0.95


def test_scaling_uses_a_robust_maximum():
    raw = _ellipse((128, 128))
    raw[60, 60] = raw[64, 50] = 1e6  # two hot pixels inside the object (0.05 % of it)
    prepared = prepare_slice(raw, 128)
    assert np.median(prepared[prepared > 0]) > 0.05  # not squashed by the hot pixels
    assert prepared.max() == 1
    inside = prepared[prepared > 0]
    assert np.mean(inside >= 1) <= 1 - ROBUST_MAXIMUM_PERCENTILE / 100 + 0.01


def test_a_slice_without_image_is_refused():
    with pytest.raises(ValueError, match="no image"):
        prepare_slice(np.zeros((8, 8)), 8)
    with pytest.raises(ValueError, match="no image"):
        prepare_slice(-np.ones((8, 8)), 8)
