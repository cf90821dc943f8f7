"""`linkcheck worker`: takes check jobs from the shared queue (procrastinate, in the PostgreSQL
history) until SIGTERM, and writes each source's outcome into history itself.

What it promises:
- a job's sources are checked with the same unit of work as a local pass (`pipeline.check_one`);
  their outcomes, text versions and snapshot rows commit in one transaction, keyed by
  (pass, source), so a job run twice (its first worker was killed after committing) writes
  nothing twice, and skips the sources already done;
- `per_host` holds across every worker: a request holds one of the host's slots, PostgreSQL
  advisory locks (host, 0..per_host-1) taken on this worker's own connection, so a killed
  worker's slots are freed with its connection;
- a job of a newer schema than this code is refused with a message saying to upgrade, and goes
  back to the queue for a newer worker;
- when the database goes away the worker says so, waits (1 s, doubling up to 30 s) and starts
  again, rather than exiting for a supervisor to restart in a loop.

Workers read the same config as `check --distribute` (sources, policy, fetch settings): a job
names its sources by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import signal
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from .archive.runner import Job, archive_job, stored_capture
from .archive.session import ArchiveSession
from .config import Config, load_config
from .cpupool import CpuPool
from .daemon import Log
from .db import unreachable_as
from .distribute import ARCHIVE, JOB_SCHEMA, QUEUE, TASK, database_url, queue_app, requeue_stalled
from .errors import ConfigError, HistoryUnavailable
from .fetch import Fetcher, open_client
from .models import Capture
from .outcomes import stored_outcomes
from .pipeline import BATCH, Deps, check_one, recaptured
from .queue_schema import check_queue
from .store import MIGRATIONS, Store


class JobTooNew(Exception):
    """A job written by a newer linkcheck than this worker runs."""


class HostSlots:
    """`per_host` requests in flight per host across every worker (see the module docstring)."""

    def __init__(self, url: str, per_host: int) -> None:
        import psycopg

        self.url = url
        with unreachable_as(url):
            self.conn = psycopg.connect(url, autocommit=True)
        self.per_host = per_host
        self.held: set[tuple[int, int]] = set()  # a session may take its own lock twice: track ours

    @contextlib.asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        key = zlib.crc32(host.encode()) - 2**31  # the int4 of the two-key advisory lock
        pause = 0.005
        while True:
            # One round trip tries the free slots in turn (from a random one, so that workers do not
            # all queue on slot 0) and stops at the first it gets.
            start = random.randrange(self.per_host)
            free = [i % self.per_host for i in range(start, start + self.per_host)
                    if (key, i % self.per_host) not in self.held]
            with unreachable_as(self.url):
                row = self.conn.execute("SELECT i FROM unnest(%s::int[]) AS t(i) WHERE pg_try_advisory_lock(%s, i) "
                                        "LIMIT 1", (free, key)).fetchone() if free else None
            if row is not None:
                slot = int(row[0])
                break
            await asyncio.sleep(pause)  # every slot busy: look again soon, less often as it lasts
            pause = min(pause * 2, 0.2)
        self.held.add((key, slot))
        try:
            yield
        finally:
            self.held.discard((key, slot))
            with unreachable_as(self.url):
                self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (key, slot))

    def close(self) -> None:
        self.conn.close()


class Worker:
    def __init__(self, config: Config, concurrency: int, log: Log) -> None:
        self.config, self.concurrency, self.log = config, concurrency, log
        self.url = database_url(config, "linkcheck worker")
        self.sources = {s.id: s for s in config.sources}
        self.stopping = asyncio.Event()
        self.broken = asyncio.Event()  # a job lost the database: start again on new connections

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        pause = 1.0
        while not self.stopping.is_set():
            try:
                await self._serve()
                return 0
            except ConfigError:
                raise
            except Exception as exc:  # the database went away (psycopg / procrastinate errors), or never came
                if not _connection_trouble(exc):
                    raise
                self.log("database-unreachable", f"{type(exc).__name__}: {str(exc).strip()[:200]}",
                         retry_in=f"{pause:g}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), pause)
                pause = min(pause * 2, 30.0)
        return 0

    async def _serve(self) -> None:
        with Store.open(self.url, migrate=False) as store:
            missing = len(MIGRATIONS) - len(store.applied())
            if missing > 0:
                raise ConfigError(f"the history database lacks {missing} migration(s) this linkcheck needs: "
                                  "run `linkcheck migrate` (once, from any machine) and start the worker again.")
            check_queue(store, "starting workers")
            slots = HostSlots(self.url, self.config.fetch.per_host)
            try:
                async with CpuPool(self.config.fetch.workers) as cpu, \
                        open_client(self.config.fetch, self.config.archive.request_timeout) as client:
                    deps = Deps(self.config, Fetcher(client, self.config.fetch, slots.hold), cpu, store)
                    await self._work(deps, store, client)
            finally:
                slots.close()

    async def _work(self, deps: Deps, store: Store, client: httpx.AsyncClient) -> None:
        from procrastinate import RetryStrategy

        app = queue_app(self.url)

        async def queued(job: Job) -> Capture:
            """Queued on the archive queue (history's `captures`), which the archive job drains."""
            if not self.config.archive.wayback:
                return stored_capture(store, job.url, "archiving is off (archive.wayback = false)")
            return ArchiveSession.of(self.config, client, store).capture(job)

        async def not_queued(job: Job) -> Capture:
            """A pass run with --no-archive: history's capture rows are left alone, as a local pass does."""
            return stored_capture(store, job.url, "archiving is off (--no-archive)")

        async def guarded(job: Awaitable[None]) -> None:
            try:
                await job
            except Exception as exc:
                if _connection_trouble(exc):
                    self.broken.set()
                raise

        # Retried with growing waits: a refused job (too new) goes back for a newer worker.
        retry = RetryStrategy(max_attempts=10, exponential_wait=2)

        @app.task(name=TASK, queue=QUEUE, retry=retry)
        async def check_sources(schema: int, run: int, sources: list[str], archive: bool = True, **_: Any) -> None:
            await guarded(self._check(store, deps, queued if archive else not_queued, schema, run, sources))

        @app.task(name=ARCHIVE, queue=QUEUE, retry=retry)
        async def archive_latest(schema: int, run: int | None = None, **_: Any) -> None:
            await guarded(self._archive(store, client, schema, run))

        async with app.open_async():
            self.log("started", config=str(self.config.path), concurrency=self.concurrency, pid=os.getpid())
            settings = self.config.workers
            work = asyncio.create_task(app.run_worker_async(
                queues=[QUEUE], concurrency=self.concurrency, install_signal_handlers=False,
                update_heartbeat_interval=settings.heartbeat, stalled_worker_timeout=settings.stalled_after,
                delete_jobs="successful", listen_notify=True, fetch_job_polling_interval=1.0))
            stop = asyncio.create_task(self.stopping.wait())
            broken = asyncio.create_task(self.broken.wait())
            janitor = asyncio.create_task(self._requeue_stalled(app))
            try:
                await asyncio.wait({work, stop, broken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (janitor, stop, broken, work):
                    task.cancel()  # for `work`, procrastinate then lets the jobs in flight finish
                await asyncio.gather(janitor, stop, broken, work, return_exceptions=True)
            if self.broken.is_set():
                self.broken.clear()
                raise HistoryUnavailable("lost the connection to the history database")
            if self.stopping.is_set():
                self.log("stopped")
            else:
                work.result()  # the worker ended on its own: an error

    def _refuse_newer(self, schema: int) -> None:
        if schema > JOB_SCHEMA:
            self.log("job-refused", f"the job's schema {schema} is newer than this worker's {JOB_SCHEMA}: "
                     "upgrade linkcheck on this machine; the job goes back to the queue")
            raise JobTooNew(f"job schema {schema} > {JOB_SCHEMA}")

    async def _archive(self, store: Store, client: httpx.AsyncClient, schema: int, run: int | None) -> None:
        """The archive step of pass `run` (a job queued before passes were named: the newest),
        whose check jobs queued its sources' archive work: drained at the archive's rate, the
        captures replayed and the pass's stored results rewritten, by the same code as a local
        pass's (`ArchiveSession.finish`, `pipeline.recaptured`), under `[archive] timeout`; what
        is left waits in history for the next one. Only one such job runs at a time, anywhere."""
        self._refuse_newer(schema)
        if run is None:
            run = int(store.db.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()[0])
        sources = self.config.sources
        session = ArchiveSession.of(self.config, client, store)
        for outcome in stored_outcomes(store, run, sources):
            session.add(archive_job(outcome))
        captures = await session.finish()
        records = recaptured(store, run, sources, captures)
        while batch := list(itertools.islice(records, BATCH)):
            store.save_batch(run, batch)
        self.log("archived", run=run, sources=len(session.jobs))

    async def _check(self, store: Store, deps: Deps, archive: Callable[[Job], Awaitable[Capture]], schema: int,
                     run: int, sources: list[str]) -> None:
        self._refuse_newer(schema)
        unknown = [i for i in sources if i not in self.sources]
        if unknown:
            raise ConfigError(f"sources {', '.join(unknown)} are not in this worker's config "
                              f"({self.config.path}); workers must read the coordinator's sources.toml")
        done = store.checked_in_run(run, sources)
        todo = [i for i in sources if i not in done]
        results = await asyncio.gather(*(check_one(self.sources[i], store.prior(
            i, self.config.policy.drift_window), deps, archive) for i in todo))
        store.save_batch(run, [record for _, record in results])
        self.log("job", run=run, checked=len(todo), skipped=len(sources) - len(todo))

    async def _requeue_stalled(self, app: Any) -> None:
        """Any worker gives the jobs of dead workers back to the queue, even without a coordinator."""
        while True:
            await asyncio.sleep(self.config.workers.stalled_after)
            if n := await requeue_stalled(app, self.config):
                self.log("requeued", f"{n} job(s) of silent workers back in the queue")


def _connection_trouble(exc: BaseException) -> bool:
    import procrastinate.exceptions
    import psycopg

    return isinstance(exc, HistoryUnavailable | psycopg.OperationalError | procrastinate.exceptions.ConnectorException
                      | OSError)


def run_worker(path: Path, concurrency: int, log_format: str = "plain") -> int:
    config = load_config(path)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)  # procrastinate's own warnings
    return asyncio.run(Worker(config, concurrency, Log(log_format)).run())
