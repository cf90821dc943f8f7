"""Wayback Machine captures, spoken directly over httpx (async, deadlines, the pass's client).

waybackpy was dropped: it is synchronous, passes no timeouts (a stalled connection hangs a
pass), sleeps inside `save()`, and reads `Content-Location`/`Link` from `str(headers)`, which
misses or misreads the capture. Here:

- lookup: the CDX API for the newest 200 capture; the availability API only as a fallback;
- save: SPN2 (`POST /save`, keys from WAYBACK_ACCESS_KEY / WAYBACK_SECRET_KEY, job polled
  until success, error or deadline; errors that arrive as HTTP 200 are errors), or SPN v1
  (`GET /save/<url>`, capture read from Content-Location, Location or the Link memento) without keys;
- client-side pacing below the published limits; 429/5xx/timeouts leave the capture `pending`
  for a later pass. Nothing here raises for Wayback trouble: every outcome is a `Capture`.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from ..config import ArchiveSettings
from ..models import Capture, CaptureState

_TS_RE = re.compile(r"/web/(\d{14})")


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


def parse_link_memento(link: str) -> str | None:
    """The newest `rel` memento URL in a Link header (RFC 8288 / Memento RFC 7089)."""
    best: tuple[str, str] | None = None
    for m in re.finditer(r"<([^>]*)>\s*((?:;\s*[^;,<]+)*)", link):
        target, params = m.group(1), m.group(2)
        rel = re.search(r'rel\s*=\s*"?([^";]+)"?', params)
        if not rel or "memento" not in rel.group(1).split():
            continue
        ts = _TS_RE.search(target)
        key = ts.group(1) if ts else ""
        if best is None or key > best[0]:
            best = (key, target)
    return best[1] if best else None


class Wayback:
    def __init__(self, client: httpx.AsyncClient, settings: ArchiveSettings,
                 keys: tuple[str, str] | None) -> None:
        self.client = client
        self.s = settings
        self.base = settings.wayback_url.rstrip("/")
        self.keys = keys
        saves = settings.saves_per_minute or (10.0 if keys else 3.0)  # below the archive's ~12 and ~4
        self._save_pacer = Pacer(saves)
        self._lookup_pacer = Pacer(settings.lookups_per_minute)

    def capture_url(self, timestamp: str, url: str) -> str:
        return f"{self.base}/web/{timestamp}/{url}"

    async def _get(self, url: str, **kw: Any) -> httpx.Response:
        async with asyncio.timeout(self.s.request_timeout):
            return await self.client.get(url, **kw)

    # --- lookup ------------------------------------------------------------------------------

    async def lookup(self, url: str) -> Capture | None:
        """The newest good capture of `url`, or None. Raises httpx/timeout errors to the caller."""
        await self._lookup_pacer.wait()
        r = await self._get(f"{self.base}/cdx/search/cdx", params={
            "url": url, "output": "json", "fl": "timestamp,original,statuscode,digest",
            "filter": "statuscode:200", "limit": "-1"})
        if r.status_code == 200:
            try:
                rows = r.json()
            except ValueError:
                rows = []
            data = [row for row in rows[1:] if isinstance(row, list) and row] if isinstance(rows, list) else []
            if data:
                ts = max(str(row[0]) for row in data)
                return Capture(CaptureState.EXISTING, self.capture_url(ts, url), ts)
            return None
        if r.status_code in (429,) or r.status_code >= 500:
            r.raise_for_status()
        # CDX refused the query in some other way: ask the availability API instead.
        await self._lookup_pacer.wait()
        r = await self._get(f"{self.base}/wayback/available", params={"url": url})
        r.raise_for_status()
        snap = (r.json().get("archived_snapshots") or {}).get("closest") or {}
        if snap.get("available") and str(snap.get("status", "200")) == "200" and snap.get("timestamp"):
            ts = str(snap["timestamp"])
            return Capture(CaptureState.EXISTING, self.capture_url(ts, url), ts)
        return None

    # --- save --------------------------------------------------------------------------------

    async def save(self, url: str) -> Capture:
        await self._save_pacer.wait()
        return await (self._save_spn2(url) if self.keys else self._save_spn1(url))

    async def _save_spn2(self, url: str) -> Capture:
        assert self.keys is not None
        auth = {"Authorization": f"LOW {self.keys[0]}:{self.keys[1]}", "Accept": "application/json"}
        within = f"{int(self.s.max_age)}s"
        async with asyncio.timeout(self.s.request_timeout):
            r = await self.client.post(f"{self.base}/save", headers=auth, data={
                "url": url, "if_not_archived_within": within, "skip_first_archive": "1"})
        if r.status_code != 200:
            return _http_trouble(r, "save request")
        body = _json(r)
        if body.get("status") == "error" or "job_id" not in body:
            return _spn_error(body)
        job = str(body["job_id"])
        delay = 0.5
        async with asyncio.timeout(self.s.request_timeout):
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 8.0)
                s = await self.client.get(f"{self.base}/save/status/{quote(job, safe='')}", headers=auth)
                if s.status_code != 200:
                    if s.status_code == 429 or s.status_code >= 500:
                        continue
                    return _http_trouble(s, "save status")
                status = _json(s)
                if status.get("status") == "success" and status.get("timestamp"):
                    ts = str(status["timestamp"])
                    return Capture(CaptureState.SAVED, self.capture_url(ts, url), ts)
                if status.get("status") == "error":
                    return _spn_error(status)

    async def _save_spn1(self, url: str) -> Capture:
        r = await self._get(f"{self.base}/save/{url}")
        if r.status_code >= 400:
            return _http_trouble(r, "save")
        for value in (r.headers.get("content-location"), r.headers.get("location"),
                      parse_link_memento(r.headers.get("link", ""))):
            if value and (ts := _TS_RE.search(value)):
                return Capture(CaptureState.SAVED, self.capture_url(ts.group(1), url), ts.group(1))
        return Capture(CaptureState.PENDING, None, None,
                       f"save answered HTTP {r.status_code} without naming a capture; will look again")


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        data = r.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _http_trouble(r: httpx.Response, what: str) -> Capture:
    if r.status_code == 429 or r.status_code >= 500:
        return Capture(CaptureState.PENDING, None, None,
                       f"Wayback {what} answered HTTP {r.status_code}; will retry on a later pass")
    return Capture(CaptureState.FAILED, None, None, f"Wayback {what} answered HTTP {r.status_code}")


def _spn_error(body: dict[str, Any]) -> Capture:
    ext = str(body.get("status_ext") or "error:unknown")
    message = str(body.get("message") or "").strip()
    # Limits and the archive's own trouble are worth another try; a page it cannot save is not.
    transient = ext in ("error:too-many-daily-captures", "error:user-session-limit",
                        "error:service-unavailable", "error:celery", "error:internal-server-error",
                        "error:job-failed", "error:proxy-error", "error:browsing-timeout")
    state = CaptureState.PENDING if transient else CaptureState.FAILED
    return Capture(state, None, None, f"Wayback could not save: {ext}" + (f" ({message})" if message else ""))


def capture_age(capture: Capture, now: datetime) -> float | None:
    if not capture.timestamp:
        return None
    try:
        when = datetime.strptime(capture.timestamp[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return (now - when).total_seconds()

