"""The digest says what to do: one card per source, the changed words marked, a "what to do"
line, what a source recovered from, snapshot links that open a readable page, absolute links
with `[report] base_url`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lxml.html
import pytest
from conftest import Server, page, run_cli, send, write_config

from linkcheck.digest import Item
from linkcheck.reporters.common import word_diff

QUOTE = "The budget was 12 million euros in 2023."
PAGE = "The budget was 15 million euros in 2024."


@pytest.fixture
def digest_site(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    state = {"flaky": 404}
    server.routes["/quoted"] = lambda h: send(h, 200, page(f"<p>Intro.</p><p>{PAGE}</p>"))
    server.routes["/flaky"] = lambda h: send(h, state["flaky"], page("<p>Back again.</p>"))
    server.routes["/old-address"] = lambda h: send(h, 301, "", {"Location": "/new-address"})
    server.routes["/new-address"] = lambda h: send(h, 200, page("<p>Same report, new address.</p>"))
    config = write_config(tmp_path, [
        {"id": "quoted", "url": server.url("/quoted"), "quotes": [QUOTE]},
        {"id": "flaky", "url": server.url("/flaky")},
        {"id": "moved", "url": server.url("/old-address")},
    ], report={"base_url": "https://desk.example.org/lc"})
    assert run_cli(["check", "--config", str(config)], capsys)[0] == 1
    state["flaky"] = 200
    assert run_cli(["check", "--config", str(config)], capsys)[0] == 1
    return config


def _report(config: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    out = config.parent / f"digest.{fmt}"
    code, _, err = run_cli(["report", "--config", str(config), "--format", fmt, "--output", str(out)], capsys)
    assert code == 0, err
    return out.read_text()


def test_cards_say_what_to_do(digest_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_report(digest_site, "json", capsys))
    cards = [i["id"] for section in ("broke", "changed", "recovered", "unverifiable") for i in data[section]]
    assert len(cards) == len(set(cards)), "one card per source"
    doc = lxml.html.document_fromstring(_report(digest_site, "html", capsys))
    broke = doc.xpath("//section[@id='broke']//article")
    assert len(broke) == 1
    marks = [m.text for m in broke[0].xpath(".//li[@class='quoted']//mark")]
    assert marks == ["12", "2023", "15", "2024"]  # only the words that differ
    todo = broke[0].xpath(".//p[@class='todo']")[0].text_content()
    assert todo.startswith("What to do: Re-read the passage")
    recovered = doc.xpath("//section[@id='recovered']//article")[0].text_content()
    assert "Recovered from: dead (The server answers HTTP 404" in recovered and "on 1 pass from" in recovered
    assert not re.search(r"\d{4}-\d\d-\d\dT", recovered) and " UTC" in recovered  # dates read like the others
    rows = doc.xpath("//section[@id='current']//tbody/tr")
    quoted_row = next(r for r in rows if "quoted" in r.text_content())
    assert "quote-missing" in quoted_row.xpath("string(td[1])") or "quote-altered" in quoted_row.xpath(
        "string(td[1])")  # the reason shares the status cell: never hidden on a phone


def test_markdown_links_are_absolute_with_base_url(digest_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    md = _report(digest_site, "markdown", capsys)
    assert "[saved copy](https://desk.example.org/lc/pages/" in md
    assert "](pages/" not in md and "](snapshots/" not in md
    assert "~~12~~" in md and "**15**" in md


def test_snapshot_links_open_a_readable_page(digest_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = _report(digest_site, "html", capsys)
    href = lxml.html.document_fromstring(html).xpath("//section[@id='broke']//a[text()='saved copy']/@href")[0]
    assert href.startswith("https://desk.example.org/lc/pages/") and href.endswith(".html")
    readable = digest_site.parent / href.removeprefix("https://desk.example.org/lc/")
    doc = lxml.html.document_fromstring(readable.read_text())
    assert doc.xpath("//meta[@name='viewport']") and not doc.xpath("//script | //link | //img")
    assert [m.text for m in doc.xpath("//mark") if m.text != "marked"] == [PAGE]  # the passage, marked
    assert "Intro." in doc.text_content()


def test_a_dead_source_links_its_last_good_saved_copy(server: Server, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Once the page is gone, the digest's card still opens what the article cited: the snapshot
    of the last pass that found the page alive, dated, not the error page (or nothing)."""
    state = {"code": 200}
    server.routes["/story"] = lambda h: send(h, state["code"], page("<p>The story as it was cited.</p>"
                                                                     if state["code"] == 200 else "<p>Gone.</p>"))
    config = write_config(tmp_path, [{"id": "story", "url": server.url("/story")}])
    assert run_cli(["check", "--config", str(config)], capsys)[0] == 0
    state["code"] = 404
    assert run_cli(["check", "--config", str(config)], capsys)[0] == 1
    data = json.loads(_report(config, "json", capsys))
    [card] = data["broke"]
    good = data["current"][0]
    assert card["link"] == "dead" and card["snapshot"] and card["saved_before"] and card == card | {
        "snapshot": good["snapshot"], "saved_before": good["saved_before"]}
    doc = lxml.html.document_fromstring(_report(config, "html", capsys))
    [href] = doc.xpath(f"//section[@id='broke']//a[text()='saved copy of {card['saved_before'][:10]}']/@href")
    readable = (tmp_path / href).read_text()
    assert "The story as it was cited." in readable and "Gone." not in readable
    what_to_do = " ".join(doc.xpath("string(//section[@id='broke']//*[contains(@class, 'todo')])").split())
    assert f"the saved copy of {card['saved_before'][:10]} below shows what was cited" in what_to_do


