"""Benchmark training speed per profile.

Training (each profile in ``--profiles``): the library's own path, `fit_network` on the MT
model with the profile's training settings (batch size, eager / graph / XLA) and the
packaged demo data through the training-sample pipeline (artefacts simulated on the fly, two
worker threads where the profile uses them). Reported: the first epoch's time (it includes
building and compiling the step) and the training images per second of the later epochs
(median; validation excluded).

The time to correct a volume (``mtmri correct``) is measured by ``benchmarks/model.py
--correct``, beside the forward pass it should cost.

Usage::

    python benchmarks/training.py --profiles smoke cpu --json bench.json

Timings move with the machine's load: run it alone and read ``/proc/loadavg``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from mtmri_lib.machine import describe_machine, load_average, machine_line


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", nargs="*", default=["smoke", "cpu"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per profile (>= 2)")
    parser.add_argument(
        "--steps", type=int, default=None, help="batches per epoch (default: the profile's)"
    )
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
    results["machine"]["load_average_after"] = load_average()
    if args.json:
        from mtmri_lib.store import atomic_write_json

        atomic_write_json(Path(args.json), results, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
