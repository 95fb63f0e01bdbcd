"""Interactive explorers of the artefacts and of a trained model's residuals.

Two kinds of each, for two audiences:

`artefact_explorer` (static-friendly)
    every parameter the article names for one artefact ("bias", "subsampling",
    "rigid motion", "periodic motion", "noise"; `EXPLORERS`), each as a control whose
    readout is the real value, ``jslink``-ed to a ``Stack`` of precomputed frames (the other
    parameters at their defaults), and one pair of interacting parameters as two controls
    over nested stacks. Each frame shows the clean and the corrupted slice, the corrupted
    k-space on a percentile-clipped log scale with the touched lines drawn over it, and the
    difference on the explorer's fixed scale; below it SSIM and VIF against the clean slice
    and the ``corrupt(...)`` call that reproduces it. papermill stores the widget state in
    the executed notebook and the rendered book embeds it, so the controls work in the
    static book with no kernel.
`live_artefact_explorer` (needs a kernel)
    any artefact, any strength, any seed, recomputed on every change with Python callbacks;
    for teaching from a running notebook.
`residual_explorer` (static-friendly)
    a slider ``jslink``-ed to a ``Stack`` of precomputed panels, one per chosen slice: the
    model's input, its output and the residual of each head, all residuals of all slices on
    one symmetric colour scale.
`live_residual_explorer` (needs a kernel)
    any evaluation set, any test slice, recomputed with Python callbacks.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..artefacts import KINDS, corrupt
from ..fourier import fft2c
from ..metrics import METRICS
from ..protocols import EvaluationSets, ResidualModel
from .artefacts import EXPLORER_DPI, plot_explorer_state
from .base import figure_png, kspace_limits, kspace_log
from .results import check_stack, residual_limit, residual_panel, residual_panels

__all__ = [
    "EXPLORERS",
    "EXPLORER_KSPACE_PERCENTILES",
    "EXPLORER_SIDE",
    "EXPLORER_MIN_SIDE",
    "Control",
    "ExplorerSpec",
    "ExplorerState",
    "ArtefactExplorer",
    "artefact_explorer",
    "control_of",
    "corrupt_call",
    "live_artefact_explorer",
    "panel_png",
    "ExplorerSlices",
    "explorer_slices",
    "residual_explorer",
    "live_residual_explorer",
]

#: Percentiles of the clean slice's log10 |k| that fix an explorer's k-space grey scale.
EXPLORER_KSPACE_PERCENTILES: tuple[float, float] = (1.0, 99.5)
#: Largest slice side the static explorers are drawn at: every frame is embedded in the
#: page, and a noisy frame costs about its pixel count in bytes (the book passes
#: min(gallery size, this)).
EXPLORER_SIDE = 128
#: Smallest slice side the explorers take: the rigid-motion frames lay out up to 24
#: segments separated by clean lines.
EXPLORER_MIN_SIDE = 64
#: Percentile of |corrupted - clean| over all frames of an explorer that sets its fixed
#: difference scale (the largest single pixels would leave every other frame pale).
_DIFFERENCE_PERCENTILE = 99.5
#: The article's pixel values hold for 320 x 320 images (as in `mtmri_lib.artefacts.motion`).
_REFERENCE_SIDE = 320


def _number(unit: str = "", digits: int = 3) -> Callable[[Any], str]:
    def readout(value: Any) -> str:
        if isinstance(value, float) and math.isinf(value):
            return "inf (none)"
        return f"{float(value):.{digits}g}{unit}"

    return readout


def _field_range(value: Any) -> str:
    return f"[{value[0]:.2f}, {value[1]:.2f}]"


def _times(value: Any) -> str:
    return "x1 (all lines)" if value == 1 else f"x{value:g}"


def _of_pi(value: Any) -> str:
    ratio = float(value) / math.pi
    for denominator in (1, 2, 3, 4, 5, 8, 9, 10, 16, 20, 40):
        numerator = ratio * denominator
        if abs(numerator - round(numerator)) < 1e-9:
            top = round(numerator)
            if top == 0:
                return "0"
            head = "pi" if top == 1 else f"{top}pi"
            return head if denominator == 1 else f"{head}/{denominator}"
    return f"{ratio:.3g}pi"


def _axis(value: Any) -> str:
    return "0 (a line is a row)" if value == 0 else "1 (a line is a column)"


@dataclass(frozen=True)
class Control:
    """One parameter of an explorer.

    Attributes
    ----------
    keyword : str
        The keyword of `mtmri_lib.artefacts.corrupt` it pins.
    label : str
        The control's description, in the article's terms.
    values : tuple
        The values the control steps through (precomputed, in order).
    default : object
        The value held while another control moves (one of ``values``).
    readout : callable
        value -> the text shown beside the control.
    widget : {"slider", "dropdown"}
    pixels : bool
        ``values`` are pixels of a 320 x 320 image (the article's); they are scaled to the
        slice (``value * side / 320``), and the readout shows the scaled value.
    """

    keyword: str
    label: str
    values: tuple[Any, ...]
    default: Any
    readout: Callable[[Any], str]
    widget: str = "slider"
    pixels: bool = False

    def __post_init__(self) -> None:
        if self.default not in self.values:
            raise ValueError(f"{self.keyword}: the default {self.default!r} is not a value")


@dataclass(frozen=True)
class ExplorerSpec:
    """What one explorer shows: its artefact, its controls, the pair explored together.

    ``fixed``: keywords pinned in every frame beside the controls' (``motion=...``).
    ``pair``: two keywords of ``controls``, with the indices into their values that the
    nested stacks hold.
    """

    kind: str
    title: str
    controls: tuple[Control, ...]
    pair: tuple[tuple[str, tuple[int, ...]], tuple[str, tuple[int, ...]]]
    fixed: dict[str, Any] = field(default_factory=dict)

    def control(self, keyword: str) -> Control:
        for control in self.controls:
            if control.keyword == keyword:
                return control
        raise KeyError(
            f"{self.title} has no control {keyword!r}; controls: "
            + ", ".join(c.keyword for c in self.controls)
        )


_PI = math.pi

#: The static explorers: every parameter the article names, per artefact.
EXPLORERS: dict[str, ExplorerSpec] = {
    "bias": ExplorerSpec(
        kind="bias",
        title="bias field",
        controls=(
            Control(
                "field_range",
                "field range",
                ((0.95, 1.05), (0.9, 1.1), (0.8, 1.2), (0.7, 1.3), (0.5, 1.5)),
                (0.8, 1.2),
                _field_range,
            ),
            Control(
                "length_scale",
                "length scale (cells)",
                (10.0, 20.0, 30.0, 40.0, 50.0),
                30.0,
                _number(" cells"),
            ),
        ),
        pair=(("field_range", (1, 2, 4)), ("length_scale", (0, 2, 4))),
    ),
    "subsampling": ExplorerSpec(
        kind="subsampling",
        title="k-space subsampling",
        controls=(
            Control("acceleration", "acceleration", (1, 2, 3, 4, 8), 4, _times),
            Control(
                "mask", "mask type", ("random", "equispaced", "centred"), "random", str, "dropdown"
            ),
            Control("pe_axis", "phase-encoding axis", (0, 1), 1, _axis, "dropdown"),
        ),
        pair=(("acceleration", (1, 2, 3, 4)), ("mask", (0, 1, 2))),
    ),
    "rigid motion": ExplorerSpec(
        kind="motion",
        title="rigid motion",
        fixed={"motion": "rigid", "pe_axis": 1},
        controls=(
            Control(
                "corrupted_fraction",
                "corrupted fraction",
                (0.2, 0.35, 0.5, 0.65, 0.8),
                0.5,
                _number(),
            ),
            Control("n_segments", "segments", (4, 8, 12, 16, 24), 8, _number()),
            Control(
                "rotation_sd", "rotation sd", (0.0, 3.0, 6.0, 12.0, 24.0), 12.0, _number(" deg")
            ),
            Control(
                "translation_sd",
                "translation sd",
                (0.0, 10.0, 20.0, 30.0, 60.0),
                30.0,
                _number(" px"),
                pixels=True,
            ),
            Control(
                "clean_centre",
                "clean centre",
                (0.0, 0.05, 0.07, 0.125, 0.25),
                0.07,
                _number(),
            ),
        ),
        pair=(("rotation_sd", (0, 3, 4)), ("translation_sd", (0, 3, 4))),
    ),
    "periodic motion": ExplorerSpec(
        kind="motion",
        title="periodic motion",
        fixed={"motion": "periodic", "pe_axis": 0},
        controls=(
            Control(
                "delta",
                "Delta (extent)",
                (20.0, 45.0, 70.0, 95.0, 120.0),
                70.0,
                _number(" px"),
                pixels=True,
            ),
            Control("frequency", "alpha (period)", (0.1, 1.0, 2.5, 4.0, 5.0), 2.5, _number()),
            Control(
                "phase",
                "beta (phase)",
                (0.0, _PI / 16, _PI / 8, 3 * _PI / 16, _PI / 4),
                _PI / 8,
                _of_pi,
            ),
            Control(
                "ky0",
                "k_y0 (clean centre)",
                (_PI / 40, _PI / 20, _PI / 10, _PI / 8, _PI / 4),
                _PI / 8,
                _of_pi,
            ),
        ),
        pair=(("delta", (0, 2, 4)), ("frequency", (0, 2, 4))),
    ),
    "noise": ExplorerSpec(
        kind="noise",
        title="noise",
        controls=(
            Control(
                "snr_db",
                "SNR",
                (math.inf, 10.0, 5.0, 0.0, -5.0, -12.0),
                0.0,
                _number(" dB"),
            ),
            Control("output", "image kept", ("real", "magnitude"), "real", str, "dropdown"),
        ),
        pair=(("snr_db", (1, 2, 3, 4, 5)), ("output", (0, 1))),
    ),
}


def _literal(value: Any) -> str:
    """``value`` as Python source that evaluates to it (for a pasteable call)."""
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return 'float("inf")' if value == math.inf else repr(value)
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) as a literal")


def corrupt_call(kind: str, seed: int, pinned: dict[str, Any]) -> str:
    """The ``corrupt(image, ...)`` call, with ``zscore=False``, that reproduces a frame
    (``image`` being the clean slice)."""
    options = "".join(f", {key}={_literal(value)}" for key, value in pinned.items())
    return f'corrupt(image, "{kind}", {int(seed)}, zscore=False{options})'


@dataclass
class ExplorerState:
    """One precomputed frame of an explorer.

    ``pinned`` holds every keyword given to `corrupt` (``output`` too); ``call`` is the
    pasteable line that reproduces ``image``; ``ssim`` and ``vif`` score it against the
    clean slice (`mtmri_lib.metrics`, both z-normalised); ``marked`` the k-space samples
    drawn over the k-space panel (None for bias and noise).
    """

    pinned: dict[str, Any]
    image: np.ndarray
    params: dict[str, Any]
    ssim: float
    vif: float
    call: str
    marked: np.ndarray | None


@dataclass
class ArtefactExplorer:
    """The explorers of one artefact: index it by keyword for that control's explorer, or
    by ``"pair"`` for the two parameters explored together; each is an ipywidgets box that
    works in the static book.

    Attributes
    ----------
    spec : ExplorerSpec
    seed : int
        One seed for every frame, so only the controlled values change.
    kspace_limits : (low, high)
        The k-space grey scale of every frame: `EXPLORER_KSPACE_PERCENTILES` of the clean
        slice's log10 |k|.
    difference_limit : float
        The difference scale of every frame (+- this).
    states : dict
        keyword -> one `ExplorerState` per value of the control (the others at defaults).
    pair_states : list of list
        ``pair_states[i][j]``: the first pair keyword at its i-th pair value, the second at
        its j-th.
    widgets : dict
        keyword (and ``"pair"``) -> the ipywidgets box.
    """

    spec: ExplorerSpec
    seed: int
    kspace_limits: tuple[float, float]
    difference_limit: float
    states: dict[str, list[ExplorerState]]
    pair_states: list[list[ExplorerState]]
    widgets: dict[str, Any]

    def __getitem__(self, keyword: str) -> Any:
        if keyword not in self.widgets:
            raise KeyError(
                f"{self.spec.title} has no explorer {keyword!r}; it has: " + ", ".join(self.widgets)
            )
        return self.widgets[keyword]


def _value(control: Control, value: Any, side: int) -> Any:
    if control.pixels:
        return round(float(value) * side / _REFERENCE_SIDE, 2)
    return value


def _marked(state_kind: str, result: Any, pe_axis: int, shape: tuple[int, ...]) -> Any:
    if state_kind == "subsampling":
        return ~np.asarray(result.mask, dtype=bool)
    if state_kind == "motion":
        lines = np.asarray(result.lines, dtype=bool)
        along = lines[:, None] if pe_axis == 0 else lines[None, :]
        return np.broadcast_to(along, shape).copy()
    return None


def artefact_explorer(
    clean: np.ndarray, name: str, *, seed: int = 0, dpi: int = EXPLORER_DPI, colours: int = 256
) -> ArtefactExplorer:
    """The static explorers of one artefact, working without a kernel.

    Parameters
    ----------
    clean : ndarray of shape (H, W)
        The clean slice, scaled to [0, 1], at least `EXPLORER_MIN_SIDE` pixels a side (the
        book uses at most `EXPLORER_SIDE`).
    name : {"bias", "subsampling", "rigid motion", "periodic motion", "noise"}
        A key of `EXPLORERS`.
    seed : int
        One seed for every frame.
    dpi, colours : int
        Resolution and palette size of the frames (`mtmri_lib.plotting.base.figure_png`).

    Returns
    -------
    ArtefactExplorer
        ``explorer[keyword]``: a box (heading, labelled control, stack of frames), the
        control (`control_of` the row) a ``SelectionSlider`` or ``Dropdown`` whose
        ``index`` is ``jslink``-ed to the stack; ``explorer["pair"]``: a box (heading, two
        labelled controls, a stack of stacks), the first control linked to the outer
        stack, the second to every inner one.

    Raises
    ------
    ValueError
        An unknown name, a clean slice that is not a finite 2-D image of at least
        `EXPLORER_MIN_SIDE` pixels a side, or ``colours`` outside 2-256.
    """
    import ipywidgets as widgets

    if name not in EXPLORERS:
        raise ValueError(f"name must be one of {', '.join(map(repr, EXPLORERS))}; got {name!r}")
    clean = np.asarray(clean, dtype=np.float64)
    if clean.ndim != 2 or not np.all(np.isfinite(clean)):
        raise ValueError(f"clean must be a finite 2-D image; got shape {clean.shape}")
    if min(clean.shape) < EXPLORER_MIN_SIDE:
        # Below it the default rigid motion cannot lay out its 24 segments.
        raise ValueError(
            f"clean must be at least {EXPLORER_MIN_SIDE} x {EXPLORER_MIN_SIDE} pixels; got "
            f"{clean.shape[0]} x {clean.shape[1]}"
        )
    if not isinstance(colours, int) or isinstance(colours, bool) or not 2 <= colours <= 256:
        raise ValueError(f"colours must be an int from 2 to 256; got {colours!r}")
    spec = EXPLORERS[name]
    side = int(clean.shape[0])
    computed: dict[str, ExplorerState] = {}

    def state(overrides: dict[str, Any]) -> ExplorerState:
        pinned = dict(spec.fixed)
        for control in spec.controls:
            chosen = overrides.get(control.keyword, control.default)
            pinned[control.keyword] = _value(control, chosen, side)
        call = corrupt_call(spec.kind, seed, pinned)
        if call not in computed:
            result = corrupt(clean, spec.kind, seed, zscore=False, **pinned)
            image = np.real(result.image).astype(np.float64)
            axis = int(pinned.get("pe_axis", 0))
            computed[call] = ExplorerState(
                pinned=pinned,
                image=image,
                params=result.params,
                ssim=float(METRICS["ssim"](clean, image)),
                vif=float(METRICS["vif"](clean, image)),
                call=call,
                marked=_marked(spec.kind, result, axis, clean.shape),
            )
        return computed[call]

    states = {c.keyword: [state({c.keyword: value}) for value in c.values] for c in spec.controls}
    (first, first_indices), (second, second_indices) = spec.pair
    first_control, second_control = spec.control(first), spec.control(second)
    pair_states = [
        [
            state({first: first_control.values[i], second: second_control.values[j]})
            for j in second_indices
        ]
        for i in first_indices
    ]
    k_limits = kspace_limits(kspace_log(fft2c(clean)), percentiles=EXPLORER_KSPACE_PERCENTILES)
    spread = [
        float(np.percentile(np.abs(s.image - clean), _DIFFERENCE_PERCENTILE))
        for s in computed.values()
    ]
    limit = max(spread) if spread and max(spread) > 0 else 1.0
    mark = "not acquired" if spec.kind == "subsampling" else "corrupted"
    frames: dict[str, Any] = {}

    def frame(s: ExplorerState) -> Any:
        # One frame per distinct state, shared by every stack that shows it.
        if s.call not in frames:
            fig = plot_explorer_state(
                clean,
                s.image,
                kspace_limits=k_limits,
                difference_limit=limit,
                marked=s.marked,
                mark=mark,
            )
            picture = widgets.Image(value=figure_png(fig, dpi, colours=colours), format="png")
            text = widgets.HTML(
                f"SSIM {s.ssim:.3f}, VIF {s.vif:.3f} (against the clean slice)<br>"
                f"<code>{html.escape(s.call)}</code>"
            )
            frames[s.call] = widgets.VBox([picture, text])
        return frames[s.call]

    defaults = ", ".join(
        f"{c.label} {c.readout(_value(c, c.default, side))}" for c in spec.controls
    )
    note = (
        f"the others at their defaults ({defaults}); seed {seed}; difference scale "
        f"+-{limit:.3g} in every frame"
    )
    boxes: dict[str, Any] = {}
    for control in spec.controls:
        index = control.values.index(control.default)
        stack = widgets.Stack([frame(s) for s in states[control.keyword]], selected_index=index)
        row = _chooser(control, range(len(control.values)), index, side)
        widgets.jslink((control_of(row), "index"), (stack, "selected_index"))
        heading = widgets.HTML(f"<b>{spec.title}</b>: {control.label}; {note}")
        boxes[control.keyword] = widgets.VBox([heading, row, stack])
    first_start = _closest(first_indices, first_control.values.index(first_control.default))
    second_start = _closest(second_indices, second_control.values.index(second_control.default))
    outer_chooser = _chooser(first_control, first_indices, first_start, side)
    inner_chooser = _chooser(second_control, second_indices, second_start, side)
    inners = []
    for row in pair_states:
        inner = widgets.Stack([frame(s) for s in row], selected_index=second_start)
        widgets.jslink((control_of(inner_chooser), "index"), (inner, "selected_index"))
        inners.append(inner)
    outer = widgets.Stack(inners, selected_index=first_start)
    widgets.jslink((control_of(outer_chooser), "index"), (outer, "selected_index"))
    heading = widgets.HTML(
        f"<b>{spec.title}</b>: {first_control.label} and {second_control.label} together; " + note
    )
    boxes["pair"] = widgets.VBox([heading, outer_chooser, inner_chooser, outer])
    return ArtefactExplorer(spec, seed, k_limits, limit, states, pair_states, boxes)


def _closest(indices: Sequence[int], wanted: int) -> int:
    """The position in ``indices`` of the value index nearest ``wanted``."""
    return min(range(len(indices)), key=lambda k: abs(indices[k] - wanted))


def _chooser(control: Control, indices: Sequence[int], start: int, side: int) -> Any:
    """A control over ``control.values[indices]`` whose readout is each real value; its
    ``index`` trait is what the stacks follow.

    The control has no ``description``: the widget manager typesets descriptions with
    MathJax 2's API, which fails on pages where the book loads MathJax 3; its name is an
    HTML label beside it instead (see `control_of`).
    """
    import ipywidgets as widgets

    options = [
        (control.readout(_value(control, control.values[i], side)), k)
        for k, i in enumerate(indices)
    ]
    common = {"options": options, "value": start, "layout": widgets.Layout(width="420px")}
    if control.widget == "dropdown":
        chooser = widgets.Dropdown(**common)
    else:
        chooser = widgets.SelectionSlider(continuous_update=True, readout=True, **common)
    label = widgets.HTML(
        f"<b>{html.escape(control.label)}</b>", layout=widgets.Layout(width="170px")
    )
    return widgets.HBox([label, chooser])


def control_of(row: Any) -> Any:
    """The control (``SelectionSlider`` or ``Dropdown``) of a labelled row of an explorer."""
    return row.children[1]


def panel_png(clean: np.ndarray, corrupted: np.ndarray, title: str, dpi: int = 80) -> bytes:
    """One explorer frame (`plot_explorer_state`) on the clean slice's own k-space scale and
    this frame's own difference scale, as PNG bytes (the live explorer's picture)."""
    diff = np.real(np.asarray(corrupted)) - clean
    limit = float(np.abs(diff).max()) or 1.0
    k_limits = kspace_limits(kspace_log(fft2c(clean)), percentiles=EXPLORER_KSPACE_PERCENTILES)
    fig = plot_explorer_state(
        clean, corrupted, kspace_limits=k_limits, difference_limit=limit, title=title
    )
    return figure_png(fig, dpi)


def _pinned(kind: str, value: Any) -> dict[str, Any]:
    if kind == "bias":
        return {"field_range": (1 - value / 2, 1 + value / 2)}
    if kind == "subsampling":
        return {"acceleration": value}
    if kind == "motion":
        return {"corrupted_fraction": value}
    return {"snr_db": value}


def _linked_stack(pictures: Sequence[bytes], label: str, description: str, *, readout: bool):
    """(label, slider, stack): an ``IntSlider`` ``jslink``-ed to a ``Stack`` of PNG images, so
    the slider works in the browser with no kernel."""
    import ipywidgets as widgets

    # No margin around the pictures: with the default one a picture as wide as the column
    # makes the stack scroll sideways by a few pixels.
    tight = {"margin": "0", "max_width": "100%"}
    stack = widgets.Stack(
        [widgets.Image(value=png, format="png", layout=tight) for png in pictures],
        selected_index=0,
    )
    # No ``description``: the widget manager typesets it with MathJax 2's API, which fails
    # where the book loads MathJax 3; the word goes in the label above instead.
    slider = widgets.IntSlider(
        value=0, min=0, max=len(pictures) - 1, readout=readout, continuous_update=True
    )
    widgets.jslink((slider, "value"), (stack, "selected_index"))
    return widgets.VBox([widgets.HTML(f"{label} ({description}: the slider)"), slider, stack])


def live_artefact_explorer(clean: np.ndarray):
    """Any artefact at any strength and seed, recomputed in the kernel (needs a kernel)."""
    import ipywidgets as widgets

    kind = widgets.Dropdown(options=list(KINDS), value="motion", description="artefact")
    strength = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="strength")
    seed = widgets.IntText(value=0, description="seed")
    picture = widgets.Image(format="png")

    def strength_to_value(name: str, s: float) -> Any:
        # 0 = the identity, 1 = the article's strongest setting.
        if name == "bias":
            return s
        if name == "subsampling":
            return 1 + round(s * 7)
        if name == "motion":
            return round(0.8 * s, 3)
        return float("inf") if s == 0 else 10 - 22 * s

    def redraw(*_: Any) -> None:
        value = strength_to_value(kind.value, strength.value)
        extra: dict[str, Any] = {"mask": "random"} if kind.value == "subsampling" else {}
        if kind.value == "subsampling" and value not in (1, 2, 3, 4, 8):
            extra["centre_fraction"] = 0.08
        result = corrupt(
            clean, kind.value, seed.value, zscore=False, **extra, **_pinned(kind.value, value)
        )
        picture.value = panel_png(clean, result.image, f"{kind.value}: {value}")

    for control in (kind, strength, seed):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([kind, strength, seed]), picture])


# --------------------------------------------------------------------------- residuals


@dataclass
class ExplorerSlices:
    """Slices chosen from evaluation sets for `residual_explorer`.

    Attributes
    ----------
    images : ndarray of shape (n, S, S)
        The corrupted slices (z-normalised, as stored).
    references : ndarray of shape (n, S, S)
        The clean slices (z-normalised).
    titles : list of str
        Per slice: set, test slice, its volume and slice, and the artefacts in the order
        they were applied.
    """

    images: np.ndarray
    references: np.ndarray
    titles: list[str]


def explorer_slices(
    sets: EvaluationSets,
    set_names: Sequence[str] = ("subsampling+motion", "noise+bias"),
    per_set: int = 3,
) -> ExplorerSlices:
    """``per_set`` test slices of each named evaluation set, spread evenly over the test set
    (so they come from different volumes where there are several).

    Raises
    ------
    KeyError
        A set the evaluation sets do not hold.
    ValueError
        ``per_set`` < 1, or no set named.
    """
    if per_set < 1:
        raise ValueError(f"per_set must be at least 1; got {per_set}")
    if not set_names:
        raise ValueError("set_names must name at least one evaluation set")
    missing = [name for name in set_names if name not in sets.names]
    if missing:
        raise KeyError(f"no evaluation set {', '.join(missing)}; sets: {', '.join(sets.names)}")
    n_slices = int(sets.clean.shape[0])
    if n_slices == 0:
        raise ValueError("the evaluation sets hold no test slices")
    chosen = np.unique(np.linspace(0, n_slices - 1, min(per_set, n_slices)).round().astype(int))
    images, references, titles = [], [], []
    for name in set_names:
        evalset = sets[name]
        for index in chosen:
            images.append(evalset.corrupted[index])
            references.append(sets.clean[index])
            params = evalset.params[index] if index < len(evalset.params) else {}
            applied = " then ".join(params.get("order", evalset.setting.kinds))
            origin = sets.slices[index] if index < len(sets.slices) else {}
            where = f" ({origin['volume']} #{origin['slice_index']})" if origin else ""
            titles.append(f"{name}, test slice {index}{where}: {applied}")
    return ExplorerSlices(np.stack(images), np.stack(references), titles)


def residual_explorer(
    images: Any,
    corrector: ResidualModel,
    titles: Sequence[str] | None = None,
    dpi: int = 100,
    *,
    references: Any = None,
):
    """A slider over slices showing what each head of a model does, working without a kernel.

    Parameters
    ----------
    images : ndarray of shape (n, S, S) or sequence of (S, S)
        The slices (corrupted, at the model's size S), at least one.
    corrector : ModelCorrector
        A trained multi-task model (`mtmri_lib.inference.model_method`).
    titles : sequence of str or None
        One per slice (None: "slice k").
    dpi : int
        Resolution of the precomputed pictures.
    references : ndarray of shape (n, S, S) or None
        The clean slices, shown first in each picture where given.

    Returns
    -------
    ipywidgets.VBox
        (label, slider, stack): a slider ``jslink``-ed to a ``Stack`` of one precomputed
        picture per slice (`mtmri_lib.plotting.results.residual_panels`: input, output, every
        head's residual with its mean |p|; the residuals of all slices on one symmetric
        scale).

    Raises
    ------
    ValueError
        No slice, slices not of the model's size, or a wrong number of titles.
    """

    stack = check_stack(images, corrector)
    outputs = corrector.outputs(stack)
    limit = residual_limit(outputs)
    figures = residual_panels(
        stack, corrector, titles=titles, references=references, outputs=outputs
    )
    name = getattr(corrector, "name", "the model")
    label = (
        f"<b>{name}</b>: slide through {len(figures)} slices; every residual on one colour "
        f"scale, +-{limit:.3g} (z-normalised input units)"
    )
    return _linked_stack([figure_png(fig, dpi) for fig in figures], label, "slice", readout=True)


def live_residual_explorer(sets: EvaluationSets, corrector: ResidualModel, *, dpi: int = 100):
    """Any evaluation set, any test slice, through a model, recomputed in the kernel.

    Parameters
    ----------
    sets : mtmri_lib.data.EvalSets
    corrector : ModelCorrector
        At the sets' image size.

    Returns
    -------
    ipywidgets.VBox
        A dropdown of the sets and a slider of the test slice above one picture: the clean
        slice, the corrupted input and the output (SSIM and VIF against the clean slice in
        their titles) and every head's residual on this slice's own symmetric scale. Needs a
        running kernel; the static book shows the first picture only.
    """
    import ipywidgets as widgets

    if len(sets.names) == 0:
        raise ValueError("the evaluation sets hold no set")
    check_stack(sets.clean[:1], corrector)
    names = list(sets.names)
    default = "subsampling+motion" if "subsampling+motion" in names else names[0]
    chooser = widgets.Dropdown(options=names, value=default, description="set")
    index = widgets.IntSlider(
        value=0, min=0, max=int(sets.clean.shape[0]) - 1, description="test slice"
    )
    picture = widgets.Image(format="png")

    def redraw(*_: Any) -> None:
        evalset = sets[chooser.value]
        image, clean = evalset.corrupted[index.value], sets.clean[index.value]
        outputs = corrector.outputs(image[None])
        outputs = {key: value[0] for key, value in outputs.items()}
        scores = {
            name: ", ".join(
                f"{metric.upper()} {METRICS[metric](clean, values):.3f}"
                for metric in ("ssim", "vif")
            )
            for name, values in (("input", image), ("output", outputs["image"]))
        }
        fig = residual_panel(
            image,
            outputs,
            tasks=list(corrector.tasks),
            reference=clean,
            scores=scores,
            title=f"{chooser.value} ({evalset.setting.label}), test slice {index.value}",
        )
        picture.value = figure_png(fig, dpi)

    for control in (chooser, index):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([chooser, index]), picture])
