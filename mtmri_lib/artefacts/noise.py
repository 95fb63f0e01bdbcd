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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int, check_number
from ..fourier import fft2c, ifft2c
from ._base import Applied

__all__ = [
    "ACCEPTED",
    "Params",
    "SNR_RANGE_DB",
    "SNR_LIMITS_DB",
    "sample",
    "apply",
    "check_snr",
    "noise_sd",
]

#: The article's training range of the SNR, in dB.
SNR_RANGE_DB = (-12.0, 10.0)
#: The finite SNRs accepted, in dB (see the module docstring); ``inf`` is accepted too.
SNR_LIMITS_DB = (-100.0, 300.0)

ACCEPTED = ("snr_db", "seed")

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
    """Draw the SNR (uniform in [-12, 10] dB) and the noise seed unless pinned."""
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
