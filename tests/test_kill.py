"""A pass killed with SIGKILL at random moments leaves history intact: SQLite's integrity check
passes, and the next pass and `report` work."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import Server, page, run_subprocess, send, write_config

SOURCES = 300
KILLS = 15


def _start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "linkcheck", "check", "--config", str(config), "--format",
                             "json", "--wait", "30"], cwd=config.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_sigkill_at_random_moments_leaves_a_sound_history(server: Server, tmp_path: Path) -> None:
    version = {"n": 0}  # the pages change between passes, so every pass has versions and snapshots to write
    server.fallback = lambda h: send(h, 200, page(f"<p>The quoted words are here.</p><p>{h.path} "
                                                  f"edition {version['n']}</p>"))
    config = write_config(tmp_path, [{"id": f"s{i}", "url": server.url(f"/p/{i}"),
                                      "quotes": ["The quoted words are here."]} for i in range(SOURCES)],
                          fetch={"concurrency": 32, "per_host": 32})
    started = time.monotonic()
    first = _start(config)
    assert first.wait(120) in (0, 1)
    duration = time.monotonic() - started  # how long a whole pass takes here: the span to kill within
    rng = random.Random(11)
    for _ in range(KILLS):
        version["n"] += 1
        proc = _start(config)
        try:
            proc.wait(rng.uniform(0.05, duration))  # the random moment of the kill
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    db = sqlite3.connect(tmp_path / "linkcheck.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        # A complete pass has every source; a killed one stays partial (never the last pass).
        per_run = dict(db.execute("SELECT runs.id, count(*) FROM runs JOIN outcomes ON run_id = runs.id "
                                  "WHERE partial = 0 GROUP BY runs.id").fetchall())
        assert per_run and set(per_run.values()) == {SOURCES}
        assert db.execute("SELECT count(*) FROM runs WHERE partial = 0").fetchone()[0] == len(per_run)
    finally:
        db.close()
    done = run_subprocess(["check", "--config", str(config), "--format", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["summary"]["total"] == SOURCES and report["summary"]["internal_errors"] == 0
    assert {s["link"] for s in report["sources"]} == {"alive"}
    assert {q["match"] for s in report["sources"] for q in s["quotes"]} == {"exact"}
    done = run_subprocess(["report", "--config", str(config), "--format", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)
