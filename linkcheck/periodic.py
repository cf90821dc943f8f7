"""`linkcheck daemon` with a PostgreSQL history: the schedule as procrastinate periodic tasks.

Every daemon registers the same two periodic tasks (the pass and the digest) under the same
ids; procrastinate records each tick it defers (`procrastinate_periodic_defers`, unique per
task, id and tick), so with any number of daemons each pass and each digest is deferred once
and run by one of them. The pass is `check --distribute`: the daemon enqueues, `linkcheck worker`
processes check. A pass still running at the next tick makes that tick's job wait (a lock of its
own, and a queueing lock keeps at most one waiting). Crontab lines are read in UTC.
"""

from __future__ import annotations

import asyncio
import signal

from .daemon import Daemon
from .distribute import database_url, queue_app
from .errors import ConfigError
from .queue_schema import check_queue
from .schedule import interval_seconds
from .store import Store

QUEUE = "linkcheck-schedule"
PASS, DIGEST = "linkcheck.scheduled_pass", "linkcheck.scheduled_digest"


def as_cron(spec: str, key: str) -> str:
    """A schedule as procrastinate's cron (a 6th field for seconds): crontab lines as they are,
    `every DURATION` when the duration divides a minute, an hour or a day (or is a week)."""
    seconds = interval_seconds(spec)
    if seconds is None:
        return spec
    s = int(seconds)
    if s == seconds and 0 < s < 60 and 60 % s == 0:
        return f"* * * * * */{s}"
    if s % 60 == 0 and 0 < s // 60 < 60 and 60 % (s // 60) == 0:
        return f"*/{s // 60} * * * *"
    if s % 3600 == 0 and 0 < s // 3600 < 24 and 24 % (s // 3600) == 0:
        return f"0 */{s // 3600} * * *"
    if s in (86400, 7 * 86400):
        return "0 0 * * *" if s == 86400 else "0 0 * * 0"
    raise ConfigError(f"[schedule] {key}: {spec!r} cannot be a periodic task of a PostgreSQL history: use an "
                      "interval that divides a minute, an hour or a day (or 7d), or a crontab line.")


async def run_periodic(daemon: Daemon) -> int:
    config = daemon.config
    url = database_url(config, "the daemon's shared schedule")
    with Store.open(url, migrate=False) as store:
        check_queue(store, "starting the daemon")
    crons = {"check": as_cron(config.schedule.check, "check"), "report": as_cron(config.schedule.report, "report")}
    app = queue_app(url)

    @app.periodic(cron=crons["check"], periodic_id="check")
    @app.task(name=PASS, queue=QUEUE, lock=PASS, queueing_lock=PASS)
    async def scheduled_pass(timestamp: int) -> None:
        await daemon._pass("scheduled")

    @app.periodic(cron=crons["report"], periodic_id="digest")
    @app.task(name=DIGEST, queue=QUEUE, lock=DIGEST, queueing_lock=DIGEST)
    async def scheduled_digest(timestamp: int) -> None:
        await daemon._digest_due()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stopping.set)
    async with app.open_async():
        daemon.log("started", config=str(daemon.path), check=f'"{crons["check"]}"', report=f'"{crons["report"]}"',
                   schedule="procrastinate periodic tasks (UTC)")
        work = asyncio.create_task(app.run_worker_async(
            queues=[QUEUE], concurrency=2, install_signal_handlers=False, shutdown_graceful_timeout=daemon.grace,
            update_heartbeat_interval=config.workers.heartbeat, stalled_worker_timeout=config.workers.stalled_after))
        stop = asyncio.create_task(daemon.stopping.wait())
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not work.done():
            work.cancel()  # procrastinate lets the pass in flight finish (up to --grace)
        await asyncio.gather(work, stop, return_exceptions=True)
    daemon.log("stopped")
    return 0
