#!/usr/bin/env bash
# The JAX search benchmark on a GPU machine without TensorFlow or Keras:
# Linux x86-64, an NVIDIA GPU, Python 3.12 with JAX (CUDA) installed.
#
#   usage: benchmarks/gpu_check.sh [WHEELS_DIR]     (default: benchmarks/wheels)
#   env:   PYTHON (default python3), CONFIGS (default below), REPEATS (10), WARMUP (3),
#          STEP_TIMEOUT (seconds per config, default 150)
#
# It installs Keras and this package from the wheels in WHEELS_DIR into a
# temporary folder (pip install --no-index --no-deps --target; the wheels are
# unzipped where pip is missing), then runs benchmarks/search_speed.py
# --backend jax for each config and prints one JSON line per config:
# NB201 C=16 N=5 K=1, NB201 C=16 N=5 K=4 and DARTS C=16 8 cells K=4, batch 64.
# A config: "space:channels:cells_per_stage:num_cells:partial_channels:batch".
#
# The wheels (downloaded where the package registry is reachable; numpy and
# ml_dtypes come with JAX):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d benchmarks/wheels \
#       keras==3.15.1 absl-py==2.5.1 h5py==3.14.0 namex==0.1.0 optree==0.20.0 \
#       packaging==26.4 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 Pygments==2.21.0 typing_extensions==4.16.0
#   pip wheel --no-deps -w benchmarks/wheels .
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
WHEELS="${1:-$HERE/wheels}"
PYTHON="${PYTHON:-python3}"
CONFIGS="${CONFIGS:-nas-bench-201:16:5:8:1:64 nas-bench-201:16:5:8:4:64 darts:16:5:8:4:64}"
REPEATS="${REPEATS:-10}"
WARMUP="${WARMUP:-3}"
STEP_TIMEOUT="${STEP_TIMEOUT:-150}"

if [ "$#" -gt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
  exit 2
fi
shopt -s nullglob
wheels=("$WHEELS"/*.whl)
if [ "${#wheels[@]}" -eq 0 ]; then
  echo "gpu_check.sh: no wheels in $WHEELS; download them as the header of $0 says." >&2
  exit 2
fi
for name in keras keras_drnas; do
  matches=("$WHEELS"/"$name"-*.whl)
  if [ "${#matches[@]}" -eq 0 ]; then
    echo "gpu_check.sh: $WHEELS has no $name wheel; download them as the header of $0 says." >&2
    exit 2
  fi
done

TARGET="$(mktemp -d)"
trap 'rm -rf "$TARGET"' EXIT
if "$PYTHON" -m pip --version >/dev/null 2>&1; then
  "$PYTHON" -m pip install --quiet --no-index --no-deps --target "$TARGET" "${wheels[@]}"
else
  for wheel in "${wheels[@]}"; do "$PYTHON" -m zipfile -e "$wheel" "$TARGET"; done
fi
export PYTHONPATH="$TARGET${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3
"$PYTHON" -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)" >&2

status=0
for config in $CONFIGS; do
  IFS=: read -r space channels cells_per_stage num_cells partial_channels batch <<<"$config"
  if ! out="$(timeout "$STEP_TIMEOUT" "$PYTHON" "$HERE/search_speed.py" --backend jax --space "$space" \
      --channels "$channels" --cells-per-stage "$cells_per_stage" --num-cells "$num_cells" \
      --partial-channels "$partial_channels" --batch-size "$batch" --repeats "$REPEATS" --warmup "$WARMUP")"; then
    echo "{\"config\": \"$config\", \"error\": \"failed or timed out after $STEP_TIMEOUT s\"}"
    status=1
    continue
  fi
  "$PYTHON" -c 'import json, sys; print(json.dumps(json.loads(sys.stdin.read())))' <<<"$out"
done
exit "$status"
