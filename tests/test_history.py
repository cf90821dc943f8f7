"""Compact typed history: one row per source per pass, the detail only when it changed, old
results pruned after each pass, reports/ bounded, and reads that do not scan history."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, by_id, check_json, page, send, write_config
from hypothesis import given
from hypothesis import strategies as st

from linkcheck.db import SqliteDb
from linkcheck.models import CheckRun
from linkcheck.reporters.files import prune_reports, write_run_reports
from linkcheck.store import MIGRATIONS, Store, join_result, split_result

QUOTE = "Allies agree and conditions are met."


def _site(server: Server, words: list[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page(f"<main><p>{QUOTE}</p><p>{words[0]}</p></main>"))
    server.routes["/b"] = lambda h: send(h, 200, page("<main><p>A second source.</p></main>"))


def _count(db_path: Path, sql: str) -> int:
    db = sqlite3.connect(db_path)
    try:
        return int(db.execute(sql).fetchone()[0])
    finally:
        db.close()


def test_unchanged_passes_add_one_typed_row_per_source_and_no_detail(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = ["First version of the text."]
    _site(server, words)
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]},
                                     {"id": "b", "url": server.url("/b")}])
    db = tmp_path / "linkcheck.db"
    details = []
    for _ in range(4):
        code, report = check_json(config, capsys)
        assert code == 0
        details.append(_count(db, "SELECT count(*) FROM details"))
    assert _count(db, "SELECT count(*) FROM outcomes") == 8
    assert details == [2, 4, 4, 4]  # "new" on the first pass, then "unchanged": stored once, shared since
    store = Store.open(db)
    try:
        timeline = store.timeline("a")
        latest = {r["id"]: r for r in store.latest_results()}
        news = store.changes_since("a", "")
    finally:
        store.close()
    assert [r["status"] for r in timeline] == ["ok"] * 4
    assert {k: v for k, v in latest["a"].items() if k != "checked"} == by_id(report)["a"]
    assert [r["drift"]["state"] for r in news] == ["unchanged", "new"]  # passes 3 and 4 had no news
    words[0] = "A second, rewritten version of the text of this page."
    code, report = check_json(config, capsys)
    assert by_id(report)["a"]["drift"]["state"] == "changed"
    assert _count(db, "SELECT count(*) FROM details") == 5
    assert _count(db, "SELECT count(*) FROM versions WHERE source_id = 'a'") == 2


def test_old_results_are_pruned_after_a_pass_but_every_text_version_stays(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = ["First version of the text."]
    _site(server, words)
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}],
                          history={"keep": "30d", "reports_keep": 1})
    db = tmp_path / "linkcheck.db"
    check_json(config, capsys)
    words[0] = "Another text altogether, with other words in it."
    check_json(config, capsys)
    conn = sqlite3.connect(db)
    with conn:  # make both passes look two months old
        conn.execute("UPDATE outcomes SET checked = '2020-01-01T00:00:00Z'")
        conn.execute("UPDATE runs SET started = '2020-01-01T00:00:00Z', finished = '2020-01-01T00:00:00Z'")
    conn.close()
    code, _ = check_json(config, capsys)
    assert code == 0
    assert _count(db, "SELECT count(*) FROM outcomes") == 1  # only this pass's result is left
    assert _count(db, "SELECT count(*) FROM details") == 1
    assert _count(db, "SELECT count(*) FROM versions") == 2  # both texts kept
    assert _count(db, "SELECT count(*) FROM runs") == 1
    reports = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert len(reports) == 4 and "latest.json" in reports and "latest.md" in reports


def test_prune_reports_keeps_the_newest_and_latest(tmp_path: Path) -> None:
    stamps = [f"2026-11-0{d}T080000Z" for d in range(1, 6)]
    for s in stamps:
        for name in (f"{s}.md", f"{s}.json", f"digest-{s}.html"):
            (tmp_path / name).write_text("x")
    for name in ("latest.md", "latest.json", "digest-latest.html", "notes.txt"):
        (tmp_path / name).write_text("x")
    removed = prune_reports(tmp_path, 2)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(removed) == 9
    assert left == sorted(["latest.md", "latest.json", "digest-latest.html", "notes.txt",
                           *(f"{s}.{e}" for s in stamps[-2:] for e in ("md", "json")),
                           *(f"digest-{s}.html" for s in stamps[-2:])])


def test_passes_ending_in_the_same_second_keep_reports_of_their_own(tmp_path: Path) -> None:
    run = CheckRun("2026-11-01T08:00:00Z", "2026-11-01T08:00:09Z", [])
    first, second = write_run_reports(tmp_path, run), write_run_reports(tmp_path, run)
    assert (first.name, second.name) == ("2026-11-01T080009Z.json", "2026-11-01T080009Z_2.json")
    assert sorted([second.name, first.name]) == [first.name, second.name]  # listed by name, in order
    assert json.loads(first.read_text())["finished"] == json.loads(second.read_text())["finished"]
    for _ in range(3, 12):
        write_run_reports(tmp_path, run)
    prune_reports(tmp_path, 2)  # the newest are the last written: _11 and _10 (not _9, as text sorts them)
    assert sorted(p.name for p in tmp_path.glob("2026*")) == [
        f"2026-11-01T080009Z_{n}.{e}" for n in (10, 11) for e in ("json", "md")]
    # The names pruning freed are not taken again: such a report would be the oldest, pruned by its own pass.
    assert write_run_reports(tmp_path, run).name == "2026-11-01T080009Z_12.json"


@pytest.mark.parametrize("links", [True, False])
def test_latest_reports_outlive_the_pruning_of_their_pass_reports(tmp_path: Path, links: bool,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """latest.* are other names of the newest pass's reports (hard links; copies where the file
    system has none): each is replaced whole, and keeps its content once pruning deletes the
    timestamped file."""
    import os
    if not links:
        def no_links(*args: object) -> None:
            raise PermissionError("no hard links on this file system")
        monkeypatch.setattr(os, "link", no_links)
    runs = [CheckRun(f"2026-11-0{d}T08:00:00Z", f"2026-11-0{d}T08:00:09Z", []) for d in (1, 2)]
    for run in runs:
        newest = write_run_reports(tmp_path, run)
    prune_reports(tmp_path, 1)
    assert json.loads((tmp_path / "latest.json").read_text())["finished"] == "2026-11-02T08:00:09Z"
    assert (tmp_path / "latest.json").read_bytes() == newest.read_bytes()
    assert (tmp_path / "latest.md").read_bytes() == newest.with_suffix(".md").read_bytes()
    assert ((tmp_path / "latest.json").stat().st_ino == newest.stat().st_ino) is links
    prune_reports(tmp_path, 0)  # the pass's own files gone: latest.* remain whole
    assert not newest.exists()
    assert json.loads((tmp_path / "latest.json").read_text())["finished"] == "2026-11-02T08:00:09Z"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "latest.md"]


def test_a_latest_report_keeps_the_mode_a_user_gave_it(tmp_path: Path) -> None:
    """latest.json opened to a web server (chmod) stays so: the next pass copies its report there
    rather than linking the report, whose mode is the umask's."""
    write_run_reports(tmp_path, CheckRun("2026-11-01T08:00:00Z", "2026-11-01T08:00:09Z", []))
    latest = tmp_path / "latest.json"
    mode = latest.stat().st_mode & 0o777
    latest.chmod(mode ^ 0o004)  # other users' read permission, whatever the umask gave
    newest = write_run_reports(tmp_path, CheckRun("2026-11-02T08:00:00Z", "2026-11-02T08:00:09Z", []))
    assert latest.stat().st_mode & 0o777 == mode ^ 0o004 and newest.stat().st_mode & 0o777 == mode
    assert latest.read_bytes() == newest.read_bytes() and latest.stat().st_ino != newest.stat().st_ino
    assert (tmp_path / "latest.md").stat().st_ino == newest.with_suffix(".md").stat().st_ino  # untouched: linked


