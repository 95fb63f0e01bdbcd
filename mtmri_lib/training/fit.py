"""The fit loop: the training step, early stopping, and checkpoints that resume.

- `MultiTaskTrainer`: a ``keras.Model`` around a network of `mtmri_lib.models.build_model`
  whose training step minimises `mtmri_lib.losses.training_objective` (only the labelled
  residual enters the reconstruction term; the regulariser covers every head) and reports
  ``loss``, ``reconstruction``, ``regulariser`` and ``mse``: the MSE between the clean
  image and the model's inference output ``"image"`` (all residuals summed), the quantity
  early stopping watches on the validation set (``val_mse``). One step on every Keras
  backend: the objective and the metrics are shared, only the gradient is taken the
  backend's way (TensorFlow: ``GradientTape`` inside Keras' ``tf.function``; JAX:
  ``stateless_call`` under ``jax.value_and_grad`` and the optimizer's ``stateless_apply``,
  jit-compiled by Keras; PyTorch: autograd).
- `fit_network`: RMSprop or Adam, early stopping on ``val_mse`` with the best epoch's weights
  restored, a checkpoint after every epoch (network weights, optimizer state, the data
  pipeline's epoch, the early-stopping state and the history, in one file replaced
  atomically) and a CSV history. A run killed at any moment and started again with the
  same checkpoint folder continues after its last completed epoch.
- `distribution_strategy`: ``tf.distribute.MultiWorkerMirroredStrategy`` when the
  environment variable ``TF_CONFIG`` names a cluster of more than one worker (see
  `worker_task`), else ``tf.distribute.MirroredStrategy`` when more than one GPU (or,
  without GPUs, more than one logical CPU) is visible (TensorFlow backend; on JAX and
  PyTorch one device, and TensorFlow is not imported; a multi-worker ``TF_CONFIG`` there
  raises).
- `worker_task`, `tf_config_from_slurm`: which worker this process is, read from
  ``TF_CONFIG`` and checked; a ``TF_CONFIG`` made from a Slurm job's variables.
"""

from __future__ import annotations

from .. import _tf_env  # noqa: F401  (first: quiets TensorFlow's start-up log)

# isort: split

import contextlib
import json
import math
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from ..losses import check_deltas, training_objective
from ..models import TASKS, ModelConfig, build_model, set_global_seed
from ..store import StoreError, atomic_write, atomic_write_text
from .specs import HyperParameters, TrainingSettings, make_optimizer

__all__ = [
    "MultiTaskTrainer",
    "compile_trainer",
    "configure_logical_cpus",
    "distribution_strategy",
    "WorkerTask",
    "worker_task",
    "tf_config_from_slurm",
    "read_checkpoint_state",
    "FitResult",
    "fit_network",
    "fit_model",
]


