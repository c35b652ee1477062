"""The vectorised-environment contract the runner trains on (shaped like rsl_rl's VecEnv).

Every backend (the built-in MuJoCo one, the IsaacLab adapter, the toy env in
`training/envs/toy.py`) implements this. Actions are the EXECUTED actions [N, d]: for
GenPO the mean of the two halves of the dummy action, never the 2d dummy itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class VecEnv(ABC):
    """Batched environment with auto-reset.

    Attributes:
        num_envs: N, number of parallel environments.
        num_actions: d, executed action width.
        max_episode_length: steps after which an episode times out.
        device: torch device of every tensor exchanged.
        physics: the engine that steps it ("mujoco", or IsaacLab's physics preset such as
            "newton_mjwarp"); checkpoints and exported artifacts record it. None: no physics.
    """

    num_envs: int
    num_actions: int
    max_episode_length: int
    device: torch.device | str
    physics: str | None = None

    @abstractmethod
    def get_observations(self) -> dict[str, torch.Tensor]:
        """Current observations: {"policy": [N, obs], "critic": [N, cobs]}.

        "critic" may be absent, in which case the critic sees "policy".
        """

    @abstractmethod
    def reset(self) -> dict[str, torch.Tensor]:
        """Reset every environment; returns the observations like get_observations()."""

    @abstractmethod
    def step(
        self, actions: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        """Advance one control step with executed actions [N, d].

        Environments whose episode ended are reset inside step; the returned observations
        are then the first of the new episode.

        Returns:
            obs: as get_observations().
            rewards: [N].
            dones: [N] bool, episode ended (terminated or timed out).
            extras: "time_outs" [N] bool (ended by the time limit only, bootstrapped by
                the update); "episode" dict[str, float] of per-term means over the
                episodes that ended this step (may be empty), for logging.
        """

    def state_dict(self) -> dict | None:
        """Tensors and plain values that restore the env exactly, or None if unsupported.

        Checkpoints store it, which is what makes a resumed run continue bit-identically.
        """
        return None

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict() returned."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore its state")
