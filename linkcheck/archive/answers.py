"""What the Wayback Machine's answers mean, as pure functions of what it sent.

Kept apart from the client so each recorded answer can be read without a network: the SPN2
error taxonomy (the archive's own list of `status_ext` values), the "same snapshot" notice,
SPN v1's HTML progress page naming a job, `X-Archive-Wayback-Runtime-Error`, CDX rows
(revisits count: for busy pages most recent rows are `warc/revisit` with status `-`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

_TS_RE = re.compile(r"/web/(\d{14})")
_JOB_RE = re.compile(r"""spn\.watchJob\(\s*["']([^"']+)["']""")
_SAME_RE = re.compile(r"The same snapshot had been made[^<\"]*", re.IGNORECASE)

# Documented SPN2 errors that say "not now": the archive's or the target's passing trouble.
TEMPORARY = frozenset({
    "error:bad-gateway", "error:bandwidth-limit-exceeded", "error:browsing-timeout",
    "error:cannot-fetch", "error:capture-location-error", "error:celery", "error:gateway-timeout",
    "error:internal-server-error", "error:job-failed", "error:no-browsers-available",
    "error:protocol-error", "error:proxy-error", "error:read-timeout", "error:service-unavailable",
    "error:soft-time-limit-exceeded", "error:too-many-requests", "error:user-session-limit",
    "error:user-daily-limit",
})
# Documented SPN2 errors about the page or the URL itself: asking again changes nothing.
PERMANENT = frozenset({
    "error:bad-request", "error:blocked", "error:blocked-client-ip", "error:blocked-url",
    "error:filesize-limit", "error:ftp-access-denied", "error:http-version-not-supported",
    "error:invalid-host-resolution", "error:invalid-server-response", "error:invalid-url-syntax",
    "error:method-not-allowed", "error:network-authentication-required", "error:no-access",
    "error:not-found", "error:not-implemented", "error:too-many-redirects", "error:unauthorized",
})
# The URL was captured so often today that the archive takes no more: it *is* archived.
CAPTURED_TODAY = "error:too-many-daily-captures"


class Kind(StrEnum):
    """What an SPN answer (submit or status) amounts to."""

    DONE = "done"  # a new capture, its timestamp known
    RECENT = "recent"  # the archive says a recent capture exists (timestamp may be unknown)
    SUBMITTED = "submitted"  # a job runs at the archive; poll `job_id`
    RETRY = "retry"  # temporary: ask again later
    FAILED = "failed"  # permanent for this page
    EXCLUDED = "excluded"  # the site is blocked or excluded from the archive


@dataclass(frozen=True)
class Answer:
    kind: Kind
    timestamp: str | None = None
    job_id: str | None = None
    message: str = ""


def spn_error(body: dict[str, Any]) -> Answer:
    """An SPN2 `{"status": "error", "status_ext": ...}` body, whether from submit or status."""
    ext = str(body.get("status_ext") or "error:unknown")
    message = str(body.get("message") or "").strip()
    said = f"{ext}" + (f" ({message})" if message else "")
    if ext == CAPTURED_TODAY:
        return Answer(Kind.RECENT, message=f"captured today already: {said}")
    if ext in PERMANENT:
        return Answer(Kind.FAILED, message=f"Wayback could not save: {said}")
    if ext in TEMPORARY or ext.startswith("error:max-daily-bandwidth"):
        return Answer(Kind.RETRY, message=f"Wayback is busy: {said}")
    # Not in the documented list: worth another try later, with back-off, rather than never.
    return Answer(Kind.RETRY, message=f"Wayback answered an undocumented error: {said}")


def spn2_submit(body: dict[str, Any]) -> Answer:
    """The JSON answer to `POST /save`."""
    if body.get("status") == "error":
        return spn_error(body)
    message = str(body.get("message") or "").strip()
    job = body.get("job_id")
    if job:
        return Answer(Kind.SUBMITTED, job_id=str(job), message=message)
    if names_recent(message):
        return Answer(Kind.RECENT, message=message)
    return Answer(Kind.RETRY, message="Wayback accepted the save without naming a job" +
                  (f" ({message})" if message else ""))


def names_recent(message: str) -> bool:
    """The "same snapshot had been made N minutes ago" notice: the job names an existing capture."""
    return bool(_SAME_RE.search(message))


def spn2_status(body: dict[str, Any], job_id: str) -> Answer:
    """The JSON answer to `GET /save/status/<job>`."""
    status = body.get("status")
    if status == "success" and body.get("timestamp"):
        return Answer(Kind.DONE, timestamp=str(body["timestamp"]), job_id=job_id)
    if status == "error":
        return spn_error(body)
    return Answer(Kind.SUBMITTED, job_id=job_id, message="the archive is still capturing")


def runtime_error(headers: Any) -> str:
    return str(headers.get("x-archive-wayback-runtime-error") or "").strip()


def is_exclusion(error: str) -> bool:
    """`RobotAccessControlException: Blocked By Robots`, `AdministrativeAccessControlException:
    Blocked Site Error`, `... excluded ...`: the archive will not hold this site."""
    low = error.lower()
    return "accesscontrol" in low or "blocked" in low or "exclu" in low


def spn1_html(html: str) -> Answer | None:
    """SPN v1 answering with its HTML page instead of a capture."""
    if job := _JOB_RE.search(html):
        return Answer(Kind.SUBMITTED, job_id=job.group(1), message="the archive is capturing")
    if same := _SAME_RE.search(html):
        return Answer(Kind.RECENT, message=" ".join(same.group(0).split()))
    return None


def timestamp_in(value: str | None) -> str | None:
    ts = _TS_RE.search(value or "")
    return ts.group(1) if ts else None


def cdx_newest(rows: Any) -> tuple[str, bool] | None:
    """Newest usable row of a CDX JSON answer: (timestamp, is_revisit). A 200 capture or a
    revisit record (status `-` or mimetype `warc/revisit`) both replay the page."""
    if not isinstance(rows, list) or len(rows) < 2 or not isinstance(rows[0], list):
        return None
    head = [str(c) for c in rows[0]]
    col = {name: head.index(name) for name in ("timestamp", "statuscode", "mimetype") if name in head}
    if "timestamp" not in col:
        return None
    best: tuple[str, bool] | None = None
    for row in rows[1:]:
        if not isinstance(row, list) or len(row) < len(head):
            continue
        status = str(row[col["statuscode"]]) if "statuscode" in col else "200"
        mime = str(row[col["mimetype"]]) if "mimetype" in col else ""
        revisit = status == "-" or mime == "warc/revisit"
        if status != "200" and not revisit:
            continue
        ts = str(row[col["timestamp"]])
        if best is None or ts > best[0]:
            best = (ts, revisit)
    return best
