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


def bench_training(
    profile: str,
    epochs: int,
    steps: int | None,
    seed: int = 0,
    *,
    workers: int | None = None,
    validation: bool = False,
    peak: float | None = None,
) -> dict[str, Any]:
    from mtmri_lib import training as T
    from mtmri_lib.inference import forward_flops
    from mtmri_lib.models import MODEL_SPECS, build_model, set_global_seed

    settings = T.training_settings(profile)
    if workers is not None:
        settings = settings.with_(workers=workers)
    steps = steps if steps is not None else settings.steps_per_epoch
    spec = MODEL_SPECS["MT"]
    start = time.perf_counter()
    train, validation_data, train_set, _, _ = T.model_datasets(
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
    built: list[Any] = []
    result = T.fit_network(
        lambda: built.append(build_model(profile, tasks=spec.tasks, seed=seed)) or built[-1],
        train,
        validation_data if validation else None,
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
    images_per_s = float(later.median()) if len(later) else None
    step_flops = 3 * forward_flops(built[-1])["total"]  # forward + backward per image
    gflops = None if images_per_s is None else step_flops * images_per_s / 1e9
    pipeline = _pipeline_alone(train, min(len(train), 8))
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
        "images_per_s": None if images_per_s is None else round(images_per_s, 2),
        "images_per_s_each_epoch": [round(float(v), 2) for v in history["train_images_per_s"]],
        "epoch_seconds_each_epoch": [round(float(v), 2) for v in history["seconds"]],
        "validation": validation,
        "gflop_per_image": step_flops / 1e9,
        "gflops_achieved": gflops,
        "share_of_peak": None if gflops is None or not peak else gflops / peak,
        "pipeline_alone": pipeline,
        # The share of one core the sample pipeline needs to keep up with this throughput.
        "pipeline_core_share": None
        if images_per_s is None
        else images_per_s / pipeline["images_per_s_one_thread"],
    }


def _pipeline_alone(dataset, batches: int) -> dict[str, Any]:
    """The training-sample pipeline on its own, in this thread: images/s, and where its
    time goes (cProfile, by artefact simulator)."""
    import cProfile
    import pstats

    dataset[0]  # warm caches
    profiler = cProfile.Profile()
    images = 0
    start = time.perf_counter()
    profiler.enable()
    for index in range(batches):
        images += len(dataset[index][0])
    profiler.disable()
    seconds = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    by_artefact = {}
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if function == "apply" and "mtmri_lib/artefacts/" in filename.replace("\\", "/"):
            by_artefact[Path(filename).stem] = round(row[3] / seconds, 3)  # cumulative share
    return {
        "batches": batches,
        "images_per_s_one_thread": images / seconds,
        "share_of_time_by_artefact": by_artefact,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", nargs="*", default=["smoke", "cpu"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per profile (>= 2)")
    parser.add_argument(
        "--steps", type=int, default=None, help="batches per epoch (default: the profile's)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=None,
        help="pipeline threads to compare (default: the profile's; results do not depend on it)",
    )
    parser.add_argument(
        "--validation", action="store_true", help="validate each epoch, as the book's runs do"
    )
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "machine": describe_machine(),
        "training": [],
    }
    print(machine_line(results["machine"]), flush=True)
    peak = results["machine"]["peak_float32"]["gflops"]
    for profile in args.profiles:
        for workers in args.workers or [None]:
            row = bench_training(
                profile,
                max(2, args.epochs),
                args.steps,
                workers=workers,
                validation=args.validation,
                peak=peak,
            )
            results["training"].append(row)
            share = "" if row["share_of_peak"] is None else f" ({row['share_of_peak']:.0%} of peak)"
            gflops = row["gflops_achieved"] or 0.0
            pipeline = row["pipeline_alone"]
            print(
                f"training {profile:6s} {row['image_size']:3d} px, batch {row['batch_size']:2d}, "
                f"{row['mode']}, {row['workers']} worker(s): {row['images_per_s']} images/s, "
                f"{gflops:.1f} GFLOP/s{share} after a first epoch of {row['first_epoch_s']} s "
                f"(each epoch: {row['images_per_s_each_epoch']} images/s; "
                f"{row['epoch_seconds_each_epoch']} s)\n"
                f"  sample pipeline alone: {pipeline['images_per_s_one_thread']:.0f} images/s on "
                f"one thread, so keeping up takes {row['pipeline_core_share'] or 0:.0%} of a core;"
                f" its time by artefact: {pipeline['share_of_time_by_artefact']}",
                flush=True,
            )
    results["machine"]["load_average_after"] = load_average()
    if args.json:
        from mtmri_lib.store import atomic_write_json

        atomic_write_json(Path(args.json), results, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
