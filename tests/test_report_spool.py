"""The Markdown report gathered in one read of the pass (`markdown.Spool`, as `write_run_reports`
writes it beside the JSON report) is the report `markdown.render` streams, status by status."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkcheck.models import (
    Capture,
    CaptureState,
    CheckRun,
    Drift,
    DriftState,
    LinkState,
    MatchKind,
    QuoteMatch,
    Source,
    SourceOutcome,
    Status,
)
from linkcheck.reporters import jsonfmt, markdown
from linkcheck.reporters.common import ICON, md_escape, message_above_quotes, plural, quote_line
from linkcheck.reporters.files import write_run_reports
from linkcheck.storage import is_url

_TEXT = st.text(st.sampled_from("ab |*_\n\t \u2003<>`é"), max_size=12)


@st.composite
def _outcome(draw: st.DrawFn, n: int) -> SourceOutcome:
    quotes = tuple(QuoteMatch(draw(_TEXT), draw(st.sampled_from(MatchKind)), draw(st.floats(0, 1)),
                              draw(st.none() | _TEXT)) for _ in range(draw(st.integers(0, 2))))
    changes = tuple((draw(_TEXT), draw(_TEXT), draw(_TEXT)) for _ in range(draw(st.integers(0, 1))))
    return SourceOutcome(
        source=Source(id=f"s{n}", url=f"https://example.org/{n}"), final_url=f"https://example.org/{n}",
        http_status=200, status=draw(st.sampled_from(Status)), link=draw(st.sampled_from(LinkState)),
        quotes=quotes, drift=Drift(DriftState.UNCHANGED, None, changes),
        capture=Capture(CaptureState.SKIPPED, draw(st.none() | st.just("https://web.archive.org/web/1/x"))),
        snapshot=draw(st.none() | st.sampled_from(["snapshots/s/1.warc.gz", "s3://b/s/1.warc.gz"])),
        problems=tuple(draw(st.lists(st.sampled_from(["dead", "quote-missing"]), max_size=2))),
        message=draw(_TEXT))


@st.composite
def _runs(draw: st.DrawFn) -> CheckRun:
    count = draw(st.integers(0, 6))
    return CheckRun("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", tuple(draw(_outcome(n)) for n in range(count)))


def _rendered_before(run: CheckRun) -> str:
    """The oracle: the report as `markdown.render` wrote it line by line before the spool
    (`"\\n".join(lines).rstrip() + "\\n"`)."""
    lines = [f"# Citation check, {run.finished}", "",
             f"{plural(len(run.outcomes), 'source')}: {run.count(Status.OK)} ok, {run.count(Status.WARNING)} "
             f"warning, {run.count(Status.BROKEN)} broken.", "",
             "| | source | link | problems | archived copy |", "|---|---|---|---|---|"]
    ranked = [o for status in (Status.BROKEN, Status.WARNING, Status.OK) for o in run.outcomes if o.status is status]
    for o in ranked:
        copy = f"[Wayback]({o.capture.url})" if o.capture.url else "local WARC" if o.snapshot else "—"
        lines.append(f"| {ICON[o.status]} | [{md_escape(o.source.id)}]({o.source.url}) | {o.link.value} | "
                     f"{', '.join(o.problems) or '—'} | {copy} |")
    if run.count(Status.BROKEN) or run.count(Status.WARNING):
        lines += ["", "## Needs a look", ""]
    for o in (o for o in ranked if o.status is not Status.OK):
        lines += [f"### {ICON[o.status]} {md_escape(o.source.id)}", "", f"<{o.source.url}>", ""]
        if message := message_above_quotes(o):
            lines += [md_escape(message), ""]
        lines += [f"- {md_escape(quote_line(q, 300))}" for q in o.quotes]
        lines += [f"- quoted passage changed: ~~{md_escape(before)}~~ → **{md_escape(after)}**"
                  for _quote, before, after in o.drift.quote_changes]
        if o.snapshot:
            lines.append(f"- {'snapshot' if is_url(o.snapshot) else 'local snapshot'}: `{o.snapshot}`")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


@settings(max_examples=200, deadline=None)
@given(_runs())
def test_the_spooled_report_is_the_streamed_one(tmp_path_factory: pytest.TempPathFactory, run: CheckRun) -> None:
    with markdown.Spool(tmp_path_factory.getbasetemp()) as spool:
        for o in run.outcomes:
            spool.add(o)
        spooled = "".join(spool.render(run))
    assert spooled == "".join(markdown.render(run)) == _rendered_before(run)


@settings(max_examples=30, deadline=None)
@given(_runs())
def test_run_reports_are_the_reports_rendered_on_their_own(tmp_path_factory: pytest.TempPathFactory,
                                                            run: CheckRun) -> None:
    folder = tmp_path_factory.mktemp("reports")
    write_run_reports(folder, run)
    assert (folder / "latest.md").read_bytes().decode() == "".join(markdown.render(run))
    assert (folder / "latest.json").read_bytes().decode() == "".join(jsonfmt.render(run))
