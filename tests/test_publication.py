"""A publication: the citation styles articles are written in (table-driven), `[articles]` as the
source of truth (one URL one source, `[[source]]` overrides, cited_in, the `articles` list),
`check`/`report --article`, annotations at every citing line, config errors."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import Server, by_id, check_json, page, run_cli, send, write_config

import linkcheck.pipeline
from linkcheck.article import parse_article
from linkcheck.config import load_config
from linkcheck.publication import stable_ids

SCHEMA = json.loads((Path(linkcheck.pipeline.__file__).parent / "schema" / "report.schema.json").read_text())

# name, file name, article, expected [(url, title, notes, [quotes], line)]
STYLES: list[tuple[str, str, str, list[tuple[str, str, list[str], list[str], int]]]] = [
    ("md-footnote-labels", "a.md",
     "The mayor said “we will rebuild the pier”[^pier] and “the budget is set”[^b].\n\n"
     "[^pier]: Harbour Times <http://h.example/pier>\n[^b]: Council [minutes](http://c.example/m)\n",
     [("http://h.example/pier", "Harbour Times", ["1"], ["we will rebuild the pier"], 3),
      ("http://c.example/m", "Council minutes", ["2"], ["the budget is set"], 4)]),
    ("md-footnote-never-referred-to", "a2.md",
     "Text.\n\n[^src]: Archive <http://x.example/a>\n",
     [("http://x.example/a", "Archive", ["1"], [], 3)]),
    ("md-numbered-reference-list", "b.md",
     "# Harbour\n\nThe pier “will reopen in the spring” [1], said the council [2].\n\n## References\n\n"
     "1. Harbour Times. [Pier to reopen](http://h.example/pier)\n2. Council. [Minutes, 12 July](http://c.example/m)\n",
     [("http://h.example/pier", "Harbour Times. Pier to reopen", ["1"], ["will reopen in the spring"], 7),
      ("http://c.example/m", "Council. Minutes, 12 July", ["2"], [], 8)]),
    ("md-bulleted-list-ends-the-article", "c.md",
     "Text with no markers.\n\n- Harbour Times. [Pier](http://h.example/pier)\n* Council <http://c.example/m>\n",
     [("http://h.example/pier", "Harbour Times. Pier", [], [], 3),
      ("http://c.example/m", "Council", [], [], 4)]),
    ("md-body-list-is-not-references", "c2.md",
     "Steps:\n\n1. read [the plan](http://p.example/plan)\n2. vote\n\nThe end.\n",
     [("http://p.example/plan", "", [], [], 3)]),
    ("md-reference-style-links", "d.md",
     "See [the plan][plan] and [Minutes] and [1].\n\n[plan]: http://p.example/plan \"Plan\"\n"
     "[minutes]: <http://c.example/m>\n[1]: http://n.example/one \"Numbered\"\n",
     [("http://n.example/one", "Numbered", ["1"], [], 5),
      ("http://p.example/plan", "", [], [], 1),
      ("http://c.example/m", "", [], [], 1)]),
    ("autolink-title-has-no-bracket", "e.txt",
     "A “quoted passage here”[1].\n[1] NATO communiqué <https://n.example/c?x=1>\n",
     [("https://n.example/c?x=1", "NATO communiqué", ["1"], ["quoted passage here"], 2)]),
    ("archived-copy-is-not-a-citation", "f.md",
     "Claim [1].\n\n[1] Page [Title](http://a.example/p) ([archived 2023-07-12]"
     "(http://127.0.0.1:9/web/20230712000000/http://a.example/p))\n",
     [("http://a.example/p", "Page Title", ["1"], [], 3)]),
    ("html-notes-blockquote-q", "g.html",
     "<html><head><title>T</title></head><body><h1>Harbour works</h1>\n"
     "<p>She wrote “the pier will reopen”<sup>1</sup>.</p>\n"
     "<blockquote cite='http://q.example/speech'><p>We will rebuild it.</p></blockquote>\n"
     "<p>And <q cite='http://q.example/letter'>the money is there</q>.</p>\n"
     "<ol><li>Harbour Times <a href='http://h.example/pier?a=1&amp;b=2'>Pier</a></li></ol>\n</body></html>",
     [("http://h.example/pier?a=1&b=2", "Harbour Times Pier", ["1"], ["the pier will reopen"], 5),
      ("http://q.example/speech", "", [], ["We will rebuild it."], 3),
      ("http://q.example/letter", "", [], ["the money is there"], 4)]),
    ("wikitext-cite-templates", "h.wiki",
     "= Harbour works =\n"
     "The council said the pier \"will reopen in the spring\"<ref name=\"ht\">{{cite web |url=http://h.example/pier "
     "|title=Pier to reopen |quote=The pier will reopen in the spring |access-date=2023-07-12}}</ref> "
     "and confirmed it.<ref name=\"ht\" />\n"
     "A budget.<ref>{{Cite news|url=http://n.example/budget|title=Budget [[set]]}}</ref>\n"
     "A bare one.<ref>[http://b.example/bare Bare story]</ref>\n"
     "== References ==\n{{reflist}}\n* {{citation|url=http://lib.example/book|title=Book}}\n",
     [("http://h.example/pier", "Pier to reopen", ["1"],
       ["The pier will reopen in the spring", "will reopen in the spring"], 2),
      ("http://n.example/budget", "Budget set", ["2"], [], 3),
      ("http://b.example/bare", "Bare story", ["3"], [], 4),
      ("http://lib.example/book", "Book", [], [], 7)]),
]


@pytest.mark.parametrize(("name", "filename", "text", "expected"), STYLES, ids=[s[0] for s in STYLES])
def test_citation_styles(name: str, filename: str, text: str, expected: list[Any]) -> None:
    parsed = parse_article(text, filename)
    assert [(s.url, s.title, s.cites, [q[0] for q in s.quotes], s.line) for s in parsed.sources] == expected
    assert parsed.warnings == []


def test_citing_sentence_and_title() -> None:
    parsed = parse_article("# Harbour works\n\nFirst sentence. The pier is closed [1]. Next one.\n\n"
                           "[1] Harbour Times http://h.example/pier\n", "a.md")
    assert parsed.title == "Harbour works"
    assert parsed.sources[0].sentence == "The pier is closed."


def test_a_marker_after_the_full_stop_cites_the_sentence_before_it() -> None:
    parsed = parse_article("# Harbour works\n\nFirst sentence. The pier is closed. [1]\n\n"
                           "[1] Harbour Times http://h.example/pier\n", "a.md")
    assert parsed.sources[0].sentence == "The pier is closed."  # not "" (what follows the marker)


def test_generated_ids_depend_on_the_url_alone() -> None:
    one = stable_ids(["http://a.example/x/story", "http://b.example/page"], set())
    two = stable_ids(["http://b.example/page", "http://a.example/x/story", "http://c.example/other"], set())
    assert one == {u: two[u] for u in one} == {"http://a.example/x/story": "a-story", "http://b.example/page": "b-page"}
    clash = stable_ids(["http://a.example/1/story", "http://a.example/2/story"], set())
    assert len(set(clash.values())) == 2 and all(v.startswith("a-story-") for v in clash.values())
    assert stable_ids(["http://a.example/x/story"], {"a-story"})["http://a.example/x/story"] != "a-story"


def _publication(folder: Path, server: Server, **sections: Any) -> Path:
    (folder / "articles").mkdir()
    shared, one, two = server.url("/shared"), server.url("/one"), server.url("/two")
    (folder / "articles" / "first.md").write_text(
        f"# First\n\nThe harbour “will reopen in spring”[^1]. Also [^2].\n\n[^1]: Shared <{shared}>\n"
        f"[^2]: One [page]({one})\n", encoding="utf-8")
    (folder / "articles" / "second.md").write_text(
        f"# Second\n\nAgain the harbour [1].\n\n## Notes\n\n1. Shared. [Shared page]({shared})\n2. Two <{two}>\n",
        encoding="utf-8")
    (folder / "articles" / "draft.md").write_text(f"[1] Draft {server.url('/draft')}\n", encoding="utf-8")
    return write_config(folder, sections.pop("sources", []),
                        articles={"include": ["articles/*.md"], "exclude": ["articles/draft.md"]}, **sections)


def _serve(server: Server) -> None:
    server.routes["/shared"] = lambda h: send(h, 200, page("<p>The harbour will reopen in spring.</p>"))
    server.routes["/one"] = lambda h: send(h, 200, page("<p>One.</p>"))
    server.routes["/two"] = lambda h: send(h, 404, page("<p>Not found</p>"))


def test_articles_are_the_sources(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _serve(server)
    config = _publication(tmp_path, server)
    code, report = check_json(config, capsys)
    jsonschema.validate(report, SCHEMA)
    assert code == 1
    shared = next(s for s in report["sources"] if s["url"] == server.url("/shared"))
    assert [(c["article"], c["notes"], c["line"]) for c in shared["cited_in"]] == [
        ("articles/first.md", ["1"], 5), ("articles/second.md", ["1"], 7)]
    assert shared["cited_in"][1]["sentence"] == "Again the harbour."
    assert [q["text"] for q in shared["quotes"]] == ["will reopen in spring"]
    assert len(report["sources"]) == 3  # one URL, one source; the draft is excluded
    assert {a["path"]: (a["title"], a["status"], len(a["sources"])) for a in report["articles"]} == {
        "articles/first.md": ("First", "ok", 2), "articles/second.md": ("Second", "broken", 2)}
    # Written source by source, articles gathered on the way: one JSON document, one line a source.
    written = (tmp_path / "reports" / "latest.json").read_text(encoding="utf-8")
    assert json.loads(written)["articles"] == report["articles"]
    assert [json.loads(line.strip().rstrip(",")) for line in written.splitlines() if line.startswith("    {\"")] == \
        report["sources"]


def test_a_source_table_overrides_by_url(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _serve(server)
    config = _publication(tmp_path, server, sources=[{
        "id": "harbour", "url": server.url("/shared"), "title": "The harbour page",
        "quotes": [{"text": "The harbour will reopen", "kind": "paraphrase"}]}])
    loaded = load_config(config)
    harbour = next(s for s in loaded.sources if s.id == "harbour")
    assert harbour.title == "The harbour page" and [q.text for q in harbour.quotes] == ["The harbour will reopen"]
    assert harbour.quotes[0].kind.value == "paraphrase"
    assert [c.article for c in harbour.cited_in] == ["articles/first.md", "articles/second.md"]
    code, out, _ = run_cli(["validate", "--config", str(config)], capsys)
    assert code == 0 and "3 sources" in out


def test_check_and_report_narrow_to_an_article(server: Server, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _serve(server)
    config = _publication(tmp_path, server)
    code, report = check_json(config, capsys, "--article", str(tmp_path / "articles" / "first.md"))
    assert code == 0 and sorted(s["url"] for s in report["sources"]) == [server.url("/one"), server.url("/shared")]
    check_json(config, capsys)  # every article
    code, out, err = run_cli(["report", "--config", str(config), "--format", "json", "--article",
                              str(tmp_path / "articles" / "first.md")], capsys)
    assert code == 0, err
    digest = json.loads(out)
    assert {i["url"] for i in digest["current"]} == {server.url("/one"), server.url("/shared")}
    assert [a["path"] for a in digest["articles"]] == []  # first.md's sources are fine; second.md is not asked for
    code, out, err = run_cli(["report", "--config", str(config), "--format", "json", "--article",
                              str(tmp_path / "articles" / "second.md")], capsys)
    assert [a["path"] for a in json.loads(out)["articles"]] == ["articles/second.md"]
    code, _, err = run_cli(["check", "--config", str(config), "--article", "articles/nope.md"], capsys)
    assert code == 2 and "nope.md" in err


def test_github_annotations_at_every_citing_line(server: Server, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    server.routes["/shared"] = lambda h: send(h, 410, page("<p>Gone</p>"))
    _serve_rest = {"/one": 200, "/two": 200}
    for path, status in _serve_rest.items():
        server.routes[path] = lambda h, s=status: send(h, s, page("<p>Fine text here.</p>"))
    config = _publication(tmp_path, server)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["check", "--config", str(config), "--format", "github"], capsys)
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("::error")]
    assert any("file=articles/first.md,line=5" in e for e in errors)
    assert any("file=articles/second.md,line=7" in e for e in errors)


@pytest.mark.parametrize(("articles", "expected"), [
    ({"include": ["articles/missing.md"]}, ":{line}: [articles] include: 'articles/missing.md' names no file"),
    ({"include": ["/etc/*.md"]}, "is absolute"),
    ({"include": "articles/*.md"}, "[articles] include: expected a list of strings"),
    ({"include": ["*.md"], "feeds_typo": []}, "[articles] has an unknown key 'feeds_typo'"),
])
def test_article_config_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      articles: dict[str, Any], expected: str) -> None:
    config = write_config(tmp_path, [], articles=articles)
    line = next(n for n, x in enumerate(config.read_text().splitlines(), 1) if x.startswith("include"))
    code, _, err = run_cli(["validate", "--config", str(config)], capsys)
    assert code == 2 and expected.format(line=line) in err and str(config) in err


def test_an_unreadable_article_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe not utf-8")
    config = write_config(tmp_path, [], articles={"include": ["*.md"]})
    code, _, err = run_cli(["check", "--config", str(config)], capsys)
    assert code == 2 and "bad.md" in err and "UTF-8" in err


def test_articles_are_read_again_at_every_pass(server: Server, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _serve(server)
    config = _publication(tmp_path, server)
    _, first = check_json(config, capsys)
    (tmp_path / "articles" / "third.md").write_text(f"New [1].\n\n[1] Three {server.url('/one')}?v=3\n")
    _, second = check_json(config, capsys)
    assert len(second["sources"]) == len(first["sources"]) + 1
    assert by_id(second).keys() >= by_id(first).keys()  # ids are stable


def test_the_shipped_publication_is_self_contained() -> None:
    root = Path(__file__).resolve().parent.parent
    config = load_config(root / "sources.toml")
    assert [s.id for s in config.sources] == ["nato-communique", "bbc-japan", "zelensky-tweet", "reuters-japan",
                                              "mofa-japan-nato"]
    for s in config.sources:
        assert [c.article for c in s.cited_in] == ["articles/nato-vilnius-summit.md"], s.id
        assert (root / s.cited_in[0].article).resolve().is_relative_to(root)
        assert s.cited_in[0].sha256 and s.cited_in[0].title == "NATO Summit in Vilnius"
    nato = config.sources[0]
    assert nato.cites == ("1", "4", "5", "6") and nato.cited_in[0].notes == ("1", "4", "5", "6")
    assert [q.kind.value for q in nato.quotes] == ["paraphrase", "quote", "paraphrase", "paraphrase"]
    assert "../" not in (root / "sources.toml").read_text(encoding="utf-8")


def test_init_from_a_published_url_reads_the_main_text_only(server: Server, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/article"] = lambda h: send(h, 200, (
        "<!doctype html><html><head><title>Harbour works | The Gazette</title></head><body>"
        "<nav><a href='http://menu.example/home'>Home</a></nav><main><h1>Harbour works</h1>"
        "<p>The pier “will reopen in the spring”<sup>1</sup>.</p>"
        "<ol><li>Harbour Times <a href='http://h.example/pier'>Pier</a></li></ol></main>"
        "<footer><a href='http://social.example/share'>Share</a></footer></body></html>"))
    out = tmp_path / "sources.toml"
    url = server.url("/article")
    code, _, err = run_cli(["init", "--from", url, "--output", str(out)], capsys)
    assert code == 2 and "loopback" in err and "--allow-private" in err  # the guarded client
    code, _, err = run_cli(["init", "--from", url, "--output", str(out), "--allow-private"], capsys)
    assert code == 0, err
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    assert [(s["url"], s["quotes"], s["cited_in"]) for s in data["source"]] == [
        ("http://h.example/pier", ["will reopen in the spring"], [{"article": url, "notes": ["1"], "line": 1}])]


def test_init_several_articles_and_merge_keep_every_citation(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "one.md").write_text("A “first passage here”[^1].\n\n[^1]: Times <http://t.example/a>\n")
    (tmp_path / "two.txt").write_text("Again [1], and “a second passage”[2].\n[1] Times http://t.example/a\n"
                                      "[2] Other http://o.example/b\n")
    (tmp_path / "three.md").write_text("Third “a third passage”[^1].\n\n[^1]: Times <http://t.example/a>\n")
    out = tmp_path / "sources.toml"
    code, stdout, err = run_cli(["init", "--from", str(tmp_path / "one.md"), str(tmp_path / "two.txt"),
                                 "--output", str(out)], capsys)
    assert code == 0, err
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    times = data["source"][0]
    assert [(c["article"], c["notes"]) for c in times["cited_in"]] == [("one.md", ["1"]), ("two.txt", ["1"])]
    assert times["quotes"] == ["first passage here"]
    code, stdout, err = run_cli(["init", "--from", str(tmp_path / "three.md"), "--output", str(out), "--merge"],
                                capsys)
    assert code == 0, err
    assert "added 0 sources and 1 quote " in stdout and "1 more citing article recorded" in stdout
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    times = data["source"][0]
    assert [c["article"] for c in times["cited_in"]] == ["one.md", "two.txt", "three.md"]
    assert times["quotes"] == ["first passage here", "a third passage"]
    config = load_config(out)
    assert [c.article for c in config.sources[0].cited_in] == ["one.md", "two.txt", "three.md"]
    code, stdout, _ = run_cli(["init", "--from", str(tmp_path / "three.md"), "--output", str(out), "--merge"],
                              capsys)
    assert code == 0 and "added 0 sources and 0 quotes" in stdout and "more citing" not in stdout


def test_feeds_and_their_articles_are_fetched_behind_the_address_guard(
        server: Server, server2: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A feed may list, or redirect to, an address the config does not allow (a cloud's metadata
    service, a private host): it is refused as a source's would be, on every hop, never requested."""
    server.routes["/feed.xml"] = lambda h: send(h, 200, (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Gazette</title>"
        f"<item><title>In</title><link>{server2.url('/listed')}</link></item>"
        f"<item><title>Jump</title><link>{server2.url('/jump')}</link></item></channel></rss>"),
        content_type="application/rss+xml")
    server2.routes["/jump"] = lambda h: send(h, 302, b"", {"Location": server.url("/secret")})
    server2.routes["/listed"] = lambda h: send(h, 200, page("<main><h1>Listed</h1><p>No links.</p></main>"))
    config = write_config(tmp_path, [], articles={"feeds": [server2.url("/feed.xml"), server.url("/feed.xml")]},
                          fetch={"allow_private": False, "allow_networks": ["127.0.0.2/32"]})
    server2.routes["/feed.xml"] = server.routes["/feed.xml"]
    with caplog.at_level("WARNING", logger="linkcheck.feeds"):
        check_json(config, capsys)
    assert server.requests == [] and sorted(server2.requests) == ["/feed.xml", "/jump", "/listed"]
    refused = [r.getMessage() for r in caplog.records]
    assert any(server.url("/feed.xml") in m and "not fetched" in m for m in refused), refused
    assert any(server2.url("/jump") in m and "not fetched" in m for m in refused), refused


