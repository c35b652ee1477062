"""The child tools of the deploy benchmarks (genpo-sim, genpo-deploy, genpo-eval): a child that
refuses its arguments (exit code 2, `prog: error: sentence`) is a UserError quoting its sentence,
so the benchmark ends in that one sentence too; any other failure is a RuntimeError with the
child's stderr."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from common.cli import refusal
from common.errors import UserError
from deploy.preflight import REPO_ROOT
from deploy.sim.launch import SimProcess


def json_line(cmd: list[str], timeout_s: float) -> dict[str, Any]:
    """Run `cmd` in the repository; the last JSON line it printed."""
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        sentence = refusal(done.returncode, done.stderr)
        if sentence is not None:
            raise UserError(sentence)
        raise RuntimeError(f"{cmd[2]} failed (rc {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


@contextmanager
def sim_process(robot: str, domain: int, duration_s: float, *extra: str) -> Iterator[SimProcess]:
    """`with SimProcess(...) as sim`, where genpo-sim refusing its arguments is a UserError."""
    sim = SimProcess(robot, domain, duration_s, *extra)
    try:
        sim.__enter__()
    except (RuntimeError, TimeoutError) as exc:
        if sim.proc is None:
            raise
        if sim.proc.poll() is None:
            sim.proc.kill()
        returncode = sim.proc.wait(timeout=10)
        for stream in (sim.proc.stdout, sim.proc.stderr):
            if stream is not None:
                stream.close()
        # SimProcess: "genpo-sim exited before 'ready': <its stderr>"
        sentence = refusal(returncode, str(exc).partition(": ")[2])
        if sentence is not None:
            raise UserError(sentence) from None
        raise
    try:
        yield sim
    finally:
        sim.__exit__(None, None, None)
