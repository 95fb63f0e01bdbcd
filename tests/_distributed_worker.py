"""One worker of the multi-worker test: trains the smoke network a few steps, saves weights.

Usage: ``python -m tests._distributed_worker OUT.npz CHECKPOINT_DIR``; the cluster comes
from ``TF_CONFIG`` (unset or one worker: an ordinary single-process run). The data are
fixed: the same seeded artefact batches in every process, each batch the global batch.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from mtmri_lib import training as T

CACHE = 512 * 2**20  # the default: the validation batches are kept


def main(out: str, checkpoint_dir: str) -> None:
    import keras
    from scipy import ndimage

    from mtmri_lib.data.pipeline import ArtefactDataset
    from mtmri_lib.models import build_model, set_global_seed

    keras.config.disable_traceback_filtering()  # whole tracebacks in the test log
    strategy = T.distribution_strategy()  # first: before any other TensorFlow work
    rng = np.random.default_rng(0)
    clean = ndimage.gaussian_filter(rng.random((12, 32, 32)), (0, 2, 2))
    low = clean.min(axis=(1, 2), keepdims=True)
    clean = (clean - low) / (clean.max(axis=(1, 2), keepdims=True) - low)
    train = ArtefactDataset(clean[:8], batch_size=4, seed=3, shuffle=False)
    validation = ArtefactDataset(
        clean[8:], batch_size=4, seed=4, shuffle=False, vary_with_epoch=False, cache_bytes=CACHE
    )
    set_global_seed(0)
    result = T.fit_network(
        lambda: build_model("smoke", seed=0),
        train,
        validation,
        hyper=T.HyperParameters(optimizer="adam", learning_rate=1e-3, alpha=0.5),
        max_epochs=2,
        patience=10,
        steps_per_epoch=2,
        checkpoint_dir=checkpoint_dir,
        strategy=strategy,
        verbose=0,
        jit_compile=False,
    )
    weights = {w.path.replace("/", "|"): np.asarray(w) for w in result.network.weights}
    np.savez(out, **weights)
    synchronized = [
        layer.synchronized
        for layer in result.network.layers
        if type(layer).__name__ == "BatchNormalization"
    ]
    print(
        "RESULT",
        json.dumps(
            {
                "strategy": type(strategy).__name__,
                "replicas": result.replicas,
                "epochs": result.epochs,
                "chief": T.worker_task().is_chief,
                "any_synchronized": any(synchronized),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
