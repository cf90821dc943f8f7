"""A MediaWiki article → the sources it cites, with mwparserfromhell (a real wikitext parser:
templates nest, `|` and `=` hide inside links and comments, which regexes get wrong). Pure.

`<ref>` tags are the notes, numbered in order of first use as MediaWiki renders them; a named ref
used again (`<ref name="x" />`) is the same note. In a ref, every `{{cite ...}}`/`{{citation}}`
template gives its `url=`, `title=` and `quote=` (a quote the page must hold), else every external
link `[https://... Title]` is cited. Cite templates outside refs (a bibliography) are cited too.
Quotes in the text that point to a ref are attached to that ref's source, as for other formats.
"""

from __future__ import annotations

from typing import Any

import mwparserfromhell
from mwparserfromhell.nodes import Tag, Template
from mwparserfromhell.wikicode import Wikicode

from .article import ARCHIVED_RE, Cited, Parsed, _Text, finish

WIKI_SUFFIXES = (".wiki", ".wikitext", ".mediawiki")


def is_wikitext(name: str) -> bool:
    return name.lower().endswith(WIKI_SUFFIXES)


def is_cite(template: Template) -> bool:
    name = str(template.name).strip().lower().replace("_", " ")
    return name.startswith("cite ") or name in ("cite", "citation")


def param(template: Template, *names: str) -> str:
    """A parameter's value as plain text ('' when absent)."""
    for name in names:
        if template.has(name):
            return str(template.get(name).value.strip_code()).strip()
    return ""


def _entries(code: Wikicode) -> list[tuple[str, str, str]]:
    """(url, title, quote) of each citation inside `code`."""
    found = []
    for t in code.filter_templates(recursive=True):
        url = param(t, "url")
        if is_cite(t) and url.startswith(("http://", "https://")):
            found.append((url, param(t, "title", "website", "work"), param(t, "quote")))
    if found:
        return found
    return [(str(link.url), str(link.title or "").strip(), "") for link in code.filter_external_links()
            if str(link.url).startswith(("http://", "https://")) and not ARCHIVED_RE.search(str(link.url))]


def _line(raw: str, at: int) -> int:
    return raw.count("\n", 0, at) + 1


def parse_wikitext(raw: str) -> Parsed:
    code = mwparserfromhell.parse(raw)
    by_url: dict[str, Cited] = {}
    note_sources: dict[str, list[tuple[Cited, int | None]]] = {}
    numbers: dict[str, str] = {}  # ref name (or position) → note number
    pieces: list[str] = []
    cursor = 0

    def cite(entries: list[tuple[str, str, str]], number: str, line: int) -> list[tuple[Cited, int | None]]:
        targets: list[tuple[Cited, int | None]] = []
        for url, title, quote in entries:
            cited = by_url.setdefault(url, Cited(url=url, title=title, line=line))
            if number and number not in cited.cites:
                cited.cites.append(number)
            if quote and all(q[0] != quote for q in cited.quotes):
                cited.quotes.append((quote, None, quote))
            targets.append((cited, None))
        return targets

    nodes: list[Any] = code.filter(recursive=True, matches=lambda n: isinstance(n, Tag | Template))
    for node in nodes:
        text = str(node)
        at = raw.find(text, cursor)
        if at < 0:
            continue  # inside a node already handled (a template in a ref)
        if isinstance(node, Tag) and str(node.tag).strip().lower() == "ref":
            name = str(node.get("name").value).strip() if node.has("name") else f"#{at}"
            fresh = name not in numbers
            number = numbers.setdefault(name, str(len(numbers) + 1))
            if fresh and node.contents is not None:
                note_sources[number] = cite(_entries(node.contents), number, _line(raw, at))
            pieces += [raw[cursor:at], f"[{number}]"]
            cursor = at + len(text)
        elif isinstance(node, Template) and is_cite(node):
            cite(_entries(Wikicode([node])), "", _line(raw, at))
            pieces += [raw[cursor:at]]
            cursor = at + len(text)
    pieces.append(raw[cursor:])
    plain = str(mwparserfromhell.parse("".join(pieces)).strip_code(normalize=True, collapse=False))
    title = next((str(h.title).strip() for h in code.filter_headings() if h.level == 1), "")
    body = list(enumerate(plain.split("\n"), 1))
    return finish(raw, "article.wiki", _Text(plain, title=title), body, by_url, note_sources, [])
