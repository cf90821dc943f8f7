"""The per-pass Markdown report (reports/<time>.md): pastes cleanly into an issue or wiki."""

from __future__ import annotations

from ..models import CheckRun, Status
from .common import ICON, md_escape, plural, quote_line


def render(run: CheckRun) -> str:
    """Markdown for editors: a table of every source, then what needs a look."""
    out = [f"# Citation check, {run.finished}", "",
           f"{plural(len(run.outcomes), 'source')}: {run.count(Status.OK)} ok, {run.count(Status.WARNING)} "
           f"warning, {run.count(Status.BROKEN)} broken.", "",
           "| | source | link | problems | archived copy |", "|---|---|---|---|---|"]
    order = {Status.BROKEN: 0, Status.WARNING: 1, Status.OK: 2}
    ranked = sorted(run.outcomes, key=lambda o: order[o.status])
    for o in ranked:
        copy = f"[Wayback]({o.capture.url})" if o.capture.url else "—"
        out.append(f"| {ICON[o.status]} | [{md_escape(o.source.id)}]({o.source.url}) | {o.link.value} | "
                   f"{', '.join(o.problems) or '—'} | {copy} |")
    needs = [o for o in ranked if o.status is not Status.OK]
    if needs:
        out += ["", "## Needs a look", ""]
    for o in needs:
        out += [f"### {ICON[o.status]} {md_escape(o.source.id)}", "", f"<{o.source.url}>", ""]
        if o.message:
            out += [md_escape(o.message), ""]
        for q in o.quotes:
            out.append(f"- {md_escape(quote_line(q, 300))}")
        for _quote, before, after in o.drift.quote_changes:
            out += [f"- quoted passage changed: ~~{md_escape(before)}~~ → **{md_escape(after)}**"]
        if o.snapshot:
            out.append(f"- local snapshot: `{o.snapshot}`")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
