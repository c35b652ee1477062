"""genpo-export CLI: happy paths, IsaacLab import, and one-sentence errors with exit code 2."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
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


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--robot", "h1"], "trained for robot 'go2', not 'h1'"),
        (["--task", "h1_flat"], "trained on task 'go2_flat', not 'h1_flat'"),
        (["--task", "go2_rough"], "trained on task 'go2_flat', not 'go2_rough'"),
        (["--fp16"], "--fp16 builds the TensorRT engine in fp16; it goes with --trt"),
        (["--from-onnx", "x.onnx", "--robot", "go2", "--task", "go2_flat"],
         "pass a checkpoint or --from-onnx ONNX, not both"),
    ],
    ids=["other-robot", "other-robot-task", "other-terrain", "fp16-without-trt",
         "checkpoint-and-onnx"],
)  # fmt: skip
def test_mismatched_or_conflicting_options_are_refused(
    flow_ckpt: Path, tmp_path: Path, capsys, extra: list[str], words: str
) -> None:
    assert main([str(flow_ckpt), "--out", str(tmp_path / "out"), *extra, *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]
    assert not (tmp_path / "out" / "policy.onnx").exists()


def test_trt_without_tensorrt_still_writes_onnx(flow_ckpt: Path, tmp_path: Path, capsys):
    pytest.importorskip("onnx")
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here; covered by the gpu test")
    except ImportError:
        pass
    assert main([str(flow_ckpt), "--out", str(tmp_path), "--trt", *FAST]) == 0
    out, err = capsys.readouterr()
    assert "TensorRT" not in out  # stdout holds what was written, the warning goes to stderr
    assert err.startswith("genpo-export: warning: TensorRT is not installed")
    assert err.count("\n") == 1
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


def _graph(path: Path, nodes: list, inits: list) -> Path:
    """A hand-made go2-sized graph obs [1, 45] -> actions [1, 12]."""
    from onnx import TensorProto, helper

    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, w])
          for n, w in (("obs", 45), ("actions", 12))]  # fmt: skip
    graph = helper.make_graph(nodes, "g", io[:1], io[1:], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _bad_graph(kind: str, path: Path) -> Path:
    from onnx import TensorProto, helper

    weights = helper.make_tensor("W", TensorProto.FLOAT, [45, 12], [0.01] * 540)
    zero = helper.make_tensor("Z", TensorProto.FLOAT, [1], [0.0])
    shape = helper.make_tensor("S", TensorProto.INT64, [2], [1, 12])
    node = helper.make_node
    graphs = {
        "undefined-input": ([node("MatMul", ["obs", "nope"], ["actions"])], []),
        "unknown-op": ([node("Frobnicate", ["obs"], ["actions"])], []),
        # sqrt(log(x)) of small x: NaN on every observation
        "nan": ([node("MatMul", ["obs", "W"], ["m"]), node("Log", ["m"], ["l"]),
                 node("Sqrt", ["l"], ["actions"])], [weights]),
        "inf": ([node("MatMul", ["obs", "W"], ["m"]), node("Div", ["m", "Z"], ["actions"])],
                [weights, zero]),
        # valid to the checker, fails when run: 45 values cannot become [1, 12]
        "cannot-run": ([node("Reshape", ["obs", "S"], ["actions"])], [shape]),
    }  # fmt: skip
    return _graph(path, *graphs[kind])


def _case(kind: str, tmp: Path) -> list[str]:
    """argv of one bad-input case (files it needs are made in tmp)."""
    isaac = ["--robot", "go2", "--task", "go2_flat"]
    if kind in ("undefined-input", "unknown-op", "nan", "inf", "cannot-run"):
        return ["--from-onnx", str(_bad_graph(kind, tmp / f"{kind}.onnx")), *isaac]
    if kind in ("unknown-robot", "other-robot", "unknown-task"):
        src = str(_isaaclab_like_onnx(tmp / "isaac.onnx", 45, 12))
        robot = {"unknown-robot": "spot", "other-robot": "h1"}.get(kind, "go2")
        task = "go2_bogus" if kind == "unknown-task" else f"{robot}_flat"
        return ["--from-onnx", src, "--robot", robot, "--task", task]
    if kind == "missing":
        return [str(tmp / "missing.pt")]
    if kind == "junk":
        (tmp / "junk.pt").write_text("not a checkpoint")
        return [str(tmp / "junk.pt")]
    ckpt = write_checkpoint(tmp / "r" / "model_1.pt", "flow")
    counts = {"zero-golden": ["--golden", "0"], "negative-latency-calls": ["--latency-calls", "-1"]}
    if kind in counts:
        return [str(ckpt), *counts[kind]]
    if kind == "unwritable-out":
        (tmp / "file").write_text("")
        return [str(ckpt), "--out", str(tmp / "file" / "sub")]
    payload = torch.load(ckpt, weights_only=True)
    if kind == "future-schema":
        payload["schema_version"] = 99
    else:  # crafted: a field the policy is rebuilt from is gone
        del payload["policy_kwargs"]["cfg"]
    torch.save(payload, ckpt)
    return [str(ckpt)]


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("missing", "does not exist"),
        ("zero-golden", "--golden must be at least 1, got 0"),
        ("negative-latency-calls", "--latency-calls must be 0 (skip) or more, got -1"),
        ("junk", "cannot be read"),
        ("future-schema", "schema version 99"),
        ("missing-field", "incomplete (no policy_kwargs.cfg)"),
        ("unknown-robot", "unknown robot 'spot'"),
        ("other-robot", "maps 45 observations to 12 actions"),
        ("unknown-task", "unknown task 'go2_bogus'; known tasks: go2_flat, go2_rough, h1_flat"),
        ("unwritable-out", "cannot create output directory"),
        ("undefined-input", "is not a valid ONNX graph"),
        ("unknown-op", "is not a valid ONNX graph (No Op registered for Frobnicate"),
        ("nan", "produces NaN or Inf actions on 1008 of 1008 test observations"),
        ("inf", "produces NaN or Inf actions on 1008 of 1008 test observations"),
        ("cannot-run", "ONNX Runtime cannot run"),
    ],
)
def test_user_errors_exit_2_and_write_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture, kind: str, words: str
) -> None:
    argv = _case(kind, tmp_path)
    out = tmp_path / "out" / "exported"
    if "--out" not in argv:
        argv += ["--out", str(out)]
    assert main([*FAST, *argv]) == 2  # argv last: its options win
    err = capfd.readouterr().err  # capfd: ONNX Runtime's own log lines count too
    assert err.startswith("genpo-export: ") and words in err and "Traceback" not in err
    assert err.count("\n") == 1, err
    # not even the --out folder (nor its parent) of a refused run is left behind
    assert not (tmp_path / "out").exists() and not list(tmp_path.rglob("policy.onnx"))


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
    assert bench.main(["latency", "--smoke"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert '"bench": "export.latency"' in last and '"genpo_over_mlp_p50"' in last
