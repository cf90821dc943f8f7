"""History in SQLite (beside the config) or PostgreSQL. A pass writes its results in batches as sources are
judged; its `runs` row stays `partial` until the last batch commits, so a killed pass leaves the
previous complete pass as the last one. The schema is built by numbered migrations recorded in
the `migrations` table."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from isal import isal_zlib

from .db import Db, open_db
from .durations import now_utc, stamp
from .errors import ConfigError
from .models import Capture, CaptureState


def _m1_initial(db: Db) -> None:
    db.script("""
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


# Typed columns of an outcome; the rest of its report entry is its "detail", stored once per change.
_TYPED = ("status", "link", "http_status", "failures", "first_failed", "text_hash", "problems")


def split_result(r: dict[str, Any]) -> tuple[tuple[Any, ...], str, str | None]:
    """A report entry → (typed columns, detail JSON, snapshot path)."""
    archive = r.get("archive", {})
    snapshot = archive.get("snapshot")
    detail = {k: v for k, v in r.items() if k not in _TYPED} | {
        "archive": {k: v for k, v in archive.items() if k != "snapshot"}}
    typed = (r["status"], r["link"], r.get("http_status"), r.get("failures", 0), r.get("first_failed"),
             r.get("text_hash"), " ".join(r.get("problems", [])))
    return typed, json.dumps(detail, ensure_ascii=False, sort_keys=True), snapshot


def join_result(row: tuple[Any, ...], detail: str) -> dict[str, Any]:
    """(checked, snapshot, *typed columns) + detail JSON → the report entry, with `checked`."""
    checked, snapshot, status, link, http_status, failures, first_failed, text_hash, problems = row
    r: dict[str, Any] = json.loads(detail)
    r["archive"]["snapshot"] = snapshot
    r.update({"status": status, "link": link, "http_status": http_status, "failures": failures,
              "first_failed": first_failed, "text_hash": text_hash,
              "problems": problems.split() if problems else [], "checked": checked})
    return r


def _m2_compact_history(db: Db) -> None:
    """One typed row per source per pass; the rest of the entry (`details`) only when it changed.
    `latest` points at each source's newest outcome so status and reports do not scan history.
    Rows stay small (an unchanged pass adds ~150 bytes a source): the snapshot is its `snapshots`
    rowid, and there is no index but the primary key (reads go by source, pruning by run)."""
    db.script("""
        CREATE TABLE details (id INTEGER PRIMARY KEY, source_id TEXT NOT NULL, data BLOB NOT NULL);
        CREATE TABLE outcomes (
            source_id TEXT NOT NULL, run_id INTEGER NOT NULL REFERENCES runs(id), checked TEXT NOT NULL,
            status TEXT NOT NULL, link TEXT NOT NULL, http_status INTEGER, failures INTEGER NOT NULL,
            first_failed TEXT, text_hash TEXT, snapshot INTEGER, problems TEXT NOT NULL,
            detail_id INTEGER NOT NULL REFERENCES details(id),
            PRIMARY KEY (source_id, run_id)) WITHOUT ROWID;
        CREATE TABLE latest (source_id TEXT PRIMARY KEY, run_id INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX runs_complete ON runs (partial, id);
    """)
    last: dict[str, tuple[int, str]] = {}
    for run_id, source_id, checked, snapshot_col, data in db.execute(
            "SELECT run_id, source_id, checked, snapshot, data FROM results ORDER BY run_id").fetchall():
        typed, detail, _ = split_result(json.loads(data))
        detail_id = _detail_id(db, source_id, detail, last.get(source_id))
        last[source_id] = (detail_id, detail)
        db.execute(f"INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {_SNAPSHOT_ID}, ?, ?)",
                   (source_id, run_id, checked, *typed[:6], snapshot_col, typed[6], detail_id))
        db.execute(_LATEST, (source_id, run_id))
    db.execute("DROP TABLE results")


# Never back to an older pass: the archive job of a distributed pass rewrites its pass's results,
# maybe after a newer pass stored its own.
_LATEST = ("INSERT INTO latest VALUES (?, ?) ON CONFLICT (source_id) DO UPDATE SET run_id = excluded.run_id "
           "WHERE latest.run_id <= excluded.run_id")

_SNAPSHOT_ID = "(SELECT rowid FROM snapshots WHERE path = ?)"


def _detail_id(db: Db, source_id: str, detail: str, previous: tuple[int, str] | None) -> int:
    if previous is not None and previous[1] == detail:
        return previous[0]
    row = db.execute("INSERT INTO details (source_id, data) VALUES (?, ?) RETURNING id",
                     (source_id, packed(detail))).fetchone()
    return int(row[0])


