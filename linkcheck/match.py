"""Does the page still say what the article quotes? Exact → normalized → fuzzy or altered. Pure.

One `normalize()` is used for quotes and pages alike. A page is prepared once (`Page`) and
then every quote is looked up in it. A quote not found verbatim is located with rapidfuzz's
`partial_ratio_alignment` (best-aligned substring, Indel similarity; cost linear in the page),
then compared word by word with the passage there (`facts`): `fuzzy` when no difference
changes a fact, `altered` when the passage is the quoted one with a fact changed, `missing`
otherwise. Paraphrases are located by the words they share with the page (`paraphrase`).

`found_text` is mapped back from the normalized page to the page's own lines, then widened
to whole sentences: an approximation that can include one sentence too many when a page
puts two sentences in one line without a space (Japanese does, and is split on 。 instead).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from rapidfuzz import fuzz

from . import facts
from .models import Change, MatchKind, PageText, Quote, QuoteKind, QuoteMatch
from .paraphrase import SentenceIndex

_WS_RE = re.compile(r"\s+")
_INVISIBLE_RE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e]")
_FOLD = str.maketrans({
    **dict.fromkeys("‘’‚‛′`´ʼ", "'"),
    **dict.fromkeys("“”„‟″«»「」『』〝〞〟＂", '"'),
    **dict.fromkeys("‐‑‒–—―−﹘﹣－", "-"),
    **dict.fromkeys("〜～", "~"),
    "\u3000": " ",
})
_FOLD_RE = re.compile(f"[{re.escape(''.join(map(chr, _FOLD)))}]")
_CJK = r"\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP_RE = re.compile(rf" (?<=[{_CJK}] )(?=[{_CJK}])")  # the space first: the engine skips to spaces
_CJK_CHAR_RE = re.compile(f"[{_CJK}]")
_EDGE_QUOTES = "\"' ,;:"
_PARA_NUMBER_RE = re.compile(r"\(?\d{1,3}[.)]")
# A line break ends a sentence too: lines are the page's blocks (a heading has no full stop).
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=\S)|(?<=[。！？])[」』）]*|\n")


_ELLIPSIS = "..."  # what NFKC makes of "…"
LOCATE_FLOOR = 0.5  # below this character score nothing on the page is the quoted passage


def normalize(text: str) -> str:
    """Fold what typography changes and meaning does not: NFKC (full-width forms), case,
    whitespace of every kind, soft hyphens and zero-width characters, quote marks (「」 too),
    dashes, wave dashes, ellipses; spaces between two CJK characters are dropped.
    (ASCII text is NFKC already; `str.translate` is costly on non-ASCII text, so it is only
    used when a character it folds is there; `str.split` cuts at the characters `\\s` matches.)"""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", _INVISIBLE_RE.sub("", text))
    text = text.casefold()
    if _FOLD_RE.search(text):
        text = text.translate(_FOLD)
    return _CJK_GAP_RE.sub("", " ".join(text.split()))


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
            return Page(para).find(Quote(quote.text, quote.prefix, quote.suffix, kind=quote.kind), min_score)
        wanted = _WS_RE.sub(" ", quote.text).strip()
        hit = _best_occurrence(self.exact.text, wanted, quote, lambda s: _WS_RE.sub(" ", s))
        if hit is not None:
            return QuoteMatch(quote.text, MatchKind.EXACT, 1.0, self._found(self.exact, hit, len(wanted)))
        nq = normalize_quote(quote.text)
        if not nq or not self.norm.text:
            kind = MatchKind.UNVERIFIABLE if quote.kind is QuoteKind.PARAPHRASE else MatchKind.MISSING
            return QuoteMatch(quote.text, kind, 0.0, None)
        hit = _best_occurrence(self.norm.text, nq, quote, normalize)
        if hit is not None:
            return QuoteMatch(quote.text, MatchKind.NORMALIZED, 1.0, self._found(self.norm, hit, len(nq)))
        if quote.kind is QuoteKind.PARAPHRASE:
            return self._paraphrase(quote.text, nq)
        return self._closest(quote.text, nq, min_score)

    @cached_property
    def sentences(self) -> list[tuple[int, int, int]]:
        """(line, start, end) of every sentence of the page."""
        return [(k, s, e) for k, line in enumerate(self.lines) for s, e in sentence_spans(line)]

    @cached_property
    def sentence_index(self) -> SentenceIndex:
        return SentenceIndex([normalize(self.lines[k][s:e]) for k, s, e in self.sentences])

    def _paraphrase(self, text: str, nq: str) -> QuoteMatch:
        """The sentences the paraphrase restates; `unverifiable` (with the nearest one) when no
        passage shares enough of its words: a paraphrase is never `missing` for its wording."""
        located = self.sentence_index.locate(nq)
        if located is None:
            return QuoteMatch(text, MatchKind.UNVERIFIABLE, 0.0, None)
        (k1, s1, _), (k2, _, e2) = self.sentences[located.first], self.sentences[located.last]
        found = self.lines[k1][s1:e2] if k1 == k2 else f"{self.lines[k1][s1:]} {self.lines[k2][:e2]}"
        kind = MatchKind.FUZZY if located.plausible else MatchKind.UNVERIFIABLE
        return QuoteMatch(text, kind, round(located.coverage, 3), found)

    def _closest(self, text: str, nq: str, min_score: float) -> QuoteMatch:
        """The best-aligned passage, compared word by word: fuzzy when every difference leaves
        the facts alone, altered when it is the quoted passage with a fact changed, else missing."""
        start, end, located = self._locate(nq)
        if end <= start:
            return QuoteMatch(text, MatchKind.MISSING, 0.0, None)
        nearest = self._found(self.norm, start, end - start, precise=False)
        if located < LOCATE_FLOOR:
            return QuoteMatch(text, MatchKind.MISSING, round(located, 3), nearest)
        hay = self.norm.text
        margin = max(24, (end - start) // 3)
        w0 = max(0, start - margin)
        window = hay[w0:min(len(hay), end + margin)]
        page_tokens = facts.tokens(window)
        compared = facts.compare(facts.tokens(nq), page_tokens)
        if compared is None or compared.first < 0:  # too long to align word by word
            kind = MatchKind.FUZZY if located >= min_score else MatchKind.MISSING
            return QuoteMatch(text, kind, round(located, 3), nearest)
        s, e = w0 + page_tokens[compared.first].start, w0 + page_tokens[compared.last].end
        found = self._found(self.norm, s, e - s)
        score = round(compared.score, 3)
        if not facts.plausible(compared):
            return QuoteMatch(text, MatchKind.MISSING, round(min(located, compared.score), 3), nearest)
        if compared.facts:
            changes = tuple(Change(as_written(c.quote, text), as_written(c.page, found))
                            for c in facts.changes(compared, nq, window))
            return QuoteMatch(text, MatchKind.ALTERED, score, found, changes=changes)
        return QuoteMatch(text, MatchKind.FUZZY if score >= min_score else MatchKind.MISSING, score, found)

    def _locate(self, nq: str) -> tuple[int, int, float]:
        """Where the quote aligns best on the normalized page, by characters. A quote with an
        ellipsis is located by its longest piece, widened by the length of the rest."""
        hay = self.norm.text
        if len(nq) >= len(hay):  # a quote longer than the page: compare whole strings
            return 0, len(hay), fuzz.ratio(nq, hay) / 100
        pieces = [p for p in nq.split(_ELLIPSIS) if p.strip()]
        piece = max(pieces, key=len) if pieces else nq
        res = fuzz.partial_ratio_alignment(piece, hay)
        if res is None:
            return 0, 0, 0.0
        if piece == nq:
            return res.dest_start, res.dest_end, res.score / 100
        before = nq.index(piece)
        after = len(nq) - before - len(piece)
        return max(0, res.dest_start - 2 * before), min(len(hay), res.dest_end + 2 * after), res.score / 100

    def _found(self, layer: _Layer, start: int, length: int, precise: bool = True) -> str:
        """The page's own words around [start, start+length) of `layer`, widened to sentences."""
        first, last = layer.lines_of(start, start + length)
        original = "\n".join(self.lines[first:last + 1])  # as long as the layer's " ", and a sentence's end
        local = start - layer.starts[first]
        if layer is self.exact:
            found = _sentences_covering(original, original, local, local + length, str.strip, True)
        else:
            folded = "\n".join(self.norm_lines[first:last + 1])
            found = _sentences_covering(original, folded, local, local + length, normalize, precise)
        return found.replace("\n", " ")


