"""What a timing depends on: the CPU and its vector extensions, the cores and threads in
use, TensorFlow's oneDNN setting, and the load when the timing started.

Every benchmark prints `machine_line` first and stores `describe_machine` in its JSON, so a
figure read later says which machine produced it (machines differ between sessions).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np  # noqa: F401  (loads the BLAS that blas_threads reports)

__all__ = [
    "VECTOR_EXTENSIONS",
    "cpu_model",
    "vector_extensions",
    "usable_cores",
    "blas_threads",
    "onednn_state",
    "load_average",
    "describe_machine",
    "machine_line",
]

#: The /proc/cpuinfo flags reported, by the name a reader knows them under.
VECTOR_EXTENSIONS: dict[str, str] = {
    "AVX2": "avx2",
    "FMA": "fma",
    "AVX-512": "avx512f",
    "AVX512-BF16": "avx512_bf16",
    "AMX": "amx_tile",
}


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what `platform` knows."""
    for line in _cpuinfo():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def vector_extensions() -> dict[str, bool]:
    """Which of `VECTOR_EXTENSIONS` the CPU has (all False where /proc/cpuinfo is absent)."""
    flags: set[str] = set()
    for line in _cpuinfo():
        if line.lower().startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return {name: flag in flags for name, flag in VECTOR_EXTENSIONS.items()}


def usable_cores() -> int:
    """The cores this process may run on (its affinity), else the CPU count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def blas_threads() -> list[dict[str, Any]]:
    """The BLAS libraries numpy and scipy load, and their thread counts (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    return [
        {
            "library": Path(info["filepath"]).name,
            "internal_api": info["internal_api"],
            "version": info.get("version"),
            "num_threads": info["num_threads"],
        }
        for info in threadpool_info()
        if info["user_api"] == "blas"
    ]


def onednn_state() -> str:
    """TensorFlow's oneDNN setting: ``TF_ENABLE_ONEDNN_OPTS`` if set, else TensorFlow's
    default (on, for x86 builds since 2.9)."""
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if value is None:
        return "on (TensorFlow's default)"
    return "off (TF_ENABLE_ONEDNN_OPTS=0)" if value.strip() == "0" else f"on (={value})"


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the system has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def describe_machine() -> dict[str, Any]:
    """Everything above, JSON-ready; ``load_average_start`` is taken now."""
    return {
        "cpu_model": cpu_model(),
        "vector_extensions": vector_extensions(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable_cores(),
        "blas": blas_threads(),
        "onednn": onednn_state(),
        "load_average_start": load_average(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def machine_line(machine: dict[str, Any]) -> str:
    """`describe_machine`'s result in one line, for the top of a benchmark's output."""
    extensions = ", ".join(k for k, v in machine["vector_extensions"].items() if v) or "none"
    blas = "; ".join(f"{b['library']} {b['num_threads']} threads" for b in machine["blas"])
    return (
        f"machine: {machine['cpu_model']}; {extensions}; {machine['usable_cores']} usable "
        f"core(s) of {machine['cpu_count']}; BLAS {blas or 'not loaded'}; oneDNN "
        f"{machine['onednn']}; load average at start {machine['load_average_start']}"
    )
