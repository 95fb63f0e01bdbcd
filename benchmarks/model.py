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

With ``--fold`` (default on), two more variants run a copy with each batch normalisation
folded into its convolution (`mtmri_lib.inference.fold_batch_norm`); the network's batch
normalisations get random moving statistics first (seeded), so that the folded output is
compared with a non-trivial normalisation (untrained weights: the time does not depend on
the values).

Every row gives the achieved GFLOP/s and its share of the machine's float32 peak
(`mtmri_lib.machine.peak_gflops`: cores x clock x FLOP per cycle of the widest vector
extension, two FMA units assumed); the forward cost is `mtmri_lib.inference.forward_flops`
(about 163 GFLOP per 320 x 320 slice for the paper network), a training step's three
times the forward count per image.

Correction (``--correct``): `mtmri_lib.correct.correct_volume` (the ``mtmri correct`` path)
with the same network on a synthetic volume of ``--correct-slices`` slices (default 8, after
a warm-up call), batch ``--correct-batch`` (default: the largest forward batch), through
`ModelCorrector` as the command builds it (Keras' choice of compilation), with XLA, without,
and with the batch normalisations folded; each against the fastest forward variant of the
same batch in this run (ratio 1.0: the correction costs what the network costs).

Training (each profile in ``--profiles``): a plain custom training step (RMSprop, the
multi-task loss with the convolutional loss and the residual regulariser), as a
``tf.function`` with and without XLA; step time and images per second.

Usage::

    python benchmarks/model.py --profiles smoke cpu paper --repeats 5 --correct --json bench.json

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


def _randomise_batch_norm(model, seed: int = 7) -> None:
    """Non-trivial moving statistics, scales and offsets for every batch normalisation."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.8, 1.2, c),
                    rng.normal(0, 0.1, c),
                    rng.normal(0, 0.1, c),
                    rng.uniform(0.8, 1.2, c),
                ]
            )


def _rate(flops_per_image: float, seconds_per_image: float, peak: float | None) -> dict:
    gflops = flops_per_image / seconds_per_image / 1e9
    return {
        "gflop_per_image": flops_per_image / 1e9,
        "gflops_achieved": gflops,
        "share_of_peak": None if not peak else gflops / peak,
    }


def bench_forward(
    profile: str,
    batches: list[int],
    repeats: int,
    tolerance: float,
    bf16_tolerance: float,
    bf16: bool = True,
    fold: bool = True,
    peak: float | None = None,
) -> tuple[list[dict[str, Any]], Any]:
    """Forward rows, and the network they timed (for `bench_correct`)."""
    import keras
    import tensorflow as tf

    from mtmri_lib.inference import fold_batch_norm, forward_flops
    from mtmri_lib.models import build_model, model_config

    model = build_model(profile, seed=0)
    _randomise_batch_norm(model)
    flops = forward_flops(model)["total"]
    size = model_config(profile).image_size
    variants = {
        "keras (eager call)": lambda x: model(x, training=False),
        "tf.function": tf.function(lambda x: model(x, training=False)),
        "xla": tf.function(lambda x: model(x, training=False), jit_compile=True),
    }
    if fold:
        folded = fold_batch_norm(model)
        variants["tf.function, BN folded"] = tf.function(lambda x: folded(x, training=False))
        variants["xla, BN folded"] = tf.function(
            lambda x: folded(x, training=False), jit_compile=True
        )
    if bf16:
        # The same weights in a mixed-precision copy: bfloat16 compute, float32 variables,
        # float32 output layers.
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
                    **_rate(flops, seconds / batch, peak),
                    "max_abs_diff_vs_float32": max_diff,
                    "rms_diff_vs_float32": rms_diff,
                    "within_tolerance": ok,
                }
            )
            _print_row(rows[-1], "forward")
    return rows, model


def _volume(slices: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth positive slices in scanner-like units, ``slices x size x size``."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    small = rng.random((slices, max(4, size // 8), max(4, size // 8)))
    volume = ndimage.zoom(ndimage.gaussian_filter(small, (0, 2, 2)), (1, 8, 8), order=1)
    return (volume[:, :size, :size] * 1000 + 10).astype(np.float32)


def bench_correct(
    model, slices: int, batch: int, forward_rows: list[dict[str, Any]], peak: float | None
) -> list[dict[str, Any]]:
    """`correct_volume` with each way `ModelCorrector` can run the network."""
    from mtmri_lib.correct import correct_volume
    from mtmri_lib.inference import ModelCorrector, forward_flops

    flops = forward_flops(model)["total"]
    size = int(model.input_shape[1])
    volume = _volume(slices, size)
    same_batch = [r for r in forward_rows if r["batch"] == batch and "bf16" not in r["variant"]]
    fastest = min(same_batch, key=lambda r: r["seconds_per_slice"]) if same_batch else None
    options = {
        "as mtmri correct builds it (Keras' choice)": {},
        "xla": {"jit_compile": True},
        "graph, no xla": {"jit_compile": False},
        "graph, BN folded": {"jit_compile": False, "fold_batch_norm": True},
        "xla, BN folded": {"jit_compile": True, "fold_batch_norm": True},
    }
    rows = []
    reference = None
    for name, option in options.items():
        start = time.perf_counter()
        corrector = ModelCorrector(model, batch_size=batch, **option)
        build = time.perf_counter() - start
        start = time.perf_counter()
        correct_volume(volume[: batch + 1], corrector, batch_size=batch, progress=False)
        warm = time.perf_counter() - start  # compiles the forward pass (one shape)
        start = time.perf_counter()
        result = correct_volume(volume, corrector, batch_size=batch, progress=False)
        seconds = time.perf_counter() - start
        if reference is None:
            reference = result.corrected
        scale = float(np.abs(reference).max())
        row = {
            "variant": name,
            "batch": batch,
            "slices": slices,
            "image_size": size,
            "seconds_per_slice": seconds / slices,
            **_rate(flops, seconds / slices, peak),
            "build_and_warm_up_s": build + warm,
            "max_rel_diff_vs_first": float(np.abs(result.corrected - reference).max()) / scale,
            "fastest_forward_variant": None if fastest is None else fastest["variant"],
            "ratio_to_fastest_forward": None
            if fastest is None
            else (seconds / slices) / fastest["seconds_per_slice"],
        }
        rows.append(row)
        ratio = row["ratio_to_fastest_forward"]
        print(
            f"correct  {name:42s} batch {batch:3d}  {row['seconds_per_slice'] * 1e3:9.1f} ms/slice"
            f"  {row['gflops_achieved']:6.1f} GFLOP/s"
            + (
                ""
                if ratio is None
                else f"  {ratio:.2f} x the fastest forward ({fastest['variant']})"
            ),
            flush=True,
        )
    return rows


def bench_training(
    profile: str, repeats: int, jit: bool, peak: float | None = None
) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    from mtmri_lib.inference import forward_flops
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
        # forward + backward: about three forward passes per image
        **_rate(3 * forward_flops(model)["total"], seconds / batch, peak),
    }
    _print_row(row, "train")
    return row


def _print_row(row: dict[str, Any], kind: str) -> None:
    if kind == "forward":
        print(
            f"forward  {row['profile']:6s} {row['variant']:20s} batch {row['batch']:3d}  "
            f"{row['seconds_per_slice'] * 1e3:9.1f} ms/slice  "
            f"{row['gflops_achieved']:6.1f} GFLOP/s{_share(row)}  "
            f"max|diff| {row['max_abs_diff_vs_float32']:.1e}  "
            f"rms diff {row['rms_diff_vs_float32']:.1e}",
            flush=True,
        )
    else:
        print(
            f"train    {row['profile']:6s} {row['variant']:20s} batch {row['batch']:3d}  "
            f"{row['seconds_per_step'] * 1e3:9.1f} ms/step  "
            f"{row['images_per_second']:8.1f} images/s  "
            f"{row['gflops_achieved']:6.1f} GFLOP/s{_share(row)}",
            flush=True,
        )


def _share(row: dict[str, Any]) -> str:
    share = row.get("share_of_peak")
    return "" if share is None else f" ({share:.0%} of peak)"


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
    parser.add_argument(
        "--no-fold", action="store_true", help="skip the variants with batch norm folded"
    )
    parser.add_argument(
        "--forward-profiles",
        nargs="+",
        default=["cpu", "paper"],
        help="networks of the forward benchmark (those also in --profiles)",
    )
    parser.add_argument(
        "--correct", action="store_true", help="time mtmri correct's path on a volume"
    )
    parser.add_argument("--correct-slices", type=int, default=8)
    parser.add_argument(
        "--correct-batch", type=int, default=None, help="default: the largest forward batch"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)

    import mtmri_lib._tf_env  # noqa: F401  (before TensorFlow: quiets its start-up log)

    # isort: split
    import tensorflow as tf

    machine = describe_machine()
    peak = machine["peak_float32"]["gflops"]
    results: dict[str, Any] = {
        "machine": {
            **machine,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
            "tensorflow": tf.__version__,
        },
        "tolerance": args.tolerance,
        "bf16_tolerance": args.bf16_tolerance,
        "forward": [],
        "correct": [],
        "training": [],
    }
    print(machine_line(results["machine"]), flush=True)
    forward_profiles = [p for p in args.forward_profiles if p in args.profiles]
    if args.correct and not forward_profiles:
        parser.error("--correct needs a forward profile (--forward-profiles, in --profiles)")
    for profile in [] if args.no_forward else forward_profiles:
        rows, model = bench_forward(
            profile,
            args.forward_batches,
            args.repeats,
            args.tolerance,
            args.bf16_tolerance,
            bf16=not args.no_bf16,
            fold=not args.no_fold,
            peak=peak,
        )
        results["forward"] += rows
        if args.correct and profile == forward_profiles[-1]:
            batch = args.correct_batch or max(args.forward_batches)
            results["correct"] = bench_correct(model, args.correct_slices, batch, rows, peak)
    for profile in [] if args.no_training else args.profiles:
        for jit in (False, True):
            results["training"].append(bench_training(profile, max(1, args.repeats), jit, peak))

    print(
        "\n| measurement | profile | variant | batch | time | GFLOP/s | share of peak "
        "| max abs diff | rms diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    share = lambda row: "" if row["share_of_peak"] is None else f"{row['share_of_peak']:.0%}"  # noqa: E731
    for row in results["forward"]:
        print(
            f"| forward | {row['profile']} | {row['variant']} | {row['batch']} | "
            f"{row['seconds_per_slice']:.3f} s/slice | {row['gflops_achieved']:.1f} | "
            f"{share(row)} | {row['max_abs_diff_vs_float32']:.1e} | "
            f"{row['rms_diff_vs_float32']:.1e} |"
        )
    for row in results["correct"]:
        ratio = row["ratio_to_fastest_forward"]
        print(
            f"| mtmri correct | {forward_profiles[-1]} | {row['variant']} | {row['batch']} | "
            f"{row['seconds_per_slice']:.3f} s/slice"
            + ("" if ratio is None else f" ({ratio:.2f} x fastest forward)")
            + f" | {row['gflops_achieved']:.1f} | {share(row)} | "
            f"{row['max_rel_diff_vs_first']:.1e} (rel.) | |"
        )
    for row in results["training"]:
        print(
            f"| train step | {row['profile']} | {row['variant']} | {row['batch']} | "
            f"{row['seconds_per_step']:.3f} s/step ({row['images_per_second']:.1f} images/s) | "
            f"{row['gflops_achieved']:.1f} | {share(row)} | | |"
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
