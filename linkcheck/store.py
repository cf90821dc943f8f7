"""History in SQLite, beside the config. Append-only per run; one transaction per pass, so a
killed pass leaves the previous state as it was. The schema is built by numbered migrations
recorded in the `migrations` table."""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .models import Capture, CaptureState, CheckRun


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run `sql` statement by statement (executescript would commit the open transaction)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _m1_initial(db: sqlite3.Connection) -> None:
    _script(db, """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT NOT NULL,
            total INTEGER NOT NULL, ok INTEGER NOT NULL, warning INTEGER NOT NULL,
            broken INTEGER NOT NULL, partial INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE results (
            run_id INTEGER NOT NULL REFERENCES runs(id), source_id TEXT NOT NULL,
            url TEXT NOT NULL, checked TEXT NOT NULL, status TEXT NOT NULL, link TEXT NOT NULL,
            failed INTEGER NOT NULL, text_hash TEXT, snapshot TEXT, data TEXT NOT NULL,
            PRIMARY KEY (run_id, source_id));
        CREATE INDEX results_by_source ON results (source_id, run_id);
        CREATE TABLE versions (
            source_id TEXT NOT NULL, text_hash TEXT NOT NULL, first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL, main_text BLOB NOT NULL, PRIMARY KEY (source_id, text_hash));
        CREATE TABLE snapshots (
            path TEXT PRIMARY KEY, source_id TEXT NOT NULL, url TEXT NOT NULL,
            payload_digest TEXT NOT NULL, text_hash TEXT, written TEXT NOT NULL);
        CREATE INDEX snapshots_by_digest ON snapshots (source_id, payload_digest);
        CREATE TABLE captures (
            url TEXT PRIMARY KEY, state TEXT NOT NULL, capture_url TEXT, timestamp TEXT,
            checked TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE digests (id INTEGER PRIMARY KEY, written TEXT NOT NULL, path TEXT NOT NULL);
    """)


def _m_archive_queue(db: sqlite3.Connection) -> None:
    """The archive queue lives in `captures` (one row per URL): why a save is wanted, the SPN job
    to resume, when to try again; what the newest capture was verified to hold; and, per URL, the
    captures replayed so far with the quotes each still holds (for pointing readers at the
    newest one that holds a quote the live page lost)."""
    for column in ("job_id TEXT", "reason TEXT NOT NULL DEFAULT ''", "next_try TEXT", "submitted TEXT",
                   "verified INTEGER", "verified_key TEXT", "config TEXT NOT NULL DEFAULT ''",
                   "link TEXT NOT NULL DEFAULT ''", "changed INTEGER NOT NULL DEFAULT 0",
                   "elsewhere TEXT", "elsewhere_date TEXT"):
        db.execute(f"ALTER TABLE captures ADD COLUMN {column}")
    _script(db, """
        CREATE INDEX captures_due ON captures (state, next_try);
        CREATE TABLE capture_holds (
            url TEXT NOT NULL, timestamp TEXT NOT NULL, capture_url TEXT NOT NULL,
            verified INTEGER NOT NULL, holds TEXT NOT NULL, checked TEXT NOT NULL,
            PRIMARY KEY (url, timestamp));
    """)


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("initial", _m1_initial),
    ("archive-queue", _m_archive_queue),
]


@dataclass(frozen=True)
class Prior:
    """What history knows about a source before this pass."""

    last: dict[str, Any] | None  # the last result's JSON (as in the report)
    recent: tuple[str, ...]  # text hashes of the last versions, newest first
    previous: str | None  # the newest version's main text
    failures: int  # consecutive failed passes before this one
    first_failed: str | None


@dataclass(frozen=True)
class Version:
    source_id: str
    text_hash: str
    main_text: str
    seen: str


@dataclass(frozen=True)
class SnapshotRow:
    path: str
    source_id: str
    url: str
    payload_digest: str
    text_hash: str | None
    written: str


