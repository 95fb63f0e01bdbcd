"""Where a result came from: profile, seeds, package versions, commit and machine.

Every notebook ends its set-up with ``show_provenance(profile=..., seed=...)``, so the
executed notebook (and the book page made from it) shows the reader what produced it.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from ..store import atomic_write_json, package_versions

__all__ = ["PACKAGES", "provenance", "show_provenance"]

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


def show_provenance(
    *, profile: str, seed: int | None = None, output_dir: str | os.PathLike | None = None, **extra
) -> dict[str, Any]:
    """Display the provenance in a notebook (a small table) and return it.

    With ``output_dir`` the same record is also written to ``provenance.json`` there.
    """
    record = provenance(profile=profile, seed=seed, **extra)
    if output_dir is not None:
        atomic_write_json(Path(output_dir) / "provenance.json", record, indent=2)
    rows = [(k, v) for k, v in record.items() if k not in ("packages", "machine")]
    rows += [(f"machine: {k}", v) for k, v in record["machine"].items()]
    rows += [(f"package: {k}", v) for k, v in record["packages"].items()]
    try:
        from IPython.display import Markdown, display
    except ImportError:  # outside IPython: print a plain listing
        for key, value in rows:
            print(f"{key}: {value}")
        return record
    table = "\n".join(f"| {key} | `{value}` |" for key, value in rows)
    display(Markdown(f"**Provenance of this page**\n\n| | |\n|---|---|\n{table}"))
    return record
