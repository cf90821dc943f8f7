"""One check pass: fetch → extract → verdict → match → drift → snapshot → archive → store.

`check_pass` is the pass itself; it takes its I/O (HTTP client, history) as arguments and
returns a `CheckRun`. `run_pass` adds what every caller needs around it (the lock, the client,
the history file, the reports under reports/) and is what the CLI and the daemon call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from . import __version__
from .adapters.twitter import read_tweet, tweet_url
from .analyse import Analysis, SnapshotTask, second_try
from .archive.runner import Job, archive_job, archive_url, stored_capture
from .archive.session import ArchiveSession
from .archive.snapshots import Written, payload_digest, stored_snapshot
from .config import Config, load_config
from .cpupool import CpuPool
from .drift import compare
from .durations import now_utc, parse_stamp, stamp
from .errors import HistoryUnavailable
from .feeds import refresh_feeds
from .fetch import Fetcher, PassClient, open_client
from .lock import pass_lock
from .match import unverifiable
from .models import (
    Capture,
    CaptureState,
    CheckRun,
    Drift,
    DriftState,
    FetchResult,
    LinkState,
    MatchKind,
    QuoteMatch,
    Source,
    SourceOutcome,
    Tally,
)
from .outcomes import pass_outcomes, stored_outcomes
from .passage import mark_changed
from .policy import failing, message_for, quote_problems, status_of
from .reporters.files import prune_reports, write_run_reports
from .results import outcome_dict, quote_from_dict
from .store import Prior, Record, RunEnd, SnapshotRow, Store, Validator, Version, unpacked
from .verdict import Verdict

Progress = Callable[[int, int], None]
_log = logging.getLogger(__name__)  # internal errors' tracebacks: `--debug` and the daemon show them
_FAILED = (LinkState.UNREACHABLE, LinkState.DEAD, LinkState.SOFT_404)  # count towards "confirmed dead"
BATCH = 200  # results per history transaction at most
BATCH_TEXT = 1_000_000  # and at most this many bytes of new (compressed) text versions


@dataclass(frozen=True)
class Deps:
    """What checking one source needs besides the source and its prior state."""

    config: Config
    fetcher: Fetcher
    cpu: CpuPool
    store: Store  # read only: stored snapshots and text versions


@dataclass(frozen=True)
class Assessed:
    """A source after verification and drift, before archiving. Holds no page body or text
    except a new text version, which history stores."""

    source: Source
    final_url: str
    http_status: int | None
    verdict: Verdict
    link: LinkState
    quotes: tuple[QuoteMatch, ...]
    drift: Drift
    snapshot: str | None
    problems: tuple[str, ...]
    failures: int
    first_failed: str | None
    confirmed: str
    analysis: Analysis
    checked: str
    previous: tuple[int, str] | None  # the prior result's stored detail
    version: Version | None
    snapshot_row: SnapshotRow | None
    validator: Validator | None

    @property
    def job(self) -> Job:
        return archive_job(self)


def _quotes_key(source: Source, config: Config) -> str:
    """What the last findings depend on besides the page: a 304 reuses them only if this is equal.
    The version is in it so that an upgraded matcher reads every page once more."""
    what = [__version__, config.policy.min_quote_score,
            *((q.text, q.prefix, q.suffix, q.locator, q.kind.value) for q in source.quotes)]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:16]


def _conditional(source: Source, prior: Prior, key: str) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the last fetch, when its findings can be reused: the
    page was alive at this very URL and read for these quotes (found or not: the same page and the
    same quotes give the same findings). Not when it had no text (`no-text`): `_reused` keeps the
    quotes, not the verdict's problems, and such a page costs nothing to read again."""
    val, last = prior.validator, prior.last
    if val is None or last is None or val.url != source.url or val.quotes != key or last["link"] != "alive" \
            or "no-text" in last.get("problems", ()):
        return {}
    return {k: v for k, v in (("If-None-Match", val.etag), ("If-Modified-Since", val.last_modified)) if v}


def _reused(last: dict[str, Any]) -> Analysis:
    """The last findings for an unchanged page, less what was news then: its passages have not
    changed since (no `quote-changed`), and a quote lost then is now missing (`_mark_lost`)."""
    quotes = tuple(replace(quote_from_dict(q), lost=False, previous_text=None, passage_changes=())
                   for q in last["quotes"])
    return Analysis(Verdict(LinkState.ALIVE, (), ""), quotes, last["text_hash"], None, last.get("encoding") or "",
                    last.get("author", ""), last.get("published", ""), not_modified=True)


