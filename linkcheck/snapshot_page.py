"""Snapshots as pages an editor can read: the saved page's visible text with the quoted passages
marked, written as HTML beside the digest. A `.warc.gz` link only downloads a file a browser
cannot show; this page opens on a phone."""

from __future__ import annotations

import dataclasses
import os
from html import escape
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from .digest import CARD_SECTIONS, Digest, Item
from .extract import extract
from .fsutil import atomic_write
from .storage import Storage

_CSS = """
:root { color-scheme: light dark; }
body { margin:0; padding:16px; font:17px/1.6 Georgia, "Noto Serif", "Hiragino Mincho ProN", serif; }
main { max-width: 720px; margin: 0 auto; } header { font:14px/1.4 system-ui, sans-serif; opacity:.8; }
header p { margin: 2px 0; overflow-wrap:anywhere; } mark { background:#ffe066; color:#1d1d1f; }
"""


def read_snapshot(storage: Storage, stored: str) -> tuple[str, str, bytes, str] | None:
    """(URL, capture date, body with its content encoding undone, content type) of the response
    record in the stored WARC (a path or a URL, as history names it), or None when there is none."""
    with storage.open(stored) as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "response":
                headers = record.http_headers
                content_type = (headers.get_header("Content-Type") if headers else None) or ""
                return (record.rec_headers.get_header("WARC-Target-URI"), record.rec_headers.get_header("WARC-Date"),
                        record.content_stream().read(), content_type)
    return None


def _marked(line: str, passages: list[str]) -> str:
    """`line` as HTML with every passage it contains marked."""
    spans = sorted((at, at + len(p)) for p in passages if p for at in _find_all(line, p))
    out, pos = [], 0
    for start, end in spans:
        if start < pos:
            continue  # overlapping passages: the first one wins
        out += [escape(line[pos:start]), f"<mark>{escape(line[start:end])}</mark>"]
        pos = end
    return "".join([*out, escape(line[pos:])])


def _find_all(text: str, passage: str) -> list[int]:
    found, at = [], text.find(passage)
    while at >= 0:
        found.append(at)
        at = text.find(passage, at + len(passage))
    return found


def render_page(item: Item, url: str, date: str, text: str) -> str:
    passages = [q.get("found_text") or q["text"] for q in item.quotes]
    body = "\n".join(f"<p>{_marked(line, passages)}</p>" for line in text.splitlines() if line.strip())
    return f"""<!doctype html>
<html lang="und">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Saved copy: {escape(item.title or item.id)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<p><strong>Saved copy</strong> of <a href="{escape(url)}">{escape(url)}</a>,
as linkcheck fetched it on {escape(date)}.</p>
<p>Source {escape(item.id)}. The passages the article quotes are <mark>marked</mark> where the page has them.</p>
</header>
{body}
</main>
</body>
</html>
"""


def write_pages(digest: Digest, storage: Storage, folder: Path) -> Digest:
    """Write a readable page for every snapshot the digest links (wherever `storage` keeps it), under
    the local `folder`, and return the digest with each card pointing at its page (a path relative to
    the config's folder, like local snapshots)."""
    pages: dict[str, str] = {}

    def with_page(item: Item) -> Item:
        if not item.snapshot or not storage.exists(item.snapshot):
            return item
        if item.snapshot not in pages:
            read = read_snapshot(storage, item.snapshot)
            if read is None:
                return item
            url, date, body, content_type = read
            target = folder / (Path(item.snapshot).name.removesuffix(".warc.gz") + f"-{item.id}.html")
            atomic_write(target, render_page(item, url, date, extract(body, content_type).text))
            pages[item.snapshot] = os.path.relpath(target, storage.root)
        return dataclasses.replace(item, page=pages[item.snapshot])

    cards: dict[str, Any] = {name: [with_page(i) for i in getattr(digest, name)] for name in CARD_SECTIONS}
    return dataclasses.replace(digest, **cards)
