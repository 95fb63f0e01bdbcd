"""The Bayesian hyper-parameter search of the article (Table 2), with keras-tuner.

The article ("Bayesian hyper-parameter search") searched, per model: the optimiser (Adam or
RMSprop), the learning rate 10^g with g in [-7, -2], the regularisation weight alpha in
[0, 1] and, for the two models with the convolutional loss, the nine kernel weights delta in
[0, 1]; 10 iterations for the five MSE models and 35 for the two L_C models, each training
stopped when the validation MSE had not improved for 10 epochs. The search code was never
published; this module uses keras-tuner's ``BayesianOptimization`` (a Gaussian process with
an upper-confidence-bound acquisition) over the same space, each trial trained by
`mtmri_lib.training.fit_network` and scored by its best validation MSE.

Resuming: each search is a keras-tuner project under `mtmri_lib.training.search_dir`
(opened with ``overwrite=False``), so a search that is interrupted and started again keeps
its completed trials and re-runs the interrupted one (keras-tuner sends a trial left running
back for a retry, with the same values and trial id), which itself resumes from its last
completed epoch (its checkpoint lies in the trial's folder). A trial whose training
diverges (a non-finite validation MSE) is scored `DIVERGED_MSE`.

Reproducibility: the proposals are a function of the seed and of the completed trials'
scores only. keras-tuner's seed is derived from ours (`tuner_seed`; keras-tuner would
replace a seed of 0 by a random one), and each proposal draws from generators seeded anew
from (that seed, the trial's index), rather than from a stream that a resumed search would
restart; so a search killed and resumed proposes the trials an uninterrupted one does. The
project's files are written whole or not at all (`mtmri_lib.store`); an unreadable one
raises `mtmri_lib.store.StoreError` naming it and the project folder to delete.

Distributed search: with keras-tuner's variables set (`search_role`), the same `run_search`
call is a chief or a worker. The chief serves the oracle (over gRPC, on
``KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT``), trains nothing and loads no data; each
worker asks it for trials and trains them, into the trial's folder of the shared project.
The oracle's files (``oracle.json``, each ``trial_*/trial.json``) and the trials table are
written by the chief alone. A trial's training depends on the search's seed only, never on
the worker that runs it, and its proposal on its number (`_proposal_seed`), so a trial is
the same whichever worker draws it (which trials have completed when a Gaussian-process
proposal is made depends on the workers' timing, as in any asynchronous search).
Resuming a distributed search: start the chief again with the same arguments; it reloads the
project, keeps the completed trials and sends each trial that was running when it died back
for one more run (same id and values, resuming from the trial's checkpoint). A worker whose
chief has been unreachable for ``MTMRI_SEARCH_CHIEF_TIMEOUT`` seconds (default 600), or
whose chief was restarted while it trained a trial, stops with `ChiefUnavailableError`
(raised between trials; printed, and exit status 75, during one, from a watching thread);
a result that arrives late never ends a trial twice. A worker that dies leaves its trial
with the chief, which waits: start the worker again with the same ``KERASTUNER_TUNER_ID``
and it takes that trial up again.
"""

from __future__ import annotations

from .. import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

import hashlib
import math
import numbers
import os
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._checks import profile_name
from ..losses import KERNEL_NAMES
from ..models import ModelSpec, model_config, model_spec
from ..store import atomic_write_json, json_digest, read_json, search_dir
from .datasets import data_sources, model_datasets
from .fit import fit_model
from .specs import (
    OPTIMIZERS,
    TRAINING_FORMAT,
    HyperParameters,
    TrainingSettings,
    model_code_digest,
    training_settings,
)

__all__ = [
    "LEARNING_RATE_RANGE",
    "DIVERGED_MSE",
    "search_space",
    "hyperparameters_from",
    "SearchResult",
    "tuner_seed",
    "search_project",
    "run_search",
    "run_searches",
    "search_trials",
    "best_hyperparameters",
    "search_role",
    "ChiefUnavailableError",
    "CHIEF_TIMEOUT_VARIABLE",
]

#: The learning-rate range of the search: 10^-7 to 10^-2, sampled on a log scale.
LEARNING_RATE_RANGE: tuple[float, float] = (1e-7, 1e-2)

