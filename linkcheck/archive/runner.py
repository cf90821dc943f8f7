"""Archive work: a queue in history, worked off at the archive's rate, never holding a pass.

A pass (`session.ArchiveSession`) calls `enqueue` one judged source at a time, then `Drain`
and `verify_all` with a deadline: every source that needs a capture gets a `queued` row; the
drain takes due rows in order (submitted jobs first), looks each up, saves what is missing,
polls jobs up to `[archive] job_timeout` and persists each step, so what the deadline cuts
off is resumed by the next pass or by the daemon between passes (`drain_between_passes`).
Nothing here changes a verdict: every outcome is a `Capture`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from ..adapters.twitter import tweet_url
from ..config import ArchiveSettings, Config
from ..durations import now_utc, parse_stamp, stamp
from ..models import Capture, CaptureState, Drift, DriftState, LinkState, MatchKind, Quote, QuoteMatch, Source
from ..store import Store
from .answers import Answer, Kind, names_recent
from .queue import WAITING, Entry, Queue
from .verify import HELD, NOT_VERIFIED, memento_elsewhere, replay
from .wayback import Lookup, Trouble, Wayback, capture_age, keys_from_env, memento_url

SAVABLE = frozenset({LinkState.ALIVE, LinkState.REDIRECTED})
SETTLED = (CaptureState.EXISTING, CaptureState.SAVED)
WORKERS = 4  # requests in flight at once; the pacers set the rate
MAX_BACKOFF = 86400.0
JOB_KEPT = 3600.0  # SPN keeps a job's status about an hour; after that, look the URL up again
EXCLUDED = "excluded"
RECENT_CAPTURE = 86400.0  # a capture younger than this that fails to replay is tried again


@dataclass(frozen=True)
class Job:
    url: str  # what to archive (a tweet's canonical URL, else the cited URL)
    link: LinkState
    changed: bool
    quotes: tuple[Quote, ...] = ()  # every quote of the source, for replaying captures
    found: frozenset[str] = frozenset()  # quotes found on the live page this pass
    missing: frozenset[str] = frozenset()  # quotes missing (or altered) on the live page
    lost: bool = False  # one of them was found on the last pass


def archive_url(url: str) -> str:
    """What is archived for a cited URL: a tweet's canonical URL, else the URL itself."""
    return tweet_url(url) or url


class Judged(Protocol):
    """A judged source: `pipeline.Assessed` as a pass judges it, or `SourceOutcome` as history
    stores it (the archive job of a distributed pass reads it back)."""

    @property
    def source(self) -> Source: ...
    @property
    def link(self) -> LinkState: ...
    @property
    def drift(self) -> Drift: ...
    @property
    def quotes(self) -> tuple[QuoteMatch, ...]: ...


def archive_job(judged: Judged) -> Job:
    """The archive's view of one judged source: the seam a (streaming) pass calls per source."""
    matches = judged.quotes
    return Job(archive_url(judged.source.url), judged.link, judged.drift.state is DriftState.CHANGED,
               judged.source.quotes, frozenset(m.text for m in matches if m.match in HELD),
               frozenset(m.text for m in matches if m.match in (MatchKind.MISSING, MatchKind.ALTERED)),
               any(m.lost for m in matches))


def settings_key(settings: ArchiveSettings, keys: tuple[str, str] | None) -> str:
    """What a remembered failure depends on: change it and the URL is tried again."""
    raw = f"{settings.wayback_url}|{settings.availability_url}|{bool(keys)}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def stored_capture(store: Store, url: str, reason: str) -> Capture:
    """The capture history knows of, reported as `skipped` (no request made)."""
    known = Queue(store).get(url)
    if known is None:
        return Capture(CaptureState.SKIPPED, None, None, reason)
    return Capture(CaptureState.SKIPPED, known.capture_url, known.timestamp, reason, known.verified)


def merge(jobs: Iterable[Job]) -> dict[str, Job]:
    """One job per URL (several sources may cite one page)."""
    grouped: dict[str, list[Job]] = {}
    for job in jobs:
        grouped.setdefault(job.url, []).append(job)
    return {url: js[0] if len(js) == 1 else
            Job(url, next((j.link for j in js if j.link in SAVABLE), js[0].link), any(j.changed for j in js),
                tuple(dict.fromkeys(q for j in js for q in j.quotes)),
                frozenset().union(*(j.found for j in js)), frozenset().union(*(j.missing for j in js)),
                any(j.lost for j in js))
            for url, js in grouped.items()}


