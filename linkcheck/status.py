"""`linkcheck status`: last pass, next due pass, counts by status, pending archive saves.
Unhealthy (exit 1) when no pass ever completed or the last is overdue by two intervals."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from .archive.queue import Backlog, Queue
from .archive.wayback import keys_from_env, saves_per_minute
from .config import Config
from .durations import parse_stamp, stamp
from .schedule import next_after
from .store import Store


def next_due(config: Config, last: datetime) -> tuple[datetime, timedelta]:
    """When the pass after one finished at `last` is due, and the schedule's period there."""
    first = next_after(config.schedule.check, config.schedule.timezone, last)
    second = next_after(config.schedule.check, config.schedule.timezone, first)
    return first, (second - first)


NO_PASS = "no pass has run yet; `linkcheck check` runs one"


def no_history(config: Config) -> bool:
    """No history database yet: a SQLite file that does not exist (a PostgreSQL URL always has one)."""
    return not isinstance(config.database, str) and not config.database.exists()


def status_report(config: Config, fmt: str, now: datetime | None = None) -> tuple[str, bool]:
    now = now or datetime.now(UTC)
    last, counts, backlog = None, Counter[str](), Backlog(0, 0, 0, None)
    if not no_history(config):  # opening the store would create it: status only reads
        store = Store.open(config.database)
        try:
            last = store.last_run()
            known = {s.id for s in config.sources}
            counts = Counter(status for source_id, status in store.latest_statuses().items() if source_id in known)
            backlog = Queue(store).backlog()
        finally:
            store.close()
    saves = saves_per_minute(config.archive, keys_from_env())
    minutes = backlog.drain_minutes(config.archive.lookups_per_minute, saves)
    due = period = None
    healthy = False
    if last:
        finished = parse_stamp(last[1])
        due, period = next_due(config, finished)
        healthy = now <= finished + 2 * period
    by_status = {k: counts.get(k, 0) for k in ("ok", "warning", "broken")}
    data = {"last_pass": last[1] if last else None, "next_due": stamp(due) if due else None, "overdue": not healthy,
            "counts": by_status, "pending_archive_saves": backlog.waiting, "sources": len(config.sources),
            "archive_queue": {"waiting": backlog.waiting, "submitted": backlog.submitted,
                              "drain_minutes": round(minutes, 1), "next_try_until": backlog.last_try}}
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n", healthy
    lines = [f"last pass: {data['last_pass'] or 'never'}" + ("" if last else f" ({NO_PASS})"),
             f"next due: {data['next_due'] or 'now'}" + ("  (OVERDUE)" if last and not healthy else ""),
             "status: " + ", ".join(f"{v} {k}" for k, v in by_status.items()),
             f"pending archive saves: {backlog.waiting}" + (
                 f" ({backlog.submitted} submitted; drains in {_minutes(minutes)} at "
                 f"{config.archive.lookups_per_minute:g} lookups and {saves:g} saves a minute)"
                 if backlog.waiting else "")]
    return "\n".join(lines) + "\n", healthy


def _minutes(m: float) -> str:
    if m < 0.5:  # "about 0 min" for a backlog that is not empty read as a broken estimate
        return "under a minute"
    return f"about {m:.0f} min" if m < 90 else f"about {m / 60:.1f} h"
