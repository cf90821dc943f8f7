"""The real daemon process, against loopback servers; every wait polls for an observable effect."""

from __future__ import annotations

import http.server
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Server, page, run_subprocess, send, write_config


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def runs(folder: Path) -> list[tuple[str, str]]:
    db_path = folder / "linkcheck.db"
    if not db_path.exists():
        return []
    db = sqlite3.connect(db_path, timeout=10)
    try:
        return db.execute("SELECT started, finished FROM runs WHERE partial = 0 ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


class Daemon:
    def __init__(self, config: Path, *extra: str) -> None:
        self.log = config.parent / "daemon.log"
        self.log_file = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "linkcheck", "daemon", "--config", str(config), *extra],
                                     stdout=subprocess.DEVNULL, stderr=self.log_file)

    def text(self) -> str:
        return self.log.read_text()

    def lines(self, event: str) -> list[str]:
        """Log lines of this event (plain format: `time event ...`)."""
        return [line for line in self.text().splitlines() if line.split(" ")[1:2] == [event]]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.log_file.close()
        return code


@pytest.fixture
def daemon_factory() -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(config: Path, *extra: str) -> Daemon:
        d = Daemon(config, *extra)
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        d.log_file.close()


def _site(server: Server) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page("<p>Allies agree and conditions are met.</p>"))
    server.routes["/b"] = lambda h: send(h, 200, page("<p>Second source.</p>"))


def test_passes_on_time_and_sigterm_exits_cleanly(server: Server, tmp_path: Path,
                                                  daemon_factory: Callable[..., Daemon]) -> None:
    _site(server)
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": ["Allies agree"]}],
                          schedule={"check": "every 1s", "report": "0 8 * * mon"})
    d = daemon_factory(config)
    wait_for(lambda: len(runs(tmp_path)) >= 4, what="four passes")
    code = d.stop()
    assert code == 0
    assert d.lines("stopped")
    done = runs(tmp_path)
    finished = [time.mktime(time.strptime(f, "%Y-%m-%dT%H:%M:%SZ")) for _, f in done]
    gaps = [b - a for a, b in itertools.pairwise(finished)]
    assert all(0 <= g <= 3 for g in gaps), gaps  # every ~1s, none skipped for long
    db = sqlite3.connect(tmp_path / "linkcheck.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM outcomes JOIN runs ON runs.id = run_id WHERE partial = 0"
                      ).fetchone()[0] == len(done)
    pass_lines = d.lines("pass")
    assert pass_lines and "ok=1" in pass_lines[0] and "seconds=" in pass_lines[0]


def test_json_logs_and_sighup_reload(server: Server, tmp_path: Path, daemon_factory: Callable[..., Daemon]) -> None:
    _site(server)
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")}], schedule={"check": "every 1s"})
    d = daemon_factory(config, "--log-format", "json")
    wait_for(lambda: len(runs(tmp_path)) >= 1, what="first pass")
    first = json.loads(d.text().splitlines()[0])
    assert first["event"] == "started" and first["check"] == "every 1s" and first["sources"] == 1
    wait_for(lambda: '"event": "pass"' in d.text(), what="the pass log line")
    done = next(json.loads(x) for x in d.text().splitlines() if json.loads(x)["event"] == "pass")
    assert isinstance(done["seconds"], float) and done["ok"] == 1 and done["broken"] == 0  # typed, not "1.2s"
    good = config.read_text()
    config.write_text(good + f'\n[[source]]\nid = "b"\nurl = "{server.url("/b")}"\n')
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "/b" in server.requests, what="the new source to be checked")
    config.write_text(good + '\n[[source]]\nid = "broken entry"\n')
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: any(json.loads(x)["event"] == "reload-failed" for x in d.text().splitlines()),
             what="the failed reload to be logged")
    n = len(runs(tmp_path))
    wait_for(lambda: len(runs(tmp_path)) >= n + 2, what="passes to go on with the old config")
    assert d.stop() == 0
    events = [json.loads(x) for x in d.text().splitlines()]
    failed = next(e for e in events if e["event"] == "reload-failed")
    assert "broken entry" in failed["message"] and "Keeping the previous config" in failed["message"]
    assert "Traceback" not in d.text()


