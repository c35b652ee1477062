"""A resume that lengthens the actor history (training/history.py): the widened policy acts as
the checkpoint did, the run (iteration, env, optimiser) carries on, fewer frames are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from common.errors import UserError
from tests.training.train_helpers import tiny_cfg
from training.history import _widen
from training.runner import OnPolicyRunner
from training.tasks import make_env, task_config, task_contract
from training.tasks.config import policy_settings

FRAME = 45  # go2_flat's actor frame


def _runner(algo: str, history: int, log_dir: Path | None = None) -> OnPolicyRunner:
    overrides = (f"observations.history_length={history}",)
    cfg = task_config("go2_flat", overrides)
    env = make_env("go2_flat", num_envs=4, seed=3, overrides=overrides)
    contract = task_contract(cfg).to_dict()
    return OnPolicyRunner(env, tiny_cfg(algo, save_interval=1), log_dir, "cpu", contract,
                          policy_settings(cfg))  # fmt: skip


def _action(runner: OnPolicyRunner, obs: torch.Tensor) -> torch.Tensor:
    """The executed action for `obs` under fixed noise (the same draw for both policies)."""
    alg = runner.alg
    alg.train_mode(False)
    noise = torch.randn(obs.shape[0], alg.policy.stored_action_dim, generator=torch.Generator()
                        .manual_seed(9))  # fmt: skip
    with torch.no_grad():
        return alg.policy.act(alg.obs_normalizer(obs), noise)


@pytest.mark.parametrize("algo", ["genpo", "ppo"])
def test_widened_resume_acts_as_the_checkpoint_and_carries_the_run_on(
    tmp_path: Path, algo: str
) -> None:
    blind = _runner(algo, 0, tmp_path / "blind")
    blind.learn(2)  # trains the normaliser, the weights and Adam's moments; writes model_2.pt
    saved_env = blind.env.state_dict()

    widened = _runner(algo, 3)
    widened.load(tmp_path / "blind" / "model_2.pt")
    assert widened.current_iteration == 2
    assert widened.alg.policy.obs_dim == 3 * FRAME

    # Whatever the older frames hold, the widened policy's action is the blind one's on the
    # newest frame: their columns start at zero and the normaliser is widened alike.
    current = torch.randn(6, FRAME) * 2.0
    older = torch.randn(6, 2 * FRAME) * 3.0
    expected = _action(blind, current)
    got = _action(widened, torch.cat([older, current], dim=1))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(expected, _action(blind, older[:, :FRAME]), atol=1e-3)

    # The env carries on where the blind run stood: its step counters and physics, and its
    # actor observation is the saved one repeated over the frames (as after a reset).
    env = widened.env
    assert np.array_equal(env.episode_length_buf, saved_env["arrays"]["episode_length_buf"])
    assert np.array_equal(env.backend.batch.state, saved_env["physics"].numpy())
    obs = env.get_observations()["policy"]
    for k in range(3):
        assert torch.equal(obs[:, k * FRAME : (k + 1) * FRAME], saved_env["observations"]["policy"])

    # Adam's moments of the widened weight: the older frames' first moments zero, the rest kept.
    name, start = widened.alg.policy.obs_input()
    index = [n for n, _ in widened.alg.policy.named_parameters()].index(name)
    blind_moments = blind.alg.optimizer.state[blind.alg.params[index]]
    moments = widened.alg.optimizer.state[widened.alg.params[index]]
    new_cols = slice(start, start + 2 * FRAME)
    kept = slice(start + 2 * FRAME, None)
    assert torch.count_nonzero(moments["exp_avg"][:, new_cols]) == 0
    assert torch.equal(moments["exp_avg"][:, kept], blind_moments["exp_avg"][:, start:])
    assert torch.equal(moments["exp_avg_sq"][:, kept], blind_moments["exp_avg_sq"][:, start:])

    widened.learn(1)  # trains on: the older frames' columns move off zero
    weight = dict(widened.alg.policy.named_parameters())[name]
    assert torch.count_nonzero(weight[:, new_cols]) > 0
    assert widened.current_iteration == 3


def test_a_resume_that_drops_frames_is_refused(tmp_path: Path) -> None:
    three = _runner("genpo", 3, tmp_path / "three")
    three.learn(1)
    with pytest.raises(UserError, match="reads 3 observation frames .* gives 2; a resume can add"):
        _runner("genpo", 2).load(tmp_path / "three" / "model_1.pt")


def test_the_frames_read_before_become_the_newest() -> None:
    """2 frames (a, b) widened to 4, around 1 leading and 2 trailing columns: [lead, new, new,
    a, b, trail]; the new frames zero or the oldest frame a's."""
    lead, a, b, trail = [0.5], [1.0, 2.0], [3.0, 4.0], [7.0, 8.0]
    value = torch.tensor([lead + a + b + trail])
    zero = _widen(value, start=1, frame=2, old=2, new=4, fill="zero")
    assert zero.tolist() == [lead + [0.0, 0.0] * 2 + a + b + trail]
    oldest = _widen(value, start=1, frame=2, old=2, new=4, fill="oldest")
    assert oldest.tolist() == [lead + a * 2 + a + b + trail]


def test_a_damaged_checkpoint_is_one_sentence(tmp_path: Path) -> None:
    """A checkpoint whose actor weight is missing cannot be widened: a UserError, no traceback."""
    blind = _runner("genpo", 0, tmp_path / "blind")
    blind.learn(1)
    path = tmp_path / "blind" / "model_1.pt"
    ckpt = torch.load(path, weights_only=True)
    del ckpt["policy_state"][blind.alg.policy.obs_input()[0]]
    torch.save(ckpt, path)
    with pytest.raises(UserError, match="is damaged: it cannot be widened to 3 observation frames"):
        _runner("genpo", 3).load(path)
