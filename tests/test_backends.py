"""The network, the losses and the training step agree on TensorFlow and on JAX (CPU).

Keras fixes its backend when it is imported, so the JAX side runs in a subprocess
(``KERAS_BACKEND=jax``, ``JAX_PLATFORMS=cpu``); weights, inputs and results travel through
``.npz`` files. This process is the TensorFlow side (the project's default backend).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("jax")

from mtmri_lib import training as T  # noqa: E402
from mtmri_lib.models import ModelConfig, build_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: Small, but with every part of the paper network: both branches, two encoder blocks of
#: two convolutions, batch norms, the k-space heads' inverse FFTs.
CONFIG = ModelConfig(
    name="backends",
    image_size=32,
    channels=(8, 16),
    encoder_convs=(2, 2),
    decoder_convs=2,
    bottleneck_convs=1,
    stem_channels=4,
)

#: All nine kernels with distinct weights, so every kernel of L_C is compared.
DELTAS = {
    "identity": 0.3,
    "prewitt_top": 0.5,
    "prewitt_right": 0.1,
    "sobel3_top": 0.2,
    "sobel3_right": 0.4,
    "sobel5_top": 0.05,
    "sobel5_right": 0.2,
    "laplace3": 0.6,
    "laplace5": 0.4,
}
HYPER = T.HyperParameters(optimizer="adam", learning_rate=1e-3, alpha=0.5, deltas=DELTAS)

# What both backends compute, from the same weights and inputs: the model's outputs in
# inference and in training mode, the objective's terms, L_C per image (function and Keras
# loss), and a short training (two epochs of two Adam steps, checkpointed).
COMPUTE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import keras
    import numpy as np
    from scipy import ndimage

    from mtmri_lib import training as T
    from mtmri_lib.data.pipeline import ArtefactDataset
    from mtmri_lib.losses import ConvolutionalLoss, convolutional_loss, training_objective
    from mtmri_lib.models import build_model


    def images():
        rng = np.random.default_rng(0)
        clean = ndimage.gaussian_filter(rng.random((20, 32, 32)), (0, 2, 2))
        low = clean.min(axis=(1, 2), keepdims=True)
        return (clean - low) / (clean.max(axis=(1, 2), keepdims=True) - low)


    def compute(config, hyper, given, folder, eager):
        weights = [given[key] for key in sorted(given.files) if key.startswith("w")]
        network = build_model(config, seed=0)
        network.set_weights(weights)
        u, clean, label = given["u"], given["clean"], given["label"]
        result = {}
        for mode, training in (("inference", False), ("training", True)):
            outputs = network(u, training=training)
            for key, value in outputs.items():
                result[f"{mode}/{key}"] = keras.ops.convert_to_numpy(value)
        terms = training_objective(
            outputs, u, clean, label, deltas=hyper.deltas, alpha=hyper.alpha
        )
        for key, value in terms.items():
            result[f"objective/{key}"] = keras.ops.convert_to_numpy(value)
        result["lc/per_image"] = keras.ops.convert_to_numpy(
            convolutional_loss(clean, u, hyper.deltas)
        )
        result["lc/loss"] = keras.ops.convert_to_numpy(ConvolutionalLoss(hyper.deltas)(clean, u))

        data = images()
        train = ArtefactDataset(data[:16], batch_size=4, seed=3)
        validation = ArtefactDataset(
            data[16:], batch_size=4, seed=4, shuffle=False, vary_with_epoch=False
        )

        def build():
            fresh = build_model(config, seed=0)
            fresh.set_weights(weights)
            return fresh

        fitted = T.fit_network(
            build,
            train,
            validation,
            hyper=hyper,
            max_epochs=2,
            patience=10,
            steps_per_epoch=2,
            checkpoint_dir=folder,
            verbose=0,
            run_eagerly=eager,
            jit_compile=True,
        )
        for column in ("loss", "val_mse"):
            result[f"fit/{column}"] = fitted.history[column].to_numpy()
        state = T.read_checkpoint_state(folder)
        result["fit/data_epoch"] = np.array([row["data_epoch"] for row in state["history"]])
        result["fit/iterations"] = np.array(state["optimizer_iterations"])
        result["fit/weights"] = np.concatenate(
            [np.ravel(w) for w in fitted.network.get_weights()]
        )
        return result
    """
)

JAX_MAIN = textwrap.dedent(
    """
    import jax
    from mtmri_lib.models import ModelConfig
    from mtmri_lib.training import HyperParameters

    given = np.load(sys.argv[1])
    spec = json.loads(sys.argv[3])
    result = compute(
        ModelConfig(**spec["config"]),
        HyperParameters.from_dict(spec["hyper"]),
        given,
        Path(sys.argv[4]),
        eager=False,
    )
    result["backend"] = np.array(keras.backend.backend())
    result["platform"] = np.array(jax.devices()[0].platform)
    np.savez(sys.argv[2], **result)
    """
)


