"""The observation term table: one registration per term, the one place a term is defined.

Each `TermDef` says how wide the term is on a robot, how it is computed from a `ObservedState`
(one state on the robot, or a batch [N, ...] in the training environment), its training noise,
clip and scale, whether the real robot can measure it, and whether observation latency delays
it. The policy contract (robots/contract.py) lists terms from this table; training, the
exporter's checks and the deploy daemon all compute observations through `ObservationLayout`.
Adding a term is one new entry in `TERMS`.

Processing per term (IsaacLab order): value -> noise (training only) -> clip -> scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from common.errors import UserError
from robots.frames import projected_gravity

if TYPE_CHECKING:
    from robots.contract import ObsTerm, PolicyContract

HEIGHT_SCAN_DIM = 187  # 17 x 11 rays, 0.1 m grid over 1.6 m x 1.0 m (IsaacLab rough tasks)
# legged_gym's clip_observations: IsaacLab applies none, but a bound keeps a sensor glitch
# (a joint-velocity spike) from pushing the network far outside anything seen in training.
OBS_CLIP = 100.0
TERRAINS = ("flat", "rough")


@dataclass
class ObservedState:
    """What observation terms are computed from: arrays [...] for one state, [N, ...] for N.

    Mutable on purpose: the daemon refills one instance every tick instead of allocating.
    """

    quat_wxyz: np.ndarray  # root orientation, (w, x, y, z)
    gyro_rad_s: np.ndarray  # root angular velocity in the body frame
    command: np.ndarray  # velocity command (vx, vy, wz)
    q_rad: np.ndarray  # joint positions, policy order
    dq_rad_s: np.ndarray  # joint velocities, policy order
    last_action: np.ndarray  # the policy's previous raw output, policy order
    lin_vel_b_m_s: np.ndarray | None = None  # privileged: root linear velocity, body frame
    height_scan_m: np.ndarray | None = None  # privileged: [187] heights under the scan rays


if TYPE_CHECKING:  # annotations only: collections.abc.Callable[...] fails at runtime on 3.8
    # compute(state, default joint positions in policy order, out [..., width]) -> None
    Compute = Callable[[ObservedState, np.ndarray, np.ndarray], None]


@dataclass(frozen=True)
class TermDef:
    """One observation term's registration."""

    name: str
    width: Callable[[int, int], int]  # (num_joints, num_commands) -> values in the term
    compute: Compute
    noise: float = 0.0  # IsaacLab's additive uniform noise half-width (training only)
    clip: float | None = OBS_CLIP  # +-clip before scaling; None: no clip
    scale: float = 1.0
    deployable: bool = True  # False: the real robot cannot measure it (critic only)
    delayed: bool = True  # False: known to the policy itself, never stale under latency
    terrains: tuple[str, ...] = TERRAINS  # task terrains whose critic reads it


def _copy(field: str) -> Compute:
    def compute(state: ObservedState, default_q: np.ndarray, out: np.ndarray) -> None:
        out[...] = getattr(state, field)

    return compute


def _joint_pos(state: ObservedState, default_q: np.ndarray, out: np.ndarray) -> None:
    np.subtract(state.q_rad, default_q, out=out)


def _gravity(state: ObservedState, default_q: np.ndarray, out: np.ndarray) -> None:
    projected_gravity(state.quat_wxyz, out)


def _joints(num_joints: int, num_commands: int) -> int:
    return num_joints


def _commands(num_joints: int, num_commands: int) -> int:
    return num_commands


def _fixed(width: int) -> Callable[[int, int], int]:
    return lambda num_joints, num_commands: width


# IsaacLab's velocity-task policy group, in IsaacLab order; noise levels from its section 3.
TERMS: tuple[TermDef, ...] = (
    TermDef("base_lin_vel", _fixed(3), _copy("lin_vel_b_m_s"), noise=0.1, deployable=False),
    TermDef("base_ang_vel", _fixed(3), _copy("gyro_rad_s"), noise=0.2),
    TermDef("projected_gravity", _fixed(3), _gravity, noise=0.05),
    TermDef("velocity_commands", _commands, _copy("command"), delayed=False),
    TermDef("joint_pos", _joints, _joint_pos, noise=0.01),
    TermDef("joint_vel", _joints, _copy("dq_rad_s"), noise=1.5),
    TermDef("actions", _joints, _copy("last_action"), delayed=False),
    TermDef(
        "height_scan",
        _fixed(HEIGHT_SCAN_DIM),
        _copy("height_scan_m"),
        noise=0.1,
        clip=1.0,
        deployable=False,
        terrains=("rough",),
    ),
)
TERM_BY_NAME: dict[str, TermDef] = {t.name: t for t in TERMS}


