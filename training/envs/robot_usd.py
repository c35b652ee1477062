"""Menagerie's robot as a USD that IsaacLab can spawn (`genpo-train --backend isaaclab
--robot-usd`), made on any machine, with no NVIDIA asset server:

    python -m training.envs.robot_usd go2 go2_usd      # -> go2_usd/go2.usdc
    python -m training.envs.robot_usd h1 h1_usd        # -> h1_usd/h1.usdc

mujoco-usd-converter turns the MJCF into USD. USD has one namespace per prim, so where a joint
shares its name with a geom of its body (Menagerie's H1: the "torso" joint and the "torso" box)
the converter names the joint "torso_1", and IsaacLab, which addresses joints by name, would not
find it. Such joints get their names back (the geom becomes "<name>_geom"), and every joint the
policy drives is checked to be in the file. Needs `bash scripts/setup.sh isaaclab-sim`'s packages
(mujoco-usd-converter and its usd-core).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from common.cli import user_errors_exit
from common.errors import UserError
from robots import ROBOTS, get_robot
from robots.assets import model_xml
from robots.spec import RobotSpec

PROG = "python -m training.envs.robot_usd"


def convert(robot: RobotSpec, out_dir: Path) -> Path:
    """Write `out_dir/<robot>.usdc` from Menagerie's MJCF of `robot`, with the MJCF's joint
    names; returns its path."""
    usd = run_converter(robot, out_dir)
    restore_joint_names(usd, robot.policy_joint_names)
    return usd


def run_converter(robot: RobotSpec, out_dir: Path) -> Path:
    """mujoco-usd-converter on Menagerie's MJCF of `robot`, with the links Menagerie merged split
    back out as the training model has them (`RobotSpec.merged_links`: Go2's head becomes
    `Head_upper` / `Head_lower`, as in IsaacLab's go2.usd, so base contact is the trunk's)."""
    xml = model_xml(robot, robot.name)
    if robot.merged_links:
        xml = _split_mjcf(robot, xml, out_dir / "mjcf")
    cmd = [sys.executable, "-m", "mujoco_usd_converter", "--no-layer-structure", str(xml)]
    done = subprocess.run([*cmd, str(out_dir)], capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        why = lines[-1] if lines else f"exit {done.returncode}"
        raise UserError(
            f"mujoco-usd-converter could not convert {xml} ({why}); "
            "install it with `bash scripts/setup.sh isaaclab-sim` or `pip install "
            "mujoco-usd-converter`"
        )
    return out_dir / f"{xml.stem}.usdc"


def _split_mjcf(robot: RobotSpec, xml: Path, work: Path) -> Path:
    """`xml` with `robot.merged_links` split out, written to `work` (meshes stay where they are)."""
    import mujoco

    from training.envs.model import split_merged_links

    spec = mujoco.MjSpec.from_file(str(xml))
    split_merged_links(spec, robot)
    spec.meshdir = str((xml.parent / spec.meshdir).resolve())
    spec.compile()
    work.mkdir(parents=True, exist_ok=True)
    out = work / xml.name
    out.write_text(spec.to_xml())
    return out


def restore_joint_names(usd: Path, names: Sequence[str]) -> list[str]:
    """Give joints the converter suffixed (`torso` -> `torso_1`) their MJCF names back, in
    place; returns the joints renamed. Refuses, in one sentence, a file lacking one of `names`."""
    try:
        from pxr import Sdf, Usd, UsdPhysics
    except ImportError:
        raise UserError(
            "reading USD needs usd-core (pxr); install it with `bash scripts/setup.sh isaaclab-sim`"
        ) from None

    layer = Sdf.Layer.FindOrOpen(str(usd))
    if layer is None:
        raise UserError(f"'{usd}' is not a readable USD file")
    stage = Usd.Stage.Open(layer)
    joints = {p.GetName(): p.GetPath() for p in stage.Traverse() if p.IsA(UsdPhysics.Joint)}
    edit = Sdf.BatchNamespaceEdit()
    moves: dict[Sdf.Path, Sdf.Path] = {}  # old prim path -> new, for the targets that name them
    renamed = []
    for name in names:
        if name in joints:
            continue
        suffixed = [n for n in joints if re.fullmatch(rf"{re.escape(name)}_\d+", n)]
        if len(suffixed) != 1:
            raise UserError(
                f"'{usd}' has no joint named {name!r} (joints: {', '.join(sorted(joints))}); "
                "IsaacLab drives the policy's joints by name"
            )
        path = joints[suffixed[0]]
        wanted = path.GetParentPath().AppendChild(name)
        if stage.GetPrimAtPath(wanted):  # the geom that took the name
            moves[wanted] = path.GetParentPath().AppendChild(f"{name}_geom")
            edit.Add(wanted, moves[wanted])
        moves[path] = wanted
        edit.Add(path, wanted)
        renamed.append(name)
    if not renamed:
        return renamed
    if not layer.Apply(edit):
        raise UserError(f"could not rename joints {renamed} in '{usd}'")
    # Renaming moves the prims but not what points at them (the converter's MjcActuator
    # prims target their joint): point those at the new paths, all at once.
    stage = Usd.Stage.Open(layer)
    rels = [r for prim in stage.Traverse() for r in prim.GetRelationships()]
    for rel in rels:  # collected first: an edit recomposes the stage under a traversal
        targets = rel.GetTargets()
        if any(t in moves for t in targets):
            rel.SetTargets([moves.get(t, t) for t in targets])
    if not layer.Save():
        raise UserError(f"could not save '{usd}' after renaming joints {renamed}")
    return renamed


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("robot", help=f"robot: {', '.join(sorted(ROBOTS))}")
    p.add_argument("out", type=Path, help="output folder (created); the file is <out>/<robot>.usdc")
    return p


@user_errors_exit(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    robot = get_robot(args.robot)
    usd = convert(robot, args.out)
    print(f"{PROG}: wrote {usd}; spawn it with genpo-train --backend isaaclab --robot-usd {usd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