def test_feeds_and_sitemaps_conditional_and_cached(server: Server, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    conditional: list[str] = []
    bodies = {"/a1": "<main><h1>First</h1><p>Claim it “will reopen in spring”<sup>1</sup>.</p><ol><li>Times "
                     f"<a href='{server.url('/shared')}'>Pier</a></li></ol></main>",
              "/a2": f"<article><h1>Second</h1><p>See <a href='{server.url('/one')}'>one</a>.</p></article>"}

    def article(h: Any) -> None:
        etag = f'"{hash(bodies[h.path])}"'
        if h.headers.get("If-None-Match") == etag:
            conditional.append(h.path)
            send(h, 304, b"")
        else:
            send(h, 200, page(bodies[h.path]), {"ETag": etag})

    server.routes["/feed.xml"] = lambda h: send(h, 200, (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Gazette</title>"
        f"<item><title>First</title><link>{server.url('/a1')}</link></item></channel></rss>"),
        content_type="application/rss+xml")
    server.routes["/sitemap.xml"] = lambda h: send(h, 200, (
        "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"<url><loc>{server.url('/a2')}</loc></url><url><loc>{server.url('/a1')}</loc></url></urlset>"),
        content_type="application/xml")
    server.routes["/a1"] = server.routes["/a2"] = article
    _serve(server)
    config = write_config(tmp_path, [], articles={"feeds": [server.url("/feed.xml"), server.url("/sitemap.xml")]})
    code, report = check_json(config, capsys)
    assert code == 0, [(s["url"], s["status"], s["message"]) for s in report["sources"]]
    shared = next(s for s in report["sources"] if s["url"] == server.url("/shared"))
    assert shared["cited_in"][0]["article"] == server.url("/a1") and shared["quotes"][0]["text"] == \
        "will reopen in spring"
    assert {a["path"]: a["title"] for a in report["articles"]} == {server.url("/a1"): "First",
                                                                  server.url("/a2"): "Second"}
    assert conditional == []
    bodies["/a2"] = bodies["/a2"].replace("</article>", f"<p>And <a href='{server.url('/two')}'>two</a>.</p></article>")
    code, report = check_json(config, capsys)
    assert conditional == ["/a1"]  # unchanged: answered 304, not read again; the changed one was
    assert code == 1 and server.url("/two") in {s["url"] for s in report["sources"]}
    code, out, _ = run_cli(["validate", "--config", str(config)], capsys)  # offline, from what the pass read
    assert code == 0 and "3 sources" in out
