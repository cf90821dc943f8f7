"""Does the page still say what the article quotes? Exact → normalized → fuzzy. Pure.

One `normalize()` is used for quotes and pages alike. A page is prepared once (`Page`) and
then every quote is looked up in it; the fuzzy tier is rapidfuzz's `partial_ratio_alignment`
(best-aligned substring, Indel similarity), whose cost grows linearly with the page.

`found_text` is mapped back from the normalized page to the page's own lines, then widened
to whole sentences: an approximation that can include one sentence too many when a page
puts two sentences in one line without a space (Japanese does, and is split on 。 instead).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from .models import MatchKind, PageText, Quote, QuoteMatch

_WS_RE = re.compile(r"\s+")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"), None)
_FOLD = str.maketrans({
    **dict.fromkeys("‘’‚‛′`´ʼ", "'"),
    **dict.fromkeys("“”„‟″«»「」『』〝〞〟＂", '"'),
    **dict.fromkeys("‐‑‒–—―−﹘﹣－", "-"),
    **dict.fromkeys("〜～", "~"),
    "\u3000": " ",
})
_CJK = r"\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP_RE = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")
_CJK_CHAR_RE = re.compile(f"[{_CJK}]")
_EDGE_QUOTES = "\"' ,;:"
_PARA_NUMBER_RE = re.compile(r"\(?\d{1,3}[.)]")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=\S)|(?<=[。！？])[」』）]*")


_WORD_RE = re.compile(r"\w+(?:'\w+)?")
_INNER_HYPHEN_RE = re.compile(r"(?<=\w)-(?=\w)")
_NEGATIONS = frozenset({"not", "no", "never", "none", "nothing", "nobody", "nor", "neither", "without",
                        "cannot", "nowhere"})
NEGATION_WEIGHT = 5


def normalize(text: str) -> str:
    """Fold what typography changes and meaning does not: NFKC (full-width forms), case,
    whitespace of every kind, soft hyphens and zero-width characters, quote marks (「」 too),
    dashes, wave dashes, ellipses; spaces between two CJK characters are dropped."""
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).casefold().translate(_FOLD)
    text = _WS_RE.sub(" ", text).strip()
    return _CJK_GAP_RE.sub("", text)


def normalize_quote(text: str) -> str:
    """`normalize`, ignoring the quote's own surrounding quotation marks and trailing commas."""
    return normalize(text).strip(_EDGE_QUOTES)


@dataclass(frozen=True)
class _Layer:
    """The page's lines joined into one string, with where each line starts in it."""

    text: str
    starts: tuple[int, ...]

    @classmethod
    def join(cls, lines: Sequence[str], cjk_glue: bool = False) -> _Layer:
        """Lines joined by a space; with `cjk_glue`, by nothing between two CJK characters,
        as `normalize` does within a line."""
        parts: list[str] = []
        starts, pos = [], 0
        for i, line in enumerate(lines):
            if i:
                sep = "" if cjk_glue and _CJK_CHAR_RE.match(line[:1]) and _CJK_CHAR_RE.match(lines[i - 1][-1:]) \
                    else " "
                parts.append(sep)
                pos += len(sep)
            starts.append(pos)
            parts.append(line)
            pos += len(line)
        return cls("".join(parts), tuple(starts))

    def lines_of(self, start: int, end: int) -> tuple[int, int]:
        first = bisect.bisect_right(self.starts, start) - 1
        last = bisect.bisect_right(self.starts, max(start, end - 1)) - 1
        return max(first, 0), max(last, 0)


class Page:
    """A page's text prepared for quote lookups: do this once per page, not per quote. The
    normalized layer is built on first need: most quotes are found verbatim."""

    def __init__(self, page: PageText) -> None:
        self.page = page
        self.lines = page.text.split("\n") if page.text else []
        self.exact = _Layer.join(self.lines)

    @cached_property
    def norm_lines(self) -> list[str]:
        return [normalize(line) for line in self.lines]

    @cached_property
    def norm(self) -> _Layer:
        return _Layer.join(self.norm_lines, cjk_glue=True)

    def find(self, quote: Quote, min_score: float) -> QuoteMatch:
        if quote.locator is not None and quote.locator in self.page.paragraphs:
            para = PageText(text=self.page.paragraphs[quote.locator], main="")
            return Page(para).find(Quote(quote.text, quote.prefix, quote.suffix), min_score)
        wanted = _WS_RE.sub(" ", quote.text).strip()
        hit = _best_occurrence(self.exact.text, wanted, quote, lambda s: _WS_RE.sub(" ", s))
        if hit is not None:
            return QuoteMatch(quote.text, MatchKind.EXACT, 1.0, self._found(self.exact, hit, len(wanted)))
        nq = normalize_quote(quote.text)
        if not nq or not self.norm.text:
            return QuoteMatch(quote.text, MatchKind.MISSING, 0.0, None)
        hit = _best_occurrence(self.norm.text, nq, quote, normalize)
        if hit is not None:
            return QuoteMatch(quote.text, MatchKind.NORMALIZED, 1.0, self._found(self.norm, hit, len(nq)))
        start, end, score = self._fuzzy(nq)
        kind = MatchKind.FUZZY if score >= min_score else MatchKind.MISSING
        found = self._found(self.norm, start, end - start, precise=False) if end > start else None
        return QuoteMatch(quote.text, kind, round(score, 3), found)

    def _fuzzy(self, nq: str) -> tuple[int, int, float]:
        hay = self.norm.text
        if len(nq) >= len(hay):  # a quote longer than the page: compare whole strings
            return 0, len(hay), min(fuzz.ratio(nq, hay) / 100, word_score(nq, hay))
        res = fuzz.partial_ratio_alignment(nq, hay)
        if res is None:
            return 0, 0, 0.0
        start, end = res.dest_start, res.dest_end
        while start > 0 and hay[start - 1].isalnum():  # whole words, for the word-level score
            start -= 1
        while end < len(hay) and hay[end].isalnum():
            end += 1
        return res.dest_start, res.dest_end, min(res.score / 100, word_score(nq, hay[start:end]))

    def _found(self, layer: _Layer, start: int, length: int, precise: bool = True) -> str:
        """The page's own words around [start, start+length) of `layer`, widened to sentences."""
        first, last = layer.lines_of(start, start + length)
        original = " ".join(self.lines[first:last + 1])
        local = start - layer.starts[first]
        if layer is self.exact:
            return _sentences_covering(original, original, local, local + length, str.strip, True)
        folded = " ".join(self.norm_lines[first:last + 1])
        return _sentences_covering(original, folded, local, local + length, normalize, precise)


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(_INNER_HYPHEN_RE.sub("", text))


