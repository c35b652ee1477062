"""genpo-export CLI: happy paths, IsaacLab import, and one-sentence errors with exit code 2."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from export import bench
from export.cli import main
from robots import get_robot
from robots.artifact import ARTIFACT_KEY, parse_artifact, verify_golden
from tests.export.conftest import write_checkpoint

FAST = ["--latency-calls", "10"]


def _isaaclab_like_onnx(path: Path, obs_dim: int, act_dim: int) -> Path:
    """What IsaacLab's rsl_rl exporter writes: an MLP with input 'obs' and output 'actions'."""
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(obs_dim, 32), torch.nn.ELU(), torch.nn.Linear(32, act_dim)
    )
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(
            mlp,
            (torch.zeros(1, obs_dim),),
            str(path),
            input_names=["obs"],
            output_names=["actions"],
            opset_version=17,
            dynamo=False,
        )
    return path


def test_export_checkpoint_cli(flow_ckpt: Path, tmp_path: Path, capsys) -> None:
    assert main([str(flow_ckpt), "--out", str(tmp_path), "--golden", "3", *FAST]) == 0
    out = capsys.readouterr().out
    assert "parity torch vs ONNX Runtime" in out and "p50" in out
    assert (tmp_path / "policy.onnx").is_file()


def test_trt_without_tensorrt_still_writes_onnx(flow_ckpt: Path, tmp_path: Path, capsys):
    pytest.importorskip("onnx")
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here; covered by the gpu test")
    except ImportError:
        pass
    assert main([str(flow_ckpt), "--out", str(tmp_path), "--trt", *FAST]) == 0
    assert "TensorRT is not installed" in capsys.readouterr().out
    assert (tmp_path / "policy.onnx").is_file() and not (tmp_path / "policy.engine").exists()


def test_from_onnx_import(tmp_path: Path) -> None:
    import onnxruntime as ort

    src = _isaaclab_like_onnx(tmp_path / "isaac.onnx", 45, 12)
    out = tmp_path / "out"
    assert (
        main(
            [
                "--from-onnx",
                str(src),
                "--robot",
                "go2",
                "--task",
                "go2_flat",
                "--out",
                str(out),
                *FAST,
            ]
        )
        == 0
    )
    sess = ort.InferenceSession(str(out / "policy.onnx"), providers=["CPUExecutionProvider"])
    artifact = parse_artifact(
        sess.get_modelmeta().custom_metadata_map[ARTIFACT_KEY], get_robot("go2")
    )
    assert artifact.policy.source == "onnx-import" and artifact.policy.kind == "ppo"
    assert verify_golden(artifact, lambda obs: sess.run(None, {"obs": obs})[0]) == 0.0


def _fails(argv: list[str], capsys, words: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("genpo-export: ") and words in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_user_errors_exit_2(tmp_path: Path, capsys) -> None:
    _fails([str(tmp_path / "missing.pt")], capsys, "does not exist")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    _fails([str(junk)], capsys, "cannot be read")
    future = write_checkpoint(tmp_path / "r" / "model_1.pt", "flow")
    payload = torch.load(future, weights_only=True)
    payload["schema_version"] = 99
    torch.save(payload, future)
    _fails([str(future)], capsys, "schema version 99")
    src = _isaaclab_like_onnx(tmp_path / "isaac.onnx", 45, 12)
    _fails(
        ["--from-onnx", str(src), "--robot", "spot", "--task", "spot_flat"],
        capsys,
        "unknown robot 'spot'",
    )
    _fails(
        ["--from-onnx", str(src), "--robot", "h1", "--task", "h1_flat"],
        capsys,
        "maps 45 observations to 12 actions",
    )
    blocker = tmp_path / "file"
    blocker.write_text("")
    ok = write_checkpoint(tmp_path / "r2" / "model_1.pt", "flow")
    _fails([str(ok), "--out", str(blocker / "sub")], capsys, "cannot create output directory")


def test_help_lists_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for option in (
        "--out",
        "--noise",
        "--trt",
        "--fp16",
        "--golden",
        "--from-onnx",
        "--robot",
        "--task",
        "--latency-calls",
    ):
        assert option in text
    assert text.count("default") >= 9


def test_bench_smoke(capsys) -> None:
    assert bench.main(["--smoke"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert '"bench": "export.latency"' in last and '"genpo_over_mlp_p50"' in last
