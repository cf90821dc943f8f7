"""The CPU side of one source: a fetched page → verdict, quote matches and text hash. Pure.

Everything here is a function of its arguments (bytes and a little prior state) and returns a
small, picklable `Analysis`, so it can run in a worker process (`CpuPool`) while the event
loop only does I/O. The page tree and its texts never leave the function; the main text is
sent back only when it is a new version (history stores it and drift compares it).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .drift import text_hash
from .match import match_quotes, unverifiable
from .models import FetchResult, LinkState, MatchKind, PageText, Quote, QuoteMatch
from .pdf import with_pages
from .readable import no_text_reason, page_text
from .verdict import Verdict, classify

UNREADABLE = (LinkState.BLOCKED, LinkState.DEAD, LinkState.UNREACHABLE)  # no page text to verify
T = TypeVar("T")
_IN_THREAD = 1_000_000  # in-process, bodies this large are parsed off the loop


@dataclass(frozen=True)
class Analysis:
    verdict: Verdict
    quotes: tuple[QuoteMatch, ...]
    text_hash: str | None  # of the main text; None when the page could not be read
    new_main: str | None  # the main text, only when `text_hash` is not among the prior hashes
    encoding: str = ""
    author: str = ""
    published: str = ""
    not_modified: bool = False  # the server answered 304: the last pass's findings, reused


def analyse(fetch: FetchResult, page: PageText | None, quotes: Sequence[Quote], min_score: float,
            recent: Sequence[str]) -> Analysis:
    """Judge a fetched page. `page` is given for adapters that read the text themselves (tweets);
    otherwise it is extracted from `fetch.body`. `recent` are the source's last text hashes."""
    if page is None and fetch.error is None:
        page = page_text(fetch.body, fetch.header("content-type"))
    verdict = classify(fetch, page)
    if page is None and fetch.error is None and quotes and verdict.link not in UNREADABLE:
        verdict = Verdict(verdict.link, (*verdict.problems, "no-text"),
                          "; ".join(m for m in (verdict.message, no_text_reason(fetch)) if m))
    if page is None or verdict.link in UNREADABLE:
        return Analysis(verdict, unverifiable(quotes), None, None)
    found = match_quotes(page, quotes, min_score)
    if page.encoding == "pdf":
        found = with_pages(page, found)
    if verdict.link is LinkState.SOFT_404 and found and all(
            q.match in (MatchKind.EXACT, MatchKind.NORMALIZED) for q in found):
        # The error-page heuristics misfired: the cited words are on the page.
        moved = fetch.final_url != fetch.url
        verdict = Verdict(LinkState.REDIRECTED if moved else LinkState.ALIVE,
                          ("redirected",) if moved else (), "")
    digest = text_hash(page.main)
    return Analysis(verdict, found, digest, None if digest in recent else page.main,
                    page.encoding, page.author, page.published)


class CpuPool:
    """Runs `analyse` (and snapshot writing) in worker processes (`workers` > 1) or on this process
    (0 or 1, as tests do).

    Only the decoded body crosses to a worker (the wire bytes stay here for the WARC), and only
    an `Analysis` comes back."""

    def __init__(self, workers: int) -> None:
        # forkserver: workers are forked from a clean process, never from this one while its other
        # threads (a daemon's, a test server's) may hold a lock.
        self._pool = None
        if workers > 1:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])  # parsers imported once, their pages shared
            self._pool = ProcessPoolExecutor(workers, mp_context=context)

    async def analyse(self, fetch: FetchResult, page: PageText | None, quotes: Sequence[Quote],
                      min_score: float, recent: Sequence[str]) -> Analysis:
        if self._pool is not None and page is None and fetch.error is None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, analyse, replace(fetch, raw=b""), None,
                                              tuple(quotes), min_score, tuple(recent))
        if len(fetch.body) > _IN_THREAD:
            return await asyncio.to_thread(analyse, fetch, page, quotes, min_score, recent)
        return analyse(fetch, page, quotes, min_score, recent)

    async def run(self, fn: Callable[..., T], *args: Any, waits: bool = False) -> T:
        """`fn(*args)` in a worker process, or here without a pool (in a thread when it `waits` on
        the network, e.g. a snapshot written to a bucket, so the loop goes on fetching)."""
        if self._pool is None:
            return await asyncio.to_thread(fn, *args) if waits else fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