def packed(text: str) -> bytes:
    """A text version or a result's detail as history stores it: zlib's format, written by ISA-L
    at its level 3 (a fifth of zlib's default level's CPU on the corpus's main texts, 3% larger)."""
    return isal_zlib.compress(text.encode("utf-8"), 3)


def unpacked(blob: bytes) -> str:
    return isal_zlib.decompress(blob).decode("utf-8")


def _m3_validators(db: Db) -> None:
    """The ETag / Last-Modified of each source's last good fetch, for conditional requests."""
    db.script("""
        CREATE TABLE validators (
            source_id TEXT PRIMARY KEY, url TEXT NOT NULL, etag TEXT, last_modified TEXT, quotes TEXT NOT NULL
        ) WITHOUT ROWID;
    """)


def _m4_shared_history(db: Db) -> None:
    """A pass's results found from `latest` without reading history (`check --distribute` follows
    its progress and collects them there)."""
    db.script("CREATE INDEX latest_by_run ON latest (run_id)")


def _m_archive_queue(db: Db) -> None:
    """The archive queue lives in `captures` (one row per URL): why a save is wanted, the SPN job
    to resume, when to try again; what the newest capture was verified to hold; and, per URL, the
    captures replayed so far with the quotes each still holds (for pointing readers at the
    newest one that holds a quote the live page lost)."""
    for column in ("job_id TEXT", "reason TEXT NOT NULL DEFAULT ''", "next_try TEXT", "submitted TEXT",
                   "verified INTEGER", "verified_key TEXT", "config TEXT NOT NULL DEFAULT ''",
                   "link TEXT NOT NULL DEFAULT ''", "changed INTEGER NOT NULL DEFAULT 0",
                   "elsewhere TEXT", "elsewhere_date TEXT"):
        db.execute(f"ALTER TABLE captures ADD COLUMN {column}")
    db.script("""
        CREATE INDEX captures_due ON captures (state, next_try);
        CREATE TABLE capture_holds (
            url TEXT NOT NULL, timestamp TEXT NOT NULL, capture_url TEXT NOT NULL,
            verified INTEGER NOT NULL, holds TEXT NOT NULL, checked TEXT NOT NULL,
            PRIMARY KEY (url, timestamp));
    """)


MIGRATIONS: list[tuple[str, Callable[[Db], None]]] = [
    ("initial", _m1_initial),
    ("archive-queue", _m_archive_queue),
    ("compact_history", _m2_compact_history),
    ("validators", _m3_validators),
    ("shared_history", _m4_shared_history),
]


@dataclass(frozen=True)
class Validator:
    """What makes a request conditional: valid for this URL and these quotes (`quotes`, a key of them)."""

    url: str
    etag: str | None
    last_modified: str | None
    quotes: str


@dataclass(frozen=True)
class Prior:
    """What history knows about a source before this pass."""

    last: dict[str, Any] | None  # the last result (as in the report)
    recent: tuple[str, ...]  # text hashes of the last versions, newest first
    failures: int  # consecutive failed passes before this one
    first_failed: str | None
    detail: tuple[int, str] | None = None  # the last result's stored detail (id, JSON)
    validator: Validator | None = None  # of the last fetch that was not a 304 (etag and date None: it had none)


@dataclass(frozen=True)
class Version:
    source_id: str
    text_hash: str
    main_text: bytes | None  # zlib-compressed; None: a version history already holds (its last sighting moves)
    seen: str


@dataclass(frozen=True)
class SnapshotRow:
    path: str
    source_id: str
    url: str
    payload_digest: str
    text_hash: str | None
    written: str


@dataclass(frozen=True)
class Record:
    """One judged source as history stores it."""

    result: dict[str, Any]  # the report entry (`results.outcome_dict`)
    checked: str
    previous: tuple[int, str] | None  # `Prior.detail`: the detail is stored again only if it changed
    version: Version | None = None
    snapshot: SnapshotRow | None = None
    validator: Validator | None = None  # to remember; None leaves the stored one (if any) alone


@dataclass(frozen=True)
class RunEnd:
    """Written with a pass's last batch: only then does the pass count as complete."""

    finished: str
    counts: tuple[int, int, int, int]  # total, ok, warning, broken
    partial: bool = False  # not every configured source was checked (--only)


