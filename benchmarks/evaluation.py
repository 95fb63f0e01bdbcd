"""Benchmark the evaluation: VIF against sewar's ``vifp``, and the comparison methods.

- VIF: this package's vectorised pixel-domain VIF (`mtmri_lib.metrics.vif` for one pair,
  `vif_stack` for many) against sewar's ``vifp`` on the same pairs (a real slice and its
  noisy version), the calls alternated in one run; median milliseconds per pair (ours with
  the BLAS on one thread, as sewar's convolutions and each evaluation worker run, and with
  its default thread count) and the largest relative difference.
- Comparison methods: median milliseconds per slice of each method in
  `mtmri_lib.baselines.BASELINES` with the article's settings, single-threaded (as the
  evaluation runs them, one slice per worker process).
- N4ITK on its own: seconds per slice at each ``--n4-shrinks`` factor (default 1, the
  article's, and 4), and the released call (``fidelity="code"``: no mask), on a slice whose
  background is exactly 0 (the template slice thresholded at 0.2) times a smooth bias field
  (the library's, pinned to [0.7, 1.3]); with each, the bias left: the coefficient of
  variation of corrected / true over the foreground (0: none left), beside the uncorrected
  image's. ``--n4-repeats`` calls each (default 1: a 320 x 320 slice takes seconds).

Usage::

    python benchmarks/evaluation.py [--repeats 20] [--size 320] [--stack 50] [--json out.json]
        [--n4-shrinks 1 4] [--n4-repeats 1]

Timings are single-process wall-clock medians after a warm-up call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtmri_lib import baselines, metrics  # noqa: E402
from mtmri_lib.artefacts import corrupt  # noqa: E402
from mtmri_lib.machine import describe_machine, machine_line
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


def _bias_left(image: np.ndarray, clean: np.ndarray) -> float:
    """Coefficient of variation of image / clean over the foreground (clean > 0).

    ``image`` is z-normalised and its background was exactly 0 (N4 keeps 0 at 0), so the
    background value is the offset the z-normalisation added: subtracting it restores the
    ratio up to a scale, which the coefficient of variation ignores.
    """
    foreground = clean > 0
    offset = float(np.median(image[~foreground]))
    ratio = (image[foreground] - offset) / clean[foreground]
    return float(ratio.std() / ratio.mean())


def time_n4(clean: np.ndarray, shrinks: list[int], repeats: int) -> dict:
    """N4 seconds per slice and the bias it leaves, per shrink factor and for the released call."""
    clean = np.where(clean > 0.2, clean, 0.0)
    biased = corrupt(clean, "bias", 0, zscore=False, field_range=(0.7, 1.3)).image
    baselines.n4(biased[::8, ::8])  # SimpleITK loaded before anything is timed
    variants = {f"paper, shrink {s}": {"shrink": s} for s in shrinks}
    variants["code (released call: no mask, [0, 1])"] = {"fidelity": "code"}
    rows = {}
    for name, settings in variants.items():
        times, corrected = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            corrected = baselines.n4(biased, **settings)
            times.append(time.perf_counter() - start)
        rows[name] = {
            "s_per_slice": statistics.median(times),
            "bias_left": _bias_left(corrected, clean),
            **settings,
        }
    return {
        "background_fraction": float(np.mean(clean == 0)),
        "bias_left_uncorrected": _bias_left(baselines._znorm(biased), clean),
        "variants": rows,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--stack", type=int, default=50, help="pairs in the batched VIF timing")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--n4-shrinks", type=int, nargs="+", default=[1, 4], help="N4 shrink factors to time"
    )
    parser.add_argument("--n4-repeats", type=int, default=1, help="N4 calls per variant")
    args = parser.parse_args(argv)
    if args.n4_repeats < 1 or any(s < 1 for s in args.n4_shrinks):
        parser.error("--n4-repeats and every --n4-shrinks factor must be >= 1")

    from sewar.full_ref import vifp

    clean = _slice(args.size)
    noisy = corrupt(clean, "noise", 0, snr_db=5).image
    reference = metrics.normalise_pair(clean, noisy)[0]
    image = metrics.normalise_pair(clean, noisy)[1]
    results: dict = {"size": args.size, "machine": describe_machine()}
    print(machine_line(results["machine"]))

    from threadpoolctl import threadpool_limits

    # Alternating calls, one pair at a time: sewar's, ours with the BLAS on one thread (as
    # sewar's convolutions run, and as each evaluation worker process runs), ours with the
    # BLAS's own thread count; the medians of one run.
    timed = {"sewar": [], "mtmri, 1 BLAS thread": [], "mtmri, BLAS default threads": []}
    calls = {
        "sewar": lambda: vifp(reference, image),
        "mtmri, 1 BLAS thread": lambda: metrics.vif(reference, image, normalise=False),
        "mtmri, BLAS default threads": lambda: metrics.vif(reference, image, normalise=False),
    }
    for call in calls.values():
        call()  # warm-up
    for _ in range(args.repeats):
        for name, call in calls.items():
            with threadpool_limits(1 if name != "mtmri, BLAS default threads" else None):
                start = time.perf_counter()
                call()
                timed[name].append(time.perf_counter() - start)
    sewar_ms = 1000 * statistics.median(timed["sewar"])
    ours_ms = 1000 * statistics.median(timed["mtmri, 1 BLAS thread"])
    threaded_ms = 1000 * statistics.median(timed["mtmri, BLAS default threads"])
    rng = np.random.default_rng(0)
    references = np.stack([reference] * args.stack)
    images = references + 0.3 * rng.normal(size=references.shape)
    with threadpool_limits(1):
        stack_ms = _median_ms(
            lambda: metrics.vif_stack(references, images, normalise=False),
            max(1, args.repeats // 5),
        )
    difference = max(
        abs(metrics.vif(r, i, normalise=False) - vifp(r, i)) / abs(vifp(r, i))
        for r, i in zip(references[:5], images[:5], strict=True)
    )
    results["vif"] = {
        "sewar_ms_per_pair": sewar_ms,
        "mtmri_ms_per_pair": ours_ms,
        "mtmri_ms_per_pair_default_blas_threads": threaded_ms,
        "mtmri_stack_ms_per_pair": stack_ms / args.stack,
        "speed-up (one pair)": sewar_ms / ours_ms,
        "speed-up (one pair, default BLAS threads)": sewar_ms / threaded_ms,
        "speed-up (stack)": sewar_ms / (stack_ms / args.stack),
        "largest relative difference": difference,
    }
    print(f"VIF on {args.size} x {args.size}:")
    for key, value in results["vif"].items():
        print(f"  {key}: {value:.4g}")

    low_res = corrupt(clean, "subsampling", 0, acceleration=2, mask="centred").low_res
    methods = {}
    for key, function in baselines.BASELINES.items():
        if key == "n4":
            continue  # timed on its own below, on a biased slice, with the bias it leaves
        if key == "bicubic":
            methods[key] = _median_ms(
                lambda f=function: f(low_res, shape=clean.shape), args.repeats
            )
        else:
            repeats = max(3, args.repeats // 5) if key == "bm3d" else args.repeats
            methods[key] = _median_ms(lambda f=function: f(noisy), repeats)
    results["baselines_ms_per_slice"] = methods
    if "n4" in baselines.BASELINES:
        shrinks = list(dict.fromkeys(args.n4_shrinks))
        n4_report = time_n4(clean, shrinks, args.n4_repeats)
        results["n4"] = n4_report
        first = n4_report["variants"][f"paper, shrink {shrinks[0]}"]
        methods["n4"] = 1000 * first["s_per_slice"]
    print(f"Comparison methods on {args.size} x {args.size}, ms per slice:")
    for key, value in methods.items():
        print(f"  {key}: {value:.1f}")
    if "n4" in results:
        n4_report = results["n4"]
        print(
            f"N4ITK on {args.size} x {args.size} (background exactly 0 on "
            f"{n4_report['background_fraction']:.0%} of the slice, field [0.7, 1.3]); bias "
            f"left = coefficient of variation of corrected / true, "
            f"{n4_report['bias_left_uncorrected']:.4f} uncorrected:"
        )
        for name, row in n4_report["variants"].items():
            print(
                f"  {name}: {row['s_per_slice']:.2f} s per slice, bias left {row['bias_left']:.4f}"
            )
    if args.json is not None:
        atomic_write_json(args.json, results, indent=1)
    return results


if __name__ == "__main__":
    main()
