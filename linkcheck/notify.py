"""Notifications from the daemon through Apprise: one list of URLs (`[notify] urls`) reaches
Slack, Matrix, Teams, Discord, ntfy, e-mail or any JSON endpoint. The older `webhook` and
`smtp_*` keys are mapped onto Apprise URLs (jsons:// and mailtos://), so there is one delivery
path. A failing notifier returns an error message for the log; it never raises."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from urllib.parse import quote, urlsplit

from .config import NotifySettings
from .digest import Digest
from .models import CheckRun, SourceOutcome
from .reporters.common import plural
from .storage import href, is_url


def webhook_url(url: str) -> str:
    """`https://host/path` as Apprise's JSON target (a POST of {title, message, type})."""
    parts = urlsplit(url)
    scheme = "jsons" if parts.scheme == "https" else "json"
    params = "&".join(f"-{pair}" for pair in parts.query.split("&") if pair)  # Apprise's GET-parameter form
    return f"{scheme}://{parts.netloc}{parts.path or '/'}" + (f"?{params}" if params else "")


def mail_url(settings: NotifySettings) -> str:
    """The `smtp_*` keys as an Apprise mail URL: mailtos:// with STARTTLS, or plain mailto://.
    Credentials come from SMTP_USERNAME / SMTP_PASSWORD, as before."""
    user, password = os.environ.get("SMTP_USERNAME", ""), os.environ.get("SMTP_PASSWORD", "")
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user and password else ""
    scheme, mode = ("mailtos", "starttls") if settings.smtp_starttls else ("mailto", "insecure")
    query = (f"smtp={quote(settings.smtp_host)}&mode={mode}&to={quote(','.join(settings.smtp_to), safe=',@')}"
             + (f"&from={quote(settings.smtp_from, safe='@')}" if settings.smtp_from else ""))
    return f"{scheme}://{auth}{settings.smtp_host}:{settings.smtp_port}?{query}"


def service_urls(settings: NotifySettings) -> list[str]:
    urls = list(settings.urls)
    if settings.webhook:
        urls.append(webhook_url(settings.webhook))
    if settings.smtp_host and settings.smtp_to:
        urls.append(mail_url(settings))
    return urls


def _deliver(urls: list[str], title: str, body: str, failure: bool) -> list[str]:
    import apprise

    errors = []
    kind = apprise.NotifyType.FAILURE if failure else apprise.NotifyType.INFO
    for url in urls:  # one Apprise object per URL, so that an error names the service that failed
        service = apprise.Apprise()
        if not service.add(url):
            errors.append(f"not a notification URL Apprise understands: {url.split('://')[0]}://…")
            continue
        name = service[0].url(privacy=True)  # type: ignore[no-untyped-call]
        with apprise.LogCapture(level=logging.WARNING) as log:  # type: ignore[no-untyped-call]
            sent = service.notify(body=body, title=title, notify_type=kind,
                                  body_format=apprise.NotifyFormat.MARKDOWN)
        if not sent:
            detail = log.getvalue().strip().splitlines()
            errors.append(f"notification to {name} failed" + (f": {detail[-1].split(' - ', 2)[-1]}" if detail
                                                                 else ""))
    return errors


async def send(settings: NotifySettings, title: str, body: str, failure: bool = False) -> list[str]:
    urls = service_urls(settings)
    return await asyncio.to_thread(_deliver, urls, title, body, failure) if urls else []


def evidence(o: SourceOutcome, base_url: str) -> list[str]:
    """Where an editor can see for themselves: the page, its archived copy, the local snapshot."""
    out = [f"[live page]({o.source.url})"]
    if o.capture.url:
        out.append(f"[Wayback copy]({o.capture.url})")
    if o.snapshot and (base_url or is_url(o.snapshot)):
        out.append(f"[snapshot]({href(base_url, o.snapshot)})")
    return out


def problems_message(run: CheckRun, new: list[SourceOutcome], base_url: str = "") -> tuple[str, str]:
    """(title, Markdown body) naming each source that broke, why, which articles cite it, and
    links to the evidence."""
    title = f"linkcheck: {plural(len(new), 'citation')} need{'s' if len(new) == 1 else ''} a look"
    lines = []
    for o in new:
        lines.append(f"- **{o.source.id}** ({o.status.value}: {', '.join(o.problems) or o.link.value}) — "
                     f"{o.message or o.source.title}")
        for c in o.source.cited_in:  # a source's own `article` is among them (config.py adds it)
            notes = f" (note {', '.join(c.notes)})" if c.notes else ""
            lines.append(f"  cited in {c.article}{notes}")
        lines.append("  " + " · ".join(evidence(o, base_url)))
    if base_url:
        lines.append(f"\nFull report: {base_url}reports/latest.md")
    lines.append(f"\nPass finished {run.finished}.")
    return title, "\n".join(lines)


async def notify_problems(settings: NotifySettings, run: CheckRun, new: list[SourceOutcome],
                          base_url: str = "") -> list[str]:
    title, body = problems_message(run, new, base_url)
    return await send(settings, title, body, failure=True)


async def notify_digest(settings: NotifySettings, digest: Digest, markdown: Path, base_url: str = "") -> list[str]:
    title = f"linkcheck digest {digest.since[:10]} to {digest.until[:10]}"
    body = markdown.read_text(encoding="utf-8")
    if base_url:
        body = f"Read it online: {base_url}reports/{markdown.with_suffix('.html').name}\n\n{body}"
    return await send(settings, title, body, failure=bool(digest.broke))
