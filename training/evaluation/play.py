"""The PLAY variant of a task: what evaluation switches off, as `--set`-style overrides.

IsaacLab's PLAY configs drop observation corruption and pushes. Here every other randomisation
also goes to its nominal value, so a score measures the policy, not the draw of the world:
"""

from __future__ import annotations

from common.errors import UserError
from robots.assets import CONTACT_MODELS
from training.envs.model import MODEL_FILE_SOLVER
from training.tasks.config import TaskCfg


def play_overrides(cfg: TaskCfg, duration_s: float) -> tuple[str, ...]:
    """Overrides of `cfg` for an evaluation whose episodes last `duration_s` seconds.

    Kept from training: spawn pose and yaw randomisation, the task's reset velocity and joint
    scale, commands resampled as in training (unless a script replaces them), the terrain. On
    rough terrain every episode starts on the hardest third of the curriculum's rows.
    """
    lo, hi = cfg.domain_rand.friction
    friction = (lo + hi) / 2  # the middle of the trained range (0.8 for every task here)
    rows = cfg.terrain.num_rows
    hardest = (
        (f"terrain.min_init_level={rows - rows // 3}", f"terrain.max_init_level={rows - 1}")
        if cfg.terrain.kind == "rough"
        else ()
    )
    return (
        "observations.noise=false",
        "domain_rand.push_interval_s=null",
        "domain_rand.added_base_mass_kg=null",
        f"domain_rand.friction=[{friction!r}, {friction!r}]",
        "domain_rand.motor_gain_scale=[1.0, 1.0]",
        "domain_rand.action_latency_physics_steps=[0, 0]",
        "domain_rand.obs_latency_policy_steps=[0, 0]",
        # Levels stay where they were drawn: an evaluation must not move envs between tiles.
        "terrain.curriculum=false",
        f"sim.episode_length_s={duration_s!r}",
        # A merged link (Go2's head) resting on the ground 1 s is a fall (TaskCfg doc).
        "link_rest_fall_s=1.0",
        *hardest,
    )


def contact_overrides(contact: str) -> tuple[str, ...]:
    """Overrides that put the task on a contact model of robots.assets.CONTACT_MODELS:
    "training" keeps the task's solver settings, "menagerie" the model file's (genpo-sim's
    default), so genpo-eval and genpo-sim score a policy on the same contact physics."""
    if contact not in CONTACT_MODELS:
        raise UserError(
            f"unknown contact model {contact!r}; choose one of {', '.join(CONTACT_MODELS)}"
        )
    if contact == "training":
        return ()
    return tuple(f"sim.model.{key}={value}" for key, value in MODEL_FILE_SOLVER.items())
