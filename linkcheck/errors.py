"""Exceptions are for bad input and bugs only; expected failures (a dead page, a hung server,
a Wayback 429) are values on result records.

    LinkcheckError
    ├── ConfigError      bad sources.toml or flag: exit 2, message names file, line or source id and key
    ├── UsageError       bad command-line input the parser could not catch: exit 2
    ├── LockBusy         another pass holds the config's lock: exit 4
    └── HistoryUnavailable  the PostgreSQL history cannot be reached (down, refused, auth): exit 5

A bug met while checking one source is not raised: it becomes that source's `internal-error`
and its traceback is logged (`logged_to` shows it with --debug and in the daemon's log).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class LinkcheckError(Exception):
    """Base of every error linkcheck raises on purpose."""


class ConfigError(LinkcheckError):
    """The configuration cannot be used. The message is one paragraph for a human."""


class UsageError(LinkcheckError):
    """A command-line value that is syntactically fine but unusable."""


class LockBusy(LinkcheckError):
    """Another check pass on the same config is running."""


class HistoryUnavailable(LinkcheckError):
    """The history database (PostgreSQL) cannot be reached now; trying later may work."""


@contextlib.contextmanager
def logged_to(handler: logging.Handler | None) -> Iterator[None]:
    """What the pipeline logs (internal errors a pass survived, with their traceback) goes to
    `handler` for the duration: stderr with --debug, the daemon's log in the daemon."""
    if handler is None:
        yield
        return
    logger = logging.getLogger("linkcheck")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
