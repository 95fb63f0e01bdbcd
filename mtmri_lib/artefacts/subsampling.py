"""k-space subsampling: Cartesian masks that keep some phase-encoding lines, or the centre.

Three mask types (the article's fastMRI masks and its own centred masks):

``"random"``
    a fully sampled centre band of ``round(centre_fraction * N)`` lines, each other line kept
    with probability ``(N/R - n_centre) / (N - n_centre)`` so that the expected total is N/R
    lines (as fastMRI); ``exact=True`` keeps exactly ``round(N/R)`` lines.
``"equispaced"``
    the centre band plus lines at a constant spacing from a random offset, the spacing chosen
    so that the total sampled fraction, centre included, is about 1/R (fastMRI's
    fraction-based equispaced mask; the article's acceleration is the total one).
``"centred"``
    only the centre of k-space: ``round(centre_fraction * H)`` rows by
    ``round(centre_fraction * W)`` columns (a square on a square image; on an H x W image
    each side keeps the same fraction, so the low-resolution image keeps the field of view
    and the aspect ratio, and loses resolution alike along both axes; ``pe_axis`` plays no
    part). The article and the released code take the same fractions (16/12/8/4 %), so "x2"
    keeps only 2.6 % of k-space; the corruption then also carries ``low_res``, the image of
    the cropped k-space, of shape ``(round(centre_fraction * H), round(centre_fraction * W))``
    (what Table 4's bicubic baseline upsamples).

The acceleration R is drawn from {2, 3, 4, 8} with centre fractions 0.16, 0.12, 0.08, 0.04;
another R needs ``centre_fraction``. ``pe_axis`` is the array axis along which the
phase-encoding index runs (each acquired line is constant along the other axis); it is drawn
from {0, 1} unless pinned, and a pinned value must be the int 0 or 1 (numpy integers too;
bools and floats are refused). Identity: ``acceleration=1``. Rounding is Python's
``round`` (half to even) throughout.

Fidelity
--------
``"paper"`` (the default) follows the article: a centre band of exactly
``round(centre_fraction * N)`` lines around the zero frequency (index ``N // 2``, as
`fft2c`), and for ``"equispaced"`` a total sampled fraction of about 1/R.

``"code"`` reproduces the released code's random and equispaced masks, which differ in two
ways (measured at N = 320; FACTS.md):

* its centre band runs from ``round((N - n - 2) / 2)`` to ``round((N + n - 2) / 2)``
  (exclusive), with ``n = round(centre_fraction * N)``: the ``- 2`` moves it one line
  towards negative frequencies, and where ``N - n`` is odd both bounds fall on halves and
  round to even, which changes its width by one line. At N = 320 the band holds 50 / 38 /
  26 / 14 lines at R = 2 / 3 / 4 / 8 (not 51 / 38 / 26 / 13), centred on index 158.5 instead
  of 160;
* its equispaced spacing is fastMRI's adjusted acceleration ``R (N - n) / (N - R n)``
  rounded to an integer (2 at R = 2, where fastMRI keeps 2.47), from an offset drawn in
  [0, spacing), over the indices below ``N - 1``; so its masks over-sample: about 0.58 /
  0.34 / 0.26 / 0.13 of the lines at R = 2 / 3 / 4 / 8 instead of 1/R.

Its random mask keeps each of the N lines with fastMRI's probability
``(N/R - n) / (N - n)``, then adds the band (so the expected fraction stays close to 1/R).
``exact=True`` with ``"code"`` keeps exactly ``round(N / R)`` lines, the code's band among
them. Centred masks are the same under both fidelities (the released test-set helpers were
never published).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_axis, check_choice, check_int, check_number, to_rng
from ..fourier import crop_or_pad_kspace, fft2c, filter2c, ifft2c
from ._base import FIDELITIES, Applied

__all__ = ["ACCEPTED", "Params", "MASKS", "CENTRE_FRACTIONS", "make_mask", "sample", "apply"]

#: Mask types.
MASKS = ("random", "equispaced", "centred")
#: The article's accelerations and the centre fraction that goes with each.
CENTRE_FRACTIONS = {2: 0.16, 3: 0.12, 4: 0.08, 8: 0.04}

ACCEPTED = ("acceleration", "centre_fraction", "mask", "pe_axis", "exact", "seed")

_SEED_HIGH = 2**63 - 1


def _acceleration(value: Any) -> float | int:
    accel = check_number("acceleration", value, 1.0)
    return int(accel) if accel.is_integer() else accel


def _centre_fraction(acceleration: float | int, centre_fraction: Any) -> float | None:
    if centre_fraction is None:
        if acceleration == 1:
            return None
        if acceleration not in CENTRE_FRACTIONS:
            raise ValueError(
                f"acceleration {acceleration} is not one of the article's "
                f"{sorted(CENTRE_FRACTIONS)}: give centre_fraction too"
            )
        return CENTRE_FRACTIONS[int(acceleration)]
    return check_number("centre_fraction", centre_fraction, 0.0, 1.0, low_open=True)


def _shape(shape: Any) -> tuple[int, int]:
    """``shape`` as an (H, W) pair of ints >= 2 (the smallest image `corrupt` accepts)."""
    if isinstance(shape, (str, bytes, dict)) or not isinstance(shape, Iterable):
        raise TypeError(
            f"shape must be an (H, W) pair of ints; got {shape!r} ({type(shape).__name__})"
        )
    items = tuple(shape)
    if len(items) != 2:
        raise ValueError(
            f"shape must be an (H, W) pair of ints; got {len(items)} values: {shape!r}"
        )
    height, width = (check_int(f"shape[{i}]", s, 2) for i, s in enumerate(items))
    return height, width


def _exact(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"exact must be True or False; got {value!r}")
    return bool(value)


def _band(n: int, width: int) -> slice:
    """The centred band of ``width`` lines out of ``n`` (centre index n // 2, as fft2c)."""
    start = n // 2 - width // 2
    return slice(start, start + width)


def _code_band(n: int, n_centre: int) -> slice:
    """The released code's centre band for a nominal ``n_centre`` lines out of ``n``.

    Its bounds subtract 2 before halving and are rounded half to even (Python's ``round``,
    as the released code): one line off the zero frequency, and one line wider or narrower
    than ``n_centre`` where ``n - n_centre`` is odd.
    """
    start = max(0, round((n - n_centre - 2) / 2))
    stop = max(start, round((n + n_centre - 2) / 2))
    return slice(start, stop)


def _band_width(n: int, centre_fraction: float, what: str) -> int:
    width = int(round(centre_fraction * n))
    if width < 1:
        raise ValueError(
            f"centre band does not fit: centre_fraction {centre_fraction:g} of {n} {what} "
            "rounds to 0 lines"
        )
    return width


def make_mask(
    shape: tuple[int, int],
    *,
    acceleration: float,
    mask: str,
    pe_axis: int,
    rng: np.random.Generator | int | None,
    exact: bool = False,
    centre_fraction: float | None = None,
    fidelity: str = "paper",
) -> np.ndarray:
    """A boolean k-space mask of ``shape`` (H, W), centred as `fft2c`'s k-space.

    Parameters
    ----------
    shape : (int, int)
        Image (and k-space) shape (H, W).
    acceleration : float
        Total acceleration R >= 1 (1: every line, the identity).
    mask : {"random", "equispaced", "centred"}
    pe_axis : {0, 1}
        The array axis along which the phase-encoding index runs.
    rng : numpy.random.Generator, int or None
        Source of the random lines or the equispaced offset.
    exact : bool
        ``"random"`` only: exactly ``round(N / R)`` lines instead of N/R in expectation.
    centre_fraction : float in (0, 1], optional
        Width of the fully sampled centre band (or of the centred square), as a fraction of
        the lines; defaults to the article's value for R in {2, 3, 4, 8}.
    fidelity : {"paper", "code"}
        "paper": the article's masks; "code": the released code's centre band and
        equispaced spacing for ``"random"`` and ``"equispaced"`` masks (see the module
        docstring: at R = 2 its equispaced masks keep about 58 % of the lines). Centred
        masks and ``acceleration=1`` are the same under both.

    Returns
    -------
    ndarray of bool, shape (H, W)

    Raises
    ------
    TypeError, ValueError
        For a bad value, naming the parameter (``shape`` must be a pair, ``pe_axis`` the
        int 0 or 1, ``rng`` a Generator, a non-negative int or None).
    """
    height, width = _shape(shape)
    accel = _acceleration(acceleration)
    check_choice("mask", mask, MASKS)
    pe_axis = check_axis("pe_axis", pe_axis)
    exact = _exact(exact)
    check_choice("fidelity", fidelity, FIDELITIES)
    fraction = _centre_fraction(accel, centre_fraction)
    rng = to_rng(rng)
    result = np.zeros((height, width), dtype=bool)
    if accel == 1:
        result[:] = True
        return result
    # Only acceleration 1 has no default centre fraction, and it has returned above.
    assert fraction is not None
    if mask == "centred":
        rows = _band(height, _band_width(height, fraction, "rows"))
        cols = _band(width, _band_width(width, fraction, "columns"))
        result[rows, cols] = True
        return result

    n_lines = (height, width)[pe_axis]
    n_centre = _band_width(n_lines, fraction, "phase-encoding lines")
    target = n_lines / accel
    if n_centre > target:
        raise ValueError(
            f"centre band does not fit: {n_centre} centre lines exceed the {target:.1f} lines "
            f"that acceleration {accel} allows out of {n_lines}"
        )
    if fidelity == "code":
        lines = _code_lines(n_lines, n_centre, accel, mask, exact, rng)
    else:
        lines = _paper_lines(n_lines, n_centre, target, accel, mask, exact, rng)
    if pe_axis == 0:
        result[lines, :] = True
    else:
        result[:, lines] = True
    return result


def _paper_lines(
    n_lines: int,
    n_centre: int,
    target: float,
    accel: float,
    mask: str,
    exact: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """The article's lines: band of ``n_centre`` lines at ``n_lines // 2``, outer lines to 1/R."""
    lines = np.zeros(n_lines, dtype=bool)
    if mask == "random":
        outer = np.ones(n_lines, dtype=bool)
        outer[_band(n_lines, n_centre)] = False
        outer_idx = np.flatnonzero(outer)
        if exact:
            n_pick = int(round(target)) - n_centre
            lines[rng.choice(outer_idx, size=n_pick, replace=False)] = True
        else:
            prob = (target - n_centre) / (n_lines - n_centre) if n_lines > n_centre else 0.0
            lines[outer_idx[rng.uniform(size=outer_idx.size) < prob]] = True
    else:  # equispaced
        # Spacing such that centre band + equispaced lines ~ N / R (the overlap with the band
        # counted once): the expected number of new lines is (N - n_centre) / spacing.
        denominator = n_lines - accel * n_centre
        spacing = accel * (n_lines - n_centre) / denominator if denominator > 0 else np.inf
        if np.isfinite(spacing):
            offset = int(rng.integers(0, max(1, int(round(spacing)))))
            positions = np.round(np.arange(offset, n_lines, spacing)).astype(int)
            lines[positions[positions < n_lines]] = True
    lines[_band(n_lines, n_centre)] = True
    return lines


def _code_lines(
    n_lines: int,
    n_centre: int,
    accel: float,
    mask: str,
    exact: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """The released code's lines (module docstring): its band, its rounded spacing.

    ``n_centre`` is the nominal band, ``round(centre_fraction * N)``: the released code
    computes the probability and the spacing from it, not from the band it actually keeps.
    """
    band = _code_band(n_lines, n_centre)
    lines = np.zeros(n_lines, dtype=bool)
    if mask == "random" and exact:
        outer = np.ones(n_lines, dtype=bool)
        outer[band] = False
        outer_idx = np.flatnonzero(outer)
        # The band may hold one line more than n_centre, so the count is clipped at 0.
        n_pick = max(int(round(n_lines / accel)) - (band.stop - band.start), 0)
        lines[rng.choice(outer_idx, size=n_pick, replace=False)] = True
    elif mask == "random":
        prob = (n_lines / accel - n_centre) / (n_lines - n_centre) if n_lines > n_centre else 0.0
        # Every line is drawn, band included (as the code): the band is added afterwards.
        lines |= rng.uniform(size=n_lines) < prob
    else:  # equispaced
        denominator = n_lines - accel * n_centre
        if denominator > 0:
            spacing = max(1, round(accel * (n_lines - n_centre) / denominator))
            offset = int(rng.integers(0, spacing))
            # The code stops below N - 1: the last line is never an equispaced sample.
            lines[np.arange(offset, n_lines - 1, spacing)] = True
    lines[band] = True
    return lines


@dataclass(frozen=True)
class Params:
    """Parameters of one subsampling.

    Attributes
    ----------
    acceleration : float
        Total acceleration R >= 1 (1 = every line, the identity).
    centre_fraction : float or None
        Width of the fully sampled centre (band or square) as a fraction of the lines.
    mask : str
        "random", "equispaced" or "centred".
    pe_axis : int
        0 or 1.
    exact : bool
        Exact line count for "random".
    seed : int
        Seed of the random lines or offset, in [0, 2**63 - 1].
    fidelity : str
        "paper" or "code": whose random and equispaced masks (see `make_mask`).
    """

    acceleration: float
    centre_fraction: float | None
    mask: str
    pe_axis: int
    exact: bool
    seed: int
    fidelity: str = "paper"

    def __post_init__(self) -> None:
        accel = _acceleration(self.acceleration)
        object.__setattr__(self, "acceleration", accel)
        object.__setattr__(self, "centre_fraction", _centre_fraction(accel, self.centre_fraction))
        check_choice("mask", self.mask, MASKS)
        object.__setattr__(self, "pe_axis", check_axis("pe_axis", self.pe_axis))
        object.__setattr__(self, "exact", _exact(self.exact))
        object.__setattr__(self, "seed", check_int("seed", self.seed, 0, _SEED_HIGH))
        check_choice("fidelity", self.fidelity, FIDELITIES)


def sample(
    shape: tuple[int, int], rng: np.random.Generator, *, fidelity: str, fixed: dict[str, Any]
) -> Params:
    """Draw acceleration, mask type, phase-encoding axis and seed unless pinned.

    Mask types are drawn uniformly from the three (a decision: the article says the fastMRI
    masks were equispaced or random with equal chance, and adds centred masks without a
    proportion).
    """
    if "acceleration" in fixed:
        acceleration = fixed["acceleration"]
    else:
        acceleration = int(rng.choice(sorted(CENTRE_FRACTIONS)))
    mask = fixed["mask"] if "mask" in fixed else MASKS[int(rng.integers(len(MASKS)))]
    pe_axis = fixed["pe_axis"] if "pe_axis" in fixed else int(rng.integers(2))
    seed = fixed["seed"] if "seed" in fixed else int(rng.integers(0, _SEED_HIGH))
    params = Params(
        acceleration=acceleration,
        centre_fraction=fixed.get("centre_fraction"),
        mask=mask,
        pe_axis=pe_axis,
        exact=fixed.get("exact", False),
        seed=seed,
        fidelity=fidelity,
    )
    # Fail here, with the image's shape, if the centre band does not fit.
    _mask_of(shape, params)
    return params


def _mask_of(shape: tuple[int, int], params: Params) -> np.ndarray:
    return make_mask(
        shape,
        acceleration=params.acceleration,
        mask=params.mask,
        pe_axis=params.pe_axis,
        rng=params.seed,
        exact=params.exact,
        centre_fraction=params.centre_fraction,
        fidelity=params.fidelity,
    )


def apply(image: np.ndarray, params: Params) -> Applied:
    """Keep only the k-space samples of the mask (identity for ``acceleration=1``)."""
    mask = _mask_of(image.shape, params)
    if mask.all():
        return Applied(image=image, mask=mask)
    if params.mask != "centred":
        return Applied(image=filter2c(image, mask), mask=mask)
    kspace = fft2c(image)
    corrupted = ifft2c(kspace * mask)
    n_rows = int(mask.any(axis=1).sum())
    n_cols = int(mask.any(axis=0).sum())
    cropped = crop_or_pad_kspace(kspace, (n_rows, n_cols))
    # Rescale so that the low-resolution image keeps the input's intensity scale (the
    # orthonormal transform would change it with the number of pixels).
    scale = np.sqrt((n_rows * n_cols) / (image.shape[0] * image.shape[1]))
    low_res = ifft2c(cropped) * scale
    return Applied(image=corrupted, mask=mask, low_res=low_res)