def word_score(quote: str, passage: str) -> float:
    """Word-level similarity of two normalized texts (1.0 for CJK text, which has no words):
    Indel over words, a misspelt word counted as the quote's word, and a negation ("not",
    "never", "n't"...) weighing five words, so that "we plan to leave" does not pass for "we have
    no plans to leave" however close the characters are."""
    q = _words(quote)
    if len(q) < 3 or _CJK_CHAR_RE.search(quote):
        return 1.0
    vocabulary = list(dict.fromkeys(q))  # in quote order: ties go to the earlier word, every run alike
    known = set(vocabulary)

    def as_quoted(word: str) -> str:
        if word in known:
            return word
        best = max(vocabulary, key=lambda v: fuzz.ratio(word, v))
        return best if fuzz.ratio(word, best) >= 80 else word

    def weighted(words: list[str]) -> list[str]:
        return [w for w in words for _ in range(NEGATION_WEIGHT if w in _NEGATIONS or w.endswith("n't") else 1)]

    p = [as_quoted(w) for w in _words(passage)]
    return float(Indel.normalized_similarity(weighted(q), weighted(p)))


def _best_occurrence(hay: str, needle: str, quote: Quote,
                     fold: Callable[[str], str]) -> int | None:
    """Offset of `needle` in `hay`; with prefix/suffix given, the occurrence they fit best."""
    pos = hay.find(needle)
    if pos < 0 or not (quote.prefix or quote.suffix):
        return None if pos < 0 else pos
    prefix, suffix = fold(quote.prefix).strip(), fold(quote.suffix).strip()
    best, best_score = pos, -1.0
    while pos >= 0:
        score = 0.0
        if prefix:
            score += fuzz.ratio(prefix, hay[max(0, pos - len(prefix) - 1):pos].strip())
        if suffix:
            end = pos + len(needle)
            score += fuzz.ratio(suffix, hay[end:end + len(suffix) + 1].strip())
        if score > best_score:
            best, best_score = pos, score
        pos = hay.find(needle, pos + 1)
    return best


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, surrounding spaces excluded. A leading paragraph
    number ("11.") is not a sentence of its own; it is left out."""
    spans, last = [], 0
    for m in [*_SENTENCE_END_RE.finditer(text), None]:
        end = m.end() if m else len(text)
        if end <= last:
            continue
        chunk = text[last:end]
        start = last + len(chunk) - len(chunk.lstrip())
        stop = last + len(chunk.rstrip())
        if stop > start and not _PARA_NUMBER_RE.fullmatch(text[start:stop]):
            spans.append((start, stop))
        last = end
    return spans


def _sentences_covering(original: str, folded: str, start: int, end: int,
                        fold: Callable[[str], str], precise: bool) -> str:
    """The sentences of `original` that overlap folded[start:end]; when the span is not
    `precise` (a fuzzy alignment), only those holding its middle or half of themselves."""
    chosen: list[tuple[int, int]] = []
    cursor, mid = 0, (start + end) // 2
    for s, e in sentence_spans(original):
        f = fold(original[s:e])
        pos = folded.find(f, cursor) if f else -1
        if pos < 0:
            continue
        cursor = pos + len(f)
        overlap = min(end, cursor) - max(start, pos)
        if overlap > 0 and (precise or pos <= mid < cursor or overlap >= 0.5 * len(f)):
            chosen.append((s, e))
    return original[chosen[0][0]:chosen[-1][1]] if chosen else original


def match_quotes(page: PageText, quotes: Sequence[Quote], min_score: float) -> tuple[QuoteMatch, ...]:
    prepared = Page(page)
    return tuple(prepared.find(q, min_score) for q in quotes)


def unverifiable(quotes: Sequence[Quote]) -> tuple[QuoteMatch, ...]:
    return tuple(QuoteMatch(q.text, MatchKind.UNVERIFIABLE, 0.0, None) for q in quotes)
