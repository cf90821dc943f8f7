"""The archive queue, kept in history (`captures`, one row per URL) so it outlives a pass.

A row is `queued` while a lookup or save waits its turn (`next_try`, pushed back after each
temporary refusal: `attempts` counts them), `pending` while an SPN job the archive accepted
runs (`job_id`, resumed by the next drain, whoever runs it), and settles as `existing`,
`saved`, `failed` or `skipped`. Each change is its own short transaction: a pass or daemon
killed mid-drain loses at most the step in flight.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..models import Capture, CaptureState
from ..store import Store

WAITING = (CaptureState.QUEUED.value, CaptureState.PENDING.value)
_COLUMNS = ("url", "state", "capture_url", "timestamp", "checked", "message", "attempts", "job_id", "reason",
            "next_try", "submitted", "verified", "verified_key", "config", "link", "changed", "elsewhere",
            "elsewhere_date")


@dataclass(frozen=True)
class Entry:
    url: str
    state: CaptureState
    capture_url: str | None = None
    timestamp: str | None = None
    checked: str = ""
    message: str = ""
    attempts: int = 0  # temporary refusals in a row, for the back-off
    job_id: str | None = None
    reason: str = ""  # why a capture is wanted
    next_try: str | None = None
    submitted: str | None = None  # when the archive accepted the job
    verified: bool | None = None
    verified_key: str | None = None  # the capture timestamp and quotes the verdict is for
    config: str = ""  # the archive settings the row was settled under (exclusions wait for a change)
    link: str = ""  # the link state the pass saw (only alive pages are submitted)
    changed: bool = False  # the page changed since the last capture
    elsewhere: str | None = None  # best capture in another web archive (Memento), for dead pages
    elsewhere_date: str | None = None

    def capture(self) -> Capture:
        return Capture(self.state, self.capture_url, self.timestamp, self.message, self.verified,
                       self.elsewhere, self.elsewhere_date)


def _entry(row: tuple[Any, ...]) -> Entry:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["state"] = CaptureState(values["state"])
    values["verified"] = None if values["verified"] is None else bool(values["verified"])
    values["changed"] = bool(values["changed"])
    values["reason"] = values["reason"] or ""
    return Entry(**values)


@dataclass(frozen=True)
class Backlog:
    waiting: int  # rows queued or pending
    submitted: int  # of which the archive runs a job
    saves: int  # of which are live pages (a save may follow the lookup)
    last_try: str | None  # the latest time a row is due

    def drain_minutes(self, lookups_per_minute: float, saves_per_minute: float) -> float:
        """Expected time to work the backlog off at the configured rates (lookups and saves are
        paced apart, so the slower of the two sets the pace)."""
        return max(self.waiting / lookups_per_minute, self.saves / saves_per_minute)


class Queue:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def get(self, url: str) -> Entry | None:
        row = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM captures WHERE url = ?", (url,)).fetchone()
        return _entry(row) if row else None

    def get_many(self, urls: Iterable[str]) -> dict[str, Entry]:
        wanted = list(dict.fromkeys(urls))
        found: dict[str, Entry] = {}
        for i in range(0, len(wanted), 500):  # below SQLite's bound-parameter limit
            chunk = wanted[i:i + 500]
            for row in self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM captures WHERE url IN "
                                       f"({', '.join('?' * len(chunk))})", chunk):
                found[row[0]] = _entry(row)
        return found

    def put(self, entries: Iterable[Entry]) -> None:
        rows = [tuple(_value(getattr(e, c)) for c in _COLUMNS) for e in entries]
        if not rows:
            return
        with self.store.transaction() as db:
            db.executemany(
                f"INSERT INTO captures ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
                "ON CONFLICT (url) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:]), rows)

    def due(self, now: str, limit: int) -> list[Entry]:
        """Waiting rows whose time has come: submitted jobs first (they only need a poll)."""
        return [_entry(row) for row in self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM captures WHERE state IN (?, ?) AND coalesce(next_try, '') <= ? "
            "ORDER BY job_id IS NULL, next_try, url LIMIT ?", (*WAITING, now, limit))]

    def backlog(self) -> Backlog:
        waiting, submitted, saves, last = self.db.execute(
            "SELECT count(*), count(job_id), "
            "coalesce(sum(CASE WHEN link IN ('alive', 'redirected') THEN 1 ELSE 0 END), 0), max(next_try) "
            "FROM captures WHERE state IN (?, ?)", WAITING).fetchone()
        return Backlog(int(waiting), int(submitted), int(saves), last)

    # --- what replayed captures hold ---------------------------------------------------------

    def record_holds(self, url: str, timestamp: str, capture_url: str, verified: bool, holds: Iterable[str],
                     checked: str) -> None:
        with self.store.transaction() as db:
            db.execute("INSERT INTO capture_holds (url, timestamp, capture_url, verified, holds, checked) "
                       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url, timestamp) DO UPDATE SET "
                       "verified = excluded.verified, holds = excluded.holds, checked = excluded.checked",
                       (url, timestamp, capture_url, int(verified), json.dumps(sorted(holds)), checked))

    def holder(self, url: str, quotes: Iterable[str]) -> tuple[str, str] | None:
        """(capture URL, timestamp) of the newest verified capture holding every one of `quotes`."""
        wanted = set(quotes)
        for capture_url, timestamp, holds in self.db.execute(
                "SELECT capture_url, timestamp, holds FROM capture_holds WHERE url = ? AND verified = 1 "
                "ORDER BY timestamp DESC",
                (url,)):
            if wanted <= set(json.loads(holds)):
                return capture_url, timestamp
        return None


def _value(v: Any) -> Any:
    if isinstance(v, CaptureState):
        return v.value
    if isinstance(v, bool):
        return int(v)
    return v
