"""`check --distribute`: a pass whose sources are checked by `linkcheck worker` processes, on any
number of machines sharing one PostgreSQL history.

The queue is procrastinate's, in the same database: the pass's `runs` row is written first
(partial), its sources are deferred as jobs of a few sources each, and every worker writes each
source's outcome straight into history, keyed by (pass, source), in the same transaction as its
text version and snapshot row. So history, not the queue, says what is done: the coordinator
polls the pass's outcomes for progress, re-queues the jobs of workers that stopped sending
heartbeats (a killed worker loses nothing), and once every source has its outcome (or every job
is over) it completes the pass and writes the reports, as a local pass does.

A job carries `schema` (JOB_SCHEMA): a worker refuses jobs newer than the code it runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .config import Config
from .durations import now_utc, stamp
from .errors import ConfigError
from .models import CheckRun, Source, Tally
from .outcomes import pass_outcomes
from .queue_schema import check_queue
from .store import RunEnd, Store

if TYPE_CHECKING:
    import procrastinate

JOB_SCHEMA = 2  # bump when a job's arguments change meaning; older workers then refuse the job
# (2: the archive job names its pass, and replays and rewrites that pass's captures; a check job
# says whether its pass archives: `archive` false for --no-archive)
TASK = "linkcheck.check_sources"
ARCHIVE = "linkcheck.archive"  # the Wayback work of one pass: one job at a time (a lock of its own)
QUEUE = "linkcheck"
POLL = 0.25  # seconds between two looks at the pass's progress


def database_url(config: Config, what: str) -> str:
    url = config.database
    if not isinstance(url, str):
        raise ConfigError(f"{config.path}: [history] database: {what} needs a PostgreSQL history shared "
                          f'by the workers, e.g. database = "postgresql://linkcheck@db-host/citations".')
    return url


def queue_app(url: str) -> procrastinate.App:
    import procrastinate

    return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=4))


async def distributed_pass(config: Config, sources: Sequence[Source], store: Store, *, archive: bool = True,
                           progress: Callable[[int, int], None] | None = None, partial: bool = False,
                           notice: Callable[[str], None] | None = None) -> CheckRun:
    """Enqueue `sources` for the workers, wait for their outcomes, complete the pass. Sources whose
    job failed for good (see the workers' logs) have no outcome, and the pass is then partial.
    Check jobs queue their sources' archive work and report the capture history knows of: with
    `archive`, the pass's archive job follows (drain, replays, the stored captures rewritten, as a
    local pass's archive step), and the pass waits for it as a local pass waits for its own."""
    url = database_url(config, "check --distribute")
    check_queue(store, "`check --distribute`")
    started = stamp(now_utc())
    run_id = store.begin_run(started)
    ids = [s.id for s in sources]
    size = config.workers.batch
    jobs: list[dict[str, Any]] = [{"schema": JOB_SCHEMA, "run": run_id, "sources": ids[i:i + size], "archive": archive}
                                  for i in range(0, len(ids), size)]
    app = queue_app(url)
    async with app.open_async():
        job_ids = await app.configure_task(TASK, queue=QUEUE).batch_defer_async(*jobs)
        try:
            await _wait(app, store, run_id, len(ids), config, progress, notice)
        except BaseException:  # interrupted: the workers need not check a pass nobody will complete
            for job_id in job_ids:
                await app.job_manager.cancel_job_by_id_async(job_id)
            raise
        if archive and config.archive.wayback:
            await _archive(app, store, run_id, config, notice)
    total = store.count_in_run(run_id)
    outcomes = pass_outcomes(store, run_id, sources, total)
    tally = Tally.of(outcomes)  # one read of the pass, source by source: no outcome is held
    finished = stamp(now_utc())
    store.save_batch(run_id, [], RunEnd(finished, (total, tally.ok, tally.warning, tally.broken),
                                        partial or total < len(sources)))
    return CheckRun(started, finished, outcomes, tally)


async def _archive(app: procrastinate.App, store: Store, run_id: int, config: Config,
                   notice: Callable[[str], None] | None) -> None:
    """Defer the pass's archive job and wait for it up to `[archive] timeout` (what the job itself
    takes at most) plus `stalled_after` for a worker to take it. Past that the reports show the
    captures as queued; the job still rewrites them in history (`links`, the digest, `fix`)."""
    job_id = await app.configure_task(ARCHIVE, queue=QUEUE, lock=ARCHIVE).defer_async(schema=JOB_SCHEMA,
                                                                                         run=run_id)
    deadline = time.monotonic() + config.archive.timeout + config.workers.stalled_after
    # Successful jobs are deleted (`delete_jobs="successful"`): a missing row is a finished job.
    while store.db.execute("SELECT 1 FROM procrastinate_jobs WHERE id = ? AND status IN ('todo', 'doing')",
                           (job_id,)).fetchone():
        if time.monotonic() >= deadline:
            if notice:
                notice(f"the pass's archive job ({job_id}) is still waiting or running: this report shows "
                       "captures as they stood; history gets its captures when it ends")
            return
        await asyncio.sleep(POLL)


async def _wait(app: procrastinate.App, store: Store, run_id: int, total: int, config: Config,
                progress: Callable[[int, int], None] | None, notice: Callable[[str], None] | None) -> None:
    quiet_since, told = time.monotonic(), False
    while True:
        # Jobs first: a job that ends between the two reads has written its outcomes already.
        open_jobs = store.db.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = ? AND status IN ('todo', 'doing') "
            "AND (args->>'run')::bigint = ?", (TASK, run_id)).fetchone()[0]
        done = store.count_in_run(run_id)
        if progress:
            progress(done, total)
        if done >= total or not open_jobs:
            return
        await requeue_stalled(app, config)
        if not told and notice and time.monotonic() - quiet_since > config.workers.stalled_after:
            told = _no_worker(store, config, notice)
        await asyncio.sleep(POLL)


def _no_worker(store: Store, config: Config, notice: Callable[[str], None]) -> bool:
    """Say so once when no worker is alive: otherwise the pass would wait in silence."""
    alive = store.db.execute("SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > "
                             "now() - make_interval(secs => ?)", (config.workers.stalled_after,)).fetchone()[0]
    if alive:
        return False
    notice(f"no worker is running: start `linkcheck worker --config {config.path}` (the pass waits for one)")
    return True


async def requeue_stalled(app: procrastinate.App, config: Config) -> int:
    """Put back in the queue the jobs of workers silent for `stalled_after` (killed, or cut off):
    check jobs and archive jobs alike (an archive job left "doing" would hold the archive lock, and
    so every later pass's archive job, for good; it is safe to run again)."""
    stalled = await app.job_manager.get_stalled_jobs(queue=QUEUE,
                                                     seconds_since_heartbeat=config.workers.stalled_after)
    n = 0
    for job in stalled:
        await app.job_manager.retry_job(job)
        n += 1
    return n
