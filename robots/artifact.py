"""Reader of the self-describing policy artifact (torch-free: numpy and the standard library).

The exporter stores one JSON document in the ONNX file's `metadata_props` under ARTIFACT_KEY
(and, for a TensorRT engine, in a sidecar `<engine>.json`). Deploy reads the string through
`onnxruntime.InferenceSession(...).get_modelmeta().custom_metadata_map[ARTIFACT_KEY]` and hands
it to `parse_artifact`; it never needs the onnx package or torch.

Document (schema_version 1):

    format          "genpo-artifact"
    schema_version  1
    policy          kind ("genpo": any flow policy, trained by GenPO, GMPO or GMPG | "ppo": the
                    Gaussian MLP), obs_dim, action_dim, noise ("zero" | "input"),
                    noise_dim (2d in input mode, else 0), flow_steps, mix_p (null for ppo),
                    source ("checkpoint" | "onnx-import"), inputs (["obs"] or ["obs", "noise"]),
                    output ("actions": raw executed action in policy joint order; the daemon
                    applies target = offset + scale * clip(action) from the contract)
    robot           name, display_name, idl_family, num_motor_slots, policy_joint_names,
                    isaac_to_sdk, default_q_rad, kp, kd (all per joint in policy order)
    contract        robots.contract.PolicyContract.to_dict()
    provenance      run_id, algo (the training algorithm: genpo, gmpo, gmpg or ppo), git_commit,
                    checkpoint_sha256, iteration, export_time_utc, exporter, physics (the engine
                    that trained it: "mujoco" or IsaacLab's preset such as "newton_mjwarp";
                    absent in artifacts exported before it was recorded), task_settings (the
                    task settings it must run under, {key: value}, e.g. TARGET_RANGE_SETTING;
                    null or absent in artifacts exported before they were recorded)
    golden          obs [n][obs_dim], noise [n][2d] or null, actions [n][d], atol
    checks          parity (samples, max_abs_err), latency_us (p50, p99, max, ...) or null
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.compat import zip_strict
from common.errors import UserError
from robots.contract import ContractError, PolicyContract, json_numbers
from robots.spec import RobotSpec

ARTIFACT_KEY = "genpo_artifact"
FORMAT = "genpo-artifact"
SCHEMA_VERSION = 1
POLICY_KINDS = ("genpo", "ppo")
NOISE_MODES = ("zero", "input")
# fp32 golden tolerance: other CPUs and runtime builds sum in another order (observed < 1e-6).
GOLDEN_ATOL_FP32 = 1e-4
GOLDEN_ATOL_FP16 = 2e-3
# provenance.task_settings key of the joint-target clamp the policy trained under: targets held to
# each joint's middle +- factor x half its range (0: none). Training's tasks name the setting so.
TARGET_RANGE_SETTING = "sim.target_range_factor"


class ArtifactError(UserError):
    """A policy artifact that is malformed, from another schema version, or unusable."""


class ArtifactMismatchError(ArtifactError):
    """An artifact made for another robot, joint layout or observation size."""


class GoldenMismatchError(ArtifactError):
    """The runtime's actions differ from the golden vectors recorded at export."""


@dataclass(frozen=True)
class PolicyInfo:
    """What the graph computes and which inputs it takes."""

    kind: str
    obs_dim: int
    action_dim: int
    noise: str
    noise_dim: int
    flow_steps: int | None
    mix_p: float | None
    source: str
    inputs: tuple[str, ...]
    output: str


@dataclass(frozen=True)
class RobotFacts:
    """Robot facts the policy was trained with, per joint in policy order."""

    name: str
    display_name: str
    idl_family: str
    num_motor_slots: int
    policy_joint_names: tuple[str, ...]
    isaac_to_sdk: tuple[int, ...]
    default_q_rad: tuple[float, ...]
    kp: tuple[float, ...]
    kd: tuple[float, ...]


@dataclass(frozen=True)
class GoldenVectors:
    """(obs, noise, action) triples computed by torch at export: obs [n, obs], actions [n, d]."""

    obs: np.ndarray
    noise: np.ndarray | None
    actions: np.ndarray
    atol: float


@dataclass(frozen=True)
class Artifact:
    """A parsed, internally consistent artifact document."""

    policy: PolicyInfo
    robot: RobotFacts
    contract: PolicyContract
    golden: GoldenVectors
    provenance: dict[str, Any]
    checks: dict[str, Any]
    schema_version: int = SCHEMA_VERSION
    document: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def physics(self) -> str | None:
        """Engine that trained the policy (provenance "physics"); None where not recorded."""
        value = self.provenance.get("physics")
        return value if isinstance(value, str) else None

    @property
    def trained_target_range(self) -> float | None:
        """Factor of the joint-target clamp the policy was trained under; None: none (0, or
        not recorded). parse_artifact has checked it is a number in [0, 1]."""
        factor = (self.provenance.get("task_settings") or {}).get(TARGET_RANGE_SETTING, 0.0)
        return float(factor) if factor > 0 else None


