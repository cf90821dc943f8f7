"""The JSON report of CONTRACT.md (`linkcheck.report/1`): its head, its sources (`results`), its articles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..models import (
    SEVERITY,
    CheckRun,
    SourceOutcome,
    Status,
)
from ..results import outcome_dict

SCHEMA = "linkcheck.report/1"


def _head(run: CheckRun) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "started": run.started, "finished": run.finished,
        "summary": {"total": len(run.outcomes), "ok": run.count(Status.OK),
                    "warning": run.count(Status.WARNING), "broken": run.count(Status.BROKEN),
                    "not_modified": run.not_modified(),
                    "internal_errors": run.internal_errors()},
    }


class _Articles:
    """Each citing article with the worst status of the sources it cites, gathered source by source."""

    def __init__(self) -> None:
        self.found: dict[str, dict[str, Any]] = {}

    def add(self, o: SourceOutcome) -> SourceOutcome:
        for c in o.source.cited_in:
            entry = self.found.setdefault(c.article, {"path": c.article, "title": c.title, "status": Status.OK,
                                                      "sources": []})
            entry["status"] = min(entry["status"], o.status, key=SEVERITY.__getitem__)
            if o.source.id not in entry["sources"]:
                entry["sources"].append(o.source.id)
        return o

    def listed(self) -> list[dict[str, Any]]:
        return [e | {"status": e["status"].value} for e in self.found.values()]


def render(run: CheckRun) -> Iterator[str]:
    """JSON for machines: the CONTRACT.md report schema, indented, each source on one line (as
    JSON Lines would have it: it greps and diffs line by line, and json's C encoder writes it,
    ~10x faster than indenting, which was most of a report's cost).

    Source by source, in one read of the pass: neither the whole report as dicts nor as one string
    exists at once (at 10,000 sources the dicts were ~150 MB for a few MB of text); the articles,
    which come after the sources, are gathered on the way."""
    head = json.dumps(_head(run) | {"sources": []}, ensure_ascii=False, indent=2)
    found = _Articles()
    sources = (json.dumps(outcome_dict(found.add(o)), ensure_ascii=False) for o in run.outcomes)
    yield head[:-len("]\n}")]
    for n, line in enumerate(sources):
        yield ("," if n else "") + "\n    " + line
    tail = json.dumps({"articles": found.listed()}, ensure_ascii=False, indent=2)
    yield ("\n  ],\n" if len(run.outcomes) else "],\n") + tail[2:] + "\n"