async def _read(source: Source, deps: Deps, prior: Prior, key: str,
                last_try: bool) -> tuple[FetchResult, Analysis, Written | None]:
    """The page fetched and judged, and its WARC (the stored one of the same payload, else one
    written by the worker process that judges the page: one trip there with the page; none for a
    page to be tried again)."""
    config = deps.config
    canonical = tweet_url(source.url)
    if canonical:
        fetch, page = await read_tweet(deps.fetcher, config.twitter, source.url, canonical)
    else:
        ask = _conditional(source, prior, key)
        fetch, page = await deps.fetcher.fetch(source.url, conditional=ask), None
        if ask and fetch.status_code == 304 and prior.last is not None:
            return fetch, _reused(prior.last), None
    stored = task = None
    if fetch.error is None and fetch.raw and not canonical:
        storage, digest = config.snapshot_storage, payload_digest(fetch.raw)
        stored = await stored_snapshot(storage, digest, lambda d: deps.store.snapshot_for_digest(source.id, d))
        task = None if stored else SnapshotTask(source.id, digest, config.fetch.user_agent, storage, last_try)
    analysis, written = await deps.cpu.judge(fetch, page, source.quotes, config.policy.min_quote_score, prior.recent,
                                             task)
    return fetch, analysis, stored or written


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


async def assess(source: Source, prior: Prior, deps: Deps, *, last_try: bool = True) -> Assessed | None:
    """Fetch and judge one source: the one place a source's own work runs. None (only when not
    `last_try`) when the source is worth another look later in the pass."""
    key = _quotes_key(source, deps.config)
    fetch, analysis, written = await _read(source, deps, prior, key, last_try)
    if not last_try and second_try(analysis.verdict):
        return None
    return _judge(source, fetch, analysis, prior, deps, written, now_utc(), key)


async def _isolated(src: Source, prior: Prior, deps: Deps, last_try: bool) -> Assessed | None:
    """The isolation boundary around one source's check: whatever goes wrong stays with it."""
    try:
        return await assess(src, prior, deps, last_try=last_try)
    except HistoryUnavailable:  # not this source's doing: a worker's job is run again
        raise
    except Exception as exc:  # a bug in one source's check must not end the pass
        return _internal_error(src, exc, prior)


def _internal_error(src: Source, exc: Exception, prior: Prior) -> Assessed:
    """A bug met while checking `src`, as that source's outcome. It is not the source's failure:
    nothing is known about the page, so its failure streak does not grow (nor is it confirmed)."""
    _log.debug("internal error while checking %s", src.id, exc_info=exc)
    detail = " ".join(str(exc).split())[:200]
    message = (f"internal error while checking this source (a bug, please report it): "
               f"{type(exc).__name__}{': ' + detail if detail else ''}")
    verdict = Verdict(LinkState.UNREACHABLE, ("internal-error",), message)
    quotes = unverifiable(src.quotes)
    drift = Drift(DriftState.NEW if prior.last is None else DriftState.UNCHANGED)
    return Assessed(src, src.url, None, verdict, LinkState.UNREACHABLE, quotes, drift, None, ("internal-error",),
                    0, None, "", Analysis(verdict, quotes, None, None), stamp(now_utc()), prior.detail, None, None,
                    None)


def _judge(src: Source, fetch: FetchResult, analysis: Analysis, prior: Prior, deps: Deps,
           written: Written | None, now: datetime, key: str) -> Assessed:
    config = deps.config
    quotes = mark_changed(_mark_lost(analysis.quotes, prior), (prior.last or {}).get("quotes", []))
    link = analysis.verdict.link
    digest_hash = analysis.text_hash
    version = None
    if digest_hash is None:
        drift = Drift(DriftState.NEW if prior.last is None else DriftState.UNCHANGED)
    elif analysis.new_text is None:  # the same text as one of the last versions: nothing to compare
        drift = Drift(DriftState.UNCHANGED, 1.0)
        version = Version(src.id, digest_hash, None, stamp(now))
    else:
        previous = deps.store.text(src.id, prior.recent[0]) if prior.recent else None
        main = unpacked(analysis.new_text) if previous is not None else ""  # compared only with a previous one
        drift = compare(main, prior.recent, previous, quotes, (prior.last or {}).get("quotes", []))
        version = Version(src.id, digest_hash, analysis.new_text, stamp(now))
    snapshot = written.path if written else None
    row = SnapshotRow(written.path, src.id, src.url, written.digest, digest_hash, stamp(now)) \
        if written and written.new else None
    if analysis.not_modified and prior.last is not None:
        snapshot = prior.last["archive"]["snapshot"]
    failures, first_failed, confirmed = _confirm(link, prior, now, config)
    problems = list(analysis.verdict.problems)
    if confirmed:
        if link is LinkState.UNREACHABLE:
            link = LinkState.DEAD
        problems = ["dead", *[p for p in problems if p != "dead"], "confirmed-dead"]
    problems += quote_problems(quotes)
    if drift.state is DriftState.CHANGED:
        problems.append("content-changed")
    validator = None
    if link is LinkState.ALIVE and not analysis.not_modified and not fetch.hops and \
            (fetch.header("etag") or fetch.header("last-modified")):
        validator = Validator(src.url, fetch.header("etag") or None, fetch.header("last-modified") or None, key)
    elif prior.validator is not None and not analysis.not_modified:  # of an older page than this one's: forget it
        validator = Validator(src.url, None, None, key)
    return Assessed(src, fetch.final_url, fetch.status_code, analysis.verdict, link, quotes, drift, snapshot,
                    tuple(problems), failures, first_failed, confirmed, replace(analysis, new_text=None),
                    stamp(now), prior.detail, version, row, validator)


