"""A pass no source can break: transport errors at the fetch boundary, honest deadlines."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Server, by_id, check_json, page, send, write_config
from rawserver import RawServer

from linkcheck.models import PageText


@pytest.fixture
def raw() -> Iterator[RawServer]:
    s = RawServer()
    yield s
    s.close()


def test_malformed_answers_are_unreachable_with_a_plain_message(
        raw: RawServer, server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw.answers.update({
        "/header": b"HTTP/1.1 200 OK\r\nBad Header Line\r\nContent-Length: 2\r\n\r\nhi",
        "/location": b"HTTP/1.1 302 Found\r\nLocation: http://[oops/x\r\nContent-Length: 0\r\n\r\n",
        "/short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhi",
        "/status": b"garbage\r\n\r\n",
    })
    server.routes["/fine"] = lambda h: send(h, 200, page("<p>Still checked.</p>"))
    sources = [{"id": p, "url": raw.url(f"/{p}")} for p in ("header", "location", "short", "status")]
    sources.append({"id": "fine", "url": server.url("/fine"), "quotes": ["Still checked."]})
    code, report = check_json(write_config(tmp_path, sources), capsys, "--no-archive")
    r = by_id(report)
    assert code == 0
    assert r["fine"]["link"] == "alive" and r["fine"]["quotes"][0]["match"] == "exact"
    for sid in ("header", "location", "short", "status"):
        assert r[sid]["link"] == "unreachable", r[sid]
        assert r[sid]["problems"] == ["unreachable"]
    assert "malformed header" in r["header"]["message"]
    assert "redirect target is not a valid URL" in r["location"]["message"]
    assert "broken body" in r["short"]["message"]
    assert "malformed HTTP answer" in r["status"]["message"]


def test_a_seven_second_page_is_alive_under_a_twenty_second_timeout(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def slow(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "28")
        h.end_headers()
        h.wfile.flush()
        server.stopping.wait(7)  # a server-side delay, longer than httpx's 5 s default
        h.wfile.write(b"<p>Slow but here, at last</p>"[:28])

    server.routes["/slow"] = slow
    config = write_config(tmp_path, [{"id": "slow", "url": server.url("/slow")}],
                          fetch={"timeout": 20, "recheck_pause": -1})
    _, report = check_json(config, capsys, "--no-archive")
    assert by_id(report)["slow"]["link"] == "alive", by_id(report)["slow"]["message"]


def test_waiting_for_a_host_slot_does_not_count_against_the_deadline(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock, state = threading.Lock(), {"served": 0}
    second_pair = threading.Event()

    def slow(h: http.server.BaseHTTPRequestHandler) -> None:
        with lock:
            state["served"] += 1
            if state["served"] >= 3:
                second_pair.set()
        server.stopping.wait(1.5)  # each page takes 1.5 s of a 2.5 s deadline
        send(h, 200, page("<p>ok</p>"))

    for i in range(4):
        server.routes[f"/s{i}"] = slow
    config = write_config(tmp_path, [{"id": f"s{i}", "url": server.url(f"/s{i}")} for i in range(4)],
                          fetch={"per_host": 2, "concurrency": 8, "timeout": 2.5, "recheck_pause": -1})
    _, report = check_json(config, capsys, "--no-archive")
    assert {s["id"]: s["link"] for s in report["sources"]} == {f"s{i}": "alive" for i in range(4)}
    assert second_pair.is_set()


def test_the_shared_client_is_never_capped_below_the_configured_deadlines() -> None:
    from linkcheck.config import FetchSettings
    from linkcheck.fetch import open_client

    async def timeouts(longest: float) -> httpx.Timeout:
        async with open_client(FetchSettings(timeout=20), longest) as client:
            return client.timeout

    archive = asyncio.run(timeouts(45))  # 45: the archive's per-request timeout
    assert archive.read == archive.connect == archive.pool == 45
    assert asyncio.run(timeouts(0)).read == 20


def test_a_bug_in_one_source_is_that_sources_internal_error_and_the_pass_goes_on(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import run_cli

    import linkcheck.analyse

    real_page_text = linkcheck.analyse.page_text

    def buggy(body: bytes, content_type: str) -> PageText | None:
        if b"BOOM" in body:
            raise KeyError("a bug only this page triggers")
        return real_page_text(body, content_type)

    monkeypatch.setattr(linkcheck.analyse, "page_text", buggy)
    server.routes["/bad"] = lambda h: send(h, 200, page("<p>BOOM</p>"))
    server.routes["/good"] = lambda h: send(h, 200, page("<p>Fine words.</p>"))
    config = write_config(tmp_path, [{"id": "bad", "url": server.url("/bad"), "quotes": ["BOOM"]},
                                     {"id": "good", "url": server.url("/good"), "quotes": ["Fine words."]}])
    code, report = check_json(config, capsys, "--no-archive")
    r = by_id(report)
    assert code == 0
    assert r["good"]["status"] == "ok" and r["good"]["quotes"][0]["match"] == "exact"
    assert r["bad"]["problems"] == ["internal-error"] and r["bad"]["status"] == "warning"
    assert r["bad"]["quotes"][0]["match"] == "unverifiable"
    assert "KeyError" in r["bad"]["message"] and "\n" not in r["bad"]["message"]
    assert report["summary"]["internal_errors"] == 1

    code, out, err = run_cli(["check", "--config", str(config), "--no-archive"], capsys)
    assert code == 0 and "Traceback" not in err + out
    assert "1 source(s) could not be checked because of an internal error" in out
    code, out, err = run_cli(["--debug", "check", "--config", str(config), "--no-archive"], capsys)
    assert "Traceback" in err and "a bug only this page triggers" in err


def test_the_daemon_log_carries_internal_error_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from linkcheck.daemon import Log, _LogHandler

    logger = logging.getLogger("linkcheck.test-daemon")
    handler = _LogHandler(Log("json"))
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("deep inside")
        except ValueError as exc:
            logger.error("internal error while checking %s", "src", exc_info=exc)
    finally:
        logger.removeHandler(handler)
    line = json.loads(capsys.readouterr().err)
    assert line["event"] == "internal-error" and "src" in line["message"]
    assert "ValueError: deep inside" in line["traceback"]


def test_a_bug_in_archiving_loses_neither_the_pass_nor_pending_saves(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from linkcheck.archive.session import ArchiveSession
    from linkcheck.store import Store

    def buggy(*args: object) -> None:
        raise AttributeError("a bug in the archive code")

    monkeypatch.setattr(ArchiveSession, "capture", buggy)
    server.routes["/a"] = lambda h: send(h, 200, page("<p>Words.</p>"))
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": ["Words."]}],
                          archive={"wayback": True})
    store = Store.open(tmp_path / "linkcheck.db")
    store.db.execute("INSERT INTO captures (url, state, checked, message) VALUES (?, 'pending', 'x', 'saving')",
                     (server.url("/a"),))
    store.close()
    code, report = check_json(config, capsys)
    src = by_id(report)["a"]
    assert code == 0 and src["status"] == "ok" and src["quotes"][0]["match"] == "exact"
    assert "archiving hit an internal error" in src["archive"]["wayback"]["message"]
    store = Store.open(tmp_path / "linkcheck.db")
    try:
        assert store.db.execute("SELECT state, message FROM captures").fetchall() == [("pending", "saving")]
    finally:
        store.close()
