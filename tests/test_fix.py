"""`linkcheck fix` and the publication workflow end to end: three articles (Markdown, HTML,
wikitext) sharing sources go through init → check → report → fix → check against 127.0.0.1
servers (the sources and a fake Wayback Machine)."""

from __future__ import annotations

import http.server
import json
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Server, page, run_cli, send
from hypothesis import given, settings
from hypothesis import strategies as st

from linkcheck.fix import Repair, _html_edit, _text_edit, _wiki_edit

TS = datetime.now(UTC).strftime("%Y%m%d%H%M%S")  # a fresh capture: no save is requested
DAY = f"{TS[:4]}-{TS[4:6]}-{TS[6:8]}"
R = Repair("http://h.example/pier", "http://wb.example/web/20230712000000/http://h.example/pier", "2023-07-12")
MD_LINK = " ([archived 2023-07-12](http://wb.example/web/20230712000000/http://h.example/pier))"

# name, editor, before, after
EDITS = [
    ("md-inline-link", lambda t: _text_edit(t, R, True),
     "Intro.\r\n\r\n[^1]: Harbour [Pier](http://h.example/pier)\r\n[^2]: Other http://h.example/pier2\r\n",
     f"Intro.\r\n\r\n[^1]: Harbour [Pier](http://h.example/pier){MD_LINK}\r\n[^2]: Other http://h.example/pier2\r\n"),
    ("md-autolink-and-bare", lambda t: _text_edit(t, R, True),
     "[1] Harbour <http://h.example/pier>\nSee http://h.example/pier.\n",
     f"[1] Harbour <http://h.example/pier>{MD_LINK}\nSee http://h.example/pier{MD_LINK}.\n"),
    ("md-definition-untouched", lambda t: _text_edit(t, R, True),
     "[pier]: http://h.example/pier\n", "[pier]: http://h.example/pier\n"),
    ("md-already-fixed", lambda t: _text_edit(t, R, True),
     f"[1] [Pier](http://h.example/pier){MD_LINK}\n", f"[1] [Pier](http://h.example/pier){MD_LINK}\n"),
    ("text", lambda t: _text_edit(t, R, False),
     "[1] Harbour http://h.example/pier\n",
     "[1] Harbour http://h.example/pier (archived 2023-07-12: "
     "http://wb.example/web/20230712000000/http://h.example/pier)\n"),
    ("html-robust-links", lambda t: _html_edit(t, R),
     "<li>Harbour <a class='x' href='http://h.example/pier'>Pier</a>.</li>\r\n<p>kept</p>",
     "<li>Harbour <a class='x' href='http://h.example/pier' data-versionurl=\"http://wb.example/web/"
     "20230712000000/http://h.example/pier\" data-versiondate=\"2023-07-12\">Pier</a> (<a href=\"http://wb.example/"
     "web/20230712000000/http://h.example/pier\">archived 2023-07-12</a>).</li>\r\n<p>kept</p>"),
    ("wikitext-cite-template", lambda t: _wiki_edit(t, R),
     "Text.<ref>{{cite web |url=http://h.example/pier |title=Pier}}</ref>\r\n{{cite web|url=http://o.example/}}\r\n",
     "Text.<ref>{{cite web |url=http://h.example/pier |title=Pier |archive-url=http://wb.example/web/"
     "20230712000000/http://h.example/pier |archive-date=2023-07-12 |url-status=dead}}</ref>\r\n"
     "{{cite web|url=http://o.example/}}\r\n"),
    ("wikitext-one-parameter-per-line", lambda t: _wiki_edit(t, R),
     "<ref>{{cite web\n| url = http://h.example/pier\n| title = Pier\n}}</ref>",
     "<ref>{{cite web\n| url = http://h.example/pier\n| title = Pier\n| archive-url = http://wb.example/web/"
     "20230712000000/http://h.example/pier\n| archive-date = 2023-07-12\n| url-status = dead\n}}</ref>"),
    ("wikitext-archived-while-alive", lambda t: _wiki_edit(t, R),
     "<ref>{{cite web | url = http://h.example/pier | archive-url = http://wb.example/x | url-status = live }}</ref>",
     "<ref>{{cite web | url = http://h.example/pier | archive-url = http://wb.example/x | url-status = dead }}</ref>"),
    ("wikitext-bare-link", lambda t: _wiki_edit(t, R),
     "Text.<ref>[http://h.example/pier Pier]</ref>\n",
     "Text.<ref>[http://h.example/pier Pier] {{webarchive |url=http://wb.example/web/20230712000000/"
     "http://h.example/pier |date=2023-07-12}}</ref>\n"),
]


