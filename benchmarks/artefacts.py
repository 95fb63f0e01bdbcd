"""Benchmark the artefact simulators: time per slice, the training mix, and rigid motion
against the straightforward reference.

Timed on size x size slices of a real image: axial slices of the MNI152 template (packaged
with nilearn, offline), prepared as the pipeline does (padded to square, Fourier-resized,
scaled to [0, 1]); a smooth synthetic phantom if the template cannot be loaded.

- Each artefact: ``corrupt(slice, kind, rng)`` with parameters drawn from the article's
  ranges (a new draw per call); median milliseconds per slice over ``--repeats`` calls.
  Rigid and periodic motion are timed apart (``motion="rigid"`` / ``"periodic"``). Kinds
  whose module is missing or unfinished (ImportError, NotImplementedError) are skipped.
- Training mix: one artefact per slice, drawn uniformly from the four kinds (motion
  rigid, the brain setting), as the training pipeline does; slices per second.
- Rigid motion against the reference: the same parameter draws applied by the library's
  k-space method (`motion.apply`) and by `motion.rigid_motion_reference` (cubic-spline
  rotation and translation of the whole image per segment, then an FFT); median ms of
  each, their ratio, and their relative l2 difference on the image (not zero: the two
  differ in interpolation model and in what leaves the field of view; see the motion
  module).

Usage::

    python benchmarks/artefacts.py [--repeats 50] [--size 320] [--json out.json]

Timings are single-process wall-clock medians after warm-up calls.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# Run from a source checkout without installing: the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtmri_lib.artefacts import KINDS, corrupt, motion  # noqa: E402
from mtmri_lib.store import atomic_write_json  # noqa: E402

#: What is timed: a row name, the kind, and pinned keywords.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("bias", "bias", {}),
    ("subsampling", "subsampling", {}),
    ("rigid motion", "motion", {"motion": "rigid"}),
    ("periodic motion", "motion", {"motion": "periodic"}),
    ("noise", "noise", {}),
]
#: The released code's speed on one 320 x 320 slice (FACTS.md, "Peers"), for comparison.
RELEASED_CODE_MS = {
    "bias": 23.0,
    "subsampling": 3.3,
    "rigid motion": 132.0,
    "periodic motion": 2.9,
    "noise": 9.7,
}
SKIPPED = (ImportError, NotImplementedError)


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


def median_ms(call: Callable[[int], Any], repeats: int, warmup: int = 3) -> tuple[float, float]:
    """Median and minimum wall-clock time of ``call(i)`` in ms, after warm-up calls."""
    for i in range(warmup):
        call(i)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times), 1e3 * min(times)


def time_artefacts(slices: list[np.ndarray], repeats: int, seed: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, kind, fixed in CASES:
        rng = np.random.default_rng(seed)
        try:
            median, fastest = median_ms(
                lambda i, kind=kind, fixed=fixed, rng=rng: corrupt(
                    slices[i % len(slices)], kind, rng, **fixed
                ),
                repeats,
            )
        except SKIPPED as error:
            results[name] = {"skipped": f"{type(error).__name__}: {error}"}
            continue
        results[name] = {"median_ms": median, "min_ms": fastest}
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
    kinds = [available[int(k)] for k in rng.integers(len(available), size=repeats + 3)]
    start = None
    for i, kind in enumerate(kinds):
        if i == 3:  # after warm-up
            start = time.perf_counter()
        corrupt(slices[i % len(slices)], kind, rng)
    elapsed = time.perf_counter() - start
    return {
        "slices_per_s": repeats / elapsed,
        "mean_ms": 1e3 * elapsed / repeats,
        "kinds": available,
    }


def time_reference(slices: list[np.ndarray], repeats: int, seed: int) -> dict[str, Any]:
    """The same rigid-motion draws applied by the fast method and by the reference."""
    rng = np.random.default_rng(seed)
    shape = slices[0].shape
    draws = [
        motion.sample(shape, rng, fidelity="paper", fixed={"motion": "rigid"})
        for _ in range(repeats + 1)
    ]
    fast_ms, _ = median_ms(
        lambda i: motion.apply(slices[i % len(slices)], draws[i % len(draws)]), repeats, warmup=1
    )
    reference_ms, _ = median_ms(
        lambda i: motion.rigid_motion_reference(slices[i % len(slices)], draws[i % len(draws)]),
        repeats,
        warmup=1,
    )
    differences = []
    for i, params in enumerate(draws[: min(10, repeats)]):
        image = slices[i % len(slices)]
        fast = motion.apply(image, params).image
        reference = motion.rigid_motion_reference(image, params)
        differences.append(float(np.linalg.norm(fast - reference) / np.linalg.norm(reference)))
    return {
        "fast_median_ms": fast_ms,
        "reference_median_ms": reference_ms,
        "ratio": reference_ms / fast_ms,
        "mean_segments": float(np.mean([p.n_segments for p in draws])),
        "relative_difference_median": statistics.median(differences),
    }


def machine() -> dict[str, Any]:
    import finufft
    import scipy

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "finufft": finufft.__version__,
    }


def print_table(report: dict[str, Any]) -> None:
    print(f"Artefact simulation, {report['size']} x {report['size']} slices ({report['source']})")
    print(f"median of {report['repeats']} calls, {report['machine']['cpu_count']} CPU(s)\n")
    print(f"{'artefact':<18}{'median ms':>11}{'min ms':>9}{'slices/s':>10}{'released code ms':>18}")
    for name, row in report["artefacts"].items():
        if "skipped" in row:
            print(f"{name:<18}  skipped ({row['skipped']})")
            continue
        released = RELEASED_CODE_MS.get(name)
        print(
            f"{name:<18}{row['median_ms']:>11.2f}{row['min_ms']:>9.2f}"
            f"{1e3 / row['median_ms']:>10.1f}{released:>18.1f}"
        )
    mix = report["training_mix"]
    if "skipped" in mix:
        print(f"\ntraining mix: skipped ({mix['skipped']})")
    else:
        print(
            f"\ntraining mix (one of {', '.join(mix['kinds'])} per slice): "
            f"{mix['slices_per_s']:.1f} slices/s ({mix['mean_ms']:.2f} ms per slice)"
        )
    ref = report["rigid_reference"]
    print(
        f"\nrigid motion, same {report['repeats']} draws (mean {ref['mean_segments']:.1f} "
        f"segments): k-space method {ref['fast_median_ms']:.2f} ms, reference (cubic splines "
        f"per segment) {ref['reference_median_ms']:.2f} ms -> {ref['ratio']:.1f}x faster; "
        f"relative l2 difference of the images {ref['relative_difference_median']:.1e} (median)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per artefact")
    parser.add_argument("--size", type=int, default=320, help="slice side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="seed of the parameter draws")
    parser.add_argument("--slices", type=int, default=8, help="number of template slices")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.size < 8 or args.slices < 1:
        parser.error("--repeats and --slices must be >= 1, --size >= 8")
    slices, source = load_slices(args.size, args.slices)
    report = {
        "size": args.size,
        "repeats": args.repeats,
        "seed": args.seed,
        "source": source,
        "machine": machine(),
        "artefacts": time_artefacts(slices, args.repeats, args.seed),
        "training_mix": time_training_mix(slices, args.repeats, args.seed),
        "rigid_reference": time_reference(slices, args.repeats, args.seed),
    }
    print_table(report)
    if args.json:
        atomic_write_json(args.json, report, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
