"""One rank of the 2-process gloo test; launched by test_distributed.py like torchrun would.

Usage: python dist_worker.py OUT_DIR (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT in env).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `training`

from tests.training.train_helpers import tiny_cfg  # noqa: E402
from training.distributed import init_distributed  # noqa: E402
from training.envs.toy import PointMassEnv  # noqa: E402
from training.runner import OnPolicyRunner  # noqa: E402


def main(out_dir: Path) -> None:
    torch.set_num_threads(1)
    info = init_distributed("cpu")
    cfg = tiny_cfg("genpo", save_interval=2)
    env = PointMassEnv(num_envs=16, seed=cfg.runner.seed + info.rank)  # distinct data per rank
    runner = OnPolicyRunner(env, cfg, log_dir=out_dir / "run")
    initial = [p.detach().clone() for p in runner.alg.policy.parameters()]
    runner.learn(2)
    state = {
        "initial": initial,
        "final": [t.detach().clone() for t in runner.alg.policy.parameters()],
        "critic": [t.detach().clone() for t in runner.alg.critic.parameters()],
        "normalizer": runner.alg.obs_normalizer.state_dict(),
        "first_obs": env.get_observations()["policy"],
    }
    torch.save(state, out_dir / f"rank{info.rank}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