#: Score of a trial whose training diverged: the MSE of an output uncorrelated with the
#: (z-normalised) target, 2; worse than any trained model and than the corrupted input.
DIVERGED_MSE = 2.0

_OBJECTIVE = "val_mse"
_TRIALS_FILE = "trials.json"
#: Written by a serving chief: its address and a token new at each start (workers compare it).
_SERVER_FILE = "oracle_server.json"

_ID_VARIABLE = "KERASTUNER_TUNER_ID"
_IP_VARIABLE = "KERASTUNER_ORACLE_IP"
_PORT_VARIABLE = "KERASTUNER_ORACLE_PORT"
#: Seconds a worker waits for an unreachable chief before it exits (default 600).
CHIEF_TIMEOUT_VARIABLE = "MTMRI_SEARCH_CHIEF_TIMEOUT"
_DEFAULT_CHIEF_TIMEOUT = 600.0
# Seconds a reachable chief may take, beyond that timeout, to answer one call: asking for a
# trial makes it fit its Gaussian process, which takes seconds on a loaded machine and grows
# with the trials. Whether the chief is there at all is the watching thread's question.
_ANSWER_MARGIN = 300.0
#: A worker's exit status when its chief is gone (EX_TEMPFAIL: start the chief again).
_WORKER_EXIT_STATUS = 75

#: Part of every project's request (so of its folder name): 2 since the proposals are seeded
#: per trial, so that a project of the earlier, unreproducible, search is not resumed.
_SEARCH_FORMAT = 2


def search_space(model: str | ModelSpec):
    """The keras-tuner search space of one model (``keras_tuner.HyperParameters``).

    ``optimizer`` in {adam, rmsprop}; ``learning_rate`` in [1e-7, 1e-2], log scale;
    ``alpha`` in [0, 1]; for the L_C models ``delta_<kernel>`` in [0, 1] for each of the nine
    kernels of `mtmri_lib.losses.KERNEL_NAMES`.
    """
    import keras_tuner

    spec = model_spec(model)
    space = keras_tuner.HyperParameters()
    space.Choice("optimizer", list(OPTIMIZERS))
    space.Float("learning_rate", *LEARNING_RATE_RANGE, sampling="log")
    space.Float("alpha", 0.0, 1.0)
    if spec.convolutional_loss:
        for name in KERNEL_NAMES:
            space.Float(f"delta_{name}", 0.0, 1.0)
    return space


def hyperparameters_from(values: Mapping[str, Any]) -> HyperParameters:
    """`HyperParameters` from a trial's values (``delta_<kernel>`` keys make the deltas)."""
    deltas = {
        name: float(values[f"delta_{name}"]) for name in KERNEL_NAMES if f"delta_{name}" in values
    }
    return HyperParameters(
        optimizer=str(values["optimizer"]),
        learning_rate=float(values["learning_rate"]),
        alpha=float(values["alpha"]),
        deltas=deltas or None,
    )


def tuner_seed(seed: int) -> int:
    """keras-tuner's seed for a search of seed ``seed``: never 0, and different per seed.

    ``1 + int(SHA-256("mtmri-search:<seed>")[:4], big-endian) % (2**31 - 1)``, so in
    [1, 2**31 - 1]. keras-tuner replaces a falsy seed by a random one (its oracle does
    ``seed or random.randint(1, 10000)``), which made a search of seed 0 unrepeatable; a hash
    rather than ``seed + 1`` keeps the streams of neighbouring seeds unrelated.
    """
    digest = hashlib.sha256(f"mtmri-search:{int(seed)}".encode()).digest()
    return 1 + int.from_bytes(digest[:4], "big") % (2**31 - 1)


