"""One check pass: fetch → extract → verdict → match → drift → snapshot → archive → store.

`check_pass` is the pass itself; it takes its I/O (HTTP client, history) as arguments and
returns a `CheckRun`. `run_pass` adds what every caller needs around it (the lock, the client,
the history file, the reports under reports/) and is what the CLI and the daemon call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import httpx

from .adapters.twitter import read_tweet, tweet_url
from .archive.runner import archive_all, archive_job, archive_url, stored_capture
from .archive.snapshots import write_snapshot
from .archive.wayback import Wayback, keys_from_env
from .config import Config, load_config
from .drift import compare, text_hash
from .durations import now_utc, parse_stamp, stamp
from .feeds import refresh_feeds
from .fetch import Fetcher, open_client
from .lock import pass_lock
from .match import match_quotes, unverifiable
from .models import (
    Capture,
    CaptureState,
    CheckRun,
    Drift,
    DriftState,
    FetchResult,
    LinkState,
    MatchKind,
    PageText,
    QuoteMatch,
    Source,
    SourceOutcome,
)
from .passage import mark_changed
from .pdf import with_pages
from .policy import failing, message_for, quote_problems, status_of
from .readable import no_text_reason, page_text
from .reporters.files import write_run_reports
from .reporters.jsonfmt import outcome_dict
from .store import Prior, SnapshotRow, Store, Version
from .verdict import Verdict, classify

Progress = Callable[[int, int], None]
_log = logging.getLogger(__name__)  # internal errors' tracebacks: `--debug` and the daemon show them
_FAILED = (LinkState.UNREACHABLE, LinkState.DEAD, LinkState.SOFT_404)  # count towards "confirmed dead"
_UNREADABLE = (LinkState.BLOCKED, LinkState.DEAD, LinkState.UNREACHABLE)  # no page text to verify


@dataclass(frozen=True)
class _Read:
    fetch: FetchResult
    page: PageText | None
    verdict: Verdict
    quotes: tuple[QuoteMatch, ...]


async def _read(source: Source, fetcher: Fetcher, config: Config) -> _Read:
    canonical = tweet_url(source.url)
    if canonical:
        fetch, page = await read_tweet(fetcher, config.twitter, source.url, canonical)
    else:
        fetch = await fetcher.fetch(source.url)
        page = None
        if fetch.error is None:
            page = await asyncio.to_thread(page_text, fetch.body, fetch.header("content-type")) \
                if len(fetch.body) > 1_000_000 else page_text(fetch.body, fetch.header("content-type"))
    verdict = classify(fetch, page)
    if page is None and fetch.error is None and source.quotes and verdict.link not in _UNREADABLE:
        verdict = Verdict(verdict.link, (*verdict.problems, "no-text"),
                          "; ".join(m for m in (verdict.message, no_text_reason(fetch)) if m))
    if page is None or verdict.link in _UNREADABLE:
        return _Read(fetch, page, verdict, unverifiable(source.quotes))
    quotes = match_quotes(page, source.quotes, config.policy.min_quote_score)
    if page.encoding == "pdf":
        quotes = with_pages(page, quotes)
    if verdict.link is LinkState.SOFT_404 and quotes and all(
            q.match in (MatchKind.EXACT, MatchKind.NORMALIZED) for q in quotes):
        # The error-page heuristics misfired: the cited words are on the page.
        moved = fetch.final_url != fetch.url
        verdict = Verdict(LinkState.REDIRECTED if moved else LinkState.ALIVE,
                          ("redirected",) if moved else (), "")
    return _Read(fetch, page, verdict, quotes)


def _second_try(read: _Read) -> bool:
    """Worth another look at the end of the pass: what may be a passing hiccup (a blip, a rate
    limit, a bot wall). CI must not go red, nor history count a failure, for a server that was
    briefly unwell."""
    return read.verdict.link in (LinkState.UNREACHABLE, LinkState.BLOCKED) and \
        not {"redirect-loop", "too-large", "internal-error"} & set(read.verdict.problems)


def _mark_lost(quotes: tuple[QuoteMatch, ...], prior: Prior) -> tuple[QuoteMatch, ...]:
    before = {q.get("text"): q.get("match") for q in (prior.last or {}).get("quotes", [])}
    return tuple(replace(q, lost=True) if q.match is MatchKind.MISSING and before.get(q.text) in
                 ("exact", "normalized", "fuzzy") else q for q in quotes)


def _confirm(link: LinkState, prior: Prior, now: datetime, config: Config) -> tuple[int, str | None, str]:
    """Consecutive failures (this pass included), the first one's time, and the confirmation
    sentence when the source is now confirmed dead."""
    if link not in _FAILED:
        return 0, None, ""
    failures = prior.failures + 1
    first = prior.first_failed or stamp(now)
    span = (now - parse_stamp(first)).total_seconds()
    if failures >= config.policy.confirm_failures and span >= config.policy.confirm_span:
        return failures, first, (f"confirmed dead: failed on {failures} consecutive passes since {first}")
    return failures, first, ""


@dataclass(frozen=True)
class _Judged:
    """A source after verification and drift, before archiving."""

    source: Source
    read: _Read
    link: LinkState
    quotes: tuple[QuoteMatch, ...]
    drift: Drift
    snapshot: str | None
    problems: tuple[str, ...]
    failures: int
    first_failed: str | None
    confirmed: str
    text_hash: str | None


def _judge(src: Source, read: _Read, prior: Prior, config: Config, store: Store, now: datetime,
           versions: list[Version], snapshots: list[SnapshotRow]) -> _Judged:
    quotes = mark_changed(_mark_lost(read.quotes, prior), (prior.last or {}).get("quotes", []))
    link = read.verdict.link
    page = read.page if link not in _UNREADABLE else None
    digest_hash = text_hash(page.main) if page is not None else None
    if page is not None and digest_hash is not None:
        drift = compare(page.main, prior.recent, prior.previous, quotes, (prior.last or {}).get("quotes", []))
        versions.append(Version(src.id, digest_hash, page.main, stamp(now)))
    else:
        drift = Drift(DriftState.NEW if prior.last is None else DriftState.UNCHANGED)
    snapshot = None
    fetch = read.fetch
    if fetch.error is None and fetch.raw and not tweet_url(src.url):
        meta = {"source": src.id, "url": src.url, "text_hash": digest_hash,
                "encoding": page.encoding if page else None, "link": link.value,
                "quotes": [{"text": q.text, "match": q.match.value, "score": q.score} for q in quotes]}
        # Written on the loop: measured slower in a thread pool (GIL hand-offs), see BENCHMARKS.md.
        written = write_snapshot(config.root, src.id, fetch, meta, config.fetch.user_agent,
                                 lambda digest: store.snapshot_for_digest(src.id, digest))
        snapshot = written.path
        if written.new:
            snapshots.append(SnapshotRow(written.path, src.id, src.url, written.digest, digest_hash,
                                         stamp(now)))
    failures, first_failed, confirmed = _confirm(link, prior, now, config)
    problems = list(read.verdict.problems)
    if confirmed:
        if link is LinkState.UNREACHABLE:
            link = LinkState.DEAD
        problems = ["dead", *[p for p in problems if p != "dead"], "confirmed-dead"]
    problems += quote_problems(quotes)
    if drift.state is DriftState.CHANGED:
        problems.append("content-changed")
    return _Judged(src, read, link, quotes, drift, snapshot, tuple(problems), failures, first_failed,
                   confirmed, digest_hash)


def _internal_error(src: Source, exc: Exception, prior: Prior) -> _Judged:
    """A bug met while checking `src`, as that source's outcome. It is not the source's failure:
    nothing is known about the page, so its failure streak does not grow (nor is it confirmed)."""
    _log.debug("internal error while checking %s", src.id, exc_info=exc)
    detail = " ".join(str(exc).split())[:200]
    message = (f"internal error while checking this source (a bug, please report it): "
               f"{type(exc).__name__}{': ' + detail if detail else ''}")
    fetch = FetchResult(url=src.url, final_url=src.url, status_code=None, error=LinkState.UNREACHABLE,
                        problems=("internal-error",), message=message, fetched_at=stamp(now_utc()))
    quotes = unverifiable(src.quotes)
    read = _Read(fetch, None, Verdict(LinkState.UNREACHABLE, ("internal-error",), message), quotes)
    drift = Drift(DriftState.NEW if prior.last is None else DriftState.UNCHANGED)
    return _Judged(src, read, LinkState.UNREACHABLE, quotes, drift, None, ("internal-error",), 0, None, "", None)


async def _isolated(src: Source, work: Awaitable[_Judged | _Read], store: Store,
                    config: Config) -> _Judged | _Read:
    """The isolation boundary around one source's check: whatever goes wrong stays with it."""
    try:
        return await work
    except Exception as exc:  # a bug in one source's check must not end the pass
        return _internal_error(src, exc, store.prior(src.id, config.policy.drift_window))