def finish(a: Assessed, capture: Capture, fail_on: frozenset[str]) -> SourceOutcome:
    """The source's outcome once its archive job has a capture."""
    problems = [*a.problems, *(["archive-failed"] if capture.state is CaptureState.FAILED else [])]
    return SourceOutcome(
        source=a.source, final_url=a.final_url, http_status=a.http_status,
        status=status_of(a.problems, a.link, fail_on), link=a.link, quotes=a.quotes, drift=a.drift,
        capture=capture, snapshot=a.snapshot, problems=tuple(dict.fromkeys(problems)),
        message=message_for(a.verdict.message, a.link, a.quotes, a.drift, a.confirmed),
        text_hash=a.analysis.text_hash, failures=a.failures,
        first_failed=a.first_failed, encoding=a.analysis.encoding, author=a.analysis.author,
        published=a.analysis.published, not_modified=a.analysis.not_modified)


async def check_one(source: Source, prior: Prior, deps: Deps,
                    archive: Callable[[Job], Awaitable[Capture]]) -> tuple[SourceOutcome, Record]:
    """One source from fetch to outcome, every input passed in: what a worker of any kind runs.
    Returns the outcome and the history record to store (nothing is written here)."""
    assessed = await assess(source, prior, deps)
    assert assessed is not None  # a last try always judges
    return _recorded(assessed, await archive(assessed.job), failing(deps.config.policy.fail_on))


def _recorded(a: Assessed, capture: Capture, fail_on: frozenset[str]) -> tuple[SourceOutcome, Record]:
    outcome = finish(a, capture, fail_on)
    return outcome, Record(outcome_dict(outcome), a.checked, a.previous, a.version, a.snapshot_row, a.validator)


class _Pass:
    """A streaming pass: a bounded pool of workers pulls sources, each outcome goes to history in
    batches as soon as it is judged; only counters stay (the reports read the outcomes back)."""

    def __init__(self, config: Config, sources: Sequence[Source], deps: Deps, store: Store, run_id: int,
                 archive: ArchiveSession | None, archive_off: str, progress: Progress | None) -> None:
        self.config, self.sources, self.deps, self.store, self.run_id = config, sources, deps, store, run_id
        self.archive, self.archive_off, self.progress = archive, archive_off, progress
        self.fail_on = failing(config.policy.fail_on)
        self.tally = Tally()
        self.batch: list[Record] = []
        self.batch_text = 0
        self.later: list[int] = []
        self.read = 0

    async def run(self) -> None:
        recheck = self.config.fetch.recheck_pause >= 0
        await self._pool(iter(range(len(self.sources))), last_try=not recheck)
        if self.later:
            await asyncio.sleep(self.config.fetch.recheck_pause)
            await self._pool(iter(self.later), last_try=True)
        if self.archive is not None:
            try:
                captures = await self.archive.finish()
                self.flush()  # every result stored, to be read back
                self._settle(captures)
            except Exception as exc:  # archiving never changes a verdict; a bug in it must not lose the pass
                _log.debug("internal error while archiving", exc_info=exc)

    async def _pool(self, indexes: Iterator[int], last_try: bool) -> None:
        async def worker() -> None:
            for i in indexes:  # one shared iterator: each source is taken by exactly one worker
                await self._one(i, last_try)

        # Each worker holds at most one page (while it waits for a parser process), so this bounds a
        # pass's memory; twice the fetch concurrency so that workers queued behind one busy host
        # (`per_host`) leave others to fetch from the rest.
        size = min(self.config.fetch.concurrency * 2, len(self.sources)) or 1
        await asyncio.gather(*(worker() for _ in range(size)))

    async def _one(self, i: int, last_try: bool) -> None:
        src = self.sources[i]
        prior = self.store.prior(src.id, self.config.policy.drift_window)
        assessed = await _isolated(src, prior, self.deps, last_try)
        self.read += 1
        if self.progress:
            self.progress(min(self.read, len(self.sources)), len(self.sources))
        if assessed is None:
            self.later.append(i)
            return
        job = assessed.job
        if self.archive is None:
            capture = stored_capture(self.store, job.url, self.archive_off)
        else:  # queued now; the queue is worked off once every source is judged (`_settle`)
            try:
                capture = self.archive.capture(job)
            except Exception as exc:  # archiving never changes a verdict; a bug in it must not lose the pass
                _log.debug("internal error while archiving", exc_info=exc)
                why = f"archiving hit an internal error (a bug, please report it): {type(exc).__name__}"
                capture = stored_capture(self.store, job.url, why)
        outcome, record = _recorded(assessed, capture, self.fail_on)
        self.tally = self.tally.add(outcome)
        self._add(record)

    def _settle(self, captures: dict[str, Capture]) -> None:
        for record in recaptured(self.store, self.run_id, self.sources, captures):
            self._add(record)

    def _add(self, record: Record) -> None:
        self.batch.append(record)
        self.batch_text += len(record.version.main_text or b"") if record.version else 0
        if len(self.batch) >= BATCH or self.batch_text >= BATCH_TEXT:
            self.flush()

    def flush(self, end: RunEnd | None = None) -> None:
        self.store.save_batch(self.run_id, self.batch, end)
        self.batch, self.batch_text = [], 0