def _namespace() -> dict:
    namespace: dict = {}
    exec(compile(COMPUTE, "backends_compute", "exec"), namespace)
    return namespace


def _jax_env() -> dict[str, str]:
    env = dict(os.environ)
    env["KERAS_BACKEND"] = "jax"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """(TensorFlow results, JAX results) from the same weights and inputs."""
    import dataclasses

    folder = tmp_path_factory.mktemp("backends")
    rng = np.random.default_rng(1)
    reference = build_model(CONFIG, seed=0)
    given = {f"w{i:05d}": w for i, w in enumerate(reference.get_weights())}
    given["u"] = rng.standard_normal((3, 32, 32, 1)).astype(np.float32)
    given["clean"] = rng.standard_normal((3, 32, 32, 1)).astype(np.float32)
    given["label"] = np.eye(4, dtype=np.float32)[[0, 2, 3]]
    np.savez(folder / "given.npz", **given)
    script = folder / "jax_side.py"
    script.write_text(COMPUTE + JAX_MAIN)
    spec = {"config": dataclasses.asdict(CONFIG), "hyper": HYPER.to_dict()}
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            str(folder / "given.npz"),
            str(folder / "jax.npz"),
            json.dumps(spec),
            str(folder / "jax-checkpoints"),
        ],
        capture_output=True,
        text=True,
        env=_jax_env(),
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    with np.load(folder / "given.npz") as stored:
        # TensorFlow side: the step eagerly (the same code as in a tf.function, and seconds
        # faster to start on a CPU).
        tf_side = _namespace()["compute"](
            CONFIG, HYPER, stored, folder / "tf-checkpoints", eager=True
        )
    with np.load(folder / "jax.npz") as stored:
        jax_side = {key: stored[key] for key in stored.files}
    return tf_side, jax_side


def test_the_subprocess_ran_on_jax_cpu(both):
    _, jax_side = both
    assert str(jax_side["backend"]) == "jax" and str(jax_side["platform"]) == "cpu"
    assert keras.backend.backend() == "tensorflow"


@pytest.mark.parametrize("mode", ["inference", "training"])
def test_model_outputs_agree_within_1e_5(both, mode):
    tf_side, jax_side = both
    keys = [key for key in tf_side if key.startswith(f"{mode}/")]
    assert {key.split("/")[1] for key in keys} == {
        "bias",
        "subsampling",
        "motion",
        "noise",
        "image",
    }
    for key in keys:
        np.testing.assert_allclose(jax_side[key], tf_side[key], rtol=0, atol=1e-5, err_msg=key)


