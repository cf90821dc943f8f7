"""`linkcheck migrate` keeps procrastinate's job queue at the installed procrastinate's schema, on
a real PostgreSQL (conftest's `postgres`).

An older queue is built from procrastinate's own files: its first script (`00.00.00_01_initial`)
and the migration scripts up to the older version are, together, that version's schema
(procrastinate's CI checks that they give its `schema.sql`). So the test needs no copy of an
old procrastinate: an honest 3.0.0 queue, upgraded by `migrate`, must end with exactly the
catalog of a queue created fresh from the installed `schema.sql`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import procrastinate
import psycopg
import pytest
from conftest import run_cli, write_config
from procrastinate.schema import SchemaManager

from linkcheck.store import Store

SCRIPTS = sorted(Path(SchemaManager.get_migrations_path()).glob("*.sql"))
OLD = "03.00.00"  # a queue as procrastinate 3.0.0 made it
# What the queue is made of, compared as sets: tables' columns, functions (bodies without
# layout), indexes, triggers, enum values in order, constraints.
CATALOG = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
               "WHERE table_schema = 'public' AND table_name LIKE 'procrastinate%'",
    "functions": "SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid), "
                 "md5(regexp_replace(p.prosrc, '\\s+', ' ', 'g')) FROM pg_proc p "
                 "WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'procrastinate%'",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
               "AND tablename LIKE 'procrastinate%'",
    "triggers": "SELECT tgname, tgrelid::regclass::text, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
    "enums": "SELECT t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e "
             "JOIN pg_type t ON t.oid = e.enumtypid GROUP BY 1",
    "constraints": "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text LIKE 'procrastinate%'",
}


def _catalog(url: str) -> dict[str, set[tuple[object, ...]]]:
    with psycopg.connect(url) as db:
        return {what: set(db.execute(query).fetchall()) for what, query in CATALOG.items()}


def _recorded(url: str) -> list[str]:
    with psycopg.connect(url) as db:
        return [v for (v,) in db.execute("SELECT version FROM queue_schema ORDER BY applied, version")]


def _old_queue(url: str, *also: str) -> None:
    """Procrastinate 3.0.0's queue, recorded as such (and the scripts `also`, applied by hand)."""
    with psycopg.connect(url, autocommit=True) as db:
        for path in SCRIPTS:
            if path.name[:8] <= OLD or path.name in also:
                db.execute(path.read_text(encoding="utf-8"))
        db.execute("CREATE TABLE queue_schema (version TEXT NOT NULL, applied TEXT NOT NULL, scripts TEXT NOT NULL)")
        db.execute("INSERT INTO queue_schema VALUES ('3.0.0', '2024-09-01T00:00:00Z', '')")


@pytest.fixture
def fresh(postgres: str) -> Iterator[str]:
    """A second empty database beside `postgres`."""
    name = f"linkcheck_fresh_{uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(postgres)._replace(path="/" + name))
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _migrate(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    folder = tmp_path / urlsplit(url).path.strip("/")
    folder.mkdir(exist_ok=True)
    config = write_config(folder, [], history={"database": url})
    code, out, err = run_cli(["migrate", "--config", str(config)], capsys)
    return code, out.splitlines(), err


def test_a_fresh_database_gets_the_whole_queue_and_its_record(postgres: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _migrate(tmp_path, postgres, capsys)
    assert code == 0 and f"created the job queue's tables (procrastinate {procrastinate.__version__})" in out
    assert _recorded(postgres) == [procrastinate.__version__]
    assert _migrate(tmp_path, postgres, capsys)[:2] == (0, ["the history database is up to date"])
    assert _recorded(postgres) == [procrastinate.__version__]


def test_an_older_queue_gets_exactly_the_newer_scripts(postgres: str, fresh: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _old_queue(postgres)
    assert _migrate(tmp_path, fresh, capsys)[0] == 0  # the installed schema.sql, for comparison
    assert _catalog(postgres) != _catalog(fresh)
    newer = [p.name for p in SCRIPTS if p.name[:8] > OLD]
    assert newer  # procrastinate changed its schema after 3.0.0: there is something to apply
    code, out, _ = _migrate(tmp_path, postgres, capsys)
    assert code == 0
    assert [line for line in out if "procrastinate migration" in line] == [
        f"applied procrastinate migration {name}" for name in newer]  # in order, no more, no less
    assert f"the job queue's schema is procrastinate {procrastinate.__version__}'s (was 3.0.0's)" in out
    assert _catalog(postgres) == _catalog(fresh)
    assert _recorded(postgres) == ["3.0.0", procrastinate.__version__]
    with psycopg.connect(postgres) as db:
        scripts = db.execute("SELECT scripts FROM queue_schema WHERE version = %s",
                             (procrastinate.__version__,)).fetchone()
    assert scripts == (" ".join(newer),)


@pytest.mark.parametrize("command", [["worker"], ["check", "--distribute"], ["daemon"]])
def test_workers_refuse_an_older_queue_until_migrate(postgres: str, tmp_path: Path, command: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [], history={"database": postgres})
    with Store.open(postgres):  # history itself is up to date: only the queue is old
        pass
    _old_queue(postgres)
    code, _, err = run_cli([*command, "--config", str(config)], capsys)
    assert code == 2
    assert (f"the job queue's schema is procrastinate 3.0.0's, older than the installed procrastinate "
            f"{procrastinate.__version__}") in err and "run `linkcheck migrate`" in err
    with psycopg.connect(postgres) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,)  # refused before a pass began
    assert run_cli(["migrate", "--config", str(config)], capsys)[0] == 0
    from linkcheck.queue_schema import check_queue

    with Store.open(postgres) as store:
        check_queue(store, "the test")  # accepted now


def test_a_queue_made_by_an_older_linkcheck_is_taken_as_3_5s(postgres: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Before `queue_schema`, linkcheck created the queue from procrastinate's schema.sql (3.5 or
    later): such a cluster keeps running, and `migrate` records it without touching it."""
    from linkcheck.queue_schema import UNRECORDED, check_queue, installed, scripts_between

    with Store.open(postgres) as store:
        store.db.execute(SchemaManager.get_schema())
        check_queue(store, "the test")  # accepted without a record
    before = _catalog(postgres)
    scripts = [p.name for p in scripts_between(UNRECORDED, installed())]  # none from 3.5 to 3.10
    code, out, _ = _migrate(tmp_path, postgres, capsys)
    assert code == 0 and out == [*(f"applied procrastinate migration {name}" for name in scripts),
                                 f"the job queue's schema is procrastinate {procrastinate.__version__}'s (was 3.5.0's, "
                                 "assumed for a queue created before linkcheck recorded it"
                                 + ("" if scripts else "; no migration script in between") + ")"]
    assert _recorded(postgres) == [procrastinate.__version__]
    assert scripts or _catalog(postgres) == before  # nothing to apply: the queue is left as it was


def test_a_failing_script_changes_nothing(postgres: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_hand = next(p.name for p in SCRIPTS if p.name.startswith("03.02.00_01"))
    _old_queue(postgres, by_hand)  # half an upgrade done by hand: the record says 3.0.0
    before = _catalog(postgres)
    code, _, err = _migrate(tmp_path, postgres, capsys)
    assert code == 2 and f"procrastinate's migration {by_hand} failed" in err and "Nothing was changed" in err
    assert _catalog(postgres) == before  # the 3.1.0 scripts it applied first were rolled back too
    assert _recorded(postgres) == ["3.0.0"]
