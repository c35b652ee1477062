"""Where a robot's MuJoCo model lives on disk (no MuJoCo import here).

Models come from the `mujoco-menagerie` package, which downloads them on a machine with internet
and never downloads when MENAGERIE_ROOT points at a local copy (tests and CI use the offline copy
in ../shared/menagerie). Compiling the XML is left to the caller that may import mujoco
(training backends, deploy/sim).
"""

from __future__ import annotations

import os
from pathlib import Path

from common.errors import UserError
from robots.spec import RobotSpec

ROOT_ENV = "MENAGERIE_ROOT"
# The contact solvers a robot's model can be simulated with: the model file's own ("menagerie";
# Go2: elliptic cone, impratio 100) or the built-in training backend's ("training": pyramidal,
# impratio 1, 10 iterations; training.envs.model.ModelCfg). genpo-sim and genpo-eval take
# --contact with these names, so sim-to-sim checks can separate the contact model from the rest.
CONTACT_MODELS = ("menagerie", "training")


def model_xml(robot: RobotSpec, entry: str = "scene") -> Path:
    """Path of the robot's Menagerie entry point ("scene" adds floor and light; or the bare robot).

    Tries $MENAGERIE_ROOT/<model>/ first, then the `mujoco-menagerie` package (which may download).
    """
    root = os.environ.get(ROOT_ENV)
    if root:
        directory = Path(root) / robot.menagerie_name
        if not directory.is_dir():
            raise UserError(
                f"{ROOT_ENV}={root} has no {robot.menagerie_name}/ folder; point {ROOT_ENV} at a "
                f"folder holding Menagerie's {robot.menagerie_name} model"
            )
        xml = directory / f"{entry}.xml"
        if not xml.is_file():
            raise UserError(
                f"{xml} does not exist; entry points there: "
                f"{sorted(p.stem for p in directory.glob('*.xml'))}"
            )
        return xml
    try:
        import mujoco_menagerie  # deferred: only needed when no local root is set
    except ImportError:
        raise UserError(
            f"no MuJoCo model for {robot.name}: install mujoco-menagerie (the 'train' extra) "
            f"or set {ROOT_ENV} to a folder holding {robot.menagerie_name}/"
        ) from None
    try:
        return mujoco_menagerie.get(robot.menagerie_name).xml(entry)
    except Exception as exc:  # download or registry failure: the package raises many kinds
        raise UserError(
            f"could not get the {robot.menagerie_name} model ({exc}); without internet set "
            f"{ROOT_ENV} to a folder holding {robot.menagerie_name}/"
        ) from None
