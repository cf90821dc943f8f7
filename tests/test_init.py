"""From article to checked citations: the notes parser (table-driven), `init` as users run it, and
tweets through a fake oEmbed server."""

from __future__ import annotations

import http.server
import json
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Server, by_id, check_json, page, run_cli, send, write_config

from linkcheck.adapters.twitter import tweet_url
from linkcheck.article import parse_article

SEED = Path(__file__).parent / "data" / "seed-article.txt"
NATO = "https://www.nato.int/cps/en/natohq/official_texts_217320.htm?selectedLocale=en"

# name, file name, article text, expected [(url, cites, [(quote, locator)])]
ARTICLES: list[tuple[str, str, str, list[tuple[str, list[str], list[tuple[str, int | None]]]]]] = [
    ("markdown-footnotes", "a.md",
     "The minister said “we will not wait for anyone”[^1] and left.\n\nLater: “talks resume in May”.[^2]\n\n"
     "[^1]: Interview, [Daily News](https://news.example/interview?id=7)\n"
     "[^2]: Press release https://gov.example/press/2023-05",
     [("https://news.example/interview?id=7", ["1"], [("we will not wait for anyone", None)]),
      ("https://gov.example/press/2023-05", ["2"], [("talks resume in May", None)])]),
    ("html-sup", "a.html",
     "<html><body><p>She wrote that “the archive must stay open”<sup><a href='#fn1'>1</a></sup>.</p>"
     "<p>Another claim<sup>2</sup>.</p><ol class='footnotes'><li id='fn1'>Letter <a href='https://lib.example/"
     "letter.pdf'>PDF</a> <a href='#r1'>↩</a></li><li>Catalogue https://lib.example/cat</li></ol></body></html>",
     [("https://lib.example/letter.pdf", ["1"], [("the archive must stay open", None)]),
      ("https://lib.example/cat", ["2"], [])]),
    ("japanese-brackets", "ja.txt",
     "岸田首相は「インド太平洋と欧州大西洋の安全保障は不可分だ」[1]と強調した。\n"
     "会見では『新たな協力文書』に署名した[2]。\n"
     "[1] 外務省 https://www.mofa.go.jp/mofaj/erp/ep/page7_000043.html\n"
     "[2] NHK https://www3.nhk.or.jp/news/html/20230712/k1.html",
     [("https://www.mofa.go.jp/mofaj/erp/ep/page7_000043.html", ["1"],
       [("インド太平洋と欧州大西洋の安全保障は不可分だ", None)]),
      ("https://www3.nhk.or.jp/news/html/20230712/k1.html", ["2"], [("新たな協力文書", None)])]),
    ("two-urls-one-note", "b.txt",
     "They agreed on “a path to membership”,[1] it was said.\n"
     "[1] NATO https://a.example/communique and BBC https://b.example/story",
     [("https://a.example/communique", ["1"], [("a path to membership", None)]),
      ("https://b.example/story", ["1"], [])]),
    ("ibid-chain", "c.txt",
     "First “alpha beta gamma”[1]. Then “delta epsilon”[2]. Then “zeta eta theta”[3]. Last “iota kappa”[4].\n"
     "[1] Report https://r.example/report\n[2] Ibid.\n[3] Ibid., para. 25\n[4] Ibid.7",
     [("https://r.example/report", ["1", "2", "3", "4"],
       [("alpha beta gamma", None), ("delta epsilon", None), ("zeta eta theta", 25), ("iota kappa", 7)])]),
    ("title-reference", "d.txt",
     "The text says “Allies stand together”[2] and “we remain open”[3].\n"
     "[1] Summit Declaration https://s.example/declaration\n[2] Summit Declaration, para. 7\n"
     "[3] Other paper https://o.example/paper",
     [("https://s.example/declaration", ["1", "2"], [("Allies stand together", 7)]),
      ("https://o.example/paper", ["3"], [("we remain open", None)])]),
    ("marker-inside-quote", "e.txt",
     "He called it “unprecedented and absurd,[1]” then “a strong message”[2] and \"straight quotes work\" [3].\n"
     "[1] Tweet https://twitter.com/u/status/1?s=20\n[2] Paper https://p.example/x\n[3] Site https://s.example/y",
     [("https://twitter.com/u/status/1?s=20", ["1"], [("unprecedented and absurd", None)]),
      ("https://p.example/x", ["2"], [("a strong message", None)]),
      ("https://s.example/y", ["3"], [("straight quotes work", None)])]),
    ("same-url-twice", "f.txt",
     "A “first quoted passage”[1], then “second quoted passage”[2].\n"
     "[1] Page https://same.example/p?lang=en\n[2] Page again https://same.example/p?lang=en",
     [("https://same.example/p?lang=en", ["1", "2"], [("first quoted passage", None),
                                                      ("second quoted passage", None)])]),
    ("scare-quotes-ignored", "g.txt",
     "This “reset” was “a historic turning point for everyone”[1].\n[1] Speech https://sp.example/s",
     [("https://sp.example/s", ["1"], [("a historic turning point for everyone", None)])]),
]


