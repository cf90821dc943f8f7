"""The accuracy targets of the quote engine on real pages (a vendored subset of the corpus;
benchmarks/quote_accuracy.py measures the whole corpus)."""

from __future__ import annotations

from pathlib import Path

from quote_corpus import evaluate

ARTICLES = Path(__file__).parent / "data" / "articles"


def test_real_pages_found_edits_refused_hidden_text_not_found() -> None:
    figures = evaluate(ARTICLES)
    assert len(figures.found) >= 25 and len(figures.edited) >= 12 and len(figures.hidden) >= 4
    assert any(c.edit.startswith("kanji") for c, _ in figures.edited), "a CJK edit is among the cases"
    assert figures.recall() >= 0.995, [(c.quote, r) for c, r in figures.found if r.match.value == "missing"]
    assert figures.edits_accepted() <= 0.01, [(c.edit, r) for c, r in figures.edited]
    assert figures.hidden_found() == 0
    assert figures.altered_without_changes() == 0
