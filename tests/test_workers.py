"""`linkcheck worker` and `check --distribute` on a real PostgreSQL (see conftest's `postgres`):
a pass shared by worker processes, one of them killed mid-job, gives the verdicts of a local
SQLite pass with exactly one outcome per source; per_host holds across workers; a job of a newer
schema is refused; a worker waits for its database instead of exiting. Progress is followed by
polling the database or the logs under a deadline, never by sleeping a guessed time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import Server, check_json, page, run_cli, send, write_config
from fakewayback import NOW_TS, FakeWayback, Row

from linkcheck.config import load_config
from linkcheck.distribute import ARCHIVE, JOB_SCHEMA, QUEUE, TASK, queue_app, requeue_stalled

N = int(os.environ.get("LINKCHECK_CLUSTER_SOURCES", "300"))  # the 2,000: LINKCHECK_CLUSTER_SOURCES=2000
HELD = 12  # the source whose request hangs until the worker holding it has been killed


def _route(hold: threading.Event, held: threading.Event) -> Callable[[Any], None]:
    def route(h: Any) -> None:
        n = int(h.path.rsplit("/p", 1)[1])
        if n == HELD and not hold.is_set():
            held.set()
            hold.wait(60)
            return  # the worker that asked is dead by now
        if n % 10 == 3:
            send(h, 404, "gone")
        elif n % 10 == 7:
            send(h, 200, page("<main><p>This page says something else entirely.</p></main>"))
        else:
            send(h, 200, page(f"<main><p>Allies agree and conditions are met, number {n}.</p></main>"))
    return route


def _config(folder: Path, server: Server, database: str, n: int = N, **sections: dict[str, Any]) -> Path:
    folder.mkdir()
    sources = [{"id": f"s{i}", "url": server.url(f"/p{i}"), "quotes": [f"conditions are met, number {i}."]}
               for i in range(n)]
    workers = {"heartbeat": "1s", "stalled_after": "3s", "batch": 5} | sections.pop("workers", {})
    return write_config(folder, sources, history={"database": database}, workers=workers, **sections)


def _migrated(server: Server, folder: Path, postgres: str, n: int, capsys: pytest.CaptureFixture[str],
              **sections: dict[str, Any]) -> Path:
    """A config of `n` sources (none held) on a migrated PostgreSQL history."""
    hold = threading.Event()
    hold.set()
    server.fallback = _route(hold, threading.Event())
    config = _config(folder, server, postgres, n, **sections)
    assert run_cli(["migrate", "--config", str(config)], capsys)[0] == 0
    return config


def _verdicts(report: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {s["id"]: (s["status"], s["link"], tuple(q["match"] for q in s["quotes"]), tuple(s["problems"]),
                      s["drift"]["state"]) for s in report["sources"]}


def _entry(source: dict[str, Any]) -> dict[str, Any]:
    """A report entry without what differs between two passes of the same pages (times, files, and
    the line of the source in configs with other sections)."""
    archive = {k: v for k, v in source["archive"].items() if k != "snapshot"}
    return {k: v for k, v in source.items() if k not in ("first_failed", "archive", "line")} | {"archive": archive}


def _linkcheck(*args: str, log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen([sys.executable, "-m", "linkcheck", *args], cwd=cwd, stdout=subprocess.PIPE,
                                stderr=err)


def _until(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)  # polling interval, not synchronization: the loop ends on `check`


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(30)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def test_a_pass_shared_by_workers_one_killed_gives_the_local_verdicts(
        server: Server, tmp_path: Path, postgres: str, procs: list[subprocess.Popen[bytes]],
        capsys: pytest.CaptureFixture[str]) -> None:
    hold, held = threading.Event(), threading.Event()
    hold.set()  # the local pass is not held
    server.fallback = _route(hold, held)
    code, local = check_json(_config(tmp_path / "local", server, "linkcheck.db"), capsys)
    assert code == 1 and len(local["sources"]) == N

    hold.clear()
    shared = tmp_path / "shared-snapshots"  # one folder every worker writes to
    config = _config(tmp_path / "cluster", server, postgres, snapshots={"path": str(shared)})
    assert run_cli(["migrate", "--config", str(config)], capsys)[0] == 0
    logs = tmp_path / "cluster"
    procs.append(first := _linkcheck("worker", "--config", str(config), "--concurrency", "2",
                                     log=logs / "w1.log", cwd=logs))
    procs.append(coordinator := _linkcheck("check", "--config", str(config), "--distribute", "--format", "json",
                                           log=logs / "check.log", cwd=logs))
    assert held.wait(60), "the first worker never reached the held source"
    procs.append(second := _linkcheck("worker", "--config", str(config), log=logs / "w2.log", cwd=logs))
    first.kill()  # SIGKILL, mid-job: its job stays "doing" until its heartbeat is old enough
    first.wait(10)
    hold.set()
    procs.append(again := _linkcheck("worker", "--config", str(config), log=logs / "w1.log", cwd=logs))
    out, _ = coordinator.communicate(timeout=120)
    assert coordinator.returncode == 1, (logs / "check.log").read_text()
    cluster = json.loads(out)
    assert _verdicts(cluster) == _verdicts(local)
    assert [_entry(s) for s in cluster["sources"]] == [_entry(s) for s in local["sources"]]  # read back whole
    assert [s["id"] for s in cluster["sources"]] == [s["id"] for s in local["sources"]]
    assert cluster["summary"] == local["summary"]
    snapshots = [s["archive"]["snapshot"] for s in cluster["sources"] if s["link"] == "alive"]
    assert len(snapshots) == N * 9 // 10 and all(Path(p).parent.parent == shared and Path(p).exists()
                                                  for p in snapshots)
    with psycopg.connect(postgres) as db:
        run_id, partial = db.execute("SELECT id, partial FROM runs ORDER BY id DESC LIMIT 1").fetchone() or (0, 1)
        per_source = db.execute("SELECT count(*), count(DISTINCT source_id) FROM outcomes WHERE run_id = %s",
                                (run_id,)).fetchone()
    assert partial == 0 and per_source == (N, N)
    assert _stop(second) == 0 and _stop(again) == 0
    assert "stopped" in (logs / "w2.log").read_text()


def test_per_host_holds_across_workers(server: Server, tmp_path: Path, postgres: str,
                                       procs: list[subprocess.Popen[bytes]],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    lock = threading.Lock()
    inflight, peak = [0], [0]
    release = threading.Event()

    def slow(h: Any) -> None:
        with lock:
            inflight[0] += 1
            peak[0] = max(peak[0], inflight[0])
        release.wait(0.05)  # a slow server: each answer takes 50 ms
        with lock:
            inflight[0] -= 1
        send(h, 200, page("<main><p>conditions are met, number 0.</p></main>"))

    server.fallback = slow
    config = _config(tmp_path / "c", server, postgres, n=20, fetch={"per_host": 1},
                     workers={"batch": 2})
    assert run_cli(["migrate", "--config", str(config)], capsys)[0] == 0
    for i in range(2):
        procs.append(_linkcheck("worker", "--config", str(config), "--concurrency", "4",
                                log=tmp_path / f"w{i}.log", cwd=tmp_path))
    code, out, err = run_cli(["check", "--config", str(config), "--distribute", "--format", "json"], capsys)
    assert code == 1, err  # 19 of the 20 quotes are not on the page
    assert len(json.loads(out)["sources"]) == 20
    assert peak[0] == 1
    logs = (tmp_path / "w0.log").read_text() + (tmp_path / "w1.log").read_text()
    assert logs.count("job run=") >= 10  # 20 sources in jobs of 2 (one may run twice if a heartbeat is late)


def test_a_job_of_a_newer_schema_is_refused_and_kept(tmp_path: Path, postgres: str, server: Server,
                                                     procs: list[subprocess.Popen[bytes]],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path / "c", server, postgres, n=1)
    assert run_cli(["migrate", "--config", str(config)], capsys)[0] == 0

    async def defer() -> int:
        app = queue_app(postgres)
        async with app.open_async():
            return await app.configure_task(TASK, queue=QUEUE).defer_async(schema=99, run=1, sources=["s0"])

    job_id = asyncio.run(defer())
    log = tmp_path / "w.log"
    procs.append(worker := _linkcheck("worker", "--config", str(config), log=log, cwd=tmp_path))
    _until("the refusal", lambda: "job-refused" in log.read_text())
    assert _stop(worker) == 0
    assert f"the job's schema 99 is newer than this worker's {JOB_SCHEMA}: upgrade linkcheck" in log.read_text()
    with psycopg.connect(postgres) as db:
        status, attempts = db.execute("SELECT status, attempts FROM procrastinate_jobs WHERE id = %s",
                                      (job_id,)).fetchone() or ("", 0)
    assert (status, attempts) == ("todo", 1)  # back in the queue, for a newer worker
    assert server.requests == []


def test_the_archive_job_of_a_killed_worker_goes_back_to_the_queue(
        tmp_path: Path, postgres: str, server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    """Left "doing", it would hold the archive lock, and so every later pass's archive job."""
    config = _migrated(server, tmp_path / "c", postgres, 1, capsys)

    async def stalled_then_requeued() -> tuple[int, int]:
        app = queue_app(postgres)
        async with app.open_async():
            job_id = await app.configure_task(ARCHIVE, queue=QUEUE, lock=ARCHIVE).defer_async(schema=JOB_SCHEMA,
                                                                                                run=1)
            with psycopg.connect(postgres, autocommit=True) as db:  # taken by a worker since gone
                db.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL WHERE id = %s",
                           (job_id,))
            return job_id, await requeue_stalled(app, load_config(config))

    job_id, n = asyncio.run(stalled_then_requeued())
    with psycopg.connect(postgres) as db:
        status = db.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
    assert (n, status) == (1, ("todo",))


