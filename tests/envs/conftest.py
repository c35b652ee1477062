"""Env tests use the offline Menagerie copies (the top-level conftest usually sets this too)."""

from __future__ import annotations

import os
from pathlib import Path

_OFFLINE = Path(__file__).resolve().parents[3] / "shared" / "menagerie"
if "MENAGERIE_ROOT" not in os.environ and _OFFLINE.is_dir():
    os.environ["MENAGERIE_ROOT"] = str(_OFFLINE)
