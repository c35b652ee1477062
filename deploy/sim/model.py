"""The simulated robot: a Menagerie MJCF with an IMU, terrain, start pose and the motor law.

Joint, actuator and qpos indices are all found by joint name from the robots spec (Menagerie
orders actuators by the body tree, the SDK by its own table). IMU sensors are added on the
model's `imu` site of `robot.imu_body`, so orientation, gyro and accelerometer follow the real
IMU's conventions: body-in-world quaternion (w, x, y, z), angular velocity and specific force in
the IMU frame (+9.81 on z when upright and still).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from robots.assets import model_xml
from robots.spec import RobotSpec

ROUGH_SIZE_M = 6.0  # half-extent of the rough patch
ROUGH_HEIGHT_M = 0.05  # peak bump height
ROUGH_CELLS = 96
BAND_STIFFNESS_N_M = 2000.0  # hoist: a stiff spring-damper holding the root at its spawn point
BAND_DAMPING_N_S_M = 300.0
LYING_SETTLE_S = 2.0  # "lying": dropped with motors off and settled this long before real time


@dataclass
class MotorCommand:
    """Per-joint LowCmd motor_cmd fields in SDK joint order (robot.joint_names)."""

    q: np.ndarray
    dq: np.ndarray
    tau: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    enabled: np.ndarray  # mode != 0

    @classmethod
    def zeros(cls, n: int) -> MotorCommand:
        z = np.zeros(n)
        return cls(z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), np.zeros(n, dtype=bool))


def _add_imu(spec: mujoco.MjSpec, robot: RobotSpec) -> None:
    body = spec.body(robot.imu_body)
    site = next((s for s in body.sites if s.name == "imu"), None)
    if site is None:  # no IMU site in the model: use the body origin
        site = body.add_site(name="imu")
    for kind, name in (
        (mujoco.mjtSensor.mjSENS_FRAMEQUAT, "imu_quat"),
        (mujoco.mjtSensor.mjSENS_GYRO, "imu_gyro"),
        (mujoco.mjtSensor.mjSENS_ACCELEROMETER, "imu_acc"),
    ):
        spec.add_sensor(name=name, type=kind, objtype=mujoco.mjtObj.mjOBJ_SITE, objname="imu")


def _add_rough(spec: mujoco.MjSpec, seed: int) -> None:
    spec.add_hfield(
        name="rough",
        size=[ROUGH_SIZE_M, ROUGH_SIZE_M, ROUGH_HEIGHT_M, 0.01],
        nrow=ROUGH_CELLS,
        ncol=ROUGH_CELLS,
        userdata=_rough_heights(np.random.default_rng(seed)).tolist(),
    )
    spec.worldbody.add_geom(
        name="rough", type=mujoco.mjtGeom.mjGEOM_HFIELD, hfieldname="rough", rgba=[0.4, 0.5, 0.4, 1]
    )


def _rough_heights(rng: np.random.Generator) -> np.ndarray:
    """Smooth random bumps in [0, 1], flat (0) in the middle so the robot spawns on level ground."""
    coarse = rng.random((ROUGH_CELLS // 8 + 1, ROUGH_CELLS // 8 + 1))
    fine = np.kron(coarse, np.ones((8, 8)))[:ROUGH_CELLS, :ROUGH_CELLS]
    axis = np.linspace(-1.0, 1.0, ROUGH_CELLS)
    radius = np.hypot(*np.meshgrid(axis, axis)) * ROUGH_SIZE_M
    return np.where(radius < 0.6, 0.0, fine).ravel()


class SimModel:
    """MuJoCo model + data with name-based maps between SDK joints and MuJoCo indices."""

    def __init__(
        self, robot: RobotSpec, terrain: str = "flat", seed: int = 0, contact: str = "menagerie"
    ) -> None:
        self.robot = robot
        spec = mujoco.MjSpec.from_file(str(model_xml(robot, "scene")))
        _add_imu(spec, robot)
        if contact == "training":
            from training.envs.model import ModelCfg, set_contact_solver

            set_contact_solver(spec, ModelCfg())
        if terrain == "rough":
            _add_rough(spec, seed)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self.dt_s = float(self.model.opt.timestep)
        self._build_maps()
        self.torque_limit_nm = np.array([j.torque_limit_nm for j in robot.joints])
        self.root_id = self.model.body(robot.root_body).id
        self.last_tau_nm = np.zeros(robot.num_joints)

    def _build_maps(self) -> None:
        m, names = self.model, self.robot.joint_names  # SDK order
        joint_ids = [m.joint(n).id for n in names]
        self.qpos_adr = np.array([m.jnt_qposadr[j] for j in joint_ids])
        self.dof_adr = np.array([m.jnt_dofadr[j] for j in joint_ids])
        by_joint = {int(m.actuator_trnid[a, 0]): a for a in range(m.nu)}
        missing = [n for n, j in zip(names, joint_ids, strict=True) if j not in by_joint]
        if missing:
            raise KeyError(f"{self.robot.name}: no actuator drives {missing}")
        self.actuator_ids = np.array([by_joint[j] for j in joint_ids])
        self.sensor_adr = {
            name: m.sensor_adr[m.sensor(name).id] for name in ("imu_quat", "imu_gyro", "imu_acc")
        }

    def reset(self, start: str) -> None:
        """Default (training) pose just above its standing height; "lying" then lets it collapse
        with the motors off (physically, whatever the robot) before real time starts."""
        d = self.data
        mujoco.mj_resetData(self.model, d)
        d.qpos[self.qpos_adr] = self.robot.values("default_q_rad", self.robot.joint_names)
        root_qpos = self.model.jnt_qposadr[self.model.body_jntadr[self.root_id]]
        d.qpos[root_qpos + 2] = self.robot.nominal_base_height_m + 0.01
        mujoco.mj_forward(self.model, d)
        self.band_anchor = d.xpos[self.root_id].copy()
        if start == "lying":
            for _ in range(round(LYING_SETTLE_S / self.dt_s)):
                mujoco.mj_step(self.model, d)
            d.time = 0.0

    @property
    def q_rad(self) -> np.ndarray:
        return self.data.qpos[self.qpos_adr]

    @property
    def dq_rad_s(self) -> np.ndarray:
        return self.data.qvel[self.dof_adr]

    def motor_law(self, cmd: MotorCommand) -> np.ndarray:
        """tau + kp (q* - q) + kd (dq* - dq), stop sentinels honoured, clipped to motor limits."""
        q, dq = self.q_rad, self.dq_rad_s
        pos_on = np.abs(cmd.q) < 1.0e9  # POS_STOP = 2.146e9 disables the position term
        vel_on = np.abs(cmd.dq) < 1.0e4  # VEL_STOP = 16000 disables the velocity target
        tau = (
            cmd.tau
            + np.where(pos_on, cmd.kp * (cmd.q - q), 0.0)
            + cmd.kd * (np.where(vel_on, cmd.dq, 0.0) - dq)
        )
        tau = np.where(cmd.enabled, tau, 0.0)
        return np.clip(tau, -self.torque_limit_nm, self.torque_limit_nm)

    def imu(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """IMU quaternion (w, x, y, z), gyro (rad/s), accelerometer (m/s^2) from the sensors."""
        s, a = self.data.sensordata, self.sensor_adr
        return (
            s[a["imu_quat"] : a["imu_quat"] + 4],
            s[a["imu_gyro"] : a["imu_gyro"] + 3],
            s[a["imu_acc"] : a["imu_acc"] + 3],
        )

    def band_force(self) -> np.ndarray:
        """Elastic band (hoist) force on the root body toward its spawn point."""
        d = self.data
        root_qvel = self.model.jnt_dofadr[self.model.body_jntadr[self.root_id]]
        velocity = d.qvel[root_qvel : root_qvel + 3]
        return BAND_STIFFNESS_N_M * (self.band_anchor - d.xpos[self.root_id]) - (
            BAND_DAMPING_N_S_M * velocity
        )

    def truth(self) -> dict[str, list[float] | float]:
        """Ground truth for tests and tools (world frame unless stated)."""
        d = self.data
        root_qvel = self.model.jnt_dofadr[self.model.body_jntadr[self.root_id]]
        rot = d.xmat[self.root_id].reshape(3, 3)
        lin_w = d.qvel[root_qvel : root_qvel + 3]
        return {
            "time_s": float(d.time),
            "base_pos_m": d.xpos[self.root_id].tolist(),
            "base_height_m": float(d.xpos[self.root_id][2]),
            "base_quat_wxyz": d.xquat[self.root_id].tolist(),
            "base_lin_vel_world_m_s": lin_w.tolist(),
            "base_lin_vel_body_m_s": (rot.T @ lin_w).tolist(),
            "base_ang_vel_body_rad_s": d.qvel[root_qvel + 3 : root_qvel + 6].tolist(),
            "q_rad": self.q_rad.tolist(),  # SDK joint order (robot.joint_names)
            "tau_nm": self.last_tau_nm.tolist(),
        }