def enqueue(queue: Queue, jobs: dict[str, Job], settings: ArchiveSettings, key: str,
            now: datetime) -> dict[str, Entry]:
    """Queue what needs archive work (what history already settled costs no request); every
    job's row as it stands now."""
    known = queue.get_many(jobs)
    rows: list[Entry] = []
    for url, job in jobs.items():
        e = known.get(url)
        reason = _reason(job, e, settings, key, now)
        if reason is None:
            continue
        if e is not None and e.state.value in WAITING:
            rows.append(replace(e, link=job.link.value, changed=e.changed or job.changed, reason=reason))
            continue
        rows.append(Entry(url, CaptureState.QUEUED, e.capture_url if e else None, e.timestamp if e else None,
                          stamp(now), "", e.attempts if e else 0, reason=reason, next_try=stamp(now),
                          config=key, link=job.link.value, changed=job.changed,
                          elsewhere=e.elsewhere if e else None, elsewhere_date=e.elsewhere_date if e else None))
    queue.put(rows)
    return known | {e.url: e for e in rows}


def _reason(job: Job, e: Entry | None, s: ArchiveSettings, key: str, now: datetime) -> str | None:
    """Why `job` needs archive work now, or None when history already answers."""
    if e is None:
        return "no capture known yet" if job.link in SAVABLE else f"the page is {job.link.value}: look for a capture"
    if e.state.value in WAITING:
        if e.link == job.link.value and (e.changed or not job.changed):
            return None
        return "the page changed since its capture" if job.changed else (e.reason or "a capture is wanted")
    if e.state is CaptureState.FAILED and e.config == key and (e.reason == EXCLUDED or not job.changed):
        return None  # remembered until the settings (or, for a refused save, the page) change
    age = capture_age(e.timestamp, now)
    if e.state in SETTLED and not job.changed and age is not None and age < s.max_age:
        return None
    if job.link not in SAVABLE:
        checked = (now - parse_stamp(e.checked)).total_seconds() if e.checked else None
        return None if checked is not None and checked < s.max_age else f"the page is {job.link.value}: look again"
    if job.changed:
        return "the page changed since its capture"
    return "the newest capture is older than max_age" if e.timestamp else "no capture known yet"


