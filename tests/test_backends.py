"""History on either backend: SQLite (the default) and PostgreSQL run the same migrations and
queries, and every command reads and writes them alike. Each test runs once per backend (the
`database` fixture); the PostgreSQL runs need LINKCHECK_TEST_POSTGRES (see conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, by_id, check_json, page, run_cli, send, write_config

from linkcheck.config import load_config
from linkcheck.errors import ConfigError
from linkcheck.store import MIGRATIONS, Record, RunEnd, Store

QUOTE = "Allies agree and conditions are met."


def test_every_command_works_on_the_backend(server: Server, tmp_path: Path, database: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    words = ["First version of the text.", 0]

    def a(h: Any) -> None:  # the same text each time, in different bytes (a new snapshot)
        send(h, 200, page(f"<main><p>{QUOTE}</p><p>{words[0]}</p></main><script>/*{words[1]}*/</script>"))
        words[1] = int(words[1]) + 1

    server.routes["/a"] = a
    server.routes["/gone"] = lambda h: send(h, 404, "gone")
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]},
                                     {"id": "gone", "url": server.url("/gone")}], history={"database": database})
    code, out, err = run_cli(["migrate", "--config", str(config)], capsys)
    assert code == 0, err
    queue = ["created the job queue's tables (procrastinate "] if database.startswith("postgresql") else []
    assert [line.split("3.")[0] for line in out.splitlines()] == \
        [f"applied migration {name}" for name, _ in MIGRATIONS] + queue
    assert run_cli(["migrate", "--config", str(config)], capsys)[1] == "the history database is up to date\n"
    code, first = check_json(config, capsys)
    assert code == 1 and by_id(first)["a"]["status"] == "ok" and by_id(first)["gone"]["link"] == "dead"
    snapshots = [by_id(first)["a"]["archive"]["snapshot"]]
    for _ in range(2):
        snapshots.append(by_id(check_json(config, capsys)[1])["a"]["archive"]["snapshot"])
    words[0] = "A second, rewritten version of the text of this page."
    code, last = check_json(config, capsys)
    assert by_id(last)["a"]["drift"]["state"] == "changed"
    snapshots.append(by_id(last)["a"]["archive"]["snapshot"])

    code, out, err = run_cli(["report", "--config", str(config), "--format", "json"], capsys)
    assert code == 0, err
    digest = json.loads(out)
    assert "a" in json.dumps(digest["changed"]) and "gone" in json.dumps(digest["broke"])
    code, out, err = run_cli(["status", "--config", str(config), "--format", "json"], capsys)
    assert out, err
    status = json.loads(out)
    assert code == 0 and status["counts"] == {"ok": 0, "warning": 1, "broken": 1}
    assert status["last_pass"] == last["finished"]
    code, out, _ = run_cli(["links", "--config", str(config), "--format", "markdown"], capsys)
    assert code == 0 and f"({server.url('/a')}) (no archived copy yet)" in out
    code, out, err = run_cli(["fix", "--config", str(config), "--dry-run"], capsys)
    assert code == 0, err  # reads the captures of the dead source's URL (it has none to offer)
    assert len(set(snapshots)) == 4
    code, out, _ = run_cli(["prune", "--config", str(config), "--keep", "1"], capsys)
    # Kept: the newest, and the first of each text; the two in between of the first text go.
    assert code == 0 and out == "removed 2 unchanged snapshots\n"
    assert {str(p.relative_to(tmp_path)) for p in (tmp_path / "snapshots" / "a").iterdir()} == \
        {snapshots[0], snapshots[3]}
    with Store.open(load_config(config).database) as store:
        assert [h["drift"]["state"] for h in store.history("a")] == ["changed", "unchanged", "unchanged", "new"]
        assert [r.path for r in store.snapshots() if r.source_id == "a"] == [snapshots[0], snapshots[3]]
        assert store.prune_history("9999") == 6  # all but each source's newest result
        assert [h["drift"]["state"] for h in store.history("a")] == ["changed"]


def _record(source_id: str, status: str) -> Record:
    result = {"id": source_id, "url": f"https://example.org/{source_id}", "status": status, "link": "alive",
              "http_status": 200, "quotes": [], "problems": [], "failures": 0, "first_failed": None,
              "text_hash": None, "message": "", "drift": {"state": "new"},
              "archive": {"wayback": {"state": "skipped"}, "snapshot": None}}
    return Record(result, "2026-11-29T00:00:00Z", None)


def test_a_source_written_twice_in_a_pass_has_one_outcome(tmp_path: Path, database: str) -> None:
    """What makes a retried job safe: the outcome of a (pass, source) is written in place."""
    target = tmp_path / database if database == "linkcheck.db" else database
    with Store.open(target) as store:
        run = store.begin_run("2026-11-29T00:00:00Z")
        store.save_batch(run, [_record("a", "ok"), _record("b", "ok")])
        store.save_batch(run, [_record("a", "broken")], RunEnd("2026-11-29T00:00:09Z", (2, 1, 0, 1)))
        assert store.db.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 2
        assert store.latest_statuses() == {"a": "broken", "b": "ok"}
        assert store.last_run() == ("2026-11-29T00:00:00Z", "2026-11-29T00:00:09Z")


def test_a_database_migrated_by_a_newer_linkcheck_is_refused(tmp_path: Path, database: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [], history={"database": database})
    with Store.open(load_config(config).database) as store:
        store.db.execute("INSERT INTO migrations (id, name, applied) VALUES (?, 'from-the-future', '')",
                         (len(MIGRATIONS) + 1,))
    with pytest.raises(ConfigError, match="newer linkcheck"):
        Store.open(load_config(config).database)
    code, _, err = run_cli(["status", "--config", str(config)], capsys)
    assert code == 2 and f"at migration {len(MIGRATIONS) + 1}" in err


@pytest.mark.parametrize("url", ["postgresql://linkcheck:s3cret@db.example/citations",
                                 "postgres://:s3cret@db.example/citations"])
def test_a_password_in_the_database_url_is_a_config_error(tmp_path: Path, url: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [], history={"database": url})
    code, _, err = run_cli(["validate", "--config", str(config)], capsys)
    assert code == 2
    assert "[history] database" in err and "PGPASSWORD" in err and "s3cret" not in err


def test_an_unreachable_postgresql_is_exit_5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write_config(tmp_path, [], history={"database": f"postgresql://nobody@127.0.0.1:{port}/none"})
    code, _, err = run_cli(["status", "--config", str(config)], capsys)
    assert code == 5 and "cannot reach the history database" in err


def test_snapshots_go_to_the_configured_folder(server: Server, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page(f"<main><p>{QUOTE}</p></main>"))
    common = tmp_path / "common-snapshots"
    (tmp_path / "c").mkdir()
    config = write_config(tmp_path / "c", [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}],
                          snapshots={"path": str(common)})
    _, report = check_json(config, capsys)
    path = Path(by_id(report)["a"]["archive"]["snapshot"])
    assert path.is_absolute() and path.parent == common / "a" and path.exists()
    assert not (tmp_path / "c" / "snapshots").exists()
    other = tmp_path / "file-url"  # a file:// URL is a folder too: written the same way, named by its path
    write_config(tmp_path / "c", [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}],
                 snapshots={"path": other.as_uri()})
    (tmp_path / "c" / "linkcheck.db").unlink()  # not the payload stored above: a new file
    _, report = check_json(config, capsys)
    path = Path(by_id(report)["a"]["archive"]["snapshot"])
    assert path.is_absolute() and path.parent == other / "a" and path.exists()


def test_one_pass_at_a_time_on_a_shared_postgresql_history(server: Server, tmp_path: Path, postgres: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Another machine's pass holds the database's pass lock: the file lock beside this config
    cannot see it, the history does."""
    import psycopg

    from linkcheck.db import PASS_LOCK

    server.routes["/a"] = lambda h: send(h, 200, page(f"<main><p>{QUOTE}</p></main>"))
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")}], history={"database": postgres})
    with psycopg.connect(postgres, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (PASS_LOCK,))
        code, _, err = run_cli(["check", "--config", str(config), "--wait", "0"], capsys)
        assert code == 4 and "another linkcheck pass is running on the history database" in err
    code, report = check_json(config, capsys)  # released with the other session
    assert code == 0 and by_id(report)["a"]["link"] == "alive"
