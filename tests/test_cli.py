"""The CLI as users, cron and CI meet it: formats, reports, exit codes, history safety."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from conftest import Server, by_id, check_json, page, run_cli, send, write_config

import linkcheck.cli
import linkcheck.pipeline

SCHEMA = json.loads((Path(linkcheck.pipeline.__file__).parent / "schema" / "report.schema.json").read_text())


def _wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_json_report_matches_schema_and_reports_are_written(server: Server, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page("<p>The quoted words are here.</p>"))
    server.routes["/gone"] = lambda h: send(h, 404, "x")
    config = write_config(tmp_path, [
        {"id": "a", "url": server.url("/a"), "quotes": ["The quoted words are here.", "Not on the page at all"]},
        {"id": "gone", "url": server.url("/gone"), "quotes": ["anything"]}])
    code, report = check_json(config, capsys)
    jsonschema.validate(report, SCHEMA)
    assert code == 1
    assert report["summary"] == {"total": 2, "ok": 0, "warning": 0, "broken": 2, "not_modified": 0,
                                 "internal_errors": 0}
    a = by_id(report)["a"]
    assert [q["match"] for q in a["quotes"]] == ["exact", "missing"]
    assert a["problems"] == ["quote-missing"]
    assert a["archive"]["snapshot"].startswith("snapshots/a/")
    assert a["encoding"] == "utf-8"
    assert (tmp_path / a["archive"]["snapshot"]).exists()
    assert by_id(report)["gone"]["quotes"][0]["match"] == "unverifiable"
    reports = tmp_path / "reports"
    assert json.loads((reports / "latest.json").read_text()) == report
    md = (reports / "latest.md").read_text()
    assert "| ❌ | [a](" in md and "Not on the page at all" in md
    assert "| local WARC |" in md  # the copy kept, though the Wayback is off
    assert "the nearest passage is not close: “The quoted words are here.”" in a["message"]
    assert len(list(reports.glob("*.md"))) == 2  # the timestamped one and latest.md
    assert not list(reports.glob(".*tmp"))


def test_json_on_stdout_is_the_report_written_unless_a_baseline_changes_it(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes["/gone"] = lambda h: send(h, 404, "x")
    config = write_config(tmp_path, [{"id": "gone", "url": server.url("/gone")}])
    checked = linkcheck.pipeline.run_pass
    after: list[Callable[[Path], None]] = []

    async def then(*args: object, **kw: object) -> object:  # the pass, then something done to its report file
        run = await checked(*args, **kw)  # type: ignore[arg-type]
        assert run.report is not None
        after.pop()(run.report)
        return run

    monkeypatch.setattr(linkcheck.pipeline, "run_pass", then)
    after.append(lambda report: report.write_text(report.read_text() + "printed from the file"))
    code, out, _ = run_cli(["check", "--config", str(config), "--format", "json"], capsys)
    assert code == 1 and out.endswith("printed from the file")  # the file is what is printed
    assert json.loads(out.removesuffix("printed from the file"))["summary"]["broken"] == 1

    baseline = tmp_path / "baseline.json"
    after.append(lambda report: None)
    assert run_cli(["check", "--config", str(config), "--write-baseline", str(baseline)], capsys)[0] == 0
    after.append(lambda report: None)
    code, out, _ = run_cli(["check", "--config", str(config), "--format", "json", "--baseline", str(baseline)],
                           capsys)
    newest = max((tmp_path / "reports").glob("2*.json"), key=lambda p: p.stat().st_mtime_ns)
    assert code == 0 and json.loads(out)["summary"]["broken"] == 0  # the baseline's view of the pass
    assert json.loads(newest.read_text())["summary"]["broken"] == 1  # the pass's own report

    after.append(Path.unlink)  # pruned before it is printed (by a pass ending meanwhile): rendered
    code, out, _ = run_cli(["check", "--config", str(config), "--format", "json"], capsys)
    assert code == 1 and [s["id"] for s in json.loads(out)["sources"]] == ["gone"]

    after.append(lambda report: None)  # a stream without bytes underneath (a caller's StringIO)
    with contextlib.redirect_stdout(io.StringIO()) as text:
        assert linkcheck.cli.main(["check", "--config", str(config), "--format", "json"]) == 1
    assert json.loads(text.getvalue())["summary"]["broken"] == 1


def test_text_output_is_readable(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page("<p>Allies agree and conditions are met.</p>"))
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": ["when allies agree"]}])
    code, out, _ = run_cli(["check", "--config", str(config)], capsys)
    assert code == 1
    assert out.startswith("BROKEN  a  [quote-altered]  ")  # the reason, not the link state [alive]
    assert "the page says: “Allies agree and conditions are met.”" in out
    assert "\033[" not in out  # no colour off a terminal
    assert "1 source: 0 ok, 0 warning, 1 broken" in out


def test_text_output_lists_only_problems_on_large_configs(server: Server, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page("<p>fine</p>"))
    sources = [{"id": f"s{i}", "url": server.url("/a")} for i in range(25)]
    sources.append({"id": "gone", "url": server.url("/gone")})
    code, out, _ = run_cli(["check", "--config", str(write_config(tmp_path, sources))], capsys)
    assert code == 1
    assert out.startswith("BROKEN  gone  [dead]")
    assert "OK " not in out
    assert "(25 sources ok and not listed" in out


def test_internal_error_exits_3_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, [{"id": "a", "url": "https://example.org/"}])

    async def boom(*args: object, **kw: object) -> None:
        raise RuntimeError("something impossible")

    monkeypatch.setattr(linkcheck.pipeline, "run_pass", boom)
    code, _, err = run_cli(["check", "--config", str(config)], capsys)
    assert code == 3
    assert err.count("\n") == 1 and "internal error" in err and "Traceback" not in err
    code, _, err = run_cli(["--debug", "check", "--config", str(config)], capsys)
    assert code == 3 and "Traceback" in err
    code, _, err = run_cli(["check", "--config", str(config), "--debug"], capsys)  # as the message suggests
    assert code == 3 and "Traceback" in err


def _hang_until(server: Server, release: list[bool]):  # type: ignore[no-untyped-def]
    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        while not release and not server.stopping.wait(0.05):
            pass
        send(h, 200, page("<p>slow but fine</p>"))
    return handler


def test_kill_9_mid_run_leaves_history_and_reports_intact(server: Server, tmp_path: Path) -> None:
    release: list[bool] = []
    server.routes["/fast"] = lambda h: send(h, 200, page("<p>fast</p>"))
    server.routes["/slow"] = _hang_until(server, release)
    config = write_config(tmp_path, [{"id": "fast", "url": server.url("/fast")},
                                     {"id": "slow", "url": server.url("/slow")}], fetch={"timeout": 60})
    release.append(True)
    first = subprocess.run([sys.executable, "-m", "linkcheck", "check", "--config", str(config)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 0, first.stderr
    latest = (tmp_path / "reports" / "latest.json").read_text()
    release.clear()
    n = len(server.requests)
    proc = subprocess.Popen([sys.executable, "-m", "linkcheck", "check", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: server.requests[n:].count("/slow") >= 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    db = sqlite3.connect(tmp_path / "linkcheck.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # The killed pass is there, but partial: the first pass is still the last complete one.
    assert db.execute("SELECT count(*) FROM runs WHERE partial = 0").fetchone()[0] == 1
    assert db.execute("SELECT partial FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0] == 1
    db.close()
    assert (tmp_path / "reports" / "latest.json").read_text() == latest
    release.append(True)
    third = subprocess.run([sys.executable, "-m", "linkcheck", "check", "--config", str(config),
                            "--format", "json"], capture_output=True, text=True, timeout=60, check=False)
    assert third.returncode == 0, third.stderr
    db = sqlite3.connect(tmp_path / "linkcheck.db")
    assert db.execute("SELECT count(*) FROM runs WHERE partial = 0").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM outcomes JOIN runs ON runs.id = run_id WHERE partial = 0"
                      ).fetchone()[0] == 4
    assert json.loads(third.stdout)["summary"]["ok"] == 2


def test_a_second_pass_on_the_same_config_declines_cleanly(server: Server, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    release: list[bool] = []
    server.routes["/slow"] = _hang_until(server, release)
    config = write_config(tmp_path, [{"id": "slow", "url": server.url("/slow")}], fetch={"timeout": 60})
    proc = subprocess.Popen([sys.executable, "-m", "linkcheck", "check", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: "/slow" in server.requests)
        code, _, err = run_cli(["check", "--config", str(config), "--wait", "0.3"], capsys)
        assert code == 4
        assert "another linkcheck pass" in err and str(proc.pid) in err
    finally:
        release.append(True)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    code, report = check_json(config, capsys)
    assert code == 0 and report["summary"]["ok"] == 1


def test_repo_sources_toml_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parent.parent
    code, _, err = run_cli(["validate", "--config", str(root / "sources.toml")], capsys)
    assert code == 0, err
    from linkcheck.config import load_config

    ids = {s.id for s in load_config(root / "sources.toml").sources}
    assert {"nato-communique", "bbc-japan", "zelensky-tweet", "reuters-japan", "mofa-japan-nato"} <= ids


def test_python_dash_m_works(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "linkcheck", "--version"], capture_output=True, text=True,
                          timeout=30, check=False, env=os.environ.copy())
    assert done.returncode == 0 and done.stdout.startswith("linkcheck ")


def test_a_busy_lock_names_the_folder_not_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from linkcheck.errors import LockBusy
    from linkcheck.lock import pass_lock

    monkeypatch.chdir(tmp_path)  # `linkcheck check` with the default ./sources.toml: its folder is "."
    with pass_lock(Path("."), 0), pytest.raises(LockBusy) as busy, pass_lock(Path("."), 0):
        pass
    assert f"is running on {tmp_path.resolve()};" in str(busy.value)
