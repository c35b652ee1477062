"""TensorRT runtime selection: the engine is used where TensorRT runs, ORT everywhere else."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from common.errors import UserError
from deploy.preflight import load_policy
from robots import GO2
from robots.artifact import ARTIFACT_KEY
from tests.deploy.artifacts import tiny_flow_artifact

HAS_TRT = importlib.util.find_spec("tensorrt") is not None


def _policy_copy(artifacts: dict[str, Path], tmp_path: Path) -> Path:
    path = tmp_path / "policy.onnx"
    shutil.copy(artifacts["go2"], path)
    return path


def _sidecar(onnx: Path, engine: Path, **engine_facts) -> None:
    """The sidecar genpo-export --trt writes beside `engine` (engine facts trimmed to the pair)."""
    from common.files import file_sha256

    facts = {"onnx_sha256": file_sha256(onnx), "engine_sha256": file_sha256(engine)}
    text = json.dumps({"engine": {**facts, **engine_facts}})
    engine.with_name(engine.name + ".json").write_text(text)


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_engine_without_tensorrt_falls_back_to_ort_and_says_why(artifacts, tmp_path) -> None:
    path = _policy_copy(artifacts, tmp_path)
    path.with_suffix(".engine").write_bytes(b"not an engine")
    _sidecar(path, path.with_suffix(".engine"))
    said: list[str] = []
    loaded = load_policy(path, GO2, said.append)
    assert loaded.runtime.name == "onnxruntime"
    assert any("not usable" in s and "tensorrt" in s for s in said), said
    assert loaded.golden_err < 1e-4  # the ORT path still verified the golden vectors


def test_engine_without_sidecar_is_ignored_with_a_reason(artifacts, tmp_path) -> None:
    path = _policy_copy(artifacts, tmp_path)
    path.with_suffix(".engine").write_bytes(b"engine bytes")
    said: list[str] = []
    loaded = load_policy(path, GO2, said.append)
    assert loaded.runtime.name == "onnxruntime"
    assert any("no metadata sidecar" in s for s in said), said


@pytest.mark.parametrize(
    ("stale", "fragment"),
    [
        ("onnx", "was not built from policy.onnx"),
        ("engine", "is not the engine its sidecar describes"),
        ("sidecar", "is no engine sidecar"),
    ],
)
def test_engine_not_paired_with_its_onnx_is_refused(stale, fragment, artifacts, tmp_path):
    """An engine left from an earlier export (the ONNX re-exported), an engine rebuilt without
    its sidecar, or a sidecar that is not one: refused before any runtime is built, rather than
    silently replacing the verified ONNX."""
    path = _policy_copy(artifacts, tmp_path)
    engine = path.with_suffix(".engine")
    engine.write_bytes(b"engine bytes")
    _sidecar(path, engine)
    if stale == "onnx":
        path.write_bytes(Path(artifacts["go2_history"]).read_bytes())
    elif stale == "engine":
        engine.write_bytes(b"another engine")
    else:
        engine.with_name("policy.engine.json").write_text("[1, 2]")
    with pytest.raises(UserError, match=fragment):
        load_policy(path, GO2, lambda _: None)


@pytest.mark.gpu
def test_tensorrt_engine_is_selected_and_matches_ort(tmp_path: Path) -> None:
    import onnx

    from deploy.policy import OrtPolicy
    from export.trt import export_engine

    path = tiny_flow_artifact("go2", tmp_path / "policy.onnx")
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    export_engine(path, json.loads(meta[ARTIFACT_KEY]), fp16=False, latency_calls=0)
    loaded = load_policy(path, GO2)
    assert loaded.runtime.name == "tensorrt"
    obs = np.random.default_rng(0).normal(size=(16, loaded.runtime.obs.shape[0]))
    obs = obs.astype(np.float32)
    expected = OrtPolicy(path).run_batch(obs)
    assert np.abs(loaded.runtime.run_batch(obs) - expected).max() < 1e-4