def parse_artifact(text: str, robot: RobotSpec | None = None) -> Artifact:
    """Parse and validate an artifact JSON string; also check it against `robot` when given."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ArtifactError(f"policy artifact metadata is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ArtifactError(
            f"policy artifact metadata is not a '{FORMAT}' document; re-export with genpo-export"
        )
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"policy artifact has schema version {version!r} but this code reads "
            f"{SCHEMA_VERSION}; re-export the policy with this version of genpo-export"
        )
    try:
        contract = PolicyContract.from_dict(_get(doc, "contract", dict))
    except ContractError as exc:
        raise ArtifactError(f"policy artifact: {exc}") from None
    artifact = Artifact(
        policy=_policy(_get(doc, "policy", dict)),
        robot=_robot(_get(doc, "robot", dict)),
        contract=contract,
        golden=_golden(_get(doc, "golden", dict)),
        provenance=_get(doc, "provenance", dict),
        checks=doc.get("checks") or {},
        schema_version=version,
        document=doc,
    )
    _check_consistent(artifact)
    check_task_settings(artifact.provenance.get("task_settings"))
    if robot is not None:
        check_robot(artifact, robot)
    return artifact


def check_task_settings(settings: Any, what: str = "policy artifact") -> dict[str, Any]:
    """The task settings a policy file (`what`) records, {} when none: a mapping whose trained
    clamp, if any, is a number in [0, 1]. Checkpoints and artifacts both go through here."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise ArtifactError(f"{what}: task_settings is not a mapping; re-create it")
    factor = settings.get(TARGET_RANGE_SETTING, 0.0)
    number = isinstance(factor, (int, float)) and not isinstance(factor, bool)
    if not (number and 0.0 <= factor <= 1.0):
        raise ArtifactError(
            f"{what}: task_settings records {TARGET_RANGE_SETTING}={factor!r}, not a number in "
            "[0, 1]; re-create it"
        )
    return settings


def check_robot(artifact: Artifact, robot: RobotSpec, robot_is: str = "this is") -> None:
    """Raise ArtifactMismatchError naming the first fact that differs from `robot`; `robot_is`
    says whose robot it is ("this is", genpo-replay's "log X was recorded on")."""
    facts = artifact.robot
    if facts.name != robot.name:
        raise ArtifactMismatchError(
            f"the policy was exported for robot {facts.name!r} but {robot_is} {robot.name!r}; "
            "use a policy trained for this robot"
        )
    if len(facts.policy_joint_names) != robot.num_joints:
        raise ArtifactMismatchError(
            f"the policy drives {len(facts.policy_joint_names)} joints but {robot.name} has "
            f"{robot.num_joints}"
        )
    if tuple(facts.policy_joint_names) != tuple(robot.policy_joint_names):
        diff = [
            f"{i}: {a} != {b}"
            for i, (a, b) in enumerate(
                zip_strict(facts.policy_joint_names, robot.policy_joint_names)
            )
            if a != b
        ]
        raise ArtifactMismatchError(
            f"the policy's joint order differs from {robot.name}'s ({', '.join(diff[:3])})"
        )
    if tuple(facts.isaac_to_sdk) != tuple(robot.isaac_to_sdk.tolist()):
        raise ArtifactMismatchError(
            f"the policy's SDK motor map {list(facts.isaac_to_sdk)} differs from {robot.name}'s "
            f"{robot.isaac_to_sdk.tolist()}"
        )
    if facts.idl_family != robot.idl_family:
        raise ArtifactMismatchError(
            f"the policy expects IDL family {facts.idl_family!r} but {robot.name} uses "
            f"{robot.idl_family!r}"
        )
    try:
        artifact.contract.validate(robot)
    except ContractError as exc:
        raise ArtifactMismatchError(f"policy artifact does not fit {robot.name}: {exc}") from None


def verify_golden(
    artifact: Artifact,
    run: Callable[..., np.ndarray],
    atol: float | None = None,
) -> float:
    """Run the golden observations through `run` and compare with the recorded actions.

    `run(obs)` (zero-noise artifacts) or `run(obs, noise)` (input-noise artifacts) takes float32
    [1, obs] (and [1, 2d]) and returns [1, d]; it is called once per golden sample. Returns the
    max abs error; raises GoldenMismatchError when it exceeds `atol` (default: the artifact's).
    """
    golden = artifact.golden
    tol = golden.atol if atol is None else atol
    # One row per call: deploy runtimes (and IsaacLab exports) may have a fixed batch of 1.
    rows = []
    for i in range(len(golden.obs)):
        args = [golden.obs[i : i + 1]]
        if golden.noise is not None:
            args.append(golden.noise[i : i + 1])
        rows.append(np.asarray(run(*args), dtype=np.float64).reshape(1, -1))
    got = np.concatenate(rows) if rows else np.zeros((0, golden.actions.shape[1]))
    if got.shape != golden.actions.shape:
        raise GoldenMismatchError(
            f"the policy runtime returned actions of shape {got.shape} for the golden "
            f"observations; the artifact recorded {golden.actions.shape}"
        )
    err = np.abs(got - golden.actions)
    worst = float(np.max(err)) if err.size else 0.0
    if not (math.isfinite(worst) and worst <= tol):  # a NaN tolerance passes nothing
        row, col = np.unravel_index(int(np.nanargmax(np.nan_to_num(err, nan=np.inf))), err.shape)
        raise GoldenMismatchError(
            f"golden vectors differ by {worst:.3g} (> tolerance {tol:g}) at sample {row}, "
            f"action {col}: the model file was altered or the runtime computes differently"
        )
    return worst