def test_losses_agree_within_1e_5(both):
    tf_side, jax_side = both
    keys = [key for key in tf_side if key.startswith(("objective/", "lc/"))]
    assert len(keys) == 5
    for key in keys:
        assert np.all(tf_side[key] > 0), key  # a real comparison, not of zeros
        np.testing.assert_allclose(jax_side[key], tf_side[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_a_few_training_steps_on_jax_give_the_tensorflow_loss(both):
    tf_side, jax_side = both
    # The same batches in the same epochs (the pipeline is numpy), and the optimizer's
    # state was checkpointed after every one of the four steps.
    np.testing.assert_array_equal(jax_side["fit/data_epoch"], [0, 1])
    assert int(jax_side["fit/iterations"]) == int(tf_side["fit/iterations"]) == 4
    # The training loss (per-sample mean over each epoch's two steps) comes from the
    # training-mode forward pass, which agrees to about 1e-6 relative; four Adam steps of
    # 1e-3 move it by less than that (measured: 3e-7 relative). 1e-5 relative is the
    # forward tolerance above, and the loss changes by 30 % over these steps, so a step
    # that went wrong on either backend fails it.
    np.testing.assert_allclose(jax_side["fit/loss"], tf_side["fit/loss"], rtol=1e-5)
    assert tf_side["fit/loss"][1] < 0.9 * tf_side["fit/loss"][0]
    # The validation MSE runs in inference mode, on the batch norms' moving statistics.
    # Those follow the biases of the convolutions before each batch norm, whose gradients
    # are rounding noise (a batch norm removes a constant; exact gradient 0): Adam scales
    # any gradient to steps of about its learning rate, so the two backends' noise moves
    # those biases, and the moving means, differently. Measured: 1e-4 relative (TensorFlow
    # eager against its own tf.function differs as much); 1e-3 allows for that.
    np.testing.assert_allclose(jax_side["fit/val_mse"], tf_side["fit/val_mse"], rtol=1e-3)


def _run_without_tensorflow(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """``python <args>`` on JAX's CPU backend with every ``import tensorflow`` failing, as
    on a machine where it is not installed; the attempts are printed (``TF-IMPORTS``)."""
    runner = tmp_path / "without_tensorflow.py"
    runner.write_text(
        textwrap.dedent(
            """
            import importlib.abc, runpy, sys

            attempts = []


            class NoTensorFlow(importlib.abc.MetaPathFinder):
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] == "tensorflow":
                        attempts.append(name)
                        raise ModuleNotFoundError(f"No module named {name!r}")
                    return None


            sys.meta_path.insert(0, NoTensorFlow())
            sys.argv = sys.argv[1:]
            try:
                runpy.run_path(sys.argv[0], run_name="__main__")
            finally:
                print("TF-IMPORTS", attempts, flush=True)
            """
        )
    )
    return subprocess.run(
        [sys.executable, str(runner), *args],
        capture_output=True,
        text=True,
        env=_jax_env(),
        cwd=ROOT,
        timeout=900,
    )


def test_the_blocker_does_block_tensorflow(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import tensorflow\n")
    done = _run_without_tensorflow([str(probe)], tmp_path)
    assert done.returncode != 0 and "No module named 'tensorflow'" in done.stderr
    assert "TF-IMPORTS ['tensorflow']" in done.stdout


def test_gpu_benchmark_path_runs_without_tensorflow(tmp_path):
    out = tmp_path / "gpu.json"
    args = [
        str(ROOT / "benchmarks" / "gpu.py"),
        "--config",
        "smoke",
        "--batches",
        "2",
        "--steps",
        "1",
        "--warmup-steps",
        "1",
        "--precisions",
        "float32",
        "--inference-batches",
        "2",
        "--inference-repeats",
        "1",
        "--chapters",
        "smoke",
        "--json",
        str(out),
    ]
    done = _run_without_tensorflow(args, tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "TF-IMPORTS []" in done.stdout, done.stdout[-2000:]
    assert "machine:" in done.stdout and "keras 3" in done.stdout
    record = json.loads(out.read_text())
    assert record["backend"] == "jax" and record["accelerator"].startswith("jax ")
    kinds = {(row["kind"], row["precision"]): row for row in record["rows"]}
    assert kinds[("training", "float32")]["images_per_s"] > 0
    assert np.isfinite(kinds[("training", "float32")]["loss"])
    assert kinds[("inference", "float32")]["seconds_per_slice"] > 0
    assert kinds[("inference", "float32")]["finite"]
    chapters = {row["chapter"]: row for row in record["rows"] if row["kind"] == "chapter"}
    from mtmri_lib.models import MODEL_LABELS
    from mtmri_lib.training import training_settings

    assert list(chapters["training"]["seconds_per_model"]) == list(MODEL_LABELS)
    assert list(chapters["search"]["seconds_per_model"]) == list(
        training_settings("smoke").search_models
    )
    assert all(seconds > 0 for seconds in chapters["training"]["seconds_per_model"].values())


def test_several_devices_off_tensorflow_raise_a_clear_error(tmp_path):
    script = tmp_path / "strategy.py"
    script.write_text(
        textwrap.dedent(
            """
            from mtmri_lib.training import distribution_strategy

            single = distribution_strategy()
            assert single.num_replicas_in_sync == 1
            with single.scope():
                pass
            try:
                distribution_strategy(["gpu:0", "gpu:1"])
            except ValueError as error:
                print("ERROR", error)
            """
        )
    )
    done = _run_without_tensorflow([str(script)], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "needs the TensorFlow backend" in done.stdout and "TF-IMPORTS []" in done.stdout


def test_fft_pair_of_keras_ops_is_the_numpy_pair():
    from mtmri_lib.fourier import fft2c, ifft2c
    from mtmri_lib.layers import fft2c_ops, ifft2c_ops

    rng = np.random.default_rng(5)
    z = rng.standard_normal((2, 7, 10)) + 1j * rng.standard_normal((2, 7, 10))
    for ops_pair, numpy_pair in ((fft2c_ops, fft2c), (ifft2c_ops, ifft2c)):
        real, imag = ops_pair(z.real, z.imag)
        got = keras.ops.convert_to_numpy(real) + 1j * keras.ops.convert_to_numpy(imag)
        np.testing.assert_allclose(got, numpy_pair(z), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        fft2c_ops(np.ones((4, 4)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fft2c_ops(np.ones(4), np.ones(4))
