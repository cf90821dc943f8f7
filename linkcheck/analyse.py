"""The CPU side of one source: a fetched page → verdict, quote matches and text hash, and the
page's WARC snapshot when one is to be written.

`analyse` is a function of its arguments (bytes and a little prior state) and returns a small,
picklable `Analysis`, so it can run in a worker process (`cpupool.CpuPool`) while the event loop
only does I/O; `judge` adds the snapshot, so that a page goes to a worker process once. The page
tree and its texts never leave the worker; the main text comes back (compressed, as history
stores it) only when it is a new version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
