"""Altered quotes, paraphrases and passages that changed since the last pass, through the CLI:
status, problems, JSON (with its schema) and every report format showing `12 → 15`."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import Server, by_id, check_json, page, run_cli, send, write_config

import linkcheck
from linkcheck.match import match_quotes
from linkcheck.models import PageText, Quote, QuoteKind
from linkcheck.reporters.digest_html import marked

SCHEMA = json.loads((Path(linkcheck.__file__).parent / "schema" / "report.schema.json").read_text())
PORT = "In 2022 the port handled 1.2 million containers, officials said on Monday."
NATO = ("11. We will be in a position to extend an invitation to Ukraine to join the Alliance when Allies agree "
        "and conditions are met.")


def _site(server: Server, pages: dict[str, str]) -> None:
    for path in pages:
        server.routes[path] = lambda h, p=path: send(h, 200, page(pages[p]))


def test_an_altered_quote_is_broken_and_every_format_shows_the_change(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _site(server, {"/port": f"<p>{PORT}</p>"})
    config = write_config(tmp_path, [{"id": "port", "url": server.url("/port"),
                                      "quotes": ["the port handled 1.5 million containers"]}])
    code, report = check_json(config, capsys)
    jsonschema.validate(report, SCHEMA)
    source = by_id(report)["port"]
    assert code == 1 and source["status"] == "broken" and "quote-altered" in source["problems"]
    quote = source["quotes"][0]
    assert quote["match"] == "altered" and quote["found_text"] == PORT
    assert quote["changes"] == [{"quote": "1.5", "page": "1.2"}]
    for fmt in ("text", "markdown", "github", "junit"):
        code, out, _ = run_cli(["check", "--config", str(config), "--format", fmt, "--no-archive"], capsys)
        assert code == 1 and "1.5 → 1.2" in out, (fmt, out)


def test_the_quoted_passage_changing_since_the_last_pass_is_a_warning_with_its_changes(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pages = {"/port": f"<p>{PORT}</p>"}
    _site(server, pages)
    config = write_config(tmp_path, [{"id": "port", "url": server.url("/port"),
                                      "quotes": ["the port handled 1.2 million containers"]}])
    code, first = check_json(config, capsys)
    assert code == 0 and by_id(first)["port"]["status"] == "ok"
    pages["/port"] = f"<p>{PORT.replace('2022', '2023').replace('Monday', 'Tuesday')}</p>"
    code, second = check_json(config, capsys)
    jsonschema.validate(second, SCHEMA)
    source = by_id(second)["port"]
    quote = source["quotes"][0]
    assert code == 0 and source["status"] == "warning" and "quote-changed" in source["problems"]
    assert quote["match"] == "exact", "the quote itself still matches"
    assert quote["previous_text"] == PORT
    assert quote["passage_changes"] == [{"before": "2022", "after": "2023"}, {"before": "Monday", "after": "Tuesday"}]
    assert "2022 → 2023" in source["message"]
    code, html, _ = run_cli(["report", "--config", str(config), "--format", "html"], capsys)
    assert code == 0 and "<mark>2023</mark>" in html and "<mark>Tuesday</mark>" in html
    code, digest, _ = run_cli(["report", "--config", str(config), "--format", "json"], capsys)
    items = json.loads(digest)["current"]
    assert items[0]["word_changes"][0]["passage_changes"][0] == {"before": "2022", "after": "2023"}
    code, third = check_json(config, capsys)
    assert "quote-changed" not in by_id(third)["port"]["problems"], "reported once, not on every pass"


def test_a_page_back_to_the_quoted_words_recovers_without_a_warning(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1.2 → 1.5 is the quote altered (broken); 1.5 → 1.2 again is the quote found word for word,
    not a `quote-changed` warning about the very change that mended it (the page's text did
    change: that is `content-changed`, as for any edit)."""
    pages = {"/port": f"<p>{PORT.replace('1.2', '1.5')}</p>"}
    _site(server, pages)
    config = write_config(tmp_path, [{"id": "port", "url": server.url("/port"),
                                      "quotes": ["the port handled 1.2 million containers"]}])
    code, first = check_json(config, capsys)
    assert code == 1 and by_id(first)["port"]["quotes"][0]["match"] == "altered"
    pages["/port"] = f"<p>{PORT}</p>"
    code, second = check_json(config, capsys)
    source = by_id(second)["port"]
    assert code == 0 and source["problems"] == ["content-changed"]
    assert source["quotes"][0]["match"] == "exact" and "passage_changes" not in source["quotes"][0]


