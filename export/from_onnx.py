"""Wrap a policy exported by IsaacLab's rsl_rl exporter (input `obs`, output `actions`).

The graph is kept as it is (IsaacLab bakes its normaliser in); we check its sizes against the
contract, record golden vectors computed by ONNX Runtime (there is no torch model to compare
with) and write our metadata beside the graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from common.errors import UserError, first_line
from common.files import file_sha256
from export.exporter import ExportOptions, ExportResult, contract_for_task, measure_latency
from export.metadata import (
    ARTIFACT_KEY,
    PolicyDescription,
    build_document,
    to_json,
    utc_now,
)
from export.onnx_io import (
    ORT_ERRORS,
    check_graph,
    io_sizes,
    runner,
    save_model,
    session,
    set_metadata,
)
from export.verify import check_finite, sample_observations
from robots import get_robot
from robots.artifact import GOLDEN_ATOL_FP32
from robots.policy_graph import ACTIONS_OUTPUT, OBS_INPUT


def _load(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise UserError(f"ONNX file '{path}' does not exist; pass the policy.onnx to import")
    try:
        return onnx.load(str(path))
    except Exception as exc:
        raise UserError(f"'{path}' is not a readable ONNX model ({type(exc).__name__})") from None


def _check_io(model: onnx.ModelProto, path: Path, obs_dim: int, action_dim: int) -> None:
    inputs, outputs = io_sizes(model)
    if list(inputs) != [OBS_INPUT] or list(outputs) != [ACTIONS_OUTPUT]:
        raise UserError(
            f"'{path}' has inputs {list(inputs)} and outputs {list(outputs)}; expected one input "
            f"{OBS_INPUT!r} and one output {ACTIONS_OUTPUT!r} (IsaacLab's rsl_rl policy export)"
        )
    got_obs, got_act = inputs[OBS_INPUT][-1], outputs[ACTIONS_OUTPUT][-1]
    if got_obs != obs_dim or got_act != action_dim:
        raise UserError(
            f"'{path}' maps {got_obs} observations to {got_act} actions but the contract needs "
            f"{obs_dim} -> {action_dim}; check --robot and --task"
        )


def _check_graph(model: onnx.ModelProto, path: Path) -> None:
    try:
        check_graph(model)
    except onnx.checker.ValidationError as exc:
        raise UserError(
            f"'{path}' is not a valid ONNX graph ({first_line(exc)}); export the policy again"
        ) from None


def _run_each(sess: ort.InferenceSession, obs: np.ndarray) -> np.ndarray:
    """Actions [n, d], one observation at a time: IsaacLab's exports may fix the batch at 1."""
    run = runner(sess)
    return np.concatenate([run(obs[i : i + 1]) for i in range(len(obs))])


def import_onnx(
    onnx_path: str | Path,
    robot: str,
    task: str,
    out_path: str | Path,
    options: ExportOptions | None = None,
) -> ExportResult:
    """Check `onnx_path` against the robot's contract and write it with our metadata."""
    opts = options or ExportOptions()
    onnx_path = Path(onnx_path)
    spec = get_robot(robot)
    contract = contract_for_task(robot, task)
    model = _load(onnx_path)
    _check_io(model, onnx_path, contract.obs_dim, contract.num_actions)
    _check_graph(model, onnx_path)
    desc = PolicyDescription("ppo", contract.obs_dim, contract.num_actions, source="onnx-import")
    obs = sample_observations(contract, contract.obs_dim, opts.golden, opts.seed)
    # The golden ones and the parity-sized test set (as for checkpoints) must give finite actions.
    test = sample_observations(contract, contract.obs_dim, opts.parity_samples, opts.seed + 1)
    try:
        sess = session(model)
        actions, test_actions = _run_each(sess, obs), _run_each(sess, test)
    except ORT_ERRORS as exc:
        raise UserError(f"ONNX Runtime cannot run '{onnx_path}' ({first_line(exc)})") from None
    check_finite(np.concatenate([actions, test_actions]), f"'{onnx_path}'")
    golden = {"obs": obs, "noise": None, "actions": actions, "atol": GOLDEN_ATOL_FP32}
    provenance = {
        "run_id": None,
        "git_commit": None,
        "source_onnx": onnx_path.name,
        "source_sha256": file_sha256(onnx_path),
        "golden_from": "onnxruntime (imported graph, no torch model)",
        "export_time_utc": utc_now(),
    }
    latency = measure_latency(sess, desc, opts)
    document = build_document(desc, spec, contract, provenance, golden, {"latency_us": latency})
    set_metadata(model, ARTIFACT_KEY, to_json(document))
    out_path = Path(out_path)
    save_model(model, out_path)
    return ExportResult(out_path, document, float("nan"), 0, latency)
