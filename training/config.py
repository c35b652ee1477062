"""Frozen training configs: the defaults live here, YAML files in configs/ hold only deltas.

Field types stay plain (int, float, str, bool, tuple, nested dataclass) so the generic
YAML/--set loader in common/config.py can build and print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.config import at_least_one, check_fields


@dataclass(frozen=True)
class FlowPolicyCfg:
    """GenPO flow policy: coupled Euler flow over a doubled dummy action (genpo.md section 1)."""

    hidden_dims: tuple[int, ...] = (512, 256, 128)
    """Hidden layer widths of the velocity MLP v(u, s, e(t))."""
    time_embed_dim: int = 32
    """Width of the sinusoidal time embedding and of the time-MLP output e(t)."""
    time_hidden_dims: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the time MLP (sinusoidal features -> e(t))."""
    flow_steps: int = 5
    """Number of coupled Euler steps N (network passes per action = 2N)."""
    mix_p: float = 0.9
    """Mixing coefficient p; keep >= 0.9 for float32 round-trip accuracy."""
    activation: str = "mish"
    """Hidden activation: mish, elu, relu, tanh, silu or gelu."""
    velocity_out_gain: float = 0.01
    """Scale of the velocity head's initial weights, so that v ~ 0 at init."""
    latent_std: float = 1.0
    """Std sigma of the latent z ~ N(0, sigma^2 I_2d). The executed action's std at init is
    about 0.71 sigma (genpo.md): 1.4 starts GenPO at the Gaussian baseline's std of 1.0."""

    def __post_init__(self) -> None:
        check_fields(self, ("flow_steps",), at_least_one, "must be at least 1")


@dataclass(frozen=True)
class GaussianPolicyCfg:
    """Gaussian PPO baseline: MLP mean, state-independent learnable std (rsl_rl style)."""

    hidden_dims: tuple[int, ...] = (512, 256, 128)
    """Hidden layer widths of the mean MLP."""
    activation: str = "mish"
    """Hidden activation: mish, elu, relu, tanh, silu or gelu."""
    init_noise_std: float = 1.0
    """Initial standard deviation of every action dimension."""


@dataclass(frozen=True)
class CriticCfg:
    """Value network V(s_critic)."""

    hidden_dims: tuple[int, ...] = (512, 256, 128)
    """Hidden layer widths of the value MLP."""
    activation: str = "mish"
    """Hidden activation: mish, elu, relu, tanh, silu or gelu."""


@dataclass(frozen=True)
class PPOCfg:
    """Clipped PPO update shared by GenPO and the Gaussian baseline (genpo.md section 3)."""

    num_learning_epochs: int = 5
    """Passes over the rollout per update."""
    num_mini_batches: int = 4
    """Minibatches per epoch."""
    clip_param: float = 0.2
    """PPO ratio clip epsilon (also clips the value update)."""
    gamma: float = 0.99
    """Discount factor."""
    lam: float = 0.95
    """GAE lambda."""
    value_loss_coef: float = 1.0
    """Weight of the value loss."""
    use_clipped_value_loss: bool = True
    """Clip the value prediction around the rollout value, as rsl_rl does."""
    entropy_coef: float = 0.0
    """Weight of the exact entropy bonus of the Gaussian policy (0.01 in ppo.yaml). A flow
    policy's entropy is constant (constant Jacobian, genpo.md section 7), so flow algorithms
    refuse a non-zero value: see neg_logp_coef."""
    neg_logp_coef: float = 0.0
    """Flow only, experimental: weight of -mean log pi_theta(a~_old) (logged as
    policy/neg_logp_old_actions). It equals H_old + KL(pi_old || pi_theta), so a positive
    weight pushes the policy away from the rollout policy; it adds no entropy."""
    learning_rate: float = 1e-3
    """Initial Adam learning rate."""
    schedule: str = "adaptive"
    """'adaptive' (KL-driven, rsl_rl rule) or 'fixed'."""
    desired_kl: float = 0.01
    """Target k1 KL per minibatch for the adaptive schedule."""
    lr_min: float = 1e-5
    """Floor of the adaptive learning rate."""
    lr_max: float = 1e-2
    """Cap of the adaptive learning rate."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""
    normalize_advantage: bool = True
    """Normalise advantages over the rollout to zero mean, unit std."""
    compression_coef: float = 0.01
    """nu: weight of E||x_N - y_N|| on fresh differentiable samples (flow only)."""
    compression_fraction: float = 0.25
    """Fraction of each minibatch's observations that get fresh compression samples."""
    compile: bool = False
    """Run the loss (policy, inverse, critic) through torch.compile (needs a C++ compiler)."""

    def __post_init__(self) -> None:
        check_fields(
            self, ("num_learning_epochs", "num_mini_batches"), at_least_one, "must be at least 1"
        )


