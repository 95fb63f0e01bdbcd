"""Benchmark training speed per profile and the time to correct a volume (``mtmri correct``).

Training (each profile in ``--profiles``): the library's own path, `fit_network` on the MT
model with the profile's training settings (batch size, eager / graph / XLA) and the
packaged demo data through the training-sample pipeline (artefacts simulated on the fly, two
worker threads where the profile uses them). Reported: the first epoch's time (it includes
building and compiling the step) and the training images per second of the later epochs
(median; validation excluded).

Correction (``--correct``): `mtmri_lib.correct.correct_volume` with the ``paper`` network
(75.4 M parameters, 320 x 320, untrained weights: the time does not depend on them) on a
synthetic 131-slice 320 x 320 volume, batch ``--correct-batch``. With ``--correct-slices N``
(default 8) only the first N slices are corrected after a warm-up call and the time of the
131 slices is extrapolated linearly, and the output says so; ``--correct-slices 131``
measures the whole volume.

Usage::

    python benchmarks/training.py --profiles smoke cpu --correct --json bench.json

Timings move with the machine's load: run it alone and read ``/proc/loadavg``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mtmri_lib.machine import describe_machine, load_average, machine_line

#: The volume of the correction benchmark: slices, rows, columns.
VOLUME_SHAPE = (131, 320, 320)


def bench_training(profile: str, epochs: int, steps: int | None, seed: int = 0) -> dict[str, Any]:
    from mtmri_lib import training as T
    from mtmri_lib.models import MODEL_SPECS, build_model, set_global_seed

    settings = T.training_settings(profile)
    steps = steps if steps is not None else settings.steps_per_epoch
    spec = MODEL_SPECS["MT"]
    start = time.perf_counter()
    train, validation, train_set, _, _ = T.model_datasets(
        spec,
        profile,
        settings,
        None,
        Path("_build/bench"),
        seed=seed,
        data_seed=seed,
        fidelity="paper",
    )
    load_seconds = time.perf_counter() - start
    set_global_seed(seed)
    result = T.fit_network(
        lambda: build_model(profile, tasks=spec.tasks, seed=seed),
        train,
        None,
        hyper=T.default_hyperparameters(spec),
        max_epochs=epochs,
        patience=epochs,
        steps_per_epoch=steps,
        verbose=0,
        run_eagerly=settings.run_eagerly,
        jit_compile=settings.jit_compile,
    )
    history = result.history
    later = history["train_images_per_s"].iloc[1:] if len(history) > 1 else history.iloc[:0]
    return {
        "profile": profile,
        "image_size": int(train_set.size),
        "batch_size": settings.batch_size,
        "steps_per_epoch": steps or len(train),
        "epochs": int(result.epochs),
        "mode": "eager"
        if settings.run_eagerly
        else ("XLA" if settings.jit_compile is True else f"graph (jit {settings.jit_compile})"),
        "workers": settings.workers,
        "data_load_s": round(load_seconds, 2),
        "first_epoch_s": round(float(history["seconds"].iloc[0]), 2),
        "images_per_s": round(float(later.median()), 2) if len(later) else None,
        "images_per_s_each_epoch": [round(float(v), 2) for v in history["train_images_per_s"]],
    }


def _volume(seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    small = rng.random((VOLUME_SHAPE[0], 40, 40))
    volume = ndimage.zoom(ndimage.gaussian_filter(small, (0, 2, 2)), (1, 8, 8), order=1)
    return (volume * 1000).astype(np.float32)


def bench_correct(slices: int, batch: int, seed: int = 0) -> dict[str, Any]:
    from mtmri_lib.correct import correct_volume
    from mtmri_lib.inference import ModelCorrector
    from mtmri_lib.models import build_model

    start = time.perf_counter()
    corrector = ModelCorrector(build_model("paper", seed=seed), batch_size=batch)
    build_seconds = time.perf_counter() - start
    volume = _volume(seed)
    assert volume.shape == VOLUME_SHAPE
    correct_volume(volume[:batch], corrector, batch_size=batch, progress=False)  # warm-up
    slices = min(int(slices), VOLUME_SHAPE[0])
    start = time.perf_counter()
    correct_volume(volume[:slices], corrector, batch_size=batch, progress=False)
    seconds = time.perf_counter() - start
    total = seconds * VOLUME_SHAPE[0] / slices
    return {
        "network": "paper (75.4 M parameters, 320 x 320, untrained weights)",
        "volume": "x".join(map(str, VOLUME_SHAPE)),
        "batch": batch,
        "slices_timed": slices,
        "seconds_timed": round(seconds, 2),
        "seconds_per_slice": round(seconds / slices, 3),
        "seconds_131_slices": round(total, 1),
        "extrapolated": slices < VOLUME_SHAPE[0],
        "build_seconds": round(build_seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", nargs="*", default=["smoke", "cpu"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per profile (>= 2)")
    parser.add_argument(
        "--steps", type=int, default=None, help="batches per epoch (default: the profile's)"
    )
    parser.add_argument("--correct", action="store_true", help="time the paper network on a volume")
    parser.add_argument("--correct-slices", type=int, default=8)
    parser.add_argument("--correct-batch", type=int, default=4)
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "machine": describe_machine(),
        "training": [],
    }
    print(machine_line(results["machine"]), flush=True)
    for profile in args.profiles:
        row = bench_training(profile, max(2, args.epochs), args.steps)
        results["training"].append(row)
        print(
            f"training {profile:6s} {row['image_size']:3d} px, batch {row['batch_size']:2d}, "
            f"{row['mode']}: {row['images_per_s']} images/s after a first epoch of "
            f"{row['first_epoch_s']} s (each epoch: {row['images_per_s_each_epoch']})",
            flush=True,
        )
    if args.correct:
        row = bench_correct(args.correct_slices, args.correct_batch)
        results["correct"] = row
        how = (
            f"extrapolated from {row['slices_timed']} slices ({row['seconds_timed']} s)"
            if row["extrapolated"]
            else "all slices timed"
        )
        print(
            f"correct {row['volume']} with the paper network, batch {row['batch']}: "
            f"{row['seconds_131_slices']} s for 131 slices, {how}; "
            f"{row['seconds_per_slice']} s per slice",
            flush=True,
        )
    results["machine"]["load_average_after"] = load_average()
    if args.json:
        from mtmri_lib.store import atomic_write_json

        atomic_write_json(Path(args.json), results, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