@keras.saving.register_keras_serializable(package="mtmri")
class MultiTaskTrainer(keras.Model):
    """Trains a network of `mtmri_lib.models.build_model` on the article's objective.

    The network stays a plain functional model (the one that is saved); this wrapper only
    adds the training and validation steps. Each batch is ``(u, {"clean", "label"})`` as
    `mtmri_lib.data.ArtefactDataset` yields it.

    Parameters
    ----------
    network : keras.Model
        Output dict with one residual per task and ``"image"``.
    alpha : float
        Weight of the residual regulariser.
    deltas : dict or None
        Kernel weights of L_C (None: the MSE).
    fidelity : {"paper", "code"}
        Form of the regulariser.

    Notes
    -----
    Metrics (per sample, averaged over the epoch): ``loss`` (the objective), its two terms
    ``reconstruction`` (L(clean, znorm(u + p_y))) and ``regulariser``, and ``mse``, the MSE
    between the clean image and the inference output ``"image"`` = znorm(u + sum of all
    residuals). Under a distribution strategy the loss is divided by the number of replicas
    before differentiation, so the summed replica gradients are those of the global batch.
    """

    METRIC_NAMES = ("loss", "reconstruction", "regulariser", "mse")

    def __init__(
        self,
        network: keras.Model,
        *,
        alpha: float = 0.0,
        deltas: Mapping[str, float] | None = None,
        fidelity: str = "paper",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.network = network
        self.tasks = tuple(task for task in TASKS if task in network.output)
        if not self.tasks or "image" not in network.output:
            raise ValueError("network must return residuals named after tasks and 'image'")
        self.alpha = float(alpha)
        self.deltas = None if deltas is None else check_deltas(deltas)
        self.fidelity = fidelity
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.METRIC_NAMES}
        # The network is built and the wrapper has no weights of its own. Built, it also
        # keeps Keras' fit from drawing a batch to build it symbolically, which on JAX
        # would start and end an epoch of the dataset before training (new corruptions).
        self.built = True

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def call(self, inputs, training: bool = False):
        return self.network(inputs, training=training)

    def _objective(self, outputs: Mapping[str, Any], u, targets: Mapping[str, Any]):
        terms = training_objective(
            outputs,
            u,
            targets["clean"],
            targets["label"],
            deltas=self.deltas,
            alpha=self.alpha,
            tasks=self.tasks,
            fidelity=self.fidelity,
        )
        terms["mse"] = ops.mean(ops.square(targets["clean"] - outputs["image"]))
        return terms

    def _terms(self, data, training: bool) -> dict[str, Any]:
        u, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._objective(self.network(u, training=training), u, targets)

    def _update(self, terms: Mapping[str, Any], batch) -> dict[str, Any]:
        weight = ops.cast(ops.shape(batch)[0], "float32")
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name], sample_weight=weight)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def _stateless_update(self, metric_values: Sequence[Any], terms, batch):
        """`_update` on explicit metric values (JAX): the logs and the new values."""
        mapping = list(zip(self.metrics_variables, metric_values, strict=True))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._update(terms, batch)
        new_values = []
        for variable, old in mapping:
            value = scope.get_current_value(variable)
            new_values.append(old if value is None else value)
        return logs, new_values

    def train_step(self, *args):
        """One optimisation step; the gradient is taken as the Keras backend does it.

        TensorFlow and PyTorch call it with ``(data)``, JAX with ``(state, data)`` (Keras'
        stateless protocol: it returns ``(logs, state)``).
        """
        backend = keras.backend.backend()
        if backend == "tensorflow":
            return self._tensorflow_train_step(*args)
        if backend == "jax":
            return self._jax_train_step(*args)
        if backend == "torch":
            return self._torch_train_step(*args)
        raise NotImplementedError(
            f"MultiTaskTrainer has no training step for the Keras backend {backend!r}; "
            "use tensorflow, jax or torch (KERAS_BACKEND)"
        )

    def _maybe_symbolic_build(self, *args: Any, **kwargs: Any) -> None:
        """Keras' symbolic build under a strategy (TensorFlow trainer), skipped over several
        workers: there it averages a first batch over the workers, which Keras cannot do
        for a multi-worker strategy, and the trainer has nothing left to build (the
        network and the optimizer are built by `compile_trainer`)."""
        import tensorflow as tf

        if _is_multi_worker(tf.distribute.get_strategy()) or _is_multi_worker(
            getattr(self, "_distribute_strategy", None)
        ):
            return
        super()._maybe_symbolic_build(*args, **kwargs)

    def _tensorflow_train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            terms = self._terms(data, training=True)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            # scale_loss: the identity, but for a LossScaleOptimizer (mixed_float16).
            scaled = self.optimizer.scale_loss(terms["loss"] / replicas)
        variables = self.network.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        return _multi_worker_logs(
            self._update(terms, keras.utils.unpack_x_y_sample_weight(data)[0])
        )

    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_values, metric_values = state
        u, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        optimizer_mapping = list(zip(self.optimizer.variables, optimizer_values, strict=True))

        def scaled_loss(trainable, non_trainable):
            outputs, non_trainable = self.stateless_call(trainable, non_trainable, u, training=True)
            terms = self._objective(outputs, u, targets)
            with keras.StatelessScope(state_mapping=optimizer_mapping):
                scaled = self.optimizer.scale_loss(terms["loss"])
            return scaled, (terms, non_trainable)

        gradient_of = jax.value_and_grad(scaled_loss, has_aux=True)
        (_, (terms, non_trainable)), gradients = gradient_of(trainable, non_trainable)
        trainable, optimizer_values = self.optimizer.stateless_apply(
            optimizer_values, gradients, trainable
        )
        logs, metric_values = self._stateless_update(metric_values, terms, u)
        return logs, (trainable, non_trainable, optimizer_values, metric_values)

    def _torch_train_step(self, data):
        import torch

        self.zero_grad()
        terms = self._terms(data, training=True)
        self.optimizer.scale_loss(terms["loss"]).backward()
        variables = self.network.trainable_variables
        gradients = [variable.value.grad for variable in variables]
        with torch.no_grad():
            self.optimizer.apply(gradients, variables)
        return self._update(terms, keras.utils.unpack_x_y_sample_weight(data)[0])

    def test_step(self, *args):
        """Objective and metrics of a validation batch (JAX: ``(state, data)``, see
        `train_step`)."""
        if keras.backend.backend() != "jax":
            (data,) = args
            terms = self._terms(data, training=False)
            logs = self._update(terms, keras.utils.unpack_x_y_sample_weight(data)[0])
            return _multi_worker_logs(logs) if keras.backend.backend() == "tensorflow" else logs
        (trainable, non_trainable, metric_values), data = args
        u, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        outputs, non_trainable = self.stateless_call(trainable, non_trainable, u, training=False)
        logs, metric_values = self._stateless_update(
            metric_values, self._objective(outputs, u, targets), u
        )
        return logs, (trainable, non_trainable, metric_values)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "network": keras.saving.serialize_keras_object(self.network),
            "alpha": self.alpha,
            "deltas": None if self.deltas is None else dict(self.deltas),
            "fidelity": self.fidelity,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiTaskTrainer:
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


