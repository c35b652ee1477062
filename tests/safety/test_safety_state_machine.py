"""State machine transition rules and the e-stop chord."""

from __future__ import annotations

import pytest

from safety import Cause, Guards, Mode, chord_pressed, request, trip

ALL_OK = Guards(state_fresh=True, artifact_ok=True, stand_done=True, budget_ok=True)


def test_forward_path_with_all_guards():
    mode = Mode.CONNECT
    for target in (Mode.PASSIVE, Mode.STAND, Mode.POLICY, Mode.DAMP):
        mode, why = request(mode, target, ALL_OK)
        assert mode is target and why is None


@pytest.mark.parametrize(
    ("mode", "target", "guards", "missing"),
    [
        (Mode.CONNECT, Mode.PASSIVE, Guards(state_fresh=True), "artifact_ok"),
        (Mode.CONNECT, Mode.PASSIVE, Guards(artifact_ok=True), "state_fresh"),
        (Mode.STAND, Mode.POLICY, Guards(state_fresh=True, budget_ok=True), "stand_done"),
        (Mode.STAND, Mode.POLICY, Guards(state_fresh=True, stand_done=True), "budget_ok"),
        (Mode.PASSIVE, Mode.STAND, Guards(), "state_fresh"),
    ],
)
def test_guarded_transitions_are_refused_with_the_reason(mode, target, guards, missing):
    new, why = request(mode, target, guards)
    assert new is mode
    assert missing in why


@pytest.mark.parametrize(
    ("mode", "target"),
    [(Mode.CONNECT, Mode.STAND), (Mode.PASSIVE, Mode.POLICY), (Mode.POLICY, Mode.STAND)],
)
def test_skipping_or_going_back_is_not_a_transition(mode, target):
    assert request(mode, target, ALL_OK)[0] is mode


@pytest.mark.parametrize("mode", list(Mode))
def test_estop_reaches_damp_from_every_state_and_damp_absorbs(mode):
    assert trip(mode, Cause.ESTOP) is Mode.DAMP
    assert request(mode, Mode.DAMP, Guards())[0] is Mode.DAMP
    for target in Mode:
        assert request(Mode.DAMP, target, ALL_OK)[0] is Mode.DAMP
    assert trip(Mode.DAMP, Cause.TILT) is Mode.DAMP


@pytest.mark.parametrize("mode", [Mode.PASSIVE, Mode.STAND, Mode.POLICY])
def test_trips_damp_and_limits_do_not(mode):
    assert trip(mode, Cause.STALE_STATE) is Mode.DAMP
    assert trip(mode, Cause.NONFINITE_ACTION) is Mode.DAMP
    assert trip(mode, Cause.RATE_LIMITED) is mode
    assert trip(mode, Cause.DEADLINE_MISS) is mode


def test_connect_waits_through_state_trips_but_not_estop():
    assert trip(Mode.CONNECT, Cause.STALE_STATE) is Mode.CONNECT
    assert trip(Mode.CONNECT, Cause.SIGNAL) is Mode.DAMP


def test_chord_detection():
    mask = (1 << 5) | (1 << 9)  # L2 + B
    assert chord_pressed(mask, mask)
    assert chord_pressed(mask | 1, mask)  # extra keys held too
    assert not chord_pressed(1 << 5, mask)  # L2 alone
    assert not chord_pressed(0xFFFF, 0)  # an empty chord never fires
