"""Parity, graph shape, metadata round trip and tamper detection of exported checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from export.exporter import ExportOptions, export_checkpoint
from export.graph import reference_action
from export.onnx_io import FORBIDDEN_OP_PREFIXES, ExportError, check_graph, op_types
from robots import get_robot
from robots.artifact import (
    ARTIFACT_KEY,
    ArtifactError,
    ArtifactMismatchError,
    GoldenMismatchError,
    parse_artifact,
    verify_golden,
)
from robots.contract import make_contract
from robots.policy_graph import ort_session
from tests.export.conftest import FAST
from training.checkpoint import build_policy_from_checkpoint, load_checkpoint


def _session(path: Path) -> ort.InferenceSession:
    return ort_session(path)


def _meta(path: Path) -> str:
    return _session(path).get_modelmeta().custom_metadata_map[ARTIFACT_KEY]


def _run(sess: ort.InferenceSession):
    names = [i.name for i in sess.get_inputs()]

    def run(obs, noise=None):
        feed = {names[0]: obs} if noise is None else {names[0]: obs, names[1]: noise}
        return sess.run(None, feed)[0]

    return run


@pytest.mark.parametrize("fixture", ["flow_ckpt", "ppo_ckpt"])
def test_parity_against_the_checkpoint(fixture: str, request, tmp_path: Path) -> None:
    ckpt_path = request.getfixturevalue(fixture)
    result = export_checkpoint(ckpt_path, tmp_path / "out", ExportOptions(**FAST))
    assert result.onnx_path == tmp_path / "out" / "policy.onnx"
    assert result.parity_samples == 1000 and result.parity_max_abs_err <= 1e-5
    # Independent check: fresh observations, the checkpoint's own torch policy.
    policy, norm = build_policy_from_checkpoint(load_checkpoint(ckpt_path))
    obs = np.random.default_rng(5).normal(0, 3, (64, policy.obs_dim)).astype(np.float32)
    want = reference_action(policy, norm, torch.from_numpy(obs)).numpy()
    got = _run(_session(result.onnx_path))(obs)
    assert np.abs(got - want).max() <= 1e-5
    assert np.abs(want).max() > 0.05  # the actions are not trivially zero


def test_default_output_is_the_run_dir(flow_ckpt: Path) -> None:
    result = export_checkpoint(flow_ckpt, None, ExportOptions(**FAST))
    assert result.onnx_path == flow_ckpt.parent / "exported" / "policy.onnx"


def test_noise_input_mode(flow_ckpt: Path, tmp_path: Path) -> None:
    result = export_checkpoint(flow_ckpt, tmp_path, ExportOptions(noise="input", **FAST))
    sess = _session(result.onnx_path)
    assert [(i.name, i.shape[1]) for i in sess.get_inputs()] == [("obs", 45), ("noise", 24)]
    policy, norm = build_policy_from_checkpoint(load_checkpoint(flow_ckpt))
    obs = np.random.default_rng(1).normal(0, 1, (32, 45)).astype(np.float32)
    noise = np.random.default_rng(2).normal(0, 1, (32, 24)).astype(np.float32)
    want = reference_action(policy, norm, torch.from_numpy(obs), torch.from_numpy(noise))
    got = _run(sess)(obs, noise)
    assert np.abs(got - want.numpy()).max() <= 1e-5
    zero = reference_action(policy, norm, torch.from_numpy(obs)).numpy()
    assert np.abs(got - zero).max() > 1e-3  # the noise input is really used
    artifact = parse_artifact(_meta(result.onnx_path), get_robot("go2"))
    assert artifact.policy.noise == "input" and artifact.golden.noise.shape == (8, 24)
    assert verify_golden(artifact, _run(sess)) <= 1e-5


def test_graph_has_no_loops_or_random_ops(flow_ckpt: Path, tmp_path: Path) -> None:
    path = export_checkpoint(flow_ckpt, tmp_path, ExportOptions(**FAST)).onnx_path
    ops = op_types(onnx.load(str(path)))
    assert not [op for op in ops if op.startswith(FORBIDDEN_OP_PREFIXES)]
    allowed = {"Gemm", "MatMul", "Add", "Mul", "Exp", "Log", "Tanh", "Constant", "Identity"}
    assert ops <= allowed, ops


def test_check_graph_rejects_random_ops() -> None:
    h = onnx.helper
    node = h.make_node("RandomNormalLike", ["x"], ["y"])
    graph = h.make_graph(
        [node],
        "g",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])],
    )
    with pytest.raises(ExportError, match="RandomNormalLike"):
        check_graph(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]))


def test_metadata_round_trip(flow_ckpt: Path, tmp_path: Path) -> None:
    path = export_checkpoint(flow_ckpt, tmp_path, ExportOptions(**FAST)).onnx_path
    go2 = get_robot("go2")
    artifact = parse_artifact(_meta(path), go2)
    assert artifact.contract == make_contract(go2, "flat")
    assert artifact.robot.policy_joint_names == go2.policy_joint_names
    assert list(artifact.robot.isaac_to_sdk) == go2.isaac_to_sdk.tolist()
    assert artifact.robot.kp == tuple(go2.values("kp")) and artifact.robot.idl_family == "go"
    p = artifact.policy
    assert (p.kind, p.obs_dim, p.action_dim, p.flow_steps, p.mix_p) == ("genpo", 45, 12, 3, 0.9)
    prov = artifact.provenance
    assert prov["run_id"] == "go2_flat_run" and prov["git_commit"] == "0123abc"
    assert len(prov["checkpoint_sha256"]) == 64 and prov["iteration"] == 7
    assert artifact.checks["parity"]["max_abs_err"] <= 1e-5
    assert set(artifact.checks["latency_us"]) >= {"p50", "p99", "max"}
    assert verify_golden(artifact, _run(_session(path))) <= 1e-5


def test_reader_rejects_other_robot_and_schema(flow_ckpt: Path, tmp_path: Path) -> None:
    text = _meta(export_checkpoint(flow_ckpt, tmp_path, ExportOptions(**FAST)).onnx_path)
    with pytest.raises(ArtifactMismatchError, match="'go2' but this is 'h1'"):
        parse_artifact(text, get_robot("h1"))
    doc = json.loads(text)
    with pytest.raises(ArtifactError, match="schema version 2"):
        parse_artifact(json.dumps({**doc, "schema_version": 2}))
    doc["policy"]["obs_dim"] = 48
    with pytest.raises(ArtifactError, match="obs_dim 48 != contract obs size 45"):
        parse_artifact(json.dumps(doc))


def test_tampered_weights_fail_golden_check(flow_ckpt: Path, tmp_path: Path) -> None:
    path = export_checkpoint(flow_ckpt, tmp_path, ExportOptions(**FAST)).onnx_path
    model = onnx.load(str(path))
    init = max(model.graph.initializer, key=lambda t: np.prod(t.dims))  # a weight matrix
    w = onnx.numpy_helper.to_array(init).copy()
    w += 0.05
    init.CopyFrom(onnx.numpy_helper.from_array(w, init.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save(model, str(tampered))
    artifact = parse_artifact(_meta(tampered), get_robot("go2"))  # metadata itself is intact
    with pytest.raises(GoldenMismatchError, match="golden vectors differ"):
        verify_golden(artifact, _run(_session(tampered)))
