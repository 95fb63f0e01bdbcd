"""Metrics: VIF equals sewar's vifp, SSIM's data range, normalisation, parallel scoring."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import phantom

from mtmri_lib import metrics
from mtmri_lib.artefacts import corrupt
from mtmri_lib.artefacts._base import znorm

sewar = pytest.importorskip("sewar.full_ref")


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b != 0 else abs(a)


@pytest.mark.parametrize("shape", [(16, 16), (32, 32), (41, 41), (64, 64), (64, 48), (97, 80)])
def test_vif_equals_sewar_on_random_images(shape):
    # Small sizes included: sewar's convolve2d swaps the operands where a scale's image is
    # smaller than its window, and the implementation reproduces that.
    rng = np.random.default_rng(sum(shape))
    reference = rng.normal(size=shape)
    for strength in (0.05, 0.5, 2.0):
        image = reference + strength * rng.normal(size=shape)
        expected = sewar.vifp(reference, image)
        assert _relative(metrics.vif(reference, image, normalise=False), expected) < 1e-10


@pytest.mark.parametrize("kind", ["bias", "subsampling", "motion", "noise"])
def test_vif_equals_sewar_on_structured_images(mr_slice, kind):
    # Real MR slice (flat background, edges) and each artefact; also contrast-changing and
    # flat images, which exercise every guard of the algorithm.
    corrupted = corrupt(mr_slice, kind, 11).image
    reference = znorm(mr_slice)
    expected = sewar.vifp(reference, znorm(corrupted))
    assert _relative(metrics.vif(mr_slice, corrupted), expected) < 1e-10


def test_vif_equals_sewar_with_flat_regions_and_contrast_changes():
    reference = phantom((48, 48))
    cases = [
        2.0 * reference,  # more contrast: VIF above 1
        reference[::-1],  # anticorrelated regions: negative gains
        np.where(reference > 0.5, 1.0, 0.0),  # piecewise flat
        np.full_like(reference, 0.3),  # a flat image: VIF 0
    ]
    for image in cases:
        expected = sewar.vifp(reference, image)
        assert _relative(metrics.vif(reference, image, normalise=False), expected) < 1e-10


def test_vif_stack_equals_single_calls():
    rng = np.random.default_rng(3)
    references = rng.normal(size=(5, 40, 40))
    images = references + rng.normal(size=(5, 40, 40))
    stacked = metrics.vif_stack(references, images)
    singles = [metrics.vif(r, i) for r, i in zip(references, images, strict=True)]
    np.testing.assert_allclose(stacked, singles, rtol=1e-13)


def test_identical_images_and_constant_reference():
    image = phantom((40, 40))
    assert metrics.vif(image, image) == pytest.approx(1.0, abs=1e-8)
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    assert metrics.mse(image, image) == 0.0
    flat = np.ones((40, 40))
    assert np.isnan(metrics.vif(flat, image))
    assert np.isnan(metrics.ssim(flat, image))


def test_ssim_data_range_paper_and_code(mr_slice):
    from skimage.metrics import structural_similarity

    corrupted = corrupt(mr_slice, "noise", 2, snr_db=5).image
    reference, image = znorm(mr_slice), znorm(corrupted)
    paper = structural_similarity(reference, image, data_range=reference.max() - reference.min())
    code = structural_similarity(reference, image, data_range=2.0)
    assert metrics.ssim(mr_slice, corrupted) == pytest.approx(paper, rel=1e-12)
    assert metrics.ssim(mr_slice, corrupted, fidelity="code") == pytest.approx(code, rel=1e-12)
    # A z-normalised brain slice spans more than 2: the ranges differ, and so do the values.
    assert reference.max() - reference.min() > 2
    assert metrics.ssim(mr_slice, corrupted, fidelity="code") != metrics.ssim(mr_slice, corrupted)


def test_mse_hand_computed():
    reference = np.array([[0.0, 1.0], [2.0, 3.0]])
    image = np.array([[0.0, 1.0], [2.0, 5.0]])
    assert metrics.mse(reference, image, normalise=False) == pytest.approx(1.0)
    expected = np.mean((znorm(reference) - znorm(image)) ** 2)
    assert metrics.mse(reference, image) == pytest.approx(expected)


@pytest.mark.parametrize("name", ["mse", "ssim", "vif"])
def test_minmax_before_znorm_changes_nothing(mr_slice, name):
    # The released code mapped each image to [0, 1] before z-normalising; z-normalisation
    # removes any positive affine map, so the metrics do not depend on the input's scale.
    corrupted = corrupt(mr_slice, "motion", 4).image
    function = metrics.METRICS[name]
    base = function(mr_slice, corrupted)
    scaled = function(7.0 * mr_slice - 3.0, 0.01 * corrupted + 100.0)
    assert scaled == pytest.approx(base, rel=1e-9, abs=1e-12)


def test_registry_and_directions():
    assert set(metrics.METRICS) == {"mse", "ssim", "vif"}
    assert metrics.HIGHER_IS_BETTER == {"mse": False, "ssim": True, "vif": True}


@pytest.mark.parametrize(
    "reference, image, error",
    [
        (np.zeros((8, 8)), np.zeros((8, 9)), ValueError),
        (np.zeros((8, 8)), np.full((8, 8), np.nan), ValueError),
        (np.zeros((8, 8)), np.zeros((8, 8), dtype=complex), TypeError),
        (np.zeros(8), np.zeros(8), ValueError),
    ],
)
def test_invalid_inputs_raise(reference, image, error):
    with pytest.raises(error):
        metrics.mse(reference, image)


def test_unknown_fidelity_raises():
    with pytest.raises(ValueError, match="fidelity"):
        metrics.vif(np.ones((20, 20)), np.ones((20, 20)), fidelity="other")


def test_score_pairs_serial_and_parallel_agree(monkeypatch):
    rng = np.random.default_rng(0)
    references = np.stack([phantom((32, 32)) for _ in range(6)])
    images = references + 0.1 * rng.normal(size=references.shape)
    serial = metrics.score_pairs(references, images, workers=1, progress=False)
    for i in range(6):
        assert serial.loc[i, "ssim"] == pytest.approx(metrics.ssim(references[i], images[i]))
        assert serial.loc[i, "vif"] == pytest.approx(metrics.vif(references[i], images[i]))
        assert serial.loc[i, "mse"] == pytest.approx(metrics.mse(references[i], images[i]))
    monkeypatch.setattr(metrics, "PARALLEL_MIN_PIXELS", 0)
    parallel = metrics.score_pairs(references, images, workers=2, chunk_size=2, progress=False)
    np.testing.assert_array_equal(parallel.to_numpy(), serial.to_numpy())
    assert list(serial.columns) == ["mse", "ssim", "vif"]


def test_core_imports_without_tensorflow_or_simpleitk():
    code = (
        "import sys, mtmri_lib.metrics, mtmri_lib.stats; "
        "bad = {'tensorflow', 'SimpleITK', 'keras'} & set(sys.modules); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
