"""Archive bookkeeping of a 10,000-source pass, beside a floor measured in the same run.

The archive stage of a pass reads every source's row, decides what needs work, writes what
changed and builds each source's capture for the report. Two cases, no network request in
either (the archive is never reached: all captures are settled and verified, or the deadline
is zero so nothing is drained):

- steady state: 10,000 fresh, verified captures: nothing to do;
- first pass: 10,000 sources never seen: 10,000 rows queued.

Floor: one SELECT of all 10,000 rows (steady state) / one executemany INSERT of 10,000 rows
(first pass) in the same database, which is the least any bookkeeping has to do.

    python benchmarks/archive_queue.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from linkcheck.archive.queue import Entry, Queue
from linkcheck.archive.runner import Job, archive_all, settings_key, verify_key
from linkcheck.archive.wayback import Wayback
from linkcheck.config import ArchiveSettings
from linkcheck.models import CaptureState, LinkState
from linkcheck.store import Store

N = 10_000
SETTINGS = ArchiveSettings(wayback_url="http://127.0.0.1:9", timeout=0.0)


def jobs() -> list[Job]:
    return [Job(f"https://example.org/{i}", LinkState.ALIVE, False) for i in range(N)]


async def archive(store: Store) -> None:
    async with httpx.AsyncClient() as client:
        await archive_all(jobs(), Wayback(client, SETTINGS, None), store, SETTINGS, datetime.now(UTC))


def settled(store: Store) -> None:
    ts = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    Queue(store).put(Entry(f"https://example.org/{i}", CaptureState.EXISTING, f"https://w/web/{ts}/{i}", ts,
                           config=settings_key(SETTINGS, None), link="alive", verified=True,
                           verified_key=verify_key(ts, frozenset())) for i in range(N))


def timed(action: Callable[[Store], object], store: Store) -> float:
    started = time.perf_counter()
    action(store)
    return time.perf_counter() - started


def run_archive(store: Store) -> None:
    asyncio.run(archive(store))


def read_all(store: Store) -> None:
    store.db.execute("SELECT * FROM captures").fetchall()


def insert_all(store: Store) -> None:
    with store.transaction() as db:
        db.executemany("INSERT INTO captures (url, state, checked) VALUES (?, 'queued', '')",
                       [(f"https://example.org/{i}",) for i in range(N)])


def main() -> None:
    rows: dict[str, list[float]] = {k: [] for k in ("steady", "steady floor", "first", "first floor")}
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp) / "a.db")
            settled(store)
            rows["steady"].append(timed(run_archive, store))
            rows["steady floor"].append(timed(read_all, store))
            store.close()
        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp) / "b.db")
            rows["first"].append(timed(run_archive, store))
            floor = Store.open(Path(tmp) / "c.db")
            rows["first floor"].append(timed(insert_all, floor))
            floor.close()
            store.close()
    print(f"archive bookkeeping, {N:,} sources (best / median of 3)")
    for name, values in rows.items():
        print(f"  {name:<13} {min(values) * 1000:8.1f} ms  {statistics.median(values) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