def _proposal_seed(seed: int, index: int) -> int:
    """The seed of the proposal of trial number ``index`` (from 0) of a search whose
    keras-tuner seed is ``seed``: 32 bits (all numpy's ``RandomState`` takes) of a SHA-256."""
    digest = hashlib.sha256(f"mtmri-search-trial:{int(seed)}:{int(index)}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class ChiefUnavailableError(RuntimeError):
    """A worker of a distributed search lost its chief (unreachable, or restarted during the
    worker's trial). Start the chief again with the same arguments, then the workers."""


def search_role(environ: Mapping[str, str] | None = None) -> Literal["chief", "worker"] | None:
    """The part this process plays in a distributed search, from keras-tuner's variables.

    ``KERASTUNER_TUNER_ID`` (``"chief"`` for the chief, any other ID, e.g. ``"tuner0"``, for
    a worker; keras-tuner makes every ID containing "chief" a chief), ``KERASTUNER_ORACLE_IP``
    (the chief's address, which it listens on) and ``KERASTUNER_ORACLE_PORT`` (an integer in
    1..65535). None of them set: None (a single-process search).

    Raises
    ------
    ValueError
        Some but not all of the three are set, one is empty, or the port is not an integer
        in 1..65535.
    """
    environ = os.environ if environ is None else environ
    names = (_ID_VARIABLE, _IP_VARIABLE, _PORT_VARIABLE)
    given = [name for name in names if name in environ]
    if not given:
        return None
    missing = [name for name in names if name not in environ]
    if missing:
        raise ValueError(
            f"a distributed search needs {', '.join(names)}; {', '.join(given)} set but "
            f"{', '.join(missing)} not (unset them all for a single-process search)"
        )
    empty = [name for name in names if not environ[name].strip()]
    if empty:
        raise ValueError(f"{', '.join(empty)} must not be empty")
    _oracle_port(environ[_PORT_VARIABLE])
    return "chief" if "chief" in environ[_ID_VARIABLE] else "worker"


def _oracle_port(text: str) -> int:
    try:
        port = int(text.strip())
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValueError(f"{_PORT_VARIABLE} must be an integer in 1..65535; got {text!r}")
    return port


def _chief_address() -> tuple[str, int]:
    return os.environ[_IP_VARIABLE].strip(), _oracle_port(os.environ[_PORT_VARIABLE])


def _chief_timeout() -> float:
    text = os.environ.get(CHIEF_TIMEOUT_VARIABLE)
    if text is None:
        return _DEFAULT_CHIEF_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"{CHIEF_TIMEOUT_VARIABLE} must be a positive number of seconds; got {text!r}"
        )
    return value


def _serve(oracle: Any, project: Path) -> None:
    """Serve ``oracle`` to the workers until every trial has ended and every worker that
    asked for one has been told to stop (keras-tuner's ``start_server``, polled each
    0.2 s rather than 20 s, and stopped, with a clear error when the port is taken)."""
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    host, port = _chief_address()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise RuntimeError(
            f"the search's chief could not listen on {host}:{port} (is the port in use, or "
            f"the address not this machine's?); set {_IP_VARIABLE} and {_PORT_VARIABLE}"
        )
    # Before serving: a worker reads the token once its first trial has come from this chief.
    token = {"address": f"{host}:{port}", "host": socket.gethostname(), "pid": os.getpid()}
    atomic_write_json(project / _SERVER_FILE, token | {"token": uuid.uuid4().hex})
    server.start()
    try:
        while not (servicer.stop_triggered and exit_chief(oracle)):
            if oracle.fatal_error is not None:
                raise RuntimeError(oracle.fatal_error)
            time.sleep(0.2)
    finally:
        server.stop(grace=1).wait()


def _server_token(project: Path) -> str | None:
    try:
        return str(read_json(project / _SERVER_FILE, what="search server file")["token"])
    except Exception:  # absent or being replaced: no token this time
        return None


