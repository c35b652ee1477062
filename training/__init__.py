"""GenPO training: flow policy, Gaussian baseline, PPO update, storage, runner, checkpoints."""

from common.compat import require_python

require_python("genpo-train/genpo-eval")  # torch and mujoco need Python 3.10+ here
