"""motion.extra_kd and remote.silent_s: out-of-range values are refused before DDS opens."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    "setting",
    ["motion.extra_kd=-1", "motion.extra_kd=.nan", "motion.extra_kd=6",
     "remote.silent_s=0", "remote.silent_s=.nan", "remote.silent_s=.inf"],
)  # fmt: skip
def test_out_of_range_is_one_sentence_exit_2(setting, artifacts):
    done = subprocess.run(
        [sys.executable, "-m", "deploy", "--robot", "go2", "--sim", "--domain", "229",
         "--policy", str(artifacts["go2"]), "--no-log", "--set", setting],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    err = [ln for ln in done.stderr.splitlines() if "Traceback" in ln or "must be" in ln]
    assert done.returncode == 2 and len(err) == 1 and "must be" in err[0], done.stderr
    assert "interface" not in done.stderr  # refused before any DDS set-up
