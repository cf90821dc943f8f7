"""Wayback Machine archiving through whole passes, against a fake that answers as the real
archive does (tests/fakewayback.py), reached through archive.wayback_url."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import Server, by_id, check_json, page, run_cli, send, write_config
from fakewayback import BLOCKED, NOW_TS, SAME, FakeWayback, Row, job_of

import linkcheck.archive.wayback
import linkcheck.store
from linkcheck.archive.wayback import parse_link_memento
from linkcheck.reporters import jsonfmt

QUOTE = "Cited words."
SCHEMA = json.loads((Path(jsonfmt.__file__).parent.parent / "schema" / "report.schema.json").read_text())


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYBACK_ACCESS_KEY", "key")
    monkeypatch.setenv("WAYBACK_SECRET_KEY", "secret")


def _config(tmp_path: Path, server: Server, wayback: FakeWayback, **archive: object) -> Path:
    server.routes["/page"] = lambda h: send(h, 200, page(f"<p>{QUOTE}</p>"))
    server.routes["/fresh"] = lambda h: send(h, 200, page("<p>Already archived.</p>"))
    server.routes["/gone"] = lambda h: send(h, 404, "gone")
    return write_config(tmp_path, [{"id": "page", "url": server.url("/page"), "quotes": [QUOTE]},
                                   {"id": "fresh", "url": server.url("/fresh")},
                                   {"id": "gone", "url": server.url("/gone")}],
                        archive={"wayback": True, "wayback_url": wayback.base, "lookups_per_minute": 6000,
                                 "saves_per_minute": 6000, "retry_backoff": "0s"} | archive)


def _wb(report: dict[str, object], sid: str) -> dict[str, object]:
    wayback: dict[str, object] = by_id(report)[sid]["archive"]["wayback"]  # type: ignore[call-overload, index]
    return wayback


def test_save_when_missing_keep_fresh_never_submit_dead(server: Server, wayback: FakeWayback, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    wayback.rows[server.url("/fresh")] = [Row(NOW_TS)]
    wayback.archived[(server.url("/fresh"), NOW_TS)] = "<p>Already archived.</p>"
    wayback.rows[server.url("/gone")] = [Row("20190101000000")]
    wayback.archived[(server.url("/gone"), "20190101000000")] = "<p>What the page said.</p>"
    config = _config(tmp_path, server, wayback)
    code, report = check_json(config, capsys)
    assert _wb(report, "page")["state"] == "saved"
    assert _wb(report, "page")["url"] == f"{wayback.base}/web/{NOW_TS}/{server.url('/page')}"
    assert _wb(report, "page")["verified"] is True  # replayed, holds the quote found live
    assert _wb(report, "fresh")["state"] == "existing"
    assert _wb(report, "gone") == {"state": "existing", "timestamp": "20190101000000", "verified": True,
                                   "url": f"{wayback.base}/web/20190101000000/{server.url('/gone')}", "message": ""}
    assert wayback.saves == [server.url("/page")]  # never the dead page, never the fresh one
    assert code == 1  # the dead page, not archiving
    lookups, replays = len(wayback.lookups), len(wayback.replays)
    _, again = check_json(config, capsys)
    assert _wb(again, "page")["state"] == "saved" and _wb(again, "page")["verified"] is True
    assert wayback.saves == [server.url("/page")]
    assert len(wayback.lookups) == lookups  # settled captures are remembered: no request at all
    assert len(wayback.replays) == replays  # nor a second replay of a verified capture
    code, out, _ = run_cli(["links", "--config", str(config), "--format", "html"], capsys)
    date = f"{NOW_TS[:4]}-{NOW_TS[4:6]}-{NOW_TS[6:8]}"
    assert (f'<a href="{server.url("/page")}" data-versionurl="{wayback.base}/web/{NOW_TS}/{server.url("/page")}" '
            f'data-versiondate="{date}">') in out


def test_revisit_rows_count_as_captures(server: Server, wayback: FakeWayback, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    url = server.url("/page")
    wayback.rows[url] = [Row("20200101000000"), Row(NOW_TS, "-", "warc/revisit"), Row("20991231000000", "404")]
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    assert _wb(report, "page")["state"] == "existing" and _wb(report, "page")["timestamp"] == NOW_TS
    assert url not in wayback.saves


def test_request_deadline_is_request_timeout_not_a_client_default(server: Server, wayback: FakeWayback,
                                                                   tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    wayback.cdx_mode, wayback.delay = "slow", 5.5  # longer than httpx's 5 s default
    wayback.rows[server.url("/page")] = [Row(NOW_TS)]
    config = _config(tmp_path, server, wayback, request_timeout="20s", timeout="60s")
    config.write_text(config.read_text().split("[[source]]")[0] + "[[source]]" +
                      config.read_text().split("[[source]]")[1])  # the first source alone: one slow lookup
    _, report = check_json(config, capsys)
    assert _wb(report, "page")["state"] == "existing"


def test_failed_lookup_never_saves_blindly(server: Server, wayback: FakeWayback, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    wayback.cdx_mode = "429"
    config = _config(tmp_path, server, wayback)
    _, report = check_json(config, capsys)
    assert _wb(report, "page")["state"] == "queued" and "429" in str(_wb(report, "page")["message"])
    assert wayback.saves == []
    _, out, _ = run_cli(["status", "--config", str(config)], capsys)
    assert "pending archive saves: 3 (0 submitted; drains in under a minute at" in out
    wayback.cdx_mode = "ok"
    _, report = check_json(config, capsys)
    assert _wb(report, "page")["state"] == "saved"
    assert sorted(wayback.saves) == sorted([server.url("/page"), server.url("/fresh")])  # each once, dead never


def test_hanging_wayback_cannot_hold_the_pass(server: Server, wayback: FakeWayback, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    wayback.cdx_mode = "hang"
    config = _config(tmp_path, server, wayback, timeout="2s", request_timeout="30s")
    started = time.monotonic()
    code, report = check_json(config, capsys)
    assert time.monotonic() - started < 15
    assert {s["archive"]["wayback"]["state"] for s in report["sources"]} == {"queued"}
    jsonschema.validate(report, SCHEMA)
    assert "queued: no capture known yet" in str(_wb(report, "page")["message"])
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


def test_spn2_with_keys_polls_the_job(server: Server, wayback: FakeWayback, tmp_path: Path, keys: None,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    capture = _wb(report, "page")
    assert capture["state"] == "saved" and capture["timestamp"] == NOW_TS
    assert wayback.auth and set(wayback.auth) == {"LOW key:secret"}
    assert wayback.polls >= 2


def test_spn2_job_id_null_same_snapshot_is_a_recent_capture(server: Server, wayback: FakeWayback, tmp_path: Path,
                                                            keys: None, capsys: pytest.CaptureFixture[str]) -> None:
    wayback.save_mode = "same-null"
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    capture = _wb(report, "page")
    assert capture["state"] == "existing" and SAME in str(capture["message"])
    assert wayback.polls == 0  # never /save/status/None



def test_spn2_repeat_with_the_first_jobs_id_is_that_capture_not_a_new_one(server: Server, wayback: FakeWayback,
                                                                          tmp_path: Path, keys: None,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    wayback.save_mode = "same-job"
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    capture = _wb(report, "page")
    assert capture["state"] == "existing" and capture["timestamp"] == NOW_TS and SAME in str(capture["message"])
    assert wayback.polls >= 2  # the job id was followed to its capture


@pytest.mark.parametrize(("ext", "state"), [
    ("error:cannot-fetch", "queued"), ("error:no-browsers-available", "queued"),
    ("error:blocked-url", "failed"), ("error:too-many-daily-captures", "existing")])
def test_spn2_error_taxonomy_in_a_pass(server: Server, wayback: FakeWayback, tmp_path: Path, keys: None,
                                       capsys: pytest.CaptureFixture[str], ext: str, state: str) -> None:
    wayback.save_mode = ext
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    assert _wb(report, "page")["state"] == state and ext in str(_wb(report, "page")["message"])
    assert ("archive-failed" in by_id(report)["page"]["problems"]) is (state == "failed")
    assert by_id(report)["page"]["status"] == "ok"


def test_job_resumed_by_the_next_pass(server: Server, wayback: FakeWayback,
                                                                   tmp_path: Path, keys: None,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    wayback.status_mode = "pending"
    config = _config(tmp_path, server, wayback, job_timeout="1s")
    _, report = check_json(config, capsys)
    assert _wb(report, "page")["state"] == "pending"
    assert job_of(server.url("/page")) in str(_wb(report, "page")["message"])
    _, out, _ = run_cli(["status", "--config", str(config), "--format", "json"], capsys)
    assert '"submitted": 2' in out
    submitted = list(wayback.saves)
    wayback.status_mode = "ok"
    _, report = check_json(config, capsys)
    assert _wb(report, "page")["state"] == "saved"
    assert wayback.saves == submitted  # resumed by job id, not submitted again


@pytest.mark.parametrize(("ext", "state"), [("error:soft-time-limit-exceeded", "queued"),
                                            ("error:invalid-url-syntax", "failed")])
def test_job_error_while_polling(server: Server, wayback: FakeWayback, tmp_path: Path, keys: None,
                                 capsys: pytest.CaptureFixture[str], ext: str, state: str) -> None:
    wayback.status_mode = ext
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    assert _wb(report, "page")["state"] == state and ext in str(_wb(report, "page")["message"])


def test_cdx_exclusion_is_remembered_until_the_config_changes(server: Server, wayback: FakeWayback,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = server.url("/page")
    wayback.excluded.add(url)
    config = _config(tmp_path, server, wayback)
    _, report = check_json(config, capsys)
    assert _wb(report, "page")["state"] == "failed" and BLOCKED in str(_wb(report, "page")["message"])
    assert url not in wayback.saves and "archive-failed" in by_id(report)["page"]["problems"]
    looked = wayback.lookups.count(url)
    check_json(config, capsys)
    assert wayback.lookups.count(url) == looked  # no retry
    other = f'availability_url = "{wayback.base}/wayback/available"'  # same endpoint, new settings
    config.write_text(config.read_text().replace('retry_backoff = "0s"', f'retry_backoff = "0s"\n{other}'))
    check_json(config, capsys)
    assert wayback.lookups.count(url) == looked + 1


def test_empty_cdx_answer_asks_the_availability_api(server: Server, wayback: FakeWayback, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    wayback.available[server.url("/fresh")] = NOW_TS
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    assert _wb(report, "fresh")["state"] == "existing" and "available:" + server.url("/fresh") in wayback.lookups


@pytest.mark.parametrize(("mode", "state", "said"), [
    ("job-html", "saved", ""), ("same-html", "existing", "same snapshot"),
    ("runtime", "failed", "Blocked By Robots"), ("cached", "existing", "earlier capture of 20190101000000")])
def test_spn1_answers(server: Server, wayback: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                      mode: str, state: str, said: str) -> None:
    wayback.save_mode = mode
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    assert _wb(report, "page")["state"] == state and said in str(_wb(report, "page")["message"])
    if mode == "job-html":
        assert wayback.polls >= 2 and _wb(report, "page")["timestamp"] == NOW_TS


def test_replay_redirected_to_another_capture_is_not_verified(server: Server, wayback: FakeWayback,
                                                              tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    url = server.url("/page")
    wayback.rows[url] = [Row(NOW_TS)]  # just captured: replay still sends readers to an older one
    wayback.replay_redirect[(url, NOW_TS)] = "20200101000000"
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    capture = _wb(report, "page")
    assert capture["state"] == "existing" and capture["verified"] is False
    assert "redirects to the capture of 20200101000000" in str(capture["message"])
    config = tmp_path / "sources.toml"
    replays = len(wayback.replays)
    _, report = check_json(config, capsys)  # a capture made minutes ago is replayed again later
    assert len(wayback.replays) == replays + 1 and str(_wb(report, "page")["message"]).count("redirects") == 1
    del wayback.replay_redirect[(url, NOW_TS)]
    wayback.archived[(url, NOW_TS)] = f"<p>{QUOTE}</p>"
    _, report = check_json(config, capsys)
    assert _wb(report, "page")["verified"] is True and "not verified" not in str(_wb(report, "page")["message"])


def test_replay_redirected_within_the_same_capture_is_followed(server: Server, wayback: FakeWayback,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = server.url("/page")
    wayback.rows[url] = [Row(NOW_TS)]
    wayback.archived[(url.replace("http://", "https://"), NOW_TS)] = f"<p>{QUOTE}</p>"  # captured as https
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    assert _wb(report, "page")["verified"] is True and wayback.replays.count(NOW_TS) >= 2


def test_an_oversized_replay_is_not_read_whole(server: Server, wayback: FakeWayback, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linkcheck.archive.wayback, "MAX_ANSWER", 5_000)
    url = server.url("/page")
    wayback.rows[url] = [Row(NOW_TS)]
    wayback.archived[(url, NOW_TS)] = f"<p>{QUOTE}</p>" + "<p>filler</p>" * 1_000
    _, report = check_json(_config(tmp_path, server, wayback), capsys)
    assert _wb(report, "page")["state"] == "existing" and _wb(report, "page")["verified"] is None  # asked again later


def test_lost_quote_points_readers_at_the_capture_that_still_holds_it(server: Server, wayback: FakeWayback,
                                                                      tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    url, old = server.url("/page"), "20260101000000"
    live = {"body": f"<p>{QUOTE}</p>"}
    wayback.rows[url] = [Row(old)]
    wayback.archived[(url, old)] = f"<p>{QUOTE}</p>"
    config = _config(tmp_path, server, wayback, max_age="3650d")
    server.routes["/page"] = lambda h: send(h, 200, page(live["body"]))
    _, report = check_json(config, capsys)
    assert _wb(report, "page")["timestamp"] == old and _wb(report, "page")["verified"] is True
    live["body"] = wayback.live_body = "<p>The page says something else entirely now.</p>"
    _, report = check_json(config, capsys)
    assert by_id(report)["page"]["quotes"][0]["lost"] is True
    assert NOW_TS in wayback.archived_at(url)  # the changed page was archived too ...
    capture = _wb(report, "page")  # ... but readers are sent to the capture holding the quote
    assert capture["url"] == f"{wayback.base}/web/{old}/{url}" and capture["verified"] is True
    assert "still holds it" in str(capture["message"])
    with monkeypatch.context() as m:  # `links` reads each source's capture, not every whole result at once
        m.setattr(linkcheck.store.Store, "latest_results", lambda self: pytest.fail("read every whole result"))
        _, out, _ = run_cli(["links", "--config", str(config), "--format", "markdown"], capsys)
    assert f"{wayback.base}/web/{old}/{url}" in out and f"/web/{NOW_TS}/{url}" not in out
    _, digest, _ = run_cli(["report", "--config", str(config), "--format", "markdown"], capsys)
    assert f"/web/{old}/{url}" in digest and f"/web/{NOW_TS}/{url}" not in digest
    _, report = check_json(config, capsys)  # still missing on the next pass: still pointed there
    assert _wb(report, "page")["url"] == f"{wayback.base}/web/{old}/{url}"


def test_a_capture_lacking_a_missing_quote_is_not_shown_for_it(server: Server, wayback: FakeWayback,
                                                                tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    url = server.url("/page")
    wayback.rows[url] = [Row(NOW_TS)]
    wayback.archived[(url, NOW_TS)] = f"<p>{QUOTE}</p>"
    config = _config(tmp_path, server, wayback)
    config.write_text(config.read_text().replace(f'quotes = ["{QUOTE}"]', 'quotes = ["Words this page never had."]'))
    _, report = check_json(config, capsys)
    capture = _wb(report, "page")
    assert capture["url"] is None and "no capture known to hold" in str(capture["message"])
    _, out, _ = run_cli(["links", "--config", str(config), "--format", "markdown"], capsys)
    assert f"/web/{NOW_TS}/{url}" not in out and "no archived copy" in out


def test_dead_page_without_wayback_capture_gets_another_archives(server: Server, wayback: FakeWayback,
                                                                tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    gone = server.url("/gone")
    wayback.mementos[gone] = (f"https://archive.today/20200101000000/{gone}", "2020-01-01T00:00:00Z")
    config = _config(tmp_path, server, wayback, memento_url=f"{wayback.base}/timetravel")
    _, report = check_json(config, capsys)
    assert by_id(report)["gone"]["archive"]["memento"] == {
        "url": f"https://archive.today/20200101000000/{gone}", "datetime": "2020-01-01T00:00:00Z"}
    assert _wb(report, "gone")["state"] == "skipped" and "another web archive" in str(_wb(report, "gone")["message"])
    assert by_id(report)["page"]["archive"]["memento"] is None  # alive: no need to ask
    jsonschema.validate(report, SCHEMA)
    _, report = check_json(config, capsys)
    assert by_id(report)["gone"]["archive"]["memento"]["url"].startswith("https://archive.today/")


def test_parse_link_memento_picks_the_newest_memento() -> None:
    link = ('<http://example.org/>; rel="original", '
            '<https://web.archive.org/web/20100101000000/http://example.org/>; rel="first memento"; '
            'datetime="Fri, 01 Jan 2010 00:00:00 GMT", '
            '<https://web.archive.org/web/20231127000000/http://example.org/>; rel="memento"; '
            'datetime="Mon, 27 Nov 2023 00:00:00 GMT", '
            '<https://web.archive.org/web/timemap/link/http://example.org/>; rel="timemap"')
    assert parse_link_memento(link) == "https://web.archive.org/web/20231127000000/http://example.org/"
    assert parse_link_memento('<http://example.org/>; rel="original"') is None


def test_a_small_archive_backlog_drains_in_under_a_minute_not_in_0_min() -> None:
    from linkcheck.status import _minutes

    assert _minutes(0.2) == "under a minute"
    assert (_minutes(1.4), _minutes(120)) == ("about 1 min", "about 2.0 h")
