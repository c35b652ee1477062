"""`genpo-replay LOG`: run a flight-recorder log back through its policy, check actions bit for bit.

Prints one JSON line {"policy_ticks", "matched", "mismatched", "first_mismatch", "max_abs_diff",
"artifact_sha256_ok"} and exits 0 when every action matches exactly, 1 when any differs, 2 on a
user error (missing log or policy, a policy for another robot than the log's).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import user_errors_exit
from common.errors import UserError
from common.files import file_sha256
from deploy.policy import OrtPolicy
from deploy.preflight import check_policy_file
from deploy.recorder import read_log
from robots import ROBOTS
from robots.artifact import ArtifactError, check_robot, parse_artifact


def replay(log_path: Path, policy_path: Path | None = None) -> dict[str, Any]:
    """Re-run every recorded policy tick; returns the comparison summary."""
    if log_path.is_dir():
        raise UserError(f"log {log_path} is a directory; pass the .mcap file in it")
    if not log_path.is_file():
        raise UserError(f"log {log_path} does not exist")
    messages = read_log(log_path)
    header = next((p for t, _, p in messages if t == "/deploy/header"), None)
    if header is None:
        raise UserError(f"{log_path} has no /deploy/header record; is it a genpo-deploy log?")
    if policy_path is not None:
        path = Path(policy_path)
        check_policy_file(path, "--policy")  # genpo-deploy's sentence: missing, or a directory
    else:
        path = Path(_logged_policy(header, log_path))
        if not path.is_file():
            raise UserError(f"policy {path} from the log is gone; pass --policy PATH")
    runtime = OrtPolicy(path)
    _check_robot(runtime, header, log_path)
    ticks = [p for t, _, p in messages if t == "/deploy/policy"]
    mismatched, first, worst = 0, None, 0.0
    for i, tick in enumerate(ticks):
        runtime.obs[:] = _vector(tick, "obs", len(runtime.obs), i, log_path)
        got = runtime.infer()
        want = _vector(tick, "action", len(got), i, log_path)
        if got.tobytes() != want.tobytes():
            mismatched += 1
            first = i if first is None else first
            with np.errstate(invalid="ignore"):
                worst = max(worst, float(np.nan_to_num(np.max(np.abs(got - want)), nan=np.inf)))
    return {
        "policy_ticks": len(ticks),
        "matched": len(ticks) - mismatched,
        "mismatched": mismatched,
        "first_mismatch": first,
        "max_abs_diff": worst,
        "artifact_sha256_ok": file_sha256(path) == header.get("artifact_sha256"),
    }


def _logged_policy(header: dict[str, Any], log_path: Path) -> str:
    path = header.get("policy_path")
    if not isinstance(path, str) or not path:
        raise UserError(f"{log_path}'s header names no policy file; pass --policy PATH")
    return path


def _check_robot(runtime: OrtPolicy, header: dict[str, Any], log_path: Path) -> None:
    """A policy for another robot than the log's is refused as genpo-deploy refuses it
    (robots.artifact.check_robot). A policy without readable genpo metadata, or a log whose
    header names no known robot, is replayed as it is: the bits decide."""
    name, text = header.get("robot"), runtime.metadata()
    if text is None or not isinstance(name, str) or name not in ROBOTS:
        return
    try:
        artifact = parse_artifact(text)
    except ArtifactError:
        return
    check_robot(artifact, ROBOTS[name], robot_is=f"log {log_path} was recorded on")


def _vector(tick: dict[str, Any], key: str, size: int, index: int, log_path: Path) -> np.ndarray:
    """tick[key] as float32 [size]; anything else is a damaged log (or one for another policy)."""
    values = tick.get(key)
    ok = isinstance(values, list) and len(values) == size
    if ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.float32)
    raise UserError(
        f"{log_path}: policy tick {index} has no '{key}' list of {size} numbers; the log is "
        "damaged or was recorded with another policy (pass it with --policy)"
    )


@user_errors_exit("genpo-replay")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="genpo-replay", description=__doc__.splitlines()[0])
    p.add_argument("log", type=Path, help="an MCAP log written by genpo-deploy --log DIR")
    p.add_argument(
        "--policy", type=Path, default=None, help="policy to replay (default: the log's)"
    )
    args = p.parse_args(argv)
    result = replay(args.log, args.policy)
    print(json.dumps(result), flush=True)
    return 0 if result["mismatched"] == 0 and result["policy_ticks"] > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
