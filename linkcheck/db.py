"""The history database's connection: SQLite (a file beside the config, the default) or
PostgreSQL (a `postgresql://` URL, psycopg 3), behind one small interface so that `store.py`
holds one set of queries and migrations for both.

The SQL is written once, in the subset both engines run (`INSERT ... ON CONFLICT`, `RETURNING`,
row values). What differs is translated here, and only this:

- placeholders: `?` (sqlite3) → `%s` (psycopg);
- in DDL: `INTEGER PRIMARY KEY` (SQLite's rowid alias) → an identity column, `BLOB` → `BYTEA`,
  `WITHOUT ROWID` dropped, and the tables that have an implicit rowid in SQLite get a `rowid`
  identity column (history points at snapshots by rowid, and lists them in its order);
- `CROSS JOIN ... USING`: in SQLite a join that keeps the written order (so that it reads the
  small `latest` table first); PostgreSQL plans joins itself and rejects a condition on a
  CROSS JOIN, so it gets a plain `JOIN`;
- `a IS NOT (subquery)`, SQLite's null-safe comparison, is `IS DISTINCT FROM` in PostgreSQL (which
  SQLite only reads since 3.39);
- transactions: `BEGIN IMMEDIATE` (one writer at a time) vs psycopg's transaction block;
  PostgreSQL takes an advisory lock around migrations so that workers starting together do
  not apply one twice.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import HistoryUnavailable, LockBusy

_MIGRATION_LOCK = 0x6C696E6B  # advisory lock keys of our own ("link", "pass")
PASS_LOCK = 0x70617373


class Rows(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """What the store needs from a connection."""

    dialect: str  # "sqlite" or "postgresql"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows: ...

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None: ...

    def script(self, ddl: str) -> None:
        """Run schema statements separated by `;` inside the current transaction."""

    def transaction(self, migrating: bool = False) -> Any:  # a context manager
        ...

    def pass_lock(self, wait: float) -> Any:
        """One pass at a time on this history (a context manager; raises LockBusy after `wait`)."""

    def close(self) -> None: ...


def is_postgres(target: Path | str) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def url_problem(url: str) -> str:
    """Why a PostgreSQL URL cannot be used in a config, or ""."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        return f"{url!r} is a malformed URL ({exc})"
    if parts.password is not None:
        return ("the URL holds a password; a config file is no place for one: give it in the PGPASSWORD "
                "environment variable or in ~/.pgpass, and write the URL as postgresql://user@host/db")
    missing = [name for name in ("psycopg", "procrastinate") if importlib.util.find_spec(name) is None]
    if missing:
        return (f"a PostgreSQL history needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                "not installed: pip install 'linkcheck-citations[postgresql]'")
    return ""


def open_db(target: Path | str) -> Db:
    return PostgresDb(str(target)) if is_postgres(target) else SqliteDb(Path(target))


def _statements(ddl: str) -> list[str]:
    return [s for s in ddl.split(";") if s.strip()]


class SqliteDb:
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, params)

    def script(self, ddl: str) -> None:
        for statement in _statements(ddl):  # executescript would commit the open transaction
            self.conn.execute(statement)

    @contextmanager
    def transaction(self, migrating: bool = False) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def pass_lock(self, wait: float) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # the file lock beside the config (lock.py) does it

    def close(self) -> None:
        self.conn.close()


@cache
def _pg_sql(sql: str) -> str:
    return (sql.replace("%", "%%").replace("?", "%s").replace("CROSS JOIN", "JOIN")
            .replace(" IS NOT (", " IS DISTINCT FROM ("))


_CREATE = re.compile(r"CREATE TABLE (\w+) \(")


def _with_rowid(ddl: str) -> str:
    """Give each table that has a rowid in SQLite (no INTEGER PRIMARY KEY, no WITHOUT ROWID) a
    `rowid` column in PostgreSQL: an identity, so it keeps SQLite's meaning (insertion order, a
    small key to point at). Last, so that positional INSERTs fill it by default."""
    out, at = [], 0
    for m in _CREATE.finditer(ddl):
        depth, end = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(ddl[end], 0)
            end += 1
        body, rest = ddl[m.end():end - 1], ddl[end:].lstrip()
        if "INTEGER PRIMARY KEY" not in body and not rest.startswith("WITHOUT ROWID"):
            out += [ddl[at:end - 1], ", rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE"]
            at = end - 1
    return "".join(out) + ddl[at:]


def _pg_ddl(ddl: str) -> str:
    return (_with_rowid(ddl).replace("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
            .replace("BLOB", "BYTEA").replace("WITHOUT ROWID", ""))


@contextmanager
def unreachable_as(url: str) -> Iterator[None]:
    """psycopg's "the server is gone" errors as HistoryUnavailable: not a bug, and not the fault of
    the source being checked (a worker's job is then run again, elsewhere or later)."""
    import psycopg

    try:
        yield
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HistoryUnavailable(f"cannot reach the history database {url}: {reason}") from exc


class PostgresDb:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg  # only PostgreSQL users pay for the import

        self.url = url
        with unreachable_as(url):
            # autocommit: a read is its own statement; writes are grouped by `transaction`.
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        with unreachable_as(self.url):
            return self.conn.execute(_pg_sql(sql), params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        with unreachable_as(self.url), self.conn.cursor() as cur:
            cur.executemany(_pg_sql(sql), params)

    def script(self, ddl: str) -> None:
        for statement in _statements(_pg_ddl(ddl)):
            self.execute(statement)

    @contextmanager
    def transaction(self, migrating: bool = False) -> Iterator[None]:
        with unreachable_as(self.url), self.conn.transaction():
            if migrating:
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            yield

    @contextmanager
    def pass_lock(self, wait: float) -> Iterator[None]:
        """Passes started on other machines (the file lock only sees this one): a session-level
        advisory lock, released by the server if this process dies."""
        deadline = time.monotonic() + wait
        while not self.execute("SELECT pg_try_advisory_lock(?)", (PASS_LOCK,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                raise LockBusy(f"another linkcheck pass is running on the history database {self.url} (on "
                               f"this machine or another); waited {wait:g}s. Try again when it has finished.")
            time.sleep(0.1)
        try:
            yield
        finally:
            self.execute("SELECT pg_advisory_unlock(?)", (PASS_LOCK,))

    def close(self) -> None:
        self.conn.close()
