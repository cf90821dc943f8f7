"""JUnit XML for CI (GitHub, GitLab, Jenkins): a testcase per source; `failure` when broken,
`skipped` when the source could not be verified, system-out for other warnings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from ..models import CheckRun, SourceOutcome, Status
from .common import could_not_verify, message_above_quotes, quote_line


def _details(o: SourceOutcome) -> str:
    answer = "HTTP 304: not modified since the last check, whose findings stand" if o.not_modified \
        else f"HTTP {o.http_status}" if o.http_status else ""
    lines = [f"{o.source.url} → {o.link.value}" + (f" ({answer})" if answer else "")]
    if message := message_above_quotes(o):
        lines.append(message)
    lines += [quote_line(q, 300) for q in o.quotes]
    return "\n".join(lines)


def render(run: CheckRun) -> Iterator[str]:
    """JUnit XML: one testcase per source (class = source id, name = URL). Testcase by testcase,
    as the outcomes are read: the same text as indenting and writing the whole tree."""
    failures = run.count(Status.BROKEN)
    skipped = sum(1 for o in run.outcomes if could_not_verify(o))
    suites = ET.Element("testsuites", name="linkcheck", tests=str(len(run.outcomes)),
                        failures=str(failures), errors="0", skipped=str(skipped))
    suite = ET.SubElement(suites, "testsuite", name="citations", tests=str(len(run.outcomes)),
                          failures=str(failures), errors="0", skipped=str(skipped),
                          timestamp=run.started.rstrip("Z"), time="0")
    if not len(run.outcomes):
        ET.indent(suites)
        yield _XML + ET.tostring(suites, encoding="unicode") + "\n"
        return
    ET.SubElement(suite, "testcase")  # where the testcases go
    ET.indent(suites)
    head, tail = ET.tostring(suites, encoding="unicode").split("<testcase />", 1)
    yield _XML + head
    for n, o in enumerate(run.outcomes):
        case = _case(o)
        ET.indent(case, level=2)
        yield ("\n    " if n else "") + ET.tostring(case, encoding="unicode")
    yield tail + "\n"


_XML = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _case(o: SourceOutcome) -> ET.Element:
    case = ET.Element("testcase", classname=o.source.id, name=o.source.url, time="0")
    if o.status is Status.BROKEN:
        failure = ET.SubElement(case, "failure", type=",".join(o.problems),
                                message=f"broken citation: {o.message}")
        failure.text = _details(o)
    elif could_not_verify(o):
        ET.SubElement(case, "skipped", message=f"could not be verified: {o.message}")
        ET.SubElement(case, "system-out").text = _details(o)
    elif o.status is Status.WARNING:
        ET.SubElement(case, "system-out").text = f"warning: {_details(o)}"
    return case
