"""A concise summary for a terminal; colour only when asked (the CLI asks on a TTY)."""

from __future__ import annotations

from ..models import CheckRun, MatchKind, Status
from .common import could_not_verify, quote_line

_COLOURS = {Status.OK: "\033[32m", Status.WARNING: "\033[33m", Status.BROKEN: "\033[31m"}
_RESET = "\033[0m"


def render(run: CheckRun, colour: bool = False) -> str:
    """Human summary: one line per source, details for the ones that need a look."""
    lines = []
    for o in run.outcomes:
        label = o.status.value.upper()
        label = f"{_COLOURS[o.status]}{label:<7}{_RESET}" if colour else f"{label:<7}"
        extra = " (could not be verified)" if could_not_verify(o) else ""
        lines.append(f"{label} {o.source.id}  [{o.link.value}{extra}]  {o.source.url}")
        if o.status is not Status.OK and o.message:
            lines.append(f"        {o.message}")
        if o.status is not Status.OK:
            for q in o.quotes:
                if q.match is not MatchKind.UNVERIFIABLE:
                    lines.append(f"        - {quote_line(q.text, q.match, q.score, q.found_text, 120)}")
    n = len(run.outcomes)
    lines.append("")
    lines.append(f"{n} source{'s' if n != 1 else ''}: {run.count(Status.OK)} ok, "
                 f"{run.count(Status.WARNING)} warning, {run.count(Status.BROKEN)} broken "
                 f"({run.started} → {run.finished})")
    return "\n".join(lines) + "\n"