def test_snapshot_pages_go_with_the_digests_that_link_them(tmp_path: Path) -> None:
    """reports/pages/ holds the readable snapshot pages digests link (snapshot_page.write_pages):
    a page no kept digest links is deleted with its digests; one newer than every digest belongs
    to a digest being written and stays."""
    import os
    pages = tmp_path / "pages"
    pages.mkdir()
    stamps = [f"2026-11-0{d}T080000Z" for d in range(1, 4)]
    for n, s in enumerate(stamps):
        (pages / f"{s}-abc-src{n}.html").write_text("page")
        (tmp_path / f"digest-{s}.html").write_text(f'<a href="../reports/pages/{s}-abc-src{n}.html">saved copy</a>')
        (tmp_path / f"digest-{s}.md").write_text(f"[saved copy](https://desk.example/reports/pages/{s}-abc-src{n}.html)")
        (tmp_path / f"{s}.md").write_text("pass report")
    (pages / "shared-src9.html").write_text("page")  # linked by the oldest digest and by digest-latest
    (tmp_path / f"digest-{stamps[0]}.html").write_text('<a href="../reports/pages/shared-src9.html">x</a>')
    (tmp_path / "digest-latest.html").write_text('<a href="../reports/pages/shared-src9.html">x</a>')
    (pages / "in-the-making.html").write_text("page")
    newest = max(p.stat().st_mtime for p in tmp_path.iterdir())
    for saved in pages.iterdir():
        os.utime(saved, (newest - 60, newest - 60))
    os.utime(pages / "in-the-making.html", (newest + 60, newest + 60))
    removed = prune_reports(tmp_path, 1)
    assert sorted(p.name for p in pages.iterdir()) == sorted(
        [f"{stamps[-1]}-abc-src2.html", "shared-src9.html", "in-the-making.html"])
    assert pages / f"{stamps[0]}-abc-src0.html" in removed and pages / f"{stamps[1]}-abc-src1.html" in removed


