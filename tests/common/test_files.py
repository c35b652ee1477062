"""Atomic writes: the umask is honoured, a failure leaves the old file, a killed writer's temp
file is removed by the next write and a live writer's never is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.errors import UserError
from common.files import (
    atomic_write,
    check_output_file,
    creatable_dir_problem,
    nearest_existing,
    new_dirs_removed_on_error,
    writable_dir,
    write_text_atomic,
)
from tests.conftest import REPO

# A writer killed with SIGKILL halfway through its data, as `kill -9` or the OOM killer would.
KILLED_WRITER = """
import os, signal, sys
from common.files import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write(b"half of the new")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_written_file_honours_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "run.yaml", "a: 1\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "run.yaml").stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "policy.onnx"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"new, half")
        raise RuntimeError("export failed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_killed_writer_leaves_an_orphan_that_the_next_write_removes(tmp_path: Path) -> None:
    target = tmp_path / "model_5.pt"
    target.write_text("old")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], env=env)
    assert killed.returncode == -9
    orphans = [p for p in tmp_path.iterdir() if p != target]
    assert len(orphans) == 1 and orphans[0].read_bytes() == b"half of the new"
    assert target.read_text() == "old"
    write_text_atomic(tmp_path / "model_10.pt", "next")  # another file of the same run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_10.pt", "model_5.pt"]


def test_a_live_writers_temp_file_is_left_alone(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "model_1.pt") as f:
        f.write(b"first")
        write_text_atomic(tmp_path / "run.yaml", "second")  # same directory, meanwhile
        assert len(list(tmp_path.glob(".model_1.pt.*.tmp"))) == 1
    assert (tmp_path / "model_1.pt").read_bytes() == b"first"


def test_output_file_checks_refuse_a_directory_or_an_impossible_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--json .* is a directory"):
        check_output_file(tmp_path, "--json")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot create folder of --json"):
        check_output_file(blocker / "sub" / "eval.json", "--json")
    check_output_file(tmp_path / "new" / "eval.json", "--json")  # a fine path passes


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="no /proc here")
def test_output_file_checks_refuse_a_folder_no_file_can_be_made_in_even_as_root() -> None:
    # os.access says yes for root on /proc; creating a file there fails all the same.
    with pytest.raises(UserError, match="folder of --video '/proc' is not writable"):
        check_output_file(Path("/proc/sim.mp4"), "--video")


def test_output_file_checks_leave_nothing_behind(tmp_path: Path) -> None:
    check_output_file(tmp_path / "eval.json", "--json")
    assert writable_dir(tmp_path / "out", "output directory", "--out") == tmp_path / "out"
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and not any((tmp_path / "out").iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_output_file_checks_refuse_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(UserError, match="folder of --json .* is not writable"):
            check_output_file(folder / "eval.json", "--json")
    finally:
        folder.chmod(0o700)


def test_folders_a_refused_block_made_are_removed_and_no_others(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    target = tmp_path / "kept" / "a" / "b"
    with pytest.raises(UserError), new_dirs_removed_on_error(target):
        target.mkdir(parents=True)
        raise UserError("refused")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kept"]  # a, b gone; kept stays
    with pytest.raises(UserError), new_dirs_removed_on_error(target):
        target.mkdir(parents=True)
        (tmp_path / "kept" / "a" / "note").write_text("")  # put there meanwhile: a stays
        raise UserError("refused")
    assert (tmp_path / "kept" / "a" / "note").is_file() and not target.exists()
    with new_dirs_removed_on_error(target):  # a block that ends well keeps what it made
        target.mkdir()
    assert target.is_dir()


def test_creatable_dir_problem_judges_a_missing_folder_without_making_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert creatable_dir_problem(tmp_path / "new" / "sub") == ""
    assert "is not a directory" in creatable_dir_problem(tmp_path / "file" / "sub")
    if Path("/proc").is_dir():  # no file can be made there, even by root
        assert creatable_dir_problem(Path("/proc/genpo-new")) != ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no probe, no folder left


def test_a_location_that_cannot_be_examined_is_a_problem_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Where nothing on the way can be examined (a working directory without search
    permission, as a user other than root) the nearest existing folder is the root or the
    working directory (`path.parents[-1]` raised IndexError on Python 3.8); and a folder that
    cannot be examined (a link into one this user cannot enter: PermissionError from is_dir) is
    a one-line problem, which genpo-deploy's --log check turns into its sentence."""
    with monkeypatch.context() as m:
        m.setattr(os.path, "lexists", lambda _p: False)
        assert nearest_existing(Path("logs/deploy")) == Path(".")
        assert nearest_existing(Path("/srv/logs")) == Path("/")

    def denied(self: Path) -> bool:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "is_dir", denied)
    assert (
        creatable_dir_problem(tmp_path / "x")
        == f"{tmp_path} cannot be examined (Permission denied)"
    )
