"""The process that the judging processes (`cpupool`) are forked from.

`check` starts it once it has read the config (if that asks for judging processes): its
interpreter then imports the parsers on another core while this process imports the pass's
code, opens history and fetches the first pages, and the first page is judged ~0.2 s sooner. A
pass whose every page is unchanged forks nothing from it (it costs ~35 MB and a quarter of a
second of the other core, not the pass's time).
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext

# Imported once, by the forkserver; the processes forked from it share those pages.
_PRELOAD = ["linkcheck.cpupool", "pypdfium2"]


def context() -> ForkServerContext:
    """The multiprocessing context the judging processes start in."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def judging_processes(workers: int) -> bool:
    """Whether `[fetch] workers` asks for judging processes and this platform can fork them from a
    forkserver (not Windows: pages are judged in-process there)."""
    return workers > 1 and "forkserver" in multiprocessing.get_all_start_methods()


def start(workers: int) -> None:
    """Start the forkserver now if the pool will use it (it returns at once; the server imports in
    the background). Ctrl-C meanwhile is this process's to handle: the server and its resource
    tracker start with SIGINT ignored (as the judging processes run), not with a traceback from
    their imports."""
    if not judging_processes(workers):
        return
    context()
    main = threading.current_thread() is threading.main_thread()  # the only one that sets handlers
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # inherited through exec
    try:
        forkserver.ensure_running()
    finally:
        if main:
            signal.signal(signal.SIGINT, handler)
