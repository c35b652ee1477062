"""Small configs shared by the training tests (tiny networks, fast on 2 CPU cores)."""

from __future__ import annotations

from training.config import CriticCfg, FlowPolicyCfg, GaussianPolicyCfg, RunnerCfg, TrainCfg

HIDDEN = (64, 64)


def tiny_cfg(algo: str = "genpo", save_interval: int = 50, **flow: object) -> TrainCfg:
    """TrainCfg with small networks and no progress bar."""
    return TrainCfg(
        algo=algo,
        flow=FlowPolicyCfg(hidden_dims=HIDDEN, time_hidden_dims=(32,), **flow),
        gaussian=GaussianPolicyCfg(hidden_dims=HIDDEN),
        critic=CriticCfg(hidden_dims=HIDDEN),
        runner=RunnerCfg(num_steps_per_env=24, save_interval=save_interval, progress_bar=False),
    )
