"""Wayback Machine captures, spoken directly over httpx (async, deadlines, the pass's client).

waybackpy was dropped: it is synchronous, passes no timeouts (a stalled connection hangs a
pass), sleeps inside `save()`, and reads `Content-Location`/`Link` from `str(headers)`, which
misses or misreads the capture. Here each call is one protocol step; the queue (`runner.py`)
decides what to do next:

- lookup: the CDX API for the newest 200 or revisit row; the availability API (its documented
  host, archive.org) when the CDX answer is empty or refused; a CDX 403 naming an exclusion in
  `X-Archive-Wayback-Runtime-Error` is an answer ("excluded"), not trouble;
- submit: SPN2 (`POST /save`, keys from WAYBACK_ACCESS_KEY / WAYBACK_SECRET_KEY) or SPN v1
  (`GET /save/<url>`) without keys, whose answer may be a capture (Content-Location, Location,
  Link), an HTML page naming a job, a "same snapshot" notice, or a runtime error header;
- status: one poll of `/save/status/<job>`; `poll` repeats it up to a deadline.

Every request has its own deadline (`[archive] request_timeout`), set per request so that no
client default caps it. Transport trouble, 429 and 5xx raise `Trouble` (temporary).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from ..config import ArchiveSettings
from ..models import Capture, CaptureState
from .answers import (
    Answer,
    Kind,
    cdx_newest,
    is_exclusion,
    runtime_error,
    spn1_html,
    spn2_status,
    spn2_submit,
    timestamp_in,
)

REAL_ARCHIVE = "https://web.archive.org"
AVAILABILITY = "https://archive.org/wayback/available"
TIMETRAVEL = "https://timetravel.mementoweb.org/api/json"
MAX_ANSWER = 20_000_000  # bytes of one answer, decoded
CACHED_AFTER = 3600.0  # an SPN v1 answer naming a capture older than this is the archive's cache


class Trouble(Exception):
    """The archive could not be asked now (timeout, connection, 429, 5xx): try again later."""


@dataclass(frozen=True)
class Lookup:
    capture: Capture | None  # the newest usable capture, state EXISTING
    excluded: str = ""  # the archive's reason when it excludes the site
    revisit: bool = False  # the newest row is a revisit record


class Pacer:
    """Spaces calls at least 60/per_minute seconds apart (a leaky bucket of one)."""

    def __init__(self, per_minute: float) -> None:
        self.gap = 60.0 / per_minute
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = time.monotonic() + self.gap


def keys_from_env() -> tuple[str, str] | None:
    access, secret = os.environ.get("WAYBACK_ACCESS_KEY", ""), os.environ.get("WAYBACK_SECRET_KEY", "")
    return (access, secret) if access and secret else None


def saves_per_minute(settings: ArchiveSettings, keys: tuple[str, str] | None) -> float:
    return settings.saves_per_minute or (10.0 if keys else 3.0)  # below the archive's ~12 and ~4


def availability_url(settings: ArchiveSettings) -> str:
    base = settings.wayback_url.rstrip("/")
    return settings.availability_url or (AVAILABILITY if base == REAL_ARCHIVE else f"{base}/wayback/available")


def memento_url(settings: ArchiveSettings) -> str:
    """"" when no aggregator is to be asked (a mirror or test double without one)."""
    base = settings.wayback_url.rstrip("/")
    return settings.memento_url or (TIMETRAVEL if base == REAL_ARCHIVE else "")


def parse_link_memento(link: str) -> str | None:
    """The newest `rel` memento URL in a Link header (RFC 8288 / Memento RFC 7089)."""
    best: tuple[str, str] | None = None
    for m in re.finditer(r"<([^>]*)>\s*((?:;\s*[^;,<]+)*)", link):
        target, params = m.group(1), m.group(2)
        rel = re.search(r'rel\s*=\s*"?([^";]+)"?', params)
        if not rel or "memento" not in rel.group(1).split():
            continue
        key = timestamp_in(target) or ""
        if best is None or key > best[0]:
            best = (key, target)
    return best[1] if best else None


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timed out"
    return str(exc) or type(exc).__name__


class Wayback:
    def __init__(self, client: httpx.AsyncClient, settings: ArchiveSettings,
                 keys: tuple[str, str] | None) -> None:
        self.client = client
        self.s = settings
        self.base = settings.wayback_url.rstrip("/")
        self.keys = keys
        self.save_pacer = Pacer(saves_per_minute(settings, keys))
        self.lookup_pacer = Pacer(settings.lookups_per_minute)

    def capture_url(self, timestamp: str, url: str) -> str:
        return f"{self.base}/web/{timestamp}/{url}"

    def _existing(self, timestamp: str, url: str, message: str = "") -> Capture:
        return Capture(CaptureState.EXISTING, self.capture_url(timestamp, url), timestamp, message)

    async def request(self, method: str, url: str, what: str, **kw: Any) -> httpx.Response:
        """One request under `request_timeout`, for the whole exchange (body included)."""
        limit = self.s.request_timeout
        try:
            async with asyncio.timeout(limit):
                request = self.client.build_request(method, url, timeout=httpx.Timeout(limit), **kw)
                streamed = await self.client.send(request, stream=True)
                try:
                    body = await _bounded(streamed, what)
                finally:
                    await streamed.aclose()
        except (httpx.HTTPError, TimeoutError) as exc:
            raise Trouble(f"Wayback {what} failed ({describe(exc)})") from exc
        # The body is decoded already: the headers that described the wire form go.
        headers = [(k, v) for k, v in streamed.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        r = httpx.Response(streamed.status_code, headers=headers, content=body, request=request)
        if r.status_code == 429 or r.status_code >= 500:
            why = runtime_error(r.headers)
            raise Trouble(f"Wayback {what} answered HTTP {r.status_code}" + (f" ({why})" if why else ""))
        return r

    # --- lookup ------------------------------------------------------------------------------

    async def lookup(self, url: str) -> Lookup:
        """The newest usable capture of `url`. Raises `Trouble` when the archive could not say."""
        await self.lookup_pacer.wait()
        r = await self.request("GET", f"{self.base}/cdx/search/cdx", "lookup", params={
            "url": url, "output": "json", "fl": "timestamp,original,statuscode,mimetype,digest",
            "filter": "!statuscode:[345]..", "limit": "-5"})
        if r.status_code == 200:
            newest = cdx_newest(_json(r, []))
            if newest is not None:
                return Lookup(self._existing(newest[0], url), revisit=newest[1])
        elif r.status_code == 403 and is_exclusion(runtime_error(r.headers)):
            return Lookup(None, excluded=runtime_error(r.headers))
        # An empty answer may only mean the index lags; a refused query may be the CDX
        # server's own trouble. The availability API answers from another index.
        await self.lookup_pacer.wait()
        r = await self.request("GET", availability_url(self.s), "availability lookup", params={"url": url})
        if r.status_code != 200:
            raise Trouble(f"Wayback availability lookup answered HTTP {r.status_code}")
        body = _json(r, {})
        snap = ((body.get("archived_snapshots") or {}) if isinstance(body, dict) else {}).get("closest") or {}
        if snap.get("available") and str(snap.get("status", "200")) == "200" and snap.get("timestamp"):
            return Lookup(self._existing(str(snap["timestamp"]), url))
        return Lookup(None)

    # --- save --------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        if self.keys is None:
            return {"Accept": "application/json"}
        return {"Authorization": f"LOW {self.keys[0]}:{self.keys[1]}", "Accept": "application/json"}

    async def submit(self, url: str) -> Answer:
        """Ask for a capture. Raises `Trouble` for temporary trouble."""
        await self.save_pacer.wait()
        if self.keys is None:
            return await self._submit_spn1(url)
        r = await self.request("POST", f"{self.base}/save", "save request", headers=self._auth(), data={
            "url": url, "if_not_archived_within": f"{int(self.s.max_age)}s", "skip_first_archive": "1"})
        if r.status_code != 200:
            return Answer(Kind.FAILED, message=f"Wayback save request answered HTTP {r.status_code}")
        return spn2_submit(_json(r, {}))

    async def _submit_spn1(self, url: str) -> Answer:
        r = await self.request("GET", f"{self.base}/save/{url}", "save")
        why = runtime_error(r.headers)
        if why and is_exclusion(why):
            return Answer(Kind.EXCLUDED, message=why)
        for value in (r.headers.get("content-location"), r.headers.get("location"),
                      parse_link_memento(r.headers.get("link", ""))):
            if ts := timestamp_in(value):
                age = capture_age(ts, datetime.now(UTC))
                if age is not None and age > CACHED_AFTER:
                    return Answer(Kind.RECENT, timestamp=ts,
                                  message=f"the archive answered with its earlier capture of {ts}")
                return Answer(Kind.DONE, timestamp=ts)
        if r.status_code < 400 and (html := spn1_html(r.text)) is not None:
            return html
        if why or r.status_code >= 400:
            return Answer(Kind.FAILED, message=f"Wayback save answered HTTP {r.status_code}" +
                          (f" ({why})" if why else ""))
        return Answer(Kind.RETRY, message=f"save answered HTTP {r.status_code} without naming a capture")

    async def status(self, job_id: str) -> Answer:
        r = await self.request("GET", f"{self.base}/save/status/{quote(job_id, safe='')}", "save status",
                               headers=self._auth())
        if r.status_code != 200:
            return Answer(Kind.RETRY, message=f"Wayback save status answered HTTP {r.status_code}")
        return spn2_status(_json(r, {}), job_id)

    async def poll(self, job_id: str, until: float) -> Answer:
        """Poll a job until it ends or the monotonic `until`; trouble in between is retried."""
        delay = 0.5
        answer = Answer(Kind.SUBMITTED, job_id=job_id)
        while time.monotonic() + delay < until:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            try:
                answer = await self.status(job_id)
            except Trouble:
                continue
            if answer.kind is not Kind.SUBMITTED:
                return answer
        return Answer(Kind.SUBMITTED, job_id=job_id, message=answer.message or "the archive is still capturing")


async def _bounded(r: httpx.Response, what: str) -> bytes:
    """The decoded body, refused past MAX_ANSWER (a replayed page can be anything)."""
    body = bytearray()
    async for chunk in r.aiter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER:
            raise Trouble(f"Wayback {what} answered more than {MAX_ANSWER // 1_000_000} MB")
    return bytes(body)


def _json(r: httpx.Response, default: Any) -> Any:
    try:
        return r.json()
    except ValueError:
        return default


def capture_age(timestamp: str | None, now: datetime) -> float | None:
    if not timestamp or len(timestamp) < 14 or not timestamp[:14].isdigit():
        return None
    t = timestamp
    try:  # by hand: strptime costs ~50 µs, which a 10,000-source pass pays every time
        when = datetime(int(t[0:4]), int(t[4:6]), int(t[6:8]), int(t[8:10]), int(t[10:12]), int(t[12:14]), tzinfo=UTC)
    except ValueError:
        return None
    return (now - when).total_seconds()
