"""The deploy side verifies an artifact with torch made unimportable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from export.exporter import ExportOptions, export_checkpoint
from tests.export.conftest import FAST

SCRIPT = """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import json, onnxruntime as ort
from robots import get_robot
from robots.artifact import ARTIFACT_KEY, parse_artifact, verify_golden
sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
artifact = parse_artifact(sess.get_modelmeta().custom_metadata_map[ARTIFACT_KEY], get_robot("go2"))
names = [i.name for i in sess.get_inputs()]
def run(obs, noise=None):
    feed = {names[0]: obs} if noise is None else {names[0]: obs, names[1]: noise}
    return sess.run(None, feed)[0]
err = verify_golden(artifact, run)
try:
    import torch  # noqa: F401
    print("torch importable")
except ImportError:
    pass
print(json.dumps({"err": err, "kind": artifact.policy.kind, "noise": artifact.policy.noise}))
"""


def _verify(path: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_golden_vectors_verify_without_torch(flow_ckpt: Path, ppo_ckpt: Path, tmp_path: Path):
    flow = export_checkpoint(flow_ckpt, tmp_path / "f", ExportOptions(noise="input", **FAST))
    ppo = export_checkpoint(ppo_ckpt, tmp_path / "p", ExportOptions(**FAST))
    out_flow, out_ppo = _verify(flow.onnx_path), _verify(ppo.onnx_path)
    assert "torch importable" not in out_flow
    assert '"kind": "genpo", "noise": "input"' in out_flow
    assert '"kind": "ppo", "noise": "zero"' in out_ppo
