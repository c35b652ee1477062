#!/usr/bin/env bash
# The robot-side tier (issue 17): a fresh Python 3.8 venv (.venv38) with only the deploy extra
# (+ test tools), the robot-side tests run there (`-m robot_side`, tests/conftest.py) against
# genpo-sim and test artifacts from the main venv (.venv, 3.10+), and the aarch64 / cp38 wheel set
# of the robot's dependencies resolved. Run by scripts/test.sh after the main suite.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV38="${VENV38:-.venv38}"

find_py38() {
  local candidate
  if command -v pyenv >/dev/null 2>&1; then
    candidate="$(pyenv root)/versions/$(pyenv versions --bare 2>/dev/null | grep -E '^3\.8\.' | tail -1)/bin/python"
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  fi
  for candidate in python3.8 "$HOME/.pyenv/versions/3.8.18/bin/python"; do
    command -v "$candidate" >/dev/null 2>&1 && { command -v "$candidate"; return; }
  done
  return 1
}

PY38="$(find_py38)" || {
  echo "test_py38.sh: error: no Python 3.8 found (pyenv install 3.8.18, or put python3.8 on PATH)" >&2
  exit 1
}
rm -rf "$VENV38"
"$PY38" -m venv "$VENV38"
"$VENV38/bin/python" -m pip install -q --upgrade pip
# cyclonedds 0.10.2 has a cp38 x86_64 wheel; the SDK goes in with --no-deps (install_dds.sh).
"$VENV38/bin/python" -m pip install -q ".[deploy]" pytest pytest-timeout hypothesis "onnx<1.18"
PYTHON="$VENV38/bin/python" bash scripts/install_dds.sh
if "$VENV38/bin/python" -c "import torch" 2>/dev/null || "$VENV38/bin/python" -c "import mujoco" 2>/dev/null; then
  echo "test_py38.sh: error: the deploy extra pulled torch or mujoco on Python 3.8" >&2
  exit 1
fi
# Installed (not editable) above to prove the metadata installs; the tests import this checkout.
# Flush the installs' dirty pages first: the DDS walks that follow are real-time and write flight
# logs, and a write throttled behind a venv's writeback stalls the daemon into policy_stale.
sync
GENPO_MAIN_PYTHON="$PWD/.venv/bin/python" PYTHONPATH="$PWD" \
  "$VENV38/bin/python" -m pytest -p no:cacheprovider -m "robot_side and not gpu and not hardware and not bench and not slow" "$@"

# The robot's aarch64 / cp38 wheel set: a dependency losing its wheel must be noticed here.
# (JetPack 5 is glibc 2.31; onnxruntime's aarch64 wheels are manylinux_2_27.) cyclonedds has no aarch64 wheel: it builds against the C library (scripts/setup.sh deploy).
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
for req in "numpy==1.24.4" "pyyaml>=6" "onnxruntime>=1.18" "mcap>=1.1" "unitree-sdk2py-dimos==1.0.3"; do
  "$VENV38/bin/python" -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_aarch64 \
    --platform manylinux_2_27_aarch64 --python-version 38 --implementation cp --dest "$wheels" "$req" || {
    echo "test_py38.sh: error: no aarch64 cp38 wheel for $req (the Go2 Jetson install would break)" >&2
    exit 1
  }
done
echo "test_py38.sh: aarch64/cp38 wheels resolve: $(cd "$wheels" && ls | tr '\n' ' ')"
