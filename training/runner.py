"""On-policy runner: rollout -> GAE -> PPO update, logging, checkpoints, exact resume."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from common.config import dump_yaml, to_dict
from common.errors import UserError, first_line
from training import distributed
from training.checkpoint import (
    build_policy,
    check_resumable,
    load_checkpoint,
    save_checkpoint,
)
from training.config import ALGOS, TrainCfg
from training.envs.vec_env import VecEnv
from training.history import widen_history
from training.logger import EpisodeTracker, TrainLogger, git_commit, write_git_info
from training.modules import Critic
from training.normalizer import EmpiricalNormalization
from training.policy_loss import make_policy_loss
from training.ppo import PPO


class OnPolicyRunner:
    """Trains a flow policy (algo 'genpo', 'gmpo', 'gmpg') or the Gaussian baseline ('ppo').

    Args:
        env: a VecEnv on `device`; in a distributed run each rank passes its own env,
            seeded with cfg.runner.seed + rank.
        cfg: resolved training config (never mutated).
        log_dir: run directory for TensorBoard, checkpoints and git info; None = no files.
        device: torch device of the networks (the env's device).
        robot_contract: plain dict of the robot's policy contract, stored in checkpoints
            (None for toy envs).
        task_settings: the task settings the policy must be run under
            (training.tasks.config.policy_settings), stored in checkpoints (None for toy envs).
    """

    def __init__(
        self,
        env: VecEnv,
        cfg: TrainCfg,
        log_dir: str | Path | None = None,
        device: str = "cpu",
        robot_contract: dict | None = None,
        task_settings: dict | None = None,
    ) -> None:
        if cfg.algo not in ALGOS:
            raise UserError(f"unknown algo '{cfg.algo}'; use one of: {', '.join(ALGOS)}")
        self.env = env
        self.cfg = cfg
        self.device = device
        self.robot_contract = robot_contract
        self.task_settings = task_settings
        self.dist = distributed.current()
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.current_iteration = 0
        seed_everything(cfg.runner.seed + self.dist.rank)

        actor_obs, critic_obs = self._split(env.get_observations())
        self.alg = self._build_algorithm(actor_obs.shape[1], critic_obs.shape[1])
        self.alg.broadcast_parameters()
        self.alg.init_storage(
            env.num_envs, cfg.runner.num_steps_per_env, actor_obs.shape[1], critic_obs.shape[1]
        )
        self.episodes = EpisodeTracker(env.num_envs, device)

    def _build_algorithm(self, obs_dim: int, critic_obs_dim: int) -> PPO:
        cfg = self.cfg
        family = ALGOS[cfg.algo][0]
        policy_cfg = cfg.flow if family == "flow" else cfg.gaussian
        kwargs = {"obs_dim": obs_dim, "action_dim": self.env.num_actions}
        policy = build_policy(family, {**kwargs, "cfg": to_dict(policy_cfg)}).to(self.device)
        critic = Critic(critic_obs_dim, cfg.critic.hidden_dims, cfg.critic.activation)
        normalize = cfg.runner.empirical_normalization
        obs_norm = EmpiricalNormalization(obs_dim).to(self.device) if normalize else None
        critic_norm = EmpiricalNormalization(critic_obs_dim).to(self.device) if normalize else None
        loss = make_policy_loss(cfg)
        return PPO(policy, critic.to(self.device), cfg.ppo, obs_norm, critic_norm, loss)

    def _split(self, obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        actor = obs["policy"].to(self.device)
        return actor, obs.get("critic", obs["policy"]).to(self.device)

    # ----- the loop -------------------------------------------------------------------------

    def learn(
        self,
        num_iterations: int | None = None,
        on_iteration: Callable[[int, dict[str, float]], bool] | None = None,
    ) -> None:
        """Run num_iterations (default cfg.runner.max_iterations) more iterations.

        on_iteration(iteration, scalars) runs after each iteration with what was logged;
        returning True ends training there (with a checkpoint, like the last iteration);
        in a distributed run every rank must return the same.
        """
        run = self.cfg.runner
        num_iterations = num_iterations if num_iterations is not None else run.max_iterations
        start, end = self.current_iteration, self.current_iteration + num_iterations
        logger = self._open_logger(start, end)
        actor_obs, critic_obs = self._split(self.env.get_observations())
        self.alg.train_mode(True)
        for it in range(start, end):
            t0 = time.perf_counter()
            with torch.no_grad():
                for _ in range(run.num_steps_per_env):
                    actions = self.alg.act(actor_obs, critic_obs)
                    obs, rewards, dones, extras = self.env.step(actions)
                    actor_obs, critic_obs = self._split(obs)
                    rewards, dones = rewards.to(self.device), dones.to(self.device)
                    time_outs = extras["time_outs"].to(self.device)
                    self.alg.process_env_step(rewards, dones, time_outs)
                    self.episodes.record(rewards, dones, extras)
                self.alg.compute_returns(critic_obs)
                action_stats = self._action_stats() if logger is not None else {}
            t1 = time.perf_counter()
            losses = self.alg.update()
            t2 = time.perf_counter()
            self.current_iteration = it + 1

            steps = self.env.num_envs * run.num_steps_per_env * self.dist.world_size
            scalars = {
                "perf/env_steps_per_s": steps / (t2 - t0),
                "perf/collect_s": t1 - t0,
                "perf/learn_s": t2 - t1,
                **_loss_scalars(losses),
                **action_stats,
                **self.episodes.summary(),
            }
            if logger is not None:
                logger.log(it + 1, scalars)
            stop = on_iteration is not None and on_iteration(it + 1, scalars)
            last = stop or it + 1 == end
            if self.log_dir is not None and ((it + 1) % run.save_interval == 0 or last):
                self.save(self.log_dir / f"model_{it + 1}.pt")
            if stop:
                break
        if logger is not None:
            logger.close()

    def _open_logger(self, start: int, end: int) -> TrainLogger | None:
        if not self.dist.is_main:
            return None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            write_git_info(self.log_dir)
            dump_yaml(self.cfg, self.log_dir / "config.yaml")
        return TrainLogger(self.log_dir, start, end, self.cfg.runner.progress_bar)

    def _action_stats(self) -> dict[str, float]:
        """Per-dim std of the executed action (and, for GenPO, of x - y) over the rollout, and
        the policy's noise for a given state (`action_noise_std`)."""
        stored = self.alg.storage.actions.flatten(0, 1)
        policy = self.alg.policy
        executed = policy.executed_action(stored)
        stats = {f"action/std_{i}": v for i, v in enumerate(executed.std(0).tolist())}
        obs = self.alg.storage.obs.flatten(0, 1)
        stats["action/noise_std"] = action_noise_std(policy, obs, seed=self.current_iteration)
        if policy.family == "flow":
            x, y = stored.split(policy.action_dim, dim=-1)
            gap = x - y
            stats["action/xy_gap"] = gap.norm(dim=-1).mean().item()
            stats.update({f"action/xy_std_{i}": v for i, v in enumerate(gap.std(0).tolist())})
        return stats

    # ----- checkpoints ------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Checkpoint (see training/checkpoint.py); collective in a distributed run."""
        rank_state = _to_cpu({"rng": rng_states(), "env": self.env.state_dict()})
        rank_states = distributed.gather_objects(rank_state)
        if not self.dist.is_main:
            return
        alg = self.alg
        norm = alg.obs_normalizer
        critic_norm = alg.critic_obs_normalizer
        save_checkpoint(
            path,
            {
                "iteration": self.current_iteration,
                "algo": self.cfg.algo,
                "policy_family": alg.policy.family,
                "policy_kwargs": alg.policy.constructor_kwargs(),
                "policy_state": alg.policy.state_dict(),
                "critic_kwargs": {
                    "obs_dim": alg.critic.net[0].in_features,
                    **to_dict(self.cfg.critic),
                },
                "critic_state": alg.critic.state_dict(),
                "obs_normalizer_state": _state_or_none(norm),
                "critic_obs_normalizer_state": _state_or_none(critic_norm),
                "optimizer_state": alg.optimizer.state_dict(),
                "learning_rate": alg.learning_rate,
                "config": to_dict(self.cfg),
                "robot_contract": self.robot_contract,
                "task_settings": self.task_settings,
                "physics": self.env.physics,
                "git_commit": git_commit(),
                "world_size": self.dist.world_size,
                "rank_states": rank_states,
            },
        )

    def load(self, path: str | Path, load_optimizer: bool = True) -> dict:
        """Restore weights, normalisers, optimizer, iteration, RNG and env state for resume."""
        ckpt = load_checkpoint(path, map_location=self.device)
        check_resumable(ckpt, path)
        alg = self.alg
        if ckpt["policy_family"] != alg.policy.family:
            raise UserError(
                f"checkpoint '{path}' holds a {ckpt['policy_family']} policy but the config asks "
                f"for algo '{self.cfg.algo}'; set algo to match the checkpoint"
            )
        if self.robot_contract is not None:  # a longer actor history than the checkpoint's
            ckpt = widen_history(ckpt, self.robot_contract, alg.policy, path)
        _load(alg.policy, ckpt["policy_state"], path, "policy")
        _load(alg.critic, ckpt["critic_state"], path, "critic")
        for module, key in (
            (alg.obs_normalizer, "obs_normalizer_state"),
            (alg.critic_obs_normalizer, "critic_obs_normalizer_state"),
        ):
            if isinstance(module, EmpiricalNormalization) and ckpt.get(key) is not None:
                _load(module, ckpt[key], path, key)
        if load_optimizer:
            _load(alg.optimizer, ckpt["optimizer_state"], path, "optimizer")
            alg.learning_rate = float(ckpt["learning_rate"])
        self.current_iteration = ckpt["iteration"]
        self._restore_rank_state(ckpt, path)
        return ckpt

    def _restore_rank_state(self, ckpt: dict, ckpt_path: str | Path) -> None:
        states = ckpt.get("rank_states") or []
        if not isinstance(states, list):
            raise UserError(
                f"checkpoint '{ckpt_path}' holds damaged rank_states; use another checkpoint"
            )
        if len(states) != self.dist.world_size:
            # Another world size: an exact continuation is impossible; keep streams distinct.
            seed_everything(self.cfg.runner.seed + self.dist.rank + 7919 * ckpt["iteration"])
            return
        state = states[self.dist.rank]
        try:
            set_rng_states(state["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise UserError(
                f"checkpoint '{ckpt_path}' holds a damaged RNG state ({type(exc).__name__}); "
                "use another checkpoint of the run"
            ) from None
        if state.get("env") is not None:
            try:
                self.env.load_state_dict(state["env"])
            except UserError as exc:
                # Weights, optimiser and RNG are restored; only the env restarts its episodes.
                print(
                    f"warning: {exc}; the environments start fresh episodes, so this resume "
                    "is not bit-identical",
                    file=sys.stderr,
                )


def _loss_scalars(losses: dict[str, float]) -> dict[str, float]:
    """TensorBoard names: KL estimates under kl/, the learning rate under train/lr, names
    that already hold a group (policy/..., kl/...) as they are, the rest under loss/."""
    special = {
        "kl_k1": "kl/k1",
        "kl_k3": "kl/k3",
        "learning_rate": "train/lr",
        "explained_variance": "train/explained_variance",
    }
    return {special.get(k, k if "/" in k else f"loss/{k}"): v for k, v in losses.items()}


def _to_cpu(value: object) -> object:
    """Tensors to CPU inside nested dicts/lists, so ranks can exchange and save them."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def _state_or_none(module: torch.nn.Module) -> dict | None:
    return module.state_dict() if isinstance(module, EmpiricalNormalization) else None


def _load(
    module: torch.nn.Module | torch.optim.Optimizer, state: dict, path: str | Path, what: str
) -> None:
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"checkpoint '{path}' does not fit this config's {what} ({first_line(exc)}); "
            "train with the config the checkpoint was made with"
        ) from None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_states() -> dict:
    """Every RNG the training loop may draw from, as weights_only-loadable types."""
    generator, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [generator, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }


def set_rng_states(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    generator, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((generator, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


NOISE_STATES = 256  # observations from the rollout that the noise is measured on
NOISE_DRAWS = 8  # latent (or Gaussian) draws per observation


def action_noise_std(policy, obs: torch.Tensor, seed: int, draws: int = NOISE_DRAWS) -> float:
    """Mean over states and action dims of the executed action's std across draws of the
    policy's noise for the same (normalised) observation: its exploration noise. `action/std_*`
    is the spread over the whole rollout, which adds the mean action's variation across states
    (on go2_rough most of it). Draws come from a generator of their own, so training's random
    stream is the same with or without this measurement."""
    obs = obs[:: max(1, obs.shape[0] // NOISE_STATES)][:NOISE_STATES]
    gen = torch.Generator(device=obs.device).manual_seed(seed)
    shape = (obs.shape[0], policy.stored_action_dim)
    actions = [
        policy.act(obs, torch.randn(shape, generator=gen, device=obs.device, dtype=obs.dtype))
        for _ in range(draws)
    ]
    return torch.stack(actions).std(0).mean().item()
