"""The archive queue on its own: the SPN2 error taxonomy, default endpoints and rates, a
10,000-source backlog drained at the configured rate within the pass's deadline, and the
daemon's drain resuming a job between passes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import Server, check_json, page, run_subprocess, send, write_config
from fakewayback import FakeWayback
from hypothesis import given
from hypothesis import strategies as st

from linkcheck.archive.answers import (
    CAPTURED_TODAY,
    PERMANENT,
    TEMPORARY,
    Answer,
    Kind,
    cdx_newest,
    spn1_html,
    spn2_submit,
    spn_error,
)
from linkcheck.archive.queue import Queue
from linkcheck.archive.runner import Drain, Job, archive_all, enqueue
from linkcheck.archive.wayback import Wayback, availability_url, memento_url
from linkcheck.config import ArchiveSettings, load_config
from linkcheck.daemon import Daemon, Log
from linkcheck.durations import parse_stamp
from linkcheck.models import CaptureState, LinkState
from linkcheck.store import Store


@given(st.sampled_from(sorted(TEMPORARY | PERMANENT | {CAPTURED_TODAY, "error:max-daily-bandwidth-from-ip"})),
       st.text(max_size=80))
def test_spn2_error_taxonomy(ext: str, message: str) -> None:
    for answer in (spn_error({"status": "error", "status_ext": ext, "message": message}),
                   spn2_submit({"status": "error", "status_ext": ext, "message": message})):
        expected = Kind.RECENT if ext == CAPTURED_TODAY else Kind.FAILED if ext in PERMANENT else Kind.RETRY
        assert answer.kind is expected and ext in answer.message


@given(st.text(max_size=60))
def test_undocumented_errors_are_retried_not_dropped(tail: str) -> None:
    assert spn_error({"status": "error", "status_ext": "error:new-thing" + tail}).kind is Kind.RETRY


_ROW = st.tuples(st.from_regex(r"20[0-9]{12}", fullmatch=True),
                 st.sampled_from(["200", "-", "301", "404", "503"]),
                 st.sampled_from(["text/html", "warc/revisit", "application/pdf"]))


@given(st.lists(_ROW, max_size=12))
def test_cdx_newest_counts_revisits_and_skips_errors(rows: list[tuple[str, str, str]]) -> None:
    answer = [["timestamp", "original", "statuscode", "mimetype", "digest"],
              *[[ts, "https://a.example/", status, mime, "D"] for ts, status, mime in rows]]
    usable = [(ts, status == "-" or mime == "warc/revisit") for ts, status, mime in rows
              if status == "200" or status == "-" or mime == "warc/revisit"]
    newest = cdx_newest(answer if rows else [])
    assert (newest is None) == (not usable)
    if newest is not None:
        assert newest[0] == max(ts for ts, _ in usable)


def test_recorded_spn_answers_without_a_job() -> None:
    same = "The same snapshot had been made 4 minutes ago. You can make new capture of this URL after 1 hour."
    assert spn2_submit({"url": "https://a.example/", "job_id": None, "message": same}).kind is Kind.RECENT
    assert spn2_submit({"url": "https://a.example/", "job_id": "spn2-ab", "message": same}).job_id == "spn2-ab"
    html = '<script>\nspn.watchJob("spn2-9878e19ee26531d6415d4cfc93c52b9bf4341a39", "/_static/",6000);</script>'
    assert spn1_html(html) is not None and spn1_html(html).job_id == "spn2-9878e19ee26531d6415d4cfc93c52b9bf4341a39"  # type: ignore[union-attr]
    assert spn1_html("<p>Saving page</p>") is None


def test_default_endpoints_and_rates_are_the_documented_ones() -> None:
    real = ArchiveSettings()
    assert availability_url(real) == "https://archive.org/wayback/available"
    assert memento_url(real) == "https://timetravel.mementoweb.org/api/json"
    assert real.lookups_per_minute < 30  # the CDX server's hard limit is reported near 30/min
    mirror = replace(real, wayback_url="http://127.0.0.1:9")
    assert availability_url(mirror) == "http://127.0.0.1:9/wayback/available" and memento_url(mirror) == ""


def test_ten_thousand_sources_drain_at_the_configured_rate_within_the_deadline(wayback: FakeWayback,
                                                                               tmp_path: Path) -> None:
    settings = ArchiveSettings(wayback_url=wayback.base, timeout=2.0, request_timeout=5.0, lookups_per_minute=600,
                               saves_per_minute=600, retry_backoff=0.0)
    jobs = [Job(f"https://example.org/{i}", LinkState.ALIVE, False) for i in range(10_000)]
    store = Store.open(tmp_path / "h.db")

    async def archive() -> dict[str, object]:
        async with httpx.AsyncClient() as client:
            wayback = Wayback(client, settings, None)
            # Generous outer bound: the pass's own deadline (2 s) must end it long before.
            return dict(await asyncio.wait_for(archive_all(jobs, wayback, store, settings, datetime.now(UTC)), 60))

    try:
        captures = asyncio.run(archive())
        backlog = Queue(store).backlog()
    finally:
        store.close()
    states = [c.state for c in captures.values()]  # type: ignore[attr-defined]
    saved = states.count(CaptureState.SAVED)
    # Each item costs two paced lookups (empty CDX, then availability): 600/min over the
    # drain's share of 2 s allows at most 15 lookup slots, whatever the machine's speed.
    # A save in flight when the deadline struck may have reached the archive unrecorded: the
    # next drain's lookup finds that capture instead of saving again.
    assert len(wayback.lookups) <= 16 and 1 <= saved <= len(wayback.saves) <= min(saved + 4, 8)
    assert states.count(CaptureState.QUEUED) == 10_000 - saved == backlog.waiting


def test_the_daemon_drain_resumes_a_submitted_job(server: Server, wayback: FakeWayback, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYBACK_ACCESS_KEY", "key")
    monkeypatch.setenv("WAYBACK_SECRET_KEY", "secret")
    server.routes["/page"] = lambda h: send(h, 200, page("<p>Words.</p>"))
    path = write_config(tmp_path, [{"id": "page", "url": server.url("/page")}],
                        archive={"wayback": True, "wayback_url": wayback.base, "lookups_per_minute": 6000,
                                 "saves_per_minute": 6000, "job_timeout": "1s"})
    wayback.status_mode = "pending"
    _, report = check_json(path, capsys)
    assert report["sources"][0]["archive"]["wayback"]["state"] == "pending"
    wayback.status_mode = "ok"
    config = load_config(path)

    async def daemon_drain() -> None:  # what the daemon's interval job does between passes
        daemon = Daemon(path, config, Log("json"), 5)
        await daemon._drain_due()
        assert daemon.drain is not None
        await daemon.drain

    asyncio.run(daemon_drain())
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {"event": "archive-drain", "worked": 1} in [{k: v for k, v in e.items() if k != "time"} for e in logged]
    store = Store.open(config.db_path)
    try:
        row = Queue(store).get(server.url("/page"))
    finally:
        store.close()
    assert row is not None and row.state is CaptureState.SAVED and row.job_id is None
    assert wayback.saves == [server.url("/page")]  # polled, never submitted twice


def test_temporary_refusals_back_off_by_attempts(wayback: FakeWayback, tmp_path: Path) -> None:
    settings = ArchiveSettings(wayback_url=wayback.base, lookups_per_minute=6000, retry_backoff=600.0)
    url, now = "https://example.org/a", datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    wayback.cdx_mode = "429"
    store = Store.open(tmp_path / "h.db")

    async def drain_at(when: datetime) -> int:
        async with httpx.AsyncClient() as client:
            drain = Drain(Wayback(client, settings, None), Queue(store), settings, "k", clock=lambda: when)
            return await drain.run(time.monotonic() + 30)

    try:
        enqueue(Queue(store), {url: Job(url, LinkState.ALIVE, False)}, settings, "k", now)
        waits = []
        for _ in range(3):
            before = Queue(store).get(url)
            assert before is not None and asyncio.run(drain_at(parse_stamp(before.next_try or ""))) == 1
            after = Queue(store).get(url)
            assert after is not None and after.state is CaptureState.QUEUED and after.next_try
            waits.append((parse_stamp(after.next_try) - parse_stamp(before.next_try or "")).total_seconds())
            assert asyncio.run(drain_at(parse_stamp(after.next_try) - timedelta(seconds=1))) == 0  # not due yet
        assert waits == [600.0, 1200.0, 2400.0] and after.attempts == 3
        assert wayback.saves == []  # a lookup that failed never leads to a save
    finally:
        store.close()


def test_a_pass_over_ten_thousand_sources_keeps_its_deadline_while_the_queue_drains(
        server2: Server, tmp_path: Path) -> None:
    """The whole pass, 10,000 sources, archiving on: the pages are refused by policy (nothing to
    fetch, so the test stays quick) and only the fake archive on 127.0.0.2 may be reached. In a
    process of its own, so that its memory stays out of the test process."""
    fake = FakeWayback(server2)
    server2.fallback = fake.handle
    sources = [{"id": f"s{i}", "url": f"http://127.0.0.1:9/{i}"} for i in range(10_000)]
    config = write_config(tmp_path, sources, fetch={"allow_private": False, "allow_networks": ["127.0.0.2/32"]},
                          archive={"wayback": True, "wayback_url": fake.base, "timeout": "2s",
                                   "lookups_per_minute": 600, "retry_backoff": "0s"})
    done = run_subprocess(["check", "--config", str(config), "--format", "junit"], tmp_path)
    assert done.returncode == 0, done.stderr
    db = sqlite3.connect(tmp_path / "linkcheck.db")
    try:
        links = db.execute("SELECT link, count(*) FROM outcomes GROUP BY link").fetchall()
        states = dict(db.execute("SELECT state, count(*) FROM captures GROUP BY state").fetchall())
    finally:
        db.close()
    assert links == [("refused", 10_000)] and sum(states.values()) == 10_000
    worked = 10_000 - states["queued"]
    # 600 lookups a minute over the drain's 1.5 s: at most 15 (each item costs two, CDX then
    # availability), however fast the machine.
    assert 1 <= worked <= 8 and len(fake.lookups) <= 16 and fake.saves == []
    assert set(states) == {"queued", "skipped"}  # no capture anywhere; refused pages are never saved
    status = run_subprocess(["status", "--config", str(config), "--format", "json"], tmp_path)
    assert json.loads(status.stdout)["archive_queue"]["waiting"] == states["queued"]


def test_a_bug_while_archiving_one_url_costs_that_url_a_retry_not_the_drain(wayback: FakeWayback,
                                                                            tmp_path: Path) -> None:
    settings = ArchiveSettings(wayback_url=wayback.base, lookups_per_minute=6000, saves_per_minute=6000)
    urls = ["https://example.org/bad", "https://example.org/good"]
    store = Store.open(tmp_path / "h.db")

    class Flaky(Wayback):
        async def submit(self, url: str) -> Answer:
            if url.endswith("/bad"):
                raise KeyError("unexpected")
            return await super().submit(url)

    async def drain() -> int:
        async with httpx.AsyncClient() as client:
            return await Drain(Flaky(client, settings, None), Queue(store), settings, "k").run(time.monotonic() + 30)

    try:
        enqueue(Queue(store), {u: Job(u, LinkState.ALIVE, False) for u in urls}, settings, "k", datetime.now(UTC))
        assert asyncio.run(drain()) == 2
        bad, good = (Queue(store).get(u) for u in urls)
    finally:
        store.close()
    assert bad is not None and bad.state is CaptureState.QUEUED and "KeyError" in bad.message and bad.attempts == 1
    assert good is not None and good.state is CaptureState.SAVED
