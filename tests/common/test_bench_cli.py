"""Bad input to `python -m <package>.bench <name>`: one sentence on stderr and exit code 2, before
any work starts (no traceback, no child runs, no exit 0); the shared argument types and the
refusal of a child tool (common.cli, deploy/benchmarks/children.py)."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from common.cli import (
    EXIT_USER_ERROR,
    bounded_int,
    fraction,
    int_list,
    positive_float,
    positive_int,
    refusal,
)
from common.errors import UserError
from tests.conftest import REPO

# (package, argv, what the one line says); {file}, {dir}, {missing} are paths under tmp_path:
# a file, an empty directory, nothing.
BAD = [
    ("training", "algos --report-only --out {missing}", "--out '{missing}' does not exist"),
    ("training", "algos --report-only --out {file}", "is not a directory"),
    ("training", "algos --report-only --out {dir}", "holds no launch.json"),
    ("training", "algos --report-only", "pass its directory as --out"),
    ("training", "algos --out {file}", "cannot create output directory"),
    ("training", "algos --seeds a,b", "argument --seeds: expected comma-separated"),
    ("training", "algos --seeds 1,1", "none repeated"),
    ("training", "algos --task bogus", "unknown task 'bogus'"),
    ("training", "algos --num-envs 0", "argument --num-envs: expected a whole number"),
    ("training", "algos --budget-cpu-min -1", "argument --budget-cpu-min: expected a positive"),
    ("training", "algos --budget-cpu-min nan", "argument --budget-cpu-min"),
    ("training", "algos --parallel 0", "argument --parallel"),
    ("training", "algos --eval-episodes 0", "argument --eval-episodes"),
    ("training", "algos --algos ppo,sac", "unknown algo(s) sac"),
    ("training", "algos --algos ,", "names no algorithm"),
    ("training", "env --num-envs 0", "argument --num-envs"),
    ("training", "env --steps 0", "argument --steps"),
    ("training", "env --repeats 0", "argument --repeats"),
    ("training", "env --task bogus", "argument --task: invalid choice: 'bogus'"),
    ("training", "genpo-update --batch 0", "argument --batch"),
    ("training", "genpo-update --flow-steps 0", "argument --flow-steps"),
    ("training", "genpo-update --repeats 0", "argument --repeats"),
    ("training", "genpo-update --hidden a", "argument --hidden"),
    ("training", "genpo-update --hidden 16,0", "argument --hidden"),
    ("training", "genpo-update --compression-fraction 2", "expected a number from 0 to 1"),
    ("training", "genpo-update --no-such-option", "unrecognized arguments: --no-such-option"),
    ("export", "latency --calls 0", "argument --calls"),
    ("export", "latency --flow-steps 0", "argument --flow-steps"),
    ("export", "latency --action-dim -1", "argument --action-dim"),
    ("export", "latency --hidden 16 x", "argument --hidden"),
    ("export", "latency --warmup -1", "argument --warmup"),
    ("deploy", "io --robot go3", "unknown robot 'go3'"),
    ("deploy", "io --domain -1", "argument --domain: expected a whole number from 0 to 232"),
    ("deploy", "io --iterations 0", "argument --iterations"),
    ("deploy", "io --iterations -1", "argument --iterations"),
    ("deploy", "loop --robot go3", "unknown robot 'go3'"),
    ("deploy", "loop --policy {missing}", "policy file {missing} does not exist"),
    ("deploy", "loop --duration 0", "argument --duration"),
    ("deploy", "loop --domain 999", "argument --domain"),
    ("deploy", "loop --out {dir}", "--out '{dir}' is a directory"),
    ("deploy", "fidelity --task bogus", "--task bogus is not a task of --robot go2"),
    ("deploy", "fidelity --policy {missing}", "policy file {missing} does not exist"),
    ("deploy", "fidelity --duration 0", "argument --duration"),
    ("deploy", "fidelity --episodes 0", "argument --episodes"),
    ("deploy", "fidelity --cmd 1,2", "argument --cmd: expected three numbers"),
    ("deploy", "fidelity --eval-set foo", "argument --eval-set: expected KEY=VALUE"),
    ("deploy", "fidelity --contact none", "argument --contact: invalid choice"),
    ("deploy", "fidelity --out {dir}", "--out '{dir}' is a directory"),
]


def _paths(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "a_file").write_text("")
    (tmp_path / "a_dir").mkdir()
    return {
        "file": str(tmp_path / "a_file"),
        "dir": str(tmp_path / "a_dir"),
        "missing": str(tmp_path / "missing" / "out"),
    }


@pytest.mark.parametrize(("package", "argv", "says"), BAD, ids=[f"{p} {a}" for p, a, _ in BAD])
def test_bad_input_is_one_sentence_and_exit_2(
    package: str, argv: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _paths(tmp_path)
    bench = importlib.import_module(f"{package}.bench")
    assert bench.main(argv.format(**paths).split()) == EXIT_USER_ERROR
    out, err = capsys.readouterr()
    name = argv.split()[0]
    assert out == ""  # refused before any work: no table, no "start" line
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"python -m {package}.bench {name}: error: ")
    assert says.format(**paths) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_dir", "a_file"]  # nothing written
    assert list((tmp_path / "a_dir").iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["training.bench", "genpo-update", "--hidden", "a"],
        ["export.bench", "latency", "--calls", "0"],
        ["deploy.bench", "io", "--robot", "go3"],
    ],
)
def test_the_entry_points_exit_2_with_one_line(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == EXIT_USER_ERROR and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_the_argument_types() -> None:
    assert positive_int("3") == 3 and bounded_int(0, 232)("232") == 232
    assert positive_float("0.5") == 0.5 and fraction("0") == 0.0 and fraction("1") == 1.0
    assert int_list(0)("0,2") == [0, 2] and int_list(1, unique=False)("8,8") == [8, 8]
    for parse, text in [
        (positive_int, "0"),
        (positive_int, "1.5"),
        (bounded_int(0, 232), "233"),
        (positive_float, "inf"),
        (positive_float, "0"),
        (fraction, "nan"),
        (int_list(0), ""),
        (int_list(0), "1,,2"),
        (int_list(0), "-1"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text).replace(".", r"\.")):
            parse(text)


def test_a_child_refusal_is_its_last_error_line() -> None:
    stderr = "usage: genpo-deploy [-h] ...\ngenpo-deploy: error: argument --io: invalid choice\n"
    assert refusal(2, stderr) == "genpo-deploy refused: argument --io: invalid choice"
    assert refusal(1, stderr) is None  # a crash, not a refusal
    assert refusal(2, "Traceback (most recent call last):\n  ...\n") is None


def _child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_refusing_child_tool_is_a_user_error_quoting_it() -> None:
    from deploy.benchmarks.children import json_line

    refuses = "import sys; sys.exit('genpo-eval: error: unknown task \\'x\\'; known tasks: a')"
    # sys.exit(str) exits 1: only exit code 2 is a refusal.
    with pytest.raises(RuntimeError, match="failed"):
        json_line(_child(refuses), timeout_s=60)
    refuses = "import sys; print('genpo-eval: error: unknown task', file=sys.stderr); sys.exit(2)"
    with pytest.raises(UserError, match="^genpo-eval refused: unknown task$"):
        json_line(_child(refuses), timeout_s=60)
    assert json_line(_child("print('x'); print('{\"a\": 1}')"), timeout_s=60) == {"a": 1}


def test_a_refusing_sim_is_a_user_error_quoting_it() -> None:
    from deploy.benchmarks.children import sim_process

    refused = pytest.raises(UserError, match="^genpo-sim refused: unknown robot 'go3'")
    with refused, sim_process("go3", 0, 1.0):
        pass


def test_algos_exits_1_when_a_run_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs that fail in their own process (the bench checked its input) are reported, and the
    exit code says so: never 0."""
    from training import bench
    from training.benchmarks import algos

    real_popen, real_sleep = subprocess.Popen, algos.time.sleep
    failing = _child("raise SystemExit(3)")
    monkeypatch.setattr(algos.subprocess, "Popen", lambda _cmd, **kw: real_popen(failing, **kw))
    monkeypatch.setattr(algos.time, "sleep", lambda _s: real_sleep(0.05))
    monkeypatch.setattr(algos.signal, "signal", lambda *_: None)
    out = tmp_path / "out"
    argv = ["algos", "--algos", "ppo", "--seeds", "1", "--out", str(out)]
    assert bench.main(argv) == 1
    err = capsys.readouterr().err
    assert f"1 of 1 runs failed; see {out / 'ppo_s1.log'}" in err
    assert (out / "launch.json").is_file() and (out / "ALGOS_RESULTS.md").is_file()
    # The same --out again is refused up front only when a run in it got as far as run.yaml.
    (out / "ppo_s1").mkdir()
    (out / "ppo_s1" / "run.yaml").write_text("")
    assert bench.main(argv) == EXIT_USER_ERROR
    assert "already holds run(s) ppo_s1" in capsys.readouterr().err