def test_a_worker_waits_for_its_database(tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write_config(tmp_path, [], history={"database": f"postgresql://nobody@127.0.0.1:{port}/none"})
    log = tmp_path / "w.log"
    procs.append(worker := _linkcheck("worker", "--config", str(config), log=log, cwd=tmp_path))
    _until("two attempts", lambda: log.read_text().count("database-unreachable") >= 2)
    assert worker.poll() is None  # still there, waiting
    assert "retry_in=1s" in log.read_text() and "retry_in=2s" in log.read_text()
    assert _stop(worker) == 0


@pytest.mark.parametrize("command", [["worker"], ["check", "--distribute"]])
def test_workers_need_a_postgresql_history(tmp_path: Path, command: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [])
    code, _, err = run_cli([*command, "--config", str(config)], capsys)
    assert code == 2 and "[history] database" in err and "PostgreSQL" in err
    assert not (tmp_path / "linkcheck.db").exists()  # refused before anything was opened


def test_two_daemons_run_each_scheduled_pass_once(server: Server, tmp_path: Path, postgres: str,
                                                   procs: list[subprocess.Popen[bytes]],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = _migrated(server, tmp_path / "c", postgres, 6, capsys, schedule={"check": "every 2s"})
    folder = config.parent
    procs.append(worker := _linkcheck("worker", "--config", str(config), log=folder / "w.log", cwd=folder))
    daemons = [_linkcheck("daemon", "--config", str(config), log=folder / f"d{i}.log", cwd=folder) for i in range(2)]
    procs.extend(daemons)

    def complete() -> int:
        with psycopg.connect(postgres) as db:
            return int((db.execute("SELECT count(*) FROM runs WHERE partial = 0").fetchone() or (0,))[0])

    _until("three scheduled passes", lambda: complete() >= 3)
    assert [_stop(d) for d in daemons] == [0, 0] and _stop(worker) == 0
    with psycopg.connect(postgres) as db:
        ticks = db.execute("SELECT args->>'timestamp', count(*) FROM procrastinate_jobs WHERE task_name = %s "
                           "GROUP BY 1", ("linkcheck.scheduled_pass",)).fetchall()
        runs = db.execute("SELECT count(*) FROM runs").fetchone()
    assert len(ticks) >= 3 and all(n == 1 for _, n in ticks)  # each tick deferred once, for both daemons
    assert runs is not None and runs[0] <= len(ticks)  # and each run by one daemon only
    logs = [(folder / f"d{i}.log").read_text() for i in range(2)]
    assert all("procrastinate periodic tasks" in log for log in logs)
    assert sum(log.count(" pass ") for log in logs) == complete()


def test_the_archive_work_of_a_distributed_pass_is_one_job(server: Server, tmp_path: Path, postgres: str,
                                                           procs: list[subprocess.Popen[bytes]],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    wayback = FakeWayback(Server())
    wayback.server.fallback = wayback.handle
    try:
        server.routes["/page"] = lambda h: send(h, 200, page("<p>Cited words.</p>"))
        server.routes["/gone"] = lambda h: send(h, 404, "gone")
        (tmp_path / "c").mkdir()
        config = write_config(tmp_path / "c", [{"id": "page", "url": server.url("/page")},
                                               {"id": "gone", "url": server.url("/gone")}],
                              archive={"wayback": True, "wayback_url": wayback.base, "lookups_per_minute": 6000,
                                       "saves_per_minute": 6000},
                              history={"database": postgres}, workers={"heartbeat": "1s", "stalled_after": "3s"})
        assert run_cli(["migrate", "--config", str(config)], capsys)[0] == 0
        for i in range(2):
            procs.append(_linkcheck("worker", "--config", str(config), log=tmp_path / f"w{i}.log", cwd=tmp_path))
        code, out, err = run_cli(["check", "--config", str(config), "--distribute", "--format", "json"], capsys)
        assert code == 1, err
        first = {s["id"]: s["archive"]["wayback"] for s in json.loads(out)["sources"]}
        assert first["page"]["state"] == "saved"  # the check job queued it; the pass waited for the archive job
        assert wayback.saves == [server.url("/page")]  # once, by one worker; never the dead page
        logs = (tmp_path / "w0.log").read_text() + (tmp_path / "w1.log").read_text()
        assert logs.count("archived run=") == 1  # one archive job, on one of the workers
        code, out, _ = run_cli(["check", "--config", str(config), "--distribute", "--format", "json"], capsys)
        second = {s["id"]: s["archive"]["wayback"] for s in json.loads(out)["sources"]}
        assert second["page"]["url"] == f"{wayback.base}/web/{NOW_TS}/{server.url('/page')}"  # the next pass shows it
        code, out, _ = run_cli(["links", "--config", str(config), "--format", "markdown"], capsys)
        assert f"/web/{NOW_TS}/{server.url('/page')}" in out
        assert wayback.saves == [server.url("/page")]  # and saves nothing again
    finally:
        wayback.server.close()


def test_a_distributed_pass_with_no_archive_leaves_the_archive_queue_alone(
        server: Server, wayback: FakeWayback, tmp_path: Path, postgres: str,
        procs: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]) -> None:
    """As a local pass with --no-archive: the workers queue no capture for a later archive job."""
    server.routes["/page"] = lambda h: send(h, 200, page("<p>Cited words.</p>"))
    (tmp_path / "c").mkdir()
    config = write_config(tmp_path / "c", [{"id": "page", "url": server.url("/page")}],
                          archive={"wayback": True, "wayback_url": wayback.base}, history={"database": postgres},
                          workers={"heartbeat": "1s", "stalled_after": "3s"})
    assert run_cli(["migrate", "--config", str(config)], capsys)[0] == 0
    procs.append(_linkcheck("worker", "--config", str(config), log=tmp_path / "w.log", cwd=tmp_path))
    code, out, err = run_cli(["check", "--config", str(config), "--distribute", "--no-archive", "--format", "json"],
                             capsys)
    assert code == 0, err
    [source] = json.loads(out)["sources"]
    assert source["archive"]["wayback"]["message"] == "archiving is off (--no-archive)"
    with psycopg.connect(postgres) as db:
        assert db.execute("SELECT count(*) FROM captures").fetchone() == (0,)


def _seed(wayback: FakeWayback, url: str) -> None:
    """A fresh archive holding one capture of `url`, made today, that lacks the page's quote."""
    wayback.rows, wayback.archived, wayback.saves, wayback.replays = {url: [Row(NOW_TS)]}, {}, [], []
    wayback.archived[(url, NOW_TS)] = "<p>What the page said before it was cited.</p>"


def test_a_distributed_pass_verifies_captures_as_a_local_pass_does(
        server: Server, wayback: FakeWayback, tmp_path: Path, postgres: str,
        procs: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]) -> None:
    quote = "Cited words."
    for name in ("saved", "kept"):
        server.routes[f"/{name}"] = lambda h: send(h, 200, page(f"<p>{quote}</p>"))
    server.routes["/gone"] = lambda h: send(h, 404, "gone")
    sources = [{"id": name, "url": server.url(f"/{name}"), "quotes": [quote]} for name in ("saved", "kept", "gone")]
    archive = {"wayback": True, "wayback_url": wayback.base, "lookups_per_minute": 6000, "saves_per_minute": 6000}
    reports, links = {}, {}
    for name, database in (("local", "linkcheck.db"), ("cluster", postgres)):
        _seed(wayback, server.url("/kept"))
        (tmp_path / name).mkdir()
        config = write_config(tmp_path / name, sources, archive=archive, history={"database": database},
                              workers={"heartbeat": "1s", "stalled_after": "3s"})
        if name == "cluster":
            assert run_cli(["migrate", "--config", str(config)], capsys)[0] == 0
            procs.append(_linkcheck("worker", "--config", str(config), log=tmp_path / "w.log", cwd=tmp_path))
        code, out, err = run_cli(["check", "--config", str(config), "--format", "json",
                                  *(["--distribute"] if name == "cluster" else [])], capsys)
        assert code == 1, err
        reports[name] = {s["id"]: s["archive"]["wayback"] for s in json.loads(out)["sources"]}
        links[name] = run_cli(["links", "--config", str(config), "--format", "markdown"], capsys)[1]
        assert wayback.saves == [server.url("/saved")] and len(wayback.replays) == 2
    cluster = reports["cluster"]
    assert cluster == reports["local"] and links["cluster"] == links["local"]
    assert cluster["saved"]["state"] == "saved" and cluster["saved"]["verified"] is True  # replayed: holds the quote
    assert cluster["kept"]["state"] == "existing" and cluster["kept"]["verified"] is False
    assert "lacks 1 of the quotes found live" in cluster["kept"]["message"]
    with psycopg.connect(postgres) as db:  # in history too, for `links`, the digest and `fix`
        verified: dict[str, int] = dict(db.execute("SELECT url, verified FROM captures "
                                                   "WHERE verified IS NOT NULL").fetchall())
        stored = db.execute("SELECT count(*) FROM capture_holds WHERE verified = 1").fetchone()
    assert verified == {server.url("/saved"): 1, server.url("/kept"): 0} and stored == (1,)
    assert f"/web/{NOW_TS}/{server.url('/saved')}" in links["cluster"]


def test_a_worker_cut_off_from_its_database_comes_back(server: Server, tmp_path: Path, postgres: str,
                                                       procs: list[subprocess.Popen[bytes]],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = _migrated(server, tmp_path / "c", postgres, 20, capsys)
    log = tmp_path / "w.log"
    procs.append(worker := _linkcheck("worker", "--config", str(config), log=log, cwd=tmp_path))
    _until("the worker", lambda: "started" in log.read_text())
    with psycopg.connect(postgres, autocommit=True) as db:  # the server drops every connection of the worker
        db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND pid <> pg_backend_pid()")
    code, out, err = run_cli(["check", "--config", str(config), "--distribute", "--format", "json"], capsys)
    assert code == 1, err
    assert len(json.loads(out)["sources"]) == 20
    text = log.read_text()  # it said so, started again on new connections, and did the work
    assert worker.poll() is None and "database-unreachable" in text and text.count(" started ") == 2
    assert _stop(worker) == 0


def test_a_result_read_back_from_history_is_the_report_entry() -> None:
    from linkcheck.models import Source
    from linkcheck.results import outcome_dict, outcome_from_dict

    entry = {
        "id": "a", "url": "https://example.org/a", "final_url": "https://example.org/a", "http_status": 200,
        "status": "broken", "link": "alive",
        "quotes": [{"text": "12 ships", "match": "altered", "score": 0.8, "found_text": "15 ships", "lost": False,
                    "kind": "quote", "changes": [{"quote": "12", "page": "15"}], "previous_text": "14 ships",
                    "passage_changes": [{"before": "14", "after": "15"}], "page": 3}],
        "drift": {"state": "changed", "similarity": 0.5, "quote_changes": [{"quote": "q", "before": "b", "after": "a"}],
                  "removed": ["old"], "added": ["new"]},
        "archive": {"wayback": {"state": "existing", "url": "https://web.archive.org/web/2026/x",
                                "timestamp": "20260101000000", "message": "", "verified": True},
                    "memento": {"url": "https://archive.today/x", "datetime": "Thu, 01 Jan 2026 00:00:00 GMT"},
                    "snapshot": "snapshots/a/x.warc.gz"},
        "problems": ["quote-altered", "content-changed"], "message": "The quoted passage differs.",
        "title": "", "cites": [], "line": 0, "cited_in": [], "text_hash": "h", "failures": 0, "first_failed": None,
        "encoding": "utf-8",
    }
    assert outcome_dict(outcome_from_dict(entry, Source("a", "https://example.org/a"))) == entry


def test_a_distributed_pass_without_workers_says_so_and_waits_for_one(
        server: Server, tmp_path: Path, postgres: str, procs: list[subprocess.Popen[bytes]],
        capsys: pytest.CaptureFixture[str]) -> None:
    config = _migrated(server, tmp_path / "c", postgres, 4, capsys)
    log = tmp_path / "check.log"
    procs.append(check := _linkcheck("check", "--config", str(config), "--distribute", "--format", "json",
                                     log=log, cwd=tmp_path))
    _until("the notice", lambda: "no worker is running: start `linkcheck worker" in log.read_text())
    assert check.poll() is None  # still waiting
    procs.append(worker := _linkcheck("worker", "--config", str(config), log=tmp_path / "w.log", cwd=tmp_path))
    out, _ = check.communicate(timeout=60)
    assert check.returncode == 1 and len(json.loads(out)["sources"]) == 4  # s3 is a 404
    assert log.read_text().count("no worker is running") == 1
    assert _stop(worker) == 0