def test_catch_up_after_downtime_runs_exactly_once(server: Server, tmp_path: Path,
                                                   daemon_factory: Callable[..., Daemon]) -> None:
    _site(server)
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")}], schedule={"check": "every 1h"})
    assert run_subprocess(["check", "--config", str(config)], tmp_path).returncode == 0
    db = sqlite3.connect(tmp_path / "linkcheck.db")
    with db:
        db.execute("UPDATE runs SET started = '2026-01-01T00:00:00Z', finished = '2026-01-01T00:00:05Z'")
        db.execute("INSERT INTO digests (written, path) VALUES ('2026-01-05T08:00:00Z', 'old.md')")  # weeks ago
    db.close()
    d = daemon_factory(config)
    wait_for(lambda: len(runs(tmp_path)) == 2, what="the catch-up pass")
    wait_for(lambda: bool(d.lines("pass")) and bool(d.lines("digest")), what="the pass and digest log lines")
    assert d.stop() == 0
    assert len(runs(tmp_path)) == 2
    catch_up = d.lines("catch-up")
    assert len(catch_up) == 2 and "2026-01-01T00:00:05Z" in catch_up[0] and "job=digest" in catch_up[1]
    assert len(list((tmp_path / "reports").glob("digest-*.md"))) == 1  # once, not once per missed week

    # Just after a pass, a restart catches nothing up.
    d2 = daemon_factory(config)
    wait_for(lambda: bool(d2.lines("started")), what="start")
    assert d2.stop() == 0
    assert len(runs(tmp_path)) == 2 and not d2.lines("catch-up")


def test_a_slow_pass_is_never_run_twice_at_once(server: Server, tmp_path: Path,
                                                daemon_factory: Callable[..., Daemon]) -> None:
    in_flight, peak, release = [0], [0], threading.Event()
    lock = threading.Lock()

    def slow(h: http.server.BaseHTTPRequestHandler) -> None:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        release.wait(20)
        with lock:
            in_flight[0] -= 1
        send(h, 200, page("<p>slow</p>"))

    server.routes["/slow"] = slow
    config = write_config(tmp_path, [{"id": "slow", "url": server.url("/slow")}],
                          fetch={"timeout": 30}, schedule={"check": "every 1s"})
    d = daemon_factory(config, "--grace", "20")
    wait_for(lambda: len(d.lines("pass-skipped")) >= 2, what="skipped passes while one is running")
    # cron's `linkcheck check` on the same config declines instead of running alongside
    other = run_subprocess(["check", "--config", str(config), "--wait", "0.2"], tmp_path)
    assert other.returncode == 4
    release.set()
    wait_for(lambda: len(runs(tmp_path)) >= 1, what="the slow pass to finish")
    assert d.stop() == 0
    assert peak[0] == 1
    assert "still running" in d.lines("pass-skipped")[0]


def test_sigterm_during_a_pass_finishes_it_within_grace_or_abandons_it(
        server: Server, tmp_path: Path, daemon_factory: Callable[..., Daemon]) -> None:
    release = threading.Event()
    server.routes["/hang"] = lambda h: (release.wait(30), send(h, 200, page("<p>late</p>")))  # type: ignore[func-returns-value]
    config = write_config(tmp_path, [{"id": "hang", "url": server.url("/hang")}],
                          fetch={"timeout": 60}, schedule={"check": "every 1h"})
    d = daemon_factory(config, "--grace", "1")
    wait_for(lambda: "/hang" in server.requests, what="the pass to start")
    started = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - started < 10
    release.set()
    assert d.lines("pass-abandoned") and runs(tmp_path) == []
    assert run_subprocess(["check", "--config", str(config)], tmp_path).returncode == 0  # history still usable