def as_written(surface: str, original: str) -> str:
    """`surface` (normalized, so lower-case) as `original` writes it, when it can be found there."""
    if not surface:
        return surface
    pattern = re.escape(surface).replace(r"\ ", r"\s+")
    if not _CJK_CHAR_RE.search(surface):  # whole words: "all" is not the start of "Allies"
        pattern = rf"(?<!\w){pattern}(?!\w)"
    m = re.search(pattern, original, re.I)
    return m.group() if m else surface


def _occurrences(hay: str, needle: str) -> Iterator[int]:
    """Offsets of `needle` in `hay` that do not cut a word: "he faced" is not in "she faced", nor
    "that is" in "that isn't" (CJK text has no spaces between words and is not checked)."""
    starts_word = _edge_is_word(needle[:1])
    ends_word = _edge_is_word(needle[-1:])
    pos = hay.find(needle)
    while pos >= 0:
        end = pos + len(needle)
        cut_before = starts_word and _edge_is_word(hay[pos - 1:pos])
        if not cut_before and not (ends_word and _edge_is_word(hay[end:end + 1])):
            yield pos
        pos = hay.find(needle, pos + 1)


def _edge_is_word(ch: str) -> bool:
    return ch.isalnum() and not _CJK_CHAR_RE.match(ch)


def _best_occurrence(hay: str, needle: str, quote: Quote,
                     fold: Callable[[str], str]) -> int | None:
    """Offset of `needle` in `hay`; with prefix/suffix given, the occurrence they fit best."""
    found = _occurrences(hay, needle)
    if not (quote.prefix or quote.suffix):
        return next(found, None)
    prefix, suffix = fold(quote.prefix).strip(), fold(quote.suffix).strip()
    best, best_score = None, -1.0
    for pos in found:
        score = 0.0
        if prefix:
            score += fuzz.ratio(prefix, hay[max(0, pos - len(prefix) - 1):pos].strip())
        if suffix:
            end = pos + len(needle)
            score += fuzz.ratio(suffix, hay[end:end + len(suffix) + 1].strip())
        if score > best_score:
            best, best_score = pos, score
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
    """The sentences of `original` that overlap folded[start:end] (lines apart: one block each);
    when the span is not `precise` (a fuzzy alignment), only those of the block holding its middle
    (it may reach into a heading before), and of them those holding its middle or half of themselves."""
    chosen: list[tuple[int, int]] = []
    if not precise:
        middle = (start + end) // 2
        stop = folded.find("\n", middle)
        start, end = max(start, folded.rfind("\n", 0, middle) + 1), min(end, stop if stop >= 0 else len(folded))
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
    return tuple(replace(prepared.find(q, min_score), kind=q.kind) for q in quotes)


def unverifiable(quotes: Sequence[Quote]) -> tuple[QuoteMatch, ...]:
    return tuple(QuoteMatch(q.text, MatchKind.UNVERIFIABLE, 0.0, None, kind=q.kind) for q in quotes)
