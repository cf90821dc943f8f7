"""JUnit XML for CI (GitHub, GitLab, Jenkins): a testcase per source; `failure` when broken,
`skipped` when the source could not be verified, system-out for other warnings."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..models import CheckRun, SourceOutcome, Status
from .common import could_not_verify, quote_line


def _details(o: SourceOutcome) -> str:
    lines = [f"{o.source.url} → {o.link.value}" + (f" (HTTP {o.http_status})" if o.http_status else "")]
    if o.message:
        lines.append(o.message)
    lines += [quote_line(q, 300) for q in o.quotes]
    return "\n".join(lines)


def render(run: CheckRun) -> str:
    """JUnit XML: one testcase per source (class = source id, name = URL)."""
    failures = sum(1 for o in run.outcomes if o.status is Status.BROKEN)
    skipped = sum(1 for o in run.outcomes if could_not_verify(o))
    suites = ET.Element("testsuites", name="linkcheck", tests=str(len(run.outcomes)),
                        failures=str(failures), errors="0", skipped=str(skipped))
    suite = ET.SubElement(suites, "testsuite", name="citations", tests=str(len(run.outcomes)),
                          failures=str(failures), errors="0", skipped=str(skipped),
                          timestamp=run.started.rstrip("Z"), time="0")
    for o in run.outcomes:
        case = ET.SubElement(suite, "testcase", classname=o.source.id, name=o.source.url, time="0")
        if o.status is Status.BROKEN:
            failure = ET.SubElement(case, "failure", type=",".join(o.problems),
                                    message=f"broken citation: {o.message}")
            failure.text = _details(o)
        elif could_not_verify(o):
            ET.SubElement(case, "skipped", message=f"could not be verified: {o.message}")
            ET.SubElement(case, "system-out").text = _details(o)
        elif o.status is Status.WARNING:
            ET.SubElement(case, "system-out").text = f"warning: {_details(o)}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
