#!/usr/bin/env bash
# Build Horovod 0.28.1 (the last release) with PyTorch + gloo support into the project's .venv.
#
# Horovod 0.28.1 does not build as published against current torch: torch's headers need C++17
# ("#error C++17 or later compatible compiler is required to use PyTorch"). Raising the standard in
# horovod/torch/CMakeLists.txt alone then fails at link time (duplicate
# gloo::rendezvous::Store::kDefaultTimeout, the gloo objects being built as C++14); setting
# CMAKE_CXX_STANDARD 17 in BOTH the top-level and the PyTorch CMakeLists.txt builds.
# Takes 4-6 minutes on 2 cores and needs cmake, g++ and the Python headers.
#
# The built wheel is kept in $TURBOYOLO_WHEELS (default ~/.cache/turboyolo/wheels): a second run,
# and `make setup`/`make test` on this machine (a fresh .venv in a fresh clone, as CI makes), install
# it in seconds, so the Horovod tests run wherever it was built once.
#
#   scripts/install_horovod.sh            # then: horovodrun -np 2 -H localhost:2 --gloo python -m turboyolo train engine=horovod ...
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$REPO_ROOT/.venv/bin/python}
VERSION=0.28.1
WHEELS=${TURBOYOLO_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/turboyolo/wheels}
mkdir -p "$WHEELS"

if ls "$WHEELS"/horovod-"$VERSION"-*.whl >/dev/null 2>&1 \
        && "$PYTHON" -m pip install --quiet --find-links "$WHEELS" --only-binary horovod "horovod==$VERSION"; then
    "$PYTHON" -c "import horovod.torch as hvd; print('horovod (cached wheel) gloo built:', hvd.gloo_built())" && exit 0
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$PYTHON" -m pip install --quiet cmake packaging setuptools wheel   # what the horovod build needs
"$PYTHON" -m pip download --no-deps --no-binary :all: "horovod==$VERSION" -d "$WORK"
tar -xzf "$WORK/horovod-$VERSION.tar.gz" -C "$WORK"
SRC="$WORK/horovod-$VERSION"

# 0.28.1 has `set(CMAKE_CXX_STANDARD 14)` at line 19 of the top-level file and inside an
# `if(NOT Pytorch_VERSION VERSION_LESS "1.5.0")` block of horovod/torch/CMakeLists.txt.
for cmakelists in "$SRC/CMakeLists.txt" "$SRC/horovod/torch/CMakeLists.txt"; do
    sed -i -E 's/set\(CMAKE_CXX_STANDARD 1[14]\)/set(CMAKE_CXX_STANDARD 17)/' "$cmakelists"
    if grep -qE 'set\(CMAKE_CXX_STANDARD 1[14]\)' "$cmakelists" || ! grep -q 'set(CMAKE_CXX_STANDARD 17)' "$cmakelists"; then
        echo "install_horovod.sh: could not set C++17 in $cmakelists (unexpected horovod source)" >&2
        exit 1
    fi
done

export HOROVOD_WITH_PYTORCH=1 HOROVOD_WITH_GLOO=1
export HOROVOD_WITHOUT_MPI=1 HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_MXNET=1
export MAKEFLAGS="-j$(nproc)"
"$PYTHON" -m pip wheel --no-deps --no-build-isolation --no-cache-dir -w "$WHEELS" "$SRC"
"$PYTHON" -m pip install --find-links "$WHEELS" --only-binary horovod "horovod==$VERSION"

"$PYTHON" -c "import horovod.torch as hvd; print('horovod', hvd.__version__ if hasattr(hvd, '__version__') else '', 'gloo built:', hvd.gloo_built())"
