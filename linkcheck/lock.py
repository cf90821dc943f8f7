"""One pass per config at a time: `check` from cron, CI or a shell, and the daemon's passes
all take this lock (an flock on `.linkcheck.lock` beside the config, released by the kernel
even when the holder is killed)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import LockBusy


@contextlib.contextmanager
def pass_lock(root: Path, wait: float) -> Iterator[None]:
    path = root / ".linkcheck.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
                    raise LockBusy(f"another linkcheck pass (pid {holder}) is running on {root.resolve()}; "
                                   f"waited {wait:g}s. Try again when it has finished.") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
