"""The policy contract: the one place an observation layout and action mapping are defined.

Training environments build observations from it, the exporter writes it into the artifact, and
the deploy daemon reads it back. Term order, dims, scales and clips travel with the policy, so a
wrong scale or joint order can never be introduced by hand-copying settings. The terms themselves
(width, computation, noise, clip, scale) are registered once in robots/observations.py; the
action map computes joint targets itself (`ActionMap.targets`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np

from common.errors import UserError
from robots.frames import wrap_to_pi
from robots.observations import OBS_CLIP, TERMS, TERRAINS
from robots.spec import RobotSpec

SCHEMA_VERSION = 1
MAX_HISTORY = 50  # frames of actor history a contract may ask for (1 s at 50 Hz)
COMMAND_NAMES = ("lin_vel_x", "lin_vel_y", "ang_vel_z")
# Sim-to-sim fidelity: a steady-state speed leaves out this much from the start of walking (an
# evaluation episode's start from rest; the daemon's POLICY phase after its blend-in), so
# genpo-eval and genpo-deploy --sim report comparable means under a constant command.
STEADY_SETTLE_S = 2.0
# IsaacLab's heading control (UniformVelocityCommand): a heading target becomes the yaw-rate
# command clip(HEADING_STIFFNESS * wrap(target - yaw), wz range). Training's default stiffness;
# the daemon holds a fixed command's heading with the same law.
HEADING_STIFFNESS = 0.5


def heading_rate(
    target_rad: np.ndarray | float,
    yaw_rad: np.ndarray | float,
    stiffness: float,
    wz_range: tuple[float, float],
) -> np.ndarray:
    """Yaw-rate command (rad/s) that turns a robot at `yaw_rad` towards `target_rad`."""
    error = wrap_to_pi(np.asarray(target_rad) - np.asarray(yaw_rad))
    return np.clip(stiffness * error, wz_range[0], wz_range[1])


class ContractError(UserError):
    """A policy contract that is malformed or does not fit the robot."""


@dataclass(frozen=True)
class ObsTerm:
    """One observation term: `dim` values, clipped to +-clip (None: no clip) then scaled."""

    name: str
    dim: int
    scale: float = 1.0
    clip: float | None = OBS_CLIP
    deployable: bool = True  # False: the real robot cannot measure it (critic only)


@dataclass(frozen=True)
class ActionMap:
    """Policy output -> joint targets: target = offset + scale * clip(action)."""

    joint_names: tuple[str, ...]  # policy joint order
    scale: float
    offset: tuple[float, ...]  # default joint positions in policy order
    clip: float | None = None  # IsaacLab applies no action clip

    @cached_property
    def _offset(self) -> np.ndarray:
        return np.asarray(self.offset, dtype=np.float64)

    def targets(self, action: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Joint targets (rad, policy order) of actions [..., J]: offset + scale * clip(action).

        Float64; written into `out` when given (the caller then owns reuse of that buffer).
        """
        if out is None:
            out = np.empty(np.shape(action), dtype=np.float64)
        if self.clip is None:
            np.copyto(out, action)
        else:
            np.clip(action, -self.clip, self.clip, out=out)
        out *= self.scale
        out += self._offset
        return out


