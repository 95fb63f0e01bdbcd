"""Benchmark the dual-domain network: forward time per slice and training speed per profile.

Forward (``paper`` profile, 320 x 320, inference mode): plain Keras call, a compiled
``tf.function`` and an XLA-compiled one (``jit_compile=True``), at batch sizes
``--forward-batches``; time per slice = time per call / batch size. Every compiled variant
is compared with the plain float32 call on the same batch: the largest absolute and the RMS
difference of the ``"image"`` output (z-normalised, so of unit scale) are reported. float32
variants must keep every pixel within ``--tolerance`` (1e-3); the bfloat16 variants (Keras
``mixed_bfloat16`` policy: bfloat16 compute, float32 weights and output layers; skip with
``--no-bf16``) must keep the RMS difference within ``--bf16-tolerance`` (5e-3). The script
exits with status 1 if a variant misses its tolerance.

Training (each profile in ``--profiles``): a plain custom training step (RMSprop, the
multi-task loss with the convolutional loss and the residual regulariser), as a
``tf.function`` with and without XLA; step time and images per second.

Usage::

    python benchmarks/model.py --profiles smoke cpu paper --repeats 5 --json bench.json

Timings are medians over ``--repeats`` calls after warm-up calls (compilation excluded).
On a shared machine they move with its load: run it alone, and read ``/proc/loadavg``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mtmri_lib.machine import describe_machine, machine_line

#: Training batch size per profile (the paper profile at batch 1 on a CPU).
TRAIN_BATCH = {"smoke": 8, "cpu": 16, "paper": 1}

#: Kernel weights used in the training step (a mix of all nine kernels).
BENCH_DELTAS = {
    "identity": 0.3,
    "prewitt_top": 0.5,
    "sobel3_top": 0.2,
    "sobel5_right": 0.2,
    "laplace5": 0.4,
}


def _median_time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _batch(size: int, batch: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, size, size, 1)).astype(np.float32)


def bench_forward(
    profile: str,
    batches: list[int],
    repeats: int,
    tolerance: float,
    bf16_tolerance: float,
    bf16: bool = True,
) -> list[dict[str, Any]]:
    import keras
    import tensorflow as tf

    from mtmri_lib.models import build_model, model_config

    model = build_model(profile, seed=0)
    size = model_config(profile).image_size
    variants = {
        "keras (eager call)": lambda x: model(x, training=False),
        "tf.function": tf.function(lambda x: model(x, training=False)),
        "xla": tf.function(lambda x: model(x, training=False), jit_compile=True),
    }
    if bf16:
        # The same weights in a mixed-precision copy: bfloat16 compute, float32 variables,
        # float32 output layers. This CPU has no native bfloat16 units (no AVX512-BF16/AMX).
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            half = build_model(profile, seed=0)
        finally:
            keras.config.set_dtype_policy("float32")
        half.set_weights(model.get_weights())
        variants["tf.function bf16"] = tf.function(lambda x: half(x, training=False))
        variants["xla bf16"] = tf.function(lambda x: half(x, training=False), jit_compile=True)
    rows = []
    for batch in batches:
        x = tf.constant(_batch(size, batch))
        reference = variants["keras (eager call)"](x)["image"].numpy()
        for variant, fn in variants.items():
            # Eager calls are the slowest: repeat them at most three times.
            n = repeats if variant != "keras (eager call)" else max(1, min(repeats, 3))
            seconds = _median_time(lambda fn=fn, x=x: fn(x)["image"].numpy(), n)
            error = fn(x)["image"].numpy() - reference
            max_diff = float(np.max(np.abs(error)))
            rms_diff = float(np.sqrt(np.mean(error**2)))
            # float32 variants: every pixel within `tolerance`; bfloat16 ones (3 significant
            # digits): the RMS difference of the unit-variance output within `bf16_tolerance`.
            ok = rms_diff <= bf16_tolerance if "bf16" in variant else max_diff <= tolerance
            rows.append(
                {
                    "profile": profile,
                    "variant": variant,
                    "batch": batch,
                    "seconds_per_call": seconds,
                    "seconds_per_slice": seconds / batch,
                    "max_abs_diff_vs_float32": max_diff,
                    "rms_diff_vs_float32": rms_diff,
                    "within_tolerance": ok,
                }
            )
            _print_row(rows[-1], "forward")
    return rows


def bench_training(profile: str, repeats: int, jit: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    from mtmri_lib.losses import training_objective
    from mtmri_lib.models import TASKS, build_model, model_config

    size = model_config(profile).image_size
    batch = TRAIN_BATCH[profile]
    model = build_model(profile, seed=0)
    optimizer = keras.optimizers.RMSprop(learning_rate=1e-4)
    rng = np.random.default_rng(1)
    u = tf.constant(_batch(size, batch, 2))
    clean = tf.constant(_batch(size, batch, 3))
    one_hot = tf.constant(np.eye(len(TASKS), dtype=np.float32)[rng.integers(0, 4, batch)])

    @tf.function(jit_compile=jit)
    def train_step(u, clean, one_hot):
        with tf.GradientTape() as tape:
            outputs = model(u, training=True)
            objective = training_objective(
                outputs, u, clean, one_hot, deltas=BENCH_DELTAS, alpha=0.5
            )
        grads = tape.gradient(objective["loss"], model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return objective["loss"]

    seconds = _median_time(lambda: float(train_step(u, clean, one_hot)), repeats, warmup=2)
    row = {
        "profile": profile,
        "variant": "xla" if jit else "tf.function",
        "batch": batch,
        "image_size": size,
        "parameters": model.count_params(),
        "seconds_per_step": seconds,
        "images_per_second": batch / seconds,
    }
    _print_row(row, "train")
    return row


def _print_row(row: dict[str, Any], kind: str) -> None:
    if kind == "forward":
        print(
            f"forward  {row['profile']:6s} {row['variant']:20s} batch {row['batch']:3d}  "
            f"{row['seconds_per_slice'] * 1e3:9.1f} ms/slice  "
            f"max|diff| {row['max_abs_diff_vs_float32']:.1e}  "
            f"rms diff {row['rms_diff_vs_float32']:.1e}",
            flush=True,
        )
    else:
        print(
            f"train    {row['profile']:6s} {row['variant']:20s} batch {row['batch']:3d}  "
            f"{row['seconds_per_step'] * 1e3:9.1f} ms/step  "
            f"{row['images_per_second']:8.1f} images/s",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", nargs="+", default=["smoke", "cpu", "paper"])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measurement")
    parser.add_argument(
        "--forward-batches",
        type=int,
        nargs="+",
        default=[1, 4],
        help="batch sizes of the paper-scale forward benchmark (empty with --no-forward)",
    )
    parser.add_argument("--no-forward", action="store_true", help="skip the forward benchmark")
    parser.add_argument(
        "--no-training", action="store_true", help="skip the training-step benchmark"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-3,
        help="largest accepted |difference| of the z-normalised output against plain float32",
    )
    parser.add_argument(
        "--bf16-tolerance",
        type=float,
        default=5e-3,
        help="largest accepted RMS difference of the bfloat16 variants' output",
    )
    parser.add_argument("--no-bf16", action="store_true", help="skip the bfloat16 variants")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)

    import mtmri_lib._tf_env  # noqa: F401  (before TensorFlow: quiets its start-up log)

    # isort: split
    import tensorflow as tf

    results: dict[str, Any] = {
        "machine": {
            **describe_machine(),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
            "tensorflow": tf.__version__,
        },
        "tolerance": args.tolerance,
        "bf16_tolerance": args.bf16_tolerance,
        "forward": [],
        "training": [],
    }
    print(machine_line(results["machine"]), flush=True)
    if not args.no_forward and "paper" in args.profiles:
        results["forward"] = bench_forward(
            "paper",
            args.forward_batches,
            args.repeats,
            args.tolerance,
            args.bf16_tolerance,
            bf16=not args.no_bf16,
        )
    for profile in [] if args.no_training else args.profiles:
        for jit in (False, True):
            results["training"].append(bench_training(profile, max(1, args.repeats), jit))

    print(
        "\n| measurement | profile | variant | batch | time | throughput "
        "| max abs diff | rms diff |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in results["forward"]:
        print(
            f"| forward | {row['profile']} | {row['variant']} | {row['batch']} | "
            f"{row['seconds_per_slice']:.3f} s/slice | "
            f"{1 / row['seconds_per_slice']:.2f} slices/s | "
            f"{row['max_abs_diff_vs_float32']:.1e} | {row['rms_diff_vs_float32']:.1e} |"
        )
    for row in results["training"]:
        print(
            f"| train step | {row['profile']} | {row['variant']} | {row['batch']} | "
            f"{row['seconds_per_step']:.3f} s/step | {row['images_per_second']:.1f} images/s | | |"
        )
    if args.json is not None:
        from mtmri_lib.store import atomic_write_json

        atomic_write_json(args.json, results, indent=2)
    bad = [row for row in results["forward"] if not row["within_tolerance"]]
    if bad:
        print(
            f"{len(bad)} forward variant(s) outside the tolerance {args.tolerance}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
