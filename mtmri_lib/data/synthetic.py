"""Synthetic subjects: many distinct, clean MR brain volumes from the MNI152 2009 tissue maps.

The default data of every run without a data folder (`mtmri_lib.data.load_slice_sets`). The
MNI ICBM152 2009a template is one smooth "subject"; this module makes as many subjects as
asked from the template's tissue probability maps, offline: each
subject gets its own anatomy (a smooth random deformation composed with a small random
affine change of the grey matter, white matter and CSF maps), its own acquisition (contrast,
field strength, TR / TE / TI) and its own fine tissue texture, and its image is computed
from the MR signal equations with partial volume. The images are references: clean, no noise
added, background exactly 0.

Source data
-----------
nilearn ships, in ``nilearn/datasets/data/``, the skull-stripped T1 template
(``mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz``; its non-zero region is the brain
mask) and the grey and white matter probability maps (``..._gm_...``, ``..._wm_...``; 8-bit,
read as value / 255). GM and WM are set to 0 outside the brain mask and
CSF = clip(mask - GM - WM, 0, 1). The files are found inside the installed package (nothing
is downloaded) and read with nibabel; the template's notice (`mtmri_lib.data.MNI152_NOTICE`)
applies to every image made here.

Geometry
--------
Axial slices, anterior at the top (as `mtmri_lib.data.demo_volumes` gives the template).
For an in-plane ``shape`` (H, W) the voxels are isotropic, of size
``max(233 / H, 197 / W)`` mm (the template's axial field of view, 233 x 197 mm, fits the
frame with its aspect kept; the rest of the frame is background), and the slice axis is
resampled by the same factor. The tissue maps are resampled to that grid once per shape
(linear, after a Gaussian anti-alias filter of sigma (voxel - 1) / 2 template voxels) and
cached. Each subject's pull-back (template point sampled for each voxel) is, in mm about the
template's centre, ``p = diag(1 / scale) R^T (x - shift) + d(x)``: the subject is the
template scaled per axis by ``scale``, rotated by ``R`` (angles about the slice, row and
column axes) and shifted by ``shift``, with ``d`` Gaussian-smoothed white noise on a fixed 8
mm grid (smoothing sigma ``deformation_length_mm``, each component scaled to an r.m.s. of
``deformation_rms_mm``). The deformation lives in mm, so one seed gives the same anatomy at
every ``shape``. Slices that hold no brain are dropped.

Signal
------
Spin echo (T1-, T2- and PD-weighted): ``S = PD (1 - exp(-TR / T1)) exp(-TE / T2)``.
Inversion recovery (FLAIR): ``S = PD |1 - 2 exp(-TI / T1) + exp(-TR / T1)| exp(-TE / T2)``,
with TI at the CSF null for the drawn TR, ``T1_CSF ln(2 / (1 + exp(-TR / T1_CSF)))`` (which
tends to ``T1_CSF ln 2`` for long TR; 2.3-2.6 s here), using the field's tabulated CSF T1,
times a jitter of up to 2 %. A voxel's signal is the probability-weighted sum of the three
tissues' signals, times a multiplicative texture (1 + a n, n a smooth unit-variance random
field of Gaussian sigma 1-1.5 voxels, a = 3-5 %). Each volume is scaled so that the 99.5th
percentile of its voxels that are at least half brain is 1 (float32).

Tissue parameters (`TISSUE_PROPERTIES`; per subject, the T1 and the T2 of GM and WM are
multiplied by a common factor 1 +/- 5 % each, and each tissue's T1, T2 and PD by its own
1 +/- 2 %, uniform; CSF, nearly free water, gets its own jitter only):

=====  ======  =======  =======  ====
field  tissue  T1 (ms)  T2 (ms)  PD
=====  ======  =======  =======  ====
1.5 T  WM      656      72       0.65
1.5 T  GM      1188     95       0.78
1.5 T  CSF     4070     2000     0.97
3 T    WM      832      80       0.65
3 T    GM      1331     110      0.78
3 T    CSF     4163     2000     0.97
=====  ======  =======  =======  ====

- T1 at 1.5 T (WM, cortical GM, CSF): Rooney WD et al. Magnetic field and tissue
  dependencies of human brain longitudinal 1H2O relaxation in vivo. Magn Reson Med
  2007;57:308.
- T1 and T2 of WM and GM at 3 T: Wansapura JP et al. NMR relaxation times in the human
  brain at 3.0 tesla. J Magn Reson Imaging 1999;9:531 (T1 832 / 1331 ms, T2 about 80 / 110
  ms).
- T2 of WM and GM at 1.5 T: Stanisz GJ et al. T1, T2 relaxation and magnetization transfer
  in tissue at 3T. Magn Reson Med 2005;54:507 (their 1.5 T values, excised tissue at 37 C;
  their 3 T T1 values, WM 1084 and GM 1820 ms, exceed the in vivo ones above and are not
  used).
- CSF T1 at 3 T: 4163 ms (Lin C et al., Proc ISMRM 2001, as cited by Lu H et al. J Magn
  Reson Imaging 2005;22:13, who measured 3817 +/- 424 ms and note that this may be low).
- CSF T2: about 2 s, close to free water (e.g. Daoust A et al. Magn Reson Imaging
  2017;44:72); shorter in vivo estimates exist (about 0.5 s, Piechnik SK et al. Magn Reson
  Med 2009;61:579), which would only dim CSF in the T2-weighted images.
- PD, relative water content: GM 0.78, WM 0.65, CSF 0.97 (Ernst T, Kreis R, Ross BD.
  J Magn Reson B 1993;102:1; as used by Gasparovic C et al. Magn Reson Med 2006;55:1219).
- The spread of published 3 T values: Bojorquez JZ et al. What are normal relaxation times
  of tissues at 3 T? Magn Reson Imaging 2017;35:69.

Acquisitions (`PROTOCOLS`, uniform in each range; TR and TI rounded to 10 ms, TE to 1 ms):
T1-weighted spin echo TR 400-700 ms, TE 8-20 ms; T2-weighted spin echo TR 3000-6000 ms,
TE 80-120 ms; PD-weighted spin echo TR 2000-4000 ms, TE 10-30 ms; FLAIR TR 8000-11000 ms,
TE 80-140 ms; field strength 1.5 T or 3 T with equal probability. Contrasts are drawn with
`CONTRAST_WEIGHTS`. With TR 2000-4000 ms, CSF (T1 about 4.1 s) is not fully relaxed in the
PD-weighted images: it comes out darker than or close to GM, as in clinical PD images.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from .._checks import check_int, to_rng
from .volume import Volume, reslice

__all__ = [
    "CONTRASTS",
    "CONTRAST_WEIGHTS",
    "ContrastProtocol",
    "FIELD_STRENGTHS_T",
    "PROTOCOLS",
    "TISSUES",
    "TISSUE_PROPERTIES",
    "synthetic_subjects",
    "synthetic_tissue_maps",
]

#: The contrasts `synthetic_subjects` can make.
CONTRASTS: tuple[str, ...] = ("T1", "T2", "PD", "FLAIR")

#: How often each contrast is drawn when all are allowed (renormalised over a subset):
#: mostly T2-weighted and FLAIR, some T1-weighted, a few PD-weighted.
CONTRAST_WEIGHTS: dict[str, float] = {"T1": 0.20, "T2": 0.45, "PD": 0.05, "FLAIR": 0.30}

#: The field strengths drawn, with equal probability.
FIELD_STRENGTHS_T: tuple[float, ...] = (1.5, 3.0)

#: The tissues of the maps, in this order everywhere.
TISSUES: tuple[str, ...] = ("GM", "WM", "CSF")

#: Tissue T1 (ms), T2 (ms) and relative proton density per field strength (T); sources in the
#: module docstring.
TISSUE_PROPERTIES: dict[float, dict[str, dict[str, float]]] = {
    1.5: {
        "GM": {"T1_ms": 1188.0, "T2_ms": 95.0, "PD": 0.78},
        "WM": {"T1_ms": 656.0, "T2_ms": 72.0, "PD": 0.65},
        "CSF": {"T1_ms": 4070.0, "T2_ms": 2000.0, "PD": 0.97},
    },
    3.0: {
        "GM": {"T1_ms": 1331.0, "T2_ms": 110.0, "PD": 0.78},
        "WM": {"T1_ms": 832.0, "T2_ms": 80.0, "PD": 0.65},
        "CSF": {"T1_ms": 4163.0, "T2_ms": 2000.0, "PD": 0.97},
    },
}


@dataclass(frozen=True)
class ContrastProtocol:
    """One contrast's words, sequence and (min, max) TR and TE in ms."""

    label: str
    sequence: str
    TR_ms: tuple[float, float]
    TE_ms: tuple[float, float]


