"""The smaller tables the chapters show, computed from the library's objects.

Data chapter: `describe_samples`, `summarise_samples`, `demo_source_table`,
`split_summary`, `slice_counts`. Artefacts: `GALLERY`, `artefact_gallery`,
`summarise_gallery`, `preset_effects`. Baselines: `describe_methods`. Loss:
`kernel_loss_table`. Search: `search_space_table`, `table2`. Training: `training_summary`,
`hyperparameter_table`, `seed_spread`.
"""

from __future__ import annotations

from .. import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_choice, check_image, check_int, profile_name
from ..artefacts import KINDS, corrupt, preset_names, preset_values
from ..baselines import BASELINE_INFO, BASELINES, NOT_AVAILABLE
from ..data import demo_volumes, informative_slices, prepare_slice
from ..data.demo import DEMO_SOURCES
from ..data.samples import SampleGenerator
from ..data.slicesets import SliceSet, volume_contrast
from ..inference import TrainedModel
from ..losses import KERNEL_NAMES, KERNEL_SYMBOLS, check_deltas, kernel_responses
from ..metrics import FIDELITIES, ssim, vif
from ..models import MODEL_LABELS, ModelSpec, model_spec
from ..profiles import DRY_RUN_NOTE, is_dry_run
from ..training import ARTICLE_HYPERPARAMETERS, training_settings
from ..training.search import search_space, search_trials

__all__ = [
    "describe_samples",
    "summarise_samples",
    "demo_source_table",
    "describe_methods",
    "kernel_loss_table",
    "training_summary",
    "search_space_table",
    "table2",
    "table2_compact",
    "seed_spread",
    "hyperparameter_table",
    "split_summary",
    "slice_counts",
    "subject_table",
    "real_slices",
    "summarise_gallery",
    "preset_effects",
    "TABLE2_ROWS",
    "GalleryEntry",
    "artefact_gallery",
    "GALLERY",
]

#: Rows of Table 2: (row label, key in a trial / the article's record).
TABLE2_ROWS: tuple[tuple[str, str], ...] = (
    ("optimizer", "optimizer"),
    ("learning rate", "learning_rate"),
    ("alpha", "alpha"),
    *((f"delta ({KERNEL_SYMBOLS[name]})", f"delta_{name}") for name in KERNEL_NAMES),
    ("trials", "trials"),
    ("best val MSE", "val_mse"),
)

#: Three strengths per artefact (mild, moderate, strong), each a set of pinned parameters.
#: Bias widths and noise levels span the article's training ranges; subsampling uses the
#: article's accelerations; motion pins the fraction of corrupted lines (and one pose draw).
GALLERY: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "bias": [
        ("field 0.9-1.1", {"field_range": (0.9, 1.1)}),
        ("field 0.75-1.25", {"field_range": (0.75, 1.25)}),
        ("field 0.5-1.5", {"field_range": (0.5, 1.5)}),
    ],
    "subsampling": [
        ("random x2", {"acceleration": 2, "mask": "random"}),
        ("random x4", {"acceleration": 4, "mask": "random"}),
        ("random x8", {"acceleration": 8, "mask": "random"}),
    ],
    "motion": [
        ("rigid, 30 % of lines", {"motion": "rigid", "corrupted_fraction": 0.3}),
        ("rigid, 55 % of lines", {"motion": "rigid", "corrupted_fraction": 0.55}),
        ("rigid, 80 % of lines", {"motion": "rigid", "corrupted_fraction": 0.8}),
    ],
    "periodic motion": [
        ("periodic, Delta 20 px", {"motion": "periodic", "delta": 20.0}),
        ("periodic, Delta 70 px", {"motion": "periodic", "delta": 70.0}),
        ("periodic, Delta 120 px", {"motion": "periodic", "delta": 120.0}),
    ],
    "noise": [
        ("SNR 10 dB", {"snr_db": 10.0}),
        ("SNR 0 dB", {"snr_db": 0.0}),
        ("SNR -10 dB", {"snr_db": -10.0}),
    ],
}


