"""GenPO training: flow policy, Gaussian baseline, PPO update, storage, runner, checkpoints."""