class _ChiefWatch:
    """A worker's watch on its chief, in a daemon thread: exits the process (with status
    `_WORKER_EXIT_STATUS`) when the chief has been unreachable for ``timeout`` seconds, or
    when its token changed while this worker trained a trial (a restarted chief has sent
    that trial back for a re-run). A process blocked in training cannot be interrupted
    otherwise."""

    def __init__(self, project: Path, tuner_id: str, timeout: float):
        self.project, self.tuner_id, self.timeout = project, tuner_id, timeout
        self.trial: tuple[str, str | None] | None = None  # (trial id, chief token)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="mtmri-chief-watch", daemon=True)

    def __enter__(self) -> _ChiefWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    def begin(self, trial_id: str) -> None:
        self.trial = (trial_id, _server_token(self.project))

    def check(self) -> None:
        """Raise `ChiefUnavailableError` if the chief restarted during the current trial."""
        message = self._restarted()
        if message:
            raise ChiefUnavailableError(message)

    def _restarted(self) -> str | None:
        if self.trial is None or self.trial[1] is None:
            return None
        trial_id, token = self.trial
        now = _server_token(self.project)
        if now is None or now == token:
            return None
        return (
            f"search worker {self.tuner_id}: the chief was restarted while this worker trained "
            f"trial {trial_id}; the new chief runs that trial again, so this worker stops "
            f"(start it again to take part)"
        )

    def _reachable(self) -> bool:
        try:
            with socket.create_connection(_chief_address(), timeout=2):
                return True
        except OSError:
            return False

    def _exit(self, message: str) -> None:
        print(f"ChiefUnavailableError: {message}", file=sys.stderr, flush=True)
        os._exit(_WORKER_EXIT_STATUS)

    def _watch(self) -> None:
        poll = min(2.0, self.timeout / 4)
        last_seen = time.monotonic()
        while not self._stop.wait(poll):
            if self._reachable():
                last_seen = time.monotonic()
                message = self._restarted()
                if message:
                    self._exit(message)
            elif time.monotonic() - last_seen > self.timeout:
                host, port = _chief_address()
                self._exit(_unreachable(self.tuner_id, host, port, self.timeout))


def _started_trials(project: Path) -> int:
    try:
        state = read_json(project / "oracle.json", what="keras-tuner search file")
    except Exception:  # not written yet
        return 0
    return len(state.get("start_order", []))


def _unreachable(tuner_id: str, host: str, port: int, timeout: float) -> str:
    return (
        f"search worker {tuner_id}: the chief at {host}:{port} has been unreachable for "
        f"{timeout:g} s ({CHIEF_TIMEOUT_VARIABLE}); start the chief again with the same "
        f"search arguments (it resumes the project), then this worker"
    )


