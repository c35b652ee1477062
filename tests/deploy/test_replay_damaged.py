"""genpo-replay on damaged or crafted MCAP logs: one sentence, exit 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcap.writer import CompressionType, Writer

from deploy.replay import main

OBS = [0.0] * 45  # the go2 flat contract's observation
ACTION = [0.0] * 12


def _log(path: Path, messages: list[tuple[str, object]]) -> Path:
    """An MCAP file with our two channels; payloads are JSON-encoded unless already bytes."""
    with open(path, "wb") as f:
        writer = Writer(f, compression=CompressionType.NONE)
        writer.start()
        schema = writer.register_schema("genpo.deploy.Record", "jsonschema", b"{}")
        channels = {t: writer.register_channel(t, "json", schema)
                    for t in ("/deploy/header", "/deploy/policy")}  # fmt: skip
        for topic, payload in messages:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            writer.add_message(channels.get(topic, 99), 0, data, 0)
        writer.finish()
    return path


def _case(kind: str, tmp: Path, policy: Path) -> Path:
    header = ("/deploy/header", {"policy_path": str(policy), "artifact_sha256": "0"})
    tick = {"obs": OBS, "action": ACTION}
    messages = {
        "header-is-a-list": [("/deploy/header", [1, 2])],
        "header-names-no-policy": [("/deploy/header", {"policy_path": 5})],
        "undeclared-channel": [header, ("/deploy/other", {})],
        "payload-not-json": [header, ("/deploy/policy", b"\xff\xfe")],
        "payload-nested-too-deep": [header, ("/deploy/policy", b"[" * 100_000 + b"]" * 100_000)],
        "tick-without-obs": [header, ("/deploy/policy", {"action": ACTION})],
        "tick-with-one-obs": [header, ("/deploy/policy", {**tick, "obs": [0.0]})],
        "tick-with-text-obs": [header, ("/deploy/policy", {**tick, "obs": "abc"})],
        "tick-with-short-action": [header, ("/deploy/policy", {**tick, "action": [0.0]})],
    }
    if kind == "not-mcap":
        (tmp / "log.mcap").write_text("hello " * 20)
        return tmp / "log.mcap"
    if kind == "directory":
        return tmp
    return _log(tmp / "log.mcap", messages[kind])


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("header-is-a-list", "is damaged: message 0 is a JSON list, not an object"),
        ("header-names-no-policy", "header names no policy file; pass --policy PATH"),
        ("undeclared-channel", "message 1 names channel 99, which the log never declared"),
        ("payload-not-json", "message 1 is not readable JSON"),
        ("payload-nested-too-deep", "message 1 is not readable JSON"),
        ("tick-without-obs", "policy tick 0 has no 'obs' list of 45 numbers"),
        ("tick-with-one-obs", "policy tick 0 has no 'obs' list of 45 numbers"),
        ("tick-with-text-obs", "policy tick 0 has no 'obs' list of 45 numbers"),
        ("tick-with-short-action", "policy tick 0 has no 'action' list of 12 numbers"),
        ("not-mcap", "has no /deploy/header record"),
        ("directory", "is a directory; pass the .mcap file in it"),
    ],
)
def test_damaged_log_is_one_sentence_and_exit_2(
    artifacts: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture, kind, words
) -> None:
    log = _case(kind, tmp_path, artifacts["go2"])
    assert main([str(log)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genpo-replay: error: ") and words in err[0], err
    assert captured.out == ""  # no result line for a log that cannot be replayed


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_policy_option_names_its_path_and_what_is_wrong(
    artifacts: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture, kind: str
) -> None:
    header = {"robot": "go2", "policy_path": str(artifacts["go2"]), "artifact_sha256": "0"}
    log = _log(tmp_path / "log.mcap", [("/deploy/header", header)])
    policy = tmp_path / "nope.onnx" if kind == "missing" else tmp_path
    state = "does not exist" if kind == "missing" else "is a directory"
    assert main([str(log), "--policy", str(policy)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err == [f"genpo-replay: error: --policy {policy} {state}; pass --policy PATH of a "
                   "policy.onnx"], err  # fmt: skip
    assert captured.out == ""


def test_policy_for_another_robot_than_the_log_is_named(
    artifacts: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A Go2 policy for an H1 log: the robots are named (genpo-deploy's own check), not a
    "damaged log" guessed from the first tick's sizes."""
    from deploy.policy import OrtPolicy

    h1 = OrtPolicy(artifacts["h1"])
    header = {"robot": "h1", "policy_path": str(artifacts["h1"]), "artifact_sha256": "0"}
    tick = {"obs": [0.0] * len(h1.obs), "action": [0.0] * len(h1.action)}
    log = _log(tmp_path / "log.mcap", [("/deploy/header", header), ("/deploy/policy", tick)])
    assert main([str(log), "--policy", str(artifacts["go2"])]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genpo-replay: error: "), err
    assert f"exported for robot 'go2' but log {log} was recorded on 'h1'" in err[0]
    assert captured.out == ""