def _multi_worker_logs(logs: dict[str, Any]) -> dict[str, Any]:
    """The step's logs as Keras' TensorFlow trainer can average them over several workers.

    Over several workers Keras averages each logged value across the replicas along its
    axis 0, which a scalar lacks; there each value becomes a vector of one element (the
    average is then a scalar again). Elsewhere the logs are returned unchanged.
    """
    import tensorflow as tf

    if not _is_multi_worker(tf.distribute.get_strategy()):
        return logs
    return {name: ops.reshape(value, (1,)) for name, value in logs.items()}


def configure_logical_cpus(n: int) -> None:
    """Split the physical CPU into ``n`` logical devices (for testing MirroredStrategy).

    Must run before TensorFlow initialises its devices (before any tensor is made), so call
    it first thing in a fresh process.
    """
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(int(n))]
    )


@dataclass(frozen=True)
class WorkerTask:
    """This process's place in a training cluster (from ``TF_CONFIG``).

    Attributes
    ----------
    type : {"worker", "chief"}
    index : int
        Index within its job type.
    workers : int
        Processes that train together (the ``chief`` job and the ``worker`` job).
    is_chief : bool
        The one process that writes checkpoints and histories: ``chief`` 0 when the cluster
        has a chief job, else ``worker`` 0.
    """

    type: str
    index: int
    workers: int
    is_chief: bool


def worker_task(tf_config: str | None = None) -> WorkerTask:
    """Read and check ``TF_CONFIG`` (tf.distribute's cluster description).

    Parameters
    ----------
    tf_config : str or None
        The JSON text; None: the environment variable ``TF_CONFIG``. Unset or empty: one
        worker, the chief. The form is
        ``{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker",
        "index": i}}`` (a ``"chief"`` job of one address may stand beside the workers).

    Raises
    ------
    ValueError
        Not JSON, no cluster or no workers in it, an address that is not ``host:port``, a
        task type other than worker / chief, or a task index outside its job.
    """
    text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not text.strip():
        return WorkerTask("worker", 0, 1, True)
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not JSON ({error}): {text[:200]!r}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise ValueError(
            'TF_CONFIG names no cluster: it needs {"cluster": {"worker": ["host:port", '
            f'...]}}, "task": {{"type": "worker", "index": i}}}}; got {text[:200]!r}'
        )
    cluster = config["cluster"]
    jobs: dict[str, list[str]] = {}
    for job in ("chief", "worker"):
        addresses = cluster.get(job, [])
        if isinstance(addresses, str) or not isinstance(addresses, list):
            raise ValueError(f"TF_CONFIG cluster.{job} must be a list of 'host:port'")
        for address in addresses:
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"TF_CONFIG cluster.{job}: {address!r} is not 'host:port'")
        jobs[job] = addresses
    if len(jobs["chief"]) > 1:
        raise ValueError(f"TF_CONFIG cluster.chief holds one address; got {jobs['chief']}")
    workers = len(jobs["chief"]) + len(jobs["worker"])
    if not jobs["worker"] and not jobs["chief"]:
        raise ValueError(f"TF_CONFIG cluster names no worker: {cluster}")
    task = config.get("task")
    if not isinstance(task, dict):
        raise ValueError('TF_CONFIG has no task: {"type": "worker", "index": i}')
    kind = task.get("type")
    if kind not in ("worker", "chief"):
        raise ValueError(
            f"TF_CONFIG task type must be 'worker' or 'chief' (training); got {kind!r}"
        )
    index = task.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(jobs[kind]):
        raise ValueError(
            f"TF_CONFIG task index {index!r} is out of range for the {len(jobs[kind])} "
            f"{kind} address(es) of the cluster"
        )
    chief = kind == "chief" or (not jobs["chief"] and index == 0)
    return WorkerTask(kind, index, workers, chief)


