"""The quote engine: our accuracy corpus (pure stages, table-driven), the 63 public conformance
cases (through the real CLI), and properties that must hold for any text."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, send, write_config
from hypothesis import given, settings
from hypothesis import strategies as st

from linkcheck.extract import extract
from linkcheck.match import match_quotes, normalize
from linkcheck.models import MatchKind, PageText, Quote

DATA = Path(__file__).parent / "data"
CORPUS = tomllib.loads((DATA / "quote-corpus.toml").read_text(encoding="utf-8"))["case"]
EXTERNAL = DATA / "quote-cases.json"  # the public conformance cases, vendored from shared/external
TIERS = {"exact": 0, "normalized": 1, "fuzzy": 2, "altered": 3, "missing": 4}
NOT_FOUND = ("altered", "missing")  # a changed fact is never a match
SCORES: dict[str, list[tuple[bool, bool]]] = {}  # suite -> [(expected found, got found)]


def _body(case: dict[str, Any]) -> bytes:
    return str(case["html"]).encode(case.get("encoding", "utf-8"))


def _ctype(case: dict[str, Any]) -> str:
    return str(case.get("content_type", "text/html; charset=utf-8"))


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 60
    assert {c["expect"] for c in CORPUS} == set(TIERS)
    assert {c.get("encoding") for c in CORPUS} >= {None, "cp932", "euc_jp", "iso2022_jp"}


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_case(case: dict[str, Any]) -> None:
    page = extract(_body(case), _ctype(case))
    quote = Quote(case["quote"], prefix=case.get("prefix", ""), suffix=case.get("suffix", ""),
                  locator=case.get("locator"))
    result = match_quotes(page, [quote], 0.9)[0]
    SCORES.setdefault("corpus", []).append((case["expect"] not in NOT_FOUND, result.match.value not in NOT_FOUND))
    assert result.match.value == case["expect"], (result, page.text)
    assert [[c.quote, c.page] for c in result.changes] == case.get("changes", [])
    if "found" in case:
        assert result.found_text == case["found"]
    if result.match is not MatchKind.MISSING:
        assert result.found_text, "a found quote shows the passage the page holds"
    if page.text:
        assert result.found_text is None or normalize(result.found_text) in normalize(page.text)


def test_external_conformance_cases_through_the_cli(server: Server, tmp_path: Path) -> None:
    cases = json.loads(EXTERNAL.read_text(encoding="utf-8"))
    assert len(cases) == 63
    for case in cases:
        body = f"<!doctype html><html><head><title>t</title></head><body>{case['html']}</body></html>"
        server.routes[f"/{case['id']}"] = lambda h, b=body: send(h, 200, b)
    config = write_config(tmp_path, [{"id": c["id"], "url": server.url(f"/{c['id']}"), "quotes": [c["quote"]]}
                                     for c in cases])
    done = subprocess.run([sys.executable, "-m", "linkcheck", "check", "--config", str(config), "--format", "json",
                           "--no-archive"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr
    got = {s["id"]: s["quotes"][0] for s in json.loads(done.stdout)["sources"]}
    wrong = []
    for case in cases:
        match = got[case["id"]]["match"]
        SCORES.setdefault("external", []).append((case["expect"] == "found", match not in NOT_FOUND))
        if case["expect"] == "missing":
            if match not in NOT_FOUND:
                wrong.append((case["id"], match))
        elif match in NOT_FOUND or TIERS[match] > TIERS[case["tier"]]:
            wrong.append((case["id"], match))
    assert wrong == []


def precision_recall() -> list[str]:
    lines = []
    for suite, pairs in SCORES.items():
        tp = sum(1 for e, g in pairs if e and g)
        fp = sum(1 for e, g in pairs if not e and g)
        fn = sum(1 for e, g in pairs if e and not g)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        lines.append(f"quote engine, {suite}: {len(pairs)} cases, precision {precision:.3f}, recall {recall:.3f}")
    return lines


# --- properties ------------------------------------------------------------------------------

_words = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789'\"-,.;"
                                          "日本語の文章ウクライナ"), min_size=1, max_size=9)
_paragraphs = st.lists(st.lists(_words, min_size=3, max_size=25).map(" ".join), min_size=1, max_size=6)


def _html(paragraphs: list[str]) -> str:
    from html import escape

    return "<html><body>" + "".join(f"<p>{escape(p)}</p>" for p in paragraphs) + "</body></html>"


@settings(max_examples=150, deadline=None)
@given(_paragraphs, st.data())
def test_any_words_cut_from_the_visible_text_are_found_exact(paragraphs: list[str], data: st.DataObject) -> None:
    page = extract(_html(paragraphs).encode(), "text/html; charset=utf-8")
    words = " ".join(page.text.split("\n")).split(" ")
    start = data.draw(st.integers(0, len(words) - 1))
    quote = " ".join(words[start:data.draw(st.integers(start + 1, len(words)))]).strip()
    if not quote:
        return
    result = match_quotes(page, [Quote(quote)], 0.9)[0]
    assert result.match is MatchKind.EXACT
    assert result.found_text and normalize(quote) in normalize(result.found_text)


_NOISE = {" ": ["\u00a0", "  ", "\n", "\u3000"], "'": ["’", "‘"], '"': ["“", "”", "「"],
          "-": ["–", "—", "‐"]}


@settings(max_examples=150, deadline=None)
@given(_paragraphs, st.data())
def test_typography_noise_is_still_found_normalized(paragraphs: list[str], data: st.DataObject) -> None:
    page = PageText(text="\n".join(" ".join(p.split()) for p in paragraphs), main="")
    flat = " ".join(page.text.split("\n"))
    words = flat.split(" ")
    start = data.draw(st.integers(0, len(words) - 1))
    quote = " ".join(words[start:start + data.draw(st.integers(1, 12))]).strip()
    if not quote.strip(" '\",;:"):
        return
    noisy = "".join(data.draw(st.sampled_from([ch, *_NOISE[ch]])) if ch in _NOISE else
                    data.draw(st.sampled_from([ch, ch.upper(), ch + "\u00ad", ch + "\u200b"]))
                    for ch in quote)
    result = match_quotes(page, [Quote(noisy)], 0.9)[0]
    assert result.match in (MatchKind.EXACT, MatchKind.NORMALIZED), (noisy, flat)


@given(st.text(max_size=200))
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


@pytest.mark.parametrize(("body", "declared", "codec"), [
    ("北约峰会在维尔纽斯举行，各国领导人同意加强防务合作。".encode(), "gb2312", "utf-8"),  # repaired
    ("北约峰会在维尔纽斯举行，各国领导人同意加强防务合作。".encode("gb18030"), "gb2312", "gb18030"),
    ("Café crème, déjà vu.".encode(), "iso-8859-1", "utf-8"),  # repaired
    ("Café crème, déjà vu.".encode("cp1252"), "iso-8859-1", "cp1252"),
])
def test_charset_repair_reports_the_codec_used(body: bytes, declared: str, codec: str) -> None:
    page = extract(b"<p>" + body + b"</p>", f"text/html; charset={declared}")
    assert page.encoding == codec
    assert "\ufffd" not in page.text and page.text.endswith(("合作。", "vu."))


def test_the_nearest_passage_does_not_run_a_heading_into_a_paragraph() -> None:
    """A heading has no full stop: the passage shown for a missing quote is the paragraph's sentence
    alone, not "Weather notes Spring arrived early…"."""
    page = extract(b"<main><h1>Weather notes</h1><p>Spring arrived early this year across the Baltic states. "
                   b"Rain followed.</p></main>", "text/html; charset=utf-8")
    altered, missing = match_quotes(page, [Quote("Spring came early this year across the Baltic states"),
                                           Quote("Ukraine's path to membership is irreversible")], 0.9)
    assert (altered.match, missing.match) == (MatchKind.ALTERED, MatchKind.MISSING)
    assert altered.found_text == missing.found_text == "Spring arrived early this year across the Baltic states."
