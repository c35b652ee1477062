"""Compile a robot's Menagerie scene into the training model, and the name-based index maps into it.

Changes made through MjSpec (the Menagerie files stay untouched):
- every actuator becomes a PD position servo, torque = kp (target - q) - kd q_dot clipped to the
  torque limit, so the PD runs inside MuJoCo's C step at every physics step and ctrl = target;
- robot self-collisions off (IsaacLab's Unitree assets disable them), which also saves time;
- links Menagerie merged into another body but IsaacLab's asset keeps (`RobotSpec.merged_links`,
  Go2's head) become welded, massless bodies holding their collision geom, so contact sensors
  match bodies as IsaacLab's do;
- sensors for what the task needs every physics step: net contact force on each foot and on each
  base-contact body, world linear velocity of each foot;
- on rough terrain the floor plane is replaced by the generated height field, and the stairs'
  boxes are added (`Terrain.boxes`: vertical risers, as IsaacLab's meshes).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from robots.assets import model_xml
from robots.spec import RobotSpec, indices_of
from training.envs.terrain import Terrain

_INTEGRATORS = {
    "euler": mujoco.mjtIntegrator.mjINT_EULER,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
    "rk4": mujoco.mjtIntegrator.mjINT_RK4,
}
_CONES = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL, "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}
# Contact sensor intprm: data = found (1) | force (2), reduced to the net force over all contacts.
_CONTACT_FOUND_FORCE = 1 | 2
_CONTACT_REDUCE_NETFORCE = 3
ROBOT_CONTYPE = 2  # robot geoms collide with the ground (contype 1) but not with each other


@dataclass(frozen=True)
class ModelCfg:
    """How the MuJoCo model is built from the robot spec."""

    integrator: str = "implicitfast"
    """euler, implicitfast or rk4. implicitfast treats the PD's kd term implicitly (stable)."""
    # Solver defaults: IsaacLab 3.0's MuJoCo-Warp preset (pyramidal cone, impratio 1). Menagerie's
    # Go2 asks for elliptic cones with impratio 100, which stepped ~5x slower with moving feet
    # on the 2-core CPU; a converged Newton solve needs few iterations.
    cone: str = "pyramidal"
    """Friction cone: pyramidal, elliptic, or "model" to keep the Menagerie file's."""
    impratio: float = 1.0
    """Frictional-to-normal impedance ratio; 0 keeps the model's."""
    iterations: int = 10
    """Constraint solver iterations; 0 keeps the model's."""
    ls_iterations: int = 10
    """Solver line-search iterations; 0 keeps the model's."""
    torque_limit_nm: float = 0.0
    """Cap on every motor torque; 0 uses each joint's spec torque_limit_nm."""
    self_collisions: bool = False
    """Keep collisions between the robot's own bodies (IsaacLab: off)."""


# The ModelCfg values that keep the model file's contact solver (its sentinels, above):
# robots.assets.CONTACT_MODELS' "menagerie", as genpo-sim runs it by default.
MODEL_FILE_SOLVER = {"cone": "model", "impratio": 0, "iterations": 0, "ls_iterations": 0}


@dataclass
class CompiledModel:
    """The MjModel and every index the backend needs, all resolved by name."""

    model: mujoco.MjModel
    qpos_adr: np.ndarray  # [num_joints] qpos address of each policy joint
    dof_adr: np.ndarray  # [num_joints] qvel address of each policy joint
    actuator_ids: np.ndarray  # [num_joints] actuator of each policy joint
    foot_force_adr: np.ndarray  # [num_feet] sensordata address of each foot's net force (3)
    base_force_adr: np.ndarray  # [num_base_bodies] likewise for the base-contact bodies
    link_force_adr: np.ndarray  # [num_merged_links] likewise for RobotSpec.merged_links' bodies
    foot_vel_adr: np.ndarray  # [num_feet] sensordata address of each foot's world velocity (3)
    base_body_id: int  # root body (carries the free joint)


