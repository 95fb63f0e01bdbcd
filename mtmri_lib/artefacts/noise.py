"""Noise: complex Gaussian white noise added to k-space.

The SNR follows the article (after Cohen et al.): ``SNR = 20 log10(S / N)`` in dB, with S the
mean absolute value of the clean k-space (``fft2c`` of the image) and N the standard deviation
of the added noise, the same for the real and the imaginary part (N is each part's sd). The
article draws the SNR uniformly in [-12, 10] dB; Table 6 pins 5, 0 and -5 dB.
Identity: ``snr_db=inf``.

A pinned SNR must lie in `SNR_LIMITS_DB`, [-100, 300] dB, or be ``inf``. At 300 dB the
noise sd is 1e-15 of the mean k-space magnitude, already below float64's resolution of an
image (about 2e-16 relative, -313 dB): a higher finite SNR could not differ from
``inf``. At -100 dB the noise is 1e5 times the signal: once z-normalised the image is pure
noise, and a lower SNR would only move the computation towards overflow. Inside the limits
the noise sd, ``S / 10**(snr_db / 20)``, lies between 1e-15 S and 1e5 S and cannot overflow
for any image `corrupt` accepts.

Effective SNR
-------------
Keeping the real part of the inverse FFT (``output="real"``, the default, as the released
code) halves the noise power: for a real image ``Re(x)`` keeps the signal and, in k-space,
averages the noise with its conjugate mirror, ``(n(k) + conj(n(-k))) / 2``, whose per-part
variance is half that of ``n``. The SNR in the output is therefore ``snr_db + 10 log10 2``,
about 3.01 dB higher than the nominal one (in this code and the released code alike: Table
6's 5 / 0 / -5 dB are about 8 / 3 / -2 dB in effect). The parameters record it as
``effective_snr_db`` (`effective_snr_db`): ``snr_db + 10 log10 2`` for ``output="real"``,
``snr_db`` for ``"magnitude"`` and ``"complex"`` (``inf`` stays ``inf``). It is derived,
not a pin: given back on replay it must agree with ``snr_db`` and ``output`` within
`EFFECTIVE_SNR_TOLERANCE_DB`, or `derived` raises naming both. (For a complex input the
real part drops part of the signal as well, so the rule holds for real images, as the data
pipeline gives.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_choice, check_int, check_number
from ..fourier import fft2c, ifft2c
from ._base import OUTPUTS, Applied

__all__ = [
    "ACCEPTED",
    "Params",
    "SNR_RANGE_DB",
    "SNR_LIMITS_DB",
    "REAL_PART_GAIN_DB",
    "EFFECTIVE_SNR_TOLERANCE_DB",
    "sample",
    "derived",
    "effective_snr_db",
    "apply",
    "check_snr",
    "noise_sd",
]

#: The article's training range of the SNR, in dB.
SNR_RANGE_DB = (-12.0, 10.0)
#: The finite SNRs accepted, in dB (see the module docstring); ``inf`` is accepted too.
SNR_LIMITS_DB = (-100.0, 300.0)

#: SNR gained by keeping the real part of a real image's noisy inverse FFT: 10 log10 2 dB
#: (about 3.0103 dB), the noise power halved.
REAL_PART_GAIN_DB = 10.0 * math.log10(2.0)
#: How far a given ``effective_snr_db`` may lie from the derived one, in dB: far above the
#: rounding of one float addition near 300 dB (about 6e-14 dB), far below any SNR that
#: matters.
EFFECTIVE_SNR_TOLERANCE_DB = 1e-9

#: ``effective_snr_db`` is accepted so that recorded parameters replay; it is checked, not
#: pinned (see `derived`).
ACCEPTED = ("snr_db", "seed", "effective_snr_db")

_SEED_HIGH = 2**63 - 1


@dataclass(frozen=True)
class Params:
    """Parameters of one noise corruption.

    Attributes
    ----------
    snr_db : float
        Signal-to-noise ratio in dB, in [-100, 300] (`SNR_LIMITS_DB`), or ``inf`` (no noise).
    seed : int
        Seed of the noise draw, in [0, 2**63 - 1].
    """

    snr_db: float
    seed: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "snr_db", check_snr(self.snr_db))
        object.__setattr__(self, "seed", check_int("seed", self.seed, 0, _SEED_HIGH))

    @property
    def is_identity(self) -> bool:
        return self.snr_db == math.inf


def sample(
    shape: tuple[int, int], rng: np.random.Generator, *, fidelity: str, fixed: dict[str, Any]
) -> Params:
    """Draw the SNR (uniform in [-12, 10] dB) and the noise seed unless pinned.

    An ``effective_snr_db`` in ``fixed`` is not used here: it depends on the output, which
    the sampler does not see, and `derived` checks it.
    """
    snr_db = fixed["snr_db"] if "snr_db" in fixed else rng.uniform(*SNR_RANGE_DB)
    seed = fixed["seed"] if "seed" in fixed else int(rng.integers(0, _SEED_HIGH))
    return Params(snr_db=snr_db, seed=seed)


def check_snr(snr_db: Any) -> float:
    """Return ``snr_db`` as a float in `SNR_LIMITS_DB` or ``inf``, or raise naming the range."""
    snr = check_number("snr_db", snr_db, allow_inf=True)
    low, high = SNR_LIMITS_DB
    if snr != math.inf and not low <= snr <= high:
        raise ValueError(
            f"snr_db must lie in [{low:g}, {high:g}] dB, or be inf (no noise); got {snr:g}"
        )
    return snr


def effective_snr_db(snr_db: Any, output: str) -> float:
    """The SNR of the output, in dB, for a nominal ``snr_db`` (see the module docstring).

    Parameters
    ----------
    snr_db : float
        Nominal SNR in dB, in `SNR_LIMITS_DB` ([-100, 300]) or ``inf``.
    output : {"real", "magnitude", "complex"}
        What `corrupt` keeps of the noisy complex image.

    Returns
    -------
    float
        ``snr_db + 10 log10 2`` (`REAL_PART_GAIN_DB`, about 3.0103 dB) for ``"real"``,
        ``snr_db`` otherwise; ``inf`` for ``snr_db=inf``.
    """
    snr = check_snr(snr_db)
    check_choice("output", output, OUTPUTS)
    return snr + REAL_PART_GAIN_DB if output == "real" else snr


def derived(params: Params, *, output: str, fixed: dict[str, Any]) -> dict[str, float]:
    """The values recorded beside ``params`` that depend on ``output``: ``effective_snr_db``.

    A given ``fixed["effective_snr_db"]`` (a replayed record) must agree with the value
    derived from ``params.snr_db`` and ``output`` within `EFFECTIVE_SNR_TOLERANCE_DB`
    (1e-9 dB; both infinite counts as agreeing).

    Returns
    -------
    dict
        ``{"effective_snr_db": float}``.

    Raises
    ------
    TypeError
        ``effective_snr_db`` is not a real number.
    ValueError
        It is NaN, or disagrees with ``snr_db`` and ``output``: the message names both.
    """
    effective = effective_snr_db(params.snr_db, output)
    if "effective_snr_db" in fixed:
        given = check_number("effective_snr_db", fixed["effective_snr_db"], allow_inf=True)
        if math.isinf(given) or math.isinf(effective):
            agrees = given == effective
        else:
            agrees = abs(given - effective) <= EFFECTIVE_SNR_TOLERANCE_DB
        if not agrees:
            rule = "snr_db + 10 log10 2" if output == "real" else "snr_db"
            raise ValueError(
                f"effective_snr_db {given!r} disagrees with snr_db {params.snr_db!r} and "
                f"output {output!r}, which give {effective!r} ({rule}); it is derived, "
                "not a pin: pin snr_db instead"
            )
    return {"effective_snr_db": effective}


def noise_sd(kspace: np.ndarray, snr_db: float) -> float:
    """The per-part standard deviation that gives ``snr_db`` for this clean k-space.

    ``snr_db`` must lie in `SNR_LIMITS_DB` or be ``inf`` (sd 0), so the power of ten stays
    within [1e-5, 1e15] and neither overflows nor vanishes.
    """
    snr_db = check_snr(snr_db)
    with np.errstate(over="ignore"):  # the caller refuses a non-finite result
        return float(np.mean(np.abs(kspace))) / 10.0 ** (snr_db / 20.0)


def apply(image: np.ndarray, params: Params) -> Applied:
    """Add complex Gaussian noise to the k-space of ``image`` at ``params.snr_db``."""
    if params.is_identity:
        return Applied(image=image)
    kspace = fft2c(image)
    sd = noise_sd(kspace, params.snr_db)
    rng = np.random.default_rng(params.seed)
    # Pairs of standard normals read as (real, imaginary): one draw, no temporaries.
    noise = rng.standard_normal((*kspace.shape, 2)).view(np.complex128)[..., 0]
    noise *= sd
    noise += kspace
    return Applied(image=ifft2c(noise))
