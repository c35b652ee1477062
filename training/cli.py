"""`genpo-train TASK`: train a GenPO (or Gaussian PPO) locomotion policy.

    genpo-train go2_flat                       # MuJoCo on this CPU, or IsaacLab where it exists
    genpo-train go2_rough --backend isaaclab --num-envs 4096
    genpo-train go2_flat --algo ppo --set ppo.learning_rate=5e-4 --set env.sim.num_threads=2
    genpo-train go2_flat --resume runs/go2_flat/<run>/model_300.pt --max-iterations 200
    torchrun --nproc-per-node 2 -m training.cli go2_flat      # one process per device

`--set` keys address the training config (`ppo.*`, `flow.*`, `gaussian.*`, `critic.*`,
`gmpo.*`, `gmpg.*`, `runner.*`); keys under `env.` address the task config (see configs/tasks/).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from common.cli import add_set_argument, check_seed, user_errors_exit
from common.config import ConfigError, dump_yaml, load_config, merge, to_dict
from common.errors import UserError, first_line
from common.files import writable_dir, write_text_atomic
from robots.contract import PolicyContract
from training import distributed
from training.config import ALGOS, TrainCfg
from training.envs.isaaclab import DEFAULT_PHYSICS, PHYSICS_PRESETS
from training.tasks import TASKS, check_task, make_env, task_config, task_contract
from training.tasks.config import policy_settings

TRAIN_CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "train"
CPU_NUM_ENVS = 256  # enough parallel episodes for PPO statistics; keeps a 2-core update short
GPU_NUM_ENVS = 4096  # IsaacLab's default


@dataclass(frozen=True)
class Plan:
    """What this invocation will do, resolved from the command line and the run directory."""

    task: str
    backend: str
    device: str
    num_envs: int
    train_cfg: TrainCfg
    env_overrides: tuple[str, ...]
    run_dir: Path
    resume: Path | None
    physics: str = "mujoco"  # the MuJoCo engine, or IsaacLab's physics preset
    robot_usd: Path | None = None  # isaaclab: spawn the robot from this local USD


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genpo-train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("task", help=f"one of: {', '.join(TASKS)}")
    p.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "mujoco", "isaaclab"),
        help="auto: IsaacLab when it can launch here (kit-less Newton, a GPU), else the "
        "built-in MuJoCo backend, saying why (default: %(default)s)",
    )
    p.add_argument(
        "--physics",
        default=None,
        choices=PHYSICS_PRESETS,
        help=f"IsaacLab physics preset (isaaclab backend only; default: {DEFAULT_PHYSICS}, "
        "kit-less; isaacsim_physx needs Isaac Sim)",
    )
    p.add_argument(
        "--robot-usd",
        type=Path,
        default=None,
        metavar="USD",
        help="isaaclab backend: spawn the robot from this local USD (e.g. Menagerie's MJCF "
        "converted by mujoco-usd-converter) instead of downloading IsaacLab's",
    )
    p.add_argument(
        "--algo",
        default=None,
        choices=tuple(ALGOS),
        help="genpo, gmpo or gmpg (flow policy; they differ only in the policy loss) or ppo "
        "(Gaussian baseline) (default: genpo, or the resumed run's)",
    )
    p.add_argument(
        "--num-envs",
        type=int,
        default=None,
        help=f"parallel environments per process (default: {CPU_NUM_ENVS} on CPU, "
        f"{GPU_NUM_ENVS} on a GPU)",
    )
    p.add_argument(
        "--max-iterations",
        type=int,
        default=None,
        help="iterations to run now (default: runner.max_iterations of the config)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed (default: runner.seed = 1)")
    p.add_argument(
        "--device",
        default=None,
        help="torch device of the learner (default: cuda if available, else cpu)",
    )
    p.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="where checkpoints and logs go (default: runs/<task>/<time>_<algo>; "
        "with --resume: the checkpoint's folder)",
    )
    p.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="CKPT",
        help="continue from this checkpoint (weights, optimiser, RNG, iteration)",
    )
    add_set_argument(p, "override a config value; repeatable (env.* keys go to the task)")
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch intra-op threads of the learner (default: torch's choice; on a "
        "CPU shared with other jobs use 1: oversubscribed OpenMP threads can slow "
        "the update 10x or more)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    return p


def _check_counts(args: argparse.Namespace) -> None:
    """Counts the user typed: zero or negative is a mistake, never 'use the default'."""
    for option, value in (
        ("--num-envs", args.num_envs),
        ("--max-iterations", args.max_iterations),
        ("--torch-threads", args.torch_threads),
    ):
        if value is not None and value < 1:
            raise UserError(
                f"{option} must be at least 1, got {value}; leave it out for the default"
            )
    check_seed(args.seed)


def _check_device(device: str) -> str:
    """A torch device this machine has: 'cpu', 'cuda' or 'cuda:N'; one sentence otherwise."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise UserError(f"--device {device!r} is not a device here; use cpu, cuda or cuda:N")
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserError(f"--device {device}: this torch sees no CUDA GPU; use --device cpu")
        if parsed.index is not None and parsed.index >= count:
            raise UserError(f"--device {device}: this machine has {count} CUDA GPU(s)")
    return device


