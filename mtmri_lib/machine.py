"""What a timing depends on: the CPU and its vector extensions, the cores and threads in
use, TensorFlow's oneDNN setting, and the load when the timing started; and the peak rate
those allow (`peak_gflops`), against which a benchmark states its share.

Every benchmark prints `machine_line` first and stores `describe_machine` in its JSON, so a
figure read later says which machine produced it (machines differ between sessions).
"""

from __future__ import annotations

import os
import platform
import re
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
    "clock_ghz",
    "peak_gflops",
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


def clock_ghz() -> tuple[float | None, str]:
    """The clock the peak is computed at, in GHz, and where it was read.

    In order: the highest frequency the kernel reports (``cpuinfo_max_freq``), the rated
    clock in the model name ("... @ 2.30GHz"), the current "cpu MHz" of /proc/cpuinfo (a
    virtual machine's fixed value). None where none is known.
    """
    try:
        khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
        return khz / 1e6, "cpuinfo_max_freq"
    except (OSError, ValueError):
        pass
    rated = re.search(r"@\s*([0-9.]+)\s*GHz", cpu_model())
    if rated:
        return float(rated.group(1)), "model name"
    for line in _cpuinfo():
        if line.lower().startswith("cpu mhz"):
            return float(line.split(":", 1)[1]) / 1e3, "cpu MHz"
    return None, "unknown"


def peak_gflops(
    cores: int | None = None, *, fma_units: int = 2, dtype: str = "float32"
) -> dict[str, Any]:
    """The machine's peak floating-point rate, from its vector extensions, cores and clock.

    peak = cores x clock x (2 FLOP per fused multiply-add) x lanes x ``fma_units``, with
    16 float32 lanes for AVX-512, 8 for AVX2 with FMA, 4 otherwise (halved for float64).
    ``fma_units``: FMA pipes per core; 2 on most server and desktop x86 cores since 2013
    (some AVX-512 parts have 1), which /proc/cpuinfo does not tell, so it is an assumption
    stated in the result. The clock is `clock_ghz`'s; sustained AVX-512 clocks are often
    lower, so the figure is an upper bound, and a share of it a lower bound.

    Returns
    -------
    dict
        ``gflops`` (None where the clock is unknown), and every factor: ``cores``,
        ``clock_ghz``, ``clock_source``, ``lanes``, ``fma_units``, ``dtype``, ``isa``.
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    if isinstance(fma_units, bool) or not isinstance(fma_units, int) or fma_units < 1:
        raise ValueError(f"fma_units must be an integer >= 1; got {fma_units!r}")
    extensions = vector_extensions()
    if extensions["AVX-512"]:
        isa, lanes = "AVX-512", 16
    elif extensions["AVX2"] and extensions["FMA"]:
        isa, lanes = "AVX2+FMA", 8
    else:
        isa, lanes = "SSE", 4
    if dtype == "float64":
        lanes //= 2
    cores = usable_cores() if cores is None else int(cores)
    if cores < 1:
        raise ValueError(f"cores must be >= 1; got {cores}")
    clock, source = clock_ghz()
    gflops = None if clock is None else cores * clock * 2 * lanes * fma_units
    return {
        "gflops": gflops,
        "cores": cores,
        "clock_ghz": clock,
        "clock_source": source,
        "isa": isa,
        "lanes": lanes,
        "fma_units": fma_units,
        "dtype": dtype,
    }


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
        "peak_float32": peak_gflops(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def machine_line(machine: dict[str, Any]) -> str:
    """`describe_machine`'s result in one line, for the top of a benchmark's output."""
    extensions = ", ".join(k for k, v in machine["vector_extensions"].items() if v) or "none"
    blas = "; ".join(f"{b['library']} {b['num_threads']} threads" for b in machine["blas"])
    peak = machine.get("peak_float32") or {}
    rate = (
        f"; float32 peak {peak['gflops']:.0f} GFLOP/s ({peak['cores']} cores x "
        f"{peak['clock_ghz']:.2f} GHz x {2 * peak['lanes'] * peak['fma_units']} FLOP/cycle, "
        f"{peak['isa']}, {peak['fma_units']} FMA units assumed)"
        if peak.get("gflops")
        else ""
    )
    return (
        f"machine: {machine['cpu_model']}; {extensions}; {machine['usable_cores']} usable "
        f"core(s) of {machine['cpu_count']}; BLAS {blas or 'not loaded'}; oneDNN "
        f"{machine['onednn']}; load average at start {machine['load_average_start']}{rate}"
    )
