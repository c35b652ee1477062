#!/usr/bin/env bash
# Set up a Python environment for one role, from nothing, on Debian/Ubuntu (idempotent).
#
#   bash scripts/setup.sh train    # workstation / CPU laptop: training + export (torch, mujoco, onnx)
#   bash scripts/setup.sh deploy   # robot onboard computer: numpy, onnxruntime, CycloneDDS, SDK only
#   bash scripts/setup.sh dev      # everything + test tools (what the tests and CI need)
#
# The environment lives in $VENV (default .venv). A torch that is already installed (IsaacLab pins
# its own) is kept; otherwise torch==2.13.0 is installed, which on CPU machines is a local wheel.
# The deploy role needs root or sudo once, to apt-get install the CycloneDDS C library.
set -euo pipefail

ROLE="${1:-dev}"
VENV="${VENV:-.venv}"
TORCH_PIN="torch==2.13.0"
cd "$(dirname "$0")/.."

case "$ROLE" in
  train) EXTRAS="train,export" ;;
  deploy) EXTRAS="deploy" ;;
  dev) EXTRAS="train,export,deploy,dev" ;;
  *) echo "setup.sh: error: unknown role '$ROLE'; choose train, deploy or dev" >&2; exit 2 ;;
esac

# The interpreter: $PYTHON, else python3. The deploy role runs on 3.8 (Go2 EDU Jetson as shipped)
# and 3.10-3.12; the other roles need 3.10+.
PYTHON="${PYTHON:-python3}"
need="3.10"
[ "$ROLE" = deploy ] && need="3.8"
if ! "$PYTHON" -c "import sys; sys.exit(sys.version_info[:2] < tuple(map(int, '$need'.split('.'))))"; then
  echo "setup.sh: error: the '$ROLE' role needs Python $need or newer; $PYTHON is $("$PYTHON" -V 2>&1)" >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
PY="$VENV/bin/python"

if [ "$ROLE" != deploy ] && ! "$PY" -c "import torch" >/dev/null 2>&1; then
  "$PY" -m pip install -q "$TORCH_PIN"
fi
if [ "$ROLE" != train ]; then
  PYTHON="$PY" bash scripts/install_dds.sh  # CycloneDDS 0.10.2 built from source + SDK, no deps
fi
"$PY" -m pip install -q -e ".[$EXTRAS]"
if [ "$ROLE" = deploy ]; then
  # Self-check that sends nothing: the shipped policy and its golden vectors on this runtime, the
  # inference budget, the DDS interface (set GENPO_ROBOT / GENPO_IP on the robot's network).
  where=(--iface lo)
  [ -n "${GENPO_IP:-}" ] && where=(--ip "$GENPO_IP")
  "$VENV/bin/genpo-deploy" --robot "${GENPO_ROBOT:-go2}" --check "${where[@]}"
fi
echo "setup.sh: '$ROLE' environment ready in $VENV"
