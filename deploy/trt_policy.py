"""TensorRT policy runtime for the robot (Jetson: TensorRT from JetPack, `cuda-python`).

Same interface as OrtPolicy: `obs` and `action` are preallocated host arrays, `infer()` copies
obs to the device, runs the engine on one CUDA stream and copies the action back. Torch-free:
device memory and the stream come from `cuda-python` (`cuda.cudart`). Both are imported lazily,
so the daemon runs without them and `load_runtime` falls back to ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from common.errors import UserError
from deploy.policy import run_rows
from robots.policy_graph import ACTIONS_OUTPUT, NOISE_INPUT, OBS_INPUT


class TrtUnavailable(UserError):
    """TensorRT or cuda-python is missing, or no GPU answers."""


def _modules() -> tuple[Any, Any]:
    try:
        import tensorrt
        from cuda import cudart
    except ImportError as exc:
        raise TrtUnavailable(
            f"TensorRT runtime unavailable ({exc.name} is not installed)"
        ) from None
    return tensorrt, cudart


def _check(result: tuple) -> Any:
    """cuda-python returns (error, value...): raise on error, return the value(s)."""
    err, *values = result
    if int(err) != 0:
        raise TrtUnavailable(f"CUDA call failed with error {int(err)}")
    return values[0] if len(values) == 1 else tuple(values)


class TrtPolicy:
    """A serialized engine (built by `genpo-export --trt`) at batch 1."""

    name = "tensorrt"

    def __init__(
        self, engine_path: str | Path, obs_dim: int, action_dim: int, noise_dim: int = 0
    ) -> None:
        trt, self._cudart = _modules()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
        if self.engine is None:
            raise TrtUnavailable(f"{engine_path} is not an engine for this GPU and TensorRT")
        self.context = self.engine.create_execution_context()
        self.obs = np.zeros(obs_dim, dtype=np.float32)
        self.noise = np.zeros(noise_dim, dtype=np.float32) if noise_dim else None
        self.action = np.zeros(action_dim, dtype=np.float32)
        self._stream = _check(self._cudart.cudaStreamCreate())
        self._host = {OBS_INPUT: self.obs, ACTIONS_OUTPUT: self.action}
        if self.noise is not None:
            self._host[NOISE_INPUT] = self.noise
        self._device = {}
        for name, array in self._host.items():
            ptr = _check(self._cudart.cudaMalloc(array.nbytes))
            self._device[name] = ptr
            self.context.set_tensor_address(name, ptr)
            if name != ACTIONS_OUTPUT:
                self.context.set_input_shape(name, (1, array.shape[0]))
        # Everything infer() passes to CUDA, resolved once (it runs on the control loop's path).
        copy = self._cudart.cudaMemcpyKind
        self._h2d_copies = [
            (self._device[name], array.ctypes.data, array.nbytes, copy.cudaMemcpyHostToDevice)
            for name, array in self._host.items()
            if name != ACTIONS_OUTPUT
        ]
        self._d2h_copy = (
            self.action.ctypes.data,
            self._device[ACTIONS_OUTPUT],
            self.action.nbytes,
            copy.cudaMemcpyDeviceToHost,
        )

    def infer(self) -> np.ndarray:
        cu = self._cudart
        for dst, src, nbytes, kind in self._h2d_copies:
            _check(cu.cudaMemcpyAsync(dst, src, nbytes, kind, self._stream))
        if not self.context.execute_async_v3(self._stream):
            raise RuntimeError("TensorRT execution failed")
        _check(cu.cudaMemcpyAsync(*self._d2h_copy, self._stream))
        _check(cu.cudaStreamSynchronize(self._stream))
        return self.action

    def run_batch(self, obs: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        return run_rows(self, obs, noise)
