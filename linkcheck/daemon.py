"""`linkcheck daemon`: the check pass and the weekly digest on the config's schedule (APScheduler 3).

APScheduler only *triggers*: its job starts our pass as a task we own, so `shutdown()`
cannot cancel a pass half-way, a pass still running when the next is due is skipped (and
logged) rather than queued, and the same file lock keeps cron's `linkcheck check` and the daemon
from running at once. Catch-up comes from history, not from a job store: on start, a pass runs
at once if the last one finished longer than an interval ago, and a digest missed while down
is written once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
import traceback
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .config import Config, load_config
from .digest import build_digest, render_digest
from .durations import now_utc, parse_stamp, stamp
from .errors import ConfigError, LockBusy, logged_to
from .fsutil import atomic_write
from .models import CaptureState, CheckRun, Status
from .notify import notify_digest, notify_problems
from .schedule import next_after, parse_trigger
from .snapshot_page import write_pages
from .store import Store

DRAIN_EVERY = 600  # seconds between drains of the archive queue while no pass runs


def _plain(value: Any) -> str:
    """A field's value in a plain log line: lists comma-joined, text with spaces quoted."""
    if isinstance(value, list | tuple):
        value = ",".join(map(str, value))
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if not text or any(c.isspace() or c == '"' for c in text) else text


class Log:
    """One line per event on stderr: plain `time event message key=value ...`, or JSON lines whose
    values keep their types (numbers as numbers, lists as lists) for log pipelines."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def __call__(self, event: str, message: str = "", **fields: Any) -> None:
        now = stamp(now_utc())
        if self.fmt == "json":
            line = json.dumps({"time": now, "event": event, **({"message": message} if message else {}), **fields},
                              ensure_ascii=False)
        else:
            pairs = " ".join(f"{k}={_plain(v)}" for k, v in fields.items())
            line = " ".join(p for p in (now, event, message, pairs) if p)
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


class _LogHandler(logging.Handler):
    """Routes what the pipeline logs (internal errors a pass survived, with their traceback)
    into the daemon's own log."""

    def __init__(self, log: Log) -> None:
        super().__init__(logging.DEBUG)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        trace = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info and record.exc_info[0] \
            else ""
        self.log("internal-error", record.getMessage(), **({"traceback": trace} if trace else {}))


