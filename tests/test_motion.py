"""Motion artefacts: the artefact battery, the segment layout, and the fast k-space method
checked against the straightforward reference (cubic-spline resampling per segment)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from mtmri_lib.artefacts import corrupt, motion
from mtmri_lib.fourier import fft2c, nufft2c


def _load_references():
    """``benchmarks/references.py``: the straightforward references live beside the
    benchmarks, not in the library."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "references.py"
    spec = importlib.util.spec_from_file_location("mtmri_benchmark_references", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCES = _load_references()

SHAPES = [(32, 32), (33, 33), (40, 27), (27, 40)]


@pytest.fixture(scope="module")
def slice64(mr_slice):
    """The real MR slice in double precision, so that a k-space round trip changes a clean
    line by ~1e-16 only (the demo slice is float32: ~1e-8)."""
    return mr_slice.astype(np.float64)


def smooth_phantom(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Gaussian blobs (sd 2-3 px) near the centre: smooth, and zero (below 1e-10 of the
    maximum) within 12 px of the border for the shapes used here.

    Smooth, so that interpolation models barely differ; the zero margin is wide enough that
    the poses of the agreement test move nothing out of the field of view.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    image = np.zeros(shape)
    for _ in range(10):
        centre = np.array(shape) / 2 + rng.uniform(-0.12, 0.12, 2) * np.array(shape)
        sd = rng.uniform(2.0, 3.0)
        r2 = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2
        image += rng.uniform(0.2, 1.0) * np.exp(-r2 / (2 * sd**2))
    return image


def changed_lines(image, result_image, pe_axis, tol=1e-9):
    """Which PE lines of the corrupted k-space differ from the clean one (beyond round-off).

    Measured through the inverse and forward FFT, so exact equality cannot be asked; the
    round trip changes a line by ~1e-16 of the k-space maximum, a corrupted line by far more.
    """
    clean, corrupted = fft2c(image), fft2c(result_image)
    scale = np.abs(clean).max()
    return (np.abs(corrupted - clean) > tol * scale).any(axis=1 - pe_axis)


def runs(mask):
    """[start, stop) of the runs of True in a boolean vector."""
    edges = np.diff(np.concatenate(([0], mask.astype(int), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def rigid(shape, pe_axis, segments, rotations, translations, clean_centre=0.0):
    n = shape[pe_axis]
    n_corrupt = sum(b - a for a, b in segments)
    return motion.Params(
        motion="rigid",
        pe_axis=pe_axis,
        corrupted_fraction=n_corrupt / n,
        n_segments=len(segments),
        clean_centre=clean_centre,
        segments=segments,
        rotations=rotations,
        translations=translations,
    )


# --- identity and the documented extremes ------------------------------------------------


@pytest.mark.parametrize("kind", ["rigid", "periodic", "mixed"])
def test_zero_fraction_is_identity(image, kind):
    for seed in range(3):
        result = corrupt(image, "motion", seed, zscore=False, motion=kind, corrupted_fraction=0)
        np.testing.assert_array_equal(result.image, image)
        assert result.params["corrupted_fraction"] == 0


@pytest.mark.parametrize("pinned", [{"delta": 0.0}, {"ky0": math.pi}])
def test_periodic_zero_strength_is_identity(image, pinned):
    result = corrupt(image, "motion", 1, zscore=False, motion="periodic", **pinned)
    np.testing.assert_array_equal(result.image, image)


@pytest.mark.parametrize("pe_axis", [0, 1])
def test_rigid_corrupts_30_to_80_percent_of_all_lines(slice64, pe_axis):
    n = slice64.shape[pe_axis]
    fractions = []
    for seed in range(12):
        result = corrupt(slice64, "motion", seed, output="complex", zscore=False, pe_axis=pe_axis)
        measured = changed_lines(slice64, result.image, pe_axis)
        assert measured.sum() == round(result.params["corrupted_fraction"] * n)
        # The measured lines are exactly the recorded segments.
        assert [list(r) for r in runs(measured)] == result.params["segments"]
        fractions.append(measured.mean())
    # round(f * N) lines with f in [0.3, 0.8]: within half a line of the range.
    assert 0.3 - 0.5 / n <= min(fractions) and max(fractions) <= 0.8 + 0.5 / n
    assert max(fractions) - min(fractions) > 0.1  # the fraction is drawn, not fixed


@pytest.mark.parametrize("clean_centre", [0.25, 0.125, 0.05])
@pytest.mark.parametrize("pe_axis", [0, 1])
def test_clean_centre_is_untouched_bit_for_bit(slice64, clean_centre, pe_axis):
    n = slice64.shape[pe_axis]
    band = motion.centre_band(n, clean_centre)
    assert band.stop - band.start == round(clean_centre * n) and band.start <= n // 2 < band.stop
    clean = fft2c(slice64)
    for seed in range(4):
        fixed = {"pe_axis": pe_axis, "clean_centre": clean_centre}
        params = motion.sample(
            slice64.shape, np.random.default_rng(seed), fidelity="paper", fixed=fixed
        )
        assert 0.3 <= params.corrupted_fraction <= min(0.8, 1 - clean_centre)
        kspace = motion.corrupted_kspace(slice64, params)
        centre = (band, slice(None)) if pe_axis == 0 else (slice(None), band)
        assert kspace[centre].tobytes() == clean[centre].tobytes()
        # And measured through corrupt(): no centre line changes beyond round-off.
        result = corrupt(slice64, "motion", seed, output="complex", zscore=False, **fixed)
        assert not changed_lines(slice64, result.image, pe_axis)[band].any()


def test_code_fidelity_defaults_clean_centre_and_segment_range(slice64):
    counts = []
    for seed in range(40):
        params = motion.sample((320, 320), np.random.default_rng(seed), fidelity="code", fixed={})
        assert params.clean_centre == 0.07
        counts.append(params.n_segments)
    assert 4 <= min(counts) and max(counts) <= 23
    result = corrupt(slice64, "motion", 0, fidelity="code", output="complex", zscore=False)
    band = motion.centre_band(64, 0.07)
    assert not changed_lines(slice64, result.image, result.params["pe_axis"])[band].any()


@pytest.mark.parametrize("pe_axis", [0, 1])
def test_periodic_leaves_centre_lines_untouched(slice64, pe_axis):
    n = slice64.shape[pe_axis]
    ky = 2 * np.pi * (np.arange(n) - n // 2) / n
    clean = fft2c(slice64)
    for seed in range(4):
        fixed = {"motion": "periodic", "pe_axis": pe_axis}
        params = motion.sample(
            slice64.shape, np.random.default_rng(seed), fidelity="paper", fixed=fixed
        )
        assert math.pi / 10 < params.ky0 <= math.pi / 8
        inner = np.abs(ky) <= params.ky0
        kspace = motion.corrupted_kspace(slice64, params)
        keep = (inner, slice(None)) if pe_axis == 0 else (slice(None), inner)
        assert kspace[keep].tobytes() == clean[keep].tobytes()
        result = corrupt(slice64, "motion", seed, output="complex", zscore=False, **fixed)
        changed = changed_lines(slice64, result.image, pe_axis)
        np.testing.assert_array_equal(changed[inner], False)
        assert changed[~inner].mean() > 0.9  # the outer lines do move


def test_periodic_phase_follows_the_formula():
    n = 16
    image = smooth_phantom((n, 12))
    params = motion.Params(
        motion="periodic", pe_axis=0, delta=3.0, frequency=2.0, phase=0.5, ky0=0.4
    )
    ratio = motion.corrupted_kspace(image, params) / fft2c(image)
    # ky in (-pi, pi]: the first line of an even N is +pi (the article's interval).
    ky = 2 * np.pi * (np.arange(n) - n // 2) / n
    ky[0] = np.pi
    phi = np.where(np.abs(ky) > 0.4, ky * 3.0 * np.sin(2.0 * ky + 0.5), 0.0)
    np.testing.assert_allclose(ratio, np.exp(-1j * phi)[:, None] * np.ones((1, 12)), atol=1e-9)


def test_mixed_draws_both_kinds_half_and_half():
    kinds = [
        motion.sample(
            (64, 64), np.random.default_rng(s), fidelity="paper", fixed={"motion": "mixed"}
        ).motion
        for s in range(400)
    ]
    # Binomial(400, 1/2): sd 10, so 200 +- 40 is four standard deviations.
    assert abs(kinds.count("rigid") - 200) <= 40 and set(kinds) == {"rigid", "periodic"}


def test_pixel_values_scale_with_image_size():
    rng = np.random.default_rng(0)
    shifts, deltas = [], []
    for _ in range(300):
        p = motion.sample((64, 160), rng, fidelity="paper", fixed={"pe_axis": 0})
        shifts += list(p.translations)
        q = motion.sample(
            (64, 160), rng, fidelity="paper", fixed={"pe_axis": 1, "motion": "periodic"}
        )
        deltas.append(q.delta)
    shifts = np.array(shifts)
    # sd 30 px at 320: 6 px along 64 rows, 15 px along 160 columns (within ~10 %).
    np.testing.assert_allclose(shifts.std(axis=0), [6.0, 15.0], rtol=0.1)
    np.testing.assert_allclose(shifts.mean(axis=0), [0.0, 0.0], atol=1.0)
    # Delta uniform in [20, 120] px at 320, scaled by the PE size 160.
    assert 10 <= min(deltas) and max(deltas) <= 60 and max(deltas) - min(deltas) > 40


# --- the segment layout -------------------------------------------------------------------


@pytest.mark.parametrize("clean_centre", [0.0, 0.25])
def test_segments_are_runs_alternating_with_clean_runs(clean_centre):
    n = 320
    band = motion.centre_band(n, clean_centre)
    starts = []
    for seed in range(60):
        fixed = {"pe_axis": 1, "clean_centre": clean_centre}
        p = motion.sample((64, n), np.random.default_rng(seed), fidelity="paper", fixed=fixed)
        assert 4 <= p.n_segments <= 24 and len(p.segments) == p.n_segments
        lines = np.zeros(n, bool)
        for start, stop in p.segments:
            assert 0 <= start < stop <= n
            lines[start:stop] = True
        assert not lines[band].any()  # never in (or across) the clean centre
        # Every segment is one maximal run: a clean line (or the centre) separates them.
        assert runs(lines) == [tuple(s) for s in p.segments]
        assert lines.sum() == round(p.corrupted_fraction * n)
        assert len(p.rotations) == len(p.translations) == p.n_segments
        starts.append(p.segments[0][0])
    assert len(set(starts)) > 10  # the layout is drawn, not a fixed pattern


def test_segment_count_is_reduced_when_lines_are_few():
    # 16 lines, 5 corrupted: at most 5 segments; drawn counts (4-24) are cut to fit.
    counts = set()
    for seed in range(30):
        fixed = {"pe_axis": 0, "corrupted_fraction": 5 / 16}
        p = motion.sample((16, 16), np.random.default_rng(seed), fidelity="paper", fixed=fixed)
        assert p.n_segments == len(p.segments) <= 5
        assert sum(b - a for a, b in p.segments) == 5
        counts.add(p.n_segments)
    assert 5 in counts
    with pytest.raises(ValueError, match="n_segments=6 cannot be laid out"):
        motion.sample(
            (16, 16), np.random.default_rng(0), fidelity="paper", fixed={**fixed, "n_segments": 6}
        )


def test_layouts_are_uniform_on_a_small_case():
    # 6 lines, 3 corrupted in 2 runs: C(2, 1) * C(4, 2) = 12 layouts, each equally likely.
    rng = np.random.default_rng(0)
    seen = {}
    for _ in range(2400):
        layout = tuple(motion._sample_runs(rng, 6, 3, 2))
        seen[layout] = seen.get(layout, 0) + 1
    assert len(seen) == 12
    # Each count ~ Binomial(2400, 1/12): mean 200, sd 13.5.
    assert all(abs(c - 200) < 60 for c in seen.values())


def test_everything_pinned_needs_no_draw(image):
    class NoDraws:
        def __getattr__(self, name):
            raise AssertionError(f"sample drew from rng ({name}) although every value was pinned")

    for kind in ("rigid", "periodic"):
        params = corrupt(image, "motion", 3, motion=kind).params
        fixed = {k: v for k, v in params.items() if k in motion.ACCEPTED}
        again = motion.sample(image.shape, NoDraws(), fidelity="paper", fixed=fixed)
        assert again == motion.sample(
            image.shape, np.random.default_rng(9), fidelity="paper", fixed=fixed
        )


# --- reproducibility ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rigid", "periodic", "mixed"])
def test_same_seed_same_bits_and_replay(image, kind):
    a = corrupt(image, "motion", 11, motion=kind, output="complex")
    b = corrupt(image, "motion", np.random.default_rng(11), motion=kind, output="complex")
    c = corrupt(image, "motion", 12, motion=kind, output="complex")
    assert a.image.tobytes() == b.image.tobytes()
    assert not np.array_equal(a.image, c.image)
    for params in (a.params, json.loads(json.dumps(a.params))):
        replay = corrupt(image, "motion", **params)
        assert replay.image.tobytes() == a.image.tobytes() and replay.params == a.params


def test_same_bits_in_another_process():
    code = (
        "import hashlib, sys; sys.path.insert(0, 'tests');"
        "from test_motion import smooth_phantom; from mtmri_lib.artefacts import corrupt;"
        "print(' '.join(hashlib.sha256(corrupt(smooth_phantom((40, 36)), 'motion', s,"
        " motion=m).image.tobytes()).hexdigest() for s in (1, 2) for m in ('rigid', 'periodic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = [
        hashlib.sha256(
            corrupt(smooth_phantom((40, 36)), "motion", s, motion=m).image.tobytes()
        ).hexdigest()
        for s in (1, 2)
        for m in ("rigid", "periodic")
    ]
    assert out.stdout.split() == here


@pytest.mark.parametrize("kind", ["rigid", "periodic", "mixed"])
def test_global_numpy_random_state_untouched(image, kind):
    np.random.seed(7)  # noqa: NPY002 (the legacy global state is what is checked)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    corrupt(image, "motion", 1, motion=kind)
    corrupt(image, "motion", motion=kind)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


# --- shapes and dtypes ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["rigid", "periodic"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_shape_and_dtype_preserved(shape, kind, dtype):
    image = smooth_phantom(shape).astype(dtype)
    for pe_axis in (0, 1):
        out = corrupt(image, "motion", 5, motion=kind, pe_axis=pe_axis, zscore=False, output="real")
        assert out.image.shape == shape and out.image.dtype == np.real(image).dtype
        full = corrupt(image, "motion", 5, motion=kind, pe_axis=pe_axis, output="complex").image
        assert full.dtype == np.result_type(dtype, np.complex64)
        assert np.all(np.isfinite(full))


# --- invalid input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixed, error, match",
    [
        ({"motion": "wobble"}, ValueError, "motion must be one of"),
        ({"motion": 3}, ValueError, "motion must be one of"),
        ({"pe_axis": 2}, ValueError, r"pe_axis must lie in \[0, 1\]; got 2"),
        ({"pe_axis": True}, TypeError, "pe_axis must be an integer"),
        (
            {"corrupted_fraction": 1.5},
            ValueError,
            r"corrupted_fraction must lie in \[0, 1\]; got 1.5",
        ),
        ({"corrupted_fraction": "half"}, TypeError, "corrupted_fraction must be a real number"),
        ({"n_segments": -1}, ValueError, "n_segments must be >= 0; got -1"),
        ({"n_segments": 2.5}, TypeError, "n_segments must be an integer"),
        ({"clean_centre": 1.0}, ValueError, r"clean_centre must lie in \[0, 1\); got 1"),
        ({"clean_centre": -0.1}, ValueError, "clean_centre must lie in"),
        ({"motion": "periodic", "delta": float("nan")}, ValueError, "delta must be finite"),
        ({"motion": "mixed", "delta": float("nan")}, ValueError, "delta must be finite"),
        ({"motion": "periodic", "delta": -1}, ValueError, r"delta must lie in \[0, inf\]"),
        ({"motion": "periodic", "ky0": 4.0}, ValueError, "ky0 must lie in"),
        ({"motion": "periodic", "phase": [1]}, TypeError, "phase must be a real number"),
        ({"motion": "rigid", "delta": 30}, ValueError, "delta applies to periodic motion only"),
        ({"motion": "periodic", "n_segments": 4}, ValueError, "n_segments applies to rigid"),
        ({"motion": "periodic", "corrupted_fraction": 0.5}, ValueError, "accepts only 0"),
        ({"corrupted_fraction": 0.9, "clean_centre": 0.25}, ValueError, "outside the clean centre"),
        (
            {"corrupted_fraction": 0.3, "n_segments": 0},
            ValueError,
            "n_segments=0 cannot be laid out",
        ),
        ({"segments": [[0, 4], [3, 8]]}, ValueError, "must not overlap"),
        ({"segments": [[4, 4]]}, ValueError, r"stop > start"),
        ({"segments": [[0, 60]]}, ValueError, "beyond the 48 phase-encoding lines"),
        ({"segments": [[20, 30]], "clean_centre": 0.25}, ValueError, "overlaps the clean centre"),
        ({"segments": "0-4"}, TypeError, "segments must be a sequence"),
        ({"segments": [[0, 4]], "n_segments": 2}, ValueError, "disagrees"),
        ({"segments": [[0, 4]], "corrupted_fraction": 0.5}, ValueError, "corrupted_fraction"),
        ({"segments": [[0, 4]], "rotations": [1.0, 2.0]}, ValueError, "rotations must have"),
        (
            {"segments": [[0, 4]], "rotations": [float("inf")]},
            ValueError,
            "rotations.0. must be finite",
        ),
        ({"segments": [[0, 4]], "translations": [[1, 2, 3]]}, ValueError, r"\[row, column\] pair"),
        ({"pe_axis": "rows"}, TypeError, r"pe_axis must be .* or 'random'; got 'rows'"),
        ({"pe_axis": "Random"}, TypeError, r"pe_axis must be .* or 'random'; got 'Random'"),
        ({"rotation_sd": -1}, ValueError, r"rotation_sd must lie in \[0, inf\]; got -1"),
        ({"rotation_sd": float("nan")}, ValueError, "rotation_sd must be finite"),
        ({"rotation_sd": "12"}, TypeError, "rotation_sd must be a real number"),
        ({"translation_sd": -0.5}, ValueError, r"translation_sd must lie in \[0, inf\]"),
        ({"translation_sd": float("inf")}, ValueError, "translation_sd must be finite"),
        ({"translation_sd": [1.0, -2.0]}, ValueError, r"translation_sd\[1\] must lie in"),
        ({"translation_sd": [1, 2, 3]}, ValueError, r"number or a \[row, column\] pair"),
        ({"motion": "periodic", "rotation_sd": 5}, ValueError, "rotation_sd applies to rigid"),
        ({"motion": "periodic", "translation_sd": 5}, ValueError, "translation_sd applies to"),
    ],
)
def test_bad_parameters_raise(image, fixed, error, match):
    with pytest.raises(error, match=match):
        corrupt(image, "motion", 0, pe_axis=fixed.pop("pe_axis", 0), **fixed)


def test_params_validate_directly():
    with pytest.raises(ValueError, match="rigid motion needs segments"):
        motion.Params(
            motion="rigid", pe_axis=0, corrupted_fraction=0.5, n_segments=1, clean_centre=0.0
        )
    with pytest.raises(ValueError, match="periodic motion needs delta"):
        motion.Params(motion="periodic", pe_axis=0, frequency=1.0, phase=0.0, ky0=0.3)
    with pytest.raises(ValueError, match="motion must be one of"):
        motion.Params(motion="mixed", pe_axis=0)


def test_physically_valid_values_outside_the_article_ranges_are_accepted(image):
    # 95 % of the lines leaves no room for the default clean centre (3 of 40 lines).
    out = corrupt(
        image,
        "motion",
        0,
        pe_axis=1,
        corrupted_fraction=0.95,
        n_segments=1,
        rotations=[90.0],
        clean_centre=0,
    )
    ((start, stop),) = out.params["segments"]
    assert stop - start == 38  # 95 % of 40 lines, one pose
    periodic = corrupt(image, "motion", 0, motion="periodic", delta=300.0, frequency=10.0, ky0=0.0)
    assert periodic.params["delta"] == 300.0


# --- the fast method: convention and agreement with the reference ----------------------------


@pytest.mark.parametrize("shape", [(7, 6), (6, 9), (5, 5)])
def test_nufft2c_is_fft2c_convention_off_the_grid(shape):
    """nufft2c against the direct DTFT sum with fft2c's origin N // 2 and 1/sqrt(HW)."""
    rng = np.random.default_rng(0)
    image = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    f_row, f_col = rng.uniform(-0.9, 0.9, (2, 40))
    r = np.arange(shape[0]) - shape[0] // 2
    c = np.arange(shape[1]) - shape[1] // 2
    phase = np.exp(-2j * np.pi * (f_row[:, None, None] * r[:, None] + f_col[:, None, None] * c))
    direct = (phase * image).sum(axis=(1, 2)) / np.sqrt(image.size)
    # eps 1e-12 is the NUFFT's requested accuracy; the sum itself is exact to ~1e-15.
    np.testing.assert_allclose(nufft2c(image, f_row, f_col, eps=1e-12), direct, atol=1e-10)
    grid = np.meshgrid(r / shape[0], c / shape[1], indexing="ij")
    np.testing.assert_allclose(nufft2c(image, *grid, eps=1e-12), fft2c(image), atol=1e-10)
    # Skipping finufft's sort (coherent=True) changes the speed, never the bits.
    fast = nufft2c(image, f_row, f_col, coherent=True)
    assert fast.tobytes() == nufft2c(image, f_row, f_col).tobytes()


@pytest.mark.parametrize("n", [33, 32])
def test_quarter_turn_and_integer_shift_are_exact(n):
    """Checks of the conventions that need no interpolation: a 90-degree turn about
    (n // 2, n // 2) is np.rot90 (odd n; even n: shifted by one pixel), and an integer
    translation is a circular shift (the periodic field of view). Tolerance: the NUFFT's
    accuracy (1e-6), relative to the k-space maximum."""
    image = smooth_phantom((n, n), seed=3) + 0.1 * np.random.default_rng(0).random((n, n))
    params = rigid((n, n), 0, ((0, n),), (90.0,), ((0.0, 0.0),))
    turned = np.rot90(image) if n % 2 else np.roll(np.rot90(image), 1, axis=0)
    kspace = motion.corrupted_kspace(image, params)
    np.testing.assert_allclose(kspace, fft2c(turned), atol=1e-6 * np.abs(kspace).max())
    params = rigid((n, n), 1, ((0, n),), (0.0,), ((3.0, -5.0),))
    kspace = motion.corrupted_kspace(image, params)
    shifted = np.roll(image, (3, -5), axis=(0, 1))
    np.testing.assert_allclose(kspace, fft2c(shifted), atol=1e-6 * np.abs(kspace).max())


@pytest.mark.parametrize("shape", [(96, 88), (91, 80)])
@pytest.mark.parametrize("pe_axis", [0, 1])
def test_fast_lines_equal_kspace_of_the_moved_image(shape, pe_axis):
    """The moved segment lines against `rigid_motion_reference` (cubic splines, per segment).

    The image is smooth (blobs of sd 2-3 px) with a zero margin wider than the poses move it,
    so zero boundary (splines) and periodic field of view (k-space method) see the same
    image. What is left is the interpolation model, cubic B-spline against band-limited
    (sinc): measured 1.1e-4 to 1.5e-4 relative l2 difference on the corrupted lines for these
    blobs (the NUFFT's own error is 1e-6). Tolerance 1e-3: an error of 1 degree in every
    angle gives 3e-2, a wrong angle sign or swapped translation axes about 1.
    """
    n = shape[pe_axis]
    segments = ((2, 12), (15, 30), (40, 40 + n // 3), (n - 12, n - 4))
    params = rigid(
        shape,
        pe_axis,
        segments,
        rotations=(-20.0, 7.5, 33.0, 14.0),
        translations=((3.5, -2.25), (0.0, 0.0), (-6.0, 4.75), (1.5, 5.0)),
    )
    image = smooth_phantom(shape, seed=1)
    inner = np.zeros(shape, bool)
    inner[12:-12, 12:-12] = True
    assert np.abs(image[~inner]).max() < 1e-10 * image.max()  # the zero margin
    fast = motion.corrupted_kspace(image, params)
    reference = fft2c(REFERENCES.rigid_motion_reference(image, params))
    lines = motion.corrupted_lines(params, n)
    take = (lambda k: k[lines]) if pe_axis == 0 else (lambda k: k[:, lines])
    difference = np.linalg.norm(take(fast) - take(reference)) / np.linalg.norm(take(reference))
    assert difference < 1e-3
    # Clean lines are the same in both, up to the reference's extra FFT round trip.
    np.testing.assert_allclose(
        (fast[~lines] if pe_axis == 0 else fast[:, ~lines]),
        (reference[~lines] if pe_axis == 0 else reference[:, ~lines]),
        atol=1e-12 * np.abs(fast).max(),
    )
    # And the whole corrupted image agrees.
    image_difference = motion.apply(image, params).image - REFERENCES.rigid_motion_reference(
        image, params
    )
    assert np.linalg.norm(image_difference) / np.linalg.norm(image) < 1e-3


def test_reference_rejects_periodic_params():
    params = motion.Params(
        motion="periodic", pe_axis=0, delta=3.0, frequency=1.0, phase=0.0, ky0=0.3
    )
    with pytest.raises(ValueError, match="needs motion='rigid'"):
        REFERENCES.rigid_motion_reference(np.ones((8, 8)), params)


@pytest.mark.parametrize("pe_axis", [1.0, np.float64(0.0), True])
def test_float_and_bool_pe_axis_are_refused(image, pe_axis):
    """1.0 was once taken as 1, while subsampling failed on it: one check for both now."""
    with pytest.raises(TypeError, match="pe_axis must be an integer"):
        corrupt(image, "motion", 0, pe_axis=pe_axis)
    with pytest.raises(TypeError, match="pe_axis must be an integer"):
        motion.Params(motion="periodic", pe_axis=pe_axis, corrupted_fraction=0.0)


@pytest.mark.parametrize(
    "fixed, name",
    [
        ({"motion": "periodic", "delta": 1e308}, "delta"),
        (
            {"segments": [[0, 4]], "rotations": [0.0], "translations": [[1e308, 0.0]]},
            "translations",
        ),
    ],
)
def test_overflowing_pinned_value_is_named(image, fixed, name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            ValueError, match=rf"kind='motion'.*pinned value is too extreme.*{name}="
        ):
            corrupt(image, "motion", 0, pe_axis=0, **fixed)


# --- defaults where the text is silent: the clean centre, the periodic PE axis ---------------


def params_of(result) -> motion.Params:
    """The `motion.Params` a result's ``.params`` record describes (for `corrupted_kspace`)."""
    names = {f.name for f in dataclasses.fields(motion.Params)}
    return motion.Params(**{k: v for k, v in result.params.items() if k in names})


@pytest.mark.parametrize("fidelity", ["paper", "code"])
def test_default_keeps_the_central_7_percent_clean(slice64, fidelity):
    """The released code's 7 % at both fidelities (the text is silent); 0 stays pinnable."""
    clean = fft2c(slice64)
    for seed in range(6):
        result = corrupt(slice64, "motion", seed, fidelity=fidelity, zscore=False)
        assert result.params["clean_centre"] == 0.07
        pe_axis = result.params["pe_axis"]
        band = motion.centre_band(64, 0.07)  # round(4.48) = 4 lines around index 32
        assert (band.start, band.stop) == (30, 34)
        kspace = motion.corrupted_kspace(slice64, params_of(result))
        centre = (band, slice(None)) if pe_axis == 0 else (slice(None), band)
        assert kspace[centre].tobytes() == clean[centre].tobytes()
    # Pinned to 0, segments may cover the centre, and over a few draws some do.
    covered = 0
    for seed in range(20):
        params = corrupt(slice64, "motion", seed, clean_centre=0).params
        assert params["clean_centre"] == 0.0
        covered += any(a < band.stop and band.start < b for a, b in params["segments"])
    assert covered > 0


@pytest.mark.parametrize("fidelity", ["paper", "code"])
def test_periodic_pe_axis_defaults_to_rows_rigid_stays_random(image, fidelity):
    def axes(**fixed):
        return [
            corrupt(image, "motion", s, fidelity=fidelity, **fixed).params["pe_axis"]
            for s in range(24)
        ]

    assert set(axes(motion="periodic")) == {0}
    # P(24 draws all alike) = 2 * 2**-24: "random" draws both axes.
    assert set(axes(motion="periodic", pe_axis="random")) == {0, 1}
    assert set(axes(motion="rigid")) == {0, 1}
    assert set(axes(motion="rigid", pe_axis="random")) == {0, 1}
    assert set(axes(motion="periodic", pe_axis=1)) == {1}
    by_kind = {"rigid": set(), "periodic": set()}
    for seed in range(60):
        params = corrupt(image, "motion", seed, fidelity=fidelity, motion="mixed").params
        by_kind[params["motion"]].add(params["pe_axis"])
    assert by_kind == {"rigid": {0, 1}, "periodic": {0}}


@pytest.mark.parametrize("kind", ["rigid", "periodic", "mixed"])
def test_random_pe_axis_records_the_integer_and_replays(image, kind):
    for seed in range(4):
        result = corrupt(image, "motion", seed, motion=kind, pe_axis="random", output="complex")
        axis = result.params["pe_axis"]
        assert type(axis) is int and axis in (0, 1)
        replay = corrupt(image, "motion", **json.loads(json.dumps(result.params)))
        assert replay.image.tobytes() == result.image.tobytes()
        assert replay.params == result.params


# --- what motion reports: the corrupted lines -------------------------------------------------


@pytest.mark.parametrize("pe_axis", [0, 1])
def test_lines_are_the_rigid_segments_and_what_changed(slice64, pe_axis):
    for seed in range(5):
        result = corrupt(slice64, "motion", seed, pe_axis=pe_axis, output="complex", zscore=False)
        lines = result.lines
        assert lines.dtype == bool and lines.shape == (64,)
        expected = np.zeros(64, bool)
        for start, stop in result.params["segments"]:
            expected[start:stop] = True
        np.testing.assert_array_equal(lines, expected)
        np.testing.assert_array_equal(changed_lines(slice64, result.image, pe_axis), lines)
        assert lines.sum() == round(result.params["corrupted_fraction"] * 64)


@pytest.mark.parametrize("pe_axis", [0, 1])
def test_lines_of_periodic_motion_are_beyond_ky0(slice64, pe_axis):
    ky = 2 * np.pi * (np.arange(64) - 32) / 64
    ky[0] = np.pi
    for seed in range(4):
        result = corrupt(
            slice64, "motion", seed, motion="periodic", pe_axis=pe_axis, output="complex"
        )
        np.testing.assert_array_equal(result.lines, np.abs(ky) > result.params["ky0"])
        # Rebuilt from .params, the phase error is non-zero exactly on those lines.
        ratio = motion.corrupted_kspace(slice64, params_of(result)) / fft2c(slice64)
        moved = np.abs(np.angle(ratio)).max(axis=1 - pe_axis) > 1e-12
        np.testing.assert_array_equal(moved, result.lines)


@pytest.mark.parametrize(
    "fixed",
    [
        {"motion": "rigid", "corrupted_fraction": 0},
        {"motion": "periodic", "corrupted_fraction": 0},
        {"motion": "mixed", "corrupted_fraction": 0},
        {"motion": "periodic", "delta": 0.0},
        {"motion": "periodic", "ky0": math.pi},
    ],
)
def test_lines_of_the_identity_are_all_false(image, fixed):
    for pe_axis in (0, 1):
        result = corrupt(image, "motion", 2, pe_axis=pe_axis, **fixed)
        assert result.lines.dtype == bool and result.lines.shape == (image.shape[pe_axis],)
        assert not result.lines.any()


def test_lines_belong_to_motion_only(image):
    assert motion.apply(image, params_of(corrupt(image, "motion", 0))).lines is not None
    for kind in ("bias", "subsampling", "noise"):
        assert corrupt(image, kind, 0).lines is None


# --- the spread of the poses --------------------------------------------------------------


def test_pose_spreads_are_recorded_with_their_defaults():
    rng = np.random.default_rng(0)
    p = motion.sample((64, 160), rng, fidelity="paper", fixed={})
    # 12 degrees; 30 px at 320, per axis: 6 px along 64 rows, 15 px along 160 columns.
    assert p.rotation_sd == 12.0 and p.translation_sd == (6.0, 15.0)
    assert motion.sample((320, 320), rng, fidelity="code", fixed={}).translation_sd == (30, 30)
    periodic = motion.sample((64, 64), rng, fidelity="paper", fixed={"motion": "periodic"})
    assert periodic.rotation_sd is None and periodic.translation_sd is None


def test_default_spreads_pinned_explicitly_give_the_same_bits(image):
    a = corrupt(image, "motion", 4, output="complex")
    b = corrupt(image, "motion", 4, output="complex", rotation_sd=12, translation_sd=[1.8, 1.5])
    assert a.params["translation_sd"] == [48 * 30 / 320, 40 * 30 / 320] == [4.5, 3.75]
    c = corrupt(image, "motion", 4, output="complex", rotation_sd=12, translation_sd=[4.5, 3.75])
    assert a.image.tobytes() == c.image.tobytes() and a.params == c.params
    assert not np.array_equal(a.image, b.image)  # the spread is used


def test_pinned_spreads_set_the_spread_of_the_drawn_poses():
    rng = np.random.default_rng(1)
    angles, shifts = [], []
    for _ in range(300):
        fixed = {"rotation_sd": 3.0, "translation_sd": 2.0, "pe_axis": 0}
        p = motion.sample((64, 160), rng, fidelity="paper", fixed=fixed)
        assert p.rotation_sd == 3.0 and p.translation_sd == (2.0, 2.0)
        angles += list(p.rotations)
        shifts += list(p.translations)
    # Thousands of draws: the sample sd is within a few % of the pinned one. A number is
    # pixels of this image on both axes (not scaled by the size, unlike the default).
    np.testing.assert_allclose(np.std(angles), 3.0, rtol=0.05)
    np.testing.assert_allclose(np.std(shifts, axis=0), [2.0, 2.0], rtol=0.05)
    p = motion.sample((64, 160), rng, fidelity="paper", fixed={"translation_sd": (0.0, 5.0)})
    assert all(r == 0.0 and c != 0.0 for r, c in p.translations)


def test_zero_spreads_mean_no_rotation_and_no_translation(slice64):
    no_turn = corrupt(slice64, "motion", 3, rotation_sd=0).params
    assert no_turn["rotations"] == [0.0] * no_turn["n_segments"]
    assert any(t != [0.0, 0.0] for t in no_turn["translations"])
    still = corrupt(slice64, "motion", 3, rotation_sd=0, translation_sd=0, output="complex")
    assert still.params["translations"] == [[0.0, 0.0]] * still.params["n_segments"]
    assert all(str(v) == "0.0" for t in still.params["translations"] for v in t)  # no -0.0
    # Poses that do not move: every line is the clean one (the segments stay reported).
    kspace = motion.corrupted_kspace(slice64, params_of(still))
    np.testing.assert_array_equal(kspace, fft2c(slice64))
    assert still.lines.any()


def test_integer_translation_without_rotation_is_exact():
    image = smooth_phantom((32, 30), seed=2)
    params = rigid((32, 30), 0, ((0, 32),), (0.0,), ((2.0, -3.0),))
    shifted = np.roll(image, (2, -3), axis=(0, 1))
    # On the grid, not through the NUFFT (accuracy 1e-6): float64 round-off only.
    np.testing.assert_allclose(
        motion.corrupted_kspace(image, params), fft2c(shifted), rtol=0, atol=1e-13
    )


def test_explicit_poses_win_over_the_spreads(image):
    base = corrupt(image, "motion", 6, output="complex")
    poses = {k: base.params[k] for k in ("segments", "rotations", "translations")}
    # Spreads that would give other poses: the explicit ones are used, and recorded as given.
    other = corrupt(image, "motion", 6, output="complex", rotation_sd=0, translation_sd=50, **poses)
    assert other.image.tobytes() == base.image.tobytes()
    assert other.params["rotations"] == base.params["rotations"]
    assert other.params["rotation_sd"] == 0.0 and other.params["translation_sd"] == [50.0, 50.0]
    # The record of either replays it, bit for bit.
    for result in (base, other):
        replay = corrupt(image, "motion", **json.loads(json.dumps(result.params)))
        assert replay.image.tobytes() == result.image.tobytes()
        assert replay.params == result.params


def test_spreads_are_ignored_when_mixed_draws_periodic(image):
    kinds = set()
    for seed in range(8):
        result = corrupt(image, "motion", seed, motion="mixed", rotation_sd=1, translation_sd=1)
        kinds.add(result.params["motion"])
        if result.params["motion"] == "periodic":
            assert result.params["rotation_sd"] is None
        else:
            assert result.params["rotation_sd"] == 1.0
    assert kinds == {"rigid", "periodic"}


# --- non-square images: the same battery ------------------------------------------------------

NON_SQUARE = [(48, 40), (40, 48), (256, 232)]


@pytest.mark.parametrize("shape", NON_SQUARE)
@pytest.mark.parametrize("kind", ["rigid", "periodic"])
@pytest.mark.parametrize("pe_axis", [0, 1])
def test_non_square_battery(shape, kind, pe_axis):
    image = smooth_phantom(shape, seed=4) + 0.05 * np.random.default_rng(4).random(shape)
    n = shape[pe_axis]
    fixed = {"motion": kind, "pe_axis": pe_axis}
    # Zero strength: the input, no line reported.
    identity = corrupt(image, "motion", 1, zscore=False, corrupted_fraction=0, **fixed)
    np.testing.assert_array_equal(identity.image, image)
    assert identity.lines.shape == (n,) and not identity.lines.any()
    # Same seed same bits, another seed other bits.
    a = corrupt(image, "motion", 8, output="complex", zscore=False, **fixed)
    b = corrupt(image, "motion", 8, output="complex", zscore=False, **fixed)
    c = corrupt(image, "motion", 9, output="complex", zscore=False, **fixed)
    assert a.image.tobytes() == b.image.tobytes() and not np.array_equal(a.image, c.image)
    assert corrupt(image, "motion", **a.params).image.tobytes() == a.image.tobytes()
    # Shape and dtype.
    for dtype in (np.float32, np.float64):
        out = corrupt(image.astype(dtype), "motion", 8, zscore=False, **fixed)
        assert out.image.shape == shape and out.image.dtype == dtype
    assert a.image.shape == shape and a.image.dtype == np.complex128
    # .lines spans the PE side and names exactly the lines that changed.
    assert a.lines.shape == (n,) and a.lines.any() and not a.lines.all()
    np.testing.assert_array_equal(changed_lines(image, a.image, pe_axis), a.lines)
    # Every other line, the clean centre among them, is the clean k-space's bit for bit.
    clean = fft2c(image)
    kspace = motion.corrupted_kspace(image, params_of(a))
    keep = (~a.lines, slice(None)) if pe_axis == 0 else (slice(None), ~a.lines)
    assert kspace[keep].tobytes() == clean[keep].tobytes()
    if kind == "rigid":
        band = motion.centre_band(n, a.params["clean_centre"])
        assert band.stop - band.start == round(0.07 * n) > 0 and not a.lines[band].any()
    else:
        ky = 2 * np.pi * (np.arange(n) - n // 2) / n
        assert not a.lines[np.abs(ky) <= a.params["ky0"]].any()