class Drain:
    """Works off due rows of the queue until a deadline (monotonic seconds)."""

    def __init__(self, wayback: Wayback, queue: Queue, settings: ArchiveSettings, key: str,
                 clock: Callable[[], datetime] = now_utc) -> None:
        self.wb = wayback
        self.queue = queue
        self.s = settings
        self.key = key
        self.clock = clock
        self.done = 0
        self.touched: set[str] = set()  # rows this drain changed

    async def run(self, deadline: float, cited: set[str] | None = None) -> int:
        """Rows settled or advanced before `deadline`; the rest wait in history. With `cited`,
        only those URLs: a page no longer cited must not spend the archive's rate."""
        todo = iter([e for e in self.queue.due(stamp(self.clock()), 1_000_000) if cited is None or e.url in cited])

        async def worker() -> None:
            for entry in todo:
                try:
                    await self.work(entry, deadline)
                except Exception as exc:  # a bug here must cost this URL a retry, not the pass
                    self._retry(entry, f"internal error while archiving ({type(exc).__name__}: {exc})")
                self.done += 1

        tasks = [asyncio.create_task(worker()) for _ in range(WORKERS)]
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await asyncio.gather(*tasks)
        except TimeoutError:
            pass
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return self.done

    async def work(self, e: Entry, deadline: float) -> None:
        found: Capture | None = e.capture() if e.capture_url else None
        if e.job_id and self._job_age(e) < JOB_KEPT:
            answer = await self.wb.poll(e.job_id, self._poll_until(e, deadline))
            self._settle(e, answer, found)
            return
        try:
            look = await self.wb.lookup(e.url)
        except Trouble as exc:
            self._retry(e, str(exc))
            return
        if look.excluded:
            self._put(e, CaptureState.FAILED, found, f"the archive excludes this site: {look.excluded}",
                      reason=EXCLUDED)
            return
        found = look.capture or found
        if look.capture is not None and not e.changed and self._fresh(look):
            self._put(e, CaptureState.EXISTING, look.capture, "revisit record" if look.revisit else "")
            return
        if e.link not in SAVABLE:
            await self._unsavable(e, look)
            return
        try:
            answer = await self.wb.submit(e.url)
        except Trouble as exc:
            self._retry(e, str(exc), found)
            return
        if answer.kind is Kind.SUBMITTED and answer.job_id:
            e = self._put(e, CaptureState.PENDING, found, answer.message, job_id=answer.job_id,
                          submitted=stamp(self.clock()), next_try=stamp(self.clock()))
            answer = await self.wb.poll(answer.job_id, self._poll_until(e, deadline))
        self._settle(e, answer, found)

    async def _unsavable(self, e: Entry, look: Lookup) -> None:
        if look.capture is not None:
            self._put(e, CaptureState.EXISTING, look.capture)
            return
        message = f"not submitted: the page is {e.link}; the Wayback Machine has no capture"
        endpoint = memento_url(self.s)
        other = await memento_elsewhere(self.wb, endpoint, e.url, stamp_compact(self.clock())) \
            if endpoint and e.link == LinkState.DEAD.value else None
        if other is not None:
            message += f"; another web archive has one ({other[0]})"
        self._put(e, CaptureState.SKIPPED, None, message, elsewhere=other[0] if other else None,
                  elsewhere_date=other[1] if other else None)

    def _settle(self, e: Entry, answer: Answer, found: Capture | None) -> None:
        url_of = self.wb.capture_url
        if answer.kind is Kind.DONE and answer.timestamp:
            # SPN2 answers a repeat within the hour with the first job's id and the notice: its
            # capture is the earlier one, not a new save.
            state = CaptureState.EXISTING if names_recent(e.message) else CaptureState.SAVED
            self._put(e, state, Capture(state, url_of(answer.timestamp, e.url), answer.timestamp),
                      e.message if state is CaptureState.EXISTING else answer.message)
        elif answer.kind is Kind.RECENT:
            ts = answer.timestamp or (found.timestamp if found else None)
            recent = Capture(CaptureState.EXISTING, url_of(ts, e.url), ts) if ts else found
            self._put(e, CaptureState.EXISTING, recent, answer.message)
        elif answer.kind is Kind.SUBMITTED:
            self._put(e, CaptureState.PENDING, found, f"job {answer.job_id}: {answer.message}",
                      job_id=answer.job_id, submitted=e.submitted or stamp(self.clock()),
                      next_try=stamp(self.clock()))  # due again at once: a poll costs no save
        elif answer.kind is Kind.RETRY:
            self._retry(e, answer.message, found)
        else:
            self._put(e, CaptureState.FAILED, found, answer.message,
                      reason=EXCLUDED if answer.kind is Kind.EXCLUDED else e.reason)

    def _retry(self, e: Entry, message: str, found: Capture | None = None) -> None:
        wait = min(self.s.retry_backoff * 2 ** e.attempts, MAX_BACKOFF)
        then = self.clock() + timedelta(seconds=wait)
        self._put(e, CaptureState.QUEUED, found or (e.capture() if e.capture_url else None),
                  f"{message}; queued again for {stamp(then)}", attempts=e.attempts + 1, next_try=stamp(then))

    def _put(self, e: Entry, state: CaptureState, capture: Capture | None, message: str = "", *,
             job_id: str | None = None, submitted: str | None = None, next_try: str | None = None,
             attempts: int = 0, reason: str | None = None, elsewhere: str | None = None,
             elsewhere_date: str | None = None) -> Entry:
        new = replace(e, state=state, capture_url=capture.url if capture else e.capture_url,
                      timestamp=capture.timestamp if capture else e.timestamp, checked=stamp(self.clock()),
                      message=message, attempts=attempts, job_id=job_id, submitted=submitted,
                      next_try=next_try, config=self.key, reason=e.reason if reason is None else reason,
                      elsewhere=elsewhere or e.elsewhere, elsewhere_date=elsewhere_date or e.elsewhere_date)
        if new.timestamp != e.timestamp:
            new = replace(new, verified=None, verified_key=None)
        self.queue.put([new])
        self.touched.add(new.url)
        return new

    def _fresh(self, look: Lookup) -> bool:
        age = capture_age(look.capture.timestamp if look.capture else None, self.clock())
        return age is not None and age < self.s.max_age

    def _job_age(self, e: Entry) -> float:
        return (self.clock() - parse_stamp(e.submitted)).total_seconds() if e.submitted else 0.0

    def _poll_until(self, e: Entry, deadline: float) -> float:
        left = self.s.job_timeout - self._job_age(e)
        return min(deadline, time.monotonic() + max(left, 1.0))  # a job past its time gets one look


