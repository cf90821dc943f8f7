"""Quote cases generated from real article pages and their ground-truth text (the corpus of
scrapinghub/article-extraction-benchmark, MIT): what a citing article could quote, what it
could misquote, and what a page holds but nobody can read.

- `found`: sentences of the ground-truth article text that are on the page (in its text outside
  scripts, styles and templates, an oracle independent of linkcheck's extractor): must be found.
- `edited`: the same sentences with exactly one fact changed (a number, a date, a name, a
  negation, a content word; the edit is recorded): must be `altered` or `missing`.
- `hidden`: text that sits only in scripts, attributes or metadata: must not be found.

Used by tests/test_quote_corpus.py on a small vendored subset (tests/data/articles) and by
benchmarks/quote_accuracy.py on the whole corpus.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
from lxml import etree
from rapidfuzz.distance import OSA

from linkcheck.extract import decode, extract
from linkcheck.facts import FUNCTION_WORDS
from linkcheck.match import match_quotes, normalize, sentence_spans
from linkcheck.models import MatchKind, Quote, QuoteMatch

FOUND_PER_PAGE, EDITED_PER_PAGE, HIDDEN_PER_PAGE = 4, 2, 1
ACCEPTED = (MatchKind.EXACT, MatchKind.NORMALIZED, MatchKind.FUZZY)
_INVISIBLE_TAGS = ("script", "style", "template", "head", "noscript")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_KANJI_RE = re.compile(r"[\u4e00-\u9fff]")
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_NUMBER_RE = re.compile(r"\d+")
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_NAMES = ["Morrison", "Kowalski", "Tanaka", "Lisbon", "Harrington", "Valdez", "Okafor", "Brandt", "Quebec",
          "Lindqvist"]
_ANTONYMS = {"after": "before", "before": "after", "more": "fewer", "fewer": "more", "less": "more",
             "public": "private", "private": "public", "first": "last", "last": "first", "new": "old",
             "old": "new", "high": "low", "low": "high", "higher": "lower", "lower": "higher", "large": "small",
             "small": "large", "early": "late", "late": "early", "increase": "decrease", "increased": "decreased",
             "open": "closed", "up": "down", "down": "up", "best": "worst", "better": "worse", "always": "rarely",
             "most": "least", "many": "few", "big": "small", "long": "short", "rise": "fall", "won": "lost",
             "start": "end", "inside": "outside", "above": "below", "north": "south", "east": "west"}
_AUXILIARIES = ("is", "are", "was", "were", "will", "would", "can", "could", "should", "has", "have", "had",
                "does", "did", "may", "might", "must")
_AUX_RE = re.compile(rf"\b({'|'.join(_AUXILIARIES)})\b(?!\s+not\b)", re.I)


@dataclass(frozen=True)
class Case:
    page: str
    kind: str  # "found", "edited" or "hidden"
    quote: str
    edit: str = ""  # for `edited`: the kind of fact and the change, "number: 12 → 15"


@dataclass
class Figures:
    found: list[tuple[Case, QuoteMatch]] = field(default_factory=list)
    edited: list[tuple[Case, QuoteMatch]] = field(default_factory=list)
    hidden: list[tuple[Case, QuoteMatch]] = field(default_factory=list)

    def recall(self) -> float:
        return sum(r.match in ACCEPTED for _, r in self.found) / max(1, len(self.found))

    def edits_accepted(self) -> float:
        return sum(r.match in ACCEPTED for _, r in self.edited) / max(1, len(self.edited))

    def hidden_found(self) -> float:
        return sum(r.match in ACCEPTED for _, r in self.hidden) / max(1, len(self.hidden))

    def altered_without_changes(self) -> int:
        return sum(1 for _, r in [*self.found, *self.edited, *self.hidden]
                   if r.match is MatchKind.ALTERED and not r.changes)


def load(folder: Path) -> Iterator[tuple[str, bytes, str]]:
    """(page id, raw HTML bytes, ground-truth article text) of every page of a corpus folder."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    for page_id in sorted(truth):
        path = folder / "html" / f"{page_id}.html.gz"
        if path.exists():
            yield page_id, gzip.decompress(path.read_bytes()), truth[page_id]["articleBody"]


