"""genpo-sim's control channel validates every request and never dies; a LowCmd writer leaving
(every daemon exit) is not a traceback."""

from __future__ import annotations

import json
import socket
import time

import pytest
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_

from deploy.io.channels import open_dds
from deploy.io.lowcmd import make_lowcmd_builder
from deploy.sim.control import MAX_REQUEST_BYTES, RequestError, parse_request
from deploy.sim.launch import SimProcess
from robots import GO2

BAD = [
    (b"[" * 60_000, "exceeds"),  # RecursionError before: the channel died
    (b"[" * 4000 + b"]" * 4000, "exceeds"),
    (b'{"cmd": "truth", "x": ' + b"[" * 50 + b"]" * 50 + b"}", "nests deeper"),
    (b"not json", "not JSON"),
    (b"[1, 2]", 'string "cmd"'),
    (b'{"cmd": 3}', 'string "cmd"'),
    (b'{"cmd": "fly"}', "unknown command"),
    (b'{"cmd": "push", "force_n": [1, 2]}', "three numbers"),
    (b'{"cmd": "push", "force_n": [1, 2, "x"]}', "force_n must be a number"),
    (b'{"cmd": "push", "force_n": [1, 2, NaN]}', "force_n must be a number"),
    (b'{"cmd": "push", "force_n": [1e9, 0, 0]}', "force_n must be a number"),
    (b'{"cmd": "push", "force_n": [0, 80, 0], "duration_s": -1}', "duration_s"),
    (b'{"cmd": "sticks", "ly": "fast"}', "ly must be a number"),
    (b'{"cmd": "sticks", "ly": 5}', "ly must be a number"),
    (b'{"cmd": "press", "keys": "L2"}', "keys must be a list"),
    (b'{"cmd": "press", "keys": [["L2"]]}', "keys must be strings"),
    (b'{"cmd": "truth", "extra": 1}', "unknown fields"),
    (b'{"cmd": "band"}', "on must be true or false"),
    (b'{"cmd": "band", "on": 0}', "on must be true or false"),
]


@pytest.mark.parametrize(("data", "problem"), BAD, ids=[p for _, p in BAD])
def test_bad_requests_are_refused_by_name(data, problem):
    with pytest.raises(RequestError, match=problem):
        parse_request(data)


def test_valid_requests_pass():
    valid = (
        {"cmd": "truth"},
        {"cmd": "sticks", "ly": 0.5, "rx": -1},
        {"cmd": "press", "keys": ["L2", "B"], "hold_s": 0.3},
        {"cmd": "push", "force_n": [0, 80.5, 0], "duration_s": 0.1},
        {"cmd": "band", "on": False},
        {"cmd": "stop"},
    )
    for req in valid:
        assert parse_request(json.dumps(req).encode()) == req
    assert MAX_REQUEST_BYTES < 65507


def _ask(port: int, data: bytes) -> dict:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5.0)
        s.sendto(data, ("127.0.0.1", port))
        return json.loads(s.recvfrom(65507)[0])


def test_live_sim_survives_every_bad_request_and_a_writer_leaving():
    domain = 124
    sim = SimProcess("go2", domain, 60.0).__enter__()
    try:
        port = sim.ready["control_port"]
        for data, problem in BAD:
            reply = _ask(port, data)
            assert reply["ok"] is False and problem in reply["error"], (problem, reply)
        writer = open_dds(domain, iface="lo").writer("rt/lowcmd", LowCmd_)
        builder = make_lowcmd_builder(GO2)
        builder.set_damping(3.0)
        for _ in range(20):
            writer.write(builder.build())
            time.sleep(0.01)
        del writer  # the sim's reader gets an InvalidSample: the writer left
        time.sleep(1.0)
        truth = _ask(port, b'{"cmd": "truth"}')
        assert truth["ok"] and truth["cmd_received"] >= 1 and sim.proc.poll() is None
        sim.control.stop()
        summary = sim._read_event("summary", timeout_s=15.0)
        err = sim.proc.stderr.read()
    finally:
        sim.__exit__(None, None, None)
    assert summary["steps"] > 0
    assert "Traceback" not in err and "InvalidSample" not in err, err[-2000:]