def plan(args: argparse.Namespace) -> Plan:
    """Resolve and check every choice before anything is written or anything heavy created."""
    check_task(args.task)
    _check_counts(args)
    import torch

    device = _check_device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    previous = _previous_run(args.resume) if args.resume else {}
    if previous and previous.get("task", args.task) != args.task:
        raise UserError(
            f"{args.resume} belongs to a {previous['task']} run, not {args.task}; resume it "
            f"with genpo-train {previous['task']} --resume ..."
        )
    backend, physics = _pick_backend(args.backend, args.physics or previous.get("physics"))
    env_overrides = tuple(previous.get("env_overrides", ())) + tuple(
        o.split(".", 1)[1] for o in args.overrides if o.startswith("env.")
    )
    train_overrides = [o for o in args.overrides if not o.startswith("env.")]
    algo = args.algo or previous.get("train", {}).get("algo", "genpo")
    if previous:
        cfg = _from_previous(previous["train"])
    else:
        cfg = load_config(TrainCfg, _train_yaml(args.task, algo))
    extra = [f"algo={algo}"]
    if args.seed is not None:
        extra.append(f"runner.seed={args.seed}")
    if args.no_progress:
        extra.append("runner.progress_bar=false")
    cfg = load_config(cfg, [], [*extra, *train_overrides])
    # Validate env overrides before any work starts, naming their keys as typed (env.<key>):
    # task_config(task, env_overrides) resolves to this very config.
    load_config(task_config(args.task), [], env_overrides, prefix="env")
    if backend == "isaaclab":
        from training.envs.isaaclab import check_overrides

        check_overrides(env_overrides)
    default_envs = GPU_NUM_ENVS if device.startswith("cuda") else CPU_NUM_ENVS
    num_envs = args.num_envs or previous.get("num_envs") or default_envs
    if args.resume:
        run_dir = args.run_dir or args.resume.parent
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = args.run_dir or Path("runs") / args.task / f"{stamp}_{cfg.algo}"
        if (run_dir / "run.yaml").exists():
            raise UserError(
                f"{run_dir} already holds a run (its run.yaml); continue it with --resume "
                f"{run_dir}/model_<it>.pt, or pass another --run-dir"
            )
    robot_usd = args.robot_usd or previous.get("robot_usd")
    if robot_usd is not None and backend != "isaaclab":
        raise UserError("--robot-usd spawns IsaacLab's robot; pass --backend isaaclab")
    usd = None if robot_usd is None else Path(robot_usd)
    writable_dir(run_dir, "run directory", "--run-dir")  # last: every other check passed
    return Plan(
        args.task, backend, device, num_envs, cfg, env_overrides, run_dir, args.resume, physics, usd
    )


def _pick_backend(choice: str, physics: str | None) -> tuple[str, str]:
    """(backend, physics): auto takes IsaacLab only where it can really launch, and says why not."""
    from training.envs.isaaclab import launch_problem

    if choice == "auto" and physics == "mujoco":
        return "mujoco", "mujoco"  # a resumed MuJoCo run stays on MuJoCo
    if choice == "auto":
        problem = launch_problem(physics or DEFAULT_PHYSICS)
        if problem is None:
            choice = "isaaclab"
        else:
            print(f"genpo-train: --backend auto uses the MuJoCo backend: {problem}")
            choice = "mujoco"
    if choice == "isaaclab":
        return choice, physics if physics not in (None, "mujoco") else DEFAULT_PHYSICS
    if physics not in (None, "mujoco"):
        raise UserError(
            f"--physics {physics} selects IsaacLab's physics, but this run uses the mujoco "
            "backend; pass --backend isaaclab or drop --physics"
        )
    return choice, "mujoco"


def _train_yaml(task: str, algo: str) -> list[Path]:
    """configs/train/<task>.yaml (network sizes per task), then the algo's overlays in
    order (training.config.ALGOS: gmpo and gmpg start from genpo.yaml)."""
    names = (task, *ALGOS[algo][1])
    return [p for p in (TRAIN_CONFIG_DIR / f"{n}.yaml" for n in names) if p.is_file()]


