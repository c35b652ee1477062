"""Session-wide test setup: offline robot models and a repo-relative working directory."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_OFFLINE_MODELS = REPO.parent / "shared" / "menagerie"

# Tests and CI never download models: point mujoco-menagerie at the offline copies in shared/.
if "MENAGERIE_ROOT" not in os.environ and _OFFLINE_MODELS.is_dir():
    os.environ["MENAGERIE_ROOT"] = str(_OFFLINE_MODELS)