@pytest.mark.parametrize(("name", "edit", "before", "after"), EDITS, ids=[e[0] for e in EDITS])
def test_edits_touch_nothing_else(name: str, edit: object, before: str, after: str) -> None:
    assert callable(edit)
    assert edit(before) == after
    assert edit(after) == after  # a second fix changes nothing


_AROUND = st.text(alphabet="ab .,;\r\n\t*#-|=[]()<>{}'\"“”", max_size=60)


@settings(max_examples=200, deadline=None)
@given(before=_AROUND, after=_AROUND)
def test_fix_adds_its_link_and_nothing_else(before: str, after: str) -> None:
    for line, added, edit in (
            (f"[^1]: Times [Pier]({R.url})", MD_LINK, lambda t: _text_edit(t, R, True)),
            (f"<a href=\"{R.url}\">Pier</a>", f' (<a href="{R.archived}">archived {R.date}</a>)',
             lambda t: _html_edit(t, R).replace(f' data-versionurl="{R.archived}" data-versiondate="{R.date}"', ""))):
        text = f"{before}\n{line}\n{after}"
        fixed = edit(text)
        assert added in fixed and fixed.replace(added, "", 1) == text


@settings(max_examples=100, deadline=None)
@given(before=st.text(alphabet="ab .,\r\n", max_size=60), after=st.text(alphabet="ab .,\r\n", max_size=60))
def test_fix_in_wikitext_adds_parameters_and_nothing_else(before: str, after: str) -> None:
    text = f"{before}<ref>{{{{cite web |url={R.url} |title=Pier}}}}</ref>{after}"
    added = f" |archive-url={R.archived} |archive-date={R.date} |url-status=dead"
    assert _wiki_edit(text, R) == text.replace("|title=Pier}}", "|title=Pier" + added + "}}")


class FakeWayback:
    """CDX lookups answered from `captures`, and replays of the capture holding `pages[url]`."""

    def __init__(self) -> None:
        self.server = Server()
        self.captures: dict[str, str] = {}  # url -> page body at capture time
        self.server.fallback = self.handle

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        if parts.path == "/cdx/search/cdx":
            url = parse_qs(parts.query)["url"][0]
            rows = [["timestamp", "original", "statuscode", "digest"]]
            rows += [[TS, url, "200", "D"]] if url in self.captures else []
            send(h, 200, json.dumps(rows), content_type="application/json")
        elif parts.path.startswith("/web/"):
            url = h.path.split("/", 3)[3]
            send(h, 200 if url in self.captures else 404, self.captures.get(url, "not archived"))
        else:
            send(h, 503, "no saves here", content_type="text/plain")


@pytest.fixture
def wayback() -> Iterator[FakeWayback]:
    fake = FakeWayback()
    yield fake
    fake.server.close()


def _write_publication(folder: Path, server: Server) -> dict[str, str]:
    u = {name: server.url(f"/{name}") for name in ("harbour", "budget", "minutes", "council")}
    articles = folder / "articles"
    articles.mkdir()
    files = {
        "harbour.md": f"# Harbour works\n\nThe council said the pier “will reopen in the spring”[^1]. "
                      f"The budget is set[^2].\n\n[^1]: Harbour Times [Pier to reopen]({u['harbour']})\n"
                      f"[^2]: Budget <{u['budget']}>\n",
        "budget.html": f"<!doctype html><html><head><title>Budget</title></head><body><h1>Budget day</h1>\r\n"
                       f"<p>The pier “will reopen in the spring”<sup>1</sup>, paid from the budget<sup>2</sup>.</p>\r\n"
                       f"<ol><li>Harbour Times <a href=\"{u['harbour']}\">Pier</a></li>\r\n"
                       f"<li>Budget <a href=\"{u['budget']}\">Budget 2023</a></li>\r\n"
                       f"<li>Council <a href=\"{u['council']}\">Council</a></li></ol>\r\n</body></html>\r\n",
        "minutes.wiki": f"= Council minutes =\nThe minutes say \"the vote was unanimous\"<ref>{{{{cite web "
                        f"|url={u['minutes']} |title=Minutes |quote=the vote was unanimous}}}}</ref> and the "
                        f"pier reopens.<ref>{{{{cite news |url={u['harbour']} |title=Pier}}}}</ref>\n"
                        "== References ==\n{{reflist}}\n",
    }
    for name, text in files.items():
        (articles / name).write_bytes(text.encode("utf-8"))
    return u


