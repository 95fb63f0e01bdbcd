"""The Bayesian search distributed with keras-tuner's chief and workers, on the loopback
address: every trial run exactly once, the table complete, and a chief killed and started
again resuming without losing, duplicating or re-running a completed trial."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("keras_tuner")
pytest.importorskip("grpc")

from mtmri_lib import training as T  # noqa: E402
from mtmri_lib.training import search as S  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROCESS = Path(__file__).resolve().parent / "_distributed_search_process.py"
HOST = "127.0.0.1"
TRIALS = 4
SEED = 5
# Seconds any one process may take in these tests before it is killed as hung.
LIMIT = 150


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _project(output_dir: Path) -> Path:
    # The settings of _distributed_search_process.py.
    settings = T.training_settings("smoke").with_(search_initial_points={"MT": 2})
    return S.search_project(
        "MT", "smoke", output_dir=output_dir, seed=SEED, settings=settings, trials=TRIALS
    )


class Cluster:
    """The search's processes, their logs in ``folder``; all killed on exit."""

    def __init__(self, folder: Path, seconds: float, chief_timeout: float = 60):
        self.folder, self.seconds, self.chief_timeout = folder, seconds, chief_timeout
        self.output_dir = folder / "outputs" / "smoke" / "search"
        self.marker = folder / "runs.txt"
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, tuner_id: str, port: int) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
        env |= {
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "KERASTUNER_TUNER_ID": tuner_id,
            "KERASTUNER_ORACLE_IP": HOST,
            "KERASTUNER_ORACLE_PORT": str(port),
            S.CHIEF_TIMEOUT_VARIABLE: str(self.chief_timeout),
        }
        arguments = [str(self.output_dir), str(SEED), str(TRIALS), str(self.seconds)]
        name = f"{tuner_id}-{len(self.processes)}"
        log = (self.folder / f"{name}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, str(PROCESS), *arguments, str(self.marker)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.folder,
        )
        log.close()
        self.processes[name] = process
        return process

    def log(self, process: subprocess.Popen) -> str:
        name = next(key for key, value in self.processes.items() if value is process)
        return (self.folder / f"{name}.log").read_text()

    def wait(self, process: subprocess.Popen, limit: float = LIMIT) -> int:
        try:
            return process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            pytest.fail(f"a search process hung; its log:\n{self.log(process)[-3000:]}")

    def wait_listening(self, chief: subprocess.Popen, port: int) -> None:
        """Return once the chief accepts connections on ``port``."""
        deadline = time.monotonic() + LIMIT
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return
            except OSError:
                assert chief.poll() is None, self.log(chief)[-3000:]
                assert time.monotonic() < deadline, self.log(chief)[-3000:]
                time.sleep(0.2)

    def runs(self) -> Counter:
        text = self.marker.read_text() if self.marker.exists() else ""
        return Counter(text.split())

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


def _completed(project: Path) -> dict[str, str]:
    """The text of each completed trial's trial.json, by trial id."""
    done = {}
    for path in project.glob("trial_*/trial.json"):
        text = path.read_text()
        try:
            state = json.loads(text)
        except ValueError:  # never: the chief writes whole files
            continue
        if state["status"] == "COMPLETED":
            done[state["trial_id"]] = text
    return done


def _assert_every_trial_once(project: Path) -> None:
    ids = [str(i) for i in range(TRIALS)]
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["start_order"]) == ids
    assert sorted(oracle["end_order"]) == ids  # each ended once
    assert oracle["ongoing_trials"] == {} and oracle["retry_queue"] == []
    table = S.search_trials("MT", "smoke", None, project=project)
    assert sorted(table["trial"]) == ids
    assert set(table["status"]) == {"COMPLETED"} and table["val_mse"].notna().all()
    assert sorted(_completed(project)) == ids