def tf_config_from_slurm(port: int = 12345, environ: Mapping[str, str] | None = None) -> str:
    """A ``TF_CONFIG`` for this task of a Slurm job: one worker per Slurm task.

    The hosts come from ``SLURM_JOB_NODELIST`` (``SLURM_NODELIST``), expanded by
    ``scontrol show hostnames`` where needed, with ``SLURM_NTASKS_PER_NODE`` (default 1)
    tasks per host on ports ``port``, ``port + 1``, ...; this task is ``SLURM_PROCID``.

    Parameters
    ----------
    port : int
        The first port of each host.
    environ : mapping or None
        The variables (None: ``os.environ``).

    Returns
    -------
    str
        The JSON text, to put in ``os.environ["TF_CONFIG"]`` before training starts.
    """
    env = os.environ if environ is None else environ
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    if not nodelist or "SLURM_PROCID" not in env:
        raise ValueError(
            "tf_config_from_slurm needs SLURM_JOB_NODELIST and SLURM_PROCID (run it inside "
            "a Slurm task, e.g. under srun)"
        )
    hosts = _slurm_hostnames(nodelist)
    per_node = int(str(env.get("SLURM_NTASKS_PER_NODE", "1")).split("(")[0].split(",")[0])
    if per_node < 1 or not 1 <= int(port) <= 65535 - per_node:
        raise ValueError(f"bad SLURM_NTASKS_PER_NODE ({per_node}) or port ({port})")
    addresses = [f"{host}:{int(port) + k}" for host in hosts for k in range(per_node)]
    index = int(env["SLURM_PROCID"])
    if not 0 <= index < len(addresses):
        raise ValueError(
            f"SLURM_PROCID {index} is out of range for {len(addresses)} worker address(es)"
        )
    return json.dumps(
        {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
    )


def _slurm_hostnames(nodelist: str) -> list[str]:
    """Host names of a Slurm node list: plain names and one bracketed range per name
    (``node[01-03,07]``) here; anything else through ``scontrol show hostnames``."""
    hosts: list[str] = []
    for item in _split_nodelist(nodelist):
        if "[" not in item:
            hosts.append(item)
            continue
        prefix, _, rest = item.partition("[")
        body, _, suffix = rest.partition("]")
        if "[" in suffix:
            import subprocess

            done = subprocess.run(
                ["scontrol", "show", "hostnames", nodelist],
                capture_output=True,
                text=True,
                check=True,
            )
            return done.stdout.split()
        for part in body.split(","):
            low, _, high = part.partition("-")
            for number in range(int(low), int(high or low) + 1):
                hosts.append(f"{prefix}{number:0{len(low)}d}{suffix}")
    return hosts


def _split_nodelist(nodelist: str) -> list[str]:
    """Split a node list at the commas outside brackets."""
    items, depth, current = [], 0, ""
    for char in nodelist:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    return [item for item in [*items, current] if item]


#: One multi-worker strategy per process and TF_CONFIG: TensorFlow configures its collective
#: ops once per process, so a second training in the same process reuses the first strategy.
_MULTI_WORKER: dict[str, Any] = {}


def distribution_strategy(devices: Sequence[str] | None = None):
    """The strategy to train under: several workers, several local devices, or the default.

    Parameters
    ----------
    devices : sequence of str, optional
        Device names; None: every visible GPU when there are two or more, else every logical
        CPU when there is no GPU and two or more logical CPUs (see `configure_logical_cpus`).

    Notes
    -----
    With ``TF_CONFIG`` naming more than one worker (`worker_task`): a
    ``tf.distribute.MultiWorkerMirroredStrategy`` over every local GPU of every worker, its
    all-reduce NCCL where this machine has GPUs and RING (gRPC) on CPUs. Call it (or
    `fit_network`) before any other TensorFlow work in the process, on every worker with
    the same program. ``devices`` cannot be given then. ``TF_CONFIG`` naming one worker
    changes nothing.

    On the JAX and PyTorch backends: one device (a stand-in with ``scope()`` and
    ``num_replicas_in_sync = 1``), without importing TensorFlow; naming several devices
    or several workers there raises.
    """
    task = worker_task()
    if keras.backend.backend() != "tensorflow":
        if task.workers > 1:
            raise ValueError(
                f"TF_CONFIG names {task.workers} workers: training over several machines "
                "needs the TensorFlow backend (tf.distribute.MultiWorkerMirroredStrategy); "
                f"Keras runs on {keras.backend.backend()!r} (set KERAS_BACKEND=tensorflow "
                "or unset TF_CONFIG)"
            )
        if devices is not None and len(devices) > 1:
            raise ValueError(
                f"training over several devices ({list(devices)}) needs the TensorFlow "
                f"backend; Keras runs on {keras.backend.backend()!r}"
            )
        return _OneDevice()
    import tensorflow as tf

    if task.workers > 1:
        if devices is not None:
            raise ValueError(
                f"devices ({list(devices)}) and a TF_CONFIG of {task.workers} workers: "
                "a multi-worker run uses every local GPU (or the CPU) of each worker; "
                "give one or the other"
            )
        key = os.environ["TF_CONFIG"]
        if key not in _MULTI_WORKER:
            # Physical devices only: listing logical ones would start TensorFlow's runtime,
            # which must come after the strategy configures its collectives.
            gpus = tf.config.list_physical_devices("GPU")
            implementation = tf.distribute.experimental.CommunicationImplementation
            options = tf.distribute.experimental.CommunicationOptions(
                implementation=implementation.NCCL if gpus else implementation.RING
            )
            _MULTI_WORKER[key] = tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=options
            )
        return _MULTI_WORKER[key]
    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) > 1:
            devices = [device.name for device in gpus]
        elif not gpus:
            cpus = tf.config.list_logical_devices("CPU")
            if len(cpus) > 1:
                devices = [device.name for device in cpus]
    if devices is not None and len(devices) > 1:
        return tf.distribute.MirroredStrategy(devices=list(devices))
    return tf.distribute.get_strategy()


def _is_multi_worker(strategy: Any) -> bool:
    return type(strategy).__name__.startswith(
        ("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy")
    )


def _set_batch_norm_synchronized(network: keras.Model, synchronized: bool) -> None:
    """Switch every batch normalisation of ``network`` to global (or local) statistics.

    The flag only matters in training mode under a strategy; the layers' weights and their
    inference are the same either way, so a trained network is handed back unsynchronised
    and saves as one that loads on every backend.
    """
    for layer in network._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = bool(synchronized)


