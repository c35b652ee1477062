"""Checks run at export: test observations, torch-vs-ORT parity, latency statistics."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from common.errors import UserError
from robots.contract import PolicyContract

PARITY_ATOL = 1e-5
RECORDED_OBS_FILE = "recorded_obs.npy"  # optional [n, obs] float array in the run directory


def check_finite(actions: np.ndarray, source: str) -> None:
    """A graph that answers test observations with NaN or Inf cannot be shipped."""
    bad = int(np.count_nonzero(~np.isfinite(actions).all(axis=-1)))
    if bad:
        raise UserError(
            f"{source} produces NaN or Inf actions on {bad} of {len(actions)} test observations; "
            "it cannot be shipped"
        )


def observation_bounds(contract: PolicyContract) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension (lo, hi) of the actor observation after clip and scale: [obs] each (every
    frame of its history alike)."""
    lo, hi = [], []
    for term in contract.obs_terms:
        bound = np.inf if term.clip is None else term.clip * abs(term.scale)
        lo += [-bound] * term.dim
        hi += [bound] * term.dim
    frames = contract.history_frames
    return np.tile(lo, frames), np.tile(hi, frames)


def sample_observations(
    contract: PolicyContract | None,
    obs_dim: int,
    n: int,
    seed: int,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> np.ndarray:
    """n test observations [n, obs] float32: N(mean, std^2) (the normaliser's statistics when
    known, else N(0, 1)) clipped to the contract's observation ranges."""
    rng = np.random.default_rng(seed)
    mu = np.zeros(obs_dim) if mean is None else np.asarray(mean, dtype=np.float64)
    sigma = np.ones(obs_dim) if std is None else np.asarray(std, dtype=np.float64)
    obs = mu + sigma * rng.standard_normal((n, obs_dim))
    if contract is not None:
        lo, hi = observation_bounds(contract)
        obs = np.clip(obs, lo, hi)
    return obs.astype(np.float32)


def recorded_observations(run_dir: Path | None, obs_dim: int, limit: int = 1000) -> np.ndarray:
    """Observations recorded during training, when the run directory has them: [m, obs]."""
    path = None if run_dir is None else run_dir / RECORDED_OBS_FILE
    if path is None or not path.is_file():
        return np.zeros((0, obs_dim), dtype=np.float32)
    data = np.load(path, allow_pickle=False)
    if data.ndim != 2 or data.shape[1] != obs_dim:
        return np.zeros((0, obs_dim), dtype=np.float32)
    return data[:limit].astype(np.float32)


def max_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    err = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    return float(np.max(err)) if np.all(np.isfinite(err)) else float("inf")


def latency_us(
    run: Callable[[], object], warmup: int = 200, calls: int = 10_000
) -> dict[str, float | int]:
    """p50 / p99 / max / mean of `run()` wall time in microseconds, after `warmup` calls."""
    for _ in range(warmup):
        run()
    times = np.empty(calls, dtype=np.float64)
    clock = time.perf_counter_ns
    for i in range(calls):
        start = clock()
        run()
        times[i] = clock() - start
    times /= 1e3
    return {
        "p50": round(float(np.percentile(times, 50)), 2),
        "p99": round(float(np.percentile(times, 99)), 2),
        "max": round(float(times.max()), 2),
        "mean": round(float(times.mean()), 2),
        "warmup": warmup,
        "calls": calls,
    }
