"""Archive work of a pass: which sources need a Wayback capture, under one deadline.

The pass hands each judged source's `Job` to `Archiver.capture` (the one seam between judging
and archiving) and does not wait for it before checking the next sources.

Runs after verification and never changes a verdict: every failure is a `Capture` state
(`pending` is retried on a later pass, `failed` is not retried until the page changes).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import httpx

from ..config import ArchiveSettings
from ..models import Capture, CaptureState, LinkState
from ..store import Store
from .wayback import Wayback, capture_age

SAVABLE = frozenset({LinkState.ALIVE, LinkState.REDIRECTED})


@dataclass(frozen=True)
class Job:
    url: str  # what to archive (a tweet's canonical URL, else the cited URL)
    link: LinkState
    changed: bool


def stored_capture(store: Store, url: str, reason: str) -> Capture:
    """The capture history knows of, reported as `skipped` (no request made)."""
    known = store.capture(url)
    if known is None:
        return Capture(CaptureState.SKIPPED, None, None, reason)
    return Capture(CaptureState.SKIPPED, known.url, known.timestamp, reason)


class Archiver:
    """A pass's archive work, fed one judged source's `Job` at a time (`capture`), while the pass goes
    on: one save per URL at most, all within `settings.timeout` of the first job."""

    def __init__(self, wayback: Wayback, store: Store, settings: ArchiveSettings, now: datetime,
                 cited: Counter[str]) -> None:
        self.wayback, self.store, self.settings, self.now = wayback, store, settings, now
        self._left = cited  # sources still to come per URL: a URL cited twice is saved once
        self._shared: dict[str, asyncio.Task[Capture]] = {}
        self._deadline: float | None = None

    async def capture(self, job: Job) -> Capture:
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + self.settings.timeout
        task = self._shared.get(job.url)
        if task is None:
            task = loop.create_task(self._bounded(job))
            if self._left[job.url] > 1:
                self._shared[job.url] = task
        self._left[job.url] -= 1
        if self._left[job.url] <= 0:
            self._shared.pop(job.url, None)
        return await asyncio.shield(task)

    async def _bounded(self, job: Job) -> Capture:
        try:
            async with asyncio.timeout_at(self._deadline):
                return await _archive_one(job, self.wayback, self.store, self.settings, self.now)
        except TimeoutError:
            known = self.store.capture(job.url)
            return Capture(CaptureState.PENDING, known.url if known else None, known.timestamp if known else None,
                           f"archive deadline ({self.settings.timeout:g}s) reached; will retry on a later pass")


async def _archive_one(job: Job, wayback: Wayback, store: Store, settings: ArchiveSettings,
                       now: datetime) -> Capture:
    def fresh(capture: Capture | None) -> bool:
        age = capture_age(capture, now) if capture is not None and not job.changed else None
        return age is not None and age < settings.max_age

    known = store.capture(job.url)
    if known and known.state in (CaptureState.EXISTING, CaptureState.SAVED) and fresh(known):
        return Capture(CaptureState.EXISTING, known.url, known.timestamp)
    found: Capture | None = None
    trouble = ""
    try:
        found = await wayback.lookup(job.url)
    except (httpx.HTTPError, TimeoutError) as exc:
        trouble = f"Wayback lookup failed ({_describe(exc)})"
    if found is not None and fresh(found):
        return found
    if job.link not in SAVABLE:
        if found is not None:
            return found
        return Capture(CaptureState.SKIPPED, None, None,
                       f"not submitted: the page is {job.link.value}" + (f"; {trouble}" if trouble else ""))
    try:
        saved = await wayback.save(job.url)
    except (httpx.HTTPError, TimeoutError) as exc:
        saved = Capture(CaptureState.PENDING, None, None,
                        f"Wayback save failed ({_describe(exc)}); will retry on a later pass")
    if saved.url is None and found is not None:  # keep pointing readers at the older copy
        return Capture(saved.state, found.url, found.timestamp, saved.message)
    return saved


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return str(exc) or type(exc).__name__
