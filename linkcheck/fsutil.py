"""Files that a killed process never leaves half-written, with the permissions any other file
the user creates would get (the process umask), so that a web server can serve the digest and
colleagues can read the reports."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def umask() -> int:
    """The process umask, read without changing it where Linux shows it (os.umask(), the only
    portable way, sets it for a moment for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_beside(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """An open temporary file in `path`'s folder for a write-then-rename, with the mode `path`
    already has, or the umask's (mkstemp alone makes every file 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~umask()
    os.fchmod(fd, mode)
    return fd, tmp


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
