"""The four MRI artefacts of the article: bias field, k-space subsampling, motion, noise.

Entry points
------------
`corrupt`
    one artefact on one image, with its parameters drawn from the article's ranges unless
    pinned; the result carries every value used, so ``corrupt(image, kind, **result.params)``
    replays it bit for bit.
`corrupt_sequence`
    several artefacts in order (Table 7's multi-artefact scenarios).
`make_mask`
    a Cartesian k-space subsampling mask (fastMRI-style random or equispaced, or centred).

Every random draw comes from the ``rng`` argument (a Generator, an int seed or None); numpy's
global random state is never read or changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from .._checks import check_choice, check_image, to_rng
from . import bias, motion, noise, subsampling
from ._base import FIDELITIES, OUTPUTS, Corruption, convert, to_json, znorm
from .subsampling import make_mask

__all__ = ["KINDS", "Corruption", "corrupt", "corrupt_sequence", "make_mask", "accepted_keywords"]

#: The artefacts in the order of the model's heads.
KINDS: tuple[str, ...] = ("bias", "subsampling", "motion", "noise")

_MODULES: dict[str, ModuleType] = {
    "bias": bias,
    "subsampling": subsampling,
    "motion": motion,
    "noise": noise,
}


def _module(kind: Any) -> ModuleType:
    check_choice("kind", kind, KINDS)
    return _MODULES[kind]


def accepted_keywords(kind: str) -> tuple[str, ...]:
    """The keywords `corrupt` accepts for ``kind``: the pinnable ones and the replay values."""
    return tuple(_module(kind).ACCEPTED)


def corrupt(
    image: np.ndarray,
    kind: str,
    rng: np.random.Generator | int | None = None,
    *,
    fidelity: str = "paper",
    output: str = "real",
    zscore: bool = True,
    **fixed: Any,
) -> Corruption:
    """Corrupt one image with one artefact.

    Parameters
    ----------
    image : ndarray of shape (H, W)
        Real (or complex) image; the artefact is computed on it as given (the data pipeline
        gives images scaled to [0, 1]).
    kind : {"bias", "subsampling", "motion", "noise"}
    rng : numpy.random.Generator, int or None
        Source of every random draw (parameters, noise, random lines, the bias field seed).
    fidelity : {"paper", "code"}
        "paper" follows the article's text; "code" the released code where FACTS.md says the
        two differ (bias range, motion segments and clean centre).
    output : {"real", "magnitude", "complex"}
        What is kept of the corrupted complex image: the real part (as the released code),
        the magnitude, or the complex image.
    zscore : bool
        Z-normalise the output (and ``low_res``); False keeps the input's scale.
    **fixed
        Parameters to pin instead of drawing them (see each artefact module), for example
        ``snr_db=5`` or ``acceleration=4, mask="centred"``. The identity values
        ``field_range=(1, 1)``, ``acceleration=1``, ``corrupted_fraction=0`` and
        ``snr_db=inf`` return the input unchanged (before output conversion).

    Returns
    -------
    Corruption
        ``.image``, ``.kind``, ``.params`` (JSON-serialisable, replayable), ``.mask`` and
        ``.low_res`` where they apply.
    """
    module = _module(kind)
    check_choice("fidelity", fidelity, FIDELITIES)
    check_choice("output", output, OUTPUTS)
    if not isinstance(zscore, (bool, np.bool_)):
        raise TypeError(f"zscore must be True or False; got {zscore!r}")
    image = check_image(image)
    unknown = sorted(set(fixed) - set(module.ACCEPTED))
    if unknown:
        raise TypeError(
            f"unknown keyword(s) for kind {kind!r}: {', '.join(unknown)}; "
            f"accepted: {', '.join(module.ACCEPTED)}"
        )
    params = module.sample(image.shape, to_rng(rng), fidelity=fidelity, fixed=fixed)
    applied = module.apply(image, params)
    result_image = convert(applied.image, output)
    low_res = None if applied.low_res is None else convert(applied.low_res, output)
    if zscore:
        result_image = znorm(result_image)
        low_res = None if low_res is None else znorm(low_res)
    record = to_json(params)
    record.update(fidelity=fidelity, output=output, zscore=bool(zscore))
    return Corruption(
        image=result_image, kind=kind, params=record, mask=applied.mask, low_res=low_res
    )


def corrupt_sequence(
    image: np.ndarray,
    kinds: Sequence[str],
    rng: np.random.Generator | int | None = None,
    **options: Any,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Apply several artefacts one after the other.

    Intermediate steps keep the complex image at its own scale (``output="complex"``,
    ``zscore=False``); the last step converts and normalises as ``output`` and ``zscore``
    say. ``fidelity`` goes to every step; any other option goes to every step whose kind
    accepts it (``pe_axis`` to subsampling and motion, for example), and an option that no
    step accepts is an error.

    Returns
    -------
    image : ndarray of shape (H, W)
    params : list of dict
        Each step's ``Corruption.params``, in order; each replays its step.
    """
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or len(kinds) == 0:
        raise ValueError(f"kinds must be a non-empty sequence of artefact names; got {kinds!r}")
    modules = [_module(kind) for kind in kinds]
    fidelity = options.pop("fidelity", "paper")
    output = options.pop("output", "real")
    zscore = options.pop("zscore", True)
    unused = sorted(k for k in options if not any(k in m.ACCEPTED for m in modules))
    if unused:
        raise TypeError(
            f"option(s) {', '.join(unused)} accepted by none of the kinds {list(kinds)}"
        )
    rng = to_rng(rng)
    current = check_image(image)
    steps: list[dict[str, Any]] = []
    for position, (kind, module) in enumerate(zip(kinds, modules, strict=True)):
        last = position == len(kinds) - 1
        step_options = {k: v for k, v in options.items() if k in module.ACCEPTED}
        result = corrupt(
            current,
            kind,
            rng,
            fidelity=fidelity,
            output=output if last else "complex",
            zscore=zscore if last else False,
            **step_options,
        )
        current = result.image
        steps.append(result.params)
    return current, steps
