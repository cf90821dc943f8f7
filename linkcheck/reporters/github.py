"""GitHub Actions workflow commands: `::error` for broken sources, `::warning` for warnings,
pointing at the source's entry in sources.toml and at every line of an article that cites it;
a Markdown table for $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import os
from pathlib import Path

from ..models import CheckRun, SourceOutcome, Status
from .common import ICON, could_not_verify, md_escape, plural


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _relative(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _annotation(o: SourceOutcome, file: str, line: int) -> str:
    level = "error" if o.status is Status.BROKEN else "warning"
    if o.status is Status.BROKEN:
        title = f"Broken citation: {o.source.id}"
    elif could_not_verify(o):
        title = f"Citation could not be verified: {o.source.id}"
    else:
        title = f"Citation needs a look: {o.source.id}"
    where = f"file={_prop(file)}" + (f",line={line}" if line else "")
    body = f"{o.source.url}: {o.message or ', '.join(o.problems)}"
    return f"::{level} {where},title={_prop(title)}::{_data(body)}"


def render(run: CheckRun, config_path: Path) -> str:
    """Workflow-command lines for each source that is not ok: at its config entry and at every
    line of an article that cites it."""
    lines = []
    config_file = _relative(config_path)
    for o in run.outcomes:
        if o.status is Status.OK:
            continue
        lines.append(_annotation(o, config_file, o.source.line))
        for c in o.source.cited_in:
            if c.line and "://" not in c.article:
                lines.append(_annotation(o, _relative(config_path.parent / c.article), c.line))
    n = run.count
    lines.append(f"linkcheck: {plural(len(run.outcomes), 'source')}, {n(Status.OK)} ok, {n(Status.WARNING)} warning, "
                 f"{n(Status.BROKEN)} broken")
    return "\n".join(lines) + "\n"


def step_summary(run: CheckRun) -> str:
    rows = ["### Citations", "", "| | source | link | problems |", "|---|---|---|---|"]
    for o in run.outcomes:
        rows.append(f"| {ICON[o.status]} | [{md_escape(o.source.id)}]({o.source.url}) | {o.link.value} | "
                    f"{md_escape(o.message) or '—'} |")
    return "\n".join(rows) + "\n\n"