def _shape(parsed: Any) -> list[tuple[str, list[str], list[tuple[str, int | None]]]]:
    return [(s.url, s.cites, [(q[0], q[1]) for q in s.quotes]) for s in parsed.sources]


@pytest.mark.parametrize(("name", "filename", "text", "expected"), ARTICLES, ids=[a[0] for a in ARTICLES])
def test_article_shapes(name: str, filename: str, text: str, expected: list[Any]) -> None:
    parsed = parse_article(text, filename)
    assert _shape(parsed) == expected
    assert parsed.warnings == []


def test_seed_article() -> None:
    parsed = parse_article(SEED.read_text(encoding="utf-8"), SEED.name)
    assert [(s.url, s.cites) for s in parsed.sources] == [
        (NATO, ["1", "4", "5", "6"]),
        ("https://www.bbc.com/japanese/66172330", ["1"]),
        ("https://twitter.com/ZelenskyyUa/status/1678707674811187200?s=20", ["2"]),
        ("https://jp.reuters.com/article/nato-summit-ukraine-decemeber-idJPKBN2YR15O", ["3"]),
        ("https://www.mofa.go.jp/page7e_000024.html", ["7"]),
    ]
    nato = parsed.sources[0]
    assert [(q[0], q[1]) for q in nato.quotes] == [
        ("inviting Ukraine to join the alliance when agreed by member countries and when conditions are met", None),
        ("The Indo-Pacific is important for NATO, given that developments in that region can directly affect "
         "Euro-Atlantic security.", 85),
        ("the relationship with China remains open", 24),
    ]
    assert parsed.sources[3].quotes[0][0].startswith("NATO has never sent such a strong message")
    assert [q[0] for q in parsed.sources[4].quotes] == ["Individually Tailored Partnership Programme",
                                                        "new disruptive technologies"]
    assert parsed.sources[1].line == 11  # BBC's own continuation line


def test_unresolvable_note_is_a_warning_not_an_invented_source() -> None:
    parsed = parse_article("A “quoted thing here”[2].\n[1] Site https://a.example/\n[2] Unknown Memo 4\n", "x.txt")
    assert [s.url for s in parsed.sources] == ["https://a.example/"]
    assert any("[2]" in w for w in parsed.warnings)


def test_init_writes_merges_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sources.toml"
    code, stdout, err = run_cli(["init", "--from", str(SEED), "--output", str(out)], capsys)
    assert code == 0, err
    assert "5 sources" in stdout
    data = tomllib.loads(out.read_text())
    assert data["source"][0]["url"] == NATO
    assert "# from: " in out.read_text()
    code, _, _ = run_cli(["validate", "--config", str(out)], capsys)
    assert code == 0
    code, _, err = run_cli(["init", "--from", str(SEED), "--output", str(out)], capsys)
    assert code == 2 and "--force" in err

    # A manual edit (a comment and a changed title) survives --merge, new quotes and sources arrive.
    edited = out.read_text().replace('title = "NATO communiqué"', 'title = "Vilnius Communiqué"  # edited')
    edited = edited.replace('  "new disruptive technologies",\n', "")
    out.write_text(edited)
    more = tmp_path / "more.txt"
    more.write_text(SEED.read_text() + "\n[8] Extra https://extra.example/page\n")
    code, stdout, err = run_cli(["init", "--from", str(more), "--output", str(out), "--merge"], capsys)
    assert code == 0, err
    assert "added 1 source and 1 quote" in stdout
    merged = out.read_text()
    assert 'title = "Vilnius Communiqué"  # edited' in merged
    data = tomllib.loads(merged)
    assert data["source"][-1]["url"] == "https://extra.example/page"
    mofa = next(s for s in data["source"] if "mofa" in s["url"])
    assert "new disruptive technologies" in mofa["quotes"]

    code, _, _ = run_cli(["init", "--from", str(SEED), "--output", str(out), "--force"], capsys)
    assert code == 0 and "Vilnius Communiqué" not in out.read_text()


