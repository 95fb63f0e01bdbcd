"""Benchmark the evaluation: VIF against sewar's ``vifp``, and the comparison methods.

- VIF: this package's vectorised pixel-domain VIF (`mtmri_lib.metrics.vif` for one pair,
  `vif_stack` for many) against sewar's ``vifp`` on the same pairs (a real slice and its
  noisy version); median milliseconds per pair and the largest relative difference.
- Comparison methods: median milliseconds per slice of each method in
  `mtmri_lib.baselines.BASELINES` with the article's settings, single-threaded (as the
  evaluation runs them, one slice per worker process).

Usage::

    python benchmarks/evaluation.py [--repeats 20] [--size 320] [--stack 50] [--json out.json]

Timings are single-process wall-clock medians after a warm-up call.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtmri_lib import baselines, metrics  # noqa: E402
from mtmri_lib.artefacts import corrupt  # noqa: E402
from mtmri_lib.store import atomic_write_json  # noqa: E402


def _slice(size: int) -> np.ndarray:
    try:
        from mtmri_lib.data import demo_slice

        return demo_slice(size)
    except Exception:  # noqa: BLE001 - the benchmark still runs without the data extra
        rows, cols = np.mgrid[0:size, 0:size] / size
        return np.exp(-((rows - 0.5) ** 2 + (cols - 0.5) ** 2) * 8)


def _median_ms(function, repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--stack", type=int, default=50, help="pairs in the batched VIF timing")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from sewar.full_ref import vifp

    clean = _slice(args.size)
    noisy = corrupt(clean, "noise", 0, snr_db=5).image
    reference = metrics.normalise_pair(clean, noisy)[0]
    image = metrics.normalise_pair(clean, noisy)[1]
    results: dict = {"size": args.size, "machine": platform.processor() or platform.machine()}

    sewar_ms = _median_ms(lambda: vifp(reference, image), args.repeats)
    ours_ms = _median_ms(lambda: metrics.vif(reference, image, normalise=False), args.repeats)
    rng = np.random.default_rng(0)
    references = np.stack([reference] * args.stack)
    images = references + 0.3 * rng.normal(size=references.shape)
    stack_ms = _median_ms(
        lambda: metrics.vif_stack(references, images, normalise=False), max(1, args.repeats // 5)
    )
    difference = max(
        abs(metrics.vif(r, i, normalise=False) - vifp(r, i)) / abs(vifp(r, i))
        for r, i in zip(references[:5], images[:5], strict=True)
    )
    results["vif"] = {
        "sewar_ms_per_pair": sewar_ms,
        "mtmri_ms_per_pair": ours_ms,
        "mtmri_stack_ms_per_pair": stack_ms / args.stack,
        "speed-up (one pair)": sewar_ms / ours_ms,
        "speed-up (stack)": sewar_ms / (stack_ms / args.stack),
        "largest relative difference": difference,
    }
    print(f"VIF on {args.size} x {args.size}:")
    for key, value in results["vif"].items():
        print(f"  {key}: {value:.4g}")

    low_res = corrupt(clean, "subsampling", 0, acceleration=2, mask="centred").low_res
    methods = {}
    for key, function in baselines.BASELINES.items():
        if key == "bicubic":
            methods[key] = _median_ms(
                lambda f=function: f(low_res, shape=clean.shape), args.repeats
            )
        else:
            repeats = max(3, args.repeats // 5) if key in ("n4", "bm3d") else args.repeats
            methods[key] = _median_ms(lambda f=function: f(noisy), repeats)
    results["baselines_ms_per_slice"] = methods
    print(f"Comparison methods on {args.size} x {args.size}, ms per slice:")
    for key, value in methods.items():
        print(f"  {key}: {value:.1f}")
    if args.json is not None:
        atomic_write_json(args.json, results, indent=1)
    return results


if __name__ == "__main__":
    main()
