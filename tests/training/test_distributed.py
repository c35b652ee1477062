"""Two gloo ranks on loopback stay bit-identical while seeing different data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from training.checkpoint import load_checkpoint

WORKER = Path(__file__).with_name("dist_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_rank_gloo_keeps_parameters_identical(tmp_path: Path) -> None:
    port = _free_port()
    procs = []
    for rank in range(2):
        env = {
            **os.environ,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": "2",
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "OMP_NUM_THREADS": "1",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), str(tmp_path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, out.decode()[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert not torch.equal(r0["first_obs"], r1["first_obs"])  # the ranks saw different data
    assert any(not torch.equal(a, b) for a, b in zip(r0["initial"], r0["final"], strict=True))
    for key in ("initial", "final", "critic"):
        for a, b in zip(r0[key], r1[key], strict=True):
            assert torch.equal(a, b), key
    for name, value in r0["normalizer"].items():
        assert torch.equal(value, r1["normalizer"][name]), name
    ckpt = load_checkpoint(tmp_path / "run" / "model_2.pt")  # written by rank 0 only
    assert ckpt["world_size"] == 2 and len(ckpt["rank_states"]) == 2


def test_a_single_process_on_cuda_selects_a_device_with_an_index(monkeypatch) -> None:
    """`--device cuda` (the default on a GPU machine) in one process: torch.cuda.set_device
    needs an index, which a bare "cuda" lacks. torch's own index check stands in for the GPU."""
    from torch.cuda._utils import _get_device_index

    from training.distributed import init_distributed

    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: chosen.append(_get_device_index(d)))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_distributed("cuda").device == "cuda:0" and chosen == [0]
    assert init_distributed("cuda:1").device == "cuda:1" and chosen[-1] == 1
