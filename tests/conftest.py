"""Session-wide test setup: offline robot models, a repo-relative working directory, and the
robot-side tier."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_OFFLINE_MODELS = REPO.parent / "shared" / "menagerie"

# Tests and CI never download models: point mujoco-menagerie at the offline copies in shared/.
if "MENAGERIE_ROOT" not in os.environ and _OFFLINE_MODELS.is_dir():
    os.environ["MENAGERIE_ROOT"] = str(_OFFLINE_MODELS)

# The robot-side tier (scripts/test.sh runs `-m robot_side` on Python 3.8 with the deploy extra
# only): every test under ROBOT_SIDE is marked robot_side; tests in MIXED carry the mark one by
# one. Below Python 3.10 nothing else is collected: the rest needs torch or mujoco.
ROBOT_SIDE = ("tests/test_layers.py", "tests/common/test_cli.py", "tests/common/test_compat.py",
              "tests/common/test_config.py",
              "tests/robots/test_contract.py", "tests/robots/test_frames.py",
              "tests/robots/test_observations.py", "tests/robots/test_policy_graph.py",
              "tests/safety", "tests/deploy_io",
              "tests/deploy/test_deploy_units.py", "tests/deploy/test_loops.py")  # fmt: skip
MIXED = ("tests/deploy/test_deploy_e2e.py",)


def _under(path: Path, roots: tuple[str, ...]) -> bool:
    rel = path.resolve().relative_to(REPO).as_posix()
    return any(rel == r or rel.startswith(r + "/") for r in roots)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if sys.version_info >= (3, 10) or _under(collection_path, ROBOT_SIDE + MIXED):
        return None
    if collection_path.is_dir():  # keep folders that hold robot-side tests
        rel = collection_path.resolve().relative_to(REPO).as_posix()
        return not any(r.startswith(rel + "/") for r in ROBOT_SIDE + MIXED)
    return collection_path.name.startswith("test_")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _under(item.path, ROBOT_SIDE):
            item.add_marker(pytest.mark.robot_side)
