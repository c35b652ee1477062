#!/usr/bin/env bash
# The test command: set everything up on a fresh machine, then run the tests.
#   bash scripts/test.sh               # default (CPU) suite, then the isaaclab_cfg and Python 3.8 tiers
#   bash scripts/test.sh [pytest args] # only pytest with these args, in the default venv
# Opt-in markers: -m gpu | isaaclab | hardware | bench | slow. The isaaclab_cfg tier runs in its
# own venv (.venv-isaaclab: the real isaaclab==3.0.0 wheel, mujoco 3.12; scripts/setup.sh), and the
# kit-less IsaacLab tests (-m isaaclab -k kitless: Newton on Warp's CPU) in .venv-isaaclab-sim.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .

run_pytest() {  # PYTHON, then pytest args; "no tests collected" is a failure
  local python="$1" status
  shift
  set +e
  "$python" -m pytest "$@"
  status=$?
  set -e
  if [ "$status" -eq 5 ]; then
    echo "test.sh: error: pytest collected no tests" >&2
    return 1
  fi
  return "$status"
}

if [ "$#" -gt 0 ]; then
  run_pytest .venv/bin/python "$@"
  exit $?
fi
status=0
run_pytest .venv/bin/python || status=$?
bash scripts/setup.sh isaaclab-cfg
run_pytest .venv-isaaclab/bin/python -m isaaclab_cfg tests/isaaclab_backend || status=$?
bash scripts/setup.sh isaaclab-sim
run_pytest .venv-isaaclab-sim/bin/python -m isaaclab -k kitless tests/isaaclab_backend || status=$?
bash scripts/test_py38.sh || status=$?  # the robot side on Python 3.8 with only the deploy extra
exit "$status"
