"""Robot facts and the policy contract: the single source of truth shared by every layer.

Imports nothing but numpy, pyyaml and the standard library, so it runs on the robot.
"""

from __future__ import annotations

from common.errors import UserError
from robots.go2 import GO2
from robots.h1 import H1
from robots.spec import JointSpec, RobotSpec, indices_of

ROBOTS: dict[str, RobotSpec] = {r.name: r for r in (GO2, H1)}


def get_robot(name: str) -> RobotSpec:
    """The spec of robot `name`; a UserError listing the known robots otherwise."""
    try:
        return ROBOTS[name]
    except KeyError:
        raise UserError(
            f"unknown robot {name!r}; known robots: {', '.join(sorted(ROBOTS))}"
        ) from None


__all__ = ["ROBOTS", "GO2", "H1", "JointSpec", "RobotSpec", "get_robot", "indices_of"]
