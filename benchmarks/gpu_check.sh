#!/usr/bin/env bash
# GPU check, under 8 minutes on a machine with python3, torch + CUDA, OpenCV and no network:
#   1. the pytest tests marked `gpu` (CUDA-event step timer, fp16 GradScaler, bf16, NCCL at world size 1,
#      SyncBatchNorm, pinned-memory loader, device=0 training);
#   2. BCCD training at 640 for a few epochs, compile=false then true (benchmarks/gpu_check.py):
#      images/s, MFU against the measured peak, data-wait share, phase split.
# Runs from the source tree (PYTHONPATH), installs nothing. Results go to $OUT (default benchmarks/results/).
# Without CUDA it says so: the gpu tests skip and the training part is skipped.
# pytest missing on the GPU machine? Put its pure-Python packages (pytest, _pytest, pluggy, iniconfig,
# packaging) into .gpu_deps/ in the checkout and carry it; this script puts that folder on the path.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
[ -d .gpu_deps ] && export PYTHONPATH="$PYTHONPATH:$PWD/.gpu_deps"
OUT=${OUT:-$PWD/benchmarks/results}
mkdir -p "$OUT"
export TURBOYOLO_CACHE=${TURBOYOLO_CACHE:-${TMPDIR:-/tmp}/turboyolo-gpu-check-cache}
started=$(date +%s)

"$PY" - <<'PYEOF'
import torch, turboyolo
print(f"turboyolo from {turboyolo.__file__}; torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"available: {torch.cuda.is_available()}" + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else
      " -> no CUDA device: gpu tests will skip and the GPU training check is skipped"))
PYEOF

tests_rc=0
if "$PY" -c "import pytest" 2>/dev/null; then
    timeout 120 "$PY" -m pytest -q -m gpu -rs -p no:cacheprovider tests 2>&1 | tee "$OUT/gpu_tests.txt"
    tests_rc=${PIPESTATUS[0]}
else
    echo "gpu_check: pytest is not installed here: gpu tests not run (see the header of this script)" | tee "$OUT/gpu_tests.txt"
fi

timeout 330 "$PY" benchmarks/gpu_check.py --out "$OUT" "$@"
bench_rc=$?
echo "gpu_check: tests rc=$tests_rc, training rc=$bench_rc, $(( $(date +%s) - started )) s in all"
[ "$tests_rc" -eq 0 ] || [ "$tests_rc" -eq 5 ] || exit "$tests_rc"
exit "$bench_rc"
