"""A source's outcome as a JSON object: the entries of the JSON report (CONTRACT.md) and the form
results are stored in, and back (results read from history become outcomes again).

Outside `reporters` because history and the pass read and write it as much as the reports do
(and `reporters` imports `outcomes`, which reads stored results)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from .models import (
    Capture,
    CaptureState,
    Change,
    Drift,
    DriftState,
    LinkState,
    MatchKind,
    QuoteKind,
    QuoteMatch,
    Source,
    SourceOutcome,
    Status,
)

E = TypeVar("E", bound=Enum)


def quote_dict(q: QuoteMatch) -> dict[str, Any]:
    out: dict[str, Any] = {"text": q.text, "match": q.match.value, "score": q.score, "found_text": q.found_text,
                           "lost": q.lost, "kind": q.kind.value,
                           "changes": [{"quote": c.quote, "page": c.page} for c in q.changes]}
    if q.passage_changes:
        out |= {"previous_text": q.previous_text,
                "passage_changes": [{"before": c.quote, "after": c.page} for c in q.passage_changes]}
    if q.page is not None:
        out["page"] = q.page
    return out


def _members(kind: type[E]) -> Callable[[str], E]:
    """`kind(value)` by a dict lookup (the enum's own call costs more than the rest of a quote's
    reading); a value that is not one still raises as `kind(value)` does."""
    members = {m.value: m for m in kind}
    return lambda value: members.get(value) or kind(value)


_status, _link, _match, _quote_kind, _drift_state, _capture_state = (
    _members(Status), _members(LinkState), _members(MatchKind), _members(QuoteKind), _members(DriftState),
    _members(CaptureState))


def quote_from_dict(d: dict[str, Any]) -> QuoteMatch:
    """`quote_dict`'s inverse (results read back from history)."""
    changes, passage_changes = d.get("changes"), d.get("passage_changes")
    return QuoteMatch(d["text"], _match(d["match"]), d["score"], d["found_text"], d.get("lost", False),
                      tuple([Change(c["quote"], c["page"]) for c in changes]) if changes else (), d.get("page"),
                      _quote_kind(d.get("kind", QuoteKind.QUOTE.value)), d.get("previous_text"),
                      tuple([Change(c["before"], c["after"]) for c in passage_changes]) if passage_changes else ())


def outcome_dict(o: SourceOutcome) -> dict[str, Any]:
    src = o.source
    drift: dict[str, Any] = {"state": o.drift.state.value, "similarity": o.drift.similarity}
    if o.drift.quote_changes or o.drift.removed or o.drift.added:
        drift |= {"quote_changes": [{"quote": q, "before": b, "after": a} for q, b, a in o.drift.quote_changes],
                  "removed": list(o.drift.removed), "added": list(o.drift.added)}
    return {
        "id": src.id, "url": src.url, "final_url": o.final_url, "http_status": o.http_status,
        "status": o.status.value, "link": o.link.value,
        "quotes": [quote_dict(q) for q in o.quotes],
        "drift": drift,
        "archive": {"wayback": {"state": o.capture.state.value, "url": o.capture.url,
                                "timestamp": o.capture.timestamp, "message": o.capture.message,
                                "verified": o.capture.verified},
                    "memento": {"url": o.capture.elsewhere, "datetime": o.capture.elsewhere_date}
                    if o.capture.elsewhere else None,
                    "snapshot": o.snapshot},
        "problems": list(o.problems),
        "message": o.message,
        "title": src.title, "cites": list(src.cites), "line": src.line,
        "cited_in": [{"article": c.article, "notes": list(c.notes), "line": c.line, "sentence": c.sentence,
                      "title": c.title, "sha256": c.sha256} for c in src.cited_in],
        "text_hash": o.text_hash, "failures": o.failures, "first_failed": o.first_failed,
        "encoding": o.encoding or None,
        **({"author": o.author, "published": o.published} if o.author or o.published else {}),
    }


def outcome_from_dict(d: dict[str, Any], source: Source) -> SourceOutcome:
    """`outcome_dict`'s inverse: a stored result → the outcome the reporters take. What the result
    holds of its source (title, citations) comes from `source`, the configured one."""
    drift, archive = d["drift"], d["archive"]
    wayback, memento, changes = archive["wayback"], archive.get("memento") or {}, drift.get("quote_changes")
    return SourceOutcome(
        source=source, final_url=d["final_url"], http_status=d["http_status"], status=_status(d["status"]),
        link=_link(d["link"]),
        quotes=tuple([quote_from_dict(q) for q in d["quotes"]]),
        drift=Drift(_drift_state(drift["state"]), drift.get("similarity"),
                    tuple([(c["quote"], c["before"], c["after"]) for c in changes]) if changes else (),
                    tuple(drift.get("removed", ())), tuple(drift.get("added", ()))),
        capture=Capture(_capture_state(wayback["state"]), wayback.get("url"), wayback.get("timestamp"),
                        wayback.get("message", ""), wayback.get("verified"), memento.get("url"),
                        memento.get("datetime")),
        snapshot=archive["snapshot"], problems=tuple(d["problems"]), message=d["message"],
        text_hash=d.get("text_hash"), failures=d.get("failures", 0), first_failed=d.get("first_failed"),
        encoding=d.get("encoding") or "", author=d.get("author", ""), published=d.get("published", ""),
        # Not stored: an alive 304 is the answer to the conditional request (one nobody asked
        # for leaves the page unreachable).
        not_modified=d["http_status"] == 304 and d["link"] == LinkState.ALIVE.value)
