"""Every LowState fault of genpo-sim, observed from the client side over DDS."""

from __future__ import annotations

import time

import numpy as np
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_

from deploy.io.crc import crc_ok
from deploy.io.lowcmd import make_lowcmd_builder
from deploy.sim.launch import SimProcess
from robots import GO2
from tests.sim.conftest import SimClient


def _ages_ms(sim: SimProcess, client: SimClient, n: int) -> np.ndarray:
    """Age of the newest LowState = sim's current tick - the tick it carries (ms)."""
    ages = []
    for _ in range(n):
        newest = client.lowstate.sample
        ages.append(sim.control.truth()["tick"] - newest.tick)
        time.sleep(0.02)
    return np.array(ages, dtype=np.float64)


def test_latency_and_jitter_show_in_state_age() -> None:
    with SimProcess("go2", 115, 30.0) as plain:
        client = SimClient(GO2, 115)
        client.state()
        base = np.median(_ages_ms(plain, client, 30))
    with SimProcess("go2", 116, 30.0, "--latency-ms", "40", "--jitter-ms", "10") as sim:
        client = SimClient(GO2, 116)
        client.state()
        ages = _ages_ms(sim, client, 60)
    assert base < 25.0  # DDS + control round trip on 2 shared cores
    assert 25.0 < np.median(ages) - base < 65.0
    assert np.percentile(ages, 90) - np.percentile(ages, 10) > 4.0  # jitter spreads the age


def test_drop_rate_loses_messages() -> None:
    with SimProcess("go2", 117, 30.0, "--drop-rate", "0.5") as sim:
        client = SimClient(GO2, 117)
        first = client.state().tick
        count0 = client.lowstate.count
        time.sleep(2.0)
        last = client.state().tick
        received = client.lowstate.count - count0
        dropped = sim.control.truth()["state_dropped"]
    sent = (last - first) / 2.0  # one LowState every 2 ms of ticks
    assert 0.35 < received / sent < 0.65 and dropped > 0


def test_freeze_stops_the_tick() -> None:
    with SimProcess("go2", 118, 30.0, "--freeze-after-s", "1.0"):
        client = SimClient(GO2, 118)
        ticks = [client.state().tick]
        time.sleep(2.0)
        count0 = client.lowstate.count
        ticks += [client.state().tick for _ in range(20)]
        still_arriving = client.lowstate.count - count0
    assert ticks[-1] <= 1000 + 2  # frozen at the 1.0 s tick
    assert len(set(ticks[1:])) == 1 and still_arriving >= 20


def test_bad_crc_both_ways() -> None:
    with SimProcess("go2", 119, 30.0, "--bad-crc-rate", "1.0") as sim:
        client = SimClient(GO2, 119)
        states = [client.state() for _ in range(10)]
        builder = make_lowcmd_builder(GO2)
        builder.set_targets(GO2.values("default_q_rad"), kp=25.0, kd=0.5)
        bad = builder.build()
        bad.crc ^= 1
        assert not crc_ok(bad)
        for _ in range(20):
            client.writer.write(bad)
            time.sleep(0.01)
        time.sleep(0.2)
        truth = sim.control.truth()
    assert all(s is None for s in states)  # every frame rejected, none committed
    assert truth["cmd_bad_crc"] >= 15 and truth["held"]  # rejected: never became "the command"
    assert isinstance(bad, LowCmd_)


def test_push_jumps_base_velocity() -> None:
    args = ("--push-at-s", "1.0", "--push-force-n", "0,-150,0", "--push-duration-s", "0.1")
    with SimProcess("go2", 120, 30.0, *args) as sim:
        client = SimClient(GO2, 120)
        client.state()
        kp, kd, q0 = GO2.values("kp"), GO2.values("kd"), GO2.values("default_q_rad")
        vy = []

        def sample() -> None:
            vy.append(sim.control.truth()["base_lin_vel_world_m_s"][1])

        client.send_lowcmd(q0, kp, kd, seconds=2.0, rate_hz=50.0, every=sample)
        scheduled = min(vy)
        sim.control.push((0.0, 150.0, 0.0), duration_s=0.1)
        vy.clear()
        client.send_lowcmd(q0, kp, kd, seconds=0.5, rate_hz=50.0, every=sample)
    assert scheduled < -0.3  # the --push-at-s push (-y)
    assert max(vy) > 0.3  # the control-channel push (+y)
