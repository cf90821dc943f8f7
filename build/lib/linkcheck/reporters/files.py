"""Every pass leaves its reports under reports/: `<time>.md` and `<time>.json`, and
`latest.md` / `latest.json` beside them, each written atomically."""

from __future__ import annotations

from pathlib import Path

from ..fsutil import atomic_write
from ..models import CheckRun
from . import jsonfmt, markdown


def write_run_reports(folder: Path, run: CheckRun) -> Path:
    stamp = run.finished.replace(":", "")  # 2026-11-27T080009Z
    md, js = markdown.render(run), jsonfmt.render(run)
    path = folder / f"{stamp}.md"
    atomic_write(path, md)
    atomic_write(folder / f"{stamp}.json", js)
    atomic_write(folder / "latest.md", md)
    atomic_write(folder / "latest.json", js)
    return path
