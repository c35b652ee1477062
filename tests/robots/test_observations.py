"""The observation term table and ObservationLayout: widths, compute, clip -> scale, refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from common.errors import UserError
from robots import GO2, H1
from robots.contract import ActionMap, ObsTerm, make_contract
from robots.frames import projected_gravity
from robots.observations import (
    HEIGHT_SCAN_DIM,
    TERM_BY_NAME,
    TERMS,
    ObservationHistory,
    ObservationLayout,
    ObservedState,
)


@pytest.mark.parametrize("robot", [GO2, H1])
@pytest.mark.parametrize("terrain", ["flat", "rough"])
def test_contract_terms_are_the_table_rows(robot, terrain) -> None:
    c = make_contract(robot, terrain)
    expected = [t for t in TERMS if terrain in t.terrains]
    assert [t.name for t in c.critic_terms] == [t.name for t in expected]
    assert [t.name for t in c.obs_terms] == [t.name for t in expected if t.deployable]
    n = robot.num_joints
    widths = {"base_lin_vel": 3, "base_ang_vel": 3, "projected_gravity": 3,
              "velocity_commands": 3, "joint_pos": n, "joint_vel": n, "actions": n,
              "height_scan": HEIGHT_SCAN_DIM}  # fmt: skip
    for term in c.critic_terms:
        row = TERM_BY_NAME[term.name]
        assert term.dim == widths[term.name]
        assert (term.clip, term.scale, term.deployable) == (row.clip, row.scale, row.deployable)


def _state(rng: np.random.Generator, shape: tuple[int, ...], n: int) -> ObservedState:
    quat = rng.normal(size=(*shape, 4))
    return ObservedState(
        quat_wxyz=quat,
        gyro_rad_s=rng.normal(size=(*shape, 3)),
        command=rng.normal(size=(*shape, 3)),
        q_rad=rng.normal(size=(*shape, n)),
        dq_rad_s=rng.normal(size=(*shape, n)) * 80.0,  # some beyond the 100 clip
        last_action=rng.normal(size=(*shape, n)),
        lin_vel_b_m_s=rng.normal(size=(*shape, 3)),
        height_scan_m=rng.normal(size=(*shape, HEIGHT_SCAN_DIM)),
    )


def test_compute_writes_each_term_from_the_state_in_contract_order() -> None:
    c = make_contract(H1, "rough")
    layout = ObservationLayout(c, critic=True)
    s = _state(np.random.default_rng(0), (4,), c.num_actions)
    raw = layout.compute(s, np.zeros((4, layout.dim)))
    sl = c.obs_slices(critic=True)
    default_q = np.array(c.action.offset)
    expected = {
        "base_lin_vel": s.lin_vel_b_m_s, "base_ang_vel": s.gyro_rad_s,
        "projected_gravity": projected_gravity(s.quat_wxyz), "velocity_commands": s.command,
        "joint_pos": s.q_rad - default_q, "joint_vel": s.dq_rad_s, "actions": s.last_action,
        "height_scan": s.height_scan_m,
    }  # fmt: skip
    for name, value in expected.items():
        np.testing.assert_array_equal(raw[:, sl[name]], value)


def test_one_state_equals_the_batch_row() -> None:
    c = make_contract(GO2, "flat")
    layout = ObservationLayout(c)
    batch = _state(np.random.default_rng(1), (3,), c.num_actions)
    rows = layout.clip_scale(layout.compute(batch, np.zeros((3, layout.dim))))
    for i in range(3):
        one = ObservedState(*(None if v is None else v[i] for v in dataclasses.astuple(batch)))
        single = layout.clip_scale(layout.compute(one, np.zeros(layout.dim)))
        np.testing.assert_allclose(single, rows[i], rtol=0, atol=1e-15)


def test_clip_then_scale_per_term() -> None:
    c = make_contract(GO2, "flat")
    terms = tuple(
        dataclasses.replace(t, scale=0.5, clip=2.0) if t.name == "joint_vel" else t
        for t in c.obs_terms
    )
    c = dataclasses.replace(c, obs_terms=terms)
    layout = ObservationLayout(c)
    raw = np.full(c.obs_dim, 150.0)
    out = layout.clip_scale(raw)
    sl = c.obs_slices()
    np.testing.assert_array_equal(out[sl["joint_vel"]], 1.0)  # clip to 2 first, then x 0.5
    np.testing.assert_array_equal(out[sl["joint_pos"]], 100.0)  # the default clip, scale 1
    assert raw[0] == 150.0  # the input is left alone unless passed as `out`


def test_noise_and_delay_columns_come_from_the_table() -> None:
    c = make_contract(GO2, "rough")
    layout = ObservationLayout(c, critic=True)
    for name, sl in c.obs_slices(critic=True).items():
        assert (layout.noise[sl] == TERM_BY_NAME[name].noise).all()
        assert (layout.delayed[sl] == TERM_BY_NAME[name].delayed).all()
    undelayed = {t.name for t in TERMS if not t.delayed}
    assert undelayed == {"velocity_commands", "actions"}  # the policy knows them itself


def test_layout_refuses_unknown_terms_wrong_widths_and_privileged_ones_on_the_robot() -> None:
    c = make_contract(GO2, "flat")
    unknown = dataclasses.replace(c, obs_terms=(ObsTerm("foot_heights", 4),))
    with pytest.raises(UserError, match="'foot_heights'"):
        ObservationLayout(unknown)
    wide = dataclasses.replace(c, obs_terms=(ObsTerm("joint_pos", 13),))
    with pytest.raises(UserError, match="has 13 values in the policy contract but 12"):
        ObservationLayout(wide)
    privileged = dataclasses.replace(c, obs_terms=c.critic_terms[:1])
    ObservationLayout(privileged)  # training computes it (the critic reads it)
    with pytest.raises(UserError, match="cannot provide"):
        ObservationLayout(privileged, deployable_only=True)


def test_targets_offset_scale_and_clip() -> None:
    a = ActionMap(joint_names=("a", "b", "c"), scale=0.25, offset=(1.0, -1.0, 0.5), clip=2.0)
    action = np.array([1.0, -8.0, 8.0], dtype=np.float32)
    np.testing.assert_allclose(a.targets(action), [1.25, -1.5, 1.0])
    out = np.empty(3)
    assert a.targets(action, out=out) is out
    unclipped = dataclasses.replace(a, clip=None)
    np.testing.assert_allclose(unclipped.targets(action), [1.25, -3.0, 2.5])
    batch = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 4.0]])
    np.testing.assert_allclose(a.targets(batch), [[1.0, -1.0, 0.5], [1.5, -0.5, 1.0]])
    assert action[1] == -8.0  # the policy's output is not clipped in place


def test_history_is_the_last_frames_oldest_first_and_refills_on_restart() -> None:
    h = ObservationHistory(frames=3, frame_dim=2)
    f = [np.array([i, 10.0 * i]) for i in range(1, 6)]
    np.testing.assert_array_equal(h.push(f[0]), np.tile(f[0], 3))  # a start fills every frame
    np.testing.assert_array_equal(h.push(f[1]), np.concatenate([f[0], f[0], f[1]]))
    np.testing.assert_array_equal(h.push(f[2]), np.concatenate([f[0], f[1], f[2]]))
    np.testing.assert_array_equal(h.push(f[3]), np.concatenate([f[1], f[2], f[3]]))
    h.restart()
    np.testing.assert_array_equal(h.push(f[4]), np.tile(f[4], 3))


def test_batched_history_restarts_only_the_envs_named() -> None:
    """Row i of a batch runs exactly as a one-robot history that restarts when row i does."""
    rng = np.random.default_rng(0)
    batch = ObservationHistory(frames=4, frame_dim=3, batch_shape=(5,))
    single = [ObservationHistory(frames=4, frame_dim=3) for _ in range(5)]
    for step in range(12):
        if step in (3, 7):
            ids = np.array([1, 4]) if step == 3 else np.array([0, 1])
            batch.restart(ids)
            for i in ids:
                single[i].restart()
        frames = rng.standard_normal((5, 3))
        out = batch.push(frames)
        for i in range(5):
            np.testing.assert_array_equal(out[i], single[i].push(frames[i]))
