"""One evaluation: N parallel envs each run one episode of the PLAY task under a policy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.errors import UserError
from training.evaluation.metrics import EpisodeMetrics
from training.evaluation.play import contact_overrides, play_overrides
from training.evaluation.policies import EvalPolicy, adopted_overrides, open_policy
from training.evaluation.scripted import ScriptedCommand, schedule
from training.tasks import make_env, task_config, task_contract
from training.tasks.config import policy_settings

VIDEO_FPS = 25.0  # frames rendered per simulated second (every 2nd step at 50 Hz)

if TYPE_CHECKING:
    from training.evaluation.video import VideoRecorder

CAMERA_DISTANCE_M = {"go2": 1.8, "h1": 3.5}


@dataclass(frozen=True)
class EvalOptions:
    policy_path: Path
    task: str
    episodes: int = 4
    duration_s: float = 20.0
    seed: int = 0
    commands: str = "random"  # or "scripted", "constant"
    constant_cmd: tuple[float, float, float] | None = None  # (vx, vy, wz) of "constant"
    video: Path | None = None
    contact: str = "training"  # robots.assets.CONTACT_MODELS
    # applied after the PLAY settings, the contact model's and those the policy file records
    overrides: tuple[str, ...] = ()


def evaluate(opts: EvalOptions, video_problem: str | None = None) -> dict:
    """Run the evaluation; returns the report (metrics and what was run).

    video_problem: why no GL backend can render (then no video is attempted).
    """
    cfg = task_config(opts.task)
    policy_file = open_policy(opts.policy_path, cfg.robot)
    adopted = adopted_overrides(policy_file.settings, policy_settings(cfg), opts.overrides)
    play = (
        play_overrides(cfg, opts.duration_s)
        + contact_overrides(opts.contact)
        + adopted
        + tuple(opts.overrides)
    )
    cfg = task_config(opts.task, play)
    policy = policy_file.load(task_contract(cfg))
    env = make_env(opts.task, opts.episodes, opts.seed, overrides=play)
    if opts.commands in ("scripted", "constant"):
        segments = _segments(opts, env.commands.ranges)
        env.commands = ScriptedCommand(segments, env.num_envs)
        env.reset()
    recorder = None
    if opts.video is not None and video_problem is None:
        recorder, video_problem = _recorder(env, opts.video)
    metrics = EpisodeMetrics(cfg, env.robot.policy_joint_names, env.num_envs)
    tiles = episode_tiles(env)  # before the run: a fall moves an env's level at its reset
    _run(env, policy, metrics, recorder)
    frames = recorder.close() if recorder is not None else None
    return {
        "task": opts.task,
        "policy": {
            "source": policy.source,
            "kind": policy.kind,
            "path": str(policy.path),
            "trained_task": policy.trained_task,
        },
        "episodes": opts.episodes,
        "duration_s": opts.duration_s,
        "seed": opts.seed,
        "contact": opts.contact,
        "commands": opts.commands,
        "constant_cmd": list(opts.constant_cmd) if opts.constant_cmd is not None else None,
        "play_overrides": list(play),
        "adopted_from_policy": list(adopted),
        **metrics.result(env.control_dt, opts.duration_s, opts.commands == "random"),
        "by_terrain": None if tiles is None else by_terrain(tiles, metrics),
        "video": str(opts.video) if frames else None,
        "video_frames": frames,
        "video_error": video_problem,
    }


def episode_tiles(env) -> list[tuple[str, int]] | None:
    """(terrain type, row) each episode starts on; None on flat ground."""
    if env.terrain is None:
        return None
    kinds = env.terrain.col_types
    return [(kinds[c], int(r)) for c, r in zip(env.resets.cols, env.resets.levels, strict=True)]


def by_terrain(tiles: list[tuple[str, int]], metrics: EpisodeMetrics) -> dict[str, dict]:
    """Episodes, falls, tracking fraction (over their live steps) and start rows per terrain
    type, in the order types first appear."""
    kinds = np.array([kind for kind, _ in tiles])
    out: dict[str, dict] = {}
    for kind in dict.fromkeys(kinds.tolist()):
        mine = kinds == kind
        steps = int(metrics.lengths[mine].sum())
        out[kind] = {
            "episodes": int(mine.sum()),
            "falls": int(metrics.fell[mine].sum()),
            "tracking": float(metrics.kernel_sums[mine].sum()) / max(steps, 1),
            "rows": [row for k, row in tiles if k == kind],
        }
    return out


def _segments(opts: EvalOptions, ranges: np.ndarray) -> list[tuple[str, float, np.ndarray]]:
    if opts.commands == "scripted":
        return schedule(ranges, opts.duration_s)
    command = np.array(opts.constant_cmd, dtype=np.float64)
    lo, hi = np.asarray(ranges, dtype=np.float64).T
    if np.any(command < lo) or np.any(command > hi):
        trained = ", ".join(f"[{a:g}, {b:g}]" for a, b in zip(lo, hi, strict=True))
        raise UserError(f"--cmd {opts.constant_cmd} is outside the trained ranges {trained}")
    return [("constant", 0.0, command)]


def _run(env, policy: EvalPolicy, metrics: EpisodeMetrics, recorder) -> None:
    """Step until every env has ended its first episode (the time-out is the duration)."""
    obs = env.get_observations()["policy"]
    live = np.ones(env.num_envs, dtype=bool)
    stride = frame_stride(env.control_dt)
    for step in range(env.max_episode_length):
        out, reward, dones, extras = env.step(policy.act(obs))
        dones = dones.cpu().numpy()
        terminated = dones & ~extras["time_outs"].cpu().numpy()
        metrics.add(env.last_step_state, reward.cpu().numpy(), live, terminated, env.backend.failed)
        if recorder is not None and live[0] and step % stride == 0:
            recorder.capture(env.backend.batch)
        live &= ~dones
        if not live.any():
            break
        obs = out["policy"]


def frame_stride(control_dt: float) -> int:
    """Policy steps per video frame: software GL renders ~0.3 s per frame on this CPU."""
    return max(1, round(1.0 / (control_dt * VIDEO_FPS)))


def _recorder(env, path: Path) -> tuple[VideoRecorder | None, str | None]:
    """(recorder, None), or (None, why not) when the encoder or the GL context is missing."""
    from training.evaluation.video import VideoRecorder

    distance = CAMERA_DISTANCE_M.get(env.robot.name, 2.5)
    fps = 1.0 / (env.control_dt * frame_stride(env.control_dt))
    body = env.backend.compiled.base_body_id
    try:
        return VideoRecorder(path, env.backend.model, body, fps, distance), None
    except ImportError as exc:
        return None, f"--video needs the PyPI packages imageio and imageio-ffmpeg ({exc})"
    except Exception as exc:  # GL failures surface as several mujoco / OpenGL error types
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        return None, (
            f"MuJoCo cannot render offscreen here ({first}); set MUJOCO_GL=egl (Debian libegl1 "
            "and libegl-mesa0) or MUJOCO_GL=osmesa (libosmesa6) before starting; no video"
        )


def summary_rows(report: dict) -> Iterable[tuple[str, str]]:
    """(label, value) lines of the printed table."""
    p = report["policy"]
    yield "policy", f"{p['source']} ({p['kind']}) {p['path']}"
    yield "task / commands", f"{report['task']} / {report['commands']}"
    yield "episodes x duration", f"{report['episodes']} x {report['duration_s']:g} s"
    if report["adopted_from_policy"]:
        yield "from the policy file", " ".join(report["adopted_from_policy"])
    for key in ("rmse_vx", "rmse_vy", "rmse_wz", "rmse_combined"):
        yield key, f"{report[key]:.4f}"
    yield "steady vx (after 2 s)", f"{report['steady_vx_m_s']:.4f} m/s"
    yield "tracking reward / max", f"{report['tracking_reward_fraction']:.3f}"
    yield "falls", f"{report['falls']} (fall-free {report['fall_free_episodes']})"
    if report["by_terrain"]:
        terrain = report["by_terrain"].items()
        yield "falls by terrain", ", ".join(f"{k} {v['falls']}/{v['episodes']}" for k, v in terrain)
        yield "tracking by terrain", ", ".join(f"{k} {v['tracking']:.3f}" for k, v in terrain)
    yield "sim failures", str(report["sim_failures"])
    yield "mean return", f"{report['mean_return']:.3f}"
    yield "mean episode length", f"{report['mean_episode_length_s']:.2f} s"
    walks = report["walks"]
    yield "walks", "n/a (needs >= 20 s, random commands)" if walks is None else str(walks)
    if report["video"]:
        yield "video", f"{report['video']} ({report['video_frames']} frames)"