async def _captures(config: Config, store: Store, judged: list[_Judged], client: httpx.AsyncClient,
                    archive: bool, now: datetime) -> dict[str, Capture]:
    """Each source's capture. The archive queue keeps its own rows in history; when nothing was
    asked of the archive, the stored rows are reported as they are and left alone (a pending
    save stays pending)."""
    def as_stored(why: str) -> dict[str, Capture]:
        return {archive_url(j.source.url): stored_capture(store, archive_url(j.source.url), why) for j in judged}

    if not (archive and config.archive.wayback):
        return as_stored("archiving is off (--no-archive)" if config.archive.wayback else
                         "archiving is off (archive.wayback = false)")
    wayback = Wayback(client, config.archive, keys_from_env())
    jobs = [archive_job(archive_url(j.source.url), j.link, j.drift.state, j.source.quotes, j.quotes) for j in judged]
    try:
        return await archive_all(jobs, wayback, store, config.archive, now, config.policy.min_quote_score)
    except Exception as exc:  # archiving never changes a verdict; a bug in it must not lose the pass
        _log.debug("internal error while archiving", exc_info=exc)
        return as_stored(f"archiving hit an internal error (a bug, please report it): {type(exc).__name__}")


async def _assess_all(sources: Sequence[Source], config: Config, client: httpx.AsyncClient, store: Store,
                      progress: Progress | None, versions: list[Version],
                      snapshots: list[SnapshotRow]) -> list[_Judged]:
    """Read and judge every source; each is judged as soon as it is read, while others are in
    flight, except those that get a second try at the end."""
    fetcher = Fetcher(client, config.fetch)
    done = 0

    def judge(src: Source, read: _Read) -> _Judged:
        prior = store.prior(src.id, config.policy.drift_window)
        return _judge(src, read, prior, config, store, now_utc(), versions, snapshots)

    async def one(src: Source) -> _Judged | _Read:
        nonlocal done
        try:
            read = await _read(src, fetcher, config)
        finally:
            done += 1
            if progress:
                progress(done, len(sources))
        return read if _second_try(read) and config.fetch.recheck_pause >= 0 else judge(src, read)

    async def again(src: Source) -> _Judged:
        return judge(src, await _read(src, fetcher, config))

    results = list(await asyncio.gather(*(_isolated(s, one(s), store, config) for s in sources)))
    retry = [i for i, r in enumerate(results) if isinstance(r, _Read)]
    if retry:
        await asyncio.sleep(config.fetch.recheck_pause)
        redone = await asyncio.gather(*(_isolated(sources[i], again(sources[i]), store, config) for i in retry))
        for i, r in zip(retry, redone, strict=True):
            results[i] = r
    return [r for r in results if isinstance(r, _Judged)]