def _same_on_every_worker(strategy: Any, value: int, what: str) -> None:
    """Raise on every worker if ``value`` differs between workers (a collective)."""
    import tensorflow as tf

    local = tf.constant([float(value)])
    values = strategy.gather(strategy.run(lambda: tf.identity(local)), axis=0).numpy()
    low, high = float(values.min()), float(values.max())
    if high != low:
        raise ValueError(
            f"the workers disagree on {what} (between {low:g} and {high:g}): every worker "
            "must see the same checkpoint folder (a shared file system) and the same data"
        )


class _OneDevice:
    """What `fit_network` needs of a strategy, for backends without tf.distribute."""

    num_replicas_in_sync = 1

    def scope(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


def _to_numpy(value: Any) -> np.ndarray:
    """A variable or tensor of any Keras backend as a numpy array."""
    if isinstance(value, keras.Variable):
        value = value.value
    if keras.backend.backend() == "tensorflow":
        # TensorFlow's own conversion, without numpy 2's deprecated __array__ path.
        return np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    return np.asarray(keras.ops.convert_to_numpy(value))


_CHECKPOINT = "checkpoint.npz"


_HISTORY = "history.csv"


def _save_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    # As Any: mypy would match the names against savez's own keyword (allow_pickle).
    named: dict[str, Any] = dict(arrays)
    atomic_write(path, lambda handle: np.savez(handle, **named))


def _variable_arrays(prefix: str, variables: Sequence[Any]) -> dict[str, np.ndarray]:
    return {f"{prefix}{i:05d}": _to_numpy(v) for i, v in enumerate(variables)}


def _assign(prefix: str, variables: Sequence[Any], stored: Any, what: str) -> None:
    keys = sorted(k for k in stored.files if k.startswith(prefix))
    if len(keys) != len(variables):
        raise ValueError(
            f"checkpoint holds {len(keys)} {what} variables; the model has {len(variables)}: "
            "it was written by another network or optimizer"
        )
    for key, variable in zip(keys, variables, strict=True):
        value = stored[key]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"checkpoint {what} variable {key} has shape {value.shape}; "
                f"the model's {variable.path} has {tuple(variable.shape)}"
            )
        variable.assign(value)


