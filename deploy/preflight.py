"""Start-up checks, all before DDS opens: find the artifact, load it, verify it against the robot
and this machine's runtime. Any failure is a UserError (one sentence, exit 2, nothing published).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.errors import UserError
from common.files import file_sha256
from deploy.policy import PolicyRuntime, engine_runtime, load_runtime
from robots.artifact import Artifact, parse_artifact, verify_golden
from robots.spec import RobotSpec
from safety.envelope import check_artifact

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LoadedPolicy:
    """A verified artifact with its runtime."""

    path: Path
    sha256: str
    artifact: Artifact
    runtime: PolicyRuntime
    golden_err: float


def default_policy_path(robot: str, root: Path = REPO_ROOT) -> Path:
    """Newest runs/*/**/exported/policy.onnx for `robot`'s tasks, else the shipped
    assets/policies/<robot>_flat/policy.onnx."""
    exported = [
        p
        for p in root.glob("runs/*/**/exported/policy.onnx")
        if p.is_file() and p.relative_to(root / "runs").parts[0].startswith(f"{robot}_")
    ]
    if exported:
        return max(exported, key=lambda p: p.stat().st_mtime)
    shipped = root / "assets" / "policies" / f"{robot}_flat" / "policy.onnx"
    if shipped.is_file():
        return shipped
    raise UserError(
        f"no policy found for {robot}: nothing under runs/{robot}_*/**/exported/ and no "
        f"{shipped.relative_to(root)}; export one with genpo-export or pass --policy"
    )


def check_policy_file(path: Path, what: str = "policy file") -> None:
    """UserError naming `path` (as `what`: "policy file", "--policy") unless it is a file: it
    does not exist, or it is a directory."""
    if not path.is_file():
        state = "is a directory" if path.is_dir() else "does not exist"
        raise UserError(f"{what} {path} {state}; pass --policy PATH of a policy.onnx")


def load_policy(path: Path, robot: RobotSpec, log: Callable[[str], None] = print) -> LoadedPolicy:
    """Load and verify: artifact metadata present, parsed, fits `robot` and its envelope
    (safety/envelope.py), the runtime's inputs
    and outputs fit the contract, and the golden vectors reproduce on this machine."""
    check_policy_file(path)
    runtime = load_runtime(path)
    text = runtime.metadata()
    if text is None:
        raise UserError(f"{path} carries no genpo artifact metadata; export it with genpo-export")
    artifact = parse_artifact(text, robot)
    check_artifact(artifact, robot)
    if runtime.obs.shape[0] != artifact.contract.obs_dim:
        raise UserError(
            f"{path}: the graph reads {runtime.obs.shape[0]} observation values but its "
            f"contract defines {artifact.contract.obs_dim}; re-export the policy"
        )
    if runtime.action.shape[0] != artifact.contract.num_actions:
        raise UserError(
            f"{path}: the graph writes {runtime.action.shape[0]} actions but {robot.name} has "
            f"{artifact.contract.num_actions} joints in its contract; re-export the policy"
        )
    noise_dim = 0 if runtime.noise is None else runtime.noise.shape[-1]
    engine = engine_runtime(path, runtime.obs.shape[0], runtime.action.shape[0], noise_dim, log)
    if engine is not None:
        # The engine's sidecar holds the same artifact with the engine's golden tolerance.
        runtime, sidecar = engine
        artifact = parse_artifact(sidecar, robot)
        check_artifact(artifact, robot)
        log(f"TensorRT engine {path.with_suffix('.engine')} replaces ONNX Runtime")
    err = verify_golden(artifact, runtime.run_batch)
    return LoadedPolicy(path, file_sha256(path), artifact, runtime, err)
