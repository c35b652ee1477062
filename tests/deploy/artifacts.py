"""Tiny real artifacts for the deploy tests, written by export/ (tests may import torch).

`python -m tests.deploy.artifacts DIR` writes DIR/{go2,h1,go2_nan,go2_history}/policy.onnx."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from export.exporter import ExportOptions, export_policy
from robots import get_robot
from robots.artifact import ARTIFACT_KEY
from robots.contract import make_contract
from training.config import FlowPolicyCfg
from training.genpo import FlowPolicy

FAST = ExportOptions(golden=4, parity_samples=64, latency_calls=20, latency_warmup=2)


def tiny_flow_artifact(robot: str, out: Path, history_length: int = 0) -> Path:
    """A 3-step GenPO flow policy with small random weights, exported like a trained one."""
    spec = get_robot(robot)
    contract = make_contract(spec, "flat", history_length=history_length)
    torch.manual_seed(0)
    cfg = FlowPolicyCfg(hidden_dims=(32, 16), time_hidden_dims=(16,), flow_steps=3)
    policy = FlowPolicy(contract.obs_dim, contract.num_actions, cfg).eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    export_policy(policy, None, spec, contract, out, {"run_id": "test"}, FAST)
    return out


def nan_artifact(valid: Path, out: Path, gravity_z_index: int) -> Path:
    """An artifact whose graph outputs NaN on a real robot and zeros on its golden vectors.

    actions = 0 * log(obs[gravity_z] + 0.5): upright gravity_z is -1 -> log(-0.5) = NaN; the
    golden observations carry gravity_z = +1 -> log(1.5) * 0 = 0.
    """
    doc = json.loads(_metadata(valid))
    obs_dim, n = doc["policy"]["obs_dim"], doc["policy"]["action_dim"]
    golden_obs = np.zeros((2, obs_dim))
    golden_obs[:, gravity_z_index] = 1.0
    doc["golden"] = {"obs": golden_obs.tolist(), "noise": None,
                     "actions": np.zeros((2, n)).tolist(), "atol": 1e-6}  # fmt: skip
    nodes = [
        helper.make_node("Slice", ["obs", "start", "end", "axis"], ["gz"]),
        helper.make_node("Add", ["gz", "half"], ["shifted"]),
        helper.make_node("Log", ["shifted"], ["logged"]),
        helper.make_node("Mul", ["logged", "zeros"], ["actions"]),
    ]
    consts = [
        helper.make_tensor("start", TensorProto.INT64, [1], [gravity_z_index]),
        helper.make_tensor("end", TensorProto.INT64, [1], [gravity_z_index + 1]),
        helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
        helper.make_tensor("half", TensorProto.FLOAT, [1], [0.5]),
        helper.make_tensor("zeros", TensorProto.FLOAT, [n], [0.0] * n),
    ]
    return _save_graph(nodes, consts, "nan_policy", doc, out)


def _save_graph(nodes: list, consts: list, name: str, doc: dict, out: Path) -> Path:
    """An obs -> actions graph of `nodes` carrying the artifact document `doc`, saved at `out`."""
    obs_dim, n = doc["policy"]["obs_dim"], doc["policy"]["action_dim"]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", obs_dim])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["batch", n])],
        consts,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(model, {ARTIFACT_KEY: json.dumps(doc)})
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out))
    return out


def _metadata(path: Path) -> str:
    model = onnx.load(str(path))
    return next(p.value for p in model.metadata_props if p.key == ARTIFACT_KEY)


def ramping_artifact(valid: Path, out: Path) -> Path:
    """An artifact whose targets run away: actions = last action + 4 (its own previous output,
    the last observation term), so 4, 8, 12, ... -> the wanted targets move 1 rad per period, faster
    than the rate limit can follow: it is still ramping when each next output arrives."""
    doc = json.loads(_metadata(valid))
    obs_dim, n = doc["policy"]["obs_dim"], doc["policy"]["action_dim"]
    doc["golden"] = {"obs": np.zeros((2, obs_dim)).tolist(), "noise": None,
                     "actions": np.full((2, n), 4.0).tolist(), "atol": 1e-6}  # fmt: skip
    nodes = [
        helper.make_node("Slice", ["obs", "start", "end", "axis"], ["last"]),
        helper.make_node("Add", ["last", "one"], ["actions"]),
    ]
    consts = [
        helper.make_tensor("start", TensorProto.INT64, [1], [obs_dim - n]),
        helper.make_tensor("end", TensorProto.INT64, [1], [obs_dim]),
        helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
        helper.make_tensor("one", TensorProto.FLOAT, [1], [4.0]),
    ]
    return _save_graph(nodes, consts, "ramping_policy", doc, out)


if __name__ == "__main__":
    import sys

    root = Path(sys.argv[1])
    go2 = tiny_flow_artifact("go2", root / "go2" / "policy.onnx")
    tiny_flow_artifact("h1", root / "h1" / "policy.onnx")
    tiny_flow_artifact("go2", root / "go2_history" / "policy.onnx", history_length=3)
    nan_artifact(go2, root / "go2_nan" / "policy.onnx", gravity_z_index=5)
