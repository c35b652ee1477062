"""A tiny batched point-mass task with a known optimum, for learning tests and smoke runs.

Each env has a point at `pos` and a target, both uniform in [-1, 1]^dim at reset. The
executed action (clipped to [-1, 1]) is the point's velocity in units of `max_speed`. The
optimal policy runs straight to the target at full speed and then holds still, which
`optimal_action` implements.

Reward terms per step (scaled by dt, so an episode's tracking return is at most its
duration in seconds):
    tracking     exp(-|target - pos|^2 / 0.05)
    action       -0.01 |a|^2
    termination  -1 when |pos|_inf > 2 (the point left the arena; not a time-out)
"""

from __future__ import annotations

import torch

from training.envs.vec_env import VecEnv


class PointMassEnv(VecEnv):
    """Point-mass target reaching; obs = (target - pos, pos), critic adds episode progress."""

    def __init__(
        self,
        num_envs: int = 64,
        dim: int = 2,
        max_episode_length: int = 40,
        dt: float = 0.1,
        max_speed: float = 1.0,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.num_envs = num_envs
        self.num_actions = dim
        self.max_episode_length = max_episode_length
        self.device = device
        self.dt = dt
        self.max_speed = max_speed
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.pos = torch.zeros(num_envs, dim, device=device)
        self.target = torch.zeros(num_envs, dim, device=device)
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.term_sums = {
            k: torch.zeros(num_envs, device=device) for k in ("tracking", "action", "termination")
        }
        self.reset()

    # ----- VecEnv ---------------------------------------------------------------------------

    def get_observations(self) -> dict[str, torch.Tensor]:
        error = self.target - self.pos
        progress = (self.episode_length_buf.float() / self.max_episode_length)[:, None]
        return {
            "policy": torch.cat([error, self.pos], dim=-1),
            "critic": torch.cat([error, self.pos, progress], dim=-1),
        }

    def reset(self) -> dict[str, torch.Tensor]:
        self._reset_envs(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return self.get_observations()

    def step(
        self, actions: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        a = actions.clamp(-1.0, 1.0)
        self.pos = self.pos + self.dt * self.max_speed * a
        self.episode_length_buf += 1
        terminated = self.pos.abs().amax(-1) > 2.0
        time_outs = (self.episode_length_buf >= self.max_episode_length) & ~terminated
        terms = {
            "tracking": torch.exp(-(self.target - self.pos).pow(2).sum(-1) / 0.05),
            "action": -0.01 * a.pow(2).sum(-1),
            "termination": -terminated.float() / self.dt,
        }
        rewards = torch.zeros(self.num_envs, device=self.device)
        for name, value in terms.items():
            self.term_sums[name] += value * self.dt
            rewards += value * self.dt
        dones = terminated | time_outs
        extras = {"time_outs": time_outs, "episode": self._episode_log(dones)}
        self._reset_envs(dones)
        return self.get_observations(), rewards, dones, extras

    def state_dict(self) -> dict:
        return {
            "pos": self.pos.clone(),
            "target": self.target.clone(),
            "episode_length_buf": self.episode_length_buf.clone(),
            "term_sums": {k: v.clone() for k, v in self.term_sums.items()},
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.pos = state["pos"].to(self.device)
        self.target = state["target"].to(self.device)
        self.episode_length_buf = state["episode_length_buf"].to(self.device)
        self.term_sums = {k: v.to(self.device) for k, v in state["term_sums"].items()}
        self.generator.set_state(state["generator"].cpu())

    # ----- helpers --------------------------------------------------------------------------

    def optimal_action(self) -> torch.Tensor:
        """Full speed towards the target without overshoot: [N, d]."""
        step = (self.target - self.pos) / (self.dt * self.max_speed)
        return step.clamp(-1.0, 1.0)

    def _episode_log(self, dones: torch.Tensor) -> dict[str, float]:
        if not dones.any():
            return {}
        return {f"rew_{k}": v[dones].mean().item() for k, v in self.term_sums.items()}

    def _reset_envs(self, mask: torch.Tensor) -> None:
        n = int(mask.sum())
        if n == 0:
            return
        shape = (n, self.num_actions)
        self.pos[mask] = self._uniform(shape)
        self.target[mask] = self._uniform(shape)
        self.episode_length_buf[mask] = 0
        for v in self.term_sums.values():
            v[mask] = 0.0

    def _uniform(self, shape: tuple[int, int]) -> torch.Tensor:
        """Uniform in [-1, 1] from the env's own generator (independent of policy noise)."""
        return 2 * torch.rand(shape, generator=self.generator, device=self.device) - 1
