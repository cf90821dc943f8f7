"""Every pass leaves its reports under reports/: `<time>.md` and `<time>.json`, and
`latest.md` / `latest.json` beside them, each written atomically. Only the newest
`[history] reports_keep` timestamped reports (and digests) are kept, and the readable snapshot
pages under reports/pages/ that the kept digests link."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from ..fsutil import atomic_write, link_or_copy
from ..models import CheckRun
from ..outcomes import Mapped
from . import jsonfmt, markdown


def write_run_reports(folder: Path, run: CheckRun) -> Path:
    """The pass's reports; returns the JSON one's path. Called under the pass lock."""
    stamp = _unused(folder, run.finished.replace(":", ""))  # 2026-11-27T080009Z
    # Rendered source by source into the files (a report is never one string in memory), from
    # one read of the pass: the Markdown report is gathered as the JSON one reads it (most of a
    # report's cost is reading the pass back); linked as latest.* rather than rendered again.
    path, json_path = folder / f"{stamp}.md", folder / f"{stamp}.json"
    with markdown.Spool(folder) as spool:
        read_once = replace(run, outcomes=Mapped(run.outcomes, spool.add), tally=run.counts)
        atomic_write(json_path, jsonfmt.render(read_once))
        atomic_write(path, spool.render(run))
    link_or_copy(path, folder / "latest.md")
    link_or_copy(json_path, folder / "latest.json")
    return json_path


def _unused(folder: Path, stamp: str) -> str:
    """`stamp`, else `stamp_2`, `stamp_3`...: a pass that ends in the same second as the one before
    (two `--only` checks in a row) gets reports of its own rather than overwriting that one's.
    Numbered after the highest of that second (a gap left by pruning is not reused: a report so
    named would be the oldest, pruned by its own pass); `_` sorts after `.`, so that listed by
    name the later report comes after."""
    taken = [m for p in folder.glob(f"{stamp}*.json") if (m := _STAMPED_RE.match(p.name)) and not m.group(1)]
    if not taken:
        return stamp
    return f"{stamp}_{max(int(m.group(3) or 1) for m in taken) + 1}"


_STAMPED_RE = re.compile(r"^(digest-)?(\d{4}-\d\d-\d\dT\d{6}Z)(?:_(\d+))?\.(md|json|html)$")


def prune_reports(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` timestamped reports and digests (`latest.*` are never
    touched); returns what was deleted."""
    by_kind: dict[str, dict[tuple[str, int], list[Path]]] = {}
    for path in folder.glob("*") if folder.is_dir() else []:
        m = _STAMPED_RE.match(path.name)
        if m:  # newest last by time, then by the same second's count
            by_kind.setdefault(m.group(1) or "", {}).setdefault((m.group(2), int(m.group(3) or 1)), []).append(path)
    removed = []
    for stamps in by_kind.values():
        for old in sorted(stamps, reverse=True)[keep:]:
            for path in stamps[old]:
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed + _prune_pages(folder)


_PAGE_LINK_RE = re.compile(r"pages/([\w.%-]+\.html)")


def _prune_pages(folder: Path) -> list[Path]:
    """Delete the readable snapshot pages (pages/, see snapshot_page) that no digest left in
    `folder` links. A page written after the newest digest is kept: its digest is being written
    (pages go first), perhaps by another process."""
    pages = sorted(folder.glob("pages/*.html"))
    if not pages:
        return []
    linked: set[str] = set()
    newest = 0.0
    for path in folder.glob("*"):
        stamped = _STAMPED_RE.match(path.name)
        if path.suffix in (".html", ".md") and not (stamped and not stamped.group(1)) and path.name != "latest.md":
            # every digest, however named (`report --output`); not the pass reports, which link none
            linked.update(_PAGE_LINK_RE.findall(path.read_text(encoding="utf-8", errors="replace")))
            newest = max(newest, path.stat().st_mtime)
    removed = [page for page in pages if page.name not in linked and page.stat().st_mtime <= newest]
    for page in removed:
        page.unlink(missing_ok=True)
    return removed