def compile_model(
    robot: RobotSpec,
    cfg: ModelCfg,
    sim_dt: float,
    terrain: Terrain | None = None,
) -> CompiledModel:
    """Build the training model of `robot` (see module docstring)."""
    spec = mujoco.MjSpec.from_file(str(model_xml(robot, "scene")))
    spec.option.timestep = sim_dt
    spec.option.integrator = _INTEGRATORS[cfg.integrator]
    set_contact_solver(spec, cfg)
    _make_pd_actuators(spec, robot, cfg.torque_limit_nm)
    if not cfg.self_collisions:
        _drop_self_collisions(spec)
    split_merged_links(spec, robot)
    if terrain is not None:
        _add_height_field(spec, terrain)
    feet = _foot_objects(robot)
    for i, (objtype, name) in enumerate(feet):
        _contact_sensor(spec, f"foot_force_{i}", objtype, name)
        _frame_sensor(spec, f"foot_vel_{i}", mujoco.mjtSensor.mjSENS_FRAMELINVEL, objtype, name)
    for i, body in enumerate(robot.base_contact_bodies):
        _contact_sensor(spec, f"base_force_{i}", mujoco.mjtObj.mjOBJ_BODY, body)
    for i, link in enumerate(robot.merged_links):
        _contact_sensor(spec, f"link_force_{i}", mujoco.mjtObj.mjOBJ_BODY, link.name)
    model = spec.compile()
    if terrain is not None:
        _clip_planes(model)
    return _index(model, robot, len(feet))


# Absolute clip planes of a camera on a terrain model (genpo-eval --video).
NEAR_CLIP_M, FAR_CLIP_M = 0.01, 200.0


def _clip_planes(model: mujoco.MjModel) -> None:
    """MuJoCo's clip planes are fractions of the model's extent, which a terrain grid makes
    ~230 m: the default near plane (0.01 of it) would be 2.3 m away and cut the robot out of
    any camera closer than that. Visual only."""
    model.vis.map.znear = NEAR_CLIP_M / model.stat.extent
    model.vis.map.zfar = FAR_CLIP_M / model.stat.extent


def set_contact_solver(spec: mujoco.MjSpec, cfg: ModelCfg) -> None:
    """Friction cone, impratio and solver iterations of `cfg` ("model" / 0 keep the file's).
    genpo-sim --contact training applies the same, to separate contact physics from the rest."""
    if cfg.cone != "model":
        spec.option.cone = _CONES[cfg.cone]
    if cfg.impratio > 0:
        spec.option.impratio = cfg.impratio
    if cfg.iterations > 0:
        spec.option.iterations = cfg.iterations
    if cfg.ls_iterations > 0:
        spec.option.ls_iterations = cfg.ls_iterations


def _make_pd_actuators(spec: mujoco.MjSpec, robot: RobotSpec, torque_cap_nm: float) -> None:
    for act in spec.actuators:
        joint = robot.joint(act.target)
        limit = joint.torque_limit_nm if torque_cap_nm <= 0 else torque_cap_nm
        act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        act.gainprm[0] = joint.kp
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        act.biasprm[0] = 0.0
        act.biasprm[1] = -joint.kp
        act.biasprm[2] = -joint.kd
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-limit, limit]


def _drop_self_collisions(spec: mujoco.MjSpec) -> None:
    # Robot-robot pairs need (contype & conaffinity) != 0 one way: 2 & 1 == 0 both ways, while
    # the ground (contype 1, conaffinity 1) still meets 1 & 1 with every robot geom.
    for geom in spec.worldbody.find_all(mujoco.mjtObj.mjOBJ_GEOM):
        if geom.parent.name == "world" or geom.parent.name == "":
            continue
        if geom.contype or geom.conaffinity:
            geom.contype = ROBOT_CONTYPE
            geom.conaffinity = 1


# What a collision geom carries over when it moves to another body (its pose is set anew).
_GEOM_FIELDS = (
    "type", "size", "quat", "contype", "conaffinity", "condim", "priority", "friction",
    "solmix", "solref", "solimp", "margin", "gap", "group", "rgba",
)  # fmt: skip


def split_merged_links(spec: mujoco.MjSpec, robot: RobotSpec) -> None:
    """Move each merged link's collision geom onto a body of its own, welded where it was.

    The new body has no joint and no mass (the merged body's inertial stays as the file states
    it), so the dynamics are unchanged; only which body a contact belongs to changes.
    """
    for link in robot.merged_links:
        parent = spec.body(link.merged_into)
        found = [
            g
            for g in (parent.geoms if parent is not None else [])
            if (g.contype or g.conaffinity) and np.allclose(g.pos, link.geom_pos, atol=1e-6)
        ]
        if len(found) != 1:
            raise ValueError(
                f"{robot.name}: merged link {link.name!r} expects one collision geom of body "
                f"{link.merged_into!r} at {link.geom_pos}, found {len(found)}"
            )
        geom = found[0]
        body = parent.add_body(name=link.name, pos=list(geom.pos))
        moved = body.add_geom()
        for field in _GEOM_FIELDS:
            setattr(moved, field, getattr(geom, field))
        moved.pos = [0.0, 0.0, 0.0]
        moved.mass = 0.0
        spec.delete(geom)