def _tuner_class():
    import keras_tuner

    class SeededBayesianOracle(keras_tuner.oracles.BayesianOptimizationOracle):
        """keras-tuner's Bayesian oracle, each proposal seeded by its trial's index and its
        files written whole."""

        trials: dict[str, Any]  # keras-tuner's trials by id (untyped there)
        _retry_queue: list[str]
        #: Set (on a chief) when a trial's failure ends the search; the server stops on it.
        fatal_error: str | None = None

        def populate_space(self, trial_id):
            # keras-tuner draws the random initial points from ``_seed_state`` and the
            # acquisition's restarts from ``_random_state``, a stream that is re-created from
            # the seed when a project is reloaded (not restored), so a resumed search would
            # propose other points than an uninterrupted one. Seeded anew from the trial's
            # index (the number of trials started before it), each proposal depends only on
            # the seed and on the completed trials. The GP's own fit draws its restarts from
            # ``gpr.random_state`` (re-seeded by sklearn at each fit): the same rule for it.
            seed = _proposal_seed(self.seed, len(self.trials))
            self._seed_state = seed
            self._random_state = np.random.RandomState(seed)
            self.gpr.random_state = seed
            return super().populate_space(trial_id)

        def reload(self):
            super().reload()
            # keras-tuner reloads the trials in the order its glob lists their files; the GP
            # is fitted to them in that order, and its fit (so its proposal) differs in the
            # last digits with it. Start order is that of an uninterrupted search. A trial
            # missing from it was created but killed before oracle.json recorded it: dropped,
            # its index is proposed again (the same values) instead of it staying RUNNING.
            self.trials = {key: self.trials[key] for key in self.start_order if key in self.trials}
            # A trial left "ongoing" in a file saved as it ended is not run again.
            self._retry_queue = [key for key in self._retry_queue if key not in self.end_order]

        def save(self):
            # keras-tuner writes its files in place: a kill in mid-write would truncate them.
            atomic_write_json(self._get_oracle_fname(), self.get_state(), indent=None)

        @keras_tuner.synchronized
        def end_trial(self, trial):
            # A trial ends once: a late report (from a worker that trained it before the chief
            # was restarted) of a trial already ended is dropped, and one of a trial sent back
            # for a re-run ends it, so the re-run does not happen.
            if trial.trial_id in self.end_order:
                print(f"Trial {trial.trial_id} had already ended; its late result is dropped")
                return
            if trial.trial_id in self._retry_queue and not any(
                ongoing.trial_id == trial.trial_id for ongoing in self.ongoing_trials.values()
            ):
                self._retry_queue.remove(trial.trial_id)
            try:
                super().end_trial(trial)
                # keras-tuner saves before it lets the trial go from the ongoing ones; a chief
                # has no tuner to save after it, and its reload would run the trial again.
                self.save()
            except RuntimeError as error:  # keras-tuner's "consecutive failures" limit
                self.fatal_error = str(error)
                self._save_trial(self.trials[trial.trial_id])
                self.save()
                raise
            finally:
                _write_trials(Path(self._project_dir), self)

        @keras_tuner.synchronized
        def update_trial(self, trial_id, metrics, step=0):
            if trial_id in self.end_order:  # a late report: the trial's score stands
                return self.trials[trial_id]
            return super().update_trial(trial_id, metrics, step=step)

        def _save_trial(self, trial):
            path = Path(self._get_trial_dir(trial.trial_id)) / "trial.json"
            atomic_write_json(path, trial.get_state(), indent=None)

    class ResumableBayesianSearch(keras_tuner.Tuner):
        """Bayesian search (`SeededBayesianOracle`) whose trials train with `fit_network`
        (checkpointed), alone or as the chief or a worker of a distributed search
        (`search_role`). ``oracle_options`` go to the oracle."""

        def __init__(self, *, trainer_fit, directory, project_name, **oracle_options):
            self._trainer_fit = trainer_fit
            self._role = search_role()
            self._watch: _ChiefWatch | None = None
            self._current_trial = None
            super().__init__(
                oracle=SeededBayesianOracle(**oracle_options),
                directory=directory,
                project_name=project_name,
                overwrite=False,
            )

        def _populate_initial_space(self):
            # keras-tuner reloads a project only when this process's own tuner file is in it
            # (``chief.json``, ``tuner0.json``): a project begun alone and resumed by a chief,
            # or the reverse, would start over and overwrite its trials.
            super()._populate_initial_space()
            if not self._is_worker() and Path(self.oracle._get_oracle_fname()).is_file():
                self.oracle.reload()

        def search(self, *fit_args, **fit_kwargs):
            if self._role == "chief":
                self.save()
                _serve(self.oracle, Path(self.project_dir))
                return
            if self._role is None:
                super().search(*fit_args, **fit_kwargs)
                return
            self._search_as_worker(*fit_args, **fit_kwargs)

        def _search_as_worker(self, *fit_args, **fit_kwargs):
            import grpc
            from keras_tuner.src.distribute import oracle_client

            timeout = _chief_timeout()
            # keras-tuner's deadline per call is an hour. Not the chief timeout itself: a
            # slow answer from a chief that is there is not an unreachable chief.
            oracle_client.TIMEOUT = timeout + _ANSWER_MARGIN
            host, port = _chief_address()
            project = Path(self.project_dir)
            max_trials = self.oracle.max_trials
            deadline = time.monotonic() + timeout
            with _ChiefWatch(project, self.tuner_id, timeout) as watch:
                self._watch = watch
                while True:
                    try:
                        super().search(*fit_args, **fit_kwargs)
                    except grpc.RpcError as error:
                        raise ChiefUnavailableError(
                            _unreachable(self.tuner_id, host, port, timeout)
                        ) from error
                    except keras_tuner.errors.FatalError as error:
                        if isinstance(error.__cause__, ChiefUnavailableError):
                            raise error.__cause__ from None
                        self._report_failure(error)
                        raise
                    # Told to stop: by this project's chief only once all its trials have
                    # started (its oracle.json says so); else by the chief of the previous
                    # search of `run_searches`, still waiting for the other workers.
                    if _started_trials(project) >= max_trials:
                        return
                    if time.monotonic() > deadline:
                        raise ChiefUnavailableError(
                            f"search worker {self.tuner_id}: the server at {host}:{port} is "
                            f"not the chief of {project} (it says the search is over, the "
                            f"project does not) after {timeout:g} s"
                        )
                    time.sleep(0.5)

        def _report_failure(self, error):
            # The chief waits for every trial it handed out: tell it this one failed (which
            # ends the search there, as a failed trial ends a single-process search).
            import grpc

            trial = self._current_trial
            if trial is None:
                return
            trial.status = keras_tuner.engine.trial.TrialStatus.FAILED
            trial.message = str(error)
            try:
                self.oracle.end_trial(trial)
            except grpc.RpcError:
                pass  # the chief raised on it, as meant, or is gone

        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            self._current_trial = trial
            if self._watch is not None:
                self._watch.begin(trial.trial_id)

        def run_trial(self, trial, *args, **kwargs):
            folder = Path(self.get_trial_dir(trial.trial_id)) / "fit"
            try:
                value = self._trainer_fit(trial.hyperparameters.values, folder)
            except Exception as error:  # a bug must stop the search, not be skipped
                raise keras_tuner.errors.FatalError(
                    f"trial {trial.trial_id} failed: {type(error).__name__}: {error}"
                ) from error
            if self._watch is not None:
                try:
                    self._watch.check()  # a restarted chief re-runs it: keep its checkpoint
                except ChiefUnavailableError as error:
                    raise keras_tuner.errors.FatalError(str(error)) from error
            # The score is all the search keeps of a finished trial; its checkpoints (about a
            # GB at paper scale) only served to resume it.
            shutil.rmtree(folder, ignore_errors=True)
            return {_OBJECTIVE: value}

        def save(self):
            # As keras-tuner's, whole; a worker's oracle is the chief's (it saves it).
            if not self._is_worker():
                self.oracle.save()
            atomic_write_json(self._get_tuner_fname(), self.get_state(), indent=None)

    return ResumableBayesianSearch