@dataclass(frozen=True)
class GMPOCfg:
    """GMPO's policy loss: advantage-weighted maximum likelihood (genpo.md section 7)."""

    beta: float = 1.0
    """Inverse temperature of the target pi_old * exp(beta A) over normalised advantages."""
    w_max: float = 20.0
    """Clamp of the unnormalised weight exp(beta A) before the per-minibatch normalisation."""


@dataclass(frozen=True)
class GMPGCfg:
    """GMPG's policy loss: likelihood-ratio gradient with a reverse-KL penalty (section 7)."""

    beta: float = 1.0
    """Inverse temperature of the same target as GMPO's; the KL weight alpha is 1 / beta."""
    log_ratio_clip: float = 3.0
    """|log pi_theta - log pi_old| is clamped here before exp (no gradient beyond)."""


@dataclass(frozen=True)
class RunnerCfg:
    """On-policy loop, logging and checkpoints."""

    num_steps_per_env: int = 24
    """Rollout horizon per environment per iteration."""
    max_iterations: int = 1500
    """Iterations run by learn() when no count is given."""
    save_interval: int = 50
    """Write a checkpoint every this many iterations (and at the end)."""
    seed: int = 1
    """Global seed; rank r of a distributed run uses seed + r."""
    empirical_normalization: bool = True
    """Normalise actor and critic observations with running mean/std (saved in checkpoints)."""
    progress_bar: bool = True
    """Show a tqdm progress bar on rank 0."""

    def __post_init__(self) -> None:
        names = ("num_steps_per_env", "max_iterations", "save_interval")
        check_fields(self, names, at_least_one, "must be at least 1")
        check_fields(self, ("seed",), lambda v: isinstance(v, int) and v >= 0, "must be >= 0")


@dataclass(frozen=True)
class TrainCfg:
    """Everything the runner needs; `algo` picks the policy family."""

    algo: str = "genpo"
    """'genpo', 'gmpo' or 'gmpg' (flow policy, see ALGOS) or 'ppo' (Gaussian baseline)."""
    flow: FlowPolicyCfg = field(default_factory=FlowPolicyCfg)
    """Flow policy settings (used by the flow algorithms)."""
    gaussian: GaussianPolicyCfg = field(default_factory=GaussianPolicyCfg)
    """Gaussian policy settings (used when algo == 'ppo')."""
    critic: CriticCfg = field(default_factory=CriticCfg)
    """Value network settings."""
    ppo: PPOCfg = field(default_factory=PPOCfg)
    """Update settings shared by every algorithm (storage, GAE, critic, adaptive LR, ...)."""
    gmpo: GMPOCfg = field(default_factory=GMPOCfg)
    """GMPO's policy-loss settings (used when algo == 'gmpo')."""
    gmpg: GMPGCfg = field(default_factory=GMPGCfg)
    """GMPG's policy-loss settings (used when algo == 'gmpg')."""
    runner: RunnerCfg = field(default_factory=RunnerCfg)
    """Loop, logging and checkpoint settings."""


# algo -> (policy family, configs/train overlays applied after the task's, in order). GMPO and
# GMPG share GenPO's flow, so they inherit genpo.yaml's flow settings before their own file.
ALGOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "genpo": ("flow", ("genpo",)),
    "gmpo": ("flow", ("genpo", "gmpo")),
    "gmpg": ("flow", ("genpo", "gmpg")),
    "ppo": ("gaussian", ("ppo",)),
}
