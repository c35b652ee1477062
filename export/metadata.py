"""The artifact document written into the ONNX metadata (schema: robots/artifact.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from robots.artifact import ARTIFACT_KEY, FORMAT, SCHEMA_VERSION
from robots.contract import PolicyContract
from robots.policy_graph import ACTIONS_OUTPUT, NOISE_INPUT, OBS_INPUT
from robots.spec import RobotSpec

__all__ = ["ARTIFACT_KEY", "PolicyDescription", "build_document", "robot_facts"]


@dataclass(frozen=True)
class PolicyDescription:
    """What the exported graph computes (becomes the document's `policy` section)."""

    kind: str  # "genpo" (the flow graph, whichever algorithm trained it) | "ppo"
    obs_dim: int
    action_dim: int
    noise: str = "zero"  # "zero" | "input"
    flow_steps: int | None = None
    mix_p: float | None = None
    source: str = "checkpoint"  # "checkpoint" | "onnx-import"

    @property
    def noise_dim(self) -> int:
        return 2 * self.action_dim if self.noise == "input" else 0

    @property
    def inputs(self) -> list[str]:
        return [OBS_INPUT, NOISE_INPUT] if self.noise == "input" else [OBS_INPUT]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "noise": self.noise,
            "noise_dim": self.noise_dim,
            "flow_steps": self.flow_steps,
            "mix_p": self.mix_p,
            "source": self.source,
            "inputs": self.inputs,
            "output": ACTIONS_OUTPUT,
        }


def robot_facts(robot: RobotSpec) -> dict[str, Any]:
    """Per-joint robot facts in policy joint order, as plain JSON values."""
    return {
        "name": robot.name,
        "display_name": robot.display_name,
        "idl_family": robot.idl_family,
        "num_motor_slots": robot.num_motor_slots,
        "policy_joint_names": list(robot.policy_joint_names),
        "isaac_to_sdk": robot.isaac_to_sdk.tolist(),
        "default_q_rad": robot.values("default_q_rad").tolist(),
        "kp": robot.values("kp").tolist(),
        "kd": robot.values("kd").tolist(),
    }


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _rows(a: np.ndarray | None) -> list[list[float]] | None:
    # float32 -> Python float is exact, so the JSON round trip gives back the same float32 bits.
    return None if a is None else np.asarray(a, dtype=np.float32).astype(np.float64).tolist()


def build_document(
    policy: PolicyDescription,
    robot: RobotSpec,
    contract: PolicyContract,
    provenance: dict[str, Any],
    golden: dict[str, Any],
    checks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The artifact document. `golden`: obs [n, o], noise [n, 2d] or None, actions [n, d], atol."""
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "policy": policy.to_dict(),
        "robot": robot_facts(robot),
        "contract": contract.to_dict(),
        "provenance": provenance,
        "golden": {
            "obs": _rows(golden["obs"]),
            "noise": _rows(golden.get("noise")),
            "actions": _rows(golden["actions"]),
            "atol": float(golden["atol"]),
        },
        "checks": checks or {},
    }


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, allow_nan=False)
