#!/usr/bin/env bash
# Set up a Python environment for one role, from nothing, on Debian/Ubuntu (idempotent).
#
#   bash scripts/setup.sh train    # workstation / CPU laptop: training + export (torch, mujoco, onnx)
#   bash scripts/setup.sh deploy   # robot onboard computer: numpy, onnxruntime, CycloneDDS, SDK only
#   bash scripts/setup.sh dev      # everything + test tools (what the tests and CI need)
#   bash scripts/setup.sh isaaclab-cfg   # CI tier: the real isaaclab==3.0.0 wheel on this CPU
#   bash scripts/setup.sh isaaclab-sim   # CI tier: the same + Newton on Warp's CPU (kit-less envs)
#
# The environment lives in $VENV (default .venv; .venv-isaaclab for isaaclab-cfg,
# .venv-isaaclab-sim for isaaclab-sim). A torch that is
# already installed (IsaacLab pins its own) is kept; otherwise torch==2.13.0 is installed, which on
# CPU machines is a local wheel.
#
# isaaclab-cfg is not an IsaacLab install for training (README: Install, IsaacLab): it is what this
# CPU can hold of one, to test our adapter against IsaacLab's real code. The wheel wants Python 3.12
# and the CUDA torch 2.11, so it goes in --no-deps --ignore-requires-python beside the CPU torch,
# with the few packages its config layer imports, and mujoco 3.12 as Newton pins it (so the MuJoCo
# side is tested without mujoco.batch). No Isaac Sim, Newton or robot assets: envs are not built.
# isaaclab-sim adds Newton 1.6 (MuJoCo-Warp, on Warp's CPU device), the MJCF-to-USD converter and
# the runtime packages IsaacLab's env classes import (measured), so kit-less IsaacLab envs are
# built and stepped here with Menagerie's robots converted to USD (no NVIDIA assets).
# The deploy role needs root or sudo once, to apt-get install the CycloneDDS C library.
set -euo pipefail

ROLE="${1:-dev}"
TORCH_PIN="torch==2.13.0"
ISAACLAB_PIN="isaaclab==3.0.0"
# What isaaclab / isaaclab_tasks import to register tasks and resolve configs (measured), plus
# the MuJoCo that Newton 1.6 pins (mujoco ~=3.12).
ISAACLAB_CFG_DEPS=("warp-lang==1.17.0" "mujoco==3.12.*" gymnasium hydra-core lazy_loader
  prettytable toml rich)
ISAACLAB_SIM_DEPS=("newton[sim]==1.6.1" "mujoco-usd-converter==0.6.1" trimesh scipy numba psutil
  einops requests pillow botocore)
cd "$(dirname "$0")/.."

case "$ROLE" in
  train) EXTRAS="train,export" ;;
  deploy) EXTRAS="deploy" ;;
  dev) EXTRAS="train,export,deploy,dev" ;;
  isaaclab-cfg | isaaclab-sim) EXTRAS="train,export,deploy,dev" ;;
  *)
    echo "setup.sh: error: unknown role '$ROLE'; choose train, deploy, dev, isaaclab-cfg or isaaclab-sim" >&2
    exit 2
    ;;
esac
case "$ROLE" in
  isaaclab-cfg) VENV="${VENV:-.venv-isaaclab}" ;;
  isaaclab-sim) VENV="${VENV:-.venv-isaaclab-sim}" ;;
  *) VENV="${VENV:-.venv}" ;;
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
# JetPack's onnxruntime-gpu (NVIDIA's Jetson wheel, installed for the system Python) is used when
# the deploy role finds it: the venv then sees the system's site-packages, and PyPI's CPU
# onnxruntime, which has the same module name, is not installed over it.
jetpack_ort() {
  "$PYTHON" -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())" >/dev/null 2>&1
}
GPU_ORT=0
if [ "$ROLE" = deploy ] && jetpack_ort; then
  GPU_ORT=1
  echo "setup.sh: using the system's onnxruntime with CUDA (JetPack) for the policy"
fi
if [ ! -x "$VENV/bin/python" ]; then
  if [ "$GPU_ORT" = 1 ]; then "$PYTHON" -m venv --system-site-packages "$VENV"; else "$PYTHON" -m venv "$VENV"; fi
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
PY="$VENV/bin/python"

# The requirements of the package and of one extra as pyproject.toml states them, less onnxruntime
# (for the JetPack case above). Plain regexes: Python 3.8 has no tomllib.
requirements_without_ort() {
  "$PY" - "$1" <<'EOF_PY'
import re
import sys

text = open("pyproject.toml").read()
blocks = [re.search(r"^dependencies = \[(.*?)\]", text, re.M | re.S).group(1)]
blocks.append(re.search(r"^%s = \[(.*?)\]" % sys.argv[1], text, re.M | re.S).group(1))
for block in blocks:
    for req in re.findall(r'"([^"]+)"', block):
        if not re.match(r"onnxruntime\b", req):
            print(req)
EOF_PY
}

if [ "$ROLE" != deploy ] && ! "$PY" -c "import torch" >/dev/null 2>&1; then
  "$PY" -m pip install -q "$TORCH_PIN"
fi
if [ "$ROLE" != train ]; then
  PYTHON="$PY" bash scripts/install_dds.sh  # CycloneDDS 0.10.2 built from source + SDK, no deps
fi
if [ "$ROLE" = isaaclab-cfg ] || [ "$ROLE" = isaaclab-sim ]; then
  sim_deps=()
  [ "$ROLE" = isaaclab-sim ] && sim_deps=("${ISAACLAB_SIM_DEPS[@]}")
  # mujoco 3.12 in the same resolve as our extras, so `mujoco>=3.3` does not pull 4.x.
  "$PY" -m pip install -q -e ".[$EXTRAS]" "${ISAACLAB_CFG_DEPS[@]}" "${sim_deps[@]}"
  # Last, so no later resolve trips over the pins it declares (torch 2.11, Python 3.12, ...).
  "$PY" -m pip install -q --no-deps --ignore-requires-python "$ISAACLAB_PIN"
elif [ "$GPU_ORT" = 1 ]; then
  mapfile -t reqs < <(requirements_without_ort deploy)
  "$PY" -m pip install -q "${reqs[@]}"
  "$PY" -m pip install -q --no-deps -e .
else
  "$PY" -m pip install -q -e ".[$EXTRAS]"
fi
if [ "$ROLE" = deploy ]; then
  # Self-check that sends nothing: the shipped policy and its golden vectors on this runtime, the
  # inference budget, the DDS interface (set GENPO_ROBOT / GENPO_IP on the robot's network).
  where=(--iface lo)
  [ -n "${GENPO_IP:-}" ] && where=(--ip "$GENPO_IP")
  "$VENV/bin/genpo-deploy" --robot "${GENPO_ROBOT:-go2}" --check "${where[@]}"
fi
echo "setup.sh: '$ROLE' environment ready in $VENV"
