"""Archive work of a pass: which sources need a Wayback capture, under one deadline.

Runs after verification and never changes a verdict: every failure is a `Capture` state
(`pending` is retried on a later pass, `failed` is not retried until the page changes).
"""

from __future__ import annotations

import asyncio
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


async def archive_all(jobs: list[Job], wayback: Wayback, store: Store, settings: ArchiveSettings,
                      now: datetime) -> dict[str, Capture]:
    """A capture for every job's URL, one save per URL at most, all within `settings.timeout`."""
    grouped: dict[str, list[Job]] = {}
    for job in jobs:
        grouped.setdefault(job.url, []).append(job)
    unique = {url: Job(url, next((j.link for j in js if j.link in SAVABLE), js[0].link),
                       any(j.changed for j in js)) for url, js in grouped.items()}
    done: dict[str, Capture] = {}

    async def one(job: Job) -> None:
        done[job.url] = await _archive_one(job, wayback, store, settings, now)

    tasks = [asyncio.create_task(one(job)) for job in unique.values()]
    try:
        async with asyncio.timeout(settings.timeout):
            await asyncio.gather(*tasks)
    except TimeoutError:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for url in unique:
        if url not in done:
            known = store.capture(url)
            done[url] = Capture(CaptureState.PENDING, known.url if known else None,
                                known.timestamp if known else None,
                                f"archive deadline ({settings.timeout:g}s) reached; will retry on a later pass")
    return done


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
