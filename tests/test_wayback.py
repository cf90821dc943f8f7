"""Wayback Machine archiving against a fake Wayback server reached through archive.wayback_url."""

from __future__ import annotations

import http.server
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from conftest import Server, by_id, check_json, page, run_cli, send, write_config

from linkcheck.archive.wayback import parse_link_memento

NOW_TS = datetime.now(UTC).strftime("%Y%m%d%H%M%S")


@dataclass
class FakeWayback:
    """CDX, availability, SPN v1 and SPN2 with job polling; behaviour set per test."""

    server: Server
    captures: dict[str, list[str]] = field(default_factory=dict)  # url -> timestamps
    save_mode: str = "ok"  # ok | 429 | 503 | hang | error200 | link-only
    cdx_mode: str = "ok"  # ok | 400 | hang
    saves: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    polls: int = 0

    @property
    def base(self) -> str:
        return self.server.url("")

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = parse_qs(parts.query)
        if parts.path == "/cdx/search/cdx":
            url = query["url"][0]
            self.lookups.append(url)
            if self.cdx_mode == "hang":
                self.server.stopping.wait(30)
                return
            if self.cdx_mode == "400":
                send(h, 400, "bad query", content_type="text/plain")
                return
            rows = [["timestamp", "original", "statuscode", "digest"]]
            rows += [[ts, url, "200", "XYZ"] for ts in sorted(self.captures.get(url, []))]
            send(h, 200, json.dumps(rows), content_type="application/json")
        elif parts.path == "/wayback/available":
            url = query["url"][0]
            self.lookups.append("available:" + url)
            ts = max(self.captures.get(url, [""]))
            snap = {"closest": {"available": True, "status": "200", "timestamp": ts,
                                "url": f"{self.base}/web/{ts}/{url}"}} if ts else {}
            send(h, 200, json.dumps({"url": url, "archived_snapshots": snap}), content_type="application/json")
        elif parts.path == "/save" and h.command == "POST":
            self.auth.append(h.headers.get("Authorization", ""))
            form = parse_qs(h.rfile.read(int(h.headers["Content-Length"])).decode())
            url = form["url"][0]
            self.saves.append(url)
            if self.save_mode == "error200":
                send(h, 200, json.dumps({"status": "error", "status_ext": "error:blocked-url",
                                         "message": "This URL is in the Save Page Now service block list."}),
                     content_type="application/json")
                return
            if self.save_mode == "429":
                send(h, 429, "Too Many Requests", content_type="text/plain")
                return
            send(h, 200, json.dumps({"url": url, "job_id": "spn2-abc123"}), content_type="application/json")
        elif parts.path.startswith("/save/status/"):
            self.polls += 1
            if self.polls < 2:
                send(h, 200, json.dumps({"status": "pending"}), content_type="application/json")
            else:
                send(h, 200, json.dumps({"status": "success", "timestamp": NOW_TS,
                                         "original_url": self.saves[-1]}), content_type="application/json")
        elif parts.path.startswith("/save/"):
            url = unquote(h.path[len("/save/"):])
            self.saves.append(url)
            if self.save_mode == "hang":
                self.server.stopping.wait(30)
            elif self.save_mode in ("429", "503"):
                send(h, int(self.save_mode), "busy", content_type="text/plain")
            elif self.save_mode == "link-only":
                older = f'<{self.base}/web/20200101000000/{url}>; rel="first memento"; datetime="x"'
                newer = f'<{self.base}/web/{NOW_TS}/{url}>; rel="memento"; datetime="y"'
                send(h, 200, "saved", {"Link": f'<{url}>; rel="original", {older}, {newer}'})
            else:
                self.captures.setdefault(url, []).append(NOW_TS)
                send(h, 200, "saved", {"Content-Location": f"/web/{NOW_TS}/{url}"})
        else:
            send(h, 404, "no such endpoint")


@pytest.fixture
def wayback() -> Iterator[FakeWayback]:
    s = Server()
    fake = FakeWayback(s)
    s.fallback = fake.handle
    yield fake
    s.close()


def _config(tmp_path: Path, server: Server, wayback: FakeWayback, **archive: object) -> Path:
    server.routes["/page"] = lambda h: send(h, 200, page("<p>Cited words.</p>"))
    server.routes["/fresh"] = lambda h: send(h, 200, page("<p>Already archived.</p>"))
    server.routes["/gone"] = lambda h: send(h, 404, "gone")
    return write_config(tmp_path, [{"id": "page", "url": server.url("/page")},
                                   {"id": "fresh", "url": server.url("/fresh")},
                                   {"id": "gone", "url": server.url("/gone")}],
                        archive={"wayback": True, "wayback_url": wayback.base, "lookups_per_minute": 6000,
                                 "saves_per_minute": 6000} | archive)


