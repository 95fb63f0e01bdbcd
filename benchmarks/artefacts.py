"""Benchmark the artefact simulators side by side with straightforward references.

Timed on size x size slices of a real image: axial slices of the MNI152 template (packaged
with nilearn, offline), prepared as the pipeline does (padded to square, Fourier-resized,
scaled to [0, 1]); a smooth synthetic phantom if the template cannot be loaded.

- Each artefact, side by side with its reference in ``benchmarks/references.py`` (the
  released code's approach, written from FACTS.md: gstools' grid field and a spline zoom
  for the bias field, a fastMRI-style mask times the FFT, whole-image cubic-spline
  resampling per segment for rigid motion, a phase multiplication for periodic motion,
  complex Gaussian noise in k-space). The library's call is ``corrupt(slice, kind, rng)``
  with parameters drawn from the article's ranges (a new draw per call, the draw timed
  too); the reference applies the same draw's parameters (``.params``). The two calls
  alternate, so both see the same load. Reported: the median and minimum ms per slice of
  each, their ratio ours / reference (below 1: the library is faster), and, where both
  compute the same image (bias, rigid and periodic motion), their relative l2 difference.
  Kinds whose module is missing or unfinished (ImportError, NotImplementedError) are
  skipped.
- Training mix: one artefact per slice, drawn uniformly from the four kinds (motion
  rigid, the brain setting), as the training pipeline does; slices per second.
- The machine: CPU model (``/proc/cpuinfo``), cores, BLAS libraries and their threads
  (threadpoolctl), the load average before and after the timings.

``--load N`` starts N processes that keep one core each busy beside the benchmark (a plain
Python loop, no BLAS) and stops them at the end; each also stops on its own after
``--load-seconds`` or when the benchmark's process is gone. Use it to see how the timings
hold up on a shared machine.

Usage::

    python benchmarks/artefacts.py [--repeats 50] [--size 320] [--load 2] [--json out.json]

Timings are single-process wall-clock medians after warm-up calls, at the BLAS and FFT
libraries' default threads.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

# Run from a source checkout without installing: the repository root and this folder on the
# path (``mtmri bench artefacts`` runs this file with runpy, so ``__file__`` is set).
_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent))
sys.path.insert(0, str(_HERE))

from references import REFERENCES  # noqa: E402

from mtmri_lib.artefacts import KINDS, corrupt  # noqa: E402
from mtmri_lib.machine import describe_machine, load_average, machine_line  # noqa: E402
from mtmri_lib.store import atomic_write_json  # noqa: E402

#: What is timed: a row name (also the key of `REFERENCES`), the kind, and pinned keywords.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("bias", "bias", {}),
    ("subsampling", "subsampling", {}),
    ("rigid motion", "motion", {"motion": "rigid"}),
    ("periodic motion", "motion", {"motion": "periodic"}),
    ("noise", "noise", {}),
]
#: Rows whose reference computes the library's image from the same parameters (the others
#: draw their own random lines or noise).
SAME_IMAGE = ("bias", "rigid motion", "periodic motion")
#: The released code's speed on one 320 x 320 slice (FACTS.md, "Peers"), for context.
RELEASED_CODE_MS = {
    "bias": 23.0,
    "subsampling": 3.3,
    "rigid motion": 132.0,
    "periodic motion": 2.9,
    "noise": 9.7,
}
SKIPPED = (ImportError, NotImplementedError)
WARMUP = 3
#: At most this many load processes per core, and this long (s) for each: a typo in
#: ``--load`` must not leave the machine saturated.
MAX_LOAD_PER_CORE = 4
MAX_LOAD_SECONDS = 3600.0

# A busy loop that ends after argv[1] seconds or when its parent is gone (POSIX: the parent
# pid changes), whichever comes first; no numpy, so it loads a core and nothing else.
_BURN = """
import os, sys, time
parent, end = os.getppid(), time.monotonic() + float(sys.argv[1])
x = 1
while time.monotonic() < end and os.getppid() == parent:
    for _ in range(200_000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
"""


def load_slices(size: int, n_slices: int) -> tuple[list[np.ndarray], str]:
    """Axial MNI152 slices around the middle of the brain, or a synthetic phantom."""
    try:
        from mtmri_lib.data import demo_volumes, prepare_slice

        volume = demo_volumes()[0]
        middle = volume.data.shape[0] // 2
        indices = np.linspace(middle - 20, middle + 20, n_slices).round().astype(int)
        slices = [prepare_slice(volume.data[i], size) for i in indices]
        return slices, f"{volume.source}, axial slices {indices.tolist()}"
    except Exception as error:  # noqa: BLE001 (any failure: fall back, and say why)
        return [synthetic_phantom(size)], f"smooth synthetic phantom ({error!r})"


def synthetic_phantom(size: int) -> np.ndarray:
    """A smooth head-like phantom in [0, 1]: an ellipse with inner structures, blurred."""
    from scipy import ndimage

    rows, cols = np.mgrid[:size, :size] / size - 0.5
    head = ((rows / 0.42) ** 2 + (cols / 0.35) ** 2 <= 1) * 0.6
    head += ((rows / 0.15) ** 2 + ((cols - 0.08) / 0.1) ** 2 <= 1) * 0.3
    head += (((rows + 0.12) / 0.05) ** 2 + (cols / 0.18) ** 2 <= 1) * 0.1
    image = ndimage.gaussian_filter(head, size / 160)
    return (image - image.min()) / (image.max() - image.min())


@contextlib.contextmanager
def cpu_load(processes: int, seconds: float = MAX_LOAD_SECONDS) -> Iterator[list[int]]:
    """Keep ``processes`` cores busy inside the block (each for at most ``seconds``).

    Yields the load processes' ids; they are stopped when the block ends, however it ends.
    """
    started: list[subprocess.Popen] = []
    try:
        for _ in range(processes):
            started.append(
                subprocess.Popen(
                    [sys.executable, "-c", _BURN, str(seconds)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        if started:
            time.sleep(0.5)  # let them reach full speed before anything is timed
        yield [p.pid for p in started]
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def _relative_difference(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))


def time_side_by_side(
    slices: list[np.ndarray], repeats: int, seed: int
) -> dict[str, dict[str, Any]]:
    """Each artefact by the library and by its reference, alternating, on the same draws."""
    results: dict[str, dict[str, Any]] = {}
    for name, kind, fixed in CASES:
        reference = REFERENCES[name]
        # The reference needs each draw's parameters before it runs; a second generator
        # with the same seed replays the library's draws without timing them twice.
        draws = np.random.default_rng(seed)
        rng = np.random.default_rng(seed)
        try:
            params = [
                corrupt(slices[i % len(slices)], kind, draws, **fixed).params
                for i in range(WARMUP + repeats)
            ]
        except SKIPPED as error:
            results[name] = {"skipped": f"{type(error).__name__}: {error}"}
            continue
        ours_s, reference_s, differences = [], [], []
        for i in range(WARMUP + repeats):
            image = slices[i % len(slices)]
            library = functools.partial(corrupt, image, kind, rng, **fixed)
            straightforward = functools.partial(reference, image, params[i])
            # Alternate which goes first, so a load that changes over time hits both alike.
            if i % 2:
                reference_time, expected = _timed(straightforward)
                ours_time, result = _timed(library)
            else:
                ours_time, result = _timed(library)
                reference_time, expected = _timed(straightforward)
            if i < WARMUP:
                continue
            ours_s.append(ours_time)
            reference_s.append(reference_time)
            if name in SAME_IMAGE and len(differences) < 10:
                differences.append(_relative_difference(result.image, expected))
        ours_ms = 1e3 * statistics.median(ours_s)
        reference_ms = 1e3 * statistics.median(reference_s)
        results[name] = {
            "median_ms": ours_ms,
            "min_ms": 1e3 * min(ours_s),
            "reference_median_ms": reference_ms,
            "reference_min_ms": 1e3 * min(reference_s),
            "ratio": ours_ms / reference_ms,
            "relative_difference_median": (statistics.median(differences) if differences else None),
        }
        if name == "rigid motion":
            results[name]["mean_segments"] = float(
                np.mean([len(p["segments"] or ()) for p in params[WARMUP:]])
            )
    return results


def time_training_mix(slices: list[np.ndarray], repeats: int, seed: int) -> dict[str, Any]:
    """One artefact per slice, the kind drawn uniformly from the four (training pipeline)."""
    rng = np.random.default_rng(seed)
    available = []
    for kind in KINDS:
        try:
            corrupt(slices[0], kind, 0)
            available.append(kind)
        except SKIPPED:
            pass
    if not available:
        return {"skipped": "no artefact available"}
    kinds = [available[int(k)] for k in rng.integers(len(available), size=repeats + WARMUP)]
    start = None
    for i, kind in enumerate(kinds):
        if i == WARMUP:
            start = time.perf_counter()
        corrupt(slices[i % len(slices)], kind, rng)
    elapsed = time.perf_counter() - start
    return {
        "slices_per_s": repeats / elapsed,
        "mean_ms": 1e3 * elapsed / repeats,
        "kinds": available,
    }


def machine() -> dict[str, Any]:
    """What the timings depend on (`mtmri_lib.machine.describe_machine`) and the versions of
    the libraries timed."""
    import scipy

    versions = {"numpy": np.__version__, "scipy": scipy.__version__}
    for module in ("finufft", "gstools"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    described = describe_machine()
    return {**described, "load_average_before": described["load_average_start"], **versions}


def print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"Artefact simulation, {report['size']} x {report['size']} slices ({report['source']})")
    print(machine_line(m))
    print(
        f"load average (1, 5, 15 min) before {m['load_average_before']}, after "
        f"{m['load_average_after']}; {report['load_processes']} load process(es) beside it; "
        f"median of {report['repeats']} calls each\n"
    )
    header = (
        f"{'artefact':<17}{'ours ms':>9}{'ref. ms':>9}{'ours/ref.':>11}"
        f"{'released ms':>13}{'difference':>12}"
    )
    print(header)
    for name, row in report["artefacts"].items():
        if "skipped" in row:
            print(f"{name:<17}  skipped ({row['skipped']})")
            continue
        difference = row["relative_difference_median"]
        print(
            f"{name:<17}{row['median_ms']:>9.2f}{row['reference_median_ms']:>9.2f}"
            f"{row['ratio']:>11.2f}{RELEASED_CODE_MS[name]:>13.1f}"
            f"{'-' if difference is None else f'{difference:.1e}':>12}"
        )
    print(
        "\nours/ref. below 1: the library is faster than the straightforward reference, timed "
        "alternately in this run.\nreleased ms: the released code on one 320 x 320 slice, "
        "measured once elsewhere (FACTS.md). difference: relative l2 distance of the two "
        "images\n(median; '-': the reference draws its own random lines or noise)."
    )
    rigid = report["artefacts"].get("rigid motion", {})
    if "mean_segments" in rigid:
        print(f"rigid motion: {rigid['mean_segments']:.1f} segments per draw on average")
    mix = report["training_mix"]
    if "skipped" in mix:
        print(f"\ntraining mix: skipped ({mix['skipped']})")
    else:
        print(
            f"\ntraining mix (one of {', '.join(mix['kinds'])} per slice): "
            f"{mix['slices_per_s']:.1f} slices/s ({mix['mean_ms']:.2f} ms per slice)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per artefact")
    parser.add_argument("--size", type=int, default=320, help="slice side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="seed of the parameter draws")
    parser.add_argument("--slices", type=int, default=8, help="number of template slices")
    parser.add_argument(
        "--load", type=int, default=0, metavar="N", help="busy processes beside the benchmark"
    )
    parser.add_argument(
        "--load-seconds",
        type=float,
        default=600.0,
        help=f"longest life of each load process (at most {MAX_LOAD_SECONDS:g})",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.size < 8 or args.slices < 1:
        parser.error("--repeats and --slices must be >= 1, --size >= 8")
    most = MAX_LOAD_PER_CORE * (os.cpu_count() or 1)
    if not 0 <= args.load <= most:
        parser.error(f"--load must lie in [0, {most}] ({MAX_LOAD_PER_CORE} per core)")
    if not 0 < args.load_seconds <= MAX_LOAD_SECONDS:
        parser.error(f"--load-seconds must lie in (0, {MAX_LOAD_SECONDS:g}]")
    slices, source = load_slices(args.size, args.slices)
    with cpu_load(args.load, args.load_seconds):
        report: dict[str, Any] = {
            "size": args.size,
            "repeats": args.repeats,
            "seed": args.seed,
            "source": source,
            "load_processes": args.load,
            "machine": machine(),
        }
        report["artefacts"] = time_side_by_side(slices, args.repeats, args.seed)
        report["training_mix"] = time_training_mix(slices, args.repeats, args.seed)
        report["machine"]["load_average_after"] = load_average()
    print_table(report)
    if args.json:
        atomic_write_json(args.json, report, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
