"""The CPU side of one source: a fetched page → verdict, quote matches and text hash, and the
page's WARC snapshot when one is to be written.

`analyse` is a function of its arguments (bytes and a little prior state) and returns a small,
picklable `Analysis`, so it can run in a worker process (`CpuPool`) while the event loop only does
I/O; `judge` adds the snapshot, so that a page goes to a worker process once. The page tree and
its texts never leave the worker; the main text comes back (compressed, as history stores it)
only when it is a new version.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from .archive.snapshots import Written, write_snapshot
from .drift import text_hash
from .match import match_quotes, unverifiable
from .models import FetchResult, LinkState, MatchKind, PageText, Quote, QuoteMatch
from .pdf import with_pages
from .readable import no_text_reason, page_text
from .storage import Storage
from .store import packed
from .verdict import Verdict, classify

UNREADABLE = (LinkState.BLOCKED, LinkState.DEAD, LinkState.UNREACHABLE)  # no page text to verify
_IN_THREAD = 1_000_000  # in-process, bodies this large are parsed off the loop


@dataclass(frozen=True)
class Analysis:
    verdict: Verdict
    quotes: tuple[QuoteMatch, ...]
    text_hash: str | None  # of the main text; None when the page could not be read
    new_text: bytes | None  # the main text (`store.packed`), only when `text_hash` is not among the prior hashes
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
    return Analysis(verdict, found, digest, None if digest in recent else packed(page.main),
                    page.encoding, page.author, page.published)


@dataclass(frozen=True)
class SnapshotTask:
    """Writing a page's WARC: what `write_snapshot` needs besides the fetch and the findings."""

    source_id: str
    digest: str  # of the payload (`payload_digest`), as the loop looked it up
    user_agent: str
    storage: Storage
    last_try: bool = True  # False: none for a page `second_try` sends back to the end of the pass


def second_try(verdict: Verdict) -> bool:
    """Worth another look at the end of the pass: what may be a passing hiccup (a blip, a rate
    limit, a bot wall). CI must not go red, nor history count a failure, for a server that was
    briefly unwell."""
    return verdict.link in (LinkState.UNREACHABLE, LinkState.BLOCKED) and \
        not {"redirect-loop", "too-large", "internal-error"} & set(verdict.problems)


def judge(fetch: FetchResult, page: PageText | None, quotes: Sequence[Quote], min_score: float,
          recent: Sequence[str], snapshot: SnapshotTask | None) -> tuple[Analysis, Written | None]:
    """`analyse`, then the page's WARC written when `snapshot` says so (its metadata record holds
    the findings)."""
    analysis = analyse(fetch, page, quotes, min_score, recent)
    if snapshot is None or (not snapshot.last_try and second_try(analysis.verdict)):
        return analysis, None
    meta = {"source": snapshot.source_id, "url": fetch.url, "text_hash": analysis.text_hash,
            "encoding": analysis.encoding or None, "link": analysis.verdict.link.value,
            "quotes": [{"text": q.text, "match": q.match.value, "score": q.score} for q in analysis.quotes]}
    return analysis, write_snapshot(snapshot.source_id, fetch, snapshot.digest, meta, snapshot.user_agent,
                                    snapshot.storage)


class CpuPool:
    """Runs `judge` in worker processes (`workers` > 1) or on this process (0 or 1, as tests do).

    The page crosses to a worker once (the wire bytes too only when a WARC is to be written), and
    only an `Analysis` and where the WARC went come back."""

    def __init__(self, workers: int) -> None:
        # forkserver: workers are forked from a clean process, never from this one while its other
        # threads (a daemon's, a test server's) may hold a lock.
        self._pool = None
        if workers > 1:
            context = multiprocessing.get_context("forkserver")
            # parsers imported once, their pages shared
            context.set_forkserver_preload([__name__, "pypdfium2"])
            self._pool = ProcessPoolExecutor(workers, mp_context=context)

    async def judge(self, fetch: FetchResult, page: PageText | None, quotes: Sequence[Quote], min_score: float,
                    recent: Sequence[str], snapshot: SnapshotTask | None) -> tuple[Analysis, Written | None]:
        """`judge` in a worker process when there is a pool and a body to read, else here (off the
        loop for a large body)."""
        if snapshot is None:
            fetch = replace(fetch, raw=b"")  # only the decoded body is read (and, unencoded, it is the raw one)
        args = (fetch, page, tuple(quotes), min_score, tuple(recent), snapshot)
        if self._pool is not None and page is None and fetch.error is None:
            return await asyncio.get_running_loop().run_in_executor(self._pool, judge, *args)
        if len(fetch.body) > _IN_THREAD or (snapshot and not snapshot.storage.local):  # parsing, or a bucket
            return await asyncio.to_thread(judge, *args)
        return judge(*args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
