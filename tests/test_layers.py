"""The layer rules that let the robot run without torch (architecture.md)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO

ROBOT_SIDE = ("common", "robots", "safety", "deploy")


def _import_all(packages: tuple[str, ...], blocked: tuple[str, ...]) -> subprocess.CompletedProcess:
    """Import every module of `packages` in a fresh interpreter where `blocked` cannot import."""
    code = textwrap.dedent(f"""
        import importlib, pkgutil, sys
        for name in {blocked!r}:
            sys.modules[name] = None  # any import of it now raises ImportError
        imported = []
        for pkg_name in {packages!r}:
            try:
                pkg = importlib.import_module(pkg_name)
            except ModuleNotFoundError as exc:
                if exc.name == pkg_name:
                    continue  # package not written yet
                raise
            imported.append(pkg_name)
            for mod in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
                if mod.name.startswith("deploy.sim") or mod.name.endswith(".__main__"):
                    continue  # sim bridge may import mujoco; __main__ runs a CLI on import
                importlib.import_module(mod.name)
                imported.append(mod.name)
        print(len(imported))
    """)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)


def test_robot_side_imports_without_torch_mujoco_training_export() -> None:
    result = _import_all(ROBOT_SIDE, ("torch", "mujoco", "training", "export"))
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 8  # robots alone has 8 modules: the walk really ran


def test_robots_imports_only_common() -> None:
    # onnxruntime too: robots/policy_graph.py imports it inside its session factory only
    blocked = ("torch", "mujoco", "training", "export", "deploy", "safety", "onnxruntime")
    result = _import_all(("robots",), blocked)
    assert result.returncode == 0, result.stderr


def test_common_imports_no_other_project_package() -> None:
    blocked = ("torch", "mujoco", "training", "export", "deploy", "safety", "robots", "onnxruntime")
    result = _import_all(("common",), blocked)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) == 8  # the package and its 7 modules: the walk really ran


@pytest.mark.skipif(sys.version_info < (3, 10), reason="training refuses Python < 3.10 first")
def test_the_check_itself_catches_a_violation() -> None:
    # Guard against a vacuous check: training needs torch, so blocking torch must make it fail.
    result = _import_all(("training",), ("torch",))
    assert result.returncode != 0 and "import of torch halted" in result.stderr


@pytest.mark.skipif(sys.version_info >= (3, 10), reason="the refusal is for Python < 3.10")
@pytest.mark.parametrize(
    "module", ["training.cli", "training.evaluation.cli", "export.cli", "deploy.sim"]
)
def test_training_export_and_sim_refuse_old_python_in_one_sentence(module: str) -> None:
    result = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and result.stdout == "", result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "needs Python 3.10 or newer" in lines[0], result.stderr