class Store:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @classmethod
    def open(cls, path: Path) -> Store:
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        store = cls(db)
        store.migrate()
        return store

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                        "applied TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))")
        done = {row[0] for row in self.db.execute("SELECT id FROM migrations")}
        for number, (name, migration) in enumerate(MIGRATIONS, 1):
            if number in done:
                continue
            with self.transaction() as db:
                migration(db)
                db.execute("INSERT INTO migrations (id, name) VALUES (?, ?)", (number, name))

    # --- reading ---------------------------------------------------------------------------

    def prior(self, source_id: str, window: int) -> Prior:
        row = self.db.execute("SELECT data FROM results WHERE source_id = ? ORDER BY run_id DESC LIMIT 1",
                              (source_id,)).fetchone()
        failures, first_failed = 0, None
        for failed, checked in self.db.execute(
                "SELECT failed, checked FROM results WHERE source_id = ? ORDER BY run_id DESC LIMIT 200",
                (source_id,)):
            if not failed:
                break
            failures += 1
            first_failed = checked
        recent = tuple(h for (h,) in self.db.execute(
            "SELECT text_hash FROM versions WHERE source_id = ? ORDER BY last_seen DESC LIMIT ?", (source_id, window)))
        previous = None
        if recent:
            blob = self.db.execute("SELECT main_text FROM versions WHERE source_id = ? AND text_hash = ?",
                                   (source_id, recent[0])).fetchone()[0]
            previous = zlib.decompress(blob).decode("utf-8")
        return Prior(json.loads(row[0]) if row else None, recent, previous, failures, first_failed)

    def snapshot_for_digest(self, source_id: str, digest: str) -> str | None:
        row = self.db.execute("SELECT path FROM snapshots WHERE source_id = ? AND payload_digest = ? "
                              "ORDER BY written DESC LIMIT 1", (source_id, digest)).fetchone()
        return row[0] if row else None

    def last_run(self) -> tuple[str, str] | None:
        """The last whole pass (a run over some sources only, `--only`, is partial: not a pass)."""
        row = self.db.execute("SELECT started, finished FROM runs WHERE partial = 0 ORDER BY id DESC LIMIT 1"
                              ).fetchone()
        return (row[0], row[1]) if row else None

    def history(self, source_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The source's results, newest first, each with the time it was checked."""
        return [json.loads(row[0]) | {"checked": row[1]} for row in self.db.execute(
            "SELECT data, checked FROM results WHERE source_id = ? ORDER BY run_id DESC LIMIT ?",
            (source_id, limit))]

    def latest_results(self) -> list[dict[str, Any]]:
        return [json.loads(row[0]) | {"checked": row[1]} for row in self.db.execute(
            "SELECT r.data, r.checked FROM results r JOIN (SELECT source_id, max(run_id) AS run_id "
            "FROM results GROUP BY source_id) l USING (source_id, run_id) ORDER BY r.source_id")]

    def capture(self, url: str) -> Capture | None:
        """The last known Wayback capture state of `url`."""
        row = self.db.execute("SELECT state, capture_url, timestamp, message, verified FROM captures WHERE url = ?",
                              (url,)).fetchone()
        return Capture(CaptureState(row[0]), row[1], row[2], row[3], None if row[4] is None else bool(row[4])) \
            if row else None

    def snapshots(self) -> list[SnapshotRow]:
        return [SnapshotRow(*row) for row in self.db.execute(
            "SELECT path, source_id, url, payload_digest, text_hash, written FROM snapshots "
            "ORDER BY source_id, rowid")]

    def last_digest(self) -> str | None:
        row = self.db.execute("SELECT max(written) FROM digests").fetchone()
        return row[0] if row and row[0] else None

    # --- writing (each call is one transaction) ----------------------------------------------

    def save_run(self, run: CheckRun, results: list[dict[str, Any]], versions: list[Version],
                 snapshots: list[SnapshotRow], captures: list[tuple[str, Capture, str]],
                 partial: bool = False) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (started, finished, total, ok, warning, broken, partial) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run.started, run.finished, len(run.outcomes), *(
                    sum(1 for o in run.outcomes if o.status.value == s) for s in ("ok", "warning", "broken")),
                 int(partial)))
            run_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO results (run_id, source_id, url, checked, status, link, failed, text_hash, "
                "snapshot, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, r["id"], r["url"], run.finished, r["status"], r["link"],
                  int(r["failures"] > 0), r.get("text_hash"),
                  r["archive"]["snapshot"], json.dumps(r, ensure_ascii=False)) for r in results])
            db.executemany(
                "INSERT INTO versions (source_id, text_hash, first_seen, last_seen, main_text) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_id, text_hash) DO UPDATE SET "
                "last_seen = excluded.last_seen",
                [(v.source_id, v.text_hash, v.seen, v.seen, zlib.compress(v.main_text.encode("utf-8")))
                 for v in versions])
            db.executemany(
                "INSERT OR IGNORE INTO snapshots (path, source_id, url, payload_digest, text_hash, written) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(s.path, s.source_id, s.url, s.payload_digest, s.text_hash, s.written) for s in snapshots])
            for url, capture, checked in captures:
                db.execute(
                    "INSERT INTO captures (url, state, capture_url, timestamp, checked, message, attempts) "
                    "VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (url) DO UPDATE SET state = excluded.state, "
                    "capture_url = coalesce(excluded.capture_url, captures.capture_url), "
                    "timestamp = coalesce(excluded.timestamp, captures.timestamp), "
                    "checked = excluded.checked, message = excluded.message, "
                    "attempts = CASE WHEN excluded.state = 'pending' THEN captures.attempts + 1 ELSE 0 END",
                    (url, capture.state.value, capture.url, capture.timestamp, checked, capture.message))
        return run_id

    def record_digest(self, written: str, path: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO digests (written, path) VALUES (?, ?)", (written, path))

    def forget_snapshots(self, removed: dict[str, str | None]) -> None:
        """Drop snapshot rows; results that pointed at them point at the kept copy instead."""
        with self.transaction() as db:
            for path, replacement in removed.items():
                db.execute("DELETE FROM snapshots WHERE path = ?", (path,))
                db.execute("UPDATE results SET snapshot = ?, data = json_set(data, '$.archive.snapshot', ?) "
                           "WHERE snapshot = ?", (replacement, replacement, path))
