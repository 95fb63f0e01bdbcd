"""Bias field: a smooth multiplicative intensity variation across the image.

The field is a spatial random field with a Gaussian covariance model (gstools ``Gaussian``,
variance 50, length scale ``length_scale`` in cells), generated on the article's 32 x 32 grid
whatever the image size, upsampled smoothly (cubic splines) to the image size, mapped
linearly onto ``field_range`` and multiplied onto the image.

Speed and threads
-----------------
The field is two small matrix products (the separable sum of gstools' modes, then the
separable spline zoom). Handed to a multi-threaded BLAS, products this small cost more in
waking and waiting for threads than they save, and on a loaded machine the waiting threads
also take CPU time from the rest of the call (measured on 2 cores with two busy processes
beside it: 76-160 ms per 320 x 320 field with OpenBLAS's default two threads, 9-17 ms with
one; gstools' own grid evaluation and a spline zoom, 65-125 ms). So the products run with
BLAS limited to one thread, through threadpoolctl (a core dependency). The limit is the
process's, for the duration of each product: a BLAS call that another Python thread makes
meanwhile also runs on one thread.

One thread also makes the field independent of the machine's thread count: OpenBLAS
(0.3.30) sums the first product, 32 x 2000 by 2000 x 32, in a different order with two or
more threads than with one (the results differ in the last bits, about 4e-15 of the raw
field), so without the limit a seed gave slightly different bits on machines, or in worker
processes, with different BLAS thread counts. The fields are now the bits the unlimited
code gave with one BLAS thread (``OPENBLAS_NUM_THREADS=1``). The spline-zoom products gave
the same bits with one and two threads (measured for sizes 8 to 1024).

Ranges
------
paper (the article's training range, our reading; see the book's decisions page)
    total width ``w`` uniform in [0.1, 1.0], ``field_range = (1 - w/2, 1 + w/2)``;
    the field is strictly positive.
code (the released code)
    ``r`` uniform in [0.2, 2.0], ``field_range = (1 - r/2, 1 + r/2)``; the minimum can reach 0.
Table 3 pins ``field_range`` to (0.95, 1.05), (0.9, 1.1) and (0.8, 1.2).
Identity: ``field_range=(1, 1)``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage

from .._checks import check_int, check_number, check_pair
from ._base import Applied

__all__ = [
    "ACCEPTED",
    "Params",
    "GRID",
    "VARIANCE",
    "sample",
    "apply",
    "bias_field",
    "random_field",
]

#: Side of the grid the random field is generated on (cells).
GRID = 32
#: Variance of the Gaussian covariance model (the article's value; the linear mapping onto
#: ``field_range`` makes the field's shape independent of it).
VARIANCE = 50.0
#: Randomisation modes of gstools' spectral method (its default).
DEFAULT_MODES = 1000
#: Most modes accepted: the field's memory grows as 32 x 2 x n_modes floats per array (about
#: 50 MB here), and the field converges long before (its covariance is already within a few
#: per cent of the model's at the default 1000).
MAX_MODES = 100_000

ACCEPTED = ("field_range", "length_scale", "seed", "n_modes")

_SEED_HIGH = 2**31 - 1


@dataclass(frozen=True)
class Params:
    """Parameters of one bias field.

    Attributes
    ----------
    field_range : (float, float)
        Minimum and maximum of the multiplicative field; 0 <= min <= max. (1, 1) leaves the
        image unchanged.
    length_scale : float
        Length scale of the Gaussian covariance, in cells of the 32 x 32 grid (> 0; the
        article draws it in [10, 50]).
    seed : int
        Seed of gstools' random field, in [0, 2**31 - 1].
    n_modes : int
        Number of Fourier modes of gstools' randomisation method, in [1, 100000]
        (`MAX_MODES`).
    """

    field_range: tuple[float, float]
    length_scale: float
    seed: int
    n_modes: int = DEFAULT_MODES

    def __post_init__(self) -> None:
        low, high = check_pair("field_range", self.field_range)
        if low < 0:
            raise ValueError(
                "field_range must not go below 0 (a multiplicative field); "
                f"got {self.field_range!r}"
            )
        object.__setattr__(self, "field_range", (low, high))
        object.__setattr__(
            self, "length_scale", check_number("length_scale", self.length_scale, 0, low_open=True)
        )
        object.__setattr__(self, "seed", check_int("seed", self.seed, 0, _SEED_HIGH))
        object.__setattr__(self, "n_modes", check_int("n_modes", self.n_modes, 1, MAX_MODES))

    @property
    def is_identity(self) -> bool:
        return self.field_range == (1.0, 1.0)


def sample(
    shape: tuple[int, int], rng: np.random.Generator, *, fidelity: str, fixed: dict[str, Any]
) -> Params:
    """Draw the parameters that ``fixed`` leaves open (see the module docstring for ranges)."""
    if "field_range" in fixed:
        field_range = fixed["field_range"]
    elif fidelity == "code":
        r = rng.uniform(0.2, 2.0)
        field_range = (1.0 - r / 2, 1.0 + r / 2)
    else:
        w = rng.uniform(0.1, 1.0)
        field_range = (1.0 - w / 2, 1.0 + w / 2)
    length_scale = fixed["length_scale"] if "length_scale" in fixed else rng.uniform(10.0, 50.0)
    seed = fixed["seed"] if "seed" in fixed else int(rng.integers(0, _SEED_HIGH))
    return Params(
        field_range=field_range,
        length_scale=length_scale,
        seed=seed,
        n_modes=fixed.get("n_modes", DEFAULT_MODES),
    )


def random_field(length_scale: float, seed: int, n_modes: int = DEFAULT_MODES) -> np.ndarray:
    """The raw Gaussian-covariance random field on the 32 x 32 grid (gstools).

    gstools' randomisation method draws the modes (wave vectors k_m and weights z1_m, z2_m
    from gstools' own seeded generator: numpy's seed does not reach it, the seed must) and
    the field is ``sqrt(var / M) * sum_m z1_m cos(k_m . x) + z2_m sin(k_m . x)``. On a
    structured grid that sum separates by axis into one small matrix product, which gives
    gstools' own ``structured`` output (tested equal to 1e-10) ten times faster.
    """
    import gstools

    model = gstools.Gaussian(dim=2, var=VARIANCE, len_scale=length_scale)
    generator = gstools.SRF(model, seed=seed, mode_no=n_modes).generator
    wave, z_1, z_2 = generator._cov_sample, generator._z_1, generator._z_2
    axis = np.arange(GRID, dtype=np.float64)
    phase_rows, phase_cols = np.outer(axis, wave[0]), np.outer(axis, wave[1])
    cos_rows, sin_rows = np.cos(phase_rows), np.sin(phase_rows)
    # cos(a + b) and sin(a + b) expanded: rows carry a, columns b.
    left = np.concatenate([cos_rows * z_1 + sin_rows * z_2, cos_rows * z_2 - sin_rows * z_1], 1)
    right = np.concatenate([np.cos(phase_cols), np.sin(phase_cols)], 1)
    with _one_blas_thread():
        product = left @ right.T
    return np.sqrt(VARIANCE / n_modes) * product


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded.

    Made once, on first use (finding the libraries takes about a millisecond); numpy's BLAS,
    the one its matrix products call, is loaded by then.
    """
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread inside the block (see the module docstring for why)."""
    with _blas_controller().limit(limits=1):
        yield


@functools.lru_cache(maxsize=16)
def _upsampling_matrix(size: int) -> np.ndarray:
    """(size, 32) matrix of the cubic-spline zoom from 32 cells to ``size`` pixels.

    Column j is the zoom of the j-th unit vector; spline zooming is linear and separable, so
    ``A_rows @ field @ A_cols.T`` equals ``scipy.ndimage.zoom`` of the field (to 1e-13).
    ``grid_mode=True`` makes the 32 cells cover the whole image, edge to edge.
    """
    matrix = scipy.ndimage.zoom(
        np.eye(GRID), (size / GRID, 1), order=3, mode="nearest", grid_mode=True
    )
    matrix.setflags(write=False)
    return matrix


def bias_field(shape: tuple[int, int], params: Params) -> np.ndarray:
    """The multiplicative field of ``params`` at image size ``shape`` (H, W).

    Its minimum and maximum are exactly ``params.field_range``.
    """
    low, high = params.field_range
    if low == high:
        return np.full(shape, low)
    raw = random_field(params.length_scale, params.seed, params.n_modes)
    with _one_blas_thread():
        smooth = _upsampling_matrix(shape[0]) @ raw @ _upsampling_matrix(shape[1]).T
    lowest = smooth.min()
    span = smooth.max() - lowest
    if not span > 0:
        return np.full(shape, low)
    # In place, in the order of low + (smooth - min) / span * (high - low): the same bits.
    smooth -= lowest
    smooth /= span
    smooth *= high - low
    smooth += low
    return smooth


def apply(image: np.ndarray, params: Params) -> Applied:
    """Multiply ``image`` by the bias field of ``params`` (identity: the image itself)."""
    if params.is_identity:
        return Applied(image=image)
    return Applied(image=image * bias_field(image.shape, params))