def test_save_when_missing_keep_fresh_never_submit_dead(server: Server, wayback: FakeWayback, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    wayback.captures[server.url("/fresh")] = [NOW_TS]
    wayback.captures[server.url("/gone")] = ["20190101000000"]
    config = _config(tmp_path, server, wayback)
    code, report = check_json(config, capsys)
    r = by_id(report)
    assert r["page"]["archive"]["wayback"]["state"] == "saved"
    assert r["page"]["archive"]["wayback"]["url"] == f"{wayback.base}/web/{NOW_TS}/{server.url('/page')}"
    assert r["fresh"]["archive"]["wayback"]["state"] == "existing"
    assert r["gone"]["archive"]["wayback"] == {"state": "existing", "timestamp": "20190101000000",
                                               "url": f"{wayback.base}/web/20190101000000/{server.url('/gone')}",
                                               "message": ""}
    assert wayback.saves == [server.url("/page")]  # never the dead page, never the fresh one
    assert code == 1  # the dead page, not archiving
    lookups = len(wayback.lookups)
    _, again = check_json(config, capsys)
    assert by_id(again)["page"]["archive"]["wayback"]["state"] == "existing"
    assert wayback.saves == [server.url("/page")]
    assert len(wayback.lookups) == lookups + 1  # fresh captures are remembered; only the dead page is looked up
    code, out, _ = run_cli(["links", "--config", str(config), "--format", "html"], capsys)
    date = f"{NOW_TS[:4]}-{NOW_TS[4:6]}-{NOW_TS[6:8]}"
    assert (f'<a href="{server.url("/page")}" data-versionurl="{wayback.base}/web/{NOW_TS}/{server.url("/page")}" '
            f'data-versiondate="{date}">') in out


def test_429_leaves_pending_then_retried_next_pass(server: Server, wayback: FakeWayback, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    wayback.save_mode = "429"
    config = _config(tmp_path, server, wayback)
    code, report = check_json(config, capsys)
    page_capture = by_id(report)["page"]["archive"]["wayback"]
    assert page_capture["state"] == "pending" and "429" in page_capture["message"]
    assert code == 1 and by_id(report)["page"]["status"] == "ok"
    code, out, _ = run_cli(["status", "--config", str(config)], capsys)
    assert "pending archive saves: 2" in out  # page and fresh
    wayback.save_mode = "ok"
    _, report = check_json(config, capsys)
    assert by_id(report)["page"]["archive"]["wayback"]["state"] == "saved"
    assert wayback.saves.count(server.url("/page")) == 2


def test_hanging_wayback_cannot_hold_the_pass(server: Server, wayback: FakeWayback, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    wayback.cdx_mode = "hang"
    config = _config(tmp_path, server, wayback, timeout="2s", request_timeout="30s")
    started = time.monotonic()
    code, report = check_json(config, capsys)
    assert time.monotonic() - started < 15
    states = {s["archive"]["wayback"]["state"] for s in report["sources"]}
    assert states == {"pending"}
    assert "deadline" in by_id(report)["page"]["archive"]["wayback"]["message"]
    assert code == 1 and by_id(report)["page"]["status"] == "ok"


def test_no_archive_sends_nothing(server: Server, wayback: FakeWayback, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, server, wayback)
    _, report = check_json(config, capsys, "--no-archive")
    assert wayback.server.requests == []
    assert {s["archive"]["wayback"]["state"] for s in report["sources"]} == {"skipped"}
    off = write_config(tmp_path, [{"id": "page", "url": server.url("/page")}],
                       archive={"wayback": False, "wayback_url": wayback.base})
    check_json(off, capsys)
    assert wayback.server.requests == []


def test_spn2_with_keys_polls_the_job(server: Server, wayback: FakeWayback, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYBACK_ACCESS_KEY", "key")
    monkeypatch.setenv("WAYBACK_SECRET_KEY", "secret")
    config = _config(tmp_path, server, wayback)
    _, report = check_json(config, capsys)
    capture = by_id(report)["page"]["archive"]["wayback"]
    assert capture["state"] == "saved" and capture["timestamp"] == NOW_TS
    assert wayback.auth and set(wayback.auth) == {"LOW key:secret"}
    assert wayback.polls >= 2


def test_spn2_error_in_200_is_failed_with_its_reason(server: Server, wayback: FakeWayback, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYBACK_ACCESS_KEY", "key")
    monkeypatch.setenv("WAYBACK_SECRET_KEY", "secret")
    wayback.save_mode = "error200"
    config = _config(tmp_path, server, wayback)
    _, report = check_json(config, capsys)
    page_result = by_id(report)["page"]
    assert page_result["archive"]["wayback"]["state"] == "failed"
    assert "error:blocked-url" in page_result["archive"]["wayback"]["message"]
    assert "archive-failed" in page_result["problems"] and page_result["status"] == "ok"


def test_availability_fallback_and_link_header(server: Server, wayback: FakeWayback, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    wayback.cdx_mode = "400"
    wayback.captures[server.url("/fresh")] = [NOW_TS]
    wayback.save_mode = "link-only"
    config = _config(tmp_path, server, wayback)
    _, report = check_json(config, capsys)
    r = by_id(report)
    assert r["fresh"]["archive"]["wayback"]["state"] == "existing"
    assert "available:" + server.url("/fresh") in wayback.lookups
    assert r["page"]["archive"]["wayback"]["url"] == f"{wayback.base}/web/{NOW_TS}/{server.url('/page')}"


def test_parse_link_memento_picks_the_newest_memento() -> None:
    link = ('<http://example.org/>; rel="original", '
            '<https://web.archive.org/web/20100101000000/http://example.org/>; rel="first memento"; '
            'datetime="Fri, 01 Jan 2010 00:00:00 GMT", '
            '<https://web.archive.org/web/20231127000000/http://example.org/>; rel="memento"; '
            'datetime="Mon, 27 Nov 2023 00:00:00 GMT", '
            '<https://web.archive.org/web/timemap/link/http://example.org/>; rel="timemap"')
    assert parse_link_memento(link) == "https://web.archive.org/web/20231127000000/http://example.org/"
    assert parse_link_memento('<http://example.org/>; rel="original"') is None
