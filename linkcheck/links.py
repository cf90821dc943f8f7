"""`linkcheck links`: the citations with their archived copies, as Robust Links markup
(`data-versionurl`, `data-versiondate`), the Memento community's convention."""

from __future__ import annotations

from html import escape

from .config import Config
from .models import Capture, CaptureState
from .store import Store


def render_links(config: Config, fmt: str) -> str:
    store = Store.open(config.database)
    try:
        captures = {s.url: store.capture(s.url) for s in config.sources}
        # The last pass's choice for readers wins: when a quote was lost, the capture still holding it.
        shown = {r["url"]: r["archive"]["wayback"] for r in store.latest_results()}
    finally:
        store.close()
    for url, wayback in shown.items():
        if url in captures:  # None when no capture is known to hold a quote the live page lost
            captures[url] = Capture(CaptureState(wayback["state"]), wayback["url"], wayback.get("timestamp")) \
                if wayback.get("url") else None
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
