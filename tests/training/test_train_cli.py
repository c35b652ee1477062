"""genpo-train end to end on the MuJoCo backend: a short run, a loadable checkpoint, resume."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from training.checkpoint import load_checkpoint

TINY = [
    "--set",
    "flow.hidden_dims=[32, 32]",
    "--set",
    "critic.hidden_dims=[32, 32]",
    "--set",
    "flow.time_hidden_dims=[32]",
    "--set",
    "runner.num_steps_per_env=8",
]


def _train(*args: str) -> subprocess.CompletedProcess:
    # The defaults first: a --torch-threads in args must win (argparse keeps the last one).
    cmd = [sys.executable, "-m", "training.cli", "--no-progress", "--torch-threads", "1", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_short_run_then_resume_continues(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = _train(
        "go2_flat",
        "--num-envs",
        "8",
        "--max-iterations",
        "2",
        "--run-dir",
        str(run_dir),
        "--seed",
        "3",
        *TINY,
    )
    assert first.returncode == 0, first.stderr
    ckpt = load_checkpoint(run_dir / "model_2.pt")
    assert ckpt["iteration"] == 2
    assert ckpt["robot_contract"]["task"] == "go2_flat"
    assert (run_dir / "training_curve.png").stat().st_size > 1000
    assert f"genpo-eval {run_dir / 'model_2.pt'} --task go2_flat" in first.stdout
    run = yaml.safe_load((run_dir / "run.yaml").read_text())
    assert run["train"]["flow"]["hidden_dims"] == [32, 32] and run["num_envs"] == 8

    second = _train("go2_flat", "--resume", str(run_dir / "model_2.pt"), "--max-iterations", "1")
    assert second.returncode == 0, second.stderr
    resumed = load_checkpoint(run_dir / "model_3.pt")
    assert resumed["iteration"] == 3
    assert resumed["config"]["flow"]["hidden_dims"] == [32, 32]  # the run's config, not defaults


def test_history_run_keeps_its_frames_through_resume(tmp_path: Path) -> None:
    """--set env.observations.history_length=3 (and a target clamp): the checkpoint's contract
    and actor read 3 frames, the checkpoint records both settings, the printed next step needs
    no --set for them (genpo-eval reads the checkpoint's), and a resume keeps them."""
    run_dir = tmp_path / "run"
    args = ["--num-envs", "4", "--max-iterations", "1", "--run-dir", str(run_dir), *TINY]
    clamp = ("--set", "env.sim.target_range_factor=0.9")
    first = _train("go2_flat", *args, "--set", "env.observations.history_length=3", *clamp)
    assert first.returncode == 0, first.stderr
    ckpt = load_checkpoint(run_dir / "model_1.pt")
    assert ckpt["robot_contract"]["history_length"] == 3
    settings = {"observations.history_length": 3, "sim.target_range_factor": 0.9}
    assert ckpt["task_settings"] == settings  # what genpo-eval will run it under
    assert ckpt["policy_kwargs"]["obs_dim"] == 3 * 45
    assert f"next: genpo-eval {run_dir / 'model_1.pt'} --task go2_flat   |" in first.stdout
    second = _train("go2_flat", "--resume", str(run_dir / "model_1.pt"), "--max-iterations", "1")
    assert second.returncode == 0, second.stderr
    resumed = load_checkpoint(run_dir / "model_2.pt")
    assert resumed["robot_contract"]["history_length"] == 3
    assert resumed["task_settings"] == settings


def test_resume_can_lengthen_the_history(tmp_path: Path) -> None:
    """A blind run resumed with --set env.observations.history_length=3 carries on (the
    iteration count) with an actor of 3 frames, and its run.yaml keeps the new setting for the
    next resume; going back to fewer frames is refused in one sentence."""
    run_dir = tmp_path / "run"
    args = ["--num-envs", "4", "--max-iterations", "1", "--run-dir", str(run_dir), *TINY]
    assert _train("go2_flat", *args).returncode == 0
    history = ("--set", "env.observations.history_length=3")
    second = _train("go2_flat", "--resume", str(run_dir / "model_1.pt"), *history,
                    "--max-iterations", "1")  # fmt: skip
    assert second.returncode == 0, second.stderr
    resumed = load_checkpoint(run_dir / "model_2.pt")
    assert resumed["robot_contract"]["history_length"] == 3
    assert resumed["policy_kwargs"]["obs_dim"] == 3 * 45
    assert resumed["task_settings"]["observations.history_length"] == 3
    run = yaml.safe_load((run_dir / "run.yaml").read_text())
    assert run["env_overrides"][-1] == "observations.history_length=3"
    shorter = ("--set", "env.observations.history_length=0")
    third = _train("go2_flat", "--resume", str(run_dir / "model_2.pt"), *shorter)
    assert third.returncode == 2 and "Traceback" not in third.stderr
    assert "a resume can add frames, not drop them" in third.stderr


@pytest.fixture(scope="module")
def source_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory as genpo-train leaves it: run.yaml (written by the CLI's own code), a
    resumable checkpoint model_7.pt and model_8.pt, which lacks the critic and optimiser."""
    from tests.export.conftest import write_checkpoint
    from training.cli import build_parser, plan, write_run_file

    run = tmp_path_factory.mktemp("source") / "run"
    write_run_file(plan(build_parser().parse_args(
        ["go2_flat", "--num-envs", "4", "--run-dir", str(run), *TINY])))  # fmt: skip
    resumable = {"critic_state": {}, "optimizer_state": {}, "learning_rate": 1e-3}
    write_checkpoint(run / "model_7.pt", "flow", **resumable)
    write_checkpoint(run / "model_8.pt", "flow")
    return run


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under root."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}  # fmt: skip


NEW = ["--run-dir", "{tmp}/new_run"]  # a fresh run must not even create its folder
CKPT = "{tmp}/run/model_7.pt"


@pytest.mark.parametrize(
    ("args", "run_yaml", "message"),
    [
        (["go3_flat", *NEW], None, "unknown task 'go3_flat'; known tasks: go2_flat"),
        (["go2_flat", "--set", "ppo.lerning_rate=1", *NEW], None,
         "did you mean 'ppo.learning_rate'"),
        (["go2_flat", "--set", "env.domain_rand.fricton=1", *NEW], None,
         "unknown config key 'env.domain_rand.fricton'; did you mean 'env.domain_rand.friction'"),
        (["go2_flat", "--set", "env.bogus=1", *NEW], None,
         "unknown config key 'env.bogus'; valid keys: 'env.robot', 'env.terrain'"),
        (["go2_flat", "--resume", "/nonexistent/model_1.pt"], None, "does not exist"),
        (["go2_flat", "--num-envs", "0", *NEW], None, "--num-envs must be at least 1, got 0"),
        (["go2_flat", "--num-envs", "-4", *NEW], None, "--num-envs must be at least 1, got -4"),
        (["go2_flat", "--max-iterations", "0", *NEW], None, "--max-iterations must be at least 1"),
        (["go2_flat", "--torch-threads", "0", *NEW], None, "--torch-threads must be at least 1"),
        (["go2_flat", "--run-dir", "{tmp}/run/run.yaml/sub"], None, "cannot create run directory"),
        (["go2_flat", "--resume", CKPT], "train: [1, 2\n", "is not valid YAML"),
        (["go2_flat", "--resume", CKPT], "- 1\n- 2\n", "malformed (a list instead of a mapping)"),
        (["go2_flat", "--resume", CKPT], "task: go2_flat\n", "malformed (no 'train' mapping)"),
        (["go2_flat", "--resume", CKPT], "train: {}\nnum_envs: abc\n", "'num_envs' is 'abc'"),
        (["go2_flat", "--resume", CKPT, "--algo", "ppo"], None, "holds a flow policy"),
        (["go2_flat", "--resume", "{tmp}/run/model_8.pt"], None, "incomplete (no critic_state)"),
        (["go2_flat", "--device", "bogus", *NEW], None, "--device 'bogus' is not a device here"),
        (["go2_flat", "--device", "cuda", *NEW], None, "this torch sees no CUDA GPU"),
        (["go2_flat", "--seed", "-5", *NEW], None, "--seed must be 0 or more, got -5"),
        (["go2_flat", "--set", "runner.save_interval=0", *NEW], None,
         "save_interval must be at least 1, got 0"),
        (["go2_flat", "--set", "ppo.num_mini_batches=0", *NEW], None,
         "num_mini_batches must be at least 1"),
        (["go2_flat", "--set", "ppo.num_learning_epochs=0", *NEW], None,
         "num_learning_epochs must be at least 1"),
        (["go2_flat", "--set", "runner.num_steps_per_env=0", *NEW], None,
         "num_steps_per_env must be at least 1"),
        (["go2_flat", "--set", "flow.flow_steps=0", *NEW], None, "flow_steps must be at least 1"),
        (["go2_flat", "--set", "env.sim.episode_length_s=0", *NEW], None,
         "episode_length_s must be a positive number"),
        (["h1_flat", "--resume", CKPT], None, "belongs to a go2_flat run, not h1_flat"),
        (["go2_flat", "--run-dir", "{tmp}/run"], None, "already holds a run"),
    ],
    ids=["unknown-task", "unknown-key", "unknown-env-key", "unknown-env-top-key", "missing-ckpt",
         "zero-envs", "negative-envs", "zero-iterations", "zero-threads", "unwritable-run-dir",
         "run-yaml-not-yaml", "run-yaml-list", "run-yaml-no-train", "run-yaml-bad-num-envs",
         "resume-other-algo", "resume-ckpt-missing-field", "bad-device", "no-cuda",
         "negative-seed", "zero-save-interval", "zero-minibatches", "zero-epochs", "zero-steps",
         "zero-flow-steps", "zero-episode", "resume-other-task", "run-dir-holds-a-run"],
)  # fmt: skip
def test_user_mistakes_are_one_sentence_and_write_nothing(
    source_run: Path, tmp_path: Path, args: list[str], run_yaml: str | None, message: str
) -> None:
    shutil.copytree(source_run, tmp_path / "run")
    if run_yaml is not None:
        (tmp_path / "run" / "run.yaml").write_text(run_yaml)
    before = _tree(tmp_path)
    result = _train(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, lines
    assert _tree(tmp_path) == before  # nothing written, nothing overwritten


@pytest.mark.parametrize(("signame", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_or_sigterm_saves_a_checkpoint(tmp_path: Path, signame: str, code: int) -> None:
    import signal
    import time

    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "training.cli", "go2_flat", "--num-envs", "4",
           "--max-iterations", "1000", "--run-dir", str(run_dir), "--no-progress",
           "--torch-threads", "1", *TINY]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not list(run_dir.glob("events.out.tfevents.*")) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3.0)  # let a few iterations finish
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    saved = sorted(run_dir.glob("model_*.pt"))
    assert len(saved) == 1 and "interrupted; saved" in out, (out, err)
    ckpt = load_checkpoint(saved[0])
    assert ckpt["iteration"] >= 1 and saved[0].name == f"model_{ckpt['iteration']}.pt"


@pytest.mark.parametrize(
    ("algo", "latent_std", "compression", "lr_min", "entropy"),
    [("genpo", 2.0, 0.05, 2e-4, 0.0), ("ppo", 1.0, 0.01, 1e-5, 0.01)],
)
def test_algo_overlay_applies_to_its_algo_only(
    algo: str, latent_std: float, compression: float, lr_min: float, entropy: float
) -> None:
    """configs/train/genpo.yaml (the settings that made go2_flat walk) reaches GenPO runs only;
    ppo.yaml's entropy bonus reaches PPO runs only; --set still wins over both."""
    from training.cli import build_parser, plan

    cfg = plan(build_parser().parse_args(["go2_flat", "--algo", algo])).train_cfg
    assert cfg.algo == algo and cfg.flow.hidden_dims == (128, 128, 128)  # go2_flat.yaml
    assert cfg.flow.latent_std == latent_std and cfg.ppo.compression_coef == compression
    assert cfg.ppo.lr_min == lr_min and cfg.ppo.entropy_coef == entropy
    args = ["go2_flat", "--algo", algo, "--set", "flow.latent_std=1.0"]
    assert plan(build_parser().parse_args(args)).train_cfg.flow.latent_std == 1.0


@pytest.mark.parametrize("algo", ["gmpo", "gmpg"])
def test_gm_algos_inherit_genpo_yaml_then_their_own(algo: str) -> None:
    """gmpo/gmpg run on GenPO's flow: genpo.yaml's flow settings reach them, then their own
    file; a --set on their section wins."""
    from training.cli import build_parser, plan

    genpo = plan(build_parser().parse_args(["go2_flat", "--algo", "genpo"])).train_cfg
    cfg = plan(build_parser().parse_args(["go2_flat", "--algo", algo])).train_cfg
    assert cfg.algo == algo and cfg.flow == genpo.flow and cfg.ppo == genpo.ppo
    own = yaml.safe_load((REPO / "configs" / "train" / f"{algo}.yaml").read_text())[algo]
    assert {k: getattr(getattr(cfg, algo), k) for k in own} == own
    args = ["go2_flat", "--algo", algo, "--set", f"{algo}.beta=0.3"]
    assert getattr(plan(build_parser().parse_args(args)).train_cfg, algo).beta == 0.3
