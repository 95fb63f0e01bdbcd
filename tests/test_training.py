"""Training: the objective, early stopping, resume after SIGKILL, MirroredStrategy, saving."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mtmri_lib import evaluation, inference, store  # noqa: E402
from mtmri_lib import training as T  # noqa: E402
from mtmri_lib.losses import training_objective  # noqa: E402
from mtmri_lib.models import MODEL_LABELS, MODEL_SPECS, build_model  # noqa: E402
from mtmri_lib.report.views import training_summary  # noqa: E402
from mtmri_lib.training import datasets, fit, runs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# One small training run, used in a subprocess (killed, then resumed) and in this process
# (uninterrupted). ``stall`` is the epoch index in which the run hangs after its first batch,
# so the test can kill it mid-epoch; -1: no stall.
RUN = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    import keras
    import numpy as np
    from scipy import ndimage

    from mtmri_lib import training as T
    from mtmri_lib.data.pipeline import ArtefactDataset
    from mtmri_lib.models import build_model, set_global_seed


    def run(folder, stall=-1, strategy=None, eager=True, epochs=2):
        rng = np.random.default_rng(0)
        clean = ndimage.gaussian_filter(rng.random((20, 32, 32)), (0, 2, 2))
        low = clean.min(axis=(1, 2), keepdims=True)
        clean = (clean - low) / (clean.max(axis=(1, 2), keepdims=True) - low)
        train = ArtefactDataset(clean[:16], batch_size=4, seed=3)
        validation = ArtefactDataset(
            clean[16:], batch_size=4, seed=4, shuffle=False, vary_with_epoch=False
        )

        class Stall(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch

            def on_epoch_end(self, epoch, logs=None):
                print(f"DONE {epoch + 1}", flush=True)

            def on_train_batch_end(self, batch, logs=None):
                if self.epoch == stall:
                    print("STALL", flush=True)
                    time.sleep(600)

        set_global_seed(0)
        return T.fit_network(
            lambda: build_model("smoke", seed=0),
            train,
            validation,
            hyper=T.HyperParameters(optimizer="adam", learning_rate=1e-3, alpha=0.5),
            max_epochs=epochs,
            patience=10,
            steps_per_epoch=2,
            checkpoint_dir=folder,
            verbose=0,
            callbacks=[Stall()],
            strategy=strategy,
            run_eagerly=eager,
        )
    """
)


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "run_training.py"
    path.write_text(RUN + textwrap.dedent(body))
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def _namespace() -> dict:
    namespace: dict = {}
    exec(compile(RUN, "run_training", "exec"), namespace)
    return namespace


# --- hyper-parameters and settings ----------------------------------------------------------


def test_default_hyperparameters_use_the_article_values_where_known():
    for label in MODEL_LABELS:
        hyper = T.default_hyperparameters(label)
        assert hyper.optimizer == "rmsprop"  # all seven models chose RMSprop
        assert (hyper.deltas is not None) == MODEL_SPECS[label].convolutional_loss
    assert T.default_hyperparameters("MT+L_C").alpha == 0.87
    assert T.default_hyperparameters("Pelvis MT+L_C").alpha == 0.89
    assert T.default_hyperparameters("MT+L_C").deltas["identity"] == 0.30
    assert T.default_hyperparameters("Pelvis MT+L_C").deltas["identity"] == 0.13
    assert T.default_hyperparameters("MT").alpha == pytest.approx((0.48 + 0.89) / 2)
    # Unknown values are never presented as the article's.
    assert T.ARTICLE_HYPERPARAMETERS["MT"]["learning_rate"] is None
    assert T.ARTICLE_HYPERPARAMETERS["MT+L_C"]["deltas"]["laplace5"] is None


