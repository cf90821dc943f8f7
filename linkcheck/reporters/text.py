"""A concise summary for a terminal; colour only when asked (the CLI asks on a TTY)."""

from __future__ import annotations

from ..models import CheckRun, MatchKind, SourceOutcome, Status
from .common import could_not_verify, plural, quote_line

_COLOURS = {Status.OK: "\033[32m", Status.WARNING: "\033[33m", Status.BROKEN: "\033[31m"}
_RESET = "\033[0m"
LIST_OK_UP_TO = 20  # beyond this many sources, sources that are ok are counted, not listed


def reason(o: SourceOutcome) -> str:
    """Why a source has its status, in brackets: its problems (`[quote-missing]`, not the link's
    `[alive]` that reads like good news on a broken line), or the link state when all is well."""
    shown = list(o.problems) or [o.link.value]
    extra = ", could not be verified" if could_not_verify(o) else ""
    return f"[{', '.join(shown)}{extra}]"


def render(run: CheckRun, colour: bool = False) -> str:
    """Human summary: a line per source (per problem source on large configs), details for the
    ones that need a look."""
    lines = []
    quiet = len(run.outcomes) > LIST_OK_UP_TO
    for o in run.outcomes:
        if quiet and o.status is Status.OK:
            continue
        label = o.status.value.upper()
        label = f"{_COLOURS[o.status]}{label:<7}{_RESET}" if colour else f"{label:<7}"
        lines.append(f"{label} {o.source.id}  {reason(o)}  {o.source.url}")
        if o.status is not Status.OK and o.message:
            lines.append(f"        {o.message}")
        if o.status is not Status.OK:
            for q in o.quotes:
                if q.match is not MatchKind.UNVERIFIABLE:
                    lines.append(f"        - {quote_line(q, 120)}")
    n = len(run.outcomes)
    if quiet and run.count(Status.OK):
        lines.append(f"({plural(run.count(Status.OK), 'source')} ok and not listed; reports/latest.md lists "
                     "every one)")
    lines.append("")
    lines.append(f"{plural(n, 'source')}: {run.count(Status.OK)} ok, "
                 f"{run.count(Status.WARNING)} warning, {run.count(Status.BROKEN)} broken "
                 f"({run.started} → {run.finished})")
    if run.internal_errors():
        lines.append(f"{run.internal_errors()} source(s) could not be checked because of an internal error "
                     "(a bug, please report it); `linkcheck --debug check` shows the traceback")
    return "\n".join(lines) + "\n"
