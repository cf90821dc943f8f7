"""`linkcheck status`: last pass, next due pass, counts by status, pending archive saves.
Unhealthy (exit 1) when no pass ever completed or the last is overdue by two intervals."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from .config import Config
from .durations import parse_stamp, stamp
from .schedule import next_after
from .store import Store


def next_due(config: Config, last: datetime) -> tuple[datetime, timedelta]:
    """When the pass after one finished at `last` is due, and the schedule's period there."""
    first = next_after(config.schedule.check, config.schedule.timezone, last)
    second = next_after(config.schedule.check, config.schedule.timezone, first)
    return first, (second - first)


def status_report(config: Config, fmt: str, now: datetime | None = None) -> tuple[str, bool]:
    now = now or datetime.now(UTC)
    store = Store.open(config.database)
    try:
        last = store.last_run()
        known = {s.id for s in config.sources}
        counts = Counter(status for source_id, status in store.latest_statuses().items() if source_id in known)
        pending = store.pending_captures()
    finally:
        store.close()
    due = period = None
    healthy = False
    if last:
        finished = parse_stamp(last[1])
        due, period = next_due(config, finished)
        healthy = now <= finished + 2 * period
    by_status = {k: counts.get(k, 0) for k in ("ok", "warning", "broken")}
    data = {"last_pass": last[1] if last else None, "next_due": stamp(due) if due else None, "overdue": not healthy,
            "counts": by_status, "pending_archive_saves": len(pending), "sources": len(config.sources)}
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n", healthy
    lines = [f"last pass: {data['last_pass'] or 'never'}",
             f"next due: {data['next_due'] or 'now'}" + ("  (OVERDUE)" if last and not healthy else ""),
             "status: " + ", ".join(f"{v} {k}" for k, v in by_status.items()),
             f"pending archive saves: {len(pending)}"]
    return "\n".join(lines) + "\n", healthy
