"""Optional notifications from the daemon: a JSON POST to `notify.webhook` and/or mail through
`notify.smtp_*` (credentials from SMTP_USERNAME / SMTP_PASSWORD in the environment). A failing
notifier returns an error message for the log; it never raises."""

from __future__ import annotations

import asyncio
import os
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from .config import NotifySettings
from .digest import Digest
from .models import CheckRun, SourceOutcome, Status

TIMEOUT = 15.0


async def _post(url: str, payload: dict[str, Any]) -> str:
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as client:
            r = await client.post(url, json=payload)
        if r.status_code >= 400:
            return f"webhook answered HTTP {r.status_code}"
    except (httpx.HTTPError, OSError) as exc:
        return f"webhook failed: {type(exc).__name__}: {exc}"
    return ""


def _send_mail(settings: NotifySettings, subject: str, body: str) -> str:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, settings.smtp_from, ", ".join(settings.smtp_to)
    msg.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            user, password = os.environ.get("SMTP_USERNAME"), os.environ.get("SMTP_PASSWORD")
            if user and password:
                smtp.login(user, password)
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        return f"mail failed: {type(exc).__name__}: {exc}"
    return ""


async def _deliver(settings: NotifySettings, payload: dict[str, Any], subject: str, body: str) -> list[str]:
    errors = []
    if settings.webhook:
        errors.append(await _post(settings.webhook, payload))
    if settings.smtp_host and settings.smtp_to:
        errors.append(await asyncio.to_thread(_send_mail, settings, subject, body))
    return [e for e in errors if e]


async def notify_problems(settings: NotifySettings, run: CheckRun, new: list[SourceOutcome]) -> list[str]:
    items = [{"id": o.source.id, "url": o.source.url, "status": o.status.value, "link": o.link.value,
              "problems": list(o.problems), "message": o.message} for o in new]
    payload = {"event": "new-problems", "finished": run.finished,
               "summary": {s.value: run.count(s) for s in Status}, "sources": items}
    body = "\n".join(f"- {i['id']} ({i['status']}): {i['message']}\n  {i['url']}" for i in items)
    return await _deliver(settings, payload, f"linkcheck: {len(new)} citation(s) need a look", body)


async def notify_digest(settings: NotifySettings, digest: Digest, markdown: Path) -> list[str]:
    payload = {"event": "digest", "since": digest.since, "until": digest.until, "path": str(markdown),
               "broke": len(digest.broke), "changed": len(digest.changed), "recovered": len(digest.recovered)}
    return await _deliver(settings, payload, f"linkcheck digest {digest.since[:10]} to {digest.until[:10]}",
                          markdown.read_text(encoding="utf-8"))
