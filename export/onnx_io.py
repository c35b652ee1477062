"""torch -> ONNX export, graph checks, metadata writing and ONNX Runtime runners.

Exporter choice: the TorchScript-based exporter (`dynamo=False`) at opset 17. On the unrolled
Go2-rough flow both exporters gave the same ORT latency (within noise) once Mish is written in
its cheap form (export/graph.py), but the TorchScript one exports in well under a second
without printing progress, does not need onnxscript, and its graph has been the faster one in
earlier measurements (environment.md). Opset 17 is the newest one needing no operator we lack
(we do not use the opset-18 Mish op, which ORT expands into the slow Softplus anyway) and is
read by every ORT >= 1.13 and TensorRT >= 8.6, including JetPack builds.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.capi.onnxruntime_pybind11_state import (
    Fail,
    InvalidArgument,
    InvalidGraph,
    NotImplemented,
    RuntimeException,
)
from torch import nn

from common.errors import UserError
from common.files import write_bytes_atomic
from robots.policy_graph import ACTIONS_OUTPUT, NOISE_INPUT, OBS_INPUT, ort_session

OPSET = 17
EXPORTER = "torchscript"
# A fixed-step artifact must contain no control flow and no sampling.
FORBIDDEN_OP_PREFIXES = ("Loop", "Scan", "If", "RandomNormal", "RandomUniform", "Multinomial")


# What ONNX Runtime raises for a graph it cannot load or run (none derives from RuntimeError).
ORT_ERRORS = (Fail, InvalidArgument, InvalidGraph, NotImplemented, RuntimeException)


class ExportError(UserError):
    """The export produced something that cannot be shipped (failed check or parity)."""


def export_module(module: nn.Module, obs_dim: int, noise_dim: int = 0) -> onnx.ModelProto:
    """Export `module(obs[, noise]) -> actions` with a dynamic batch axis; returns the model."""
    args: tuple[torch.Tensor, ...] = (torch.zeros(1, obs_dim),)
    names = [OBS_INPUT]
    if noise_dim:
        args += (torch.zeros(1, noise_dim),)
        names.append(NOISE_INPUT)
    axes = {name: {0: "batch"} for name in [*names, ACTIONS_OUTPUT]}
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            buffer,
            input_names=names,
            output_names=[ACTIONS_OUTPUT],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    model = onnx.load_from_string(buffer.getvalue())
    check_graph(model)
    return model


def op_types(model: onnx.ModelProto) -> set[str]:
    """Operator types of the main graph and every subgraph."""
    found: set[str] = set()

    def visit(nodes: Iterable[onnx.NodeProto]) -> None:
        for node in nodes:
            found.add(node.op_type)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    visit(attr.g.node)
                for g in attr.graphs:
                    visit(g.node)

    visit(model.graph.node)
    return found


def check_graph(model: onnx.ModelProto) -> None:
    """onnx.checker plus the fixed-step rule: no loops, branches or random ops."""
    onnx.checker.check_model(model, full_check=True)
    bad = sorted(op for op in op_types(model) if op.startswith(FORBIDDEN_OP_PREFIXES))
    if bad:
        raise ExportError(f"the exported graph contains {', '.join(bad)}; it must be fixed-step")


def io_sizes(model: onnx.ModelProto) -> tuple[dict[str, list], dict[str, list]]:
    """Input and output shapes by name (symbolic dims as strings)."""

    def shape(v: onnx.ValueInfoProto) -> list:
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    initializers = {i.name for i in model.graph.initializer}
    inputs = {v.name: shape(v) for v in model.graph.input if v.name not in initializers}
    return inputs, {v.name: shape(v) for v in model.graph.output}


def set_metadata(model: onnx.ModelProto, key: str, value: str) -> None:
    """Set (replace) one metadata_props entry in place."""
    kept = [p for p in model.metadata_props if p.key != key]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in kept}, key: value})


def save_model(model: onnx.ModelProto, path: Path) -> None:
    """Write atomically so a failed export never leaves a half-written policy behind."""
    write_bytes_atomic(path, model.SerializeToString())


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    """The deploy-configured session (robots/policy_graph.py) of an in-memory model."""
    return ort_session(model.SerializeToString())


def runner(sess: ort.InferenceSession) -> Callable[..., np.ndarray]:
    """run(obs[, noise]) -> actions for a session, float32 in and out."""
    names = [i.name for i in sess.get_inputs()]

    def run(obs: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        feed = {names[0]: np.ascontiguousarray(obs, dtype=np.float32)}
        if noise is not None:
            feed[names[1]] = np.ascontiguousarray(noise, dtype=np.float32)
        return sess.run(None, feed)[0]

    return run