def test_search_role_reads_keras_tuner_variables():
    assert S.search_role({}) is None
    full = {"KERASTUNER_ORACLE_IP": HOST, "KERASTUNER_ORACLE_PORT": "8000"}
    assert S.search_role(full | {"KERASTUNER_TUNER_ID": "chief"}) == "chief"
    assert S.search_role(full | {"KERASTUNER_TUNER_ID": "tuner1"}) == "worker"
    with pytest.raises(ValueError, match="KERASTUNER_TUNER_ID set but KERASTUNER_ORACLE_IP"):
        S.search_role({"KERASTUNER_TUNER_ID": "tuner0"})
    with pytest.raises(ValueError, match="but KERASTUNER_TUNER_ID not"):
        S.search_role(full)
    for port in ("0", "65536", "80a", " "):
        with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT must"):
            S.search_role(full | {"KERASTUNER_TUNER_ID": "t", "KERASTUNER_ORACLE_PORT": port})
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_IP must not be empty"):
        S.search_role(full | {"KERASTUNER_TUNER_ID": "t", "KERASTUNER_ORACLE_IP": ""})


def test_run_search_refuses_a_half_set_configuration_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    monkeypatch.delenv("KERASTUNER_ORACLE_IP", raising=False)
    monkeypatch.delenv("KERASTUNER_ORACLE_PORT", raising=False)
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_IP"):
        S.run_search("MT", "smoke", output_dir=tmp_path / "search", trials=1)
    assert not (tmp_path / "search").exists()


def test_a_chief_and_two_workers_run_every_trial_once(tmp_path):
    port = _free_port()
    with Cluster(tmp_path, seconds=0.5) as cluster:
        chief = cluster.start("chief", port)
        workers = [cluster.start(f"tuner{i}", port) for i in range(2)]
        for process in [*workers, chief]:
            assert cluster.wait(process) == 0, cluster.log(process)[-3000:]
        roles = [
            json.loads(line.removeprefix("RESULT "))["role"]
            for process in [chief, *workers]
            for line in cluster.log(process).splitlines()
            if line.startswith("RESULT ")
        ]
        assert roles == ["chief", "worker", "worker"]
        assert cluster.runs() == Counter(f"trial_{i}" for i in range(TRIALS))
        _assert_every_trial_once(_project(cluster.output_dir))


def test_a_killed_chief_started_again_resumes_the_search(tmp_path):
    with Cluster(tmp_path, seconds=2.0, chief_timeout=3) as cluster:
        project = _project(cluster.output_dir)
        port = _free_port()
        chief = cluster.start("chief", port)
        # With a 3 s chief timeout a worker started first gives up on a chief that takes
        # longer to import TensorFlow (as documented); so the workers start once it listens.
        cluster.wait_listening(chief, port)
        workers = [cluster.start(f"tuner{i}", port) for i in range(2)]
        deadline = time.monotonic() + LIMIT
        while not _completed(project):
            assert time.monotonic() < deadline, cluster.log(chief)[-3000:]
            assert chief.poll() is None, cluster.log(chief)[-3000:]
            time.sleep(0.1)
        chief.send_signal(signal.SIGKILL)
        chief.wait(timeout=30)
        done_before = _completed(project)
        assert 0 < len(done_before) < TRIALS
        # Workers without a chief stop, with a clear error, within the timeout.
        for worker in workers:
            assert cluster.wait(worker, limit=60) != 0
            assert "ChiefUnavailableError" in cluster.log(worker)
            assert "start the chief again" in cluster.log(worker)

        port = _free_port()
        chief = cluster.start("chief", port)
        cluster.wait_listening(chief, port)
        worker = cluster.start("tuner0", port)
        for process in (worker, chief):
            assert cluster.wait(process) == 0, cluster.log(process)[-3000:]
        _assert_every_trial_once(project)
        after = _completed(project)
        assert {key: after[key] for key in done_before} == done_before  # not re-run...
        runs = cluster.runs()
        assert all(runs[f"trial_{key}"] == 1 for key in done_before)  # ...nor trained again
        # A trial running when the chief died is run once more, no other twice.
        assert all(1 <= runs[f"trial_{i}"] <= 2 for i in range(TRIALS))