class Store:
    """History, on SQLite or PostgreSQL (`db.py` holds the few differences): the same migrations
    and queries for both. Use as `with Store.open(config.database) as store: ...`."""

    def __init__(self, db: Db, target: Path | str) -> None:
        self.db = db
        self.target = target  # where it was opened: a pass's outcomes are read back from there

    @classmethod
    def open(cls, target: Path | str, *, migrate: bool = True) -> Store:
        """`target`: a SQLite file or a `postgresql://` URL. Refuses (ConfigError) a database that a
        newer linkcheck has migrated further than this one knows."""
        store = cls(open_db(target), target)
        try:
            store.db.execute("CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                             "applied TEXT NOT NULL)")
            if migrate:
                store.migrate()
            store.check_version()
        except BaseException:
            store.close()
            raise
        return store

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self, migrating: bool = False) -> Iterator[Db]:
        with self.db.transaction(migrating):
            yield self.db

    def applied(self) -> list[int]:
        return [int(r[0]) for r in self.db.execute("SELECT id FROM migrations ORDER BY id")]

    def check_version(self) -> None:
        newest = max(self.applied(), default=0)
        if newest > len(MIGRATIONS):
            raise ConfigError(f"the history database is at migration {newest}, and this linkcheck knows only "
                              f"{len(MIGRATIONS)}: it was written by a newer linkcheck; upgrade this one.")

    def migrate(self) -> list[str]:
        """Apply the migrations not applied yet; returns their names."""
        done = set(self.applied())
        names = []
        for number, (name, migration) in enumerate(MIGRATIONS, 1):
            if number in done:
                continue
            with self.transaction(migrating=True) as db:
                if db.execute("SELECT 1 FROM migrations WHERE id = ?", (number,)).fetchone():
                    continue  # another process applied it meanwhile
                migration(db)
                db.execute("INSERT INTO migrations (id, name, applied) VALUES (?, ?, ?)",
                           (number, name, stamp(now_utc())))
            names.append(name)
        return names

    # --- reading ---------------------------------------------------------------------------

    # CROSS JOIN keeps SQLite from scanning `outcomes` (all of history) to find the latest rows.
    _ROW = ("o.checked, (SELECT path FROM snapshots WHERE rowid = o.snapshot), o.status, o.link, o.http_status, "
            "o.failures, o.first_failed, "
            "o.text_hash, o.problems, d.data")

    def prior(self, source_id: str, window: int) -> Prior:
        row = self.db.execute(f"SELECT {self._ROW}, d.id FROM latest l CROSS JOIN outcomes o "
                              "USING (source_id, run_id) JOIN details d ON d.id = o.detail_id "
                              "WHERE l.source_id = ?", (source_id,)).fetchone()
        recent = tuple(h for (h,) in self.db.execute(
            "SELECT text_hash FROM versions WHERE source_id = ? ORDER BY last_seen DESC LIMIT ?", (source_id, window)))
        if row is None:
            return Prior(None, recent, 0, None)
        detail = unpacked(row[9])
        last = join_result(row[:9], detail)
        found = self.db.execute("SELECT url, etag, last_modified, quotes FROM validators WHERE source_id = ?",
                                (source_id,)).fetchone()
        return Prior(last, recent, row[5] if row[5] else 0, row[6], (row[10], detail),
                     Validator(*found) if found else None)

    def text(self, source_id: str, text_hash: str) -> str | None:
        """A stored main-text version."""
        row = self.db.execute("SELECT main_text FROM versions WHERE source_id = ? AND text_hash = ?",
                              (source_id, text_hash)).fetchone()
        return unpacked(row[0]) if row else None

    def snapshot_for_digest(self, source_id: str, digest: str) -> str | None:
        row = self.db.execute("SELECT path FROM snapshots WHERE source_id = ? AND payload_digest = ? "
                              "ORDER BY written DESC LIMIT 1", (source_id, digest)).fetchone()
        return row[0] if row else None

    def last_run(self) -> tuple[str, str] | None:
        """The last complete pass: a killed pass, or one over some sources only (`--only`), is partial."""
        row = self.db.execute("SELECT started, finished FROM runs WHERE partial = 0 ORDER BY id DESC LIMIT 1"
                              ).fetchone()
        return (row[0], row[1]) if row else None

    def history(self, source_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The source's results, newest first, each with the time it was checked."""
        return [join_result(row[:9], unpacked(row[9])) for row in self.db.execute(
            f"SELECT {self._ROW} FROM outcomes o JOIN details d ON d.id = o.detail_id WHERE o.source_id = ? "
            "ORDER BY o.run_id DESC LIMIT ?", (source_id, limit))]

    def timeline(self, source_id: str, since: str = "", limit: int = 200) -> list[dict[str, str]]:
        """The source's checked/status/link, newest first, from typed columns only (no detail read)."""
        return [{"checked": c, "status": s, "link": k} for c, s, k in self.db.execute(
            "SELECT checked, status, link FROM outcomes WHERE source_id = ? AND checked >= ? "
            "ORDER BY run_id DESC LIMIT ?", (source_id, since, limit))]

    def changes_since(self, source_id: str, since: str) -> list[dict[str, Any]]:
        """The source's results checked since `since` whose detail differs from the result before
        (drift, captures, quotes, messages): the only ones with news in them. Newest first."""
        return [join_result(row[:9], unpacked(row[9])) for row in self.db.execute(
            f"SELECT {self._ROW} FROM outcomes o JOIN details d ON d.id = o.detail_id "
            "WHERE o.source_id = ? AND o.checked >= ? AND o.detail_id IS NOT (SELECT p.detail_id FROM outcomes p "
            "WHERE p.source_id = o.source_id AND p.run_id < o.run_id ORDER BY p.run_id DESC LIMIT 1) "
            "ORDER BY o.run_id DESC", (source_id, since))]

    def latest_results(self) -> list[dict[str, Any]]:
        return [join_result(row[:9], unpacked(row[9])) for row in self.db.execute(
            f"SELECT {self._ROW} FROM latest l CROSS JOIN outcomes o USING (source_id, run_id) "
            "JOIN details d ON d.id = o.detail_id ORDER BY l.source_id")]

    def latest_waybacks(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each source's newest (url, `archive.wayback`), one detail at a time and nothing else of
        it: for `links`, which would otherwise hold every latest result at once."""
        for (blob,) in self.db.execute("SELECT d.data FROM latest l CROSS JOIN outcomes o USING (source_id, run_id) "
                                       "JOIN details d ON d.id = o.detail_id"):
            detail = json.loads(unpacked(blob))
            yield detail["url"], detail["archive"]["wayback"]

    def results_in_run(self, run_id: int, source_ids: Sequence[str], statuses: Sequence[str] = ()
                       ) -> dict[str, dict[str, Any]]:
        """The results pass `run_id` stored for `source_ids` (read by primary key), by source id;
        only those of `statuses` when given (the others' details are not read)."""
        marks = ", ".join("?" * len(source_ids))
        which = f" AND o.status IN ({', '.join('?' * len(statuses))})" if statuses else ""
        return {row[10]: join_result(row[:9], unpacked(row[9])) for row in self.db.execute(
            f"SELECT {self._ROW}, o.source_id FROM outcomes o JOIN details d ON d.id = o.detail_id "
            f"WHERE o.source_id IN ({marks}) AND o.run_id = ?{which}", (*source_ids, run_id, *statuses))}

    def count_in_run(self, run_id: int) -> int:
        """How many sources the newest pass has stored so far."""
        return int(self.db.execute("SELECT count(*) FROM latest WHERE run_id = ?", (run_id,)).fetchone()[0])

    def checked_in_run(self, run_id: int, source_ids: Sequence[str]) -> set[str]:
        """Which of `source_ids` already have their outcome of this pass (a retried job skips them)."""
        if not source_ids:
            return set()
        marks = ", ".join("?" * len(source_ids))
        return {r[0] for r in self.db.execute(
            f"SELECT source_id FROM outcomes WHERE run_id = ? AND source_id IN ({marks})", (run_id, *source_ids))}

    def latest_statuses(self) -> dict[str, str]:
        """Each source's newest status, without reading any detail."""
        return dict(self.db.execute("SELECT o.source_id, o.status FROM latest l CROSS JOIN outcomes o "
                                    "USING (source_id, run_id)").fetchall())

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

    def begin_run(self, started: str) -> int:
        """A pass's row, partial until `save_batch` is given its `RunEnd`: a killed pass stays partial."""
        with self.transaction() as db:
            row = db.execute("INSERT INTO runs (started, finished, total, ok, warning, broken, partial) "
                             "VALUES (?, ?, 0, 0, 0, 0, 1) RETURNING id", (started, started)).fetchone()
        return int(row[0])

    def save_batch(self, run_id: int, records: Sequence[Record], end: RunEnd | None = None) -> None:
        with self.transaction() as db:
            for rec in records:
                self._save(db, run_id, rec)
            if end is not None:
                db.execute("UPDATE runs SET finished = ?, total = ?, ok = ?, warning = ?, broken = ?, partial = ? "
                           "WHERE id = ?", (end.finished, *end.counts, int(end.partial), run_id))

    @staticmethod
    def _save(db: Db, run_id: int, rec: Record) -> None:
        source_id = rec.result["id"]
        if (s := rec.snapshot) is not None:
            db.execute("INSERT INTO snapshots (path, source_id, url, payload_digest, text_hash, written) "
                       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       (s.path, s.source_id, s.url, s.payload_digest, s.text_hash, s.written))
        typed, detail, snapshot = split_result(rec.result)
        detail_id = _detail_id(db, source_id, detail, rec.previous)
        db.execute(_OUTCOME, (source_id, run_id, rec.checked, *typed[:6], snapshot, typed[6], detail_id))
        db.execute(_LATEST, (source_id, run_id))
        if (v := rec.version) is not None:
            if v.main_text is None:
                db.execute("UPDATE versions SET last_seen = ? WHERE source_id = ? AND text_hash = ?",
                           (v.seen, v.source_id, v.text_hash))
            else:
                db.execute("INSERT INTO versions (source_id, text_hash, first_seen, last_seen, main_text) "
                           "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_id, text_hash) DO UPDATE SET "
                           "last_seen = excluded.last_seen", (v.source_id, v.text_hash, v.seen, v.seen, v.main_text))
        if (val := rec.validator) is not None:
            db.execute("INSERT INTO validators VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_id) DO UPDATE SET "
                       "url = excluded.url, etag = excluded.etag, last_modified = excluded.last_modified, "
                       "quotes = excluded.quotes",
                       (source_id, val.url, val.etag, val.last_modified, val.quotes))

    def prune_history(self, before: str) -> int:
        """Delete the results of passes started before `before` (never a source's newest one), the
        details only they used and the runs left empty. Text versions stay: every changed version is
        kept. Returns the number of results deleted."""
        with self.transaction() as db:
            keep = db.execute("SELECT coalesce(min(id), (SELECT max(id) + 1 FROM runs)) FROM runs "
                              "WHERE started >= ?", (before,)).fetchone()[0]
            if keep is None:
                return 0
            # Per source, a range of its primary key: no scan of all history.
            db.execute("CREATE TEMP TABLE doomed AS SELECT o.source_id, o.run_id, o.detail_id FROM latest l "
                       "CROSS JOIN outcomes o ON o.source_id = l.source_id AND o.run_id < l.run_id "
                       "AND o.run_id < ?", (keep,))
            db.execute("DELETE FROM outcomes WHERE (source_id, run_id) IN (SELECT source_id, run_id FROM doomed)")
            db.execute("DELETE FROM details WHERE id IN (SELECT detail_id FROM doomed) AND NOT EXISTS "
                       "(SELECT 1 FROM outcomes o WHERE o.source_id = details.source_id AND o.detail_id = details.id)")
            n = db.execute("SELECT count(*) FROM doomed").fetchone()[0]
            db.execute("DROP TABLE doomed")
            db.execute("DELETE FROM runs WHERE id < ? AND id < (SELECT max(id) FROM runs) AND id NOT IN "
                       "(SELECT run_id FROM latest)", (keep,))
        return int(n)

    def record_digest(self, written: str, path: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO digests (written, path) VALUES (?, ?)", (written, path))

    def forget_snapshots(self, removed: dict[str, str | None]) -> None:
        """Drop snapshot rows; results that pointed at them point at the kept copy instead."""
        with self.transaction() as db:
            db.execute("CREATE TEMP TABLE moved (old INTEGER PRIMARY KEY, new INTEGER)")
            db.executemany(f"INSERT INTO moved VALUES ({_SNAPSHOT_ID}, {_SNAPSHOT_ID})", removed.items())
            db.execute("UPDATE outcomes SET snapshot = (SELECT new FROM moved WHERE old = snapshot) "
                       "WHERE snapshot IN (SELECT old FROM moved)")  # one scan of history, not one per file
            db.executemany("DELETE FROM snapshots WHERE path = ?", [(path,) for path in removed])
            db.execute("DROP TABLE moved")
# Written in full (not INSERT OR REPLACE, which PostgreSQL lacks): a job retried after a worker died
# writes its source's outcome of the pass again, in place.
_OUTCOME = (f"INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {_SNAPSHOT_ID}, ?, ?) "
            "ON CONFLICT (source_id, run_id) "
            "DO UPDATE SET checked = excluded.checked, status = excluded.status, link = excluded.link, "
            "http_status = excluded.http_status, failures = excluded.failures, "
            "first_failed = excluded.first_failed, text_hash = excluded.text_hash, snapshot = excluded.snapshot, "
            "problems = excluded.problems, detail_id = excluded.detail_id")
