"""A concise summary for a terminal; colour only when asked (the CLI asks on a TTY)."""

from __future__ import annotations

from collections.abc import Iterator

from ..models import CheckRun, MatchKind, SourceOutcome, Status
from ..outcomes import of_status
from .common import could_not_verify, message_above_quotes, plural, quote_line

_COLOURS = {Status.OK: "\033[32m", Status.WARNING: "\033[33m", Status.BROKEN: "\033[31m"}
_RESET = "\033[0m"
LIST_OK_UP_TO = 20  # beyond this many sources, sources that are ok are counted, not listed


def reason(o: SourceOutcome) -> str:
    """Why a source has its status, in brackets: its problems (`[quote-missing]`, not the link's
    `[alive]` that reads like good news on a broken line), or the link state when all is well."""
    shown = list(o.problems) or [o.link.value]
    extra = ", could not be verified" if could_not_verify(o) else ""
    return f"[{', '.join(shown)}{extra}]"


def render(run: CheckRun, colour: bool = False) -> Iterator[str]:
    """Human summary: a line per source (per problem source on large configs), details for the
    ones that need a look. Line by line, as the outcomes are read (on large configs, only those
    of the problem sources)."""
    quiet = len(run.outcomes) > LIST_OK_UP_TO
    for o in of_status(run.outcomes, Status.BROKEN, Status.WARNING) if quiet else run.outcomes:
        label = o.status.value.upper()
        label = f"{_COLOURS[o.status]}{label:<7}{_RESET}" if colour else f"{label:<7}"
        yield f"{label} {o.source.id}  {reason(o)}  {o.source.url}\n"
        if o.status is not Status.OK and (message := message_above_quotes(o)):
            yield f"        {message}\n"
        if o.status is not Status.OK:
            for q in o.quotes:
                if q.match is not MatchKind.UNVERIFIABLE:
                    yield f"        - {quote_line(q, 120)}\n"
    n = len(run.outcomes)
    if quiet and run.count(Status.OK):
        yield (f"({plural(run.count(Status.OK), 'source')} ok and not listed; reports/latest.md lists "
               "every one)\n")
    yield "\n"
    yield (f"{plural(n, 'source')}: {run.count(Status.OK)} ok, "
           f"{run.count(Status.WARNING)} warning, {run.count(Status.BROKEN)} broken "
           f"({run.started} → {run.finished})\n")
    if run.internal_errors():
        yield (f"{run.internal_errors()} source(s) could not be checked because of an internal error "
               "(a bug, please report it); `linkcheck --debug check` shows the traceback\n")