def _start_over(project: Path, label: str) -> str:
    return f"delete the folder {project} to start the search of {label} over"


def _check_project(project: Path, label: str) -> None:
    """Raise `StoreError` naming the first unreadable keras-tuner file of ``project``
    (keras-tuner itself fails on it with a bare ``JSONDecodeError`` that names no file)."""
    if not project.is_dir():
        return
    files = [
        project / "oracle.json",
        *sorted(
            path
            for path in project.glob("*.json")  # the tuners' files: tuner0, chief, ...
            if path.name not in {"oracle.json", _TRIALS_FILE, _SERVER_FILE}
        ),
        *sorted(project.glob("trial_*/trial.json")),
    ]
    remedy = _start_over(project, label) + " (its completed trials are lost)"
    for path in files:
        if path.is_file():
            read_json(path, what="keras-tuner search file", remedy=remedy)


def _write_trials(project: Path, oracle: Any) -> None:
    rows = []
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        rows.append(
            {
                "trial": trial.trial_id,
                "status": str(trial.status),
                "score": None if trial.score is None else float(trial.score),
                "values": dict(trial.hyperparameters.values),
            }
        )
    atomic_write_json(project / _TRIALS_FILE, rows)


@dataclass
class SearchResult:
    """One model's search: its project folder, its trials and the best hyper-parameters."""

    label: str
    project: Path
    trials: Any
    best: HyperParameters | None
    best_score: float | None
    #: "chief" or "worker" in a distributed search (`search_role`), else None. A worker's
    #: ``trials`` are the project's table as it stood when the worker was told to stop
    #: (the chief rewrites it once the last trial has ended).
    role: str | None = None


def _project_name(spec: ModelSpec, profile: str, request: Mapping[str, Any]) -> str:
    digest = json_digest(request)[:10]
    return f"{spec.key}-{profile}-{digest}"


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative integer; got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    return int(seed)


def _request(
    model: str | ModelSpec,
    profile: Any,
    data_dir: str | os.PathLike | None,
    seed: int,
    settings: TrainingSettings | None,
    trials: int | None,
) -> tuple[ModelSpec, str, TrainingSettings, dict[str, Any]]:
    """The arguments checked, and what the project's folder name is the digest of."""
    spec = model_spec(model)
    settings = settings if settings is not None else training_settings(profile)
    profile = profile_name(profile)
    seed = _check_seed(seed)
    max_trials = trials if trials is not None else settings.search_trials.get(spec.label, 1)
    if isinstance(max_trials, bool) or not isinstance(max_trials, numbers.Integral):
        raise TypeError(f"trials must be a positive integer; got {max_trials!r}")
    if max_trials < 1:  # keras-tuner takes 0 for "no limit": a search that never ends
        raise ValueError(f"trials must be a positive integer; got {max_trials!r}")
    max_trials = int(max_trials)
    initial = min(max_trials, int(settings.search_initial_points.get(spec.label, 1)))
    folder = data_sources(data_dir).folder(spec.dataset)
    request = {
        "format": TRAINING_FORMAT,
        "search_format": _SEARCH_FORMAT,
        "model": spec.label,
        "profile": profile,
        "seed": seed,
        "max_trials": max_trials,
        "initial_points": initial,
        "settings": {
            key: getattr(settings, key)
            for key in (
                "batch_size",
                "validation_slices",
                "search_max_epochs",
                "search_patience",
                "search_steps_per_epoch",
            )
        },
        "data": None if folder is None else str(Path(folder).resolve()),
        "code": model_code_digest(),
    }
    return spec, profile, settings, request