def _add_height_field(spec: mujoco.MjSpec, terrain: Terrain) -> None:
    floor = spec.geom("floor")
    if floor is not None:
        spec.delete(floor)
    heights = terrain.collision_heights_m
    low, high = float(heights.min()), float(heights.max())
    elevation = max(high - low, 1e-3)
    size_x, size_y = terrain.extent_m
    field = spec.add_hfield()
    field.name = "terrain"
    field.nrow, field.ncol = heights.shape
    field.size = [size_x / 2, size_y / 2, elevation, 1.0]
    field.userdata = ((heights - low) / elevation).astype(np.float32).reshape(-1).tolist()
    spec.worldbody.add_geom(
        name="floor",
        type=mujoco.mjtGeom.mjGEOM_HFIELD,
        hfieldname="terrain",
        pos=[size_x / 2, size_y / 2, low],
        contype=1,
        conaffinity=1,
    )
    for i, box in enumerate(terrain.boxes):
        spec.worldbody.add_geom(
            name=f"stairs_{i}",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=box[:3].tolist(),
            size=box[3:].tolist(),
            contype=1,
            conaffinity=1,
        )


def _foot_objects(robot: RobotSpec) -> list[tuple[mujoco.mjtObj, str]]:
    """Each foot as the MuJoCo object that carries its collision: a named geom, else a body."""
    geoms = getattr(robot, "foot_geoms", ())
    if geoms:
        return [(mujoco.mjtObj.mjOBJ_GEOM, g) for g in geoms]
    return [(mujoco.mjtObj.mjOBJ_BODY, b) for b in robot.foot_bodies]


def _contact_sensor(spec: mujoco.MjSpec, name: str, objtype: mujoco.mjtObj, obj: str) -> None:
    sensor = spec.add_sensor()
    sensor.name = name
    sensor.type = mujoco.mjtSensor.mjSENS_CONTACT
    sensor.objtype = objtype
    sensor.objname = obj
    sensor.intprm[0] = _CONTACT_FOUND_FORCE
    sensor.intprm[1] = _CONTACT_REDUCE_NETFORCE
    sensor.intprm[2] = 1  # one (reduced) contact slot


def _frame_sensor(
    spec: mujoco.MjSpec, name: str, kind: mujoco.mjtSensor, objtype: mujoco.mjtObj, obj: str
) -> None:
    sensor = spec.add_sensor()
    sensor.name = name
    sensor.type = kind
    sensor.objtype = objtype
    sensor.objname = obj


def _index(model: mujoco.MjModel, robot: RobotSpec, num_feet: int) -> CompiledModel:
    names = robot.policy_joint_names
    joint_ids = np.array([model.joint(n).id for n in names])
    actuator_joints = [model.joint(model.actuator_trnid[a, 0]).name for a in range(model.nu)]

    def adr(name: str, offset: int = 0) -> int:
        return int(model.sensor_adr[model.sensor(name).id]) + offset

    # Contact sensors write [found, fx, fy, fz]: the force starts one slot in.
    return CompiledModel(
        model=model,
        qpos_adr=model.jnt_qposadr[joint_ids].astype(np.int64),
        dof_adr=model.jnt_dofadr[joint_ids].astype(np.int64),
        actuator_ids=indices_of(names, actuator_joints),
        foot_force_adr=np.array([adr(f"foot_force_{i}", 1) for i in range(num_feet)]),
        base_force_adr=np.array(
            [adr(f"base_force_{i}", 1) for i in range(len(robot.base_contact_bodies))]
        ),
        link_force_adr=np.array(
            [adr(f"link_force_{i}", 1) for i in range(len(robot.merged_links))], dtype=np.int64
        ),
        foot_vel_adr=np.array([adr(f"foot_vel_{i}") for i in range(num_feet)]),
        base_body_id=model.body(robot.root_body).id,
    )
