#!/usr/bin/env bash
# The GPU benchmark (benchmarks/gpu.py) on a machine with JAX or PyTorch, no TensorFlow and
# no package index, such as this project's lent device (Python 3.12, PyTorch and JAX with
# CUDA preinstalled; see /work/.library/device/README.md and KINDS.md).
#
# What travels: the working tree (mtmri_lib is used from it through PYTHONPATH, not
# installed) and the wheels of what the device lacks on the benchmark's path, at the
# versions of requirements/lock.txt: keras and its two dependencies the device has not got
# (namex, pure Python; optree, a CPython 3.12 manylinux wheel), and keras-tuner with
# kt-legacy (pure Python; the search's import path). Everything else the path imports is
# already there: numpy, scipy, ml-dtypes, h5py, absl-py, rich, packaging, threadpoolctl
# (mtmri_lib.machine), grpcio, protobuf and requests. About 3 MB in all.
#
# 1. Here, once (pip with an index; .whl/ is git-ignored):
#        bash benchmarks/gpu_run.sh fetch
# 2. On the device, one run (the `run` tool: carry [".whl"], timeout_s 600):
#        bash benchmarks/gpu_run.sh device
#    It installs the wheels into /tmp/site (pip --no-index --no-deps --target), runs
#    benchmarks/gpu.py on JAX (KERAS_BACKEND overrides) within BUDGET seconds (default 420:
#    a measurement that starts near the end still has time to finish inside the 10-minute
#    command limit), and writes $OUT/gpu-<backend>.json. If the JAX run produced no
#    training figure at all (an import or start-up failure), it runs again on PyTorch with
#    the time that is left.
#
# PYTHON (default python3), WHEELS (.whl), SITE (/tmp/site), BUDGET and GPU_ARGS (more
# arguments for gpu.py) can be set; a local check of the device mode on a CPU:
#   PYTHON=.venv/bin/python SITE=/tmp/site-check JAX_PLATFORMS=cpu GPU_ARGS="--config smoke \
#     --batches 2 --steps 1 --warmup-steps 1 --precisions float32 --inference-batches 1" \
#     bash benchmarks/gpu_run.sh device
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/site}
NAMES=(keras keras-tuner kt-legacy namex optree)

pins() {
    for name in "${NAMES[@]}"; do
        pin=$(grep -i "^${name}==" requirements/lock.txt) || {
            echo "gpu_run.sh: ${name} is not pinned in requirements/lock.txt" >&2
            exit 2
        }
        echo "$pin"
    done
}

case "${1:-}" in
fetch)
    mapfile -t PINS < <(pins)
    mkdir -p "$WHEELS"
    "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 -d "$WHEELS" "${PINS[@]}"
    ls -l "$WHEELS"
    ;;
device)
    start=$SECONDS
    budget=${BUDGET:-420}
    out=${OUT:-.}
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "$WHEELS"/*.whl
    export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONUNBUFFERED=1
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    fi
    backend=${KERAS_BACKEND:-jax}
    status=0
    # GPU_ARGS: more arguments for gpu.py (a local check: --config smoke ...).
    # shellcheck disable=SC2086
    KERAS_BACKEND=$backend "$PY" benchmarks/gpu.py --budget "$budget" \
        --json "$out/gpu-$backend.json" ${GPU_ARGS:-} || status=$?
    if [ "$status" -ne 0 ] && [ -z "${KERAS_BACKEND:-}" ] \
        && ! grep -q images_per_s "$out/gpu-$backend.json" 2>/dev/null; then
        left=$((540 - (SECONDS - start)))
        if [ "$left" -gt 90 ]; then
            echo "gpu_run.sh: no training figure on $backend (status $status); torch, ${left} s"
            status=0
            # shellcheck disable=SC2086
            KERAS_BACKEND=torch "$PY" benchmarks/gpu.py --budget "$((left - 60))" \
                --json "$out/gpu-torch.json" ${GPU_ARGS:-} || status=$?
        fi
    fi
    echo "gpu_run.sh: done in $((SECONDS - start)) s, status $status"
    exit "$status"
    ;;
*)
    echo "usage: bash benchmarks/gpu_run.sh fetch|device" >&2
    exit 2
    ;;
esac