def search_project(
    model: str | ModelSpec,
    profile: Any = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike,
    seed: int = 0,
    settings: TrainingSettings | None = None,
    trials: int | None = None,
) -> Path:
    """The keras-tuner project folder `run_search` uses for these arguments (which may not
    exist yet). Its name is the model's key, the profile and a digest of the search's
    request (arguments, settings, data folder, code)."""
    spec, name, _, request = _request(model, profile, data_dir, seed, settings, trials)
    return search_dir(output_dir) / _project_name(spec, name, request)


def run_search(
    model: str | ModelSpec,
    profile: Any = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike,
    seed: int = 0,
    settings: TrainingSettings | None = None,
    trials: int | None = None,
    verbose: str | int = 0,
) -> SearchResult:
    """Run (or resume, or reuse) the Bayesian search of one model.

    Parameters
    ----------
    model : str or ModelSpec
        A label of `mtmri_lib.training.MODEL_SPECS`.
    profile : str or Profile
        Sets the network, the data and the search settings (`training_settings`:
        ``search_trials``, ``search_max_epochs``, ``search_patience``,
        ``search_steps_per_epoch``, ``search_initial_points``).
    data_dir : path or None
        See `mtmri_lib.training.data_sources`.
    output_dir : path
        The notebook's output folder; projects go to `mtmri_lib.training.search_dir`
        (`search_project`).
    seed : int
        A non-negative integer. Seeds the Gaussian process (through `tuner_seed`; every seed,
        0 included, gives the same trials each time) and every trial's training (each trial
        starts from the same weights and sees the same corruptions, so trials differ only in
        their hyper-parameters).
    trials : int, optional
        Overrides the profile's number of trials (at least 1).
    verbose : "auto", 0, 1 or 2
        Keras' display inside each trial (keras-tuner prints each trial's values and score).

    Notes
    -----
    Distributed: with keras-tuner's variables set (`search_role`), the same call with the
    same arguments in every process makes the chief (which serves the trials and returns
    once all have ended) or a worker (which trains trials until the chief says stop); see the
    module's docstring for resuming and for workers that lose their chief.

    Raises
    ------
    TypeError, ValueError
        A seed that is not a non-negative integer, a number of trials under 1, an unknown
        model, a half-set distributed configuration (`search_role`), a bad
        ``MTMRI_SEARCH_CHIEF_TIMEOUT``.
    ChiefUnavailableError
        In a worker: the chief was unreachable for ``MTMRI_SEARCH_CHIEF_TIMEOUT`` seconds
        or was restarted during its trial.
    mtmri_lib.store.StoreError
        A file of the model's existing project is unreadable (truncated): the message names
        it and the project folder to delete to start the search over.
    """
    import keras_tuner

    spec, name, settings, request = _request(model, profile, data_dir, seed, settings, trials)
    role = search_role()  # a half-set distributed configuration fails here, before any work
    if role == "worker":
        _chief_timeout()
    seed = request["seed"]
    project = search_dir(output_dir) / _project_name(spec, name, request)
    _check_project(project, spec.label)  # before the data are loaded: fail fast
    config = model_config(profile)
    datasets: list[Any] = []  # loaded by the first trial: a chief trains none

    def trainer_fit(values: Mapping[str, Any], checkpoint_dir: Path) -> float:
        if not datasets:
            datasets.extend(
                model_datasets(
                    spec,
                    profile,
                    settings,
                    data_dir,
                    output_dir,
                    seed=seed,
                    data_seed=seed,
                    fidelity="paper",
                )[:2]
            )
        train, validation = datasets
        hyper = hyperparameters_from(values)
        result = fit_model(
            config,
            spec.tasks,
            train,
            validation,
            hyper=hyper,
            seed=seed,
            settings=settings,
            checkpoint_dir=checkpoint_dir,
            search=True,
            verbose=verbose,
        )
        value = result.best_value
        if value is None or result.diverged or not math.isfinite(value):
            return DIVERGED_MSE
        return float(value)

    tuner = _tuner_class()(
        trainer_fit=trainer_fit,
        directory=str(project.parent),
        project_name=project.name,
        hyperparameters=search_space(spec),
        objective=keras_tuner.Objective(_OBJECTIVE, direction="min"),
        max_trials=request["max_trials"],
        num_initial_points=request["initial_points"],
        seed=tuner_seed(seed),
        max_consecutive_failed_trials=1,
    )
    project = Path(tuner.project_dir)
    if role != "worker":
        atomic_write_json(project / "request.json", request)
    tuner.search(verbose=bool(verbose))
    if role != "worker":  # a worker's oracle is the chief's: the chief writes the table
        _write_trials(project, tuner.oracle)
    table = search_trials(spec.label, profile, output_dir, project=project)
    best, score = _best(table)
    return SearchResult(spec.label, project, table, best, score, role)


