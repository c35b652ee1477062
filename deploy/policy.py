"""Policy runtimes behind one small interface: `infer(obs) -> action` at batch 1, no allocation.

ONNX Runtime (CPU, one intra-op and one inter-op thread, inputs and outputs bound once to
preallocated arrays); TensorRT (deploy/trt_policy.py) implements the same Protocol.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from common.errors import UserError
from common.files import file_sha256
from robots.artifact import ARTIFACT_KEY
from robots.policy_graph import ACTIONS_OUTPUT, NOISE_INPUT, OBS_INPUT, ort_session


class PolicyRuntime(Protocol):
    """What the policy loop needs from a runtime."""

    name: str
    obs: np.ndarray  # [obs_dim] float32, written by the observation builder in place
    noise: np.ndarray | None  # the flow's noise input ([2d] or [1, 2d]) held at 0, or None
    action: np.ndarray  # [action_dim] float32, valid after infer()

    def infer(self) -> np.ndarray:
        """Run the policy on `self.obs`; returns `self.action` (the same array every call)."""
        ...

    def run_batch(self, obs: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        """[n, obs] -> [n, action] through the same path as infer(), row by row."""
        ...


class OrtPolicy:
    """ONNX Runtime at batch 1 with I/O binding to preallocated float32 buffers.

    A noise input (GenPO artifacts exported with `--noise input`) is fed zeros: the deployed
    action is the deterministic zero-latent flow, as the zero-noise export bakes in.
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path) -> None:
        try:
            self.session = ort_session(path)
        except Exception as exc:  # ORT raises its own exception types for a bad file
            raise UserError(f"cannot load policy {path}: {exc}") from None
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        if OBS_INPUT not in inputs or ACTIONS_OUTPUT not in outputs:
            raise UserError(
                f"policy {path} has inputs {sorted(inputs)} and outputs {sorted(outputs)}; "
                f"a genpo policy reads {OBS_INPUT!r} and writes {ACTIONS_OUTPUT!r}"
            )
        self.obs = _buffer(inputs[OBS_INPUT])
        self.noise = _buffer(inputs[NOISE_INPUT]) if NOISE_INPUT in inputs else None
        self.action = _buffer(outputs[ACTIONS_OUTPUT])
        self._binding = self.session.io_binding()
        self._bind(OBS_INPUT, self.obs)
        if self.noise is not None:
            self._bind(NOISE_INPUT, self.noise)
        self._binding.bind_output(
            ACTIONS_OUTPUT, "cpu", 0, np.float32, self.action.shape, self.action.ctypes.data
        )
        self.obs = self.obs[0]  # views: the builder writes obs in place, the binding sees it
        self.action = self.action[0]

    def _bind(self, name: str, array: np.ndarray) -> None:
        self._binding.bind_input(name, "cpu", 0, np.float32, array.shape, array.ctypes.data)

    def metadata(self) -> str | None:
        """The artifact JSON stored in the ONNX metadata, or None."""
        return self.session.get_modelmeta().custom_metadata_map.get(ARTIFACT_KEY)

    def infer(self) -> np.ndarray:
        self.session.run_with_iobinding(self._binding)
        return self.action

    def run_batch(self, obs: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        return run_rows(self, obs, noise)


def run_rows(
    runtime: PolicyRuntime, obs: np.ndarray, noise: np.ndarray | None = None
) -> np.ndarray:
    """`run_batch` for any runtime: [n, obs] (+ [n, 2d] noise) -> [n, action] through infer(),
    one row at a time; the noise input goes back to zero afterwards."""
    out = np.empty((len(obs), runtime.action.shape[0]), dtype=np.float32)
    for i, row in enumerate(np.asarray(obs, dtype=np.float32)):
        runtime.obs[:] = row
        if runtime.noise is not None:
            runtime.noise[...] = 0.0 if noise is None else noise[i]
        out[i] = runtime.infer()
    if runtime.noise is not None:
        runtime.noise[...] = 0.0
    return out


def _buffer(tensor: Any) -> np.ndarray:  # an onnxruntime NodeArg
    """A zeroed [1, width] float32 buffer for a graph tensor of fixed last dimension."""
    last = tensor.shape[-1] if tensor.shape else None
    if not isinstance(last, int) or last <= 0:
        raise UserError(f"policy tensor {tensor.name!r} has no fixed width (shape {tensor.shape})")
    return np.zeros(last, dtype=np.float32)[None]


def load_runtime(path: str | Path) -> PolicyRuntime:
    """The ONNX Runtime policy for `path` (also the reader of its artifact metadata)."""
    return OrtPolicy(path)


def engine_runtime(
    onnx_path: Path, obs_dim: int, action_dim: int, noise_dim: int, log: Callable[[str], None]
) -> tuple[PolicyRuntime, str] | None:
    """A TensorRT runtime for `<stem>.engine` beside the ONNX, with its sidecar metadata text.

    None (after saying why) when there is no engine, no sidecar, or TensorRT / CUDA cannot run
    it here: the caller then keeps ONNX Runtime.
    """
    engine = onnx_path.with_suffix(".engine")
    sidecar = engine.with_name(engine.name + ".json")
    if not engine.is_file():
        return None
    if not sidecar.is_file():
        log(f"{engine} has no metadata sidecar {sidecar.name}; using ONNX Runtime")
        return None
    text = sidecar.read_text()
    check_engine_pair(onnx_path, engine, text)
    from deploy.trt_policy import TrtPolicy, TrtUnavailable

    try:
        runtime = TrtPolicy(engine, obs_dim, action_dim, noise_dim)
    except TrtUnavailable as exc:
        log(f"{engine} found but not usable: {exc}; using ONNX Runtime")
        return None
    return runtime, text


def check_engine_pair(onnx_path: Path, engine: Path, sidecar_text: str) -> None:
    """The engine beside `onnx_path` was built from that very file and is the one its sidecar
    describes (genpo-export --trt records both sha256); a stale engine left from an earlier
    export would otherwise replace the ONNX unseen. UserError naming the mismatch."""
    try:
        facts = json.loads(sidecar_text).get("engine") or {}
    except (ValueError, AttributeError):
        facts = None
    if not isinstance(facts, dict):
        raise UserError(f"{engine}.json is no engine sidecar; rebuild it with genpo-export --trt")
    fix = f"rebuild it with genpo-export --trt or remove {engine.name}"
    if facts.get("onnx_sha256") != file_sha256(onnx_path):
        raise UserError(f"{engine} was not built from {onnx_path.name} (sha256 differs); {fix}")
    if facts.get("engine_sha256") != file_sha256(engine):
        raise UserError(f"{engine} is not the engine its sidecar describes; {fix}")


def time_inference(runtime: PolicyRuntime, calls: int, warmup: int = 50) -> np.ndarray:
    """Latency of `calls` infer() calls after `warmup`, in microseconds: [calls]."""
    for _ in range(warmup):
        runtime.infer()
    out = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter_ns()
        runtime.infer()
        out[i] = (time.perf_counter_ns() - t0) * 1e-3
    return out