def test_results_of_the_first_schema_are_migrated(tmp_path: Path) -> None:
    db = SqliteDb(tmp_path / "h.db")
    db.execute("CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL "
               "DEFAULT '')")
    MIGRATIONS[0][1](db)
    db.execute("INSERT INTO migrations (id, name) VALUES (1, 'initial')")
    results = []
    for run, status in enumerate(["ok", "ok", "broken"], 1):
        r = {"id": "a", "url": "https://example.org/a", "status": status, "link": "alive", "http_status": 200,
             "quotes": [], "drift": {"state": "unchanged", "similarity": 1.0}, "problems": [],
             "archive": {"wayback": {"state": "skipped"}, "snapshot": f"snapshots/a/{run}.warc.gz"},
             "message": "", "failures": 0, "first_failed": None, "text_hash": "h"}
        if status == "broken":
            r |= {"problems": ["quote-missing"], "message": "The quoted passage is not on the page."}
        results.append(r)
        db.execute("INSERT INTO runs (started, finished, total, ok, warning, broken) VALUES (?, ?, 1, 1, 0, 0)",
                   (f"2026-01-0{run}T00:00:00Z", f"2026-01-0{run}T00:00:01Z"))
        db.execute("INSERT INTO snapshots VALUES (?, 'a', 'https://example.org/a', ?, 'h', '2026')",
                   (r["archive"]["snapshot"], f"sha1:{run}"))
        db.execute("INSERT INTO results VALUES (?, 'a', ?, ?, ?, 'alive', 0, 'h', ?, ?)",
                   (run, "https://example.org/a", f"2026-01-0{run}T00:00:01Z", status,
                    r["archive"]["snapshot"], json.dumps(r)))
    db.close()
    store = Store.open(tmp_path / "h.db")
    try:
        news = store.changes_since("a", "")  # the second result differs from the first only in typed columns
        assert [{k: v for k, v in h.items() if k != "checked"} for h in news] == [results[2], results[0]]
        assert [r["status"] for r in store.timeline("a")] == ["broken", "ok", "ok"]
        assert store.latest_results()[0]["archive"]["snapshot"] == "snapshots/a/3.warc.gz"
        assert store.latest_statuses() == {"a": "broken"}
        assert store.db.execute("SELECT count(*) FROM details").fetchone()[0] == 2
        tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "results" not in tables
    finally:
        store.close()


