"""Small state bugs: capture rows under --no-archive, the schedule's time zone and day-of-week
steps, --only with --changed-since, partial runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Server, commit_all, page, run_cli, send, write_config

from linkcheck.config import load_config
from linkcheck.models import Capture, CaptureState
from linkcheck.schedule import next_after
from linkcheck.store import Store


def test_no_archive_leaves_capture_rows_alone(server: Server, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page("<p>Words.</p>"))
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")}], archive={"wayback": True})
    db = tmp_path / "linkcheck.db"
    store = Store.open(db)
    store.db.execute("INSERT INTO captures (url, state, capture_url, timestamp, checked, message, attempts) "
                     "VALUES (?, 'pending', NULL, NULL, '2026-11-01T00:00:00Z', 'save requested', 3)",
                     (server.url("/a"),))
    before = store.db.execute("SELECT * FROM captures").fetchall()
    store.close()
    code, out, err = run_cli(["check", "--config", str(config), "--no-archive", "--format", "json"], capsys)
    assert code == 0, err
    assert '"state": "skipped"' in out  # this pass reports it made no request ...
    store = Store.open(db)
    try:  # ... and history still knows the save that is pending
        assert store.db.execute("SELECT * FROM captures").fetchall() == before
        assert store.capture(server.url("/a")) == Capture(CaptureState.PENDING, None, None, "save requested")
    finally:
        store.close()


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe/Pariss", "../etc/passwd"])
def test_a_bad_timezone_is_a_config_error_naming_the_key(tmp_path: Path, zone: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [], schedule={"timezone": zone})
    code, _, err = run_cli(["validate", "--config", str(config)], capsys)
    assert code == 2
    assert "[schedule] timezone" in err and "unknown time zone" in err and "Traceback" not in err
    good = write_config(tmp_path, [], schedule={"timezone": "Asia/Tokyo"})
    assert load_config(good).schedule.timezone == "Asia/Tokyo"


@pytest.mark.parametrize(("dow", "days"), [
    ("*/2", {"Sun", "Tue", "Thu", "Sat"}),
    ("1-5/2", {"Mon", "Wed", "Fri"}),
    ("0/3", {"Sun", "Wed", "Sat"}),
    ("5,*/3", {"Fri", "Sun", "Wed", "Sat"}),
    ("1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
    ("0", {"Sun"}),
    ("7", {"Sun"}),
])
def test_cron_day_of_week_steps_fire_on_crons_days(dow: str, days: set[str]) -> None:
    when = datetime(2026, 11, 1, 12, tzinfo=UTC)  # a Sunday
    fired = set()
    for _ in range(14):
        when = next_after(f"0 8 * * {dow}", "UTC", when)
        fired.add(when.strftime("%a"))
    assert fired == days


def test_empty_only_and_changed_since_intersection_checks_nothing(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page("<p>a</p>"))
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")}, {"id": "b", "url": server.url("/a")}])
    commit_all(tmp_path, "sources", first=True)
    config.write_text(config.read_text().replace('id = "b"', 'id = "b"\ntitle = "Edited"'))
    code, out, err = run_cli(["check", "--config", str(config), "--only", "a", "--changed-since", "HEAD"], capsys)
    assert code == 0 and out == ""
    assert "none of the --only sources changed since HEAD; nothing checked" in err
    assert server.requests == []


def test_only_runs_are_partial_and_not_the_last_pass(server: Server, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page("<p>a</p>"))
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")}, {"id": "b", "url": server.url("/a")}])
    code, out, _ = run_cli(["status", "--config", str(config)], capsys)
    assert "last pass: never" in out
    assert run_cli(["check", "--config", str(config), "--only", "a"], capsys)[0] == 0
    code, out, _ = run_cli(["status", "--config", str(config)], capsys)
    assert "last pass: never" in out and code == 1
    store = Store.open(tmp_path / "linkcheck.db")
    try:
        assert store.db.execute("SELECT partial FROM runs").fetchall() == [(1,)]
        assert store.last_run() is None  # what the daemon's catch-up reads too
    finally:
        store.close()
    assert run_cli(["check", "--config", str(config)], capsys)[0] == 0
    code, out, _ = run_cli(["status", "--config", str(config)], capsys)
    assert "last pass: never" not in out and code == 0