def test_hyperparameters_validate_and_round_trip():
    hyper = T.HyperParameters("adam", 1e-4, 0.3, {"identity": 0.2, "laplace5": 1.0})
    assert T.HyperParameters.from_dict(json.loads(json.dumps(hyper.to_dict()))) == hyper
    with pytest.raises(ValueError, match="optimizer"):
        T.HyperParameters("sgd")
    with pytest.raises(ValueError, match="learning_rate"):
        T.HyperParameters(learning_rate=0.0)
    with pytest.raises(ValueError, match="alpha"):
        T.HyperParameters(alpha=-1)
    with pytest.raises(ValueError, match="unknown kernel"):
        T.HyperParameters(deltas={"sobel7": 1.0})


def test_the_seven_models_and_the_paper_settings():
    assert MODEL_LABELS == (
        "Bias",
        "Subsampling",
        "Motion",
        "Noise",
        "MT",
        "MT+L_C",
        "Pelvis MT+L_C",
    )
    pelvis = MODEL_SPECS["Pelvis MT+L_C"]
    assert pelvis.dataset == "pelvic" and pelvis.artefact_options["motion"]["motion"] == "mixed"
    paper = T.training_settings("paper")
    assert paper.patience == 10  # the article's early stopping
    assert paper.search_trials["MT+L_C"] == 35 and paper.search_trials["Bias"] == 10


# --- the training step ------------------------------------------------------------------------


def test_trainer_reports_the_objective_and_the_inference_mse():
    network = build_model("smoke", seed=0)
    deltas = {"identity": 0.3, "laplace5": 0.7}
    trainer = T.MultiTaskTrainer(network, alpha=0.4, deltas=deltas)
    trainer.compile(optimizer=T.make_optimizer("rmsprop", 1e-3), run_eagerly=True)
    rng = np.random.default_rng(1)
    u = rng.standard_normal((3, 32, 32, 1)).astype(np.float32)
    clean = rng.standard_normal((3, 32, 32, 1)).astype(np.float32)
    label = np.eye(4, dtype=np.float32)[[0, 2, 3]]
    logs = trainer.test_on_batch(u, {"clean": clean, "label": label}, return_dict=True)
    outputs = network(u, training=False)
    expected = training_objective(outputs, u, clean, label, deltas=deltas, alpha=0.4)
    for name in ("loss", "reconstruction", "regulariser"):
        assert logs[name] == pytest.approx(float(expected[name]), rel=1e-5)
    mse = float(np.mean((clean - np.asarray(outputs["image"])) ** 2))
    assert logs["mse"] == pytest.approx(mse, rel=1e-5)


def test_early_stopping_counts_epochs_without_improvement():
    class Trainer:  # only what the callback touches without a checkpoint folder
        class network:
            @staticmethod
            def get_weights():
                return [np.zeros(1)]

        class optimizer:
            iterations = 0

    class Model:
        stop_training = False

    state = {
        "epoch": 0,
        "history": [],
        "best_value": None,
        "best_epoch": None,
        "wait": 0,
        "stopped_early": False,
        "diverged": False,
        "seconds": 0.0,
    }
    callback = fit._Checkpointing(
        Trainer(),
        state,
        folder=None,
        monitor="val_mse",
        patience=2,
        batch_images=lambda: 1,
        data_epoch=lambda: 0,
    )
    callback.set_model(Model())
    for epoch, value in enumerate([0.5, 0.4, 0.45, 0.41]):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"val_mse": value})
    assert state["best_epoch"] == 2 and state["best_value"] == 0.4
    assert state["stopped_early"] and callback.model.stop_training
    callback.model.stop_training = False
    callback.on_epoch_end(4, {"val_mse": float("nan")})
    assert state["diverged"] and callback.model.stop_training


# --- resume after SIGKILL ---------------------------------------------------------------------


