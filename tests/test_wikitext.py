"""Wikitext `quote=` (and `title=`) values keep the words their inline templates show: strip_code
alone drops every template, and a quote missing words is then looked for on the page as is."""

from __future__ import annotations

import mwparserfromhell
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkcheck.article import parse_article
from linkcheck.wikitext import shown_text


@pytest.mark.parametrize(("wikitext", "shown"), [
    ("The {{convert|5|km}} road", "The 5 km road"),
    ("A {{convert|5|to|10|km|abbr=on}} stretch", "A 5 to 10 km stretch"),
    ("Il a dit {{lang|fr|la {{small|belle}} ville}}", "Il a dit la belle ville"),
    ("{{lang-de|Guten Tag}} said the mayor", "Guten Tag said the mayor"),
    ("The {{sic|hte}} harbour{{snd}}closed", "The hte harbour – closed"),
    ("{{frac|1|2}} of the {{nowrap|[[pier|harbour pier]]}}", "1/2 of the harbour pier"),
    ("It was {{abbr|UN|United Nations}} policy{{cn}}.", "It was UN policy."),
    ("Costs rose{{sfn|Smith|2020|p=5}} sharply", "Costs rose sharply"),
    ("An {{unknown template|odd words|key=hidden}} case", "An odd words case"),
])
def test_inline_templates_show_their_words(wikitext: str, shown: str) -> None:
    assert shown_text(mwparserfromhell.parse(wikitext)) == shown


def test_a_cite_quote_with_templates_is_cited_with_their_words() -> None:
    article = ("The road.<ref>{{cite web |url=http://r.example/road |title=The {{lang|fr|Route}} "
               "|quote=The {{convert|5|km}} road opened in {{nowrap|May 2023}}}}</ref>\n")
    [source] = parse_article(article, "a.wiki").sources
    assert source.title == "The Route"
    assert [q[0] for q in source.quotes] == ["The 5 km road opened in May 2023"]


_WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=1, max_size=8)


@given(st.lists(_WORD, min_size=1, max_size=4), st.sampled_from(["nowrap", "small", "lang-fr", "whatever", "em"]))
def test_the_words_of_a_template_are_never_silently_lost(words: list[str], name: str) -> None:
    text = " ".join(words)
    assert shown_text(mwparserfromhell.parse(f"before {{{{{name}|{text}}}}} after")) == f"before {text} after"
