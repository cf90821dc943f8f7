"""Does a passage say what the quote says? Word by word, which differences change a fact. Pure.

Both texts are cut into tokens (words, numbers, katakana words, single kanji and kana), aligned with a small
dynamic program whose page side has free ends (the quote is a piece of the page), and every
run of differing tokens is judged. A difference changes no fact when it only involves
function words (articles, light prepositions, conjunctions, auxiliaries; in Japanese the kana
particles), a word hyphenated on one side and written apart on the other, an elision ("it's" is read as "it is"),
words left out at an ellipsis, or a typo (one letter off in a word of four or more letters,
never in a number). Anything else — a number, a name, a negation, a pronoun, any content word,
a kanji, a katakana word — is a changed fact, reported as `Change(quote, page)`.
Numbers are compared as numbers: "1,200" is "1200", "１２" is "12".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA, Indel

from .models import Change

_CJK = "\u3005-\u3007\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_L = rf"[^\W_{_CJK}]"  # a word character that is not CJK
_KATAKANA = "\u30a1-\u30fa\u30fc-\u30ff"
_TOKEN_RE = re.compile(  # a katakana word (a name, a loanword) is one token, kanji and kana one each
    rf"(?P<kata>[{_KATAKANA}]+)|(?P<cjk>[{_CJK}])|(?P<num>\d+(?:[.,]\d+)*{_L}*)|(?P<word>{_L}+(?:['\-]{_L}+)*)|(?P<gap>\.\.\.|…)|(?P<pct>%)")
# Reference markers ("[3]", "[a]", "[note 2]", "[citation needed]") are furniture inside a sentence.
_MARKER_RE = re.compile(r"\[(?:\d{1,3}|[a-z]{1,2}|(?:note|nb) ?\d{1,3}|citation needed)\]")
_HANGUL_RE = re.compile("[\uac00-\ud7a3]")
_THOUSANDS_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")

ARTICLES = frozenset({"a", "an", "the"})
PREPOSITIONS = frozenset({"of", "to", "in", "on", "at", "by", "for", "with", "into", "onto", "upon", "within",
                          "as", "via", "per"})
CONJUNCTIONS = frozenset({"and", "or", "but", "that", "so", "yet", "than"})
AUXILIARIES = frozenset({"be", "is", "are", "was", "were", "been", "being", "am", "have", "has", "had",
                         "having", "do", "does", "did", "will", "would", "shall", "should", "can", "could",
                         "may", "might", "must"})
KANA_PARTICLES = frozenset("はがをにでとのへもやかねよ")
FUNCTION_WORDS = ARTICLES | PREPOSITIONS | CONJUNCTIONS | AUXILIARIES | KANA_PARTICLES
_NOT_STEMS = {"wo": "will", "ca": "can", "sha": "shall", "ai": "is"}  # won't, can't, shan't, ain't
_ELISIONS = {"ll": "will", "re": "are", "ve": "have", "m": "am", "d": "would"}
_IS_ELIDED = frozenset({"it", "he", "she", "that", "there", "what", "who", "here", "where", "how"})

# Costs of the alignment: a typo pairs up cheaply, a substitution costs less than a deletion
# plus an insertion (so that "12" and "15" stand opposite each other), function words are cheap,
# and a quote word left unmatched costs more than a page word inserted, so that the quote's
# first word is not dropped to skip words the page adds ("we [have no] plans").
_TYPO, _SUBST = 0.3, 1.4
_QUOTE_GAP, _PAGE_GAP = (1.5, 0.9), (0.8, 0.4)  # (content word, function word)
MAX_CELLS = 250_000  # a longer quote against its window is not aligned word by word


@dataclass(frozen=True)
class Token:
    key: str  # what is compared: folded, numbers canonical, hyphens dropped
    start: int  # where the token's surface sits in the text it was cut from
    end: int
    kind: str  # "cjk", "num", "word" or "gap" (an ellipsis)
    hyphen: bool = False  # written with a hyphen inside ("every-thing")

    @property
    def function(self) -> bool:
        return self.key in FUNCTION_WORDS

    @property
    def content(self) -> bool:
        return self.kind != "gap" and not self.function


def tokens(text: str) -> list[Token]:
    """Tokens of a normalized text (see `match.normalize`), contractions expanded in place,
    reference markers left out (blanked, so that offsets still point into `text`)."""
    text = _MARKER_RE.sub(lambda m: " " * len(m.group()), text)
    out: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup or "word"
        s, e, surface = m.start(), m.end(), m.group()
        if kind == "num":
            key = surface.replace(",", "") if _THOUSANDS_RE.match(surface) else surface
            out.append(Token(key, s, e, kind))
        elif kind == "kata":
            out.append(Token(surface, s, e, "cjk"))
        elif kind == "pct":
            out.append(Token("%", s, e, "word"))
        elif kind == "word":
            out += [Token(k, s, e, "num" if any(c.isdigit() for c in k) else "word", "-" in surface)
                    for k in _expand(surface)]
        else:
            out.append(Token(surface, s, e, kind))
    return out


def _expand(word: str) -> list[str]:
    """"it's" → it is, "don't" → do not, "cannot" → can not; hyphens dropped ("every-thing")."""
    word = word.replace("-", "")
    if word == "cannot":
        return ["can", "not"]
    if word == "percent":
        return ["%"]
    if word.endswith("n't"):
        stem = word[:-3]
        return [_NOT_STEMS.get(stem, stem), "not"]
    stem, _, tail = word.rpartition("'")
    if stem and tail in _ELISIONS:
        return [stem, _ELISIONS[tail]]
    if stem and tail == "s" and stem in _IS_ELIDED:
        return [stem, "is"]
    return [word]


def _typo(a: Token, b: Token) -> bool:
    """One letter off in a word of four letters or more. A Hangul syllable is not a letter: one
    changed syllable is another word."""
    return a.kind == b.kind == "word" and min(len(a.key), len(b.key)) >= 4 and \
        abs(len(a.key) - len(b.key)) <= 1 and OSA.distance(a.key, b.key) == 1 and \
        not _HANGUL_RE.search(a.key + b.key)


def _gap_cost(t: Token, costs: tuple[float, float]) -> float:
    return costs[t.function]


Pair = tuple[int | None, int | None, bool]  # quote index, page index, whether they say the same


def align(q: Sequence[Token], p: Sequence[Token]) -> list[Pair] | None:
    """The cheapest alignment as pairs (quote index, page index, same), a side None for a token
    the other lacks; page tokens before and after the quote cost nothing, an ellipsis in the
    quote absorbs any run of page tokens, and one word may stand for two written apart
    when one side hyphenates them ("long-debate", "long debate"). None when the texts are too long to align."""
    n, m = len(q), len(p)
    if n * m > MAX_CELLS:
        return None
    inf = float("inf")
    cost = [[0.0] * (m + 1)] + [[inf] * (m + 1) for _ in range(n)]
    # moves: 1 diagonal, 2 quote token alone, 3 page token alone, 4 ellipsis skip, 5 one quote
    # token = two page tokens, 6 two quote tokens = one page token
    back: list[list[int]] = [[0] * (m + 1) for _ in range(n + 1)]
    page_keys = [t.key for t in p]
    page_pairs = [page_keys[j] + page_keys[j + 1] for j in range(m - 1)]
    page_hyphen = [t.hyphen for t in p]
    page_gap = [_gap_cost(t, _PAGE_GAP) for t in p]
    for i in range(1, n + 1):
        qt, row, prev, brow = q[i - 1], cost[i], cost[i - 1], back[i]
        if qt.kind == "gap":
            best, arg = inf, 0
            for j in range(m + 1):
                if prev[j] < best:
                    best, arg = prev[j], j
                row[j], brow[j] = best, 4 if arg != j else 2
            continue
        qgap = _gap_cost(qt, _QUOTE_GAP)
        qkey, qhyphen = qt.key, qt.hyphen
        quote_pair = q[i - 2].key + qkey if i >= 2 else None
        typo_able = qt.kind == "word" and len(qkey) >= 4  # else no page token is one letter off
        subs = [0.0 if qkey == key else _TYPO if typo_able and _typo(qt, pt) else _SUBST
                for pt, key in zip(p, page_keys, strict=True)]
        row[0], brow[0] = prev[0] + qgap, 2
        for j in range(1, m + 1):
            best, move = prev[j - 1] + subs[j - 1], 1
            if prev[j] + qgap < best:
                best, move = prev[j] + qgap, 2
            left = row[j - 1] + page_gap[j - 1]
            if left < best:
                best, move = left, 3
            if qhyphen and j >= 2 and qkey == page_pairs[j - 2] and prev[j - 2] < best:
                best, move = prev[j - 2], 5
            if page_hyphen[j - 1] and quote_pair == page_keys[j - 1] and cost[i - 2][j - 1] < best:
                best, move = cost[i - 2][j - 1], 6
            row[j], brow[j] = best, move
    j = min(range(m + 1), key=lambda k: cost[n][k])
    pairs: list[Pair] = []
    i = n
    while i > 0:
        move = back[i][j]
        if move == 1:
            pairs.append((i - 1, j - 1, q[i - 1].key == p[j - 1].key or _typo(q[i - 1], p[j - 1])))
            i, j = i - 1, j - 1
        elif move == 2:
            pairs.append((i - 1, None, False))
            i -= 1
        elif move == 3:
            pairs.append((None, j - 1, False))
            j -= 1
        elif move == 5:
            pairs += [(None, j - 1, True), (i - 1, j - 2, True)]
            i, j = i - 1, j - 2
        elif move == 6:
            pairs += [(i - 1, j - 1, True), (i - 2, None, True)]
            i, j = i - 2, j - 1
        else:  # an ellipsis: the page tokens back to where the quote resumes are left out on purpose
            prev_row = cost[i - 1]
            k = min(range(j + 1), key=lambda x: prev_row[x])
            pairs.append((i - 1, None, False))
            i, j = i - 1, k
    pairs.reverse()
    return pairs


@dataclass(frozen=True)
class Comparison:
    """The verdict material: the page tokens the quote covers, the differences that change a
    fact (as token runs), and counts of content tokens on both sides."""

    first: int  # index of the first and last page token aligned with the quote (-1 if none)
    last: int
    facts: tuple[tuple[tuple[Token, ...], tuple[Token, ...]], ...]
    quote_content: int
    matched_content: int
    page_unmatched: int
    score: float


def _harmless(qs: Sequence[Token], ps: Sequence[Token]) -> bool:
    qc = [t for t in qs if t.content]
    pc = [t for t in ps if t.content]
    if not qc and not pc:
        return True
    if any(t.hyphen for t in (*qc, *pc)) and "".join(t.key for t in qc) == "".join(t.key for t in pc):
        return True  # hyphenated on one side, written apart on the other
    return len(qc) == len(pc) == 1 and _typo(qc[0], pc[0])


def compare(q: Sequence[Token], p: Sequence[Token]) -> Comparison | None:
    pairs = align(q, p)
    if pairs is None:
        return None
    on_page = [j for _, j, _ in pairs if j is not None]
    first, last = (min(on_page), max(on_page)) if on_page else (-1, -1)
    facts: list[tuple[tuple[Token, ...], tuple[Token, ...]]] = []
    run_q: list[Token] = []
    run_p: list[Token] = []
    matched = 0
    skipped: set[int] = set()

    def close() -> None:
        if (run_q or run_p) and not _harmless(run_q, run_p):
            facts.append((tuple(run_q), tuple(run_p)))
        run_q.clear()
        run_p.clear()

    for k, (i, j, same) in enumerate(pairs):
        if i is not None and q[i].kind == "gap":
            close()
            nxt = next((jj for _, jj, _ in pairs[k + 1:] if jj is not None), None)
            prv = next((jj for _, jj, _ in reversed(pairs[:k]) if jj is not None), None)
            if nxt is not None and prv is not None:
                skipped |= set(range(prv + 1, nxt))
            continue
        if same:
            close()
            matched += i is not None and q[i].content
            continue
        if i is not None:
            run_q.append(q[i])
        if j is not None:
            run_p.append(p[j])
    close()
    if on_page:  # a contraction cut by the quote's edge is read whole: "that is" does not quote "that isn't"
        head = [t for t in p[:first] if t.start == p[first].start]
        tail = [t for t in p[last + 1:] if t.start == p[last].start]
        facts[:0] = [((), tuple(head))] if head and not _harmless((), head) else []
        facts += [((), tuple(tail))] if tail and not _harmless((), tail) else []
        first, last = first - len(head), last + len(tail)
    covered = [p[j] for j in range(first, last + 1) if j not in skipped] if on_page else []
    quote_keys = " ".join(t.key for t in q if t.kind != "gap")
    score = float(Indel.normalized_similarity(quote_keys, " ".join(t.key for t in covered)))
    return Comparison(first, last, tuple(facts), sum(1 for t in q if t.content), matched,
                      sum(1 for _, ps in facts for t in ps if t.content), score)


def plausible(c: Comparison) -> bool:
    """Is the aligned passage the quoted one, whatever it now says? Most content words line up
    and the differences are few and local: one changed fact (a number, a name, a negation, a
    word) keeps a passage recognisable; a paraphrase or another sentence does not."""
    if c.quote_content == 0:
        return not c.facts
    return (c.matched_content >= min(2, c.quote_content)
            and c.matched_content >= 0.65 * c.quote_content
            and len(c.facts) <= 2 + c.quote_content // 10
            and c.page_unmatched <= max(3, 0.35 * c.quote_content))


def changes(c: Comparison, quote_text: str, page_text: str) -> tuple[Change, ...]:
    """Each fact that differs, as the quote and the page write it (`*_text` are the normalized
    texts the tokens were cut from)."""
    def surface(ts: Sequence[Token], text: str) -> str:
        return text[ts[0].start:ts[-1].end] if ts else ""
    return tuple(Change(surface(qs, quote_text), surface(ps, page_text)) for qs, ps in c.facts)
