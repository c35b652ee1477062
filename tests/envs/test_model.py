"""The training model as IsaacLab's scene has it: the links Menagerie merged split back out, and
stairs with vertical risers."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import pytest

from robots import GO2
from robots.assets import model_xml
from robots.spec import MergedLink
from training.envs.model import CompiledModel, ModelCfg, compile_model
from training.envs.terrain import STAIR_TYPES, Terrain, TerrainCfg, stair_rings

SIM_DT = 0.005


def _collision_geoms(model: mujoco.MjModel, body: str) -> list[int]:
    bid = model.body(body).id
    return [
        g
        for g in range(model.ngeom)
        if model.geom_bodyid[g] == bid and (model.geom_contype[g] or model.geom_conaffinity[g])
    ]


def _base_force(compiled: CompiledModel, pitch_rad: float, base_z: float) -> float:
    """Net contact force on the base body with the robot pitched by `pitch_rad` (positive: nose
    down) at `base_z`, its legs folded (thighs -1.5 front / -0.5 rear, calves -2.7) so that
    nose-down the head alone touches the floor (legs in contact would take the load)."""
    model = compiled.model
    data = mujoco.MjData(model)
    for leg in ("FL", "FR", "RL", "RR"):
        data.joint(f"{leg}_thigh_joint").qpos = -1.5 if leg[0] == "F" else -0.5
        data.joint(f"{leg}_calf_joint").qpos = -2.7
    data.qpos[2] = base_z
    data.qpos[3:7] = [np.cos(pitch_rad / 2), 0.0, np.sin(pitch_rad / 2), 0.0]
    mujoco.mj_forward(model, data)
    adr = compiled.base_force_adr[0]
    return float(np.linalg.norm(data.sensordata[adr : adr + 3]))


def test_go2_head_links_are_bodies_of_their_own_welded_to_the_base() -> None:
    compiled = compile_model(GO2, ModelCfg(), SIM_DT)
    model = compiled.model
    base = model.body("base").id
    file_model = mujoco.MjModel.from_xml_path(str(model_xml(GO2, "scene")))
    # Dynamics untouched: same mass everywhere, the new bodies are massless and jointless.
    assert model.body_subtreemass[base] == pytest.approx(
        file_model.body_subtreemass[file_model.body("base").id], abs=1e-12
    )
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    for link in GO2.merged_links:
        body = model.body(link.name).id
        assert model.body_weldid[body] == base and model.body_mass[body] == 0.0
        (geom,) = _collision_geoms(model, link.name)
        offset = data.geom_xpos[geom] - data.xpos[base]
        assert offset == pytest.approx(np.array(link.geom_pos), abs=1e-9)
    # What stays on "base" (IsaacLab's base-contact body) is the trunk box alone.
    (trunk,) = _collision_geoms(model, "base")
    assert model.geom_type[trunk] == mujoco.mjtGeom.mjGEOM_BOX


def test_a_chin_on_the_ground_is_not_base_contact_but_the_trunk_is() -> None:
    split = compile_model(GO2, ModelCfg(), SIM_DT)
    merged = compile_model(dataclasses.replace(GO2, merged_links=()), ModelCfg(), SIM_DT)
    # Pitched 30 deg nose-down: the chin sphere's bottom sits 0.2455 m under the base origin and
    # the trunk box's lowest corner 0.1434 m; at 0.235 the chin presses ~1 cm into the floor.
    pitch = np.radians(30.0)
    assert _base_force(merged, pitch, 0.235) > 1.0  # Menagerie's merged head: a "base contact"
    assert _base_force(split, pitch, 0.235) == 0.0
    # Nose-up by 30 deg the trunk's rear-bottom edge (0.1434 m under the origin) is the lowest
    # point: on the floor, it still ends the episode.
    assert _base_force(split, -pitch, 0.135) > 1.0


def test_a_merged_link_that_matches_no_geom_is_refused_by_name() -> None:
    wrong = dataclasses.replace(
        GO2, merged_links=(MergedLink("Head_lower", "base", (0.3, 0.0, -0.06)),)
    )
    with pytest.raises(ValueError, match="Head_lower"):
        compile_model(wrong, ModelCfg(), SIM_DT)


def _surface(model: mujoco.MjModel, data: mujoco.MjData, x: float, y: float) -> float:
    """Height of the first static surface under (x, y), by a ray cast down from 5 m."""
    geom = np.zeros(1, np.int32)
    dist = mujoco.mj_ray(model, data, np.array([x, y, 5.0]), np.array([0.0, 0.0, -1.0]),
                         None, 1, -1, geom)  # fmt: skip
    return 5.0 - dist


@pytest.mark.parametrize("kind", STAIR_TYPES)
def test_stairs_have_vertical_risers_and_flat_treads(kind: str) -> None:
    """Every point of a stair tile is as high as the sample it belongs to (the level of a point
    is that of the sample whose ring it is inside), up to 7 cm from that sample toward the tile
    centre, i.e. within 3 cm of the next riser: a height field alone ramps there."""
    cfg = TerrainCfg(num_rows=2, num_cols=10)
    terrain = Terrain(cfg, np.random.default_rng(0))
    model = compile_model(GO2, ModelCfg(), SIM_DT, terrain).model
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    h = cfg.horizontal_scale_m
    col = terrain.col_types.index(kind)
    ox, oy, _ = terrain.origins[1, col]
    offsets = np.round(np.arange(-3.9, 3.95, h), 6)
    for dx in offsets:
        for dy in offsets:
            ring = max(abs(dx), abs(dy))
            if ring == 0.0:
                continue
            # 7 cm inward along the axis that sets the ring, 1.3 cm along the other (off the
            # field's cell edges, where a ray may slip between triangles)
            step_x = 0.07 if abs(dx) == ring else 0.013
            step_y = 0.07 if abs(dy) == ring else 0.013
            x, y = ox + dx - step_x * np.sign(dx), oy + dy - step_y * np.sign(dy)
            want = terrain.heights_m[round((oy + dy) / h), round((ox + dx) / h)]
            assert _surface(model, data, x, y) == pytest.approx(want, abs=1e-3), (dx, dy)
    # and a riser is vertical: 2 cm either side of the first one, the full rise apart
    _, half = stair_rings(cfg)
    rise = abs(terrain.heights_m[round(oy / h), round((ox + half[0]) / h)])
    below, above = (_surface(model, data, ox + half[0] + s, oy + 0.013) for s in (0.02, -0.02))
    assert abs(above - below) == pytest.approx(rise, abs=1e-3) and rise > 0.04


def test_height_at_on_stairs_is_the_surface_a_ray_hits() -> None:
    """The height scan's ground (Terrain.height_at) on stair tiles equals a MuJoCo ray cast on
    the compiled boxes at 2,000 random points of every stair tile, risers included (bilinear
    samples would be off by up to a rise within a cell of each riser); off the stairs it stays
    the field's samples."""
    cfg = TerrainCfg(num_rows=3, num_cols=10)
    terrain = Terrain(cfg, np.random.default_rng(1))
    model = compile_model(GO2, ModelCfg(), SIM_DT, terrain).model
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(2)
    cols = [c for c, k in enumerate(terrain.col_types) if k in STAIR_TYPES]
    row, col = rng.integers(0, cfg.num_rows, 2000), rng.choice(cols, 2000)
    centre = terrain.origins[row, col, :2]
    xy = centre + rng.uniform(-cfg.size_m / 2 + 0.01, cfg.size_m / 2 - 0.01, (2000, 2))
    got = terrain.height_at(xy[:, 0], xy[:, 1])
    want = np.array([_surface(model, data, x, y) for x, y in xy])
    np.testing.assert_allclose(got, want, atol=1e-3)
    h = cfg.horizontal_scale_m
    near_riser = np.abs(got - terrain.height_at(xy[:, 0] + h, xy[:, 1])) > 0.04
    assert near_riser.sum() > 100  # the points include many a cell from a riser
    flat = terrain.col_types.index("random_rough")
    iy, ix = (np.round(terrain.origins[1, flat, [1, 0]] / h) + 3).astype(int)
    assert terrain.height_at(np.array([ix * h]), np.array([iy * h]))[0] == pytest.approx(
        terrain.heights_m[iy, ix]
    )


def test_a_terrain_models_cameras_clip_at_fixed_distances() -> None:
    """MuJoCo scales the clip planes by the model's extent (~200 m with a terrain grid): without
    the fix the near plane sat 2 m out and a genpo-eval video on rough terrain lost the robot."""
    terrain = Terrain(TerrainCfg(), np.random.default_rng(0))
    model = compile_model(GO2, ModelCfg(), SIM_DT, terrain).model
    assert model.stat.extent > 100.0
    assert model.vis.map.znear * model.stat.extent == pytest.approx(0.01)
    assert model.vis.map.zfar * model.stat.extent == pytest.approx(200.0)
    flat = compile_model(GO2, ModelCfg(), SIM_DT).model  # the model file's own planes stay
    assert flat.vis.map.znear == pytest.approx(0.01) and flat.vis.map.zfar == pytest.approx(50.0)
