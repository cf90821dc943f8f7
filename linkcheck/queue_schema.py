"""The job queue's tables (procrastinate's, beside history in PostgreSQL): created, upgraded and
checked by linkcheck, since procrastinate leaves tracking its schema to its users.

procrastinate ships the installed version's whole schema (`sql/schema.sql`) and, since its first
release, every change to it as a migration script, `sql/migrations/{xx.yy.zz}_{ab}_[pre_|post_]
what.sql`: a script named for version V is part of V's schema (3.4.0's schema.sql holds the
03.04.00 scripts, 3.0.2's does not), and the scripts sort in the order they apply (`pre` before
`post`: their serial numbers say so). procrastinate keeps no record of what was applied (it
dropped its version table in 0.5), so linkcheck records in `queue_schema` the procrastinate
version whose schema the database holds; `linkcheck migrate` applies the scripts after it, up to
the installed version, in one transaction, and a worker or `check --distribute` refuses a queue
older than the procrastinate it runs (it would fail on a missing column or function mid-pass).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .db import PostgresDb
from .durations import now_utc, stamp
from .errors import ConfigError
from .store import Store

if TYPE_CHECKING:
    import psycopg

Version = tuple[int, int, int]

# A queue linkcheck created before it kept this record was made by procrastinate 3.5 or later
# (the floor since linkcheck has a queue); the schema did not change from 3.5 to 3.10.
UNRECORDED: Version = (3, 5, 0)
_SCRIPT = re.compile(r"(\d+)\.(\d+)\.(\d+)_(\d+)_.*\.sql")
_TABLE = "CREATE TABLE IF NOT EXISTS queue_schema (version TEXT NOT NULL, applied TEXT NOT NULL, scripts TEXT NOT NULL)"


def parse_version(text: str) -> Version:
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
    if m is None:
        raise ValueError(f"not a version: {text!r}")
    return int(m[1]), int(m[2]), int(m[3])


def shown(version: Version) -> str:
    return ".".join(map(str, version))


def installed() -> Version:
    import procrastinate

    return parse_version(procrastinate.__version__)


def scripts_between(older: Version, newer: Version) -> list[Path]:
    """procrastinate's migration scripts that take its `older` schema to its `newer` one, in order."""
    from procrastinate.schema import SchemaManager

    found = []
    for path in Path(SchemaManager.get_migrations_path()).glob("*.sql"):
        m = _SCRIPT.fullmatch(path.name)
        if m is not None and older < (version := (int(m[1]), int(m[2]), int(m[3]))) <= newer:
            found.append((version, int(m[4]), path))
    return [path for *_, path in sorted(found)]


def recorded(store: Store) -> Version | None:
    """The procrastinate version whose schema the queue holds, as `migrate` recorded it."""
    if store.db.execute("SELECT to_regclass('queue_schema')").fetchone()[0] is None:
        return None
    versions = [parse_version(v) for (v,) in store.db.execute("SELECT version FROM queue_schema")]
    return max(versions, default=None)


def _has_queue(store: Store) -> bool:
    return store.db.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0] is not None


def migrate_queue(store: Store) -> list[str]:
    """Create the queue's tables, or bring them to the installed procrastinate's schema; what was
    done, one line each (nothing when the queue is up to date). One transaction: a script that
    fails leaves the queue (and the record) as they were."""
    assert isinstance(store.db, PostgresDb)  # the queue lives in a PostgreSQL history only
    conn, target = store.db.conn, installed()
    with store.transaction(migrating=True) as db:  # migrating: one `migrate` at a time
        db.execute(_TABLE)
        if not _has_queue(store):
            from procrastinate.schema import SchemaManager

            conn.execute(SchemaManager.get_schema())  # no parameters: run as the script it is
            done, scripts = [f"created the job queue's tables (procrastinate {shown(target)})"], []
        else:
            known = recorded(store)
            current = known or UNRECORDED
            if current >= target:
                return []
            scripts = scripts_between(current, target)
            for path in scripts:
                _apply(conn, path, current)
            done = [f"applied procrastinate migration {path.name}" for path in scripts]
            done.append(f"the job queue's schema is procrastinate {shown(target)}'s (was {shown(current)}'s"
                        + ("" if known else ", assumed for a queue created before linkcheck recorded it")
                        + ("" if scripts else "; no migration script in between") + ")")
        db.execute("INSERT INTO queue_schema (version, applied, scripts) VALUES (?, ?, ?)",
                   (shown(target), stamp(now_utc()), " ".join(p.name for p in scripts)))
    return done


def _apply(conn: psycopg.Connection[Any], path: Path, current: Version) -> None:
    import psycopg

    try:
        conn.execute(path.read_text(encoding="utf-8"))  # no parameters: run as the script it is
    except (psycopg.ProgrammingError, psycopg.IntegrityError, psycopg.DataError) as exc:
        raise ConfigError(f"procrastinate's migration {path.name} failed: {str(exc).strip()}. Nothing was changed "
                          f"(one transaction). The job queue is not procrastinate {shown(current)}'s schema as "
                          "recorded in its queue_schema table: bring it there, or correct the record.") from exc


def check_queue(store: Store, what: str) -> None:
    """Refuse (exit 2, as for history's own migrations) a queue `migrate` has not brought to the
    installed procrastinate's schema."""
    if not _has_queue(store):
        raise ConfigError(f"the history database has no job queue yet: run `linkcheck migrate` (once, from any "
                          f"machine) before {what}.")
    current, target = recorded(store) or UNRECORDED, installed()
    missing = scripts_between(current, target)
    if missing:
        raise ConfigError(f"the job queue's schema is procrastinate {shown(current)}'s, older than the installed "
                          f"procrastinate {shown(target)} ({len(missing)} migration script(s) to apply): run "
                          f"`linkcheck migrate` (once, from any machine) before {what}.")
