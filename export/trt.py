"""TensorRT engine from the exported ONNX: build, golden-vector re-check, latency, sidecar JSON.

TensorRT is imported lazily (it is not installable from PyPI; workstations get it from NVIDIA,
Jetsons from JetPack). Device buffers are torch CUDA tensors, so no pycuda is needed.
TensorRT 10 API: Builder / OnnxParser / BuilderConfig / build_serialized_network, then
Runtime.deserialize_cuda_engine and IExecutionContext.set_tensor_address + execute_async_v3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.errors import UserError
from common.files import file_sha256, write_bytes_atomic, write_text_atomic
from export.verify import latency_us
from robots.artifact import GOLDEN_ATOL_FP16, GOLDEN_ATOL_FP32, parse_artifact, verify_golden
from robots.policy_graph import ACTIONS_OUTPUT, NOISE_INPUT, OBS_INPUT

MAX_BATCH = 1024  # optimisation-profile upper bound of the dynamic batch axis


class TrtUnavailable(UserError):
    """TensorRT or a CUDA GPU is missing on this machine."""


def _tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError:
        raise TrtUnavailable(
            "TensorRT is not installed here (install it from NVIDIA or use JetPack); "
            "the ONNX file was written without an engine"
        ) from None
    if not torch.cuda.is_available():
        raise TrtUnavailable(
            "no CUDA GPU is available; the ONNX file was written without an engine"
        )
    return tensorrt


def build_engine(
    onnx_path: Path, engine_path: Path, fp16: bool, obs_dim: int, noise_dim: int
) -> None:
    """Parse the ONNX file and write a serialized engine (fp32, or fp16 where allowed)."""
    trt = _tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"TensorRT cannot parse '{onnx_path}': {errors}")
    config = builder.create_builder_config()
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name, width in ((OBS_INPUT, obs_dim), (NOISE_INPUT, noise_dim)):
        if width:
            profile.set_shape(name, (1, width), (1, width), (MAX_BATCH, width))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UserError(f"TensorRT failed to build an engine from '{onnx_path}' (see its log)")
    write_bytes_atomic(engine_path, bytes(serialized))


class TrtRunner:
    """run(obs[, noise]) -> actions through a serialized engine on the current CUDA device."""

    def __init__(self, engine_path: Path) -> None:
        trt = _tensorrt()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise UserError(f"'{engine_path}' is not a TensorRT engine for this GPU and version")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()

    def __call__(self, obs: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        inputs = {OBS_INPUT: obs} if noise is None else {OBS_INPUT: obs, NOISE_INPUT: noise}
        batch = len(obs)
        keep = []  # device tensors must outlive the asynchronous execution
        for name, value in inputs.items():
            t = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)).cuda()
            self.context.set_input_shape(name, tuple(t.shape))
            self.context.set_tensor_address(name, t.data_ptr())
            keep.append(t)
        out = torch.empty(
            (batch, *tuple(self.context.get_tensor_shape(ACTIONS_OUTPUT))[1:]),
            device="cuda",
            dtype=torch.float32,
        )
        self.context.set_tensor_address(ACTIONS_OUTPUT, out.data_ptr())
        with torch.cuda.stream(self.stream):
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
        self.stream.synchronize()
        return out.cpu().numpy()


def export_engine(
    onnx_path: Path, document: dict[str, Any], fp16: bool, latency_calls: int = 10_000
) -> dict[str, Any]:
    """Build `<onnx stem>.engine` + `<engine>.json` (the artifact document plus engine facts)."""
    policy = document["policy"]
    engine_path = onnx_path.with_suffix(".engine")
    build_engine(onnx_path, engine_path, fp16, policy["obs_dim"], policy["noise_dim"])
    run = TrtRunner(engine_path)
    atol = GOLDEN_ATOL_FP16 if fp16 else GOLDEN_ATOL_FP32
    artifact = parse_artifact(json.dumps(document))
    golden_err = verify_golden(artifact, run, atol)
    obs = np.zeros((1, policy["obs_dim"]), dtype=np.float32)
    noise = np.zeros((1, policy["noise_dim"]), dtype=np.float32) if policy["noise_dim"] else None
    latency = latency_us(lambda: run(obs, noise), 200, latency_calls) if latency_calls else None
    engine = {
        "file": engine_path.name,
        "precision": "fp16" if fp16 else "fp32",
        "tensorrt": __import__("tensorrt").__version__,
        "gpu": torch.cuda.get_device_name(),
        "golden_max_abs_err": golden_err,
        "golden_atol": atol,
        "latency_us": latency,  # includes host<->device copies, as deploy would see them
        # genpo-deploy runs the engine only beside this ONNX (deploy.policy.check_engine_pair)
        "onnx_sha256": file_sha256(onnx_path),
        "engine_sha256": file_sha256(engine_path),
    }
    sidecar = {**document, "golden": {**document["golden"], "atol": atol}, "engine": engine}
    write_text_atomic(f"{engine_path}.json", json.dumps(sidecar, sort_keys=True))
    return engine