#: Each contrast's sequence and (min, max) TR and TE in ms, drawn uniformly.
PROTOCOLS: dict[str, ContrastProtocol] = {
    "T1": ContrastProtocol("T1-weighted", "spin echo", (400.0, 700.0), (8.0, 20.0)),
    "T2": ContrastProtocol("T2-weighted", "spin echo", (3000.0, 6000.0), (80.0, 120.0)),
    "PD": ContrastProtocol("PD-weighted", "spin echo", (2000.0, 4000.0), (10.0, 30.0)),
    "FLAIR": ContrastProtocol("FLAIR", "inversion recovery", (8000.0, 11000.0), (80.0, 140.0)),
}

# The template files inside the installed nilearn.
_TEMPLATE_PACKAGE = "nilearn"
_TEMPLATE_FILES = {
    "T1": "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "GM": "datasets/data/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "WM": "datasets/data/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
_TEMPLATE_NAME = "MNI ICBM152 2009a nonlinear symmetric tissue maps (nilearn)"

# Shape limits: below 16 pixels there is no anatomy left; above 320 (the fastMRI image size)
# the 1 mm template has nothing more to give and the cached maps grow past 300 MB.
_MIN_SIZE = 16
_MAX_SIZE = 320

# Anatomy: rotation limits (degrees) about the slice, row and column axes; per-axis scale;
# shift (mm); deformation r.m.s. (mm) and smoothing sigma (mm), on a grid of this spacing.
_ROTATION_DEG = (5.0, 3.0, 3.0)
_SCALE = (0.96, 1.04)
_SHIFT_MM = 4.0
_DEFORMATION_RMS_MM = (1.0, 2.0)
_DEFORMATION_LENGTH_MM = (15.0, 25.0)
_DEFORMATION_SPACING_MM = 8.0
_DEFORMATION_MARGIN_MM = 32.0

# Texture: amplitude (fraction) and Gaussian sigma (voxels); relaxation jitters (fractions).
_TEXTURE_AMPLITUDE = (0.03, 0.05)
_TEXTURE_SIGMA = (1.0, 1.5)
_COMMON_JITTER = 0.05
_TISSUE_JITTER = 0.02
_TI_JITTER = 0.02

# The robust maximum scaled to 1, over voxels at least this much brain.
_SCALE_PERCENTILE = 99.5
_SCALE_BRAIN_FRACTION = 0.5

# The anti-alias filter's reach, in sigmas.
_ANTI_ALIAS_TRUNCATE = 4.0

# Resampled tissue probabilities below this are set to 0 (the anti-alias filter's tails).
_MIN_PROBABILITY = 1e-3

# Voxels warped per block (memory of the coordinate arrays).
_BLOCK_VOXELS = 1 << 20

# Seeds are drawn below 2**53 so that they survive any JSON reader.
_SEED_LIMIT = 1 << 53


# --- the template ---------------------------------------------------------------------------


def _template_file(relative: str) -> Path:
    """A file inside the installed nilearn, found without importing it."""
    spec = importlib.util.find_spec(_TEMPLATE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "synthetic subjects need the MNI152 tissue maps that nilearn ships: "
            "pip install 'mtmri[data]'"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *relative.split("/"))
    if not path.is_file():
        raise FileNotFoundError(f"synthetic subjects: {path} is not in the installed nilearn")
    return path


def _axial(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A NIfTI file as float32 axial slices (slice, row, col), anterior at the top, and the
    affine of those indices."""
    try:
        import nibabel
    except ImportError as error:
        raise ImportError(
            "synthetic subjects need nibabel to read the MNI152 maps: pip install 'mtmri[data]'"
        ) from error

    image = nibabel.as_closest_canonical(nibabel.load(path))
    data = np.asarray(image.get_fdata(dtype=np.float32))
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    # In RAS order: slices along z (inferior first), rows along y flipped (anterior on top).
    sliced, affine = reslice(data, image.affine, slice_axis=2, row_axis=1, flip_rows=True)
    assert affine is not None
    return sliced, affine


@functools.cache
def _template() -> tuple[np.ndarray, np.ndarray]:
    """The tissue probability maps (3, slices, H, W) float32 in `TISSUES` order, read-only,
    and their axial affine."""
    t1, affine = _axial(_template_file(_TEMPLATE_FILES["T1"]))
    # Grid indices are taken as mm below: the template must have 1 mm voxels.
    if not np.allclose(np.linalg.norm(affine[:3, :3], axis=0), 1.0):
        raise ValueError("synthetic subjects: the installed MNI152 template is not at 1 mm")
    mask = (t1 > 0).astype(np.float32)
    maps = []
    for tissue in ("GM", "WM"):
        data, other = _axial(_template_file(_TEMPLATE_FILES[tissue]))
        if data.shape != t1.shape or not np.allclose(other, affine):
            raise ValueError(
                f"synthetic subjects: the {tissue} map's grid differs from the T1 template's"
            )
        # nilearn stores the probabilities as 8 bits (0-255).
        full_scale = 255.0 if data.max() > 1.0 else 1.0
        maps.append(np.clip(data / full_scale, 0.0, 1.0) * mask)
    maps.append(np.clip(mask - maps[0] - maps[1], 0.0, 1.0))
    stacked = np.stack(maps).astype(np.float32)
    stacked.flags.writeable = False
    return stacked, affine


# --- the grid of one shape ------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """The tissue maps resampled to one output grid, and that grid's geometry."""

    maps: np.ndarray  # (3, Z, H, W) float32, read-only
    voxel_mm: float
    affine: np.ndarray  # grid index -> scanner mm

    @property
    def shape(self) -> tuple[int, int, int]:
        z, h, w = self.maps.shape[1:]
        return int(z), int(h), int(w)


def _support(maps: np.ndarray, margin: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The bounding box (start, stop per axis) of the non-zero voxels, grown by ``margin``."""
    nonzero = np.argwhere(maps.max(axis=0) > 0)
    size = maps.shape[1:]
    start = tuple(max(0, int(i) - margin) for i in nonzero.min(axis=0))
    stop = tuple(
        min(n, int(i) + 1 + margin) for i, n in zip(nonzero.max(axis=0), size, strict=True)
    )
    return start, stop


def _sample_axis(data: np.ndarray, axis: int, positions: np.ndarray, *, clamp: bool) -> np.ndarray:
    """Linear interpolation of ``data`` along ``axis`` at index ``positions``; beyond the ends
    the end values (``clamp``) or 0."""
    n = data.shape[axis]
    t = np.clip(positions, 0, n - 1)
    low = np.minimum(np.floor(t).astype(np.intp), max(n - 2, 0))
    high = np.minimum(low + 1, n - 1)
    shape = [1] * data.ndim
    shape[axis] = len(positions)
    weight = (t - low).astype(data.dtype).reshape(shape)
    out = np.take(data, low, axis=axis) * (1 - weight) + np.take(data, high, axis=axis) * weight
    if not clamp:
        out *= ((positions >= 0) & (positions <= n - 1)).astype(data.dtype).reshape(shape)
    return out


def _resample_axis(
    data: np.ndarray, axis: int, voxel: float, offset: float, n_out: int, sigma: float
) -> np.ndarray:
    """Anti-alias (Gaussian ``sigma``) and linearly sample one axis at ``offset + voxel * o``,
    ``o = 0 .. n_out - 1``; points outside the axis are 0."""
    if sigma > 0:
        data = ndimage.gaussian_filter1d(data, sigma, axis=axis, truncate=_ANTI_ALIAS_TRUNCATE)
    positions = offset + voxel * np.arange(n_out, dtype=np.float64)
    return _sample_axis(data, axis, positions, clamp=False)


@functools.lru_cache(maxsize=4)
def _grid(size: tuple[int, int] | None) -> _Grid:
    """The grid of in-plane size ``size`` (None: the template's own)."""
    template, template_affine = _template()
    n_template = np.array(template.shape[1:], dtype=np.float64)
    if size is None:
        size = (int(n_template[1]), int(n_template[2]))
    voxel = max(n_template[1] / size[0], n_template[2] / size[1])
    shape = (max(1, int(round(n_template[0] / voxel))), size[0], size[1])
    # Output index o -> template index centre_t + voxel (o - centre_o), per axis.
    centre_t = (n_template - 1) / 2
    centre_o = (np.array(shape, dtype=np.float64) - 1) / 2
    offset = centre_t - voxel * centre_o
    if shape == template.shape[1:] and voxel == 1.0:
        maps = template
    else:
        sigma = max(0.0, (voxel - 1.0) / 2.0)
        # Only the brain's bounding box, grown past the filter's reach, is filtered and
        # sampled (the template is 0 elsewhere, so this changes nothing).
        reach = int(math.ceil(_ANTI_ALIAS_TRUNCATE * sigma)) + 2
        start, stop = _support(template, reach)
        maps = template[(slice(None), *(slice(a, b) for a, b in zip(start, stop, strict=True)))]
        for axis in range(3):
            maps = _resample_axis(
                maps, axis + 1, voxel, offset[axis] - start[axis], shape[axis], sigma
            )
        maps[maps < _MIN_PROBABILITY] = 0.0
        maps.flags.writeable = False
    index_to_template = np.eye(4)
    index_to_template[:3, :3] *= voxel
    index_to_template[:3, 3] = offset
    return _Grid(maps=maps, voxel_mm=float(voxel), affine=template_affine @ index_to_template)


# --- one subject's anatomy ------------------------------------------------------------------


@dataclass(frozen=True)
class _Anatomy:
    """One subject's affine change and deformation (all in mm about the template centre)."""

    rotation_deg: tuple[float, float, float]
    scale: tuple[float, float, float]
    shift_mm: tuple[float, float, float]
    deformation_rms_mm: float
    deformation_length_mm: float
    displacement: np.ndarray  # (3, nz, ny, nx) mm on the coarse grid
    coarse_origin_mm: np.ndarray  # (3,) mm of the coarse grid's first point

    def rotation(self) -> np.ndarray:
        """The rotation matrix, about the slice, then the row, then the column axis."""
        a, b, c = (math.radians(angle) for angle in self.rotation_deg)
        about_slice = np.array(
            [[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]]
        )
        about_row = np.array(
            [[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]]
        )
        about_col = np.array(
            [[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]]
        )
        return about_slice @ about_row @ about_col

    def record(self) -> dict[str, Any]:
        """The parameters as plain floats."""
        return {
            "rotation_deg": [float(v) for v in self.rotation_deg],
            "scale": [float(v) for v in self.scale],
            "shift_mm": [float(v) for v in self.shift_mm],
            "deformation_rms_mm": float(self.deformation_rms_mm),
            "deformation_length_mm": float(self.deformation_length_mm),
        }


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """A subject's independent streams: anatomy, texture, acquisition."""
    children = np.random.SeedSequence(seed).spawn(3)
    anatomy, texture, acquisition = (np.random.default_rng(child) for child in children)
    return anatomy, texture, acquisition


def _uniform(rng: np.random.Generator, low: float, high: float, size: int) -> tuple[float, ...]:
    return tuple(float(v) for v in rng.uniform(low, high, size))


def _anatomy(rng: np.random.Generator) -> _Anatomy:
    """Draw one subject's affine change and deformation field."""
    template = _template()[0]
    rotation = tuple(float(rng.uniform(-limit, limit)) for limit in _ROTATION_DEG)
    scale = _uniform(rng, *_SCALE, 3)
    shift = _uniform(rng, -_SHIFT_MM, _SHIFT_MM, 3)
    rms = float(rng.uniform(*_DEFORMATION_RMS_MM))
    length = float(rng.uniform(*_DEFORMATION_LENGTH_MM))
    # A fixed coarse grid in mm (template 1 mm voxels), covering the template and a margin.
    half = (np.array(template.shape[1:], dtype=np.float64) - 1) / 2 + _DEFORMATION_MARGIN_MM
    coarse_shape = tuple(int(math.ceil(2 * h / _DEFORMATION_SPACING_MM)) + 1 for h in half)
    noise = rng.standard_normal((3, *coarse_shape))
    displacement = np.empty_like(noise)
    for axis in range(3):
        smooth = ndimage.gaussian_filter(
            noise[axis], sigma=length / _DEFORMATION_SPACING_MM, mode="wrap"
        )
        displacement[axis] = smooth * (rms / smooth.std())
    return _Anatomy(
        rotation_deg=(rotation[0], rotation[1], rotation[2]),
        scale=(scale[0], scale[1], scale[2]),
        shift_mm=(shift[0], shift[1], shift[2]),
        deformation_rms_mm=rms,
        deformation_length_mm=length,
        displacement=displacement,
        coarse_origin_mm=-half,
    )


def _warp(grid: _Grid, anatomy: _Anatomy) -> np.ndarray:
    """The subject's tissue maps on the grid: (3, Z, H, W) float32."""
    z, h, w = grid.shape
    voxel = grid.voxel_mm
    centre = (np.array(grid.shape, dtype=np.float64) - 1) / 2
    inverse = np.diag(1.0 / np.array(anatomy.scale)) @ anatomy.rotation().T
    shift = np.array(anatomy.shift_mm)[:, None]
    # The grid's positions along each axis, in mm about the centre and in coarse-grid indices.
    mm = [
        (np.arange(n, dtype=np.float64) - c) * voxel
        for n, c in zip(grid.shape, centre, strict=True)
    ]
    coarse = [
        (axis_mm - anatomy.coarse_origin_mm[a]) / _DEFORMATION_SPACING_MM
        for a, axis_mm in enumerate(mm)
    ]
    # The grid is axis-aligned, so the displacement is sampled one axis at a time.
    in_plane = _sample_axis(anatomy.displacement, 2, coarse[1], clamp=True)
    in_plane = _sample_axis(in_plane, 3, coarse[2], clamp=True)
    maps = np.empty((3, z, h, w), dtype=np.float32)
    step = max(1, _BLOCK_VOXELS // (h * w))
    for first in range(0, z, step):
        block = slice(first, min(z, first + step))
        displacement = _sample_axis(in_plane, 1, coarse[0][block], clamp=True).reshape(3, -1)
        x = np.stack(np.meshgrid(mm[0][block], mm[1], mm[2], indexing="ij")).reshape(3, -1)
        q = (inverse @ (x - shift) + displacement) / voxel + centre[:, None]
        for t in range(3):
            sampled = ndimage.map_coordinates(
                grid.maps[t], q, order=1, mode="constant", cval=0.0, output=np.float32
            )
            maps[t, block] = sampled.reshape(-1, h, w)
    return maps


def _brain_slices(maps: np.ndarray) -> tuple[int, int]:
    """The first and one-past-last slice that hold brain."""
    holds = np.flatnonzero(maps.reshape(3, maps.shape[1], -1).max(axis=(0, 2)) > 0)
    if holds.size == 0:  # pragma: no cover - the deformation is a few mm
        raise RuntimeError("synthetic subject: no brain left on the grid")
    return int(holds[0]), int(holds[-1]) + 1


# --- one subject's acquisition --------------------------------------------------------------


def _acquisition(rng: np.random.Generator, contrasts: tuple[str, ...]) -> dict[str, Any]:
    """Draw field strength, contrast, TR / TE / TI and the subject's tissue parameters.

    The same numbers are drawn whatever the contrasts allowed, so a seed's field strength and
    tissue jitter do not depend on ``contrasts``.
    """
    u_field, u_contrast, u_tr, u_te, u_ti = rng.random(5)
    common_t1, common_t2 = rng.uniform(-_COMMON_JITTER, _COMMON_JITTER, 2)
    own = rng.uniform(-_TISSUE_JITTER, _TISSUE_JITTER, (3, len(TISSUES)))
    n_fields = len(FIELD_STRENGTHS_T)
    field_t = FIELD_STRENGTHS_T[min(int(u_field * n_fields), n_fields - 1)]
    weights = np.array([CONTRAST_WEIGHTS[c] for c in contrasts], dtype=np.float64)
    cumulative = np.cumsum(weights / weights.sum())
    pick = int(np.searchsorted(cumulative, u_contrast, side="right"))
    contrast = contrasts[min(pick, len(contrasts) - 1)]
    protocol = PROTOCOLS[contrast]
    tr = round(protocol.TR_ms[0] + u_tr * (protocol.TR_ms[1] - protocol.TR_ms[0]), -1)
    te = float(round(protocol.TE_ms[0] + u_te * (protocol.TE_ms[1] - protocol.TE_ms[0])))
    ti: float | None = None
    if protocol.sequence == "inversion recovery":
        t1_csf = TISSUE_PROPERTIES[field_t]["CSF"]["T1_ms"]
        null = t1_csf * math.log(2.0 / (1.0 + math.exp(-tr / t1_csf)))
        ti = round(null * (1.0 + _TI_JITTER * (2.0 * u_ti - 1.0)), -1)
    tissues = {}
    for t, tissue in enumerate(TISSUES):
        nominal = TISSUE_PROPERTIES[field_t][tissue]
        # CSF is nearly free water: it gets only its own jitter, not the parenchyma's common one.
        common = (0.0, 0.0) if tissue == "CSF" else (common_t1, common_t2)
        tissues[tissue] = {
            "T1_ms": nominal["T1_ms"] * (1.0 + common[0] + own[0, t]),
            "T2_ms": nominal["T2_ms"] * (1.0 + common[1] + own[1, t]),
            "PD": nominal["PD"] * (1.0 + own[2, t]),
        }
    return {
        "contrast": contrast,
        "sequence": protocol.sequence,
        "field_T": float(field_t),
        "TR_ms": float(tr),
        "TE_ms": te,
        "TI_ms": None if ti is None else float(ti),
        "tissues": {k: {q: float(v) for q, v in p.items()} for k, p in tissues.items()},
    }


def _signal(acquisition: dict[str, Any], tissue: str) -> float:
    """One pure tissue's signal (spin echo or inversion recovery)."""
    p = acquisition["tissues"][tissue]
    tr, te, ti = acquisition["TR_ms"], acquisition["TE_ms"], acquisition["TI_ms"]
    recovery = math.exp(-tr / p["T1_ms"])
    if ti is None:
        longitudinal = 1.0 - recovery
    else:
        longitudinal = abs(1.0 - 2.0 * math.exp(-ti / p["T1_ms"]) + recovery)
    return p["PD"] * longitudinal * math.exp(-te / p["T2_ms"])


def _texture(
    rng: np.random.Generator, shape: tuple[int, int, int]
) -> tuple[np.ndarray, float, float]:
    """A multiplicative texture 1 + a n (float32, >= 0), its amplitude a and sigma (voxels)."""
    amplitude = float(rng.uniform(*_TEXTURE_AMPLITUDE))
    sigma = float(rng.uniform(*_TEXTURE_SIGMA))
    field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma)
    field *= np.float32(amplitude / field.std(dtype=np.float64))
    field += np.float32(1.0)
    np.maximum(field, 0.0, out=field)
    return field, amplitude, sigma


# --- the public functions -------------------------------------------------------------------


def _check_shape(shape: Any) -> tuple[int, int] | None:
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        items: tuple[Any, ...] = (shape, shape)
    elif isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
        raise TypeError(f"shape must be None, an int or an (H, W) pair; got {shape!r}")
    else:
        items = tuple(shape)
        if len(items) != 2:
            raise ValueError(f"shape must be an int or an (H, W) pair; got {shape!r}")
    h, w = (check_int(f"shape[{i}]", v, _MIN_SIZE, _MAX_SIZE) for i, v in enumerate(items))
    return h, w


def _check_contrasts(contrasts: Any) -> tuple[str, ...]:
    if contrasts is None:
        return CONTRASTS
    if isinstance(contrasts, str):
        contrasts = (contrasts,)
    if not isinstance(contrasts, Iterable):
        raise TypeError(
            f"contrasts must be None or a subset of {CONTRASTS}; got {type(contrasts).__name__}"
        )
    chosen = tuple(contrasts)
    for contrast in chosen:
        if not isinstance(contrast, str) or contrast not in CONTRASTS:
            raise ValueError(
                f"unknown contrast {contrast!r}; contrasts must be a subset of {CONTRASTS}"
            )
    if not chosen:
        raise ValueError(f"contrasts must name at least one of {CONTRASTS}; got none")
    return tuple(c for c in CONTRASTS if c in chosen)


def _source(k: int, acquisition: dict[str, Any]) -> str:
    protocol = PROTOCOLS[acquisition["contrast"]]
    timing = [f"TR {acquisition['TR_ms']:.0f} ms"]
    if acquisition["TI_ms"] is not None:
        timing.append(f"TI {acquisition['TI_ms']:.0f} ms")
    timing.append(f"TE {acquisition['TE_ms']:.0f} ms")
    return (
        f"synthetic subject {k}: {protocol.label} ({protocol.sequence}, {', '.join(timing)}, "
        f"{acquisition['field_T']:g} T), from the MNI152 2009 tissue maps"
    )


def _subject(k: int, seed: int, size: tuple[int, int] | None, contrasts: tuple[str, ...]) -> Volume:
    grid = _grid(size)
    anatomy_rng, texture_rng, acquisition_rng = _streams(seed)
    anatomy = _anatomy(anatomy_rng)
    acquisition = _acquisition(acquisition_rng, contrasts)
    maps = _warp(grid, anatomy)
    texture, amplitude, sigma = _texture(texture_rng, grid.shape)
    signal = np.zeros(grid.shape, dtype=np.float32)
    for t, tissue in enumerate(TISSUES):
        signal += maps[t] * np.float32(_signal(acquisition, tissue))
    signal *= texture
    first, stop = _brain_slices(maps)
    signal = signal[first:stop]
    fraction = maps[:, first:stop].sum(axis=0)
    core = fraction >= _SCALE_BRAIN_FRACTION
    if not core.any():  # pragma: no cover - only on grids far coarser than the brain
        core = fraction > 0
    robust_max = float(np.percentile(signal[core], _SCALE_PERCENTILE))
    data = (signal / np.float32(robust_max)).astype(np.float32)
    crop = np.eye(4)
    crop[0, 3] = first
    metadata: dict[str, Any] = {
        "synthetic": True,
        "subject": k,
        "seed": seed,
        "plane": "axial",
        "template": _TEMPLATE_NAME,
        "licence": "MNI template notice (see mtmri_lib.data.MNI152_NOTICE); nilearn BSD-3-Clause",
        **{key: value for key, value in acquisition.items() if key != "tissues"},
        "tissues": acquisition["tissues"],
        **anatomy.record(),
        "texture_amplitude": amplitude,
        "texture_sigma_voxels": sigma,
        "shape": [grid.shape[1], grid.shape[2]],
        "voxel_mm": grid.voxel_mm,
        "grid_slices": grid.shape[0],
        "first_slice": first,
        "scaled_percentile": _SCALE_PERCENTILE,
    }
    return Volume(
        data=data,
        patient_id=f"synthetic-{k:03d}",
        affine=grid.affine @ crop,
        source=_source(k, acquisition),
        metadata=metadata,
    )


def synthetic_subjects(
    n: int,
    *,
    shape: int | tuple[int, int] | None = None,
    contrasts: Iterable[str] | None = None,
    rng: np.random.Generator | int | None = None,
) -> list[Volume]:
    """``n`` distinct synthetic subjects: clean axial MR brain volumes from the MNI152 2009
    tissue maps, each with its own anatomy, contrast and texture (module docstring).

    Parameters
    ----------
    n : int
        How many subjects (>= 1).
    shape : int or (int, int), optional
        In-plane size, ``S`` for S x S or ``(H, W)``, each in [16, 320]; voxels are isotropic
        (``max(233 / H, 197 / W)`` mm) and the template's field of view fits the frame. None:
        the template's own axial grid, 233 x 197 at 1 mm.
    contrasts : iterable of {"T1", "T2", "PD", "FLAIR"}, optional
        The contrasts to draw from (weights `CONTRAST_WEIGHTS`, renormalised); None: all.
    rng : numpy.random.Generator, int or None
        Each subject's seed is drawn from it in turn, so subject ``k`` is the same whatever
        ``n`` (for a given seed); the same seed gives the same bits in any process.

    Returns
    -------
    list of Volume
        Float32 (slices, H, W), slices holding brain only, background exactly 0, scaled so the
        99.5th percentile of the voxels at least half brain is 1. ``patient_id``
        ``"synthetic-007"`` for subject 7; ``source`` the contrast and sequence in words;
        ``affine`` grid indices to template (MNI) mm; ``metadata`` (JSON-serialisable): seed,
        contrast, sequence, field_T, TR_ms, TE_ms, TI_ms (None unless inversion recovery),
        the subject's tissue T1 / T2 / PD (``tissues``), rotation_deg, scale, shift_mm,
        deformation_rms_mm, deformation_length_mm, texture_amplitude, texture_sigma_voxels,
        shape, voxel_mm, grid_slices and first_slice (the first kept slice of the grid).

    Raises
    ------
    ValueError
        For ``n`` < 1, a shape side outside [16, 320] or not a pair, an unknown contrast or
        an empty ``contrasts``.
    TypeError
        For a non-integer ``n`` or shape side, or an ``rng`` of another type.
    FileNotFoundError
        Where nilearn (the data extra) is not installed.

    Examples
    --------
    >>> volumes = synthetic_subjects(2, shape=64, rng=0)
    >>> [v.patient_id for v in volumes]
    ['synthetic-000', 'synthetic-001']
    """
    n = check_int("n", n, low=1)
    size = _check_shape(shape)
    chosen = _check_contrasts(contrasts)
    generator = to_rng(rng)
    seeds = [int(generator.integers(0, _SEED_LIMIT)) for _ in range(n)]
    return [_subject(k, seed, size, chosen) for k, seed in enumerate(seeds)]


def synthetic_tissue_maps(volume: Volume) -> dict[str, np.ndarray]:
    """The GM, WM and CSF probability maps of a volume made by `synthetic_subjects`.

    They are recomputed from the volume's metadata (seed, shape, first_slice), bit for bit
    the maps its image was made from: float32 arrays of the volume's shape, keyed by
    `TISSUES`. Where all three are 0 the image is exactly 0.

    Raises
    ------
    ValueError
        For a volume that `synthetic_subjects` did not make, or whose slices were changed.
    """
    meta = volume.metadata
    try:
        seed, shape, first = int(meta["seed"]), meta["shape"], int(meta["first_slice"])
        size = (int(shape[0]), int(shape[1]))
    except (KeyError, TypeError, IndexError, ValueError):
        raise ValueError(
            f"{volume.patient_id}: not a synthetic subject (its metadata lacks seed, shape "
            "or first_slice)"
        ) from None
    grid = _grid(_check_shape(size))
    maps = _warp(grid, _anatomy(_streams(seed)[0]))[:, first : first + volume.n_slices]
    if maps.shape[1:] != volume.data.shape:
        raise ValueError(
            f"{volume.patient_id}: its data {volume.data.shape} no longer match the synthetic "
            f"grid {maps.shape[1:]}"
        )
    return {tissue: maps[t] for t, tissue in enumerate(TISSUES)}