def test_status_and_report_reads_use_indexes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "h.db")
    executed: list[str] = []
    assert isinstance(store.db, SqliteDb)
    try:
        store.db.conn.set_trace_callback(executed.append)
        store.latest_statuses()
        store.last_run()
        store.latest_results()
        store.prior("a", 5)
        store.timeline("a", "2026-01-01")
        store.changes_since("a", "2026-01-01")
        store.db.conn.set_trace_callback(None)
        plans = {sql: " | ".join(r[3] for r in store.db.execute(f"EXPLAIN QUERY PLAN {sql}",
                                                                  ("a", "2026", 5)[:sql.count("?")]))
                 for sql in executed}
    finally:
        store.close()
    assert len(plans) == 7
    for sql, plan in plans.items():
        assert "SCAN o" not in plan and "SCAN outcomes" not in plan and "SCAN runs" not in plan, (sql, plan)


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(status=st.sampled_from(["ok", "warning", "broken"]), problems=st.lists(st.sampled_from(
    ["dead", "quote-missing", "content-changed"]), unique=True), failures=st.integers(0, 9),
       message=_text, snapshot=st.none() | _text, first=st.none() | _text)
def test_split_and_join_give_back_the_report_entry(status: str, problems: list[str], failures: int, message: str,
                                                   snapshot: str | None, first: str | None) -> None:
    entry = {"id": "a", "url": "https://example.org/", "status": status, "link": "alive", "http_status": 200,
             "problems": problems, "failures": failures, "first_failed": first, "text_hash": None,
             "message": message, "archive": {"wayback": {"state": "skipped"}, "snapshot": snapshot}}
    typed, detail, snap = split_result(entry)
    joined = join_result(("2026-01-01T00:00:00Z", snap, *typed), detail)
    assert joined == entry | {"checked": "2026-01-01T00:00:00Z"}


def test_a_304_reuses_the_last_findings_without_reading_the_page(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[str | None] = []

    def etagged(h: Any) -> None:
        asked.append(h.headers.get("If-None-Match"))
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_response(304)
            h.send_header("ETag", '"v1"')
            h.end_headers()
        else:
            send(h, 200, page(f"<main><p>{QUOTE}</p></main>"), headers={"ETag": '"v1"'})

    server.routes["/a"] = etagged
    sources = [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}]
    config = write_config(tmp_path, sources)
    _, first = check_json(config, capsys)
    code, second = check_json(config, capsys)
    assert asked == [None, '"v1"']
    assert code == 0 and second["summary"]["not_modified"] == 1 and first["summary"]["not_modified"] == 0
    a1, a2 = by_id(first)["a"], by_id(second)["a"]
    assert a2["quotes"][0]["match"] == "exact" and a2["archive"]["snapshot"] == a1["archive"]["snapshot"]
    assert a2["text_hash"] == a1["text_hash"] and a2["drift"]["state"] == "unchanged"
    # Another quote: the last findings do not cover it, so the page is read again.
    config = write_config(tmp_path, [sources[0] | {"quotes": [QUOTE, "Allies agree"]}])
    _, third = check_json(config, capsys)
    assert asked[-1] is None and third["summary"]["not_modified"] == 0
    assert [q["match"] for q in by_id(third)["a"]["quotes"]] == ["exact", "exact"]