def stamp_compact(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def verify_key(timestamp: str, found: frozenset[str]) -> str:
    """What a verdict is for: that capture, checked for these quotes found live."""
    return timestamp + "|" + hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()[:16]


async def verify_all(wayback: Wayback, queue: Queue, jobs: dict[str, Job], rows: dict[str, Entry],
                     min_score: float, clock: Callable[[], datetime] = now_utc) -> None:
    """Replay each settled capture not yet verified for the quotes found live (none: the replay
    alone is checked, which is what a reader of a dead page needs); record what it holds.
    `rows` (the jobs' rows) is kept up to date."""
    for url, job in jobs.items():
        e = rows.get(url)
        if e is None or e.state not in SETTLED or not e.timestamp:
            continue
        key = verify_key(e.timestamp, job.found)
        if e.verified_key == key:
            continue
        try:
            result = await replay(wayback, e.timestamp, url, job.quotes, job.found, min_score)
        except Trouble:
            continue  # asked again on a later pass
        queue.record_holds(url, e.timestamp, e.capture_url or wayback.capture_url(e.timestamp, url),
                           result.verified, result.holds, stamp(clock()))
        kept = [m for m in e.message.split("; ") if m and not m.startswith(NOT_VERIFIED)]
        message = "; ".join([*kept, *([result.message] if result.message else [])])
        # A capture made minutes ago often does not replay yet: look again on later passes that day.
        age = capture_age(e.timestamp, clock())
        final = result.verified or (age is not None and age > RECENT_CAPTURE)
        rows[url] = replace(e, verified=result.verified, verified_key=key if final else None, message=message)
        queue.put([rows[url]])


def for_readers(queue: Queue, job: Job, e: Entry | None) -> Capture:
    """The capture to show for `job`: when the live page lost a quote, the newest replayed
    capture that still holds it, never one that does not (such as one taken after the change)."""
    if e is None:
        return Capture(CaptureState.QUEUED, None, None, "not looked up yet")
    capture = e.capture()
    if e.state is CaptureState.QUEUED:
        capture = replace(capture, message="; ".join(m for m in (f"queued: {e.reason}", e.message) if m))
    if not job.missing:
        return capture
    holder = queue.holder(job.url, job.missing)
    if holder is not None:
        return replace(capture, url=holder[0], timestamp=holder[1], verified=True,
                       message=f"the live page lost a quote; the capture of {holder[1]} still holds it")
    # Replayed and found lacking it, or saved just now from the page without it: not for readers.
    if e.verified_key is not None or (job.lost and e.state is CaptureState.SAVED):
        return replace(capture, url=None, timestamp=None, verified=None,
                       message="no capture known to hold the quote missing on the live page")
    return capture


async def drain_between_passes(config: Config, seconds: float) -> int:
    """The daemon's drain between passes: resumes submitted jobs and works off queued saves."""
    from ..fetch import open_client
    from ..lock import pass_lock

    with pass_lock(config.root, 0):
        store = Store.open(config.database)
        try:
            async with open_client(config.fetch) as client:
                keys = keys_from_env()
                wayback = Wayback(client, config.archive, keys)
                drain = Drain(wayback, Queue(store), config.archive, settings_key(config.archive, keys))
                return await drain.run(time.monotonic() + seconds, {archive_url(s.url) for s in config.sources})
        finally:
            store.close()