class ObservationLayout:
    """One observation group of a contract (actor or critic), computed from the term table.

    Refuses at construction a term the table does not know, or whose width on this robot differs
    from the contract's; `deployable_only` also refuses terms the robot cannot measure.
    """

    def __init__(
        self, contract: PolicyContract, critic: bool = False, deployable_only: bool = False
    ) -> None:
        self.terms: tuple[ObsTerm, ...] = contract.critic_terms if critic else contract.obs_terms
        self.default_q = np.asarray(contract.action.offset, dtype=np.float64)
        num_joints, num_commands = contract.num_actions, len(contract.command_names)
        known = [t.name for t in TERMS if t.deployable or not deployable_only]
        self.parts: list[tuple[Compute, slice]] = []
        start = 0
        for term in self.terms:
            if term.name not in known:
                raise UserError(
                    f"the policy reads observation term {term.name!r}, which the robot cannot "
                    f"provide; {'deployable' if deployable_only else 'known'} terms: "
                    f"{', '.join(known)}"
                )
            entry = TERM_BY_NAME[term.name]
            width = entry.width(num_joints, num_commands)
            if term.dim != width:
                raise UserError(
                    f"observation term {term.name!r} has {term.dim} values in the policy "
                    f"contract but {width} on this robot"
                )
            self.parts.append((entry.compute, slice(start, start + width)))
            start += width
        self.dim = start
        self.clip = self._per_value(lambda t: np.inf if t.clip is None else t.clip)
        self.scale = self._per_value(lambda t: t.scale)
        self.noise = self._per_value(lambda t: TERM_BY_NAME[t.name].noise)
        self.delayed = self._per_value(lambda t: TERM_BY_NAME[t.name].delayed).astype(bool)

    def _per_value(self, value: Callable[[ObsTerm], float]) -> np.ndarray:
        """[dim]: each term's value repeated over its columns."""
        return np.concatenate([np.full(t.dim, value(t), dtype=np.float64) for t in self.terms])

    def compute(self, state: ObservedState, out: np.ndarray) -> np.ndarray:
        """Raw term values (before noise, clip and scale) into `out` [..., dim]; returns it."""
        for compute, columns in self.parts:
            compute(state, self.default_q, out[..., columns])
        return out

    def clip_scale(self, raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """clip -> scale of raw values [..., dim], into `out` when given (may be `raw`)."""
        out = np.clip(raw, -self.clip, self.clip, out=out)
        out *= self.scale
        return out


class ObservationHistory:
    """The actor's input over `frames` processed frames, oldest first (IsaacLab's group history
    with history_order "time": [frame t-H+1, ..., frame t], each frame the contract's terms).

    One buffer for one robot (batch_shape ()) or [N] envs. The first push after construction or
    `restart` fills every frame with the pushed one (IsaacLab's CircularBuffer after a reset), so
    a policy never reads another episode's past or zeros it never saw in training. A mirrored
    ring (each frame written at slot i and i + frames) keeps the last `frames` contiguous, so a
    push moves one frame and allocates nothing: the daemon pushes on its control tick.
    """

    def __init__(self, frames: int, frame_dim: int, batch_shape: tuple[int, ...] = ()) -> None:
        self.frames = frames
        self.buf = np.zeros((*batch_shape, 2 * frames, frame_dim))
        self.fresh = np.ones(batch_shape, dtype=bool)
        self._slot = frames - 1  # where the newest frame sits (and at slot + frames)

    def restart(self, ids: np.ndarray | None = None) -> None:
        """Envs `ids` (None: all, or the one robot) start over at their next push."""
        self.fresh[... if ids is None else ids] = True

    def push(self, frame: np.ndarray) -> np.ndarray:
        """Append frame [..., frame_dim]; returns the stacked input [..., frames * frame_dim],
        a view of the buffer (copy it to keep it past the next push)."""
        i = (self._slot + 1) % self.frames
        self._slot = i
        buf = self.buf
        buf[..., i, :] = frame
        buf[..., i + self.frames, :] = frame
        if self.fresh.any():  # a start: every slot holds this frame
            if self.fresh.ndim == 0:
                buf[...] = frame[..., None, :]
            else:
                buf[self.fresh] = frame[self.fresh][:, None, :]
            self.fresh[...] = False
        window = buf[..., i + 1 : i + 1 + self.frames, :]
        return window.reshape(*window.shape[:-2], -1)  # a view: the window is contiguous per row

    def load(self, window: np.ndarray) -> None:
        """Continue from a stacked input `push` returned ([..., frames * frame_dim]): the next
        push appends to it (a resumed run carries on from its saved observation)."""
        frames = window.reshape(*window.shape[:-1], self.frames, -1)
        self._slot = self.frames - 1
        self.buf[..., : self.frames, :] = frames
        self.buf[..., self.frames :, :] = frames
        self.fresh[...] = False