def _previous_run(ckpt: Path) -> dict:
    """The resolved settings of the run a checkpoint belongs to (its folder's run.yaml)."""
    if not ckpt.is_file():
        raise UserError(f"checkpoint {str(ckpt)!r} does not exist; pass a model_<it>.pt file")
    run_file = ckpt.parent / "run.yaml"
    if not run_file.is_file():
        raise UserError(
            f"{run_file} is missing, so the run's settings are unknown; resume "
            "from a checkpoint inside its run directory"
        )
    try:
        data = yaml.safe_load(run_file.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{run_file} is not valid YAML ({first_line(exc)}); {_RESTORE}") from None
    problem = _run_file_problem(data)
    if problem:
        raise UserError(f"{run_file} is malformed ({problem}); {_RESTORE}")
    return data


_RESTORE = "repair it or start a new run without --resume"


def _run_file_problem(data: object) -> str | None:
    """What is wrong with run.yaml's content, or None (the fields a resume reads)."""
    if not isinstance(data, dict):
        return f"a {type(data).__name__} instead of a mapping"
    if not isinstance(data.get("train"), dict):
        return "no 'train' mapping"
    overrides = data.get("env_overrides", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        return "'env_overrides' is not a list of strings"
    num_envs = data.get("num_envs")
    if num_envs is not None and (type(num_envs) is not int or num_envs < 1):
        return f"'num_envs' is {num_envs!r}, not a positive integer"
    return None


def _from_previous(data: dict) -> TrainCfg:
    try:
        return merge(TrainCfg(), data)
    except ConfigError as exc:
        raise UserError(f"the resumed run's config does not fit this version: {exc}") from None


def make_backend_env(p: Plan, seed: int, contract: PolicyContract):
    if p.backend == "isaaclab":
        from training.envs.isaaclab import make_isaaclab_env

        return make_isaaclab_env(
            p.task, contract, p.num_envs, seed, p.device, p.physics, p.env_overrides, p.robot_usd
        )
    return make_env(p.task, p.num_envs, seed, "cpu", p.env_overrides)


def write_run_file(p: Plan) -> None:
    """run.yaml: everything needed to resume or reproduce this run."""
    p.run_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "task": p.task,
        "backend": p.backend,
        "physics": p.physics,
        "robot_usd": None if p.robot_usd is None else str(p.robot_usd),
        "num_envs": p.num_envs,
        "env_overrides": list(p.env_overrides),
        "train": to_dict(p.train_cfg),
        "env": to_dict(task_config(p.task, p.env_overrides)) if p.backend == "mujoco" else None,
        "command": " ".join(["genpo-train", *sys.argv[1:]]),
    }
    write_text_atomic(p.run_dir / "run.yaml", yaml.safe_dump(data, sort_keys=False))
    dump_yaml(p.train_cfg, p.run_dir / "train_config.yaml")


def _stop_on_sigterm() -> list[int]:
    """SIGTERM (kill, a scheduler's preemption) stops training like Ctrl-C: a checkpoint is
    saved. Returns a list that holds the signal number once one arrived."""
    received: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    return received


@user_errors_exit("genpo-train")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    p = plan(args)
    if args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    dist = distributed.init_distributed(p.device)
    from training.runner import OnPolicyRunner  # deferred: torch-heavy imports after checks

    seed = p.train_cfg.runner.seed + dist.rank
    if dist.is_main:
        print(
            f"genpo-train: {p.task} with {p.train_cfg.algo} on the {p.backend} backend, "
            f"{p.num_envs} envs x {dist.world_size} process(es), learner on {dist.device}"
        )
        print(
            f"genpo-train: run directory {p.run_dir}  (watch: tensorboard --logdir "
            f"{p.run_dir.parent})"
        )
    task_cfg = task_config(p.task, p.env_overrides)
    contract = task_contract(task_cfg)
    env = make_backend_env(p, seed, contract)
    settings = policy_settings(task_cfg)
    runner = OnPolicyRunner(env, p.train_cfg, p.run_dir, dist.device, contract.to_dict(), settings)
    if p.resume is not None:
        runner.load(p.resume)
    if dist.is_main:  # only now: a failed resume leaves the run's files as they were
        write_run_file(p)
    iterations = args.max_iterations or p.train_cfg.runner.max_iterations
    started = time.perf_counter()
    stopped_by = _stop_on_sigterm()
    try:
        runner.learn(iterations)
    except KeyboardInterrupt:
        path = p.run_dir / f"model_{runner.current_iteration}.pt"
        runner.save(path)
        if dist.is_main:
            print(f"\ngenpo-train: interrupted; saved {path} (continue with --resume {path})")
        return 143 if stopped_by else 130
    if dist.is_main:
        from training.report import summarize

        elapsed_s = time.perf_counter() - started
        summarize(p.run_dir, p.task, runner.current_iteration, elapsed_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
