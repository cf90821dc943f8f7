"""The per-pass Markdown report (reports/<time>.md): pastes cleanly into an issue or wiki."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..models import CheckRun, SourceOutcome, Status
from ..outcomes import of_status
from ..storage import is_url
from .common import ICON, md_escape, message_above_quotes, plural, quote_line


def render(run: CheckRun) -> Iterator[str]:
    """Markdown for editors: a table of every source, then what needs a look. Source by source,
    as the outcomes are read (once per status: broken first)."""
    return _rstripped(_lines(run))


def _ranked(run: CheckRun, statuses: Iterable[Status]) -> Iterator[SourceOutcome]:
    for status in statuses:
        if run.count(status):
            yield from of_status(run.outcomes, status)


def _lines(run: CheckRun) -> Iterator[str]:
    yield from [f"# Citation check, {run.finished}", "",
           f"{plural(len(run.outcomes), 'source')}: {run.count(Status.OK)} ok, {run.count(Status.WARNING)} "
           f"warning, {run.count(Status.BROKEN)} broken.", "",
           "| | source | link | problems | archived copy |", "|---|---|---|---|---|"]
    for o in _ranked(run, (Status.BROKEN, Status.WARNING, Status.OK)):
        copy = f"[Wayback]({o.capture.url})" if o.capture.url else "—"
        yield (f"| {ICON[o.status]} | [{md_escape(o.source.id)}]({o.source.url}) | {o.link.value} | "
               f"{', '.join(o.problems) or '—'} | {copy} |")
    if run.count(Status.BROKEN) or run.count(Status.WARNING):
        yield from ["", "## Needs a look", ""]
    for o in _ranked(run, (Status.BROKEN, Status.WARNING)):
        yield from [f"### {ICON[o.status]} {md_escape(o.source.id)}", "", f"<{o.source.url}>", ""]
        if message := message_above_quotes(o):
            yield from [md_escape(message), ""]
        for q in o.quotes:
            yield f"- {md_escape(quote_line(q, 300))}"
        for _quote, before, after in o.drift.quote_changes:
            yield f"- quoted passage changed: ~~{md_escape(before)}~~ → **{md_escape(after)}**"
        if o.snapshot:
            yield f"- {'snapshot' if is_url(o.snapshot) else 'local snapshot'}: `{o.snapshot}`"
        yield ""


def _rstripped(lines: Iterator[str]) -> Iterator[str]:
    """`"\\n".join(lines).rstrip() + "\\n"`, piece by piece: trailing whitespace is held back
    until more text follows it."""
    held = ""
    for n, line in enumerate(lines):
        piece = line if n == 0 else "\n" + line
        body = piece.rstrip()
        if body:
            yield held + body
            held = piece[len(body):]
        else:
            held += piece
    yield "\n"
