"""N MuJoCo simulations of one model, stepped in C on a thread pool by `mujoco.batch.Batch`
(MuJoCo >= 4; training/envs/batch.py steps them per env on MuJoCo 3.x).

One policy step is one `Batch.rollout` of `decimation` physics steps: the joint targets of every
physics step go in as the control sequence (so action latency below a policy step costs nothing),
and the sensors (foot / base contact forces, foot velocities) come back for every physics step,
which the contact timers and contact history need. Everything is exchanged in policy joint order;
the name-based maps of `CompiledModel` translate to MuJoCo's qpos / qvel / actuator order.
"""

from __future__ import annotations

import time

import mujoco
import numpy as np

from training.envs.batch import SimulationError, make_batch
from training.envs.model import CompiledModel


class MujocoBackend:
    """State views and stepping for `num_envs` simulations; reads return fresh arrays or views."""

    def __init__(
        self, compiled: CompiledModel, num_envs: int, decimation: int, num_threads: int = 0
    ) -> None:
        self.compiled = compiled
        self.model = compiled.model
        self.num_envs = num_envs
        self.decimation = decimation
        self.batch = make_batch(self.model, num_envs, num_threads)
        self.qpos = self.batch.bind("qpos")  # [N, nq] live views of the state rows
        self.qvel = self.batch.bind("qvel")
        self._qacc = self.batch.bind("qacc")  # outputs of the last physics step
        self._actuator_force = self.batch.bind("actuator_force")
        self._control = np.zeros((num_envs, decimation, self.model.nu))
        self._record = {"sensordata": np.zeros((num_envs, decimation, self.model.nsensordata))}
        self._contact_adr = {  # contact_forces(which): sensordata addresses of each group
            "feet": compiled.foot_force_adr,
            "base": compiled.base_force_adr,
            "links": compiled.link_force_adr,
        }
        self.failed = np.zeros(num_envs, dtype=bool)
        self._warnings = self._warning_counts()
        self.physics_time_s = 0.0  # wall time inside MuJoCo's rollout (benchmarks read it)

    # ----- stepping --------------------------------------------------------------------------

    def step(self, targets: np.ndarray) -> None:
        """Run one policy step. targets [N, decimation, J]: joint targets of each physics step."""
        self._control[:, :, self.compiled.actuator_ids] = targets
        self.failed[:] = False
        start = time.perf_counter()
        try:
            self.batch.rollout(
                self.decimation, control=self._control, record=("sensordata",), out=self._record
            )
        except SimulationError as exc:
            # The failed simulations kept their previous state; the task resets them.
            self.failed[exc.ids] = True
        self.physics_time_s += time.perf_counter() - start
        # A simulation whose warning counters rise (e.g. unstable qacc) stops stepping.
        warnings = self._warning_counts()
        self.failed |= (self.batch.status != 0) | (warnings > self._warnings)
        self._warnings = warnings
        self.failed |= ~np.isfinite(self.qvel).all(axis=1)

    def reset(self, ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Reset envs `ids` (sorted) to full states qpos [n, nq], qvel [n, nv]."""
        if len(ids) == 0:
            return
        # Clears warm-start, controls and time; no forward pass: the next rollout computes it.
        self.batch.reset(ids, stage=mujoco.mjtStage.mjSTAGE_NONE)
        self.qpos[ids] = qpos
        self.qvel[ids] = qvel
        self._warnings[ids] = self._warning_counts()[ids]

    def _warning_counts(self) -> np.ndarray:
        return self.batch.warning[:, :, 1].sum(axis=1)

    # ----- reads (policy joint order) --------------------------------------------------------

    @property
    def root_pos(self) -> np.ndarray:
        return self.qpos[:, 0:3]

    @property
    def root_quat(self) -> np.ndarray:
        return self.qpos[:, 3:7]

    @property
    def root_lin_vel_w(self) -> np.ndarray:
        """[N, 3] world-frame linear velocity of the root frame origin."""
        return self.qvel[:, 0:3]

    @property
    def root_ang_vel_b(self) -> np.ndarray:
        """[N, 3] angular velocity in the root body frame (MuJoCo's free-joint convention)."""
        return self.qvel[:, 3:6]

    @property
    def joint_pos(self) -> np.ndarray:
        return self.qpos[:, self.compiled.qpos_adr]

    @property
    def joint_vel(self) -> np.ndarray:
        return self.qvel[:, self.compiled.dof_adr]

    @property
    def joint_acc(self) -> np.ndarray:
        """[N, J] joint accelerations of the last physics step."""
        return self._qacc[:, self.compiled.dof_adr]

    @property
    def torques(self) -> np.ndarray:
        """[N, J] applied (force-range clipped) motor torques of the last physics step."""
        return self._actuator_force[:, self.compiled.actuator_ids]

    def contact_forces(self, which: str) -> np.ndarray:
        """[N, decimation, K] net contact force norms per physics step of "feet", "base" or
        "links" (RobotSpec.merged_links)."""
        return self._vector_sensor(self._contact_adr[which])

    def foot_vel_w(self) -> np.ndarray:
        """[N, F, 3] world linear velocity of each foot at the last physics step."""
        data = self._record["sensordata"][:, -1]
        return np.stack([data[:, a : a + 3] for a in self.compiled.foot_vel_adr], axis=1)

    def _vector_sensor(self, adr: np.ndarray) -> np.ndarray:
        data = self._record["sensordata"]
        cols = adr[:, None] + np.arange(3)  # [K, 3]
        forces = data[:, :, cols]  # [N, decimation, K, 3]
        return np.sqrt(np.sum(forces**2, axis=-1))

    def clear_sensors(self, ids: np.ndarray) -> None:
        """Forget the recorded sensors of freshly reset envs (no contact, zero velocity)."""
        self._record["sensordata"][ids] = 0.0

    # ----- domain randomisation of model fields (per env) ------------------------------------

    def set_friction(self, friction: np.ndarray) -> None:
        """Sliding friction [N] of every geom (ground and robot alike)."""
        self.batch.expand("geom_friction")[:, :, 0] = friction[:, None]

    def add_body_mass(self, body_id: int, delta_kg: np.ndarray) -> None:
        masses = self.batch.expand("body_mass")
        masses[:, body_id] = self.model.body_mass[body_id] + delta_kg

    def scale_gains(self, scale: np.ndarray) -> None:
        """Scale kp and kd of each env and policy joint by scale [N, J]."""
        gain = self.batch.expand("actuator_gainprm")
        bias = self.batch.expand("actuator_biasprm")
        ids = self.compiled.actuator_ids
        gain[:, ids, 0] = self.model.actuator_gainprm[ids, 0] * scale
        bias[:, ids, 1] = self.model.actuator_biasprm[ids, 1] * scale
        bias[:, ids, 2] = self.model.actuator_biasprm[ids, 2] * scale

    def apply_model_changes(self) -> None:
        """Recompute the constants derived from masses (call once after the setters)."""
        self.batch.set_const()
