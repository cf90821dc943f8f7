"""The process that the judging processes (`cpupool`) are forked from.

`check` starts it before it reads the config: its interpreter then imports the parsers on
another core while this process imports the rest, reads the config and fetches the first pages,
and the first page is judged ~0.25 s sooner. A pass whose every page is unchanged forks nothing
from it (it costs ~35 MB and a quarter of a second of the other core, not the pass's time).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext

# Imported once, by the forkserver; the processes forked from it share those pages.
_PRELOAD = ["linkcheck.cpupool", "pypdfium2"]


def context() -> ForkServerContext:
    """The multiprocessing context the judging processes start in."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def start() -> None:
    """Start the forkserver now (it returns at once; the server imports in the background), where
    there is one (not on Windows)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context()
        forkserver.ensure_running()
