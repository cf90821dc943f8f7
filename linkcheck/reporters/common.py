"""Small helpers the reporters share."""

from __future__ import annotations

import difflib
import re

from ..models import MatchKind, QuoteKind, QuoteMatch, SourceOutcome, Status
from ..policy import UNVERIFIED, changes_text, news_of, without_quote_sentences

ICON = {Status.OK: "✅", Status.WARNING: "⚠️", Status.BROKEN: "❌"}


def could_not_verify(o: SourceOutcome) -> bool:
    return o.status is not Status.BROKEN and any(p in UNVERIFIED for p in o.problems)


def message_above_quotes(o: SourceOutcome) -> str:
    """The source's message for a report that lists its quotes under it: without the sentences
    those quote lines say again (a single altered quote would otherwise be described twice)."""
    return without_quote_sentences(o.message, o.quotes)


def quote_line(q: QuoteMatch, limit: int = 200) -> str:
    """One quote's verdict for a report: its match, the word changes (`12 → 15`), and what the
    page says when it is not the quote verbatim."""
    line = f"“{_clip(q.text, limit)}” — {q.match.value}" + (" (paraphrase)" if q.kind is QuoteKind.PARAPHRASE else "")
    if q.match in (MatchKind.FUZZY, MatchKind.MISSING):
        line += f" (score {q.score:.2f})"
    if q.changes:
        line += f": {changes_text(q.changes)}"
    if q.found_text and q.match is not MatchKind.EXACT:
        line += f"; {passage_label(q.match.value)}: “{_clip(q.found_text, limit)}”"
    if news := news_of(q):
        line += f"; changed since the last check: {changes_text(news)}"
    return line


def passage_label(match: str) -> str:
    """What a report calls the page's passage shown beside a quote: a missing quote's is only the
    closest one, not what the page says instead of it."""
    return "nearest passage on the page" if match == MatchKind.MISSING.value else "the page says"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


Runs = list[tuple[str, bool]]
# Numbers (1,200.5) and Latin words whole; CJK characters and punctuation one by one.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?|[A-Za-zÀ-ɏ'’-]+|\s+|.", re.S)


def word_diff(a: str, b: str, *, b_around: bool = False) -> tuple[Runs, Runs]:
    """`a` and `b` as runs of (text, changed), word by word, so that a renderer can highlight
    exactly the words that differ (`12` → `15`) instead of two sentences to compare by eye.
    With `b_around`, `b` is the whole sentence a quote `a` was found in: words `b` only adds before
    or after the quoted part ("The mayor said ", the final ".") are context, not changes."""
    wa, wb = _TOKEN.findall(a), _TOKEN.findall(b)
    ra: Runs = []
    rb: Runs = []
    ops = difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes()
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if i2 > i1:
            ra.append(("".join(wa[i1:i2]), tag != "equal"))
        if j2 > j1:
            around = b_around and tag == "insert" and k in (0, len(ops) - 1)
            rb.append(("".join(wb[j1:j2]), tag != "equal" and not around))
    return _coalesce(ra), _coalesce(rb)


def _coalesce(runs: Runs) -> Runs:
    """Changed words separated only by unchanged spaces form one changed run."""
    out: Runs = []
    for text, changed in runs:
        if out and out[-1][1] == changed:
            out[-1] = (out[-1][0] + text, changed)
        elif changed and len(out) >= 2 and out[-2][1] and not out[-1][0].strip():
            space = out.pop()[0]
            out[-1] = (out[-1][0] + space + text, True)
        else:
            out.append((text, changed))
    return out


def plural(n: int, word: str) -> str:
    """`1 source`, `2 sources`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell or line."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
            .replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_")
            .replace("[", "\\[").replace("]", "\\]").replace("`", "\\`"))