def _serve(server: Server, dead: bool) -> None:
    server.routes["/harbour"] = (lambda h: send(h, 404, page("<p>Not found</p>"))) if dead else \
        (lambda h: send(h, 200, page("<p>The pier will reopen in the spring.</p>")))
    minutes = "<p>The vote was close.</p>" if dead else "<p>In short, the vote was unanimous.</p>"
    server.routes["/minutes"] = lambda h: send(h, 200, page(minutes))
    for name in ("budget", "council"):
        server.routes[f"/{name}"] = lambda h, n=name: send(h, 200, page(f"<p>The {n} page, unchanged.</p>"))


def test_publication_init_check_report_fix_check(server: Server, wayback: FakeWayback, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    u = _write_publication(tmp_path, server)
    wayback.captures = {u["harbour"]: page("<p>The pier will reopen in the spring.</p>"),
                        u["minutes"]: page("<p>In short, the vote was unanimous.</p>"),
                        u["budget"]: page("<p>The budget page, unchanged.</p>"),
                        u["council"]: page("<p>The council page, unchanged.</p>")}
    _serve(server, dead=False)

    # init: one source per URL, every citing article recorded
    code, out, err = run_cli(["init", "--from", "articles", "--output", "sources.toml"], capsys)
    assert code == 0, err
    assert "4 sources" in out
    config = tmp_path / "sources.toml"
    config.write_text(f"[fetch]\nallow_private = true\nretries = 0\nrecheck_pause = 0\n\n[archive]\n"
                      f"wayback_url = \"{wayback.server.url('')}\"\nlookups_per_minute = 6000\n\n"
                      + config.read_text(encoding="utf-8"), encoding="utf-8")
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    harbour = next(s for s in data["source"] if s["url"] == u["harbour"])
    assert [c["article"] for c in harbour["cited_in"]] == ["articles/budget.html", "articles/harbour.md",
                                                           "articles/minutes.wiki"]
    minutes = next(s for s in data["source"] if s["url"] == u["minutes"])
    assert minutes["quotes"][0] == "the vote was unanimous"

    # check: all well
    code, out, err = run_cli(["check", "--format", "json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert {a["path"]: a["status"] for a in report["articles"]} == {
        "articles/budget.html": "ok", "articles/harbour.md": "ok", "articles/minutes.wiki": "ok"}
    originals = {p.name: p.read_bytes() for p in (tmp_path / "articles").iterdir()}
    code, out, _ = run_cli(["fix", "--dry-run"], capsys)
    assert code == 0 and out.startswith("nothing to fix")

    # the harbour page dies, the minutes change their words
    _serve(server, dead=True)
    code, out, err = run_cli(["check", "--format", "json"], capsys)
    assert code == 1, err
    report = json.loads(out)
    assert {a["path"]: a["status"] for a in report["articles"]} == {
        "articles/budget.html": "broken", "articles/harbour.md": "broken", "articles/minutes.wiki": "broken"}

    # report: each article's problems, then the shared sources
    code, out, err = run_cli(["report", "--format", "markdown"], capsys)
    assert code == 0, err
    assert out.index("## By article") < out.index("### ❌ Budget day") < out.index("## Sources shared")
    assert "> The council said the pier “will reopen in the spring”." in out
    assert "cited in Budget day (1); Harbour works (1); Council minutes (2)" in out
    code, out, err = run_cli(["report", "--format", "html"], capsys)
    assert code == 0, err
    assert out.index('<section class="article"><h2>Budget day</h2>') < out.index('<section id="shared">') \
        < out.index('<section id="broke">')

    # fix --dry-run shows a diff and changes nothing
    code, out, err = run_cli(["fix", "--dry-run"], capsys)
    assert code == 0, err
    archived = f"{wayback.server.url('')}/web/{TS}/{u['harbour']}"
    assert f"+[^1]: Harbour Times [Pier to reopen]({u['harbour']}) ([archived {DAY}]({archived}))" in out
    assert {p.name: p.read_bytes() for p in (tmp_path / "articles").iterdir()} == originals

    # a file edited after the pass is refused
    md = tmp_path / "articles" / "harbour.md"
    md.write_bytes(originals["harbour.md"] + b"\nA late edit.\n")
    code, _, err = run_cli(["fix"], capsys)
    assert code == 2 and "harbour.md changed since the last check pass" in err
    md.write_bytes(originals["harbour.md"])

    # fix: exactly the expected edits, nothing else (CRLF kept in the HTML file)
    code, out, err = run_cli(["fix", "--article", "articles/harbour.md", "articles/budget.html",
                              "articles/minutes.wiki"], capsys)
    assert code == 0, err
    minutes_archived = f"{wayback.server.url('')}/web/{TS}/{u['minutes']}"
    expected = {
        "harbour.md": originals["harbour.md"].decode().replace(
            f"[Pier to reopen]({u['harbour']})", f"[Pier to reopen]({u['harbour']}) ([archived {DAY}]({archived}))"),
        "budget.html": originals["budget.html"].decode().replace(
            f"<a href=\"{u['harbour']}\">Pier</a>",
            f"<a href=\"{u['harbour']}\" data-versionurl=\"{archived}\" data-versiondate=\"{DAY}\">Pier</a> "
            f"(<a href=\"{archived}\">archived {DAY}</a>)"),
        "minutes.wiki": originals["minutes.wiki"].decode()
        .replace(f"|url={u['minutes']} |title=Minutes |quote=the vote was unanimous}}}}",
                 f"|url={u['minutes']} |title=Minutes |quote=the vote was unanimous |archive-url={minutes_archived} "
                 f"|archive-date={DAY} |url-status=dead}}}}")
        .replace(f"|url={u['harbour']} |title=Pier}}}}",
                 f"|url={u['harbour']} |title=Pier |archive-url={archived} |archive-date={DAY} |url-status=dead}}}}"),
    }
    assert {p.name: p.read_bytes().decode() for p in (tmp_path / "articles").iterdir()} == expected
    assert b"\r\n" in (tmp_path / "articles" / "budget.html").read_bytes()

    # round trip: the same sources, a valid config, nothing more to fix
    code, out, err = run_cli(["check", "--format", "json"], capsys)
    assert code == 1, err
    assert sorted(s["id"] for s in json.loads(out)["sources"]) == sorted(s["id"] for s in report["sources"])
    code, out, err = run_cli(["init", "--from", "articles", "--output", "again.toml"], capsys)
    assert code == 0, err
    again = tomllib.loads((tmp_path / "again.toml").read_text(encoding="utf-8"))
    assert sorted(s["url"] for s in again["source"]) == sorted(u.values())
    code, _, err = run_cli(["validate"], capsys)
    assert code == 0, err
    code, out, _ = run_cli(["fix"], capsys)
    assert code == 0 and out.startswith("nothing to fix")


@pytest.mark.parametrize("wayback_on", [False, True])
def test_fix_names_the_citations_it_cannot_fix(wayback_on: bool, server: Server, wayback: FakeWayback, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With Wayback off, or no capture at all, no archived copy is known: `fix` still says nothing
    to fix (exit 0), and names each dead or lost citation it had to leave, with why."""
    monkeypatch.chdir(tmp_path)
    u = _write_publication(tmp_path, server)
    _serve(server, dead=False)
    assert run_cli(["init", "--from", "articles", "--output", "sources.toml"], capsys)[0] == 0
    config = tmp_path / "sources.toml"
    archive = f"wayback_url = \"{wayback.server.url('')}\"\nlookups_per_minute = 6000\n" if wayback_on \
        else "wayback = false\n"
    config.write_text(f"[fetch]\nallow_private = true\nretries = 0\nrecheck_pause = 0\n\n[archive]\n{archive}\n"
                      + config.read_text(encoding="utf-8"), encoding="utf-8")
    assert run_cli(["check"], capsys)[0] == 0
    _serve(server, dead=True)
    assert run_cli(["check"], capsys)[0] == 1
    originals = {p.name: p.read_bytes() for p in (tmp_path / "articles").iterdir()}
    code, out, err = run_cli(["fix"], capsys)
    assert code == 0 and out == "nothing to fix: no archived copy is known for the citations below\n"
    off = "Wayback is off ([archive] wayback = false), so no archived copy is known"
    dead, lost = ("no archived copy of the page is known", "no archived copy holds the quote") if wayback_on \
        else (off, off)
    assert sorted(err.splitlines()) == sorted([
        f"could not fix articles/budget.html (note 1): {u['harbour']} — {dead}",
        f"could not fix articles/harbour.md (note 1): {u['harbour']} — {dead}",
        f"could not fix articles/minutes.wiki (note 2): {u['harbour']} — {dead}",
        f"could not fix articles/minutes.wiki (note 1): {u['minutes']} — {lost}"])
    assert {p.name: p.read_bytes() for p in (tmp_path / "articles").iterdir()} == originals
