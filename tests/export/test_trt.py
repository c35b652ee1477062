"""TensorRT engine build and golden re-check (needs a CUDA GPU and TensorRT)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from export.exporter import ExportOptions, export_checkpoint
from tests.export.conftest import FAST


@pytest.mark.gpu
@pytest.mark.parametrize("fp16", [False, True])
def test_engine_matches_golden_vectors(fp16: bool, flow_ckpt: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorrt")
    from export.trt import export_engine

    result = export_checkpoint(flow_ckpt, tmp_path, ExportOptions(**FAST))
    engine = export_engine(result.onnx_path, result.document, fp16, latency_calls=100)
    assert engine["golden_max_abs_err"] <= (2e-3 if fp16 else 1e-4)
    sidecar = json.loads((tmp_path / "policy.engine.json").read_text())
    assert sidecar["contract"] == result.document["contract"]
    assert sidecar["engine"]["precision"] == ("fp16" if fp16 else "fp32")