def oracle_text(raw: bytes) -> str:
    """The page's text outside scripts, styles, templates and the head, normalized: where a
    sentence of the article must be for a reader to see it (hiding by attributes and CSS is left
    to the extractor under test)."""
    root = lxml.html.document_fromstring(decode(raw)[0])
    for el in [e for e in root.iter(*_INVISIBLE_TAGS) if e.getparent() is not None]:
        el.drop_tree()
    etree.strip_elements(root, etree.Comment, with_tail=False)
    return normalize(root.text_content())


def _sentences(body: str) -> list[str]:
    out = []
    for para in body.split("\n"):
        for s, e in sentence_spans(para.strip()):
            sentence = para.strip()[s:e]
            cjk = len(_CJK_RE.findall(sentence))
            if (cjk >= 12 or (len(sentence.split()) >= 6 and cjk == 0)) and 30 <= len(sentence) <= 400:
                out.append(sentence)
    return out


def _replace_at(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _number(sentence: str, rng: random.Random) -> tuple[str, str] | None:
    found = list(_NUMBER_RE.finditer(sentence))
    if not found:
        return None
    m = rng.choice(found)
    old = m.group()
    new = str(int(old) + 3) if len(old) == 4 and old[:2] in ("19", "20") else old[:-1] + str((int(old[-1]) + 3) % 10)
    return _replace_at(sentence, m.start(), m.end(), new), f"number: {old} → {new}"


def _date(sentence: str, rng: random.Random) -> tuple[str, str] | None:
    for names in (_MONTHS, _DAYS):
        found = list(re.finditer(rf"\b({'|'.join(names)})\b", sentence))
        if found:
            m = rng.choice(found)
            new = names[(names.index(m.group()) + 2) % len(names)]
            return _replace_at(sentence, m.start(), m.end(), new), f"date: {m.group()} → {new}"
    return None


def _name(sentence: str, rng: random.Random) -> tuple[str, str] | None:
    found = [m for m in re.finditer(r"(?<=[a-z,] )[A-Z][a-z]{2,}\b", sentence)
             if m.group() not in _MONTHS + _DAYS and m.group().lower() not in FUNCTION_WORDS]
    if not found:
        return None
    m = rng.choice(found)
    new = next(n for n in rng.sample(_NAMES, len(_NAMES)) if n not in sentence and OSA.distance(n, m.group()) > 1)
    return _replace_at(sentence, m.start(), m.end(), new), f"name: {m.group()} → {new}"


def _negation(sentence: str, rng: random.Random) -> tuple[str, str] | None:
    m = re.search(r"\s(not|never)\b", sentence)
    if m:
        return sentence[:m.start()] + sentence[m.end():], f"negation dropped: {m.group(1)}"
    m = re.search(r"\b(\w+)n['’]t\b", sentence)
    if m:
        stem = {"wo": "will", "ca": "can", "sha": "shall"}.get(m.group(1).lower(), m.group(1))
        return _replace_at(sentence, m.start(), m.end(), stem), f"negation dropped: {m.group()} → {stem}"
    m = _AUX_RE.search(sentence)
    if m:
        return _replace_at(sentence, m.end(), m.end(), " not"), f"negation added: {m.group()} not"
    return None


def _content_word(sentence: str, rng: random.Random, vocabulary: Sequence[str]) -> tuple[str, str] | None:
    words = list(_WORD_RE.finditer(sentence))
    for m in words:
        if m.group().lower() in _ANTONYMS:
            new = _ANTONYMS[m.group().lower()]
            new = new.capitalize() if m.group()[0].isupper() else new
            return _replace_at(sentence, m.start(), m.end(), new), f"content word: {m.group()} → {new}"
    candidates = [m for m in words if len(m.group()) >= 5 and m.group().islower()
                  and m.group() not in FUNCTION_WORDS]
    if not candidates or not vocabulary:
        return None
    m = rng.choice(candidates)
    for new in rng.sample(list(vocabulary), min(50, len(vocabulary))):
        if new[:4] != m.group()[:4] and OSA.distance(new, m.group()) > 1 and new not in sentence:
            return _replace_at(sentence, m.start(), m.end(), new), f"content word: {m.group()} → {new}"
    return None


def _cjk_character(sentence: str, rng: random.Random, vocabulary: Sequence[str]) -> tuple[str, str] | None:
    found = list(_KANJI_RE.finditer(sentence))
    kanji = [c for c in vocabulary if _KANJI_RE.fullmatch(c)]
    if not found or not kanji:
        return None
    m = rng.choice(found)
    new = next((c for c in rng.sample(kanji, min(50, len(kanji))) if c != m.group()), None)
    return (_replace_at(sentence, m.start(), m.end(), new), f"kanji: {m.group()} → {new}") if new else None


def one_fact_edit(sentence: str, rng: random.Random, vocabulary: Sequence[str]) -> tuple[str, str] | None:
    """`sentence` with exactly one fact changed, and what changed; None when no edit applies."""
    if _CJK_RE.search(sentence):
        return _cjk_character(sentence, rng, vocabulary) or _number(sentence, rng)
    kinds = [lambda: _number(sentence, rng), lambda: _date(sentence, rng), lambda: _name(sentence, rng),
             lambda: _negation(sentence, rng), lambda: _content_word(sentence, rng, vocabulary)]
    rng.shuffle(kinds)
    return next((edit for make in kinds if (edit := make()) is not None), None)


def _squash(text: str) -> str:
    """Letters and digits only: "White-Label, Native" and "white label native" are the same text."""
    return re.sub(r"[\W_]+", "", normalize(text))


def _shingles(text: str, n: int) -> set[str]:
    words = text.split()
    return {_squash(" ".join(words[i:i + n])) for i in range(max(1, len(words) - n + 1))}


def hidden_texts(raw: bytes, visible: str, body: str) -> list[str]:
    """Readable strings that sit only in scripts, attributes or metadata: none of their
    five-word runs is in the visible text or in the article."""
    root = lxml.html.document_fromstring(decode(raw)[0])
    candidates: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("content", "alt", "title", "aria-label", "data-title", "data-description"):
            value = el.get(attr)
            if value:
                candidates.append(value)
        if el.tag == "script" and el.text:
            candidates += re.findall(r'"((?:[^"\\]|\\.){25,300})"', el.text)
    seen = _squash(visible) + " " + _squash(body)
    out = []
    for text in dict.fromkeys(c.strip() for c in candidates):
        words = text.split()
        if len(words) < 5 or "\\" in text or "http" in text or "{" in text or "<" in text or "/" in text:
            continue
        if sum(c.isalpha() for c in text) < 0.7 * len(text):
            continue
        if any(s in seen for s in _shingles(text, 5)):
            continue
        out.append(text)
    return out


def page_cases(page_id: str, raw: bytes, body: str) -> list[Case]:
    """The cases of one page, the same on every run (seeded by the page id)."""
    rng = random.Random(page_id)
    visible = oracle_text(raw)
    on_page = [s for s in _sentences(body) if normalize(s) in visible]
    chosen = rng.sample(on_page, min(FOUND_PER_PAGE, len(on_page)))
    cases = [Case(page_id, "found", s) for s in chosen]
    vocabulary = sorted({w for s in on_page for w in (_WORD_RE.findall(s) + _KANJI_RE.findall(s))
                         if (w.islower() and len(w) >= 5 and w not in FUNCTION_WORDS) or _KANJI_RE.fullmatch(w)})
    for sentence in chosen[:EDITED_PER_PAGE]:
        edit = one_fact_edit(sentence, rng, vocabulary)
        if edit is not None and normalize(edit[0]) not in visible:
            cases.append(Case(page_id, "edited", edit[0], edit[1]))
    hidden = hidden_texts(raw, visible, body)
    cases += [Case(page_id, "hidden", t) for t in rng.sample(hidden, min(HIDDEN_PER_PAGE, len(hidden)))]
    return cases


def evaluate(folder: Path, min_score: float = 0.9) -> Figures:
    """Generate every case of the corpus in `folder` and check it against its page."""
    figures = Figures()
    for page_id, raw, body in load(folder):
        cases = page_cases(page_id, raw, body)
        if not cases:
            continue
        page = extract(raw, "text/html")
        results = match_quotes(page, [Quote(c.quote) for c in cases], min_score)
        for case, result in zip(cases, results, strict=True):
            getattr(figures, case.kind).append((case, result))
    return figures
