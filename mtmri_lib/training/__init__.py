"""Training the article's models, in four parts along its seams.

- `specs`: hyper-parameters (`HyperParameters`, Table 2's values) and the training settings
  of a profile (`TrainingSettings`).
- `fit`: the training step, early stopping and checkpoints that resume (`fit_network`).
- `datasets`: the data folders and artefact datasets a model trains and validates on.
- `runs`: training or reusing each of the seven models on a run's data (`train_models`).
- `search`: the Bayesian hyper-parameter search (`run_searches`).

Loading and applying trained models is `mtmri_lib.inference`, outside this package.
"""

from ..data import DataSources, data_sources
from .datasets import model_datasets
from .fit import (
    FitResult,
    MultiTaskTrainer,
    WorkerTask,
    configure_logical_cpus,
    distribution_strategy,
    fit_network,
    read_checkpoint_state,
    tf_config_from_slurm,
    worker_task,
)
from .runs import (
    input_validation_mse,
    model_path,
    train_model,
    train_models,
    training_hyperparameters,
)
from .search import (
    ChiefUnavailableError,
    SearchResult,
    best_hyperparameters,
    run_search,
    run_searches,
    search_role,
    search_space,
)
from .specs import (
    ARTICLE_HYPERPARAMETERS,
    OPTIMIZERS,
    TRAINING_SETTINGS,
    HyperParameters,
    TrainingSettings,
    default_hyperparameters,
    make_optimizer,
    training_settings,
)

__all__ = [
    "ARTICLE_HYPERPARAMETERS",
    "OPTIMIZERS",
    "TRAINING_SETTINGS",
    "HyperParameters",
    "TrainingSettings",
    "default_hyperparameters",
    "make_optimizer",
    "training_settings",
    "FitResult",
    "MultiTaskTrainer",
    "configure_logical_cpus",
    "distribution_strategy",
    "WorkerTask",
    "worker_task",
    "tf_config_from_slurm",
    "fit_network",
    "read_checkpoint_state",
    "DataSources",
    "data_sources",
    "input_validation_mse",
    "model_path",
    "train_model",
    "train_models",
    "training_hyperparameters",
    "model_datasets",
    "SearchResult",
    "best_hyperparameters",
    "run_search",
    "run_searches",
    "search_space",
    "ChiefUnavailableError",
    "search_role",
]
