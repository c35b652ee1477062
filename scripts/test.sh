#!/usr/bin/env bash
# The test command: set everything up on a fresh machine, then run the default (CPU) test suite.
#   bash scripts/test.sh [pytest args]
# Opt-in markers: -m gpu | isaaclab | hardware | bench | slow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: error: pytest collected no tests" >&2
  exit 1
fi
if [ "$status" -ne 0 ] || [ "$#" -ne 0 ]; then
  exit "$status"  # a failing or hand-picked run skips the Python 3.8 tier
fi
bash scripts/test_py38.sh  # the robot side on Python 3.8 with only the deploy extra
