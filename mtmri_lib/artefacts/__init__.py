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
`preset_names`, `preset_values`, `PRESETS`
    named severities of every kind (``preset="mild" | "moderate" | "severe"``) and the
    article's test settings (``preset="article:x2"``...); see `mtmri_lib.artefacts.presets`.

Every random draw comes from the ``rng`` argument (a Generator, a non-negative int seed or
None); numpy's global random state is never read or changed.

Bad input raises before anything is computed, with a message that names the parameter, what
is allowed and the value given. A result that would not be finite (an input scaled near
float64's limit, about 1.8e308) raises too, instead of coming back as NaN, inf or zeros; no
numpy floating-point warning escapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from .._checks import check_choice, check_image, to_rng
from . import bias, motion, noise, subsampling
from ._base import FIDELITIES, OUTPUTS, Corruption, convert, to_json, znorm
from .presets import PRESETS, SEVERITIES, preset_names, preset_values, with_preset
from .subsampling import make_mask

__all__ = [
    "KINDS",
    "FIDELITIES",
    "OUTPUTS",
    "znorm",
    "to_json",
    "Corruption",
    "corrupt",
    "corrupt_sequence",
    "make_mask",
    "accepted_keywords",
    "PRESETS",
    "SEVERITIES",
    "preset_names",
    "preset_values",
]

#: The artefacts in the order of the model's heads.
KINDS: tuple[str, ...] = ("bias", "subsampling", "motion", "noise")

_MODULES: dict[str, ModuleType] = {
    "bias": bias,
    "subsampling": subsampling,
    "motion": motion,
    "noise": noise,
}


# An input whose largest magnitude exceeds this is what overflows: every artefact multiplies
# the image by far smaller factors (fields, noise scales) unless a parameter is extreme.
_LARGE_INPUT = 1e200


def _module(kind: Any) -> ModuleType:
    check_choice("kind", kind, KINDS)
    return _MODULES[kind]


def _check_zscore(zscore: Any) -> bool:
    if not isinstance(zscore, (bool, np.bool_)):
        raise TypeError(f"zscore must be True or False; got {zscore!r}")
    return bool(zscore)


def _all_finite(array: np.ndarray) -> bool:
    """Whether every value is finite. A NaN or inf makes the sum non-finite, so a finite sum
    settles it in one pass without a boolean array; only a non-finite sum (which finite
    values near float64's limit can also give) needs the element-wise check."""
    return bool(np.isfinite(array.sum())) or bool(np.all(np.isfinite(array)))


def _check_finite(
    kind: str, source: np.ndarray, fixed: dict[str, Any], *arrays: np.ndarray | None
) -> None:
    """Refuse a result that overflowed, naming what is too large.

    An overflow shows as inf or NaN in the raw result; `znorm` itself cannot overflow, but
    it would turn inf into NaN, so the raw result and the final one are both checked.
    """
    if all(a is None or _all_finite(a) for a in arrays):
        return
    peak = float(np.max(np.abs(source)))
    message = f"corrupt(kind={kind!r}) overflows float64 (its result is not finite): "
    if peak > _LARGE_INPUT:
        message += (
            f"the input's scale is too large, its largest magnitude is {peak:.3g}; rescale "
            "the image (the data pipeline gives images in [0, 1])"
        )
    else:
        pinned = ", ".join(f"{k}={v!r}" for k, v in fixed.items() if v is not None)
        message += (
            f"the input's largest magnitude is only {peak:.3g}, so a pinned value is too "
            f"extreme (pinned: {pinned or 'nothing'})"
        )
    raise ValueError(message)


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
    preset: str | None = None,
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
        two differ (bias range, motion segments, subsampling masks). Where the text is silent
        both follow the code (the 7 % clean centre of rigid motion).
    output : {"real", "magnitude", "complex"}
        What is kept of the corrupted complex image: the real part (as the released code),
        the magnitude, or the complex image.
    zscore : bool
        Z-normalise the output (and ``low_res``); False keeps the input's scale.
    preset : str or None
        A named severity whose values are pinned: ``"mild"``, ``"moderate"``, ``"severe"``
        or one of the article's test settings, ``"article:<severity>"`` after the columns of
        Tables 3-6 (``"article:5%"`` for bias, ``"article:x2"`` for subsampling,
        ``"article:25%"`` for motion, ``"article:5dB"`` for noise...; `preset_names` lists them,
        `mtmri_lib.artefacts.presets` gives their values). A keyword in ``fixed`` overrides
        the preset's value; what neither pins is drawn. Recorded as ``params["preset"]``
        (absent when None).
    **fixed
        Parameters to pin instead of drawing them (see each artefact module), for example
        ``snr_db=5`` or ``acceleration=4, mask="centred"``. The identity values
        ``field_range=(1, 1)``, ``acceleration=1``, ``corrupted_fraction=0`` and
        ``snr_db=inf`` return the input unchanged (before output conversion; a copy, never
        the caller's array) and, z-normalised, a constant image as zeros (see `znorm`).

    Returns
    -------
    Corruption
        ``.image``, ``.kind``, ``.params`` (JSON-serialisable, replayable), ``.mask``,
        ``.low_res`` and ``.lines`` where they apply.

    Raises
    ------
    TypeError, ValueError
        For a bad argument or pinned value, naming it: ``image`` must be a finite, numeric
        (not bool), 2-D array of at least 2 x 2; ``rng`` a Generator, a non-negative int or
        None; an unknown keyword for ``kind`` is refused; an unknown preset raises listing the
        presets of ``kind``, a preset of another kind names the kind it belongs to.
    ValueError
        When the result would not be finite (float64 overflow): the message gives the
        input's largest magnitude.
    """
    module = _module(kind)
    kind = str(kind)
    check_choice("fidelity", fidelity, FIDELITIES)
    check_choice("output", output, OUTPUTS)
    zscore = _check_zscore(zscore)
    image = check_image(image)
    fixed = with_preset(kind, preset, fixed)
    unknown = sorted(set(fixed) - set(module.ACCEPTED))
    if unknown:
        raise TypeError(
            f"unknown keyword(s) for kind {kind!r}: {', '.join(unknown)}; "
            f"accepted: {', '.join(module.ACCEPTED)}"
        )
    rng = to_rng(rng)
    # Overflow is detected from the result below and reported with its cause; numpy's own
    # warnings would only repeat it, less clearly.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        params = module.sample(image.shape, rng, fidelity=fidelity, fixed=fixed)
        # Values that also depend on the output (noise's effective SNR): derived, recorded,
        # and checked against a replayed record before anything is computed.
        derived = getattr(module, "derived", None)
        derived_values = {} if derived is None else derived(params, output=output, fixed=fixed)
        applied = module.apply(image, params)
        _check_finite(kind, image, fixed, applied.image, applied.low_res)
        result_image = convert(applied.image, output)
        low_res = None if applied.low_res is None else convert(applied.low_res, output)
        if zscore:
            result_image = znorm(result_image)
            low_res = None if low_res is None else znorm(low_res)
        _check_finite(kind, image, fixed, result_image, low_res)
    if np.may_share_memory(result_image, image):
        # Identity settings hand back the input itself: the caller's array must not be
        # changed by writing to the result.
        result_image = result_image.copy()
    record = to_json(params)
    record.update(to_json(derived_values))
    record.update(fidelity=fidelity, output=output, zscore=bool(zscore))
    if preset is not None:
        # Beside every value used: on replay those come back as explicit keywords and win
        # over the preset's, with which they agree.
        record["preset"] = str(preset)
    return Corruption(
        image=result_image,
        kind=kind,
        params=record,
        mask=applied.mask,
        low_res=low_res,
        lines=applied.lines,
    )


def _step_presets(
    kinds: Sequence[str], modules: Sequence[ModuleType], preset: Any, options: Mapping[str, Any]
) -> list[str | None]:
    """One preset (or None) per step, from any form `corrupt_sequence` accepts; checked with
    each step's options."""
    if preset is None:
        chosen: list[Any] = [None] * len(kinds)
    elif isinstance(preset, str):
        chosen = [preset] * len(kinds)
    elif isinstance(preset, Mapping):
        strangers = sorted(map(str, set(preset) - set(kinds)))
        if strangers:
            raise ValueError(
                f"preset names kind(s) {', '.join(map(repr, strangers))} that are not steps of "
                f"{list(kinds)}"
            )
        chosen = [preset.get(kind) for kind in kinds]
    elif isinstance(preset, Sequence):
        if len(preset) != len(kinds):
            raise ValueError(
                f"preset as a list needs one entry per step ({len(kinds)} for {list(kinds)}); "
                f"got {len(preset)}: {list(preset)!r}"
            )
        chosen = list(preset)
    else:
        raise TypeError(
            "preset must be None, a preset name, a mapping kind -> name or a list with one "
            f"name (or None) per step; got {preset!r} ({type(preset).__name__})"
        )
    for kind, module, name in zip(kinds, modules, chosen, strict=True):
        # Raises (naming the kind) before any step runs.
        with_preset(kind, name, {k: v for k, v in options.items() if k in module.ACCEPTED})
    return chosen


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

    ``preset`` (see `corrupt`) takes three forms:

    - one name, for every step: ``preset="severe"``. The kind-independent ``"mild"``,
      ``"moderate"`` and ``"severe"`` suit any steps; an article preset only steps of its
      own kind.
    - a mapping from kind to name, for the steps of those kinds whatever their order:
      ``preset={"noise": "mild", "bias": "article:20%"}`` (every kind named must be a step).
    - a list or tuple with one entry per step, in order, None for a step without a preset.

    An option given beside a preset overrides it in every step that accepts the option. Each
    step records its preset in its params.

    Returns
    -------
    image : ndarray of shape (H, W)
    params : list of dict
        Each step's ``Corruption.params``, in order; each replays its step.

    Raises
    ------
    TypeError, ValueError
        As `corrupt`, for the first step whose arguments are bad or whose result would not
        be finite; ``kinds``, ``fidelity``, ``output``, ``zscore``, ``preset`` and ``rng``
        are checked before any step runs.
    """
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or len(kinds) == 0:
        raise ValueError(
            f"kinds must be a non-empty sequence of artefact names (a list, not one name); "
            f"got {kinds!r}"
        )
    modules = [_module(kind) for kind in kinds]
    fidelity = check_choice("fidelity", options.pop("fidelity", "paper"), FIDELITIES)
    # Checked here, not only by the last step: a bad value must fail before any work.
    output = check_choice("output", options.pop("output", "real"), OUTPUTS)
    zscore = _check_zscore(options.pop("zscore", True))
    preset = options.pop("preset", None)
    unused = sorted(k for k in options if not any(k in m.ACCEPTED for m in modules))
    if unused:
        raise TypeError(
            f"option(s) {', '.join(unused)} accepted by none of the kinds {list(kinds)}"
        )
    step_presets = _step_presets(kinds, modules, preset, options)
    rng = to_rng(rng)
    current = check_image(image)
    steps: list[dict[str, Any]] = []
    for position, (kind, module, step_preset) in enumerate(
        zip(kinds, modules, step_presets, strict=True)
    ):
        last = position == len(kinds) - 1
        step_options = {k: v for k, v in options.items() if k in module.ACCEPTED}
        result = corrupt(
            current,
            kind,
            rng,
            fidelity=fidelity,
            output=output if last else "complex",
            zscore=zscore if last else False,
            preset=step_preset,
            **step_options,
        )
        current = result.image
        steps.append(result.params)
    return current, steps