def test_training_killed_mid_epoch_resumes_after_its_last_completed_epoch(tmp_path):
    folder = tmp_path / "killed"
    script = _script(
        tmp_path,
        """
        result = run(Path(sys.argv[1]), int(sys.argv[2]))
        print("RESULT", json.dumps({"epochs": result.epochs, "from": result.resumed_from}))
        """,
    )
    process = subprocess.Popen(
        [sys.executable, str(script), str(folder), "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith("STALL"):  # inside epoch 2, after its first batch
                break
        assert lines[-1] == "STALL", lines
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    state = T.read_checkpoint_state(folder)
    assert state["epoch"] == 1 and [row["epoch"] for row in state["history"]] == [1]

    resumed = subprocess.run(
        [sys.executable, str(script), str(folder), "-1"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads(resumed.stdout.split("RESULT", 1)[1])
    assert result == {"epochs": 2, "from": 1}
    state = T.read_checkpoint_state(folder)
    assert state["runs"] == [0, 1]
    assert [row["epoch"] for row in state["history"]] == [1, 2]
    # The pipeline resumed at the right epoch, and the optimizer state came back with the
    # weights: Adam's step counter counts every batch of both runs, no more, no less.
    assert [row["data_epoch"] for row in state["history"]] == [0, 1]
    assert state["optimizer_iterations"] == 2 * 2
    history = (folder / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 2 and history[0].startswith("epoch,")

    # The same run without interruption, in this process: the same weights.
    uninterrupted = _namespace()["run"](tmp_path / "uninterrupted")
    with np.load(folder / "checkpoint.npz") as stored:
        weights = [stored[key] for key in sorted(stored.files) if key.startswith("w")]
    with np.load(tmp_path / "uninterrupted" / "checkpoint.npz") as stored:
        expected = [stored[key] for key in sorted(stored.files) if key.startswith("w")]
    assert len(weights) == len(expected)
    for got, want in zip(weights, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert uninterrupted.best_epoch == state["best_epoch"]

    # Started again once finished: nothing is trained, the best weights come back.
    again = _namespace()["run"](folder)
    assert again.resumed_from == 2 and again.epochs == 2


# --- several devices -------------------------------------------------------------------------


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(
        "from mtmri_lib import training as T\n"
        "T.configure_logical_cpus(2)\n"
        + RUN
        + textwrap.dedent(
            """
            strategy = T.distribution_strategy()
            result = run(Path(sys.argv[1]), strategy=strategy, eager=True, epochs=1)
            print("RESULT", json.dumps({
                "replicas": result.replicas,
                "strategy": type(strategy).__name__,
                "epochs": result.epochs,
                "val_mse": result.best_value,
            }))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "mirrored")],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT", 1)[1])
    assert result["strategy"] == "MirroredStrategy" and result["replicas"] == 2
    assert result["epochs"] == 1 and np.isfinite(result["val_mse"])


def test_one_device_gives_the_default_strategy():
    import tensorflow as tf

    strategy = T.distribution_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert not isinstance(strategy, tf.distribute.MirroredStrategy)


# --- the seven models on disk -----------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("book") / "outputs" / "smoke" / "training"
    settings = T.training_settings("smoke").with_(max_epochs=1, steps_per_epoch=1)
    model = T.train_model("Noise", "smoke", output_dir=output_dir, settings=settings, verbose=0)
    return output_dir, settings, model


def test_train_model_saves_a_keras_file_with_its_sidecar(trained):
    output_dir, settings, model = trained
    assert model.trained_now
    assert model.path == store.models_dir(output_dir) / "noise-smoke-seed0.keras"
    assert store.models_dir(output_dir) == output_dir.parent / "models"
    record = inference.read_sidecar(model.path)
    assert record["model"] == "Noise" and record["profile"] == "smoke" and record["seed"] == 0
    assert record["tasks"] == ["noise"] and record["epochs"] == 1
    assert record["hyperparameters"] == T.default_hyperparameters("Noise").to_dict()
    assert "synthetic subjects" in record["data"]["source"]
    assert record["data"]["train"]["slices"] > 0 and record["reference_val_mse"] > 0
    assert len(record["history"]) == 1 and "val_mse" in record["history"][0]
    loaded = inference.load_trained_model(model.path)
    assert set(loaded.output) == {"noise", "image"}


def test_a_worker_other_than_the_chief_hands_back_the_chiefs_file(trained, monkeypatch):
    output_dir, settings, model = trained
    monkeypatch.setattr(runs, "fit_model", lambda *args, **kwargs: None)
    workers = ["127.0.0.1:1", "127.0.0.1:2"]
    tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    written = model.path.stat().st_mtime_ns
    again = T.train_model(
        "Noise", "smoke", output_dir=output_dir, settings=settings, verbose=0, force=True
    )
    assert again.trained_now and again.path == model.path and again.record == model.record
    assert model.path.stat().st_mtime_ns == written  # the worker wrote nothing
    # Another request, whose file the chief never writes: the wait ends with an error.
    monkeypatch.setenv(runs.CHIEF_SAVE_TIMEOUT_VARIABLE, "0")
    other = settings.with_(steps_per_epoch=2)
    with pytest.raises(TimeoutError, match="did not appear within 0 s.*one file system"):
        T.train_model("Noise", "smoke", output_dir=output_dir, settings=other, verbose=0)
    assert sorted(p.name for p in model.path.parent.glob("*.keras")) == [model.path.name]


def test_a_matching_saved_model_is_reused_not_retrained(trained):
    output_dir, settings, model = trained
    again = T.train_model("Noise", "smoke", output_dir=output_dir, settings=settings, verbose=0)
    assert not again.trained_now and again.record == model.record
    # Another notebook of the same run finds it through the registry.
    sibling = output_dir.parent / "tables"
    assert inference.trained_model_paths("smoke", sibling) == {"Noise": model.path}
    assert inference.trained_model_paths("smoke", sibling, all_seeds=True) == {
        "Noise": [model.path]
    }
    assert inference.trained_model_paths("cpu", sibling) == {}
    summary = training_summary(inference.trained_models("smoke", sibling))
    assert summary.loc[0, "model"] == "Noise" and summary.loc[0, "epochs"] == 1


def test_model_method_corrects_slices_and_stacks(trained):
    _, _, model = trained
    method = inference.model_method(model.path)
    assert method.image_size == 32 and method.tasks == ("noise",) and method.name == "Noise"
    assert len(method.version) == 64
    rng = np.random.default_rng(0)
    image = rng.random((32, 32))
    corrected = method(image, fidelity="paper")
    assert corrected.shape == (32, 32) and corrected.dtype == np.float32
    # z-normalised input, as in training: the scale of the input does not matter.
    np.testing.assert_allclose(method(10 * image + 3), corrected, atol=1e-4)
    stack = method(np.stack([image, image[::-1]]))
    assert stack.shape == (2, 32, 32)
    np.testing.assert_allclose(stack[0], corrected, atol=1e-5)
    assert set(method.residuals(image)) == {"noise"}
    with pytest.raises(ValueError, match="32 x 32"):
        method(rng.random((48, 48)))


def test_loading_refuses_what_is_not_an_mtmri_model(tmp_path):
    with pytest.raises(FileNotFoundError):
        inference.load_trained_model(tmp_path / "missing.keras")
    text = tmp_path / "model.h5"
    text.write_text("not a model")
    with pytest.raises(ValueError, match=r"\.keras"):
        inference.load_trained_model(text)
    fake = tmp_path / "fake.keras"
    fake.write_text("not a zip archive")
    with pytest.raises(ValueError, match="not a loadable Keras model"):
        inference.load_trained_model(fake)
    inputs = keras.Input((8, 8, 1))
    other = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs))
    other.save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="not an mtmri model"):
        inference.load_trained_model(tmp_path / "other.keras")


def test_data_sources(tmp_path):
    assert T.data_sources(None) == T.DataSources(None, None)
    (tmp_path / "pelvic").mkdir()
    assert T.data_sources(tmp_path) == T.DataSources(None, tmp_path / "pelvic")
    plain = tmp_path / "pelvic"
    assert T.data_sources(plain) == T.DataSources(plain, None)
    assert "standing in for the pelvic" in T.DataSources(None, None).describe("pelvic")
    with pytest.raises(FileNotFoundError):
        T.data_sources(tmp_path / "nowhere")


def test_run_plan_puts_the_seven_models_first_then_the_extra_seeds():
    plan = runs._run_plan(T.training_settings("cpu").with_(extra_seeds=2), 5, MODEL_LABELS)
    assert plan[:7] == [(label, 5) for label in MODEL_LABELS]
    assert plan[7:] == [("MT", 6), ("MT+L_C", 6), ("MT", 7), ("MT+L_C", 7)]
    assert datasets._validation_batch(46, 16) == 23 and datasets._validation_batch(48, 16) == 16


def test_trained_methods_keep_the_runs_seeds(monkeypatch, tmp_path):
    """Main seed under the article's label, the extra seeds after it as seed rows,
    and models of another run (another seed) in the same folder left out."""
    found = [
        inference.TrainedModel(label, seed, tmp_path / f"{label}-{seed}.keras", {})
        for label, seeds in (("Bias", (0, 5)), ("MT", (0, 1, 2, 5, 6)))
        for seed in seeds
    ]
    # `evaluation.trained_methods` looks both up in `mtmri_lib.inference` when called.
    monkeypatch.setattr(inference, "trained_models", lambda profile, output_dir, labels=None: found)
    monkeypatch.setattr(inference, "model_method", lambda path, batch_size=16: path.stem)
    # Two extra seeds: seeds s, s + 1, s + 2 (the count is an argument, not the profile's).
    run5 = evaluation.trained_methods("cpu", tmp_path, seed=5, extra_seeds=2)
    assert run5 == {"Bias": "Bias-5", "MT": "MT-5", "MT (seed 6)": "MT-6"}
    run0 = evaluation.trained_methods("cpu", tmp_path, seed=0, extra_seeds=2)
    assert run0 == {"Bias": "Bias-0", "MT": "MT-0", "MT (seed 1)": "MT-1", "MT (seed 2)": "MT-2"}
    assert evaluation.trained_methods("cpu", tmp_path, seed=0, extra_seeds=0) == {
        "Bias": "Bias-0",
        "MT": "MT-0",
    }
    # extra_seeds=None: every seed from the main one on counts.
    after0 = evaluation.trained_methods("cpu", tmp_path, seed=0)
    assert after0 == run0 | {
        "Bias (seed 5)": "Bias-5",
        "MT (seed 5)": "MT-5",
        "MT (seed 6)": "MT-6",
    }
    assert evaluation.trained_methods("cpu", tmp_path, seed=5) == run5
    # No seed: the lowest is the main one, every other an extra.
    every = evaluation.trained_methods("cpu", tmp_path)
    assert every["MT"] == "MT-0" and every["MT (seed 6)"] == "MT-6"
    assert every["Bias (seed 5)"] == "Bias-5"
    # A run whose main seed was not trained has no row for that model.
    assert "Bias" not in evaluation.trained_methods("cpu", tmp_path, seed=1)


def test_a_corrupt_checkpoint_names_the_file_and_how_to_start_over(tmp_path):
    from mtmri_lib.store import StoreError

    folder = tmp_path / "mt-smoke-seed0-abc"
    path = folder / "checkpoint.npz"
    state = np.frombuffer(json.dumps({"epoch": 3}).encode(), dtype=np.uint8)
    fit._save_arrays(path, {"state": state, "w00000": np.zeros(1000)})
    assert T.read_checkpoint_state(folder) == {"epoch": 3}
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # truncated: a disk that filled up
    with pytest.raises(StoreError, match=r"checkpoint\.npz: the training checkpoint is corrupt"):
        T.read_checkpoint_state(folder)
    path.write_bytes(b"")
    with pytest.raises(StoreError, match=f"delete the folder {folder}"):
        T.read_checkpoint_state(folder)