async def check_pass(config: Config, sources: Sequence[Source], client: httpx.AsyncClient,
                     store: Store, *, archive: bool = True, progress: Progress | None = None,
                     partial: bool = False) -> CheckRun:
    """Check `sources` once and record the pass in `store` (`partial`: only some of the config's
    sources, so not the last pass for `status` and the daemon). Never raises for a bad page."""
    started = now_utc()
    versions: list[Version] = []
    snapshots: list[SnapshotRow] = []
    judged = await _assess_all(sources, config, client, store, progress, versions, snapshots)
    captures = await _captures(config, store, judged, client, archive, now_utc())
    fail_on = failing(config.policy.fail_on)
    outcomes = []
    for j in judged:
        capture = captures[archive_url(j.source.url)]
        problems = [*j.problems, *(["archive-failed"] if capture.state is CaptureState.FAILED else [])]
        outcomes.append(SourceOutcome(
            source=j.source, final_url=j.read.fetch.final_url, http_status=j.read.fetch.status_code,
            status=status_of(j.problems, j.link, fail_on), link=j.link, quotes=j.quotes, drift=j.drift,
            capture=capture, snapshot=j.snapshot, problems=tuple(dict.fromkeys(problems)),
            message=message_for(j.read.verdict.message, j.link, j.quotes, j.drift, j.confirmed),
            text_hash=j.text_hash, failures=j.failures, first_failed=j.first_failed,
            encoding=j.read.page.encoding if j.read.page else "",
            author=j.read.page.author if j.read.page else "",
            published=j.read.page.published if j.read.page else ""))
    run = CheckRun(started=stamp(started), finished=stamp(now_utc()), outcomes=tuple(outcomes))
    store.save_run(run, [outcome_dict(o) for o in run.outcomes], versions, snapshots,
                   [], partial=partial)  # the archive queue writes its own rows (archive/queue.py)
    return run


async def run_pass(config: Config, *, archive: bool = True, only: Sequence[str] = (),
                   progress: Progress | None = None, lock_wait: float = 10.0) -> CheckRun:
    """A whole pass as the CLI and the daemon run it: lock, history, client, reports."""
    with pass_lock(config.root, lock_wait):
        if config.articles.feeds:  # the feeds' new or changed articles, then their citations
            async with open_client(config.fetch) as client:
                await refresh_feeds(config, client)
            config = load_config(config.path)
        sources = [s for s in config.sources if not only or s.id in only]
        store = Store.open(config.db_path)
        try:
            async with open_client(config.fetch, config.archive.request_timeout) as client:
                run = await check_pass(config, sources, client, store, archive=archive, progress=progress,
                                       partial=len(sources) < len(config.sources))
        finally:
            store.close()
        write_run_reports(config.root / "reports", run)
    return run
