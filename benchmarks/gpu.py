"""Benchmark the paper network's training and inference on a GPU machine, any Keras backend.

Written for machines without TensorFlow (JAX or PyTorch with CUDA, as researchers' GPU
machines and this project's lent device have them): nothing on this script's path imports
TensorFlow. The backend is ``KERAS_BACKEND`` if set, else JAX if it is installed, else
PyTorch; it is chosen before Keras is imported.

What it measures (the ``paper`` network by default: 320 x 320, 75.4 M parameters):

- **training**, for each precision of ``--precisions`` (``float32`` and Keras'
  ``mixed_bfloat16``; also ``mixed_float16``, with loss scaling) and each batch size of
  ``--batches`` (8, 16, 32): images per second of the library's own training step
  (`mtmri_lib.training.fit.compile_trainer`: RMSprop, the MT+L_C objective with all nine
  kernels of the convolutional loss and the residual regulariser, the model's default
  hyper-parameters), compiled as the backend does it (XLA on JAX; PyTorch eager). A warm-up
  ``fit`` of ``--warmup-steps`` steps compiles the step; the timed ``fit`` runs ``--steps``
  steps on one fixed synthetic batch (z-normalised noise, random labels): the data pipeline
  is not part of the figure. Reported with the achieved TFLOP/s (a step counted as three
  forward passes, `mtmri_lib.inference.forward_flops`) and the compilation time;
- **inference**: seconds per slice of ``predict`` at the batch sizes of
  ``--inference-batches`` (1 and 16), float32 and the mixed precisions, after a warm-up call;
- **dry-run chapters, the model's share** (``--chapters``, default ``paper-dry``): what the
  training chapter of ``mtmri book --profile paper --dry-run`` does on the accelerator, model
  by model for the seven models (build, compile, then the dry run's epochs x steps at its
  batch size, float32, as `mtmri_lib.training.fit.compile_trainer` trains), and the search
  chapter's one trial per searched model likewise; wall time per model, compilation
  included, which is what dominates a dry run on a GPU. The data pipeline, the metrics and
  the baselines of those chapters run on the CPU in numpy (and need gstools, pandas and
  scikit-image, which a machine without a package index may lack), so they are not here.

Each measurement starts only while the run is inside ``--budget`` seconds (default 540, so
that the whole run with start-up stays within 10 minutes); what did not fit is listed as
skipped. A measurement that fails (out of memory, say) is recorded with its error and the
run goes on. The first line is the machine (`mtmri_lib.machine.machine_line`) and the
accelerator as the backend names it; ``--json`` (default ``$OUT/gpu.json`` where ``OUT`` is
set) keeps every row.

Usage (see ``benchmarks/gpu_run.sh`` for the device command)::

    KERAS_BACKEND=jax python benchmarks/gpu.py --json gpu.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Backends tried, in order, when KERAS_BACKEND is not set (module to look for, backend name).
_BACKENDS = (("jax", "jax"), ("torch", "torch"))


def choose_backend() -> str:
    """``KERAS_BACKEND`` if set, else the first of JAX and PyTorch that is installed (set
    in the environment before Keras is imported)."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    for module, name in _BACKENDS:
        if importlib.util.find_spec(module) is not None:
            os.environ["KERAS_BACKEND"] = name
            return name
    raise SystemExit("benchmarks/gpu.py: neither JAX nor PyTorch is installed; set KERAS_BACKEND")


def accelerator(backend: str) -> str:
    """The devices the backend computes on, as it names them."""
    if backend == "jax":
        import jax

        devices = jax.devices()
        kinds = sorted({device.device_kind for device in devices})
        # float32 convolutions and matrix products on a GPU may use TF32 unless this says
        # "highest": part of what a float32 figure means.
        precision = jax.config.jax_default_matmul_precision or "default"
        return (
            f"jax {jax.__version__}: {len(devices)} x {', '.join(kinds)} "
            f"({devices[0].platform}; float32 matmul precision {precision})"
        )
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            count = torch.cuda.device_count()
            names = sorted({torch.cuda.get_device_name(i) for i in range(count)})
            tf32 = torch.backends.cudnn.allow_tf32  # cuDNN convolutions in TF32 (torch default)
            return (
                f"torch {torch.__version__}: {count} x {', '.join(names)} "
                f"(cuDNN TF32 convolutions {'on' if tf32 else 'off'})"
            )
        return f"torch {torch.__version__}: no CUDA device (CPU)"
    return f"{backend}: device not reported"


