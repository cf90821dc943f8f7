"""Files that a killed process never leaves half-written, with the permissions any other file
the user creates would get (the process umask), so that a web server can serve the digest and
colleagues can read the reports."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TypeVar

_T = TypeVar("_T")


def temp_beside(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """An open temporary file in `path`'s folder for a write-then-rename, with the mode `path`
    already has, else the one any new file gets: 0666 less the umask, applied by the kernel
    (mkstemp makes every file 0600, and reading the umask back costs a read of /proc per file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd, tmp = _fresh(path, suffix, lambda name: os.open(name, flags, 0o666))
    with contextlib.suppress(OSError):  # no file there yet (or not one to copy the mode of)
        os.fchmod(fd, os.stat(path).st_mode & 0o777)
    return fd, tmp


def _fresh(path: Path, suffix: str, make: Callable[[str], _T]) -> tuple[_T, str]:
    """`make(name)` for a new temporary name beside `path` (another name if that one is taken)."""
    folder, name = os.path.split(path)  # os calls, not pathlib's: this runs for every snapshot
    while True:
        tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}{suffix}")
        try:
            return make(tmp), tmp
        except FileExistsError:  # one in 2**48: another name
            continue


def atomic_write(path: Path, text: str | Iterable[str]) -> None:
    """Write `text` (or its pieces, as they come) to `path` through a temporary file in the same
    folder and a rename, synced to disk."""
    def fill(f: IO[bytes]) -> None:
        for piece in [text] if isinstance(text, str) else text:
            f.write(piece.encode("utf-8"))

    replace_with(path, fill, durable=True)


def replace_with(path: Path, content: bytes | Callable[[IO[bytes]], object], *, durable: bool) -> None:
    """Write `path` whole, through a temporary file in the same folder and a rename: a reader (or a
    killed writer) never sees half a file. `content`: the bytes (written with no file object around
    them: a pass writes a snapshot per page), or a function that writes them to the file it is given.
    `durable`: synced to disk before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        try:
            if isinstance(content, bytes):
                _write_all(fd, content)
            else:
                with os.fdopen(fd, "wb", closefd=False) as f:
                    content(f)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def link_or_copy(source: Path, path: Path) -> None:
    """Make `path` another name of the file `source` (replacing what `path` was, atomically): a
    hard link, so nothing is copied and `path` outlives the deletion of `source`. A copy where the
    file system has no hard links, or where `path` has a mode of its own (one a user gave it for a
    web server, say), which it keeps. `source` is complete already (and synced, if it is to be)."""
    if _same_mode(source, path) and _linked(source, path):
        return
    with source.open("rb") as src:
        replace_with(path, lambda f: shutil.copyfileobj(src, f), durable=True)


def _same_mode(source: Path, path: Path) -> bool:
    """Whether `path` has `source`'s mode (or is not there yet)."""
    try:
        return os.stat(path).st_mode & 0o777 == os.stat(source).st_mode & 0o777
    except OSError:
        return True


def _linked(source: Path, path: Path) -> bool:
    """`path` replaced by a hard link to `source`; False where the file system has none (FAT, some
    network shares)."""
    try:
        _, tmp = _fresh(path, ".tmp", lambda name: os.link(source, name))
    except OSError:
        return False
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _write_all(fd: int, data: bytes) -> None:
    """All of `data` to the file `fd` (a write may take only part)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def pieces(f: IO[str]) -> Iterator[str]:
    """The rest of text file `f`, in pieces (a spooled report is never one string)."""
    while piece := f.read(1 << 16):
        yield piece