def test_weekly_digest_job_writes_its_file_and_notifies(server: Server, tmp_path: Path,
                                                        daemon_factory: Callable[..., Daemon]) -> None:
    _site(server)
    hooks: list[dict[str, object]] = []

    def hook(h: http.server.BaseHTTPRequestHandler) -> None:
        hooks.append(json.loads(h.rfile.read(int(h.headers["Content-Length"]))))
        send(h, 204, b"")

    server.routes["/hook"] = hook
    server.routes["/gone"] = lambda h: send(h, 404, "gone")
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")}, {"id": "gone", "url": server.url("/gone")}],
                          schedule={"check": "every 1h", "report": "every 2s"},
                          notify={"webhook": server.url("/hook")})
    d = daemon_factory(config)
    reports = tmp_path / "reports"
    wait_for(lambda: any(reports.glob("digest-*.html")), what="a digest file")
    wait_for(lambda: any(str(h["title"]).startswith("linkcheck digest") for h in hooks), what="the digest webhook")
    assert d.stop() == 0
    html = next(reports.glob("digest-*.html")).read_text()
    assert "<h2>What broke (1)</h2>" in html and "gone" in html
    problems = [h for h in hooks if h["title"] == "linkcheck: 1 citation needs a look"]
    assert len(problems) == 1 and problems[0]["type"] == "failure"
    assert "**gone** (broken: dead)" in str(problems[0]["message"]) and "/a" not in str(problems[0]["message"])
    broken = d.lines("broken")
    assert broken and "source=gone problems=dead" in broken[0] and "HTTP 404" in broken[0]


def test_failing_webhook_never_stops_the_daemon(server: Server, tmp_path: Path,
                                                daemon_factory: Callable[..., Daemon]) -> None:
    server.routes["/gone"] = lambda h: send(h, 404, "gone")
    server.routes["/hook"] = lambda h: send(h, 500, "hook broken")
    config = write_config(tmp_path, [{"id": "gone", "url": server.url("/gone")}],
                          schedule={"check": "every 1s"}, notify={"webhook": server.url("/hook")})
    d = daemon_factory(config)
    wait_for(lambda: bool(d.lines("notify-failed")), what="the notifier failure to be logged")
    n = len(runs(tmp_path))
    wait_for(lambda: len(runs(tmp_path)) >= n + 1, what="the next pass")
    assert d.stop() == 0
    assert "notification to json://127.0.0.1" in d.lines("notify-failed")[0]
    assert "500" in d.lines("notify-failed")[0]


def test_status_command(server: Server, tmp_path: Path) -> None:
    _site(server)
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")}], schedule={"check": "every 6h"})
    never = run_subprocess(["status", "--config", str(config)], tmp_path)
    assert never.returncode == 1 and "last pass: never" in never.stdout
    assert run_subprocess(["check", "--config", str(config)], tmp_path).returncode == 0
    fresh = run_subprocess(["status", "--config", str(config), "--format", "json"], tmp_path)
    data = json.loads(fresh.stdout)
    assert fresh.returncode == 0 and data["counts"] == {"ok": 1, "warning": 0, "broken": 0}
    assert data["overdue"] is False and data["next_due"] > data["last_pass"]
    db = sqlite3.connect(tmp_path / "linkcheck.db")
    with db:
        db.execute("UPDATE runs SET finished = '2026-01-01T00:00:00Z'")
    db.close()
    stale = run_subprocess(["status", "--config", str(config)], tmp_path)
    assert stale.returncode == 1 and "OVERDUE" in stale.stdout


def test_daemon_with_a_bad_config_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "sources.toml"
    bad.write_text("[schedule]\ncheck = \"sometimes\"\n")
    done = run_subprocess(["daemon", "--config", str(bad)], tmp_path, env=os.environ.copy())
    assert done.returncode == 2 and "[schedule] check" in done.stderr
