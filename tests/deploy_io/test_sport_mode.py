"""Sport-mode release: the no-answer path ends in one clear error; the real robot needs hardware."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_NO_ROBOT = """
from deploy.io.channels import open_dds
from deploy.io.sport_mode import release_sport_mode
from common.errors import UserError
open_dds(102, iface="lo")
try:
    release_sport_mode(102, timeout_s=0.5)
except UserError as exc:
    print("USERERROR", exc)
"""


def test_timeout_gives_clear_error() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _NO_ROBOT], capture_output=True, text=True, timeout=60
    )
    assert (
        "USERERROR the robot did not release sport mode: no motion_switcher service" in out.stdout
    )
    assert "within 0.5 s" in out.stdout


@pytest.mark.hardware
def test_release_on_real_go2() -> None:
    from deploy.io.channels import open_dds
    from deploy.io.sport_mode import release_sport_mode

    ip = os.environ.get("GO2_IP", "192.168.123.161")
    open_dds(0, ip=ip)
    release_sport_mode(0, timeout_s=5.0)