def read_checkpoint_state(checkpoint_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The training state stored in a checkpoint folder (None if there is none).

    Keys: ``epoch`` (completed epochs), ``history`` (one dict per epoch, with the
    ``data_epoch`` whose corruptions it trained on), ``best_value``, ``best_epoch``, ``wait``,
    ``stopped_early``, ``diverged``, ``optimizer_iterations``, ``seconds`` (training time over
    all runs), ``runs`` (the start epoch of each run: ``[0, 2]`` for a run interrupted after
    its second epoch and resumed).
    """
    path = Path(checkpoint_dir) / _CHECKPOINT
    if not path.exists():
        return None
    with _open_checkpoint(path) as stored:
        return json.loads(bytes(stored["state"]).decode())


@contextlib.contextmanager
def _open_checkpoint(path: Path) -> Iterator[Any]:
    """``np.load`` of a checkpoint file, or a `StoreError` naming it and the way out."""
    remedy = (
        f"delete the folder {path.parent} to train that model from its first epoch "
        "(its other checkpoints are then lost too)"
    )
    try:
        stored = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise StoreError(
            f"{path}: the training checkpoint is corrupt or truncated ({error}); {remedy}"
        ) from None
    try:
        yield _CheckedArrays(stored, path, remedy)
    finally:
        stored.close()


class _CheckedArrays:
    """An opened ``.npz`` whose members, when read, fail with a `StoreError` naming it."""

    def __init__(self, stored: Any, path: Path, remedy: str):
        self._stored, self._path, self._remedy = stored, path, remedy
        self.files = stored.files

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self._stored[key]
        except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise StoreError(
                f"{self._path}: member {key!r} of the training checkpoint is unreadable "
                f"({type(error).__name__}: {error}); {self._remedy}"
            ) from None


def _write_history_csv(path: Path, history: Sequence[Mapping[str, Any]]) -> None:
    import pandas as pd

    atomic_write_text(path, pd.DataFrame(list(history)).to_csv(index=False))


class _Checkpointing(keras.callbacks.Callback):
    """Early stopping, best weights, checkpoint and CSV history after every epoch.

    Everything needed to continue (network weights, optimizer variables, the early-stopping
    counters, the history, the epoch reached) goes into one ``.npz`` file, replaced
    atomically, so a process killed at any moment leaves either the previous or the new
    checkpoint, never a mixture. The best epoch's network weights go to their own file,
    written before the checkpoint that refers to them.
    """

    def __init__(
        self,
        trainer: MultiTaskTrainer,
        state: dict[str, Any],
        *,
        folder: Path | None,
        monitor: str,
        patience: int,
        batch_images: Callable[[], int],
        data_epoch: Callable[[], int],
    ):
        super().__init__()
        self.trainer = trainer
        self.state = state
        self.folder = folder
        self.monitor = monitor
        self.patience = int(patience)
        self.batch_images = batch_images
        self.data_epoch = data_epoch
        self._data_epoch = 0
        self.best_weights: list[np.ndarray] | None = None
        self._epoch_start = 0.0
        self._train_seconds = 0.0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._train_seconds = 0.0
        self._data_epoch = int(self.data_epoch())

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._epoch_start and not self._train_seconds:
            self._train_seconds = time.perf_counter() - self._epoch_start

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        seconds = time.perf_counter() - self._epoch_start
        train_seconds = self._train_seconds or seconds
        row: dict[str, float | None] = {"epoch": epoch + 1}
        row.update({key: float(value) for key, value in (logs or {}).items()})
        row["seconds"] = seconds
        row["train_images_per_s"] = self.batch_images() / train_seconds if train_seconds else None
        row["data_epoch"] = self._data_epoch
        state = self.state
        value = row.get(self.monitor, row.get(self.monitor.removeprefix("val_")))
        improved = False
        if value is None or not math.isfinite(value):
            state["diverged"] = True
            self.model.stop_training = True
        elif state["best_value"] is None or value < state["best_value"]:
            state["best_value"], state["best_epoch"], state["wait"] = value, epoch + 1, 0
            improved = True
        else:
            state["wait"] += 1
            if state["wait"] >= self.patience:
                state["stopped_early"] = True
                self.model.stop_training = True
        state["epoch"] = epoch + 1
        state["optimizer_iterations"] = int(_to_numpy(self.trainer.optimizer.iterations))
        state["seconds"] += seconds
        state["history"].append(row)
        if improved:
            self.best_weights = [np.array(w) for w in self.trainer.network.get_weights()]
        if self.folder is None:
            return
        if improved:
            best = f"best-epoch{epoch + 1:05d}.npz"
            _save_arrays(self.folder / best, _variable_arrays("w", self.trainer.network.weights))
            state["best_file"] = best
        arrays = _variable_arrays("w", self.trainer.network.weights)
        arrays.update(_variable_arrays("o", self.trainer.optimizer.variables))
        arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
        _save_arrays(self.folder / _CHECKPOINT, arrays)
        _write_history_csv(self.folder / _HISTORY, state["history"])
        for stale in self.folder.glob("best-epoch*.npz"):
            if stale.name != state.get("best_file"):
                stale.unlink(missing_ok=True)


class _Batches(keras.utils.PyDataset):
    """The first ``steps`` batches of a dataset as an epoch (same epoch bookkeeping)."""

    def __init__(self, dataset: Any, steps: int | None, *, copy: bool = False):
        super().__init__(
            workers=dataset.workers,
            use_multiprocessing=dataset.use_multiprocessing,
            max_queue_size=dataset.max_queue_size,
        )
        self.dataset = dataset
        self.steps = len(dataset) if steps is None else min(int(steps), len(dataset))
        self.copy = bool(copy)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        batch = self.dataset[index]
        if not self.copy:
            return batch
        # Fresh arrays: a batch the dataset keeps (validation cache) must not be shared
        # with the input pipeline, which over several workers was seen to spoil it.
        return tuple(
            {key: np.array(value) for key, value in part.items()}
            if isinstance(part, Mapping)
            else np.array(part)
            for part in batch
        )

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def on_epoch_begin(self) -> None:
        self.dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.dataset.on_epoch_end()


@dataclass
class FitResult:
    """What `fit_network` returns.

    Attributes
    ----------
    network : keras.Model
        The network with the best epoch's weights (lowest monitored value).
    history : pandas.DataFrame
        One row per completed epoch (over all runs): ``epoch`` (from 1), the training
        metrics, the ``val_`` ones, ``seconds`` and ``train_images_per_s``.
    best_epoch : int or None
    best_value : float or None
    epochs : int
        Completed epochs.
    stopped_early, diverged : bool
    resumed_from : int
        The epoch this run started from (0: a fresh run).
    seconds : float
        Wall time of all epochs over all runs.
    replicas : int
        Devices the batches were split over.
    """

    network: keras.Model
    history: Any
    best_epoch: int | None
    best_value: float | None
    epochs: int
    stopped_early: bool
    diverged: bool
    resumed_from: int
    seconds: float
    replicas: int

    @property
    def images_per_second(self) -> float | None:
        """Median training throughput over the epochs (training part, images per second)."""
        if self.history is None or "train_images_per_s" not in self.history:
            return None
        values = self.history["train_images_per_s"].dropna()
        return float(values.median()) if len(values) else None


def compile_trainer(
    network: keras.Model,
    hyper: HyperParameters,
    *,
    run_eagerly: bool = False,
    jit_compile: bool | str = "auto",
    replicas: int = 1,
) -> MultiTaskTrainer:
    """A compiled `MultiTaskTrainer` around ``network``, its optimizer built: what
    `fit_network` trains (and `benchmarks/gpu.py` times).

    The optimizer is ``hyper``'s (`make_optimizer`), wrapped in
    ``keras.optimizers.LossScaleOptimizer`` when the network has ``mixed_float16`` layers
    (``ModelConfig.precision``). ``jit_compile`` as in `fit_network`; with ``replicas`` > 1
    (a tf.distribute strategy) or on PyTorch it is Keras' "auto". Call it inside the
    strategy's scope.
    """
    trainer = MultiTaskTrainer(
        network, alpha=hyper.alpha, deltas=hyper.deltas, fidelity=hyper.fidelity
    )
    optimizer = make_optimizer(hyper.optimizer, hyper.learning_rate)
    if any(layer.dtype_policy.name == "mixed_float16" for layer in network.layers):
        # float16's range is narrow: scale the loss against gradient underflow.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    if run_eagerly:
        compiled: bool | str = False
    elif int(replicas) > 1 or keras.backend.backend() == "torch":
        # Keras leaves XLA off under tf.distribute, and torch.compile off on PyTorch
        # ("auto"); so do we.
        compiled = "auto"
    else:
        compiled = jit_compile
    trainer.compile(
        optimizer=optimizer,
        run_eagerly=bool(run_eagerly),
        jit_compile=compiled,
        auto_scale_loss=False,  # decided above, from the network's layers
    )
    trainer.optimizer.build(network.trainable_variables)
    return trainer


def fit_network(
    build: Callable[[], keras.Model],
    train: Any,
    validation: Any | None,
    *,
    hyper: HyperParameters,
    max_epochs: int,
    patience: int,
    steps_per_epoch: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    strategy: Any = None,
    monitor: str = "val_mse",
    verbose: str | int = "auto",
    callbacks: Iterable[keras.callbacks.Callback] = (),
    run_eagerly: bool = False,
    jit_compile: bool | str = "auto",
) -> FitResult:
    """Train a network with early stopping, resuming from ``checkpoint_dir`` if it holds a run.

    Parameters
    ----------
    build : callable
        Returns a fresh network (`mtmri_lib.models.build_model`); called inside the
        distribution strategy's scope.
    train, validation : ArtefactDataset
        Training batches (new corruptions each epoch) and fixed validation batches. The
        training dataset's epoch is set to the epoch training resumes from.
    hyper : HyperParameters
    max_epochs, patience : int
        Stop after ``max_epochs`` epochs, or after ``patience`` epochs without a lower
        ``monitor`` (the best epoch's weights are restored).
    steps_per_epoch : int or None
        Batches per epoch (the first ones of each epoch); None: all.
    checkpoint_dir : path or None
        Where the checkpoint and ``history.csv`` are written after every epoch; None: no
        checkpoints. Over several workers only the chief writes there (the others write
        to a scratch folder, removed at the end), and every worker resumes from it, so it
        must lie on a file system they all see.
    strategy : tf.distribute.Strategy or None
        None: `distribution_strategy` (one device on the JAX and PyTorch backends).
    monitor : str
        The logged value early stopping minimises (``val_mse``; ``mse`` without validation).
    verbose : "auto", 0, 1 or 2
        Keras' progress display (2: one line per epoch, best in notebooks).
    callbacks : iterable
        More Keras callbacks.
    run_eagerly : bool
        Keras' eager mode (no tracing; for tiny runs).
    jit_compile : bool or "auto"
        XLA compilation of the training and validation steps (Keras' ``compile`` argument;
        TensorFlow and JAX; on PyTorch Keras' "auto", which leaves torch.compile off).

    Notes
    -----
    Under a strategy with more than one replica the network's batch normalisations use
    the statistics of the global batch (``synchronized``), switched off again on the
    returned network (inference is the same; the saved file loads on every backend).
    Each batch of ``train`` is the global batch: Keras splits it over the replicas (over
    several workers each one draws every batch, identical on all of them, and keeps its
    share), and the loss is divided by the number of replicas, so one update over N
    workers is the update of one worker on the same batch. The batch size must then be a
    multiple of the number of replicas.

    A network with ``mixed_float16`` layers (``ModelConfig.precision``) trains with its
    optimizer wrapped in ``keras.optimizers.LossScaleOptimizer`` (dynamic loss scaling);
    the loss itself is computed in float32.
    """
    import pandas as pd

    if int(max_epochs) < 1 or int(patience) < 1:
        raise ValueError(f"max_epochs and patience must be >= 1; got {max_epochs}, {patience}")
    strategy = distribution_strategy() if strategy is None else strategy
    multi_worker = _is_multi_worker(strategy)
    folder = None if checkpoint_dir is None else Path(checkpoint_dir)
    # Every worker reads the checkpoint to resume; only the chief writes it. The others run
    # the same steps (reading some variables is a collective) into a scratch folder.
    scratch = None
    write_folder = folder
    if folder is not None and multi_worker and not worker_task().is_chief:
        scratch = tempfile.TemporaryDirectory(prefix="mtmri-worker-")
        write_folder = Path(scratch.name)
    if validation is None and monitor.startswith("val_"):
        monitor = monitor.removeprefix("val_")
    with strategy.scope():
        network = build()
        synchronized = strategy.num_replicas_in_sync > 1
        if synchronized:
            _set_batch_norm_synchronized(network, True)
        trainer = compile_trainer(
            network,
            hyper,
            run_eagerly=run_eagerly,
            jit_compile=jit_compile,
            replicas=strategy.num_replicas_in_sync,
        )
    state: dict[str, Any] = {
        "epoch": 0,
        "history": [],
        "best_value": None,
        "best_epoch": None,
        "best_file": None,
        "wait": 0,
        "stopped_early": False,
        "diverged": False,
        "seconds": 0.0,
        "runs": [],
    }
    best_weights = None
    if folder is not None and (folder / _CHECKPOINT).exists():
        with _open_checkpoint(folder / _CHECKPOINT) as stored:
            state = json.loads(bytes(stored["state"]).decode())
            _assign("w", network.weights, stored, "network")
            _assign("o", trainer.optimizer.variables, stored, "optimizer")
        if state.get("best_file") and (folder / state["best_file"]).exists():
            with _open_checkpoint(folder / state["best_file"]) as stored:
                best_weights = [stored[k] for k in sorted(stored.files)]
    replicas = int(strategy.num_replicas_in_sync)
    batch_size = getattr(getattr(train, "generator", None), "batch_size", None)
    if replicas > 1 and isinstance(batch_size, int) and batch_size % replicas:
        raise ValueError(
            f"the global batch of {batch_size} images does not split evenly over "
            f"{replicas} replicas; use a multiple of {replicas}"
        )
    start = int(state["epoch"])
    if multi_worker:
        _same_on_every_worker(strategy, start, "the epoch to resume from")
    finished = state["stopped_early"] or state["diverged"] or start >= int(max_epochs)
    train = _Batches(train, steps_per_epoch)
    if multi_worker and validation is not None:
        validation = _Batches(validation, None, copy=True)
    checkpointing = _Checkpointing(
        trainer,
        state,
        folder=write_folder,
        monitor=monitor,
        patience=patience,
        batch_images=lambda: _epoch_images(train),
        data_epoch=lambda: train.dataset.epoch,
    )
    if finished:
        if verbose:
            print(f"{folder}: training already finished after epoch {start}; not resumed")
    else:
        if verbose and start:
            print(f"{folder}: resuming after epoch {start} of at most {max_epochs}")
        state["runs"].append(start)
        train.set_epoch(start)
        trainer.fit(
            train,
            validation_data=validation,
            epochs=int(max_epochs),
            initial_epoch=start,
            shuffle=False,
            verbose=verbose,
            callbacks=[checkpointing, *callbacks],
        )
        if checkpointing.best_weights is not None:
            best_weights = checkpointing.best_weights
    if best_weights is not None:
        network.set_weights(best_weights)
    if synchronized:
        _set_batch_norm_synchronized(network, False)
    if scratch is not None:
        scratch.cleanup()
    history = pd.DataFrame(state["history"])
    return FitResult(
        network=network,
        history=history,
        best_epoch=state["best_epoch"],
        best_value=state["best_value"],
        epochs=int(state["epoch"]),
        stopped_early=bool(state["stopped_early"]),
        diverged=bool(state["diverged"]),
        resumed_from=start,
        seconds=float(state["seconds"]),
        replicas=int(strategy.num_replicas_in_sync),
    )


def _epoch_images(batches: _Batches) -> int:
    """Training images in one epoch of ``batches``."""
    generator = batches.dataset.generator
    n = len(generator.clean)
    full = batches.steps * generator.batch_size
    if batches.steps < generator.n_batches:
        return full
    return n if not generator.drop_last else generator.n_batches * generator.batch_size


def fit_model(
    config: ModelConfig,
    tasks: Sequence[str],
    train: Any,
    validation: Any | None,
    *,
    hyper: HyperParameters,
    seed: int,
    settings: TrainingSettings,
    checkpoint_dir: str | os.PathLike,
    search: bool = False,
    verbose: str | int = "auto",
    strategy: Any = None,
) -> FitResult:
    """`fit_network` on a fresh network of ``config`` with the heads ``tasks``, seeded.

    Seeds Python's, numpy's and TensorFlow's global generators with ``seed`` first
    (`mtmri_lib.models.set_global_seed`: what a training entry point must do for a
    reproducible run) and builds the network from the same seed. The epoch budget is the
    training's (``max_epochs``, ``patience``, ``steps_per_epoch`` of ``settings``) or, with
    ``search``, a search trial's (``search_max_epochs``, ...); the step runs eagerly or under
    XLA as ``settings`` says. The models' trainings and the search's trials both train
    through here.
    """
    # The strategy first: a multi-worker one must exist before TensorFlow does other work.
    strategy = distribution_strategy() if strategy is None else strategy
    set_global_seed(seed)
    if search:
        budget = (settings.search_max_epochs, settings.search_patience)
        steps = settings.search_steps_per_epoch
    else:
        budget, steps = (settings.max_epochs, settings.patience), settings.steps_per_epoch
    return fit_network(
        lambda: build_model(config, tasks=tasks, seed=seed),
        train,
        validation,
        hyper=hyper,
        max_epochs=budget[0],
        patience=budget[1],
        steps_per_epoch=steps,
        checkpoint_dir=checkpoint_dir,
        strategy=strategy,
        verbose=verbose,
        run_eagerly=settings.run_eagerly,
        jit_compile=settings.jit_compile,
    )