def recaptured(store: Store, run_id: int, sources: Sequence[Source],
               captures: dict[str, Capture]) -> Iterator[Record]:
    """Captures the archive's drain or replays changed: pass `run_id`'s stored results follow
    (their status does not: a capture never changes a verdict). Records to save in that pass."""
    changed = [s for s in sources if archive_url(s.url) in captures]
    for o in stored_outcomes(store, run_id, changed):  # each chunk read whole: writes may follow
        new = captures[archive_url(o.source.url)]
        if new == o.capture:
            continue
        problems = (*(p for p in o.problems if p != "archive-failed"),
                    *(("archive-failed",) if new.state is CaptureState.FAILED else ()))
        yield Record(outcome_dict(replace(o, capture=new, problems=problems)), stamp(now_utc()), None)


async def check_pass(config: Config, sources: Sequence[Source], client: PassClient,
                     store: Store, *, archive: bool = True, progress: Progress | None = None,
                     partial: bool = False) -> CheckRun:
    """Check `sources` once and record the pass in `store`. Never raises for a bad page. The pass
    counts as complete (and, unless `partial`, as the last pass) only once its last batch commits."""
    started = stamp(now_utc())
    run_id = store.begin_run(started)
    async with CpuPool(config.fetch.workers) as cpu:
        deps = Deps(config, Fetcher(client, config.fetch), cpu, store)
        session = None
        if archive and config.archive.wayback:
            session = ArchiveSession.of(config, client, store)
        off = "archiving is off (--no-archive)" if config.archive.wayback else \
            "archiving is off (archive.wayback = false)"
        work = _Pass(config, sources, deps, store, run_id, session, off, progress)
        await work.run()
    tally = work.tally
    total = tally.ok + tally.warning + tally.broken
    finished = stamp(now_utc())
    work.flush(RunEnd(finished, (total, tally.ok, tally.warning, tally.broken), partial))
    return CheckRun(started, finished, pass_outcomes(store, run_id, sources, total), tally)


async def run_pass(config: Config, *, archive: bool = True, only: Sequence[str] = (),
                   progress: Progress | None = None, lock_wait: float = 10.0, distribute: bool = False,
                   notice: Callable[[str], None] | None = None) -> CheckRun:
    """A whole pass as the CLI and the daemon run it: lock, history, client, reports, pruning.
    `distribute`: the sources are checked by `linkcheck worker` processes (PostgreSQL history)."""
    with pass_lock(config.root, lock_wait):
        if config.articles.feeds:  # the feeds' new or changed articles, then their citations
            async with open_client(config.fetch) as client:
                await refresh_feeds(config, client)
            config = load_config(config.path)
        sources = [s for s in config.sources if not only or s.id in only]
        partial = len(sources) < len(config.sources)
        with Store.open(config.database) as store, store.db.pass_lock(lock_wait):
            if distribute:
                from .distribute import distributed_pass

                run = await distributed_pass(config, sources, store, archive=archive, progress=progress,
                                             partial=partial, notice=notice)
            else:
                async with open_client(config.fetch, config.archive.request_timeout) as client:
                    run = await check_pass(config, sources, client, store, archive=archive, progress=progress,
                                           partial=partial)
            store.prune_history(stamp(now_utc() - timedelta(seconds=config.history.keep)))
        report = write_run_reports(config.root / "reports", run)
        prune_reports(config.root / "reports", config.history.reports_keep)
    return replace(run, report=report)