class Daemon:
    def __init__(self, path: Path, config: Config, log: Log, grace: float) -> None:
        self.path = path
        self.config = config
        self.log = log
        self.grace = grace
        self.scheduler = AsyncIOScheduler(timezone=config.schedule.timezone)
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.drain: asyncio.Task[None] | None = None  # the archive queue worked off between passes
        self.mtime = self._mtime()

    def _mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    # --- jobs ------------------------------------------------------------------------------

    async def _check_due(self, reason: str = "scheduled") -> None:
        if self.stopping.is_set():
            return
        if self.task is not None and not self.task.done():
            self.log("pass-skipped", "the previous pass is still running", reason=reason)
            return
        await self._stop_drain()  # every drained step is already in history; the pass goes first
        self.task = asyncio.create_task(self._pass(reason))

    async def _drain_due(self) -> None:
        busy = self.task is not None and not self.task.done()
        if self.stopping.is_set() or busy or not self.config.archive.wayback or \
                (self.drain is not None and not self.drain.done()):
            return
        self.drain = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        from .archive.runner import drain_between_passes

        try:
            worked = await drain_between_passes(self.config, self.config.archive.timeout)
        except LockBusy:
            return
        except Exception as exc:
            self.log("archive-drain-failed", f"{type(exc).__name__}: {exc}")
            return
        if worked:
            self.log("archive-drain", worked=worked)

    async def _stop_drain(self) -> None:
        if self.drain is not None and not self.drain.done():
            self.drain.cancel()
            await asyncio.gather(self.drain, return_exceptions=True)

    async def _pass(self, reason: str) -> None:
        from .pipeline import run_pass

        config = self.config
        before = self._latest_problems(config) if config.notify.enabled else {}
        started = time.monotonic()
        try:
            # A PostgreSQL history's passes are checked by `linkcheck worker` processes.
            run = await run_pass(config, lock_wait=0, distribute=isinstance(config.database, str),
                                 notice=lambda m: self.log("pass-waiting", m))
        except LockBusy as exc:
            self.log("pass-skipped", str(exc), reason=reason)
            return
        except asyncio.CancelledError:
            self.log("pass-abandoned", "stopped before the pass finished; history keeps the previous pass")
            raise
        except Exception as exc:
            self.log("pass-failed", f"{type(exc).__name__}: {exc}", reason=reason)
            return
        captures = Counter(o.capture.state for o in run.outcomes)  # one read of the pass's outcomes
        self.log("pass", reason=reason, sources=len(run.outcomes), ok=run.count(Status.OK),
                 warning=run.count(Status.WARNING), broken=run.count(Status.BROKEN),
                 seconds=round(time.monotonic() - started, 1),
                 saved=captures[CaptureState.SAVED], pending=captures[CaptureState.PENDING],
                 queued=captures[CaptureState.QUEUED])
        for o in run.outcomes:  # which sources, and why: what an operator acts on
            if o.status is Status.BROKEN:
                self.log("broken", o.message, source=o.source.id, problems=list(o.problems), url=o.source.url,
                         articles=sorted({c.article for c in o.source.cited_in} | ({o.source.article} - {""})))
        if config.notify.enabled:
            await self._notify_new_problems(config, run, before)

    def _latest_problems(self, config: Config) -> dict[str, set[str]]:
        store = Store.open(config.database)
        try:
            return {r["id"]: set(r["problems"]) for r in store.latest_results()}
        finally:
            store.close()

    async def _notify_new_problems(self, config: Config, run: CheckRun, before: dict[str, set[str]]) -> None:
        new = [o for o in run.outcomes if o.status is not Status.OK
               and set(o.problems) - before.get(o.source.id, set()) - {"archive-failed"}]
        if new:
            for error in await notify_problems(config.notify, run, new, config.report.base_url):
                self.log("notify-failed", error)

    async def _digest_due(self) -> None:
        config = self.config
        store = Store.open(config.database)
        try:
            digest = build_digest(store, config, config.schedule.report_since,
                                  snapshot_prefix=config.report.base_url or "../")
            name = digest.until.replace(":", "")
            folder = config.root / "reports"
            # Off the loop: a pass may be fetching meanwhile, and snapshots in a bucket are a request or two each.
            digest = await asyncio.to_thread(write_pages, digest, config.snapshot_storage, folder / "pages")
            paths = [folder / f"digest-{name}.md", folder / f"digest-{name}.html"]
            atomic_write(paths[0], render_digest("markdown", digest))
            atomic_write(paths[1], render_digest("html", digest))
            atomic_write(folder / "digest-latest.html", render_digest("html", digest))
            store.record_digest(digest.until, str(paths[0].relative_to(config.root)))
        finally:
            store.close()
        self.log("digest", path=str(paths[1].relative_to(config.root)), broke=len(digest.broke),
                 changed=len(digest.changed))
        for error in await notify_digest(config.notify, digest, paths[0], config.report.base_url):
            self.log("notify-failed", error)

    async def _watch(self) -> None:
        mtime = self._mtime()
        if mtime != self.mtime:
            self.mtime = mtime
            self.reload("the config file changed")

    # --- lifecycle -----------------------------------------------------------------------------

    def _schedule(self) -> None:
        tz = self.config.schedule.timezone
        self.scheduler.add_job(self._check_due, parse_trigger(self.config.schedule.check, tz), id="check",
                               replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=None)
        self.scheduler.add_job(self._digest_due, parse_trigger(self.config.schedule.report, tz), id="digest",
                               replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=None)
        self.scheduler.add_job(self._drain_due, "interval", seconds=DRAIN_EVERY, id="archive-drain",
                               replace_existing=True, coalesce=True, max_instances=1)

    def reload(self, why: str) -> None:
        try:
            config = load_config(self.path)
        except ConfigError as exc:
            self.log("reload-failed", f"{exc} Keeping the previous config.")
            return
        self.config = config
        self._schedule()
        self.log("reloaded", why, sources=len(config.sources))

    def _catch_up(self) -> list[tuple[str, str]]:
        """(job, why) for what is due at start: a pass missed while down (or none ever), a digest."""
        tz = self.config.schedule.timezone
        now = datetime.now(UTC)
        store = Store.open(self.config.database)
        try:
            last = store.last_run()
            last_digest = store.last_digest()
        finally:
            store.close()
        missed = []
        if last is None:
            missed.append(("check", "no pass in history yet; running one now"))
        elif next_after(self.config.schedule.check, tz, parse_stamp(last[1])) <= now:
            missed.append(("check", f"the last pass finished at {last[1]}, over an interval ago; running one now"))
        if last_digest is not None and next_after(self.config.schedule.report, tz, parse_stamp(last_digest)) <= now:
            missed.append(("digest", f"a digest was due since {last_digest}; writing one now"))
        return missed

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.reload("SIGHUP"))
        self._schedule()
        self.scheduler.add_job(self._watch, "interval", seconds=2, id="watch", coalesce=True, max_instances=1)
        self.scheduler.start()
        self.log("started", config=str(self.path), check=self.config.schedule.check,
                 report=self.config.schedule.report, sources=len(self.config.sources))
        for job, why in self._catch_up():
            self.log("catch-up", why, job=job)
            await (self._check_due("catch-up") if job == "check" else self._digest_due())
        await self.stopping.wait()
        self.scheduler.shutdown(wait=False)
        await self._stop_drain()
        if self.task is not None and not self.task.done():
            self.log("stopping", f"letting the pass in flight finish (up to {self.grace:g}s)")
            try:
                await asyncio.wait_for(asyncio.shield(self.task), self.grace)
            except TimeoutError:
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)
            except Exception:
                pass
        self.log("stopped")
        return 0


def run_daemon(path: Path, log_format: str, grace: float) -> int:
    config = load_config(path)
    log = Log(log_format)
    with logged_to(_LogHandler(log)):
        if isinstance(config.database, str):
            from .periodic import run_periodic

            return asyncio.run(run_periodic(Daemon(path, config, log, grace)))
        return asyncio.run(Daemon(path, config, log, grace).run())
