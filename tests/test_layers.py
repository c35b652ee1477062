"""The layer rules that let the robot run without torch (architecture.md)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO

ROBOT_SIDE = ("robots", "safety", "deploy")


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


def test_robots_imports_no_other_project_package() -> None:
    blocked = ("torch", "mujoco", "training", "export", "deploy", "safety")
    result = _import_all(("robots",), blocked)
    assert result.returncode == 0, result.stderr


def test_the_check_itself_catches_a_violation() -> None:
    # Guard against a vacuous check: training needs torch, so blocking torch must make it fail.
    result = _import_all(("training",), ("torch",))
    assert result.returncode != 0 and "import of torch halted" in result.stderr
