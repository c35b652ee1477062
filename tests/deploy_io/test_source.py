"""SourceWatch: tick-less simulators, remote presence, CONNECT diagnosis; together with the
StateWatchdog the motor loop feeds (made-up clocks, no DDS)."""

from __future__ import annotations

from types import SimpleNamespace

from deploy.io.remote import RemoteState
from deploy.io.source import TICKLESS_FRAMES, SourceWatch
from safety import Cause, StateWatchdog

MS = 1_000_000


def _feed(watch: SourceWatch, dog: StateWatchdog, ticks, start_ns=0, period_ns=5 * MS):
    now = start_ns
    for tick in ticks:
        t = watch.freshness_tick(tick)
        if t is not None:
            dog.observe(t, now)
        now += period_ns
    return now


def test_tickless_source_is_fresh_by_arrival_only_with_sim_sources() -> None:
    lines: list[str] = []
    watch, dog = SourceWatch(lines.append, sim_sources=True), StateWatchdog(0.03, 0.06)
    now = _feed(watch, dog, [0] * (TICKLESS_FRAMES + 20))
    assert watch.tickless and dog.check(now) is None
    assert sum("never advances" in ln for ln in lines) == 1
    # the simulator stops sending: stale within the thresholds
    assert dog.check(now + 61 * MS) is Cause.STALE_STATE

    strict, dog2 = SourceWatch(lines.append), StateWatchdog(0.03, 0.06)  # the real robot
    now = _feed(strict, dog2, [0] * (TICKLESS_FRAMES + 20))
    assert not strict.tickless and dog2.check(now) is Cause.STALE_STATE


def test_a_tick_that_advanced_then_freezes_still_trips_even_with_sim_sources() -> None:
    watch, dog = SourceWatch(lambda _: None, sim_sources=True), StateWatchdog(0.03, 0.06)
    now = _feed(watch, dog, list(range(100, 200)))
    assert dog.check(now) is None
    now = _feed(watch, dog, [199] * (3 * TICKLESS_FRAMES), start_ns=now)
    assert not watch.tickless and dog.check(now) is Cause.TICK_STALLED


def test_tick_starting_late_continues_without_a_backwards_jump() -> None:
    watch, dog = SourceWatch(lambda _: None, sim_sources=True), StateWatchdog(0.03, 0.06)
    now = _feed(watch, dog, [0] * (TICKLESS_FRAMES + 5))
    now = _feed(watch, dog, [1, 2, 3], start_ns=now)  # tick starts: far below the arrival count
    assert not watch.tickless and not dog.backwards and dog.check(now) is None
    now = _feed(watch, dog, [3] * 30, start_ns=now)
    assert dog.check(now) is Cause.TICK_STALLED


def test_remote_silent_with_deflected_stick_holds_zero_until_it_changes() -> None:
    lines: list[str] = []
    watch = SourceWatch(lines.append, remote_silent_s=1.0)
    walk = RemoteState(ly=0.8, lx=0.1)
    assert watch.sticks(RemoteState(), 0) == (0.0, 0.0, 0.0)
    assert watch.sticks(walk, 10 * MS) == (0.1, 0.8, 0.0)
    assert watch.sticks(walk, 900 * MS) == (0.1, 0.8, 0.0)  # frozen, not yet for 1 s
    assert watch.sticks(walk, 1100 * MS) == (0.0, 0.0, 0.0)  # silent: held at zero
    assert watch.remote_silent and any("silent" in ln for ln in lines)
    back = RemoteState(ly=0.79, lx=0.1)
    assert watch.sticks(back, 1200 * MS) == (0.1, 0.79, 0.0)
    assert any("back" in ln for ln in lines)


def test_idle_remote_and_no_remote_change_nothing_but_say_so() -> None:
    lines: list[str] = []
    watch = SourceWatch(lines.append, remote_silent_s=1.0)
    for t in range(0, 5000, 100):
        assert watch.sticks(RemoteState(), t * MS) == (0.0, 0.0, 0.0)
    assert not watch.remote_seen and sum("no wireless remote" in ln for ln in lines) == 1
    watch.sticks(RemoteState(keys=1 << 8), 6000 * MS)  # a button: a remote exists
    for t in range(6100, 9000, 100):
        watch.sticks(RemoteState(), t * MS)  # released, sticks centred: idle, not "silent"
    assert not watch.remote_silent


def test_connect_says_what_it_is_waiting_for() -> None:
    parser = SimpleNamespace(frames=0, bad_frames={})
    cases = []
    for samples, frames, bad in ((0, 0, {}), (40, 40, {"bad CRC": 40}), (40, 40, {})):
        lines: list[str] = []
        watch = SourceWatch(lines.append, where="rt/lowstate (DDS domain 1, interface lo)")
        watch.samples, parser.frames, parser.bad_frames = samples, frames, bad
        watch.connect_wait(0, parser, fresh=False)
        assert lines == []  # nothing before the report delay
        watch.connect_wait(4_000 * MS, parser, fresh=False)
        watch.connect_wait(9_000 * MS, parser, fresh=False)
        assert len(lines) == 1  # one line
        cases.append(lines[0])
    assert "no LowState at all on rt/lowstate (DDS domain 1, interface lo)" in cases[0]
    assert "every one rejected (40 bad CRC)" in cases[1]
    assert "tick never advances" in cases[2] and "--sim" in cases[2]
