"""The per-pass Markdown report (reports/<time>.md): pastes cleanly into an issue or wiki."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from ..fsutil import pieces
from ..models import CheckRun, SourceOutcome, Status
from ..outcomes import of_status
from ..storage import is_url
from .common import ICON, md_escape, message_above_quotes, plural, quote_line

_RANKED = (Status.BROKEN, Status.WARNING, Status.OK)
_NEEDING = (Status.BROKEN, Status.WARNING)  # the statuses a source needs a look in


def render(run: CheckRun) -> Iterator[str]:
    """Markdown for editors: a table of every source, then what needs a look. Source by source,
    as the outcomes are read (once per status: broken first)."""
    return _rstripped(_lines(run, _ranked(run, _RANKED, _row), _ranked(run, _NEEDING, _section)))


class Spool:
    """The report gathered from outcomes read once, in the sources' order (`add` each as the JSON
    report reads them), then `render`ed: each status's table rows and sections wait in a temporary
    file (in `folder`, where the report goes), so that one read of the pass makes both reports and
    none of it is held in memory."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as opened:  # if one cannot be made, those made are closed
            self.rows = {status: opened.enter_context(_spool(folder)) for status in _RANKED}
            self.sections = {status: opened.enter_context(_spool(folder)) for status in _NEEDING}
            self._files = opened.pop_all()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._files.close()

    def add(self, o: SourceOutcome) -> SourceOutcome:
        self.rows[o.status].write(_row(o))
        if o.status in self.sections:
            self.sections[o.status].write(_section(o))
        return o

    def render(self, run: CheckRun) -> Iterator[str]:
        """`render(run)` of the outcomes added."""
        return _rstripped(_lines(run, _replayed(self.rows.values()), _replayed(self.sections.values())))


def _spool(folder: Path) -> IO[str]:
    return tempfile.TemporaryFile("w+", encoding="utf-8", newline="", dir=folder)


def _replayed(spools: Iterable[IO[str]]) -> Iterator[str]:
    for spool in spools:
        spool.seek(0)
        yield from pieces(spool)


def _ranked(run: CheckRun, statuses: Iterable[Status], piece: Callable[[SourceOutcome], str]) -> Iterator[str]:
    for status in statuses:
        if run.count(status):
            yield from map(piece, of_status(run.outcomes, status))


def _lines(run: CheckRun, rows: Iterable[str], sections: Iterable[str]) -> Iterator[str]:
    """The report's text in pieces: the head, then `rows` (the table's) and `sections` (a source's
    'needs a look'), each a run of whole lines, every line ending with a line break."""
    yield "\n".join([f"# Citation check, {run.finished}", "",
                     f"{plural(len(run.outcomes), 'source')}: {run.count(Status.OK)} ok, "
                     f"{run.count(Status.WARNING)} warning, {run.count(Status.BROKEN)} broken.", "",
                     "| | source | link | problems | archived copy |", "|---|---|---|---|---|", ""])
    yield from rows
    if run.count(Status.BROKEN) or run.count(Status.WARNING):
        yield "\n## Needs a look\n\n"
    yield from sections


def _row(o: SourceOutcome) -> str:
    copy = f"[Wayback]({o.capture.url})" if o.capture.url else "local WARC" if o.snapshot else "—"
    return (f"| {ICON[o.status]} | [{md_escape(o.source.id)}]({o.source.url}) | {o.link.value} | "
            f"{', '.join(o.problems) or '—'} | {copy} |\n")


def _section(o: SourceOutcome) -> str:
    lines = [f"### {ICON[o.status]} {md_escape(o.source.id)}", "", f"<{o.source.url}>", ""]
    if message := message_above_quotes(o):
        lines += [md_escape(message), ""]
    lines += [f"- {md_escape(quote_line(q, 300))}" for q in o.quotes]
    lines += [f"- quoted passage changed: ~~{md_escape(before)}~~ → **{md_escape(after)}**"
              for _quote, before, after in o.drift.quote_changes]
    if o.snapshot:
        lines.append(f"- {'snapshot' if is_url(o.snapshot) else 'local snapshot'}: `{o.snapshot}`")
    return "\n".join(lines) + "\n\n"


def _rstripped(pieces: Iterable[str]) -> Iterator[str]:
    """`"".join(pieces).rstrip() + "\\n"`, piece by piece: trailing whitespace is held back until
    more text follows it."""
    held = ""
    for piece in pieces:
        body = piece.rstrip()
        if body:
            yield held + body
            held = piece[len(body):]
        else:
            held += piece
    yield "\n"