def describe_samples(
    clean: Any,
    n_samples: int,
    *,
    seed: int = 0,
    tasks: Sequence[str] = KINDS,
    fidelity: str = "paper",
    artefact_options: Mapping[str, Mapping[str, Any]] | None = None,
):
    """The artefacts and main parameters of the first ``n_samples`` training samples of epoch 0.

    Returns a pandas DataFrame, one row per sample: ``kind`` and, where they apply,
    ``field_width`` (max - min of the bias field range), ``length_scale``, ``acceleration``,
    ``mask``, ``pe_axis``, ``corrupted_fraction``, ``n_segments``, ``snr_db``. Samples wrap
    around the slices when ``n_samples`` exceeds them (later epochs).
    """
    import pandas as pd

    generator = SampleGenerator(
        clean,
        batch_size=1,
        tasks=tasks,
        seed=seed,
        fidelity=fidelity,
        artefact_options=artefact_options,
    )
    n = len(generator.clean)
    rows = []
    for i in range(check_int("n_samples", n_samples, 1)):
        sample = generator.sample(i // n, i % n)
        params = sample.params
        row: dict[str, Any] = {"kind": sample.kind}
        if "field_range" in params:
            low, high = params["field_range"]
            row["field_width"] = float(high) - float(low)
        for key in (
            "length_scale",
            "acceleration",
            "mask",
            "pe_axis",
            "motion",
            "corrupted_fraction",
            "n_segments",
            "snr_db",
        ):
            if key in params:
                row[key] = params[key]
        rows.append(row)
    return pd.DataFrame(rows)


def summarise_samples(samples: Any):
    """Per artefact: how many samples, their share, and the range of each parameter drawn.

    ``samples`` is the DataFrame of `describe_samples`; returns a DataFrame indexed by kind.
    """
    import pandas as pd

    rows = []
    for kind, group in samples.groupby("kind", sort=False):
        ranges = []
        for key in group.columns.drop("kind"):
            values = group[key].dropna()
            if values.empty:
                continue
            if pd.api.types.is_numeric_dtype(values):
                distinct = sorted(values.unique())
                if len(distinct) <= 4:
                    ranges.append(f"{key} in {{{', '.join(f'{v:g}' for v in distinct)}}}")
                else:
                    ranges.append(f"{key} {values.min():.3g} to {values.max():.3g}")
            else:
                ranges.append(f"{key} in {{{', '.join(sorted(map(str, values.unique())))}}}")
        rows.append(
            {
                "kind": kind,
                "samples": len(group),
                "share": round(len(group) / len(samples), 3),
                "parameters drawn": "; ".join(ranges),
            }
        )
    order = list(KINDS)
    table = pd.DataFrame(rows).set_index("kind")
    return table.reindex([k for k in order if k in table.index])


def demo_source_table():
    """The demo sources as a pandas DataFrame (name, role, package file, what, licence)."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "name": s.name,
                "used for": (
                    "tissue maps of the synthetic subjects; example slices"
                    if s.role == "template"
                    else "real-data check (Figure 2), not scored"
                ),
                "file": f"{s.package}/{s.path}",
                "what it is": s.description,
                "licence": s.licence,
            }
            for s in DEMO_SOURCES
        ]
    )


def describe_methods():
    """A table of the article's comparison methods: settings and whether they run here."""
    import pandas as pd

    rows = []
    for key, info in {**BASELINE_INFO, **NOT_AVAILABLE}.items():
        if key in BASELINES:
            status = "runs here"
        elif key in NOT_AVAILABLE:
            status = "not available here"
        else:
            status = f"not run: {info.package} not installed"
        rows.append(
            {
                "method": info.label,
                "table": info.table,
                "artefact": info.artefact,
                "settings": info.settings,
                "status": status,
            }
        )
    return pd.DataFrame(rows).set_index("method").sort_values("table", kind="stable")


def kernel_loss_table(
    reference: np.ndarray,
    images: Mapping[str, np.ndarray],
    deltas: Mapping[str, float] | None = None,
):
    """The loss of each image against a reference: MSE, every kernel term, and L_C.

    Parameters
    ----------
    reference : ndarray of shape (H, W)
        The artefact-free image.
    images : dict
        ``{label: image (H, W)}``, for example a blurred and a noisy version.
    deltas : dict or None
        Weights of the L_C column (None: only the MSE, so L_C equals it).

    Returns
    -------
    pandas.DataFrame
        One row per image; columns ``"MSE"``, one column per kernel with its unweighted term
        ``MSE(I_k * reference, I_k * image)`` (the ``identity`` column equals the MSE), and
        ``"L_C"`` = sum over kernels of delta_k times that term. Computed in float64 numpy.
    """
    import pandas as pd

    deltas = check_deltas(deltas)
    reference = np.asarray(reference, dtype=np.float64)
    rows = {}
    for label, image in images.items():
        difference = reference - np.asarray(image, dtype=np.float64)
        if difference.shape != reference.shape or difference.ndim != 2:
            raise ValueError(f"image {label!r} must have the reference's shape (H, W)")
        terms = {name: float(np.mean(r**2)) for name, r in kernel_responses(difference).items()}
        rows[label] = {
            "MSE": float(np.mean(difference**2)),
            **terms,
            "L_C": sum(deltas[name] * terms[name] for name in KERNEL_NAMES),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def training_summary(trained: Sequence[TrainedModel]):
    """One row per trained model: epochs, best validation MSE, time, throughput, settings."""
    import pandas as pd

    rows = []
    for model in trained:
        record = model.record
        hyper = record["hyperparameters"]
        rows.append(
            {
                "model": model.label,
                "seed": model.seed,
                "epochs": record["epochs"],
                "best epoch": record["best_epoch"],
                "stopped early": record["stopped_early"],
                "best val MSE": record["best_val_mse"],
                "input val MSE": record.get("reference_val_mse"),
                "training time (s)": record["train_seconds"],
                "images/s": record["images_per_second"],
                "runs (1 = not interrupted)": record["runs"],
                "optimizer": hyper["optimizer"],
                "learning rate": hyper["learning_rate"],
                "alpha": hyper["alpha"],
                "loss": "L_C" if hyper["deltas"] is not None else "MSE",
                "hyper-parameters": record["hyperparameters_source"],
                "data": record["data"]["source"],
            }
        )
    return pd.DataFrame(rows)


def search_space_table(model: str | ModelSpec):
    """The search space of a model as a table: one row per hyper-parameter, its range and
    scale (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for hp in search_space(model).space:
        if type(hp).__name__ == "Choice":
            rows.append({"hyper-parameter": hp.name, "values": ", ".join(map(str, hp.values))})
        else:
            rows.append(
                {
                    "hyper-parameter": hp.name,
                    "values": f"[{hp.min_value:g}, {hp.max_value:g}]",
                    "sampling": hp.sampling,
                }
            )
    return pd.DataFrame(rows).set_index("hyper-parameter").fillna("")


def table2(
    profile: Any,
    output_dir: str | os.PathLike,
    *,
    models: Sequence[str] = MODEL_LABELS,
):
    """Table 2: the best hyper-parameters of this run's search beside the article's.

    Rows: optimiser, learning rate, alpha, the nine deltas, the number of trials and the best
    validation MSE; columns: (model, ``"article"`` / ``"this run"``). The article's values are
    those FACTS.md lists (all else "unknown", never filled in); "*" marks deltas that do not
    apply (models without L_C, as the article's table marks them); "not searched" marks models
    this profile does not search. The table's ``attrs["caption"]`` names the profile.
    """
    import pandas as pd

    profile = profile_name(profile)
    columns, data = [], []
    for label in models:
        trials = search_trials(label, profile, output_dir)
        best = None
        if not trials.empty:
            done = trials[trials["status"].eq("COMPLETED") & trials["val_mse"].notna()]
            if not done.empty:
                best = done.loc[done["val_mse"].idxmin()].dropna().to_dict()
        n_trials = 0 if trials.empty else int(trials["status"].eq("COMPLETED").sum())
        columns += [(label, "article"), (label, "this run")]
        data.append([_article_value(label, key) for _, key in TABLE2_ROWS])
        data.append([_run_value(label, key, best, n_trials) for _, key in TABLE2_ROWS])
    table = pd.DataFrame(
        np.array(data, dtype=object).T,
        index=[row for row, _ in TABLE2_ROWS],
        columns=pd.MultiIndex.from_tuples(columns, names=["model", "source"]),
    )
    settings = training_settings(profile)
    table.attrs["caption"] = (
        f"Table 2 of the article beside this run's search (profile {profile!r}: "
        f"{settings.search_max_epochs} epoch(s) of at most "
        f"{settings.search_steps_per_epoch or 'all'} batches per trial"
        + (
            f", {DRY_RUN_NOTE}"
            if is_dry_run(profile)
            else ", synthetic subjects"
            if profile != "paper"
            else ", patience " + str(settings.search_patience)
        )
        + "). The article's table body is not available: values it does not state are "
        "'unknown'. '*': not optimised (no L_C)."
    )
    return table


#: Table 2's long cell values, shortened so the seven models fit the book's column.
TABLE2_SHORT = {"not searched": "–", "unknown": "?"}


def table2_compact(table):
    """`table2` with one column per model, each cell ``article | this run`` (``?``: the
    article does not state it; ``–``: this profile does not search the model; ``*``: not
    optimised), so that the table fits a 784 px column; returned as a pandas Styler whose
    HTML caption is the table's ``attrs["caption"]`` with that legend (an HTML caption, so a
    literal ``*`` stays a star)."""
    import html

    import pandas as pd

    def short(value: Any) -> str:
        text = str(value)
        for long, abbreviation in TABLE2_SHORT.items():
            text = text.replace(long, abbreviation)
        return text

    models = list(dict.fromkeys(table.columns.get_level_values("model")))
    compact = pd.DataFrame(
        {
            model: [
                f"{short(a)} | {short(r)}"
                for a, r in zip(table[(model, "article")], table[(model, "this run")], strict=True)
            ]
            for model in models
        },
        index=table.index,
    )
    caption = (
        table.attrs.get("caption", "Table 2")
        + " Each cell: article | this run; '?': not stated by the article; '–': not searched "
        "in this profile."
    )
    return compact.style.set_caption(html.escape(caption))


def seed_spread(trained: Sequence[Any]):
    """Per model: number of seeds, and the mean, standard deviation and range of the best
    validation MSE over them (the seed noise a difference between models must exceed)."""
    import pandas as pd

    rows = {}
    for label in dict.fromkeys(model.label for model in trained):
        values = np.array([m.record["best_val_mse"] for m in trained if m.label == label], float)
        rows[label] = {
            "seeds": len(values),
            "mean best val MSE": float(np.mean(values)),
            "sd over seeds": float(np.std(values, ddof=1)) if len(values) > 1 else None,
            "min": float(np.min(values)),
            "max": float(np.max(values)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def hyperparameter_table(hyperparameters: Mapping[str, Any]):
    """One row per model: optimiser, learning rate, alpha and the nine deltas (blank: MSE).

    ``hyperparameters`` maps a label to a `HyperParameters` (or its ``to_dict()``).
    """
    import pandas as pd

    rows = {}
    for label, hyper in hyperparameters.items():
        values = hyper.to_dict() if hasattr(hyper, "to_dict") else dict(hyper)
        row = {
            "optimizer": values["optimizer"],
            "learning rate": values["learning_rate"],
            "alpha": values["alpha"],
        }
        for name in KERNEL_NAMES:
            deltas = values.get("deltas")
            row[f"delta {KERNEL_SYMBOLS[name]}"] = None if deltas is None else deltas[name]
        rows[label] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def split_summary(sets: Mapping[str, SliceSet]):
    """Slices, volumes and patients per split (a pandas DataFrame)."""
    import pandas as pd

    return pd.DataFrame([s.summary() for s in sets.values()]).set_index("split")


def slice_counts(sets: Mapping[str, SliceSet]):
    """Slices per volume (rows) and split (columns), with totals (a pandas DataFrame)."""
    import pandas as pd

    frames = [pd.Series(s.volume).value_counts().rename(name) for name, s in sets.items() if len(s)]
    table = pd.concat(frames, axis=1).fillna(0).astype(int).sort_index()
    table.loc["total"] = table.sum()
    table.index.name = "volume"
    return table


def subject_table(sets: Mapping[str, SliceSet]):
    """Per split: subjects, slices, and subjects per contrast (a pandas DataFrame).

    The contrast is read from the volume labels of synthetic subjects ("synthetic-007
    (FLAIR)"); volumes of real data count under "real data".
    """
    import pandas as pd

    rows = {}
    for name, slice_set in sets.items():
        contrast = {}
        for patient, label in zip(slice_set.patient_id, slice_set.volume, strict=True):
            contrast[str(patient)] = volume_contrast(patient, label)
        counts = pd.Series(list(contrast.values()), dtype=str).value_counts()
        rows[name] = {
            "subjects": len(contrast),
            "slices": len(slice_set),
            **{f"{key} subjects": int(value) for key, value in counts.sort_index().items()},
        }
    table = pd.DataFrame(rows).T.fillna(0).astype(int)
    table.index.name = "split"
    return table


def real_slices(size: int) -> list[tuple[str, np.ndarray]]:
    """The middle informative slice of each real packaged image (`demo_volumes("real")`),
    prepared at ``size`` as the pipeline prepares every slice: ``[(name, slice), ...]``."""
    shown = []
    for volume in demo_volumes("real"):
        keep = np.flatnonzero(informative_slices(volume.data))
        if len(keep):
            middle = int(keep[len(keep) // 2])
            shown.append((str(volume.metadata["demo"]), prepare_slice(volume.data[middle], size)))
    return shown


def summarise_gallery(clean: np.ndarray, entries: list[GalleryEntry]):
    """A table (pandas DataFrame) of each entry's error: RMSE and max |difference|."""
    import pandas as pd

    rows = []
    for entry in entries:
        diff = entry.image - clean
        rows.append(
            {
                "artefact": entry.row,
                "setting": entry.label,
                "RMSE": float(np.sqrt(np.mean(diff**2))),
                "max |difference|": float(np.abs(diff).max()),
            }
        )
    return pd.DataFrame(rows)


def preset_effects(
    images: np.ndarray | Sequence[np.ndarray],
    *,
    seed: int = 0,
    draws: int = 4,
    max_images: int | None = None,
    kinds: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    fidelity: str = "paper",
):
    """The measured image-quality drop of every severity preset, over slices and draws.

    Each clean slice is corrupted ``draws`` times with each preset of each kind (what the
    preset leaves open is drawn anew each time) and scored against itself with
    `mtmri_lib.metrics.ssim` and `mtmri_lib.metrics.vif`, both images z-normalised; the drop
    is ``1 - metric`` (0: unchanged; a VIF above 1, as a contrast-raising bias field can
    give, is a negative drop).

    Parameters
    ----------
    images : ndarray of shape (n, H, W), or a sequence of (H, W) arrays
        Clean slices as the pipeline gives them (scaled to [0, 1]); at least 7 x 7 (the
        SSIM window).
    seed : int
        Non-negative. Each (kind, preset) pair draws from its own Generator,
        ``SeedSequence([seed, crc32(kind), crc32(preset)])``, so adding a preset or a kind
        changes no other row.
    draws : int
        Corruptions per slice and preset (>= 1).
    max_images : int, optional
        Use at most this many slices (>= 1), evenly spread over ``images`` (a stack holds
        the slices of one volume together, so the first few would be one volume's).
    kinds : sequence of str, optional
        The kinds to measure (default: all four, in the heads' order).
    names : sequence of str, optional
        The presets to measure for every kind (default: each kind's own, `preset_names`); for
        example ``("mild", "moderate", "severe")``.
    fidelity : {"paper", "code"}
        Passed to `corrupt` and the metrics.

    Returns
    -------
    pandas.DataFrame
        Indexed by (kind, preset); columns ``setting`` (the pinned values), ``samples``
        (slices x draws), and for SSIM and VIF the mean drop, its sample sd and its 5 % and
        95 % percentiles (``SSIM drop``, ``SSIM drop sd``, ``SSIM drop 5%``,
        ``SSIM drop 95%``, the same for ``VIF``).

    Raises
    ------
    ValueError, TypeError
        For no images, an image that is not a finite 2-D array, a bad ``seed`` or ``draws``,
        an unknown kind, or a preset a kind does not have (naming the kind).
    """
    import pandas as pd

    if isinstance(images, np.ndarray) and images.ndim == 2:
        raise ValueError(
            f"images must be a stack (n, H, W) or a sequence of slices; got one slice of shape "
            f"{images.shape} (wrap it in a list)"
        )
    if len(images) == 0:
        raise ValueError("images must hold at least one slice; got none")
    positions = np.arange(len(images))
    if max_images is not None:
        max_images = check_int("max_images", max_images, 1)
        if len(images) > max_images:
            positions = np.unique(np.round(np.linspace(0, len(images) - 1, max_images)))
    slices = [check_image(images[int(i)], f"images[{int(i)}]") for i in positions]
    seed = check_int("seed", seed, 0)
    draws = check_int("draws", draws, 1)
    check_choice("fidelity", fidelity, FIDELITIES)
    kinds = KINDS if kinds is None else tuple(check_choice("kind", k, KINDS) for k in kinds)
    plan = [
        (kind, name, preset_values(kind, name))  # checked before any work
        for kind in kinds
        for name in (preset_names(kind) if names is None else names)
    ]
    rows = []
    for kind, name, values in plan:
        rng = np.random.default_rng(
            np.random.SeedSequence([seed, zlib.crc32(kind.encode()), zlib.crc32(name.encode())])
        )
        ssim_drop, vif_drop = [], []
        for clean in slices:
            for _ in range(draws):
                corrupted = corrupt(clean, kind, rng, preset=name, fidelity=fidelity).image
                ssim_drop.append(1.0 - ssim(clean, corrupted, fidelity=fidelity))
                vif_drop.append(1.0 - vif(clean, corrupted, fidelity=fidelity))
        rows.append(
            {
                "kind": kind,
                "preset": name,
                "setting": _setting_text(values),
                "samples": len(ssim_drop),
                **_drop_statistics("SSIM", np.asarray(ssim_drop)),
                **_drop_statistics("VIF", np.asarray(vif_drop)),
            }
        )
    return pd.DataFrame(rows).set_index(["kind", "preset"])


def _article_value(label: str, key: str) -> str:
    known = ARTICLE_HYPERPARAMETERS[label]
    spec = model_spec(label)
    if key == "optimizer":
        return "RMSprop"
    if key == "learning_rate":
        return "unknown"
    if key == "alpha":
        if known["alpha"] is not None:
            return f"{known['alpha']:.2f}"
        low, high = known["alpha_range"]
        return f"unknown ({low}-{high})"
    if key.startswith("delta_"):
        if not spec.convolutional_loss:
            return "*"
        value = known["deltas"][key.removeprefix("delta_")]
        return "unknown" if value is None else f"{value:.2f}"
    if key == "trials":
        return str(known["search_trials"])
    return "unknown"


def _run_value(label: str, key: str, best: Mapping[str, Any] | None, n_trials: int) -> str:
    if best is None:
        return "not searched"
    if key == "trials":
        return str(n_trials)
    if key.startswith("delta_") and not model_spec(label).convolutional_loss:
        return "*"
    value = best.get(key)
    if value is None:
        return "-"
    if key == "optimizer":
        return {"adam": "Adam", "rmsprop": "RMSprop"}[value]
    if key == "learning_rate":
        return f"{value:.2e}"
    if key == "val_mse":
        return f"{value:.4f}"
    return f"{value:.2f}"


@dataclass
class GalleryEntry:
    """One corrupted image of the gallery."""

    row: str
    label: str
    image: np.ndarray
    params: dict[str, Any]


def _kind(row: str) -> str:
    return "motion" if row == "periodic motion" else row


def artefact_gallery(clean: np.ndarray, seed: int = 0) -> list[GalleryEntry]:
    """Corrupt ``clean`` with every gallery setting.

    Within a row all three strengths share one seed, so only the pinned strength changes
    (the same bias field shape, the same pose draw, the same noise pattern).
    Images keep the clean image's scale (``zscore=False``), so differences are comparable.
    """
    entries = []
    for row, settings in GALLERY.items():
        for label, fixed in settings:
            result = corrupt(clean, _kind(row), seed, zscore=False, **fixed)
            entries.append(GalleryEntry(row, label, result.image, result.params))
    return entries


def _setting_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in values.items())


def _drop_statistics(label: str, drops: np.ndarray) -> dict[str, float]:
    return {
        f"{label} drop": float(np.mean(drops)),
        # The sample sd; undefined for a single value.
        f"{label} drop sd": float(np.std(drops, ddof=1)) if drops.size > 1 else float("nan"),
        f"{label} drop 5%": float(np.percentile(drops, 5)),
        f"{label} drop 95%": float(np.percentile(drops, 95)),
    }