# ----- field parsing ------------------------------------------------------------------------


def _get(doc: dict, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    name = f"{where}.{key}" if where else key
    if key not in doc:
        raise ArtifactError(f"policy artifact is missing field {name!r}; re-export the policy")
    value = doc[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ArtifactError(
            f"policy artifact field {name!r} has the wrong type ({type(value).__name__})"
        )
    return value


def _numbers(doc: dict, key: str, where: str, integer: bool = False) -> tuple:
    values = json_numbers(_get(doc, key, list, where), integer)
    if values is None:
        kind = "integers" if integer else "numbers"
        raise ArtifactError(
            f"policy artifact field '{where}.{key}' must be a list of {kind}; re-export the policy"
        )
    return values


def _optional_number(doc: dict, key: str, where: str) -> float | None:
    return None if doc.get(key) is None else float(_get(doc, key, (int, float), where))


def _policy(doc: dict) -> PolicyInfo:
    w = "policy"
    info = PolicyInfo(
        kind=_get(doc, "kind", str, w),
        obs_dim=_get(doc, "obs_dim", int, w),
        action_dim=_get(doc, "action_dim", int, w),
        noise=_get(doc, "noise", str, w),
        noise_dim=_get(doc, "noise_dim", int, w),
        flow_steps=None if doc.get("flow_steps") is None else _get(doc, "flow_steps", int, w),
        mix_p=_optional_number(doc, "mix_p", w),
        source=_get(doc, "source", str, w),
        inputs=tuple(_get(doc, "inputs", list, w)),
        output=_get(doc, "output", str, w),
    )
    if info.kind not in POLICY_KINDS:
        raise ArtifactError(f"policy artifact: unknown policy kind {info.kind!r}")
    if info.noise not in NOISE_MODES:
        raise ArtifactError(f"policy artifact: unknown noise mode {info.noise!r}")
    return info


def _robot(doc: dict) -> RobotFacts:
    w = "robot"
    return RobotFacts(
        name=_get(doc, "name", str, w),
        display_name=_get(doc, "display_name", str, w),
        idl_family=_get(doc, "idl_family", str, w),
        num_motor_slots=_get(doc, "num_motor_slots", int, w),
        policy_joint_names=tuple(_get(doc, "policy_joint_names", list, w)),
        isaac_to_sdk=_numbers(doc, "isaac_to_sdk", w, integer=True),
        default_q_rad=_numbers(doc, "default_q_rad", w),
        kp=_numbers(doc, "kp", w),
        kd=_numbers(doc, "kd", w),
    )


def _matrix(doc: dict, key: str) -> np.ndarray:
    try:
        value = np.asarray(_get(doc, key, list, "golden"), dtype=np.float64)
    except ValueError:
        raise ArtifactError(
            f"policy artifact field 'golden.{key}' is not a numeric matrix"
        ) from None
    if value.ndim != 2:
        raise ArtifactError(f"policy artifact field 'golden.{key}' is not a matrix")
    return value


def _golden(doc: dict) -> GoldenVectors:
    noise = None if doc.get("noise") is None else _matrix(doc, "noise")
    return GoldenVectors(
        obs=_matrix(doc, "obs").astype(np.float32),
        noise=None if noise is None else noise.astype(np.float32),
        actions=_matrix(doc, "actions"),
        atol=float(_get(doc, "atol", (int, float), "golden")),
    )


def _check_consistent(a: Artifact) -> None:
    """Sizes must agree between policy, robot, contract and golden vectors."""
    p, g, n_joints = a.policy, a.golden, len(a.robot.policy_joint_names)
    problems = []
    if p.obs_dim != a.contract.obs_dim:
        problems.append(f"policy obs_dim {p.obs_dim} != contract obs size {a.contract.obs_dim}")
    if p.action_dim != a.contract.num_actions or p.action_dim != n_joints:
        problems.append(
            f"policy action_dim {p.action_dim} != {a.contract.num_actions} contract actions / "
            f"{n_joints} robot joints"
        )
    per_joint = ("isaac_to_sdk", "default_q_rad", "kp", "kd")
    for name in per_joint:
        if len(getattr(a.robot, name)) != n_joints:
            problems.append(f"robot.{name} has {len(getattr(a.robot, name))} values")
    if g.obs.shape[1:] != (p.obs_dim,) or g.actions.shape != (len(g.obs), p.action_dim):
        problems.append(f"golden shapes obs {g.obs.shape}, actions {g.actions.shape}")
    if (g.noise is None) != (p.noise == "zero") or (
        g.noise is not None and g.noise.shape != (len(g.obs), p.noise_dim)
    ):
        problems.append(f"golden noise does not fit noise mode {p.noise!r}")
    if problems:
        raise ArtifactError(f"policy artifact is inconsistent: {'; '.join(problems)}")