def test_a_page_gone_from_its_first_pass_has_no_saved_copy(server: Server, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A soft 404 (an error page answering 200) has a snapshot of its own, of the error page: no
    copy of what the article cited, so the card offers none."""
    server.routes["/gone"] = lambda h: send(h, 200, page("<h1>Page not found</h1>", title="Page not found"))
    config = write_config(tmp_path, [{"id": "gone", "url": server.url("/gone")}])
    assert run_cli(["check", "--config", str(config)], capsys)[0] == 1
    data = json.loads(_report(config, "json", capsys))
    [card] = data["broke"]
    assert card["link"] == "soft-404" and card["snapshot"] is None and not card["saved_before"]
    doc = lxml.html.document_fromstring(_report(config, "html", capsys))
    assert not doc.xpath("//section[@id='broke']//a[starts-with(text(), 'saved copy')]")


def test_a_missing_quote_is_shown_beside_the_nearest_passage(server: Server, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A quote not on the page is shown beside the nearest passage, called so: not "the page says",
    which reads as what the page says instead of the quote."""
    server.routes["/p"] = lambda h: send(h, 200, page("<p>The harbour will reopen in spring after repairs.</p>"))
    config = write_config(tmp_path, [{"id": "p", "url": server.url("/p"), "quotes": ["the mayor resigned in protest"]}])
    assert run_cli(["check", "--config", str(config)], capsys)[0] == 1
    markdown = _report(config, "markdown", capsys)
    assert "- nearest passage on the page: “" in markdown and "the page says" not in markdown
    doc = lxml.html.document_fromstring(_report(config, "html", capsys))
    [card] = doc.xpath("//section[@id='broke']//li[@class='quoted']")
    assert "nearest passage on the page" in card.text_content() and "the page says" not in card.text_content()


def test_word_diff_marks_only_what_differs() -> None:
    quote, found = word_diff(QUOTE, PAGE)
    assert [t for t, changed in quote if changed] == ["12", "2023"]
    assert [t for t, changed in found if changed] == ["15", "2024"]
    assert "".join(t for t, _ in quote) == QUOTE and "".join(t for t, _ in found) == PAGE
    _, cjk = word_diff("日本は2023年に参加した", "日本は2024年に参加しない")
    assert [t for t, changed in cjk if changed] == ["2024", "ない"]


@pytest.mark.parametrize(("problems", "link", "wayback", "advice"), [
    (("redirected",), "redirected", None, "Update the citation to the redirect target: https://example.org/new"),
    (("dead",), "dead", "https://web.archive.org/web/2023/x", "Cite the archived copy: https://web.archive.org/web/2023/x"),
    (("dead",), "dead", None, "No archived copy is known"),
    (("quote-altered",), "alive", None, "Re-read the passage as the page has it now"),
    (("content-changed",), "alive", None, "Re-read the page: its text changed"),
    (("unreachable",), "unreachable", None, "Nothing to do yet"),
    ((), "alive", None, ""),
])
def test_what_to_do(problems: tuple[str, ...], link: str, wayback: str | None, advice: str) -> None:
    item = Item(id="s", url="https://example.org/old", title="", status="warning", link=link, problems=problems,
                message="", checked="2026-11-27T08:00:00Z", snapshot=None, wayback=wayback,
                final_url="https://example.org/new")
    assert item.advice().startswith(advice) and bool(item.advice()) == bool(advice)


def test_sentence_around_a_quote_is_context_not_a_change() -> None:
    quote, found = "the new pier would not be privatised", "The mayor said the new pier would be privatised."
    q_runs, page_runs = word_diff(quote, found, b_around=True)
    assert [t.strip() for t, changed in q_runs if changed] == ["not"]
    assert [t for t, changed in page_runs if changed] == []  # "The mayor said", "." are the sentence around it
    assert "".join(t for t, _ in page_runs) == found
    assert any(changed for _, changed in word_diff(quote, found)[1])  # drift diffs keep marking every addition


def test_altered_quote_card_shows_a_dropped_word_and_no_empty_text_diff() -> None:
    from linkcheck.reporters.digest_html import _card

    text, found = "the new pier would not be privatised", "The mayor said the new pier would be privatised."
    item = Item(id="mayor", url="https://example.org/mayor", title="", status="broken", link="alive",
                problems=("quote-altered", "quote-changed"), message="", checked="2026-11-27T08:00:00Z",
                snapshot=None, wayback=None, similarity=0.5,
                quotes=({"text": text, "match": "altered", "found_text": found,
                         "changes": [{"quote": "not", "page": ""}]},),
                quote_changes=({"quote": text, "before": "… would not be privatised.", "after": found},))
    card = lxml.html.fragment_fromstring(_card(item, ""))
    assert [li.text_content() for li in card.xpath(".//ul[@class='changes']/li")] == ["not → (nothing)"]
    assert [m.text.strip() for m in card.xpath(".//li[@class='quoted']//mark")] == ["not"]
    assert "The text changed" not in card.text_content()  # the only changed passage is the quote, shown above


def test_markdown_has_no_empty_by_article_heading() -> None:
    from linkcheck.digest import Digest
    from linkcheck.reporters.digest_markdown import render

    shared = Item(id="ferry", url="https://example.org/ferry", title="", status="ok", link="alive", problems=(),
                  message="", checked="2026-11-27T08:00:00Z", snapshot=None, wayback=None,
                  cited_in=({"article": "a.md", "notes": ["1"]}, {"article": "b.md", "notes": ["2"]}))
    md = render(Digest(since="2026-11-20T08:00:00Z", until="2026-11-27T08:00:00Z", shared=[shared]))
    assert "## By article" not in md  # `report --article` on an article with no problem listed nothing under it
    assert "## Sources shared by several articles (1)" in md


def test_a_recovered_card_does_not_show_the_change_it_recovered_from_as_now(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1,200 quoted, the page said 1,300 for a pass, then 1,200 again: the card of the recovered
    source says what it recovered from, and shows no "before 1,200 / now 1,300" diff (the page now
    says 1,200 again; that version is the one the source had before, so no change is news)."""
    quote = "The harbour saw 1,200 ships in 2025."
    state = {"n": "1,200"}
    server.routes["/h"] = lambda h: send(h, 200, page(f"<p>Intro.</p><p>The harbour saw {state['n']} ships in 2025."))
    config = write_config(tmp_path, [{"id": "h", "url": server.url("/h"), "quotes": [quote]}])
    for n, code in (("1,200", 0), ("1,300", 1), ("1,200", 0)):
        state["n"] = n
        assert run_cli(["check", "--config", str(config)], capsys)[0] == code
    data = json.loads(_report(config, "json", capsys))
    [card] = data["recovered"]
    assert "altered" in card["was"] and "1,300" in card["was"]
    markdown = _report(config, "markdown", capsys).split("## What recovered")[1].split("\n## ")[0]
    assert "Recovered from:" in markdown and "now: " not in markdown and "**1,300**" not in markdown
