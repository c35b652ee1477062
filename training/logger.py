"""Run bookkeeping: episode statistics, TensorBoard scalars, progress bar, git provenance."""

from __future__ import annotations

import subprocess
from collections import deque
from pathlib import Path

import torch

_REPO = Path(__file__).resolve().parent.parent


class EpisodeTracker:
    """Returns and lengths of finished episodes, and the env's per-term episode logs."""

    def __init__(self, num_envs: int, device: torch.device | str, window: int = 100) -> None:
        self.cur_return = torch.zeros(num_envs, device=device)
        self.cur_length = torch.zeros(num_envs, device=device)
        self.returns: deque[float] = deque(maxlen=window)
        self.lengths: deque[float] = deque(maxlen=window)
        self.term_logs: list[dict[str, float]] = []

    def record(self, rewards: torch.Tensor, dones: torch.Tensor, extras: dict) -> None:
        """One env step: rewards [N] (not bootstrapped), dones [N], extras of env.step."""
        self.cur_return += rewards
        self.cur_length += 1
        if dones.any():
            self.returns.extend(self.cur_return[dones].tolist())
            self.lengths.extend(self.cur_length[dones].tolist())
            self.cur_return[dones] = 0.0
            self.cur_length[dones] = 0.0
        if extras.get("episode"):
            self.term_logs.append(extras["episode"])

    def summary(self) -> dict[str, float]:
        """Means over the window, plus per-term means logged since the last call."""
        out: dict[str, float] = {}
        if self.returns:
            out["episode/mean_return"] = sum(self.returns) / len(self.returns)
            out["episode/mean_length"] = sum(self.lengths) / len(self.lengths)
        keys = {k for log in self.term_logs for k in log}
        for key in sorted(keys):
            values = [float(log[key]) for log in self.term_logs if key in log]
            out[f"episode_terms/{key}"] = sum(values) / len(values)
        self.term_logs.clear()
        return out


def git_commit() -> str | None:
    """HEAD commit of the repository holding this code, or None outside git."""
    return _git("rev-parse", "HEAD")


def write_git_info(log_dir: Path) -> None:
    """git_commit.txt and git.diff (uncommitted changes) so every run can be reproduced."""
    commit = git_commit()
    (log_dir / "git_commit.txt").write_text(f"{commit or 'unknown (not a git checkout)'}\n")
    (log_dir / "git.diff").write_text(_git("diff", "HEAD") or "")


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=_REPO, capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


class TrainLogger:
    """TensorBoard scalars and a tqdm bar (rank 0 only; the runner never makes one elsewhere)."""

    def __init__(self, log_dir: Path | None, start: int, total: int, progress_bar: bool) -> None:
        self.writer = None
        if log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(log_dir))
        self.bar = None
        if progress_bar:
            from tqdm import tqdm

            self.bar = tqdm(initial=start, total=total, unit="it", dynamic_ncols=True)

    def log(self, iteration: int, scalars: dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in scalars.items():
                self.writer.add_scalar(key, value, iteration)
        if self.bar is not None:
            self.bar.set_postfix(
                ret=f"{scalars.get('episode/mean_return', float('nan')):.2f}",
                kl=f"{scalars.get('kl/k1', float('nan')):.4f}",
                lr=f"{scalars.get('train/lr', float('nan')):.1e}",
                sps=f"{scalars.get('perf/env_steps_per_s', 0.0):.0f}",
                refresh=False,
            )
            self.bar.update(1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.bar is not None:
            self.bar.close()
