"""`python -m robots ROBOT [--terrain flat|rough] [--json]`: print a robot's facts and contract."""

from __future__ import annotations

import argparse
import json
import sys

from common.cli import user_errors_exit
from common.compat import zip_strict
from robots import ROBOTS, get_robot
from robots.contract import TERRAINS, make_contract


@user_errors_exit("python -m robots")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m robots", description=__doc__)
    parser.add_argument("robot", help=f"one of {sorted(ROBOTS)}")
    parser.add_argument("--terrain", default="flat", choices=TERRAINS, help="contract terrain")
    parser.add_argument("--json", action="store_true", help="print the contract as JSON")
    args = parser.parse_args(argv)
    robot = get_robot(args.robot)
    contract = make_contract(robot, args.terrain)
    if args.json:
        print(json.dumps(contract.to_dict(), indent=2))
        return 0
    lo, hi = robot.soft_limits(robot.joint_names)
    print(f"{robot.display_name}: {robot.num_joints} joints, IDL '{robot.idl_family}'")
    print(f"{'sdk':>3}  {'joint':<22}{'soft lo':>9}{'soft hi':>9}{'tau Nm':>8}{'kp':>7}{'kd':>6}")
    for j, a, b in zip_strict(robot.joints, lo, hi):
        print(
            f"{j.sdk_index:>3}  {j.name:<22}{a:>9.3f}{b:>9.3f}{j.torque_limit_nm:>8.1f}"
            f"{j.kp:>7.1f}{j.kd:>6.1f}"
        )
    terms = ", ".join(f"{t.name}[{t.dim}]" for t in contract.obs_terms)
    print(f"actor obs ({contract.obs_dim}): {terms}")
    print(f"critic obs: {contract.critic_obs_dim}; control dt {contract.control_dt_s} s")
    print(f"damping kd {robot.damping_kd:g}; battery pack {robot.battery_cells} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
