"""Files the tools write: atomically, with the user's umask, into directories checked up front.

One way to write a file that must never be seen half-written (checkpoints, run.yaml, policy.onnx,
reports): a temp file beside the target, fsync, then `os.replace`. The temp file's name carries
the writer's pid, `.<name>.<pid>.<token>.tmp`, so the next write into the same directory removes
the temp files of writers that died mid-write (kill -9, power loss) and never those of a live one.
That judgement assumes the writers share this machine's pid namespace, as the run directories of
one training or export job do.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from common.errors import UserError

_TMP_NAME = re.compile(r"^\..+\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


@contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Binary file object whose content replaces `path` when the block ends without an error.

    The file gets mode 0o666 less the umask, like any `open()`; on an error (or a signal) the
    temp file is removed and `path` is left as it was.
    """
    path = Path(path)
    remove_orphans(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """`path.write_bytes(data)`, atomically (see atomic_write)."""
    with atomic_write(path) as f:
        f.write(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """`path.write_text(text)` in UTF-8, atomically (see atomic_write)."""
    write_bytes_atomic(path, text.encode())


def remove_orphans(directory: Path) -> list[Path]:
    """Delete the temp files of atomic writes whose writer process is gone; returns them."""
    removed = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed  # the write itself will report the unusable directory
    for entry in entries:
        match = _TMP_NAME.match(entry.name)
        if match and not _alive(int(match["pid"])):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def writable_dir(path: Path, what: str, option: str) -> Path:
    """Create directory `path` if needed; one sentence naming `option` when it cannot be written.

    what: the directory's role in the message ("output directory", "run directory").
    option: the command-line option that picks another one ("--out").
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create {what} '{path}' ({exc.strerror}); pass another {option}"
        ) from None
    problem = _cannot_create_in(path)
    if problem:
        raise UserError(f"{what} '{path}' is not writable ({problem}); pass another {option}")
    return path


def nearest_existing(path: Path) -> Path:
    """`path` when it exists, else the nearest folder above it that does: where `mkdir -p` of
    `path` would start (a path that cannot be examined counts as missing)."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or ".")  # the root, or the working directory (not examinable)


def creatable_dir_problem(path: Path) -> str:
    """'' when a file could be created in folder `path`, made first where missing; else why not.
    Judged without leaving anything behind (for checks that must write nothing): the nearest
    existing folder must be a folder that takes a new file (a probe file, removed at once)."""
    existing = nearest_existing(path)
    try:
        if not existing.is_dir():
            return f"{existing} is not a directory"
    except OSError as exc:  # e.g. a link into a folder this user cannot enter
        return f"{existing} cannot be examined ({exc.strerror or type(exc).__name__})"
    return _cannot_create_in(existing)


@contextmanager
def new_dirs_removed_on_error(path: Path) -> Iterator[None]:
    """When the block raises, the folders of `path` (it and its parents) that did not exist as it
    began are removed again, innermost first and only while empty: a refused run leaves no
    folder of its own behind and never touches one that was there before or holds a file."""
    path = Path(os.path.abspath(path))  # "a/../b": the folders mkdir really makes
    existing = nearest_existing(path)
    new = [p for p in (path, *path.parents) if existing in p.parents]
    try:
        yield
    except BaseException:
        for folder in new:
            try:
                folder.rmdir()
            except OSError:  # not created after all, or something was put in it: leave it
                break
        raise


def _cannot_create_in(directory: Path) -> str:
    """'' when a file can be created in `directory`, else why not. A real file, created and
    removed, rather than `os.access`: root passes that on read-only places such as /proc. The
    name is an atomic-write temp name, so one left by a kill is removed by the next write."""
    probe = directory / f".probe.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    probe.unlink(missing_ok=True)
    return ""


def check_output_file(path: Path, option: str) -> None:
    """Before any work: `path` can become a file (not a directory, its folder can be made)."""
    if path.is_dir():
        raise UserError(f"{option} '{path}' is a directory; pass the path of a file to write")
    writable_dir(path.parent, f"folder of {option}", option)


def check_video_file(path: Path, option: str = "--video") -> None:
    """Before any work: `path` can become an .mp4 file (what the video writers of genpo-sim and
    genpo-eval write: ffmpeg, libx264), not a directory, its folder can be made."""
    if path.suffix.lower() != ".mp4" and not path.is_dir():  # a directory: check_output_file
        raise UserError(
            f"{option} '{path}' must name an .mp4 file (ffmpeg picks the format from the extension)"
        )
    check_output_file(path, option)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