@dataclass(frozen=True)
class PolicyContract:
    """Everything that fixes what a policy reads and writes."""

    robot: str
    task: str
    obs_terms: tuple[ObsTerm, ...]  # actor terms, in order
    critic_terms: tuple[ObsTerm, ...]  # critic terms, in order
    action: ActionMap
    command_ranges: tuple[tuple[float, float], ...]
    control_dt_s: float
    command_names: tuple[str, ...] = COMMAND_NAMES
    history_length: int = 0
    """Actor frames the policy reads, oldest first (IsaacLab's group history_length with
    history_order "time"); 0, as 1, is the current frame only. A frame is obs_terms in order."""
    schema_version: int = SCHEMA_VERSION

    @property
    def history_frames(self) -> int:
        return max(1, self.history_length)

    @property
    def frame_dim(self) -> int:
        """Values in one actor frame (the terms of obs_terms)."""
        return sum(t.dim for t in self.obs_terms)

    @property
    def obs_dim(self) -> int:
        """The actor's input width: history_frames frames."""
        return self.frame_dim * self.history_frames

    @property
    def critic_obs_dim(self) -> int:
        return sum(t.dim for t in self.critic_terms)

    @property
    def num_actions(self) -> int:
        return len(self.action.joint_names)

    def obs_slices(self, critic: bool = False) -> dict[str, slice]:
        """Where each term sits in the flat observation vector (the actor's: in its newest,
        last frame)."""
        out, start = {}, 0 if critic else self.obs_dim - self.frame_dim
        for term in self.critic_terms if critic else self.obs_terms:
            out[term.name] = slice(start, start + term.dim)
            start += term.dim
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-plain dict (lists, not tuples): what checkpoints and artifacts store."""
        return json.loads(json.dumps(asdict(self)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> PolicyContract:
        """Parse and validate; every problem names the offending field."""
        if not isinstance(data, dict):
            raise ContractError("policy contract: expected a JSON object at the top level")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ContractError(
                f"policy contract: schema_version {version!r} is not supported "
                f"(this version reads {SCHEMA_VERSION}); re-export the policy"
            )
        try:
            contract = cls(
                robot=_typed(data, "robot", str),
                task=_typed(data, "task", str),
                obs_terms=tuple(
                    _term(t, f"obs_terms[{i}]")
                    for i, t in enumerate(_typed(data, "obs_terms", list))
                ),
                critic_terms=tuple(
                    _term(t, f"critic_terms[{i}]")
                    for i, t in enumerate(_typed(data, "critic_terms", list))
                ),
                action=_action(_typed(data, "action", dict)),
                command_ranges=_command_ranges(_typed(data, "command_ranges", list)),
                control_dt_s=float(_typed(data, "control_dt_s", (int, float))),
                command_names=tuple(_typed(data, "command_names", list)),
                history_length=_typed(data, "history_length", int),
                schema_version=version,
            )
        except (TypeError, IndexError, ValueError) as exc:
            raise ContractError(f"policy contract: malformed value ({exc})") from None
        contract.validate()
        return contract

    @classmethod
    def from_json(cls, text: str) -> PolicyContract:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractError(
                f"policy contract: not valid JSON ({exc.msg} at line {exc.lineno})"
            ) from None
        return cls.from_dict(data)

    def validate(self, robot: RobotSpec | None = None) -> None:
        """Check internal consistency, and against `robot` when given."""
        _check(self.control_dt_s > 0, "control_dt_s", "must be positive")
        _check(
            0 <= self.history_length <= MAX_HISTORY,
            "history_length",
            f"must be 0 to {MAX_HISTORY} frames, got {self.history_length}",
        )
        _check(
            len(self.command_ranges) == len(self.command_names),
            "command_ranges",
            f"needs one (lo, hi) per command {self.command_names}",
        )
        for i, (lo, hi) in enumerate(self.command_ranges):
            _check(lo <= hi, f"command_ranges[{i}]", f"lo {lo} > hi {hi}")
        for group in ("obs_terms", "critic_terms"):
            terms = getattr(self, group)
            names = [t.name for t in terms]
            _check(len(set(names)) == len(names), group, f"duplicate term names in {names}")
            for i, t in enumerate(terms):
                _check(t.dim > 0, f"{group}[{i}].dim", f"must be positive, got {t.dim}")
                _check(
                    math.isfinite(t.scale) and t.scale != 0,
                    f"{group}[{i}].scale",
                    "must be finite and non-zero",
                )
                _check(t.clip is None or t.clip > 0, f"{group}[{i}].clip", "must be > 0 or null")
        for i, t in enumerate(self.obs_terms):
            _check(
                t.deployable,
                f"obs_terms[{i}]",
                f"{t.name!r} is not measurable on the robot and cannot be an actor input",
            )
        a = self.action
        _check(
            len(a.offset) == len(a.joint_names),
            "action.offset",
            f"has {len(a.offset)} values for {len(a.joint_names)} joints",
        )
        _check(a.scale > 0, "action.scale", "must be positive")
        if robot is not None:
            _check(
                self.robot == robot.name,
                "robot",
                f"is {self.robot!r} but the robot is {robot.name!r}",
            )
            _check(
                sorted(a.joint_names) == sorted(robot.joint_names),
                "action.joint_names",
                f"do not match the {robot.name} joints",
            )


def make_contract(
    robot: RobotSpec, terrain: str, control_dt_s: float = 0.02, history_length: int = 0
) -> PolicyContract:
    """The velocity-tracking contract of `robot` on `terrain` ("flat" or "rough").

    Actor: IsaacLab's policy group without the terms the robot cannot measure (base linear
    velocity, height scan), over `history_length` frames (0: the current one). Critic: the full
    IsaacLab group, in IsaacLab order, current frame only.
    """
    if terrain not in TERRAINS:
        raise ContractError(f"unknown terrain {terrain!r}; choose one of {TERRAINS}")
    critic = tuple(
        ObsTerm(
            name=t.name,
            dim=t.width(robot.num_joints, len(COMMAND_NAMES)),
            scale=t.scale,
            clip=t.clip,
            deployable=t.deployable,
        )
        for t in TERMS
        if terrain in t.terrains
    )
    return PolicyContract(
        robot=robot.name,
        task=f"{robot.name}_{terrain}",
        obs_terms=tuple(t for t in critic if t.deployable),
        critic_terms=critic,
        action=ActionMap(
            joint_names=robot.policy_joint_names,
            scale=robot.action_scale,
            offset=tuple(robot.values("default_q_rad").tolist()),
        ),
        command_ranges=robot.command_ranges,
        control_dt_s=control_dt_s,
        history_length=history_length,
    )


def _check(ok: bool, field: str, problem: str) -> None:
    if not ok:
        raise ContractError(f"policy contract field {field!r} {problem}")


def json_numbers(values: Any, integer: bool = False) -> tuple | None:
    """`values` as a tuple of floats (ints with `integer`) when it is a list of JSON numbers;
    None when it is not a list or holds anything else (a bool, a string such as "25 ", null):
    what reaches the motors is never coerced from text."""
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if not isinstance(values, (list, tuple)):
        return None
    if not all(isinstance(v, kinds) and not isinstance(v, bool) for v in values):
        return None
    return tuple(int(v) if integer else float(v) for v in values)


def _number_list(data: dict, key: str, where: str = "") -> tuple[float, ...]:
    values = json_numbers(_typed(data, key, list))
    if values is None:
        name = f"{where}.{key}" if where else key
        raise ContractError(f"policy contract field {name!r} must be a list of numbers")
    return values


def _optional(data: dict, key: str) -> float | None:
    """A number or null/absent."""
    return None if data.get(key) is None else float(_typed(data, key, (int, float)))


def _typed(data: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise ContractError(f"policy contract is missing field {key!r}")
    value = data[key]
    if kind is list:
        kind = (list, tuple)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ContractError(
            f"policy contract field {key!r} has the wrong type ({type(value).__name__})"
        )
    return value


def _command_ranges(rows: list) -> tuple[tuple[float, float], ...]:
    pairs = tuple(json_numbers(r) for r in rows)
    if not all(p is not None and len(p) == 2 for p in pairs):
        raise ContractError("policy contract field 'command_ranges' must hold (lo, hi) numbers")
    return pairs


def _term(data: Any, where: str) -> ObsTerm:
    if not isinstance(data, dict):
        raise ContractError(f"policy contract field {where!r} must be an object")
    unknown = set(data) - {"name", "dim", "scale", "clip", "deployable"}
    if unknown:
        raise ContractError(f"policy contract field {where!r} has unknown keys {sorted(unknown)}")
    try:
        return ObsTerm(
            name=_typed(data, "name", str),
            dim=_typed(data, "dim", int),
            scale=float(_typed(data, "scale", (int, float))) if "scale" in data else 1.0,
            clip=_optional(data, "clip"),
            deployable=_typed(data, "deployable", bool) if "deployable" in data else True,
        )
    except ContractError as exc:
        raise ContractError(f"{exc} (in {where})") from None


def _action(data: dict) -> ActionMap:
    return ActionMap(
        joint_names=tuple(_typed(data, "joint_names", list)),
        scale=float(_typed(data, "scale", (int, float))),
        offset=_number_list(data, "offset", "action"),
        clip=_optional(data, "clip"),
    )
