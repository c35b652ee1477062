"""The exported policy graph's interface, declared once: its tensor names and the one ONNX
Runtime session factory that export, evaluation and the deploy daemon all open it with.

onnxruntime is imported inside the factory, so robots/ stays importable without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

OBS_INPUT = "obs"  # [batch, obs_dim] float32 actor observation (contract order, clipped, scaled)
NOISE_INPUT = "noise"  # [batch, 2 * action_dim] flow latent, present with `--noise input` only
ACTIONS_OUTPUT = "actions"  # [batch, action_dim] raw executed action, policy joint order


def ort_session(model: str | Path | bytes, threads: int = 1) -> Any:
    """A CPU `onnxruntime.InferenceSession` with the deploy settings: sequential execution, all
    graph optimisations, `threads` intra-op threads (the robot's and the parity checks' 1).

    `model` is a path or the serialized bytes. ONNX Runtime's own exception types propagate;
    callers turn them into one sentence naming the file.
    """
    import onnxruntime as ort  # deferred: robots/ is imported where ONNX Runtime is not needed

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Fatal only: a failure also raises, and callers turn it into one sentence for the user.
    opts.log_severity_level = 4
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
