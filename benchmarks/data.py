"""Benchmark the training-sample pipeline: slices per second, per core and with workers.

For each size (default: 320, the article's, and the ``cpu`` profile's 64) the benchmark
times `SampleGenerator.batch` on demo training slices (the MNI152 template) in one process:
each sample draws one of the four artefacts uniformly, corrupts the slice and z-normalises
both images, as in training. It reports slices per second per core, the median time per
artefact, and, with ``--workers N``, the rate of N worker processes each producing batches
(what ``ArtefactDataset(workers=N, use_multiprocessing=True)`` does).

The ``cpu`` profile's narrow model trains at about 34 images per second on this 2-core machine
(FACTS.md); the pipeline keeps up when its rate exceeds that.

Usage::

    python benchmarks/data.py --sizes 320 64 --samples 64 --workers 2 --json bench-data.json
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from mtmri_lib.machine import describe_machine, machine_line

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Training speed of the cpu profile's narrow model measured on this machine (FACTS.md).
MODEL_IMAGES_PER_S = 34.0


def _clean(size: int) -> np.ndarray:
    from mtmri_lib.data import data_settings, load_slice_sets

    settings = data_settings("cpu").with_(image_size=size)
    return np.asarray(load_slice_sets(settings=settings, splits=("train",))["train"].images)


def _per_artefact(clean: np.ndarray, repeats: int) -> dict[str, float]:
    from mtmri_lib.data import training_sample

    out = {}
    for kind in ("bias", "subsampling", "motion", "noise"):
        times = []
        for i in range(repeats + 1):
            start = time.perf_counter()
            training_sample(clean[i % len(clean)], 0, 0, i, tasks=(kind,))
            times.append(time.perf_counter() - start)
        out[kind] = 1000.0 * statistics.median(times[1:])  # the first call warms up
    return out


_WORKER_GENERATOR = None


def _init_worker(size: int, batch_size: int) -> None:
    """Worker start-up: prepare the slices once (not timed)."""
    global _WORKER_GENERATOR
    from mtmri_lib.data import SampleGenerator

    _WORKER_GENERATOR = SampleGenerator(_clean(size), batch_size=batch_size, seed=0)
    _WORKER_GENERATOR.batch(0, 0)


def _produce(batch: int) -> int:
    """Worker: build one batch of epoch 1; returns its number of slices."""
    x, _ = _WORKER_GENERATOR.batch(1, batch % _WORKER_GENERATOR.n_batches)
    return len(x)


def bench_size(size: int, samples: int, batch_size: int, workers: int, repeats: int) -> dict:
    from mtmri_lib.data import SampleGenerator

    clean = _clean(size)
    generator = SampleGenerator(clean, batch_size=batch_size, seed=0)
    generator.batch(0, 0)  # warm-up: imports, FFT plans
    n_batches = max(1, samples // batch_size)
    start = time.perf_counter()
    for b in range(n_batches):
        generator.batch(1, b % generator.n_batches)
    elapsed = time.perf_counter() - start
    result: dict[str, Any] = {
        "size": size,
        "batch_size": batch_size,
        "slices": n_batches * batch_size,
        "slices_per_s_one_core": n_batches * batch_size / elapsed,
        "ms_per_artefact": _per_artefact(clean, repeats),
    }
    if workers > 1:
        with ProcessPoolExecutor(
            workers, initializer=_init_worker, initargs=(size, batch_size)
        ) as pool:
            list(pool.map(_produce, range(workers)))  # wait until every worker is ready
            start = time.perf_counter()
            counts = list(pool.map(_produce, range(n_batches)))
            elapsed = time.perf_counter() - start
        result[f"slices_per_s_{workers}_workers"] = sum(counts) / elapsed
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 64])
    parser.add_argument("--samples", type=int, default=64, help="slices timed per size")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="also time N worker processes")
    parser.add_argument("--repeats", type=int, default=5, help="samples per artefact timing")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args(argv)

    machine = describe_machine()
    print(machine_line(machine))
    results = []
    for size in args.sizes:
        result = bench_size(size, args.samples, args.batch_size, args.workers, args.repeats)
        results.append(result)
        rate = result["slices_per_s_one_core"]
        per_kind = ", ".join(f"{k} {v:.1f} ms" for k, v in result["ms_per_artefact"].items())
        print(f"{size} x {size}: {rate:.1f} slices/s on one core ({per_kind})")
        if args.workers > 1:
            parallel = result[f"slices_per_s_{args.workers}_workers"]
            print(f"  {args.workers} worker processes: {parallel:.1f} slices/s")
        if size == 64:
            verdict = "keeps up with" if rate >= MODEL_IMAGES_PER_S else "is slower than"
            print(
                f"  one core {verdict} the cpu profile's model training "
                f"(~{MODEL_IMAGES_PER_S:.0f} images/s)"
            )
    record = {
        "benchmark": "data pipeline",
        "results": results,
        "model_training_images_per_s_cpu_profile": MODEL_IMAGES_PER_S,
        "machine": machine,
        "python": platform.python_version(),
    }
    if args.json:
        from mtmri_lib.store import atomic_write_json

        atomic_write_json(args.json, record, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