def test_a_304_keeps_an_altered_quote_altered_with_its_changes(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A page unchanged since a quote was found altered is not read again: the same findings,
    changes included, and no `quote-changed` (its passage did not change since the last pass)."""
    asked: list[str | None] = []

    def etagged(h: Any) -> None:
        asked.append(h.headers.get("If-None-Match"))
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_response(304)
            h.end_headers()
        else:
            send(h, 200, page("<main><p>Allies agree and 15 conditions are met.</p></main>"), headers={"ETag": '"v1"'})

    server.routes["/a"] = etagged
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"),
                                      "quotes": ["Allies agree and 12 conditions are met."]}])
    code1, first = check_json(config, capsys)
    code2, second = check_json(config, capsys)
    assert asked == [None, '"v1"'] and second["summary"]["not_modified"] == 1
    a1, a2 = by_id(first)["a"], by_id(second)["a"]
    assert code1 == code2 == 1 and a2["status"] == a1["status"] == "broken"
    assert a2["quotes"] == a1["quotes"] and a2["quotes"][0]["match"] == "altered"
    assert a2["quotes"][0]["changes"] == [{"quote": "12", "page": "15"}]
    assert a2["problems"] == a1["problems"] and "quote-changed" not in a2["problems"]


def test_a_304_keeps_a_page_without_text_unverified(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A page with no text to read (`no-text`, a warning) stays so when it has not changed: the
    same status a 200 of the same page gives, not an ok with its quotes unverifiable."""
    def etagged(h: Any) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_response(304)
            h.end_headers()
        else:
            send(h, 200, b"\x89PNG\r\n\x1a\n" + bytes(64), headers={"ETag": '"v1"'}, content_type="image/png")

    server.routes["/a"] = etagged
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}])
    _, first = check_json(config, capsys)
    _, second = check_json(config, capsys)
    a1, a2 = by_id(first)["a"], by_id(second)["a"]
    assert "no-text" in a1["problems"] and a1["status"] == "warning"
    assert a2["problems"] == a1["problems"] and a2["status"] == a1["status"] and a2["message"] == a1["message"]


def test_a_304_after_a_lost_quote_says_missing_as_a_200_would(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`quote-lost` is news of one pass (found on the last, missing now); the pass after, the same
    page says `quote-missing` whether the server sends it again or answers 304."""
    version = ["v1"]

    def etagged(h: Any) -> None:
        tag = f'"{version[0]}"'
        if h.headers.get("If-None-Match") == tag:
            h.send_response(304)
            h.end_headers()
        else:
            text = QUOTE if version[0] == "v1" else "Something else entirely is said here now."
            send(h, 200, page(f"<main><p>{text}</p></main>"), headers={"ETag": tag})

    server.routes["/a"] = etagged
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}])
    check_json(config, capsys)
    version[0] = "v2"
    _, lost = check_json(config, capsys)
    _, again = check_json(config, capsys)
    assert "quote-lost" in by_id(lost)["a"]["problems"]
    assert again["summary"]["not_modified"] == 1
    a = by_id(again)["a"]
    assert "quote-missing" in a["problems"] and "quote-lost" not in a["problems"] and not a["quotes"][0]["lost"]


def test_a_304_is_not_asked_with_the_validator_of_an_older_page(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The last findings are of the last page read: a page read since without an ETag makes the
    older ETag useless (a server honouring it would have the older page's findings taken for the
    newer's)."""
    asked: list[str | None] = []
    texts = [QUOTE, "Something else entirely is said here now.", QUOTE]

    def served(h: Any) -> None:
        asked.append(h.headers.get("If-None-Match"))
        n = len(asked) - 1
        if n == 2 and h.headers.get("If-None-Match") == '"v1"':  # the first page again, as it was then
            h.send_response(304)
            h.end_headers()
        else:
            send(h, 200, page(f"<main><p>{texts[n]}</p></main>"), headers={"ETag": '"v1"'} if n == 0 else {})

    server.routes["/a"] = served
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}])
    check_json(config, capsys)
    _, second = check_json(config, capsys)
    _, third = check_json(config, capsys)
    assert by_id(second)["a"]["quotes"][0]["match"] == "missing"
    assert asked == [None, '"v1"', None] and third["summary"]["not_modified"] == 0
    assert by_id(third)["a"]["quotes"][0]["match"] == "exact"


def test_rewriting_an_older_pass_leaves_latest_on_the_newer_one(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The archive job of a distributed pass rewrites its pass's results, maybe after a newer pass
    stored its own: readers keep seeing the newer pass."""
    from linkcheck.store import Record

    _site(server, ["Some words."])
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}])
    for _ in range(2):
        assert check_json(config, capsys)[0] == 0
    store = Store.open(tmp_path / "linkcheck.db")
    try:
        older = store.results_in_run(1, ["a"])["a"]
        store.save_batch(1, [Record(older | {"message": "Rewritten."}, older["checked"], None)])
        latest = store.db.execute("SELECT run_id FROM latest WHERE source_id = 'a'").fetchone()
        rewritten = store.results_in_run(1, ["a"])["a"]["message"]
    finally:
        store.close()
    assert latest == (2,) and rewritten == "Rewritten."
