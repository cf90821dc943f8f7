"""Replaying a capture to see that it really holds what the article quotes.

A capture is *verified* when its raw replay (`/web/<timestamp>id_/<url>`, the archived bytes
without the archive's toolbar or rewriting) answers 200 for that very capture, not a redirect
to another timestamp (a fresh capture often redirects to an older one until it is indexed),
and holds every quote that was found on the live page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from ..extract import extract
from ..match import match_quotes
from ..models import MatchKind, Quote
from .answers import timestamp_in
from .wayback import Trouble, Wayback

HELD = (MatchKind.EXACT, MatchKind.NORMALIZED, MatchKind.FUZZY)
NOT_VERIFIED = "not verified: "  # starts every replay note, so a later verdict replaces it


@dataclass(frozen=True)
class Replay:
    verified: bool
    holds: frozenset[str]  # the quotes (texts) the capture holds
    message: str = ""


async def replay(wayback: Wayback, timestamp: str, url: str, quotes: Sequence[Quote], found_live: frozenset[str],
                 min_score: float) -> Replay:
    """Raises `Trouble` when the archive could not replay now (try again later)."""
    await wayback.lookup_pacer.wait()
    target = f"{wayback.base}/web/{timestamp}id_/{url}"
    r = await wayback.request("GET", target, "replay")
    if r.status_code in (301, 302, 303, 307, 308):
        went = timestamp_in(r.headers.get("location"))
        if went != timestamp:
            return Replay(False, frozenset(), f"{NOT_VERIFIED}the replay of {timestamp} redirects to "
                          f"{'the capture of ' + went if went else 'another page'}")
        # The same capture under another spelling of the URL (http/https, a trailing slash).
        r = await wayback.request("GET", urljoin(target, r.headers["location"]), "replay")
    if r.status_code != 200:
        return Replay(False, frozenset(), f"{NOT_VERIFIED}the replay of {timestamp} answered HTTP {r.status_code}")
    page = await asyncio.to_thread(extract, r.content, r.headers.get("content-type", ""))
    matches = match_quotes(page, quotes, min_score)
    holds = frozenset(m.text for m in matches if m.match in HELD)
    lacking = sorted(found_live - holds)
    if lacking:
        return Replay(False, holds, f"{NOT_VERIFIED}the capture of {timestamp} lacks {len(lacking)} of the quotes "
                      "found live")
    return Replay(True, holds)


async def memento_elsewhere(wayback: Wayback, endpoint: str, url: str, now_ts: str) -> tuple[str, str] | None:
    """The newest capture in any web archive a Memento aggregator (TimeTravel JSON API,
    `<endpoint>/<datetime>/<url>`) knows of: (URI-M, datetime), or None (404 means none)."""
    try:
        r = await wayback.request("GET", f"{endpoint.rstrip('/')}/{now_ts}/{url}", "Memento lookup")
        body = r.json() if r.status_code == 200 else {}
    except (Trouble, ValueError):
        return None
    mementos = body.get("mementos") if isinstance(body, dict) else None
    if not isinstance(mementos, dict):
        return None
    for key in ("last", "closest"):
        best = mementos.get(key)
        if isinstance(best, dict):
            uris = best.get("uri")
            uri = uris[0] if isinstance(uris, list) and uris else uris
            if isinstance(uri, str) and uri:
                return uri, str(best.get("datetime") or "")
    return None