def test_init_check_shows_the_pages_real_words(server: Server, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/c"] = lambda h: send(h, 200, page(
        "<p>11.  We will be in a position to extend an invitation to Ukraine to join the Alliance when Allies "
        "agree and conditions are met.</p>"))
    article = tmp_path / "article.txt"
    article.write_text("It stayed at “inviting Ukraine to join the alliance when agreed by member countries and "
                       f"when conditions are met,[1]” we read.\n[1] Communiqué {server.url('/c')}\n")
    out = tmp_path / "sources.toml"
    out.write_text("[fetch]\nallow_private = true\n")
    code, stdout, err = run_cli(["init", "--from", str(article), "--output", str(out), "--merge", "--check"], capsys)
    assert code == 0, err
    assert "is missing" in stdout
    assert ("the page says: “We will be in a position to extend an invitation to Ukraine to join the Alliance when "
            "Allies agree and conditions are met.”") in stdout



# --- tweets ----------------------------------------------------------------------------------

TWEET_TEXT = ("It's unprecedented and absurd when time frame is not set neither for the invitation nor for "
              "Ukraine's membership. Uncertainty is weakness.")


def _oembed(text: str) -> str:
    return json.dumps({"author_name": "Volodymyr Zelenskyy", "url": "https://twitter.com/x/status/1",
                       "html": f'<blockquote class="twitter-tweet"><p lang="en" dir="ltr">{text}</p>&mdash; '
                               'Volodymyr Zelenskyy (@ZelenskyyUa) <a href="https://twitter.com/x">July 11, 2023</a>'
                               '</blockquote>'})


@pytest.fixture
def fake_twitter(server: Server) -> dict[str, Any]:
    """oEmbed and syndication: tweet id -> behaviour."""
    tweets: dict[str, Any] = {"asked": []}

    def oembed(h: http.server.BaseHTTPRequestHandler) -> None:
        url = parse_qs(urlsplit(h.path).query)["url"][0]
        tweets["asked"].append(url)
        behaviour = tweets.get(url.rsplit("/", 1)[-1], 404)
        if isinstance(behaviour, str):
            send(h, 200, _oembed(behaviour), content_type="application/json")
        else:
            send(h, behaviour, "{}", content_type="application/json")

    def syndication(h: http.server.BaseHTTPRequestHandler) -> None:
        q = parse_qs(urlsplit(h.path).query)
        assert q["token"][0]
        data = tweets.get("synd:" + q["id"][0])
        send(h, 200 if data else 404, json.dumps(data or {}), content_type="application/json")

    server.routes["/oembed"] = oembed
    server.routes["/tweet-result"] = syndication
    return tweets


