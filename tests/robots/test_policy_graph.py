"""The graph's declared tensor names and the one ONNX Runtime session factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from common.errors import UserError
from deploy.policy import OrtPolicy
from robots.policy_graph import ACTIONS_OUTPUT, NOISE_INPUT, OBS_INPUT, ort_session


def _doubling_graph(inp: str = OBS_INPUT, out: str = ACTIONS_OUTPUT) -> onnx.ModelProto:
    """actions = 2 * obs, [batch, 3] (opset 17, as the exporter writes)."""
    two = helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", [inp, "two"], [out])],
        "double",
        [helper.make_tensor_value_info(inp, TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", 3])],
        [two],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_names_are_the_exported_interface() -> None:
    assert (OBS_INPUT, NOISE_INPUT, ACTIONS_OUTPUT) == ("obs", "noise", "actions")


def test_factory_opens_paths_and_bytes_with_the_deploy_settings(tmp_path: Path) -> None:
    model = _doubling_graph()
    path = tmp_path / "p.onnx"
    onnx.save(model, str(path))
    obs = np.arange(6, dtype=np.float32).reshape(2, 3)
    for source in (path, str(path), model.SerializeToString()):
        sess = ort_session(source)
        np.testing.assert_array_equal(sess.run([ACTIONS_OUTPUT], {OBS_INPUT: obs})[0], 2 * obs)
        assert sess.get_providers() == ["CPUExecutionProvider"]
        opts = sess.get_session_options()
        assert (opts.intra_op_num_threads, opts.inter_op_num_threads) == (1, 1)
        assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
        assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert ort_session(path, threads=2).get_session_options().intra_op_num_threads == 2


def test_deploy_runtime_binds_the_declared_names_and_refuses_others(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.onnx", tmp_path / "bad.onnx"
    onnx.save(_doubling_graph(), str(good))
    onnx.save(_doubling_graph(inp="x"), str(bad))
    rt = OrtPolicy(good)
    rt.obs[:] = [1.0, -2.0, 3.0]
    np.testing.assert_array_equal(rt.infer(), [2.0, -4.0, 6.0])
    with pytest.raises(UserError, match="reads 'obs' and writes 'actions'"):
        OrtPolicy(bad)
