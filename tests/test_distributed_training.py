"""Training over several workers: TF_CONFIG, MultiWorkerMirroredStrategy on 127.0.0.1.

Two worker processes (global batch 4, two per worker) must make the update of one process
on the same batches; only the chief writes the checkpoint. Everything runs on the loopback
address, and every subprocess is killed if the test fails or times out.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mtmri_lib import training as T  # noqa: E402
from mtmri_lib.models import build_model  # noqa: E402
from mtmri_lib.training import fit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "_distributed_worker.py"
TIMEOUT_S = 240


def _free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tf_config(addresses: list[str], index: int) -> str:
    return json.dumps(
        {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
    )


def _start(tf_config: str, out: Path, checkpoint_dir: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["TF_CONFIG"] = tf_config
    env["CUDA_VISIBLE_DEVICES"] = ""
    env.pop("KERAS_BACKEND", None)
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(out), str(checkpoint_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _finish(processes: list[subprocess.Popen]) -> list[dict]:
    """Wait for every process; kill them all on a timeout or a failure."""
    results = []
    try:
        for process in processes:
            output, _ = process.communicate(timeout=TIMEOUT_S)
            assert process.returncode == 0, output[-4000:]
            results.append(json.loads(output.split("RESULT", 1)[1].splitlines()[0]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


# Biases of convolutions that a batch normalisation follows, and those normalisations'
# moving means: the normalisation removes them from every output, so their gradient is
# zero but for rounding, which Adam (a per-weight normalised step) turns into steps of up
# to the learning rate. They are compared at that scale; every other weight tightly.
def _inert(name: str) -> bool:
    return name.endswith("moving_mean") or (
        name.endswith("bias") and ("stem_conv" in name or "_conv" in name and "head" not in name)
    )


def test_two_workers_make_the_update_of_one(tmp_path):
    ports = _free_ports(3)
    pair = [f"127.0.0.1:{port}" for port in ports[:2]]
    workers = [
        _start(_tf_config(pair, i), tmp_path / f"worker{i}.npz", tmp_path / "shared")
        for i in range(2)
    ]
    results = _finish(workers)
    single = _finish(
        [_start(_tf_config([f"127.0.0.1:{ports[2]}"], 0), tmp_path / "one.npz", tmp_path / "one")]
    )[0]

    assert [r["strategy"] for r in results] == ["CollectiveAllReduceStrategy"] * 2
    assert [r["replicas"] for r in results] == [2, 2] and single["replicas"] == 1
    assert [r["chief"] for r in results] == [True, False]
    assert not any(r["any_synchronized"] for r in [*results, single])  # handed back plain
    # Only the chief wrote, into the shared folder; the worker's scratch folder is gone.
    written = sorted(p.name for p in (tmp_path / "shared").iterdir())
    assert "checkpoint.npz" in written and "history.csv" in written

    w0, w1, one = (np.load(tmp_path / f"{name}.npz") for name in ("worker0", "worker1", "one"))
    assert sorted(w0.files) == sorted(one.files)
    scale = max(float(np.abs(one[k]).max()) for k in one.files)
    for key in one.files:
        np.testing.assert_array_equal(w0[key], w1[key])  # the replicas stay identical
        tolerance = 2e-3 if _inert(key) else 1e-5 * scale
        np.testing.assert_allclose(w0[key], one[key], rtol=0, atol=tolerance, err_msg=key)
    history = [
        np.genfromtxt(tmp_path / d / "history.csv", delimiter=",", names=True)
        for d in ("shared", "one")
    ]
    for column in ("loss", "mse", "val_mse"):
        np.testing.assert_allclose(history[0][column], history[1][column], rtol=1e-4)


# --- TF_CONFIG, in this process (no strategy is made) -------------------------------------


def test_no_or_one_worker_changes_nothing(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert T.worker_task() == T.WorkerTask("worker", 0, 1, True)
    monkeypatch.setenv("TF_CONFIG", _tf_config(["127.0.0.1:1"], 0))
    assert T.worker_task().workers == 1
    strategy = T.distribution_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ('{"task": {"type": "worker", "index": 0}}', "no cluster"),
        ('{"cluster": {}, "task": {"type": "worker", "index": 0}}', "no worker"),
        ('{"cluster": {"worker": ["a:1", "b:2"]}}', "no task"),
        (
            '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
            "out of range",
        ),
        (
            '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "ps", "index": 0}}',
            "'worker' or 'chief'",
        ),
        (
            '{"cluster": {"worker": ["a", "b:2"]}, "task": {"type": "worker", "index": 0}}',
            "host:port",
        ),
    ],
)
def test_bad_tf_config_names_the_problem(monkeypatch, text, message):
    with pytest.raises(ValueError, match=message):
        T.worker_task(text)
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(ValueError, match=message):
        T.distribution_strategy()


def test_chief_job_and_worker_indices():
    config = {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}}
    chief = T.worker_task(json.dumps({**config, "task": {"type": "chief", "index": 0}}))
    worker = T.worker_task(json.dumps({**config, "task": {"type": "worker", "index": 0}}))
    assert (chief.workers, chief.is_chief) == (3, True)
    assert (worker.workers, worker.is_chief) == (3, False)


def test_several_workers_need_tensorflow(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", _tf_config(["127.0.0.1:1", "127.0.0.1:2"], 0))
    monkeypatch.setattr(fit.keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="needs the TensorFlow backend"):
        T.distribution_strategy()


def test_tf_config_from_slurm():
    environ = {
        "SLURM_JOB_NODELIST": "gpu[07-08],login1",
        "SLURM_PROCID": "3",
        "SLURM_NTASKS_PER_NODE": "2",
    }
    config = json.loads(T.tf_config_from_slurm(port=20000, environ=environ))
    assert config["cluster"]["worker"] == [
        "gpu07:20000",
        "gpu07:20001",
        "gpu08:20000",
        "gpu08:20001",
        "login1:20000",
        "login1:20001",
    ]
    assert config["task"] == {"type": "worker", "index": 3}
    assert T.worker_task(json.dumps(config)).workers == 6
    with pytest.raises(ValueError, match="SLURM_PROCID"):
        T.tf_config_from_slurm(environ={"SLURM_JOB_NODELIST": "n1"})
    with pytest.raises(ValueError, match="out of range"):
        T.tf_config_from_slurm(environ={"SLURM_JOB_NODELIST": "n1", "SLURM_PROCID": "1"})


def test_synchronized_batch_norm_saves_and_loads(tmp_path):
    network = build_model("smoke", seed=0, synchronized_batch_norm=True)
    norms = [
        layer for layer in network.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms and all(layer.synchronized for layer in norms)
    plain = build_model("smoke", seed=0)
    images = np.random.default_rng(0).standard_normal((2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(network(images)["image"], plain(images)["image"], rtol=0, atol=1e-6)
    path = tmp_path / "synchronized.keras"
    network.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(images)["image"], network(images)["image"], atol=1e-6)
    fit._set_batch_norm_synchronized(network, False)
    assert not any(layer.synchronized for layer in norms)
