"""A changed fact is never a match: the rules of fuzzy vs altered, one table row per rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkcheck.match import match_quotes
from linkcheck.models import MatchKind, PageText, Quote
from linkcheck.policy import changes_text

PORT = "The port handled 1,200 containers in March 2022, more than any other port in the region."
VOTE = "Support for the plan rose to 74% after the vote, the survey of public opinion found."
HE = "Many years later, as he faced the firing squad, Colonel Aureliano Buendía was to remember."
JA = "ウクライナは加盟国が同意し条件が満たされれば同盟に招待される。"

# (id, page, quote, expected match, expected changes as (quote, page) pairs)
RULES = [
    ("number", PORT, "The port handled 1,500 containers in March 2022", "altered", [("1,500", "1,200")]),
    ("number-as-number", PORT, "The port handled 1200 containers in March 2022", "fuzzy", []),
    ("full-width-digits", PORT, "The port handled １,２００ containers in March 2022", "normalized", []),
    ("date-year", PORT, "The port handled 1,200 containers in March 2023", "altered", [("2023", "2022")]),
    ("date-month", PORT, "The port handled 1,200 containers in April 2022", "altered", [("April", "March")]),
    ("percentage", VOTE, "Support for the plan rose to 77% after the vote", "altered", [("77", "74")]),
    ("percent-spelt-out", VOTE, "Support for the plan rose to 74 percent after the vote", "fuzzy", []),
    ("content-word", VOTE, "Support for the plan rose to 74% before the vote", "altered", [("before", "after")]),
    ("antonym", VOTE, "the survey of private opinion found", "altered", [("private", "public")]),
    ("more-fewer", PORT, "fewer than any other port in the region", "altered", [("fewer", "more")]),
    ("negation-added", VOTE, "Support for the plan did not rise to 74% after the vote", "altered",
     [("did not", "")]),
    ("negation-dropped", "The minister said the decision was not final and talks would go on.",
     "The minister said the decision was final and talks would go on.", "altered", [("", "not")]),
    ("contraction-negation", "Officials said they do not expect the talks to resume this year.",
     "Officials said they don't expect the talks to resume this year.", "fuzzy", []),
    ("cannot", "Officials said they cannot expect the talks to resume this year.",
     "Officials said they can't expect the talks to resume this year.", "fuzzy", []),
    ("won't", "Officials said they will not resume the talks this year.",
     "Officials said they won't resume the talks this year.", "fuzzy", []),
    ("contraction-cut-by-the-edge", "Avoid food that isn't good.", "Avoid food that is", "altered",
     [("", "isn't")]),
    ("word-cut-by-the-edge", "Many years later, as she faced the firing squad.", "he faced the firing squad",
     "altered", [("he", "she")]),
    ("pronoun", HE, "Many years later, as she faced the firing squad", "altered", [("she", "he")]),
    ("name", HE, "as he faced the firing squad, Colonel Aureliano Segundo was to remember", "altered",
     [("Segundo", "Buendía")]),
    ("typo", HE, "Many yers later, as he faced the firing squad", "fuzzy", []),
    ("typo-transposed", HE, "Many years later, as he faced the firign squad", "fuzzy", []),
    ("case-punctuation", HE, "many years later as he faced the firing squad colonel aureliano buendía", "fuzzy",
     []),
    ("article-dropped", PORT, "The port handled 1,200 containers in March 2022, more than any other port in region",
     "fuzzy", []),
    ("auxiliary", "Allies will agree to extend the invitation when conditions are met.",
     "Allies would agree to extend the invitation when conditions are met.", "fuzzy", []),
    ("elision", "It is the largest port in the region, officials said on Monday.",
     "It's the largest port in the region, officials said on Monday.", "fuzzy", []),
    ("ellipsis", "It is the largest port in the region, officials said on Monday after the meeting.",
     "It is the largest port in the region … on Monday after the meeting.", "fuzzy", []),
    ("hyphenation", "The long-term plan was approved by the council after a debate.",
     "The long term plan was approved by the council after a debate.", "fuzzy", []),
    ("reference-markers", "The city has 12 parks,[3] more than any other city[a] in the region.[note 2]",
     "The city has 12 parks, more than any other city in the region.", "fuzzy", []),
    ("ko-syllable", "대한민국 정부는 오늘 새로운 예산안을 발표했다.", "대한만국 정부는 오늘 새로운 예산안을 발표했다",
     "altered", [("대한만국", "대한민국")]),
    ("unrelated", PORT, "The minister resigned after the election results were announced.", "missing", []),
    ("ja-exact", JA, "加盟国が同意し条件が満たされれば", "exact", []),
    ("ja-kanji", JA, "加盟国が合意し条件が満たされれば", "altered", [("合", "同")]),
    ("ja-comma", JA, "加盟国が同意し、条件が満たされれば", "fuzzy", []),
    ("ja-particle", JA, "加盟国は同意し条件が満たされれば", "fuzzy", []),
    ("ja-katakana", JA, "ロシアは加盟国が同意し条件が満たされれば", "altered", [("ロシア", "ウクライナ")]),
    ("ja-negation", JA, "加盟国が同意し条件が満たされなければ", "altered", [("なけ", "")]),
    ("ja-digit", "加盟国は32か国で、条件が満たされれば招待される。", "加盟国は31か国で、条件が満たされれば", "altered",
     [("31", "32")]),
]


@pytest.mark.parametrize(("page", "quote", "kind", "changes"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_fact_rules(page: str, quote: str, kind: str, changes: list[tuple[str, str]]) -> None:
    result = match_quotes(PageText(text=page, main=page), [Quote(quote)], 0.9)[0]
    assert result.match.value == kind, result
    assert [(c.quote, c.page) for c in result.changes] == changes
    if result.match is not MatchKind.MISSING:
        assert result.found_text == page, "found_text is the page's sentence"


def test_changes_read_as_an_editor_expects() -> None:
    result = match_quotes(PageText(text=PORT, main=PORT), [Quote("The port handled 12 containers in May 2022")],
                          0.9)[0]
    assert changes_text(result.changes) == "12 → 1,200; “May” → “March”"


_WORD = st.sampled_from(["alliance", "summit", "members", "agreed", "border", "budget", "council", "treaty",
                         "ministers", "defence", "capital", "region", "partners", "talks"])


@settings(max_examples=60, deadline=None)
@given(st.lists(_WORD, min_size=8, max_size=20), st.data())
def test_any_one_number_changed_is_altered_with_that_change(words: list[str], data: st.DataObject) -> None:
    at = data.draw(st.integers(1, len(words) - 2))
    old, new = data.draw(st.integers(1, 5000)), data.draw(st.integers(1, 5000))
    if old == new:
        return
    sentence = " ".join([*words[:at], str(old), *words[at:]]) + "."
    quote = " ".join([*words[:at], str(new), *words[at:]])
    result = match_quotes(PageText(text=sentence, main=sentence), [Quote(quote)], 0.9)[0]
    assert result.match is MatchKind.ALTERED
    assert [(c.quote, c.page) for c in result.changes] == [(str(new), str(old))]


_CONTENT = ["alliance", "summit", "members", "border", "budget", "council", "treaty", "ministers", "defence",
            "capital", "region", "partners", "talks", "harbour", "election", "pipeline"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_CONTENT), min_size=6, max_size=20), st.data())
def test_any_one_content_word_swapped_is_altered(words: list[str], data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(words) - 1))
    new = data.draw(st.sampled_from([w for w in _CONTENT if w != words[at]]))
    sentence = " ".join(words) + "."
    quote = " ".join([*words[:at], new, *words[at + 1:]])
    result = match_quotes(PageText(text=sentence, main=sentence), [Quote(quote)], 0.9)[0]
    assert result.match is MatchKind.ALTERED, result
    assert (new, words[at]) in [(c.quote, c.page) for c in result.changes]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_CONTENT), min_size=8, max_size=20), st.data())
def test_differences_that_change_no_fact_stay_found(words: list[str], data: st.DataObject) -> None:
    at = data.draw(st.integers(1, len(words) - 2))
    harmless = data.draw(st.sampled_from([
        lambda w: [*w[:at], "the", *w[at:]],  # an article added
        lambda w: [*w[:at], w[at].upper() + ",", *w[at + 1:]],  # case and punctuation
        lambda w: [*w[:at], w[at][:2] + w[at][3:], *w[at + 1:]],  # a letter dropped (a typo)
        lambda w: [*w[:at], "…", *w[at + 1:]],  # an ellipsis for a word left out
    ]))
    sentence = " ".join(words) + "."
    quote = " ".join(harmless(words))
    result = match_quotes(PageText(text=sentence, main=sentence), [Quote(quote)], 0.9)[0]
    assert result.match in (MatchKind.FUZZY, MatchKind.NORMALIZED, MatchKind.EXACT), (quote, result)
    assert result.changes == ()