def test_a_paraphrase_is_located_watched_and_never_missing(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pages = {"/nato": f"<p>{NATO}</p><p>24. We remain open to constructive engagement with the PRC.</p>"}
    _site(server, pages)
    restated = "Ukraine will be invited to join once the allies agree and the conditions are met"
    config = write_config(tmp_path, [{"id": "nato", "url": server.url("/nato"), "quotes": [
        {"text": restated, "kind": "paraphrase"},
        {"text": "Japan signed a space cooperation framework with Brazil", "kind": "paraphrase"}]}])
    code, first = check_json(config, capsys)
    source = by_id(first)["nato"]
    located, nowhere = source["quotes"]
    assert code == 0 and source["status"] == "ok" and source["problems"] == []
    assert located["kind"] == "paraphrase" and located["match"] == "fuzzy"
    assert located["found_text"] == NATO[4:]
    assert nowhere["match"] == "unverifiable", "a paraphrase is never missing for its wording"
    pages["/nato"] = pages["/nato"].replace("when Allies agree", "when all Allies unanimously agree")
    code, second = check_json(config, capsys)
    source = by_id(second)["nato"]
    assert source["status"] == "warning" and "quote-changed" in source["problems"]
    assert source["quotes"][0]["passage_changes"] == [{"before": "", "after": "all"},
                                                      {"before": "", "after": "unanimously"}]


@pytest.mark.parametrize(("text", "words", "html"), [
    ("12 ships in 2012", ["12"], "<mark>12</mark> ships in 2012"),
    ("a <b> & 15", ["15", "<b>"], "a <mark>&lt;b&gt;</mark> &amp; <mark>15</mark>"),
    ("加盟国が合意し", ["合"], "加盟国が<mark>合</mark>意し"),
    ("nothing changed", [""], "nothing changed"),
])
def test_changed_words_are_marked_in_the_digest(text: str, words: list[str], html: str) -> None:
    assert marked(text, words) == html


COMMUNIQUE = "\n".join([
    NATO,
    "24. We remain open to constructive engagement with the PRC, including to build reciprocal transparency.",
    "25. The Indo-Pacific is important for NATO, given that developments in that region can directly affect "
    "Euro-Atlantic security.",
])


@pytest.mark.parametrize(("restated", "kind", "found"), [
    ("the relationship with China remains open", "fuzzy", "We remain open to constructive engagement"),
    ("inviting Ukraine to join the alliance when agreed by member countries and when conditions are met", "fuzzy",
     "We will be in a position to extend an invitation"),
    ("events in the Indo-Pacific can directly affect Euro-Atlantic security", "fuzzy", "The Indo-Pacific is"),
    ("Japan signed a space cooperation framework with Brazil", "unverifiable", None),
])
def test_paraphrases_are_located_by_the_words_they_share(restated: str, kind: str, found: str | None) -> None:
    result = match_quotes(PageText(text=COMMUNIQUE, main=COMMUNIQUE), [Quote(restated, kind=QuoteKind.PARAPHRASE)],
                          0.9)[0]
    assert result.match.value == kind and result.kind is QuoteKind.PARAPHRASE
    assert (result.found_text or "").startswith(found or "")


def test_a_change_both_altered_and_since_last_check_is_said_once() -> None:
    """When the page changed exactly where it now departs from the quote, `quote-altered` and
    `quote-changed` name the same words: the message and the report line say them once."""
    from linkcheck.models import Change, Drift, DriftState, LinkState, MatchKind, QuoteMatch
    from linkcheck.policy import message_for
    from linkcheck.reporters.common import quote_line
    dropped = Change("not", "")
    q = QuoteMatch("we will not raise taxes", MatchKind.ALTERED, 0.9, "we will raise taxes", changes=(dropped,),
                   previous_text="we will not raise taxes", passage_changes=(dropped,))
    message = message_for("", LinkState.ALIVE, [q], Drift(DriftState.UNCHANGED), "")
    assert message.count("“not” → (nothing)") == 1, message
    assert quote_line(q).count("“not” → (nothing)") == 1, quote_line(q)
    # A change since the last check that the quote's own changes do not name is still said.
    moved = QuoteMatch(q.text, q.match, q.score, q.found_text, changes=q.changes, previous_text="x",
                       passage_changes=(dropped, Change("taxes", "rates")))
    assert "reads differently now (“taxes” → “rates”)" in message_for("", LinkState.ALIVE, [moved],
                                                                       Drift(DriftState.UNCHANGED), "")
    assert quote_line(moved).endswith("changed since the last check: “taxes” → “rates”")


def test_a_single_altered_quote_is_described_once_in_each_report(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The message's account of the altered quote is what the quote's own line says: the text,
    Markdown and JUnit reports, which list the quotes, show it once; GitHub annotations, which
    only carry the message, still show it."""
    import xml.etree.ElementTree as ET
    _site(server, {"/port": f"<p>{PORT}</p>"})
    config = write_config(tmp_path, [{"id": "port", "url": server.url("/port"),
                                      "quotes": ["the port handled 1.5 million containers"]}])
    for fmt in ("text", "markdown", "github"):
        code, out, _ = run_cli(["check", "--config", str(config), "--format", fmt, "--no-archive"], capsys)
        assert code == 1 and out.count("1.5 → 1.2") == 1 and out.count("1.2 million containers") == 1, (fmt, out)
    code, out, _ = run_cli(["check", "--config", str(config), "--format", "junit", "--no-archive"], capsys)
    failure = ET.fromstring(out).find(".//failure")
    assert failure is not None and (failure.text or "").count("1.5 → 1.2") == 1, out


def test_only_the_quote_sentences_leave_a_message_above_the_quotes() -> None:
    from linkcheck.models import Change, Drift, DriftState, LinkState, MatchKind, QuoteMatch
    from linkcheck.policy import message_for, without_quote_sentences
    q = QuoteMatch("12 homes; built", MatchKind.ALTERED, 0.9, "15 homes; built", changes=(Change("12", "15"),))
    changed = Drift(DriftState.CHANGED, 0.5)
    for link_message, drift, rest in (
            ("", Drift(DriftState.UNCHANGED), ""),
            ("moved to http://b/; update the citation", Drift(DriftState.UNCHANGED),
             "Moved to http://b/; update the citation."),
            ("", changed, "The main text changed since the last snapshot (similarity 0.50)."),
            ("moved to http://b/", changed,
             "Moved to http://b/; the main text changed since the last snapshot (similarity 0.50).")):
        message = message_for(link_message, LinkState.ALIVE, [q], drift, "")
        assert "12 → 15" in message
        assert without_quote_sentences(message, [q]) == rest, message
    assert without_quote_sentences("Moved to http://b/.", [q]) == "Moved to http://b/."
    assert without_quote_sentences("known problem: dead", [q]) == "known problem: dead"
