"""Named severities of each artefact: ``mild``, ``moderate``, ``severe`` and the article's tests.

``corrupt(image, kind, preset=...)`` pins the values of a preset; a keyword given beside it
wins (``corrupt(image, "noise", preset="mild", snr_db=3)`` uses 3 dB). What a preset leaves
open (the bias field's length scale and seed, the phase-encoding axis, the motion segments
and poses, the noise draw...) is drawn from the article's ranges as usual, so a preset is a
distribution of corruptions at one severity, not one image. The preset's name is recorded
in ``.params`` beside every value used, and ``corrupt(image, kind, **result.params)``
replays it (the recorded values are explicit keywords, so they win over the preset's, and
they agree with it).

Mild, moderate, severe
----------------------
Pinned values inside the article's training ranges, chosen so that the three are clearly
ordered in measured image quality. The drops are ``1 - SSIM`` and ``1 - VIF`` against the
clean slice (`mtmri_lib.metrics`, both images z-normalised), mean (sd) over 200 corruptions:
`mtmri_lib.report.views.preset_effects` on the 50 test slices of the earlier default data (the
real single-subject images) at 64 x 64 (the ``cpu`` profile), 4 draws each, seed 0. The
book's artefact chapter recomputes the table on this run's test subjects.

=========== ======== =============================================== ============= =============
kind        preset   pinned values                                   SSIM drop     VIF drop
=========== ======== =============================================== ============= =============
bias        mild     ``field_range=(0.9, 1.1)``, width 0.2           0.011 (0.007) 0.003 (0.009)
bias        moderate ``field_range=(0.75, 1.25)``, width 0.5         0.050 (0.029) 0.011 (0.019)
bias        severe   ``field_range=(0.5, 1.5)``, width 1.0           0.145 (0.083) 0.043 (0.048)
subsampling mild     ``acceleration=2, mask="random"``               0.183 (0.054) 0.302 (0.078)
subsampling moderate ``acceleration=4, mask="random"``               0.365 (0.090) 0.591 (0.094)
subsampling severe   ``acceleration=8, mask="random"``               0.477 (0.090) 0.738 (0.069)
motion      mild     ``corrupted_fraction=0.3, clean_centre=0.25``   0.170 (0.051) 0.168 (0.045)
motion      moderate ``corrupted_fraction=0.55, clean_centre=0.07``  0.416 (0.090) 0.501 (0.108)
motion      severe   ``corrupted_fraction=0.8, clean_centre=0.0``    0.692 (0.109) 0.821 (0.087)
noise       mild     ``snr_db=10``                                   0.138 (0.037) 0.027 (0.008)
noise       moderate ``snr_db=0``                                    0.465 (0.054) 0.213 (0.044)
noise       severe   ``snr_db=-10``                                  0.790 (0.022) 0.717 (0.062)
=========== ======== =============================================== ============= =============

Decisions behind the table:

- bias: the field's total width (the article's training range, our reading, is [0.1, 1.0])
  at 0.2, 0.5 and 1.0 (its maximum), centred on 1; the length scale and the field's shape
  stay drawn. A bias field lowers SSIM far more than VIF (the article's remark on Table 3):
  VIF barely moves at mild and moderate, and a field that raises the contrast gives a VIF
  above 1 (a negative drop).
- subsampling: the mask type is pinned to ``"random"`` (fastMRI's random mask with its
  centre band) and only the acceleration (2, 4, 8 of the article's 2, 3, 4, 8) sets the
  severity. A drawn mask type would mix severities: a centred x2 mask (2.6 % of k-space,
  the article's test) hurts more than a random x4 one. The phase-encoding axis and the
  random lines stay drawn.
- motion: rigid motion (the brain setting) only. The corrupted fraction spans the article's
  training range [0.3, 0.8] and the clean centre shrinks as it grows (25 %, Table 5's mildest
  test; 7 %, the released code's; 0, the article's text), because the clean centre is what
  keeps motion mild (FACTS.md). The phase-encoding axis, segments and poses stay drawn. A
  preset with ``motion="periodic"`` or ``"mixed"`` is refused: its values are rigid-motion
  values.
- noise: the SNR at 10, 0 and -10 dB of the article's [-12, 10] dB.

The values are pinned the same way at both fidelities (``fidelity="code"`` changes only what
a preset leaves open).

The article's test settings
---------------------------
``"article:<severity>"``, named after the columns of Tables 3-6. The evaluation sets
(`mtmri_lib.data.EVALUATION_SETTINGS`) are built from these: one definition. The mean SSIM
and VIF drops are from the same measurement as above:

=========== ================= ========================================== ======= =======
kind        preset            pinned values                              SSIM    VIF
=========== ================= ========================================== ======= =======
bias        ``article:5%``    ``field_range=(0.95, 1.05)`` (Table 3)     0.003   -0.000
bias        ``article:10%``   ``field_range=(0.9, 1.1)``                 0.010   0.002
bias        ``article:20%``   ``field_range=(0.8, 1.2)``                 0.033   0.006
subsampling ``article:x2``    ``acceleration=2, mask="centred"`` (T. 4)  0.416   0.681
subsampling ``article:x3``    ``acceleration=3, mask="centred"``         0.478   0.751
subsampling ``article:x4``    ``acceleration=4, mask="centred"``         0.582   0.855
motion      ``article:25%``   ``clean_centre=0.25`` (Table 5)            0.251   0.301
motion      ``article:12.5%`` ``clean_centre=0.125``                     0.352   0.431
motion      ``article:5%``    ``clean_centre=0.05``                      0.449   0.530
noise       ``article:5dB``   ``snr_db=5`` (Table 6)                     0.286   0.081
noise       ``article:0dB``   ``snr_db=0``                               0.464   0.213
noise       ``article:-5dB``  ``snr_db=-5``                              0.637   0.454
=========== ================= ========================================== ======= =======

Table 3's 5 % field is [0.95, 1.05] (the article prints [0.95, 1.15], read as a typo). Table
5's percentage is the fraction of the k-space centre left uncorrupted; the corrupted
fraction stays drawn in [0.3, min(0.8, 1 - clean_centre)]. A name may belong to two kinds
(``"article:5%"`` is a 5 % bias field and a 5 % clean motion centre): the kind decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .._checks import check_choice

__all__ = [
    "SEVERITIES",
    "PRESETS",
    "preset_names",
    "preset_values",
    "with_preset",
]

#: The kind-independent presets, mildest first.
SEVERITIES: tuple[str, ...] = ("mild", "moderate", "severe")

# Values are tuples and scalars only, so a preset cannot be changed through what it holds;
# `preset_values` hands out fresh dicts.
_TABLE: dict[str, dict[str, dict[str, Any]]] = {
    "bias": {
        "mild": {"field_range": (0.9, 1.1)},
        "moderate": {"field_range": (0.75, 1.25)},
        "severe": {"field_range": (0.5, 1.5)},
        "article:5%": {"field_range": (0.95, 1.05)},
        "article:10%": {"field_range": (0.9, 1.1)},
        "article:20%": {"field_range": (0.8, 1.2)},
    },
    "subsampling": {
        "mild": {"acceleration": 2, "mask": "random"},
        "moderate": {"acceleration": 4, "mask": "random"},
        "severe": {"acceleration": 8, "mask": "random"},
        "article:x2": {"acceleration": 2, "mask": "centred"},
        "article:x3": {"acceleration": 3, "mask": "centred"},
        "article:x4": {"acceleration": 4, "mask": "centred"},
    },
    "motion": {
        "mild": {"corrupted_fraction": 0.3, "clean_centre": 0.25},
        "moderate": {"corrupted_fraction": 0.55, "clean_centre": 0.07},
        "severe": {"corrupted_fraction": 0.8, "clean_centre": 0.0},
        "article:25%": {"clean_centre": 0.25},
        "article:12.5%": {"clean_centre": 0.125},
        "article:5%": {"clean_centre": 0.05},
    },
    "noise": {
        "mild": {"snr_db": 10.0},
        "moderate": {"snr_db": 0.0},
        "severe": {"snr_db": -10.0},
        "article:5dB": {"snr_db": 5.0},
        "article:0dB": {"snr_db": 0.0},
        "article:-5dB": {"snr_db": -5.0},
    },
}

#: kind -> preset name -> pinned values (read-only; `preset_values` gives a copy to change).
PRESETS: Mapping[str, Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        kind: MappingProxyType({name: MappingProxyType(values) for name, values in table.items()})
        for kind, table in _TABLE.items()
    }
)


def _check_kind(kind: Any) -> str:
    return check_choice("kind", kind, tuple(PRESETS))


def preset_names(kind: str | None = None) -> tuple[str, ...] | dict[str, tuple[str, ...]]:
    """The preset names of ``kind`` (mild, moderate, severe, then the article's), or of all kinds.

    Parameters
    ----------
    kind : {"bias", "subsampling", "motion", "noise"} or None

    Returns
    -------
    tuple of str
        For one kind.
    dict of str -> tuple of str
        For ``kind=None``: every kind's names.
    """
    if kind is None:
        return {k: tuple(table) for k, table in PRESETS.items()}
    return tuple(PRESETS[_check_kind(kind)])


def preset_values(kind: str, preset: str) -> dict[str, Any]:
    """The keywords a preset pins for ``kind`` (a new dict).

    Raises
    ------
    ValueError
        For an unknown preset, listing the presets of ``kind``; for a preset of another
        kind (``"article:x2"`` for noise), naming the kind it belongs to.
    """
    kind = _check_kind(kind)
    table = PRESETS[kind]
    if isinstance(preset, str) and preset not in table:
        owners = [k for k, other in PRESETS.items() if preset in other]
        if owners:
            raise ValueError(
                f"preset {preset!r} is a preset of {', '.join(owners)}, not of kind {kind!r}; "
                f"presets of {kind!r}: {', '.join(map(repr, table))}"
            )
    check_choice(f"preset (for kind {kind!r})", preset, tuple(table))
    return dict(table[preset])


def with_preset(kind: str, preset: str | None, fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords `corrupt` pins: the preset's values, overridden by those in ``fixed``.

    ``preset=None`` returns a copy of ``fixed``. A motion preset with ``motion`` other than
    "rigid" is refused (its values are rigid-motion values).
    """
    if preset is None:
        return dict(fixed)
    merged = preset_values(kind, preset)
    merged.update(fixed)
    if kind == "motion" and merged.get("motion", "rigid") != "rigid":
        raise ValueError(
            f"motion presets are for rigid motion (the brain setting); got preset={preset!r} "
            f"with motion={merged['motion']!r}: pin delta, frequency, phase or ky0 for "
            "periodic motion instead"
        )
    return merged
