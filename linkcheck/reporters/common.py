"""Small helpers the reporters share."""

from __future__ import annotations

from ..models import MatchKind, SourceOutcome, Status
from ..policy import UNVERIFIED

ICON = {Status.OK: "✅", Status.WARNING: "⚠️", Status.BROKEN: "❌"}


def could_not_verify(o: SourceOutcome) -> bool:
    return o.status is not Status.BROKEN and any(p in UNVERIFIED for p in o.problems)


def quote_line(text: str, match: MatchKind, score: float, found: str | None, limit: int = 200) -> str:
    shown = text if len(text) <= limit else text[:limit - 1] + "…"
    line = f"“{shown}” — {match.value}"
    if match in (MatchKind.FUZZY, MatchKind.MISSING):
        line += f" (score {score:.2f})"
    if found and match is not MatchKind.EXACT:
        f = found if len(found) <= limit else found[:limit - 1] + "…"
        line += f"; the page says: “{f}”"
    return line


def plural(n: int, word: str) -> str:
    """`1 source`, `2 sources`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell or line."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
            .replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_")
            .replace("[", "\\[").replace("]", "\\]").replace("`", "\\`"))