def _release(backend: str) -> None:
    """Free what the last measurement left on the device."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _inputs(size: int, batch: int, n_tasks: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((batch, size, size, 1)).astype(np.float32)
    clean = rng.standard_normal((batch, size, size, 1)).astype(np.float32)
    label = np.eye(n_tasks, dtype=np.float32)[rng.integers(0, n_tasks, batch)]
    return u, {"clean": clean, "label": label}


def _same_batch(batch: Any, steps: int):
    """``steps`` copies of one batch, as a Keras dataset (no pipeline cost in the timing)."""
    import keras

    class SameBatch(keras.utils.PyDataset):
        def __len__(self) -> int:
            return steps

        def __getitem__(self, index: int):
            return batch

    return SameBatch()


def bench_training(
    config: str, precision: str, batch: int, steps: int, warmup_steps: int
) -> dict[str, Any]:
    """Images per second of the library's training step (see the module docstring)."""
    from mtmri_lib.inference import forward_flops
    from mtmri_lib.models import TASKS, build_model, model_config
    from mtmri_lib.training.fit import compile_trainer
    from mtmri_lib.training.specs import default_hyperparameters

    cfg = model_config(config).with_(precision=precision)
    network = build_model(cfg, seed=0)
    trainer = compile_trainer(network, default_hyperparameters("MT+L_C"), jit_compile=True)
    data = _inputs(cfg.image_size, batch, len(TASKS))
    start = time.perf_counter()
    trainer.fit(_same_batch(data, warmup_steps), epochs=1, shuffle=False, verbose=0)
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    history = trainer.fit(_same_batch(data, steps), epochs=1, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    images_per_s = steps * batch / seconds
    flops = 3 * forward_flops(network)["total"]
    return {
        "kind": "training",
        "config": config,
        "precision": precision,
        "batch": batch,
        "steps": steps,
        "seconds": seconds,
        "images_per_s": images_per_s,
        "step_seconds": seconds / steps,
        "tflops_achieved": flops * images_per_s / 1e12,
        "warmup_seconds": compile_seconds,
        "loss": float(history.history["loss"][-1]),
        "parameters": int(network.count_params()),
    }


def bench_inference(config: str, precision: str, batch: int, repeats: int) -> dict[str, Any]:
    """Seconds per slice of ``predict`` at one batch size, after a warm-up call."""
    from mtmri_lib.models import build_model, model_config

    cfg = model_config(config).with_(precision=precision)
    network = build_model(cfg, seed=0)
    x = _inputs(cfg.image_size, batch * repeats, 1)[0]
    start = time.perf_counter()
    network.predict(x[:batch], batch_size=batch, verbose=0)
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    out = network.predict(x, batch_size=batch, verbose=0)
    seconds = time.perf_counter() - start
    return {
        "kind": "inference",
        "config": config,
        "precision": precision,
        "batch": batch,
        "slices": len(x),
        "seconds": seconds,
        "seconds_per_slice": seconds / len(x),
        "warmup_seconds": compile_seconds,
        "finite": bool(np.all(np.isfinite(out["image"]))),
    }


def bench_chapter(profile: str, chapter: str, *, deadline: float = math.inf) -> dict[str, Any]:
    """The model's share of one chapter of a dry run: for each model the chapter trains,
    build, compile and train the profile's epochs x steps (the search: one trial of its
    search epochs x steps per searched model) at its batch size, on synthetic batches.
    Models not started by ``deadline`` (``time.perf_counter()``) are listed as skipped."""
    import keras

    from mtmri_lib.models import MODEL_LABELS, build_model, model_config, model_spec
    from mtmri_lib.training import training_settings
    from mtmri_lib.training.fit import compile_trainer
    from mtmri_lib.training.specs import default_hyperparameters

    settings = training_settings(profile)
    cfg = model_config(profile)
    if chapter == "training":
        labels, epochs, steps = MODEL_LABELS, settings.max_epochs, settings.steps_per_epoch
    elif chapter == "search":
        labels = tuple(settings.search_models)
        epochs, steps = settings.search_max_epochs, settings.search_steps_per_epoch
    else:
        raise ValueError(f"chapter must be 'training' or 'search'; got {chapter!r}")
    steps = int(steps or 2)  # None (a whole epoch of data) is timed as two steps
    per_model: dict[str, float] = {}
    skipped: list[str] = []
    start = time.perf_counter()
    for label in labels:
        if time.perf_counter() > deadline:
            skipped.append(label)
            continue
        spec = model_spec(label)
        begin = time.perf_counter()
        network = build_model(cfg, tasks=spec.tasks, seed=0)
        trainer = compile_trainer(network, default_hyperparameters(label), jit_compile=True)
        data = _inputs(cfg.image_size, settings.batch_size, len(spec.tasks))
        trainer.fit(_same_batch(data, steps), epochs=epochs, shuffle=False, verbose=0)
        per_model[label] = time.perf_counter() - begin
        del trainer, network
        _release(keras.backend.backend())
    return {
        "kind": "chapter",
        "chapter": chapter,
        "precision": "float32",
        "batch": settings.batch_size,
        "profile": profile,
        "epochs": epochs,
        "steps": steps,
        "seconds": time.perf_counter() - start,
        "seconds_per_model": per_model,
        "models_skipped": skipped,
    }


def _describe(row: dict[str, Any]) -> str:
    if row["kind"] == "chapter":
        head = f"chapter   {row['chapter']:14s} ({row.get('profile', '')})"
        if "error" in row or "skipped" in row:
            return f"{head}: " + (f"FAILED {row['error']}" if "error" in row else "skipped")
        models = ", ".join(f"{k} {v:.1f} s" for k, v in row["seconds_per_model"].items())
        return (
            f"{head}: {row['seconds']:.1f} s for {len(row['seconds_per_model'])} models, "
            f"{row['epochs']} epoch(s) x {row['steps']} step(s) at batch {row['batch']} "
            f"({models})"
            + (
                f"; not started: {', '.join(row['models_skipped'])}"
                if row["models_skipped"]
                else ""
            )
        )
    head = f"{row['kind']:9s} {row['precision']:14s} batch {row['batch']:3d}"
    if "error" in row:
        return f"{head}: FAILED {row['error']}"
    if "skipped" in row:
        return f"{head}: skipped ({row['skipped']})"
    if row["kind"] == "training":
        return (
            f"{head}: {row['images_per_s']:8.1f} images/s, {row['step_seconds'] * 1e3:7.1f} "
            f"ms/step, {row['tflops_achieved']:6.1f} TFLOP/s (warm-up/compile "
            f"{row['warmup_seconds']:.1f} s, loss {row['loss']:.4f})"
        )
    return (
        f"{head}: {row['seconds_per_slice'] * 1e3:8.2f} ms/slice over {row['slices']} slices "
        f"(warm-up/compile {row['warmup_seconds']:.1f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--config", default="paper", help="model config (profile name)")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument(
        "--precisions", nargs="+", default=["float32", "mixed_bfloat16"], help="dtype policies"
    )
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--inference-batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--inference-repeats", type=int, default=8, help="batches timed")
    parser.add_argument(
        "--chapters",
        default="paper-dry",
        help="profile whose dry-run training and search chapters are timed ('none': skip)",
    )
    parser.add_argument("--budget", type=float, default=540.0, help="seconds for all rows")
    parser.add_argument("--json", type=Path, default=None, help="where to write the rows")
    args = parser.parse_args(argv)
    begin = time.perf_counter()

    backend = choose_backend()
    from mtmri_lib.machine import describe_machine, machine_line

    machine = describe_machine()
    import keras

    device = accelerator(backend)
    print(f"{machine_line(machine)}; accelerator: {device}")
    print(f"keras {keras.__version__} on {keras.backend.backend()}", flush=True)

    # In order of what matters most, as the budget may end the run early: float32 first, then
    # the training chapter, the mixed precisions, and the search chapter last.
    plan: list[tuple[str, str, int]] = [("inference", "float32", b) for b in args.inference_batches]
    plan += [("training", "float32", b) for b in args.batches if "float32" in args.precisions]
    if args.chapters != "none":
        plan.append(("chapter", "training", 0))
    for precision in args.precisions:
        if precision != "float32":
            plan += [("training", precision, b) for b in args.batches]
            plan += [("inference", precision, b) for b in args.inference_batches]
    if args.chapters != "none":
        plan.append(("chapter", "search", 0))

    rows: list[dict[str, Any]] = []
    for kind, precision, batch in plan:
        elapsed = time.perf_counter() - begin
        if kind == "chapter":
            blank: dict[str, Any] = {"kind": kind, "chapter": precision, "profile": args.chapters}
        else:
            blank = {"kind": kind, "precision": precision, "batch": batch}
        if elapsed > args.budget:
            row: dict[str, Any] = {**blank, "skipped": f"time budget of {args.budget:.0f} s spent"}
        else:
            try:
                if kind == "chapter":
                    row = bench_chapter(args.chapters, precision, deadline=begin + args.budget)
                elif kind == "training":
                    row = bench_training(
                        args.config, precision, batch, args.steps, args.warmup_steps
                    )
                else:
                    row = bench_inference(args.config, precision, batch, args.inference_repeats)
            except Exception as error:  # noqa: BLE001 (recorded; the next row may fit)
                row = dict(blank)
                row["error"] = f"{type(error).__name__}: {str(error)[:300]}"
            _release(backend)
        rows.append(row)
        print(_describe(row), flush=True)

    total = time.perf_counter() - begin
    print(f"total {total:.0f} s")
    out = args.json
    if out is None and os.environ.get("OUT"):
        out = Path(os.environ["OUT"]) / "gpu.json"
    if out is not None:
        record = {
            "machine": machine,
            "accelerator": device,
            "backend": backend,
            "keras": keras.__version__,
            "python": platform.python_version(),
            "config": args.config,
            "seconds": total,
            "rows": rows,
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=2))
        print(f"rows written to {out}")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