def run_searches(
    profile: Any = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    output_dir: str | os.PathLike,
    seed: int = 0,
    models: Sequence[str] | None = None,
    verbose: str | int = 0,
) -> dict[str, SearchResult]:
    """`run_search` for every model the profile searches (``settings.search_models``)."""
    settings = training_settings(profile)
    labels = settings.search_models if models is None else [model_spec(m).label for m in models]
    return {
        label: run_search(
            label,
            profile,
            data_dir=data_dir,
            output_dir=output_dir,
            seed=seed,
            settings=settings,
            verbose=verbose,
        )
        for label in labels
    }


def _latest_project(label: str, profile: str, output_dir: str | os.PathLike) -> Path | None:
    spec = model_spec(label)
    folder = search_dir(output_dir)
    candidates = [
        p.parent for p in folder.glob(f"{spec.key}-{profile_name(profile)}-*/{_TRIALS_FILE}")
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p / _TRIALS_FILE).stat().st_mtime)


def search_trials(
    model: str | ModelSpec,
    profile: Any,
    output_dir: str | os.PathLike,
    *,
    project: str | os.PathLike | None = None,
):
    """The trials of a model's search (the latest project), one row per trial in run order.

    Columns: ``trial``, ``status``, ``val_mse`` (the trial's best validation MSE),
    ``best so far`` (the running minimum over completed trials), ``optimizer``,
    ``learning_rate``, ``alpha`` and, for L_C models, one column per kernel weight. Empty if
    the model has not been searched. A truncated trials file raises
    `mtmri_lib.store.StoreError` naming it.
    """
    import pandas as pd

    spec = model_spec(model)
    project = (
        Path(project) if project is not None else _latest_project(spec.label, profile, output_dir)
    )
    if project is None or not (project / _TRIALS_FILE).exists():
        return pd.DataFrame()
    # The file is rewritten from the keras-tuner project after every trial.
    remedy = "run the search again to rewrite it from the project's trials, or " + _start_over(
        project, spec.label
    )
    rows = []
    for entry in read_json(project / _TRIALS_FILE, what="search trials file", remedy=remedy):
        row = {"trial": entry["trial"], "status": entry["status"], "val_mse": entry["score"]}
        row.update(entry["values"])
        rows.append(row)
    table = pd.DataFrame(rows)
    done = table["status"].eq("COMPLETED") & table["val_mse"].notna()
    table["best so far"] = table["val_mse"].where(done).cummin()
    return table


def _best(table) -> tuple[HyperParameters | None, float | None]:
    if table.empty:
        return None, None
    done = table[table["status"].eq("COMPLETED") & table["val_mse"].notna()]
    if done.empty:
        return None, None
    row = done.loc[done["val_mse"].idxmin()]
    return hyperparameters_from(row.dropna().to_dict()), float(row["val_mse"])


def best_hyperparameters(
    model: str | ModelSpec, profile: Any, output_dir: str | os.PathLike
) -> HyperParameters | None:
    """The best completed trial's hyper-parameters of a model's latest search (None: none)."""
    return _best(search_trials(model, profile, output_dir))[0]
