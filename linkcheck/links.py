"""`linkcheck links`: the citations with their archived copies, as Robust Links markup
(`data-versionurl`, `data-versiondate`), the Memento community's convention."""

from __future__ import annotations

from html import escape
from typing import Any

from .config import Config
from .models import Capture, CaptureState
from .store import Store


def render_links(config: Config, fmt: str) -> str:
    store = Store.open(config.database)
    try:
        # The last pass's choice for readers wins: when a quote was lost, the capture still holding it
        # (None when no capture is known to hold it). History's capture only for the other sources.
        urls = {s.url for s in config.sources}
        shown = {url: _for_readers(wayback) for url, wayback in store.latest_waybacks() if url in urls}
        captures = {s.url: shown[s.url] if s.url in shown else store.capture(s.url) for s in config.sources}
    finally:
        store.close()
    lines = []
    for src in config.sources:
        capture = captures.get(src.url)
        label = src.title or src.url
        notes = f"[{', '.join(src.cites)}] " if src.cites else ""
        if capture is None or not capture.url:
            lines.append(f'{notes}<a href="{escape(src.url)}">{escape(label)}</a>' if fmt == "html"
                         else f"{notes}[{label}]({src.url}) (no archived copy yet)")
            continue
        ts = capture.timestamp or ""
        date = f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}" if len(ts) >= 8 else ""
        if fmt == "html":
            lines.append(f'{notes}<a href="{escape(src.url)}" data-versionurl="{escape(capture.url)}" '
                         f'data-versiondate="{date}">{escape(label)}</a>')
        else:
            lines.append(f"{notes}[{label}]({src.url}) ([archived {date}]({capture.url}))")
    return "\n".join(lines) + "\n"


def _for_readers(wayback: dict[str, Any]) -> Capture | None:
    """A stored result's Wayback capture, as that pass chose it for readers."""
    return Capture(CaptureState(wayback["state"]), wayback["url"], wayback.get("timestamp")) \
        if wayback.get("url") else None
