"""Small helpers the reporters share."""

from __future__ import annotations

from ..models import MatchKind, QuoteKind, QuoteMatch, SourceOutcome, Status
from ..policy import UNVERIFIED, changes_text

ICON = {Status.OK: "✅", Status.WARNING: "⚠️", Status.BROKEN: "❌"}


def could_not_verify(o: SourceOutcome) -> bool:
    return o.status is not Status.BROKEN and any(p in UNVERIFIED for p in o.problems)


def quote_line(q: QuoteMatch, limit: int = 200) -> str:
    """One quote's verdict for a report: its match, the word changes (`12 → 15`), and what the
    page says when it is not the quote verbatim."""
    shown = q.text if len(q.text) <= limit else q.text[:limit - 1] + "…"
    line = f"“{shown}” — {q.match.value}" + (" (paraphrase)" if q.kind is QuoteKind.PARAPHRASE else "")
    if q.match in (MatchKind.FUZZY, MatchKind.MISSING):
        line += f" (score {q.score:.2f})"
    if q.changes:
        line += f": {changes_text(q.changes)}"
    if q.found_text and q.match is not MatchKind.EXACT:
        f = q.found_text if len(q.found_text) <= limit else q.found_text[:limit - 1] + "…"
        line += f"; the page says: “{f}”"
    if q.passage_changes:
        line += f"; changed since the last check: {changes_text(q.passage_changes)}"
    return line


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell or line."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
            .replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_")
            .replace("[", "\\[").replace("]", "\\]").replace("`", "\\`"))
