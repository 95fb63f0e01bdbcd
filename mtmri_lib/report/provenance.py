"""Where a result came from: profile, seeds, package versions, commit and machine.

Every notebook ends its set-up with ``show_provenance(profile=..., seed=...)``, so the
executed notebook (and the book page made from it) shows the reader what produced it.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from ..store import atomic_write_json, package_versions

__all__ = ["PACKAGES", "provenance", "provenance_html", "show_provenance"]

#: Distributions whose versions are recorded (those not installed are reported as such).
PACKAGES = (
    "mtmri",
    "numpy",
    "scipy",
    "gstools",
    "finufft",
    "scikit-image",
    "pandas",
    "scikit-posthocs",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "keras-tuner",
    "SimpleITK",
    "bm3d",
    "sewar",
    "nibabel",
    "pydicom",
    "h5py",
    "nilearn",
    "dipy",
    "matplotlib",
    "ipywidgets",
    "papermill",
    "jupyter-book",
)


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _gpus() -> list[str]:
    """Names of visible NVIDIA GPUs, without importing a deep-learning framework."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def provenance(*, profile: str, seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """Collect the provenance of a run as a JSON-serialisable dict.

    Parameters
    ----------
    profile : str
        The profile the run used (``smoke``, ``cpu`` or ``paper``).
    seed : int or None
        The run's global seed.
    **extra
        Anything else worth recording (data directory, model file...).
    """
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "profile": profile,
        "seed": seed,
        **extra,
        "commit": commit if commit else "unknown (not a git checkout)",
        "uncommitted_changes": bool(dirty) if dirty is not None else None,
        "packages": package_versions(PACKAGES),
        "python": platform.python_version(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "gpus": _gpus(),
        },
        "executed_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def provenance_html(record: dict[str, Any]) -> str:
    """The provenance ``record`` as an HTML table folded in a ``<details>`` element, whose
    one-line summary names the profile, seed and commit.

    (An HTML output, not Markdown: the book renders a notebook's Markdown outputs as
    CommonMark, which has no tables.)"""
    rows = [(k, v) for k, v in record.items() if k not in ("packages", "machine")]
    rows += [(f"machine: {k}", v) for k, v in record.get("machine", {}).items()]
    rows += [(f"package: {k}", v) for k, v in record.get("packages", {}).items()]
    body = "".join(
        f"<tr><th>{html.escape(str(key))}</th><td><code>{html.escape(str(value))}</code></td></tr>"
        for key, value in rows
    )
    commit = str(record.get("commit", "unknown"))[:12]
    summary = (
        f"Provenance of this page: profile {html.escape(str(record.get('profile')))}, "
        f"seed {html.escape(str(record.get('seed')))}, commit {html.escape(commit)}"
    )
    return (
        f'<details class="mtmri-provenance"><summary>{summary}</summary>'
        f'<table class="mtmri-provenance-table"><tbody>{body}</tbody></table></details>'
    )


def show_provenance(
    *, profile: str, seed: int | None = None, output_dir: str | os.PathLike | None = None, **extra
) -> dict[str, Any]:
    """Display the provenance in a notebook (a folded table, `provenance_html`) and return it.

    With ``output_dir`` the same record is also written to ``provenance.json`` there.
    """
    record = provenance(profile=profile, seed=seed, **extra)
    if output_dir is not None:
        atomic_write_json(Path(output_dir) / "provenance.json", record, indent=2)
    try:
        from IPython.display import HTML, display
    except ImportError:  # outside IPython: print a plain listing
        for key, value in record.items():
            print(f"{key}: {value}")
        return record
    display(HTML(provenance_html(record)))
    return record