def test_tweets_through_oembed(server: Server, fake_twitter: dict[str, Any], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    fake_twitter.update({"1678707674811187200": TWEET_TEXT, "2": "Edited: uncertainty is fine.", "3": 404,
                         "4": 403, "5": 500, "synd:5": {"__typename": "TweetTombstone"}, "6": 502,
                         "synd:6": {"text": "Recovered from syndication. Uncertainty is weakness.",
                                    "user": {"name": "Z"}}, "7": 500})
    quotes = ["It's unprecedented and absurd when time frame is not set neither for the invitation nor for "
              "Ukraine's membership.", "Uncertainty is weakness."]
    sources = [
        {"id": "found", "url": "https://twitter.com/ZelenskyyUa/status/1678707674811187200?s=20", "quotes": quotes},
        {"id": "xcom", "url": "https://x.com/ZelenskyyUa/status/1678707674811187200/photo/1", "quotes": quotes},
        {"id": "mobile", "url": "https://mobile.twitter.com/i/web/status/1678707674811187200", "quotes": quotes},
        {"id": "edited", "url": "https://twitter.com/a/status/2", "quotes": quotes[1:]},
        {"id": "deleted", "url": "https://twitter.com/a/status/3"},
        {"id": "protected", "url": "https://twitter.com/a/status/4"},
        {"id": "tombstone", "url": "https://twitter.com/a/status/5"},
        {"id": "syndicated", "url": "https://x.com/a/status/6", "quotes": quotes[1:]},
        {"id": "unknown", "url": "https://twitter.com/a/status/7"},
    ]
    config = write_config(tmp_path, sources, twitter={"oembed_url": server.url("/oembed"),
                                                      "syndication_url": server.url("/tweet-result")})
    _, report = check_json(config, capsys)
    r = by_id(report)
    for sid in ("found", "xcom", "mobile"):
        assert r[sid]["link"] == "alive" and r[sid]["status"] == "ok", r[sid]
        assert (r[sid]["author"], r[sid]["published"]) == ("Volodymyr Zelenskyy", "July 11, 2023")
        assert [q["match"] for q in r[sid]["quotes"]] == ["exact", "exact"]
    assert "https://twitter.com/ZelenskyyUa/status/1678707674811187200" in fake_twitter["asked"]
    assert "https://twitter.com/i/status/1678707674811187200" in fake_twitter["asked"]
    assert r["edited"]["quotes"][0]["match"] == "missing" and r["edited"]["status"] == "broken"
    assert r["edited"]["quotes"][0]["found_text"] == "Edited: uncertainty is fine."
    assert (r["deleted"]["link"], r["deleted"]["status"]) == ("dead", "broken")
    assert (r["protected"]["link"], r["protected"]["status"]) == ("blocked", "warning")
    assert r["tombstone"]["link"] == "dead"
    assert r["syndicated"]["link"] == "alive" and r["syndicated"]["quotes"][0]["match"] == "exact"
    assert (r["unknown"]["link"], r["unknown"]["status"]) == ("unreachable", "warning")  # never "dead"
    assert not any(p.startswith("/ZelenskyyUa") for p in server.requests)  # the tweet page is not fetched


@pytest.mark.parametrize(("url", "canonical"), [
    ("https://twitter.com/ZelenskyyUa/status/1678707674811187200?s=20",
     "https://twitter.com/ZelenskyyUa/status/1678707674811187200"),
    ("https://x.com/u/status/12/photo/1", "https://twitter.com/u/status/12"),
    ("https://mobile.twitter.com/i/web/status/12", "https://twitter.com/i/status/12"),
    ("https://www.x.com/u/statuses/12", "https://twitter.com/u/status/12"),
    ("https://twitter.com/u", None),
    ("https://example.org/u/status/12", None),
])
def test_tweet_url_forms(url: str, canonical: str | None) -> None:
    assert tweet_url(url) == canonical


def test_init_check_says_so_when_every_quote_is_found_and_names_a_dead_page(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/c"] = lambda h: send(h, 200, page("<p>Allies agree and conditions are met.</p>"))
    server.routes["/gone"] = lambda h: send(h, 404, "gone")
    article = tmp_path / "article.txt"
    article.write_text(f"It said “conditions are met”.[1] See also [2].\n[1] Communiqué {server.url('/c')}\n"
                       f"[2] Old page {server.url('/gone')}\n")
    out = tmp_path / "sources.toml"
    code, stdout, err = run_cli(["init", "--from", str(article), "--output", str(out), "--check",
                                 "--allow-private"], capsys)
    assert code == 0, err
    assert "first check: 2 sources, 1 of 1 quote found word for word" in stdout  # not silent when all is well
    assert "dead (The server answers HTTP 404" in stdout  # a dead page that quoted nothing is named too
