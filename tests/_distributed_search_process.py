"""One process of a distributed scored search (tests/test_distributed_search.py): the chief or
a worker, as keras-tuner's variables say. Trials are scored by a formula of their
hyper-parameters (no training); each run of a trial appends a line (its folder) to the
marker file, then takes ``seconds`` seconds.

Usage: python _distributed_search_process.py OUTPUT_DIR SEED TRIALS SECONDS MARKER_FILE
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from mtmri_lib import training as T
from mtmri_lib.training import search as S


def main(output_dir: Path, seed: int, trials: int, seconds: float, marker: Path) -> None:
    def scored(*args, hyper, checkpoint_dir, **kwargs):
        with marker.open("a") as runs:
            runs.write(Path(checkpoint_dir).parent.name + "\n")
        time.sleep(seconds)
        value = (math.log10(hyper.learning_rate) + 4.5) ** 2 / 10 + (hyper.alpha - 0.3) ** 2
        return SimpleNamespace(best_value=value, diverged=False)

    S.fit_model = scored
    settings = T.training_settings("smoke").with_(search_initial_points={"MT": 2})
    result = S.run_search(
        "MT", "smoke", output_dir=output_dir, seed=seed, settings=settings, trials=trials
    )
    print("RESULT " + json.dumps({"role": result.role, "project": str(result.project)}))


if __name__ == "__main__":
    folder, seed, trials, seconds, marker = sys.argv[1:6]
    main(Path(folder), int(seed), int(trials), float(seconds), Path(marker))
