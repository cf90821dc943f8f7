"""Has the passage a quote matched on the last pass changed since? (`quote-changed`) Pure.

The quote may still match — a sentence can change around the quoted words, or a paraphrase's
passage can be rewritten — so the page's passage itself is compared with the one recorded on
the last pass, word by word after folding typography.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from rapidfuzz.distance import Levenshtein

from .facts import tokens
from .match import as_written, normalize
from .models import Change, MatchKind, QuoteMatch

_LOCATED = (MatchKind.EXACT, MatchKind.NORMALIZED, MatchKind.FUZZY, MatchKind.ALTERED)
_LOCATED_VALUES = frozenset(m.value for m in _LOCATED)  # as stored results write them
_VERBATIM = (MatchKind.EXACT, MatchKind.NORMALIZED)
_VERBATIM_VALUES = frozenset(m.value for m in _VERBATIM)


def passage_changes(old: str, new: str) -> tuple[Change, ...]:
    """Word-level differences from `old` to `new`, in reading order (empty when they read the same)."""
    a_text, b_text = normalize(old), normalize(new)
    a, b = tokens(a_text), tokens(b_text)
    out = []
    for op in Levenshtein.opcodes([t.key for t in a], [t.key for t in b]):
        if op.tag == "equal":
            continue
        then = a_text[a[op.src_start].start:a[op.src_end - 1].end] if op.src_end > op.src_start else ""
        now = b_text[b[op.dest_start].start:b[op.dest_end - 1].end] if op.dest_end > op.dest_start else ""
        out.append(Change(as_written(then, old), as_written(now, new)))
    return tuple(out)


def mark_changed(quotes: Sequence[QuoteMatch], before: Sequence[Mapping[str, Any]]) -> tuple[QuoteMatch, ...]:
    """`quotes` with the passage each matched on the last pass (`before`, stored results) set
    where it reads differently now. A passage that changed back to the quoted words (altered or
    fuzzy then, word for word now) is the quote recovering, not news to warn of."""
    was = {q.get("text"): q.get("found_text") for q in before if q.get("match") in _LOCATED_VALUES}
    recovered = {q.get("text") for q in before if q.get("match") not in _VERBATIM_VALUES}
    out = []
    for q in quotes:
        old = was.get(q.text)
        changes = passage_changes(old, q.found_text) if isinstance(old, str) and q.found_text and \
            old != q.found_text and q.match in _LOCATED and \
            not (q.match in _VERBATIM and q.text in recovered) else ()
        out.append(replace(q, previous_text=old, passage_changes=changes) if changes else q)
    return tuple(out)
