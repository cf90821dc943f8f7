"""An article with numbered notes → the sources it cites and the passages it quotes. Pure.

Reads plain text, Markdown (footnotes `[^1]`) and HTML (`<sup>` markers, numbered note lists).
Notes: `[1] Title https://url`, continuation lines with more URLs, `Ibid.`, `Ibid.25`,
`Ibid., para. 25`, and a title-only note (`Vilnius Summit Communiqué 85`) that names an earlier
note's source (word overlap with its title), the number kept as the quote's locator.
Quotes: a passage in “…”, "…", 「…」 or 『…』 is attached to the first note marker that follows
it in the same paragraph, or that sits inside its closing quotation mark: a heuristic, so
`init` shows what it attached and an editor reviews the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .extract import parse_html, visible_lines

_URL_RE = re.compile(r"https?://[^\s<>\"“”「」]+")
_NOTE_RE = re.compile(r"^\s*\[(\d{1,3})\]\s*(.*)$")
_MD_NOTE_RE = re.compile(r"^\s*\[\^(\d{1,3})\]:\s*(.*)$")
_MARKER_RE = re.compile(r"\[\^?(\d{1,3})\]")
_OWN_MARKER_RE = re.compile(r"\[\^?(\d{1,3})\][\s,.;:]*$")  # inside the closing quotation mark
_IBID_RE = re.compile(r"^\s*ibid\b\.?,?\s*(?:(?:para(?:graph)?s?\.?|¶|p\.|pp\.|at)\s*)?(\d+)?", re.I)
_LOCATOR_RE = re.compile(r"(?:,?\s*(?:para(?:graph)?\.?|¶)\s*(\d+)|\s+(\d{1,3}))\s*\.?\s*$", re.I)
_QUOTE_RE = re.compile(r"“([^“”\n]{2,}?)[”“]|\"([^\"\n]{2,}?)\"|「([^「」\n]{2,}?)」|『([^『』\n]{2,}?)』")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\((https?://[^)\s]+)\)")
_STOP = frozenset({"the", "a", "an", "of", "and", "in", "on", "for", "to", "by", "at", "with", "from",
                   "de", "la", "le", "des", "du", "der", "die", "das"})
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@dataclass
class Cited:
    url: str
    title: str
    cites: list[str] = field(default_factory=list)
    quotes: list[tuple[str, int | None, str]] = field(default_factory=list)  # (text, locator, sentence)
    line: int = 0


@dataclass
class Parsed:
    sources: list[Cited]
    warnings: list[str]


@dataclass
class _Note:
    number: str
    line: int
    entries: list[tuple[str, str, int]]  # (title, url, line)
    text: str


def to_text(raw: str, name: str) -> str:
    """Plain text with `[N]` markers and `[N] ...` note lines, from text, Markdown or HTML."""
    if name.lower().endswith((".html", ".htm")) or re.match(r"\s*(<!doctype|<html)", raw, re.I):
        return _html_to_text(raw)
    text = _MD_LINK_RE.sub(lambda m: f"{m.group(1)} {m.group(2)}", raw)
    text = "\n".join(_MD_NOTE_RE.sub(lambda m: f"[{m.group(1)}] {m.group(2)}", line) for line in text.split("\n"))
    return text


def _html_to_text(raw: str) -> str:
    root = parse_html(raw)
    if root is None:
        return ""
    for sup in list(root.iter("sup")):
        digits = re.sub(r"\D", "", "".join(str(t) for t in sup.itertext()))
        if digits:
            tail = sup.tail
            for child in list(sup):
                sup.remove(child)
            sup.text, sup.tag, sup.tail = f"[{digits}]", "span", tail
    for a in root.iter("a"):
        href = a.get("href") or ""
        if href.startswith(("http://", "https://")) and href not in "".join(str(t) for t in a.itertext()):
            a.tail = f" {href}" + (a.tail or "")
    for ol in root.iter("ol"):
        if not any((a.get("href") or "").startswith("http") for a in ol.iter("a")):
            continue
        start = int(ol.get("start") or 1) if (ol.get("start") or "1").isdigit() else 1
        for i, li in enumerate(x for x in ol if isinstance(x.tag, str) and x.tag == "li"):
            li.text = f"[{start + i}] " + (li.text or "")
            for back in li.iter("a"):  # footnote back-links ("↩")
                if (back.get("href") or "").startswith("#"):
                    back.text = ""
    return "\n".join(visible_lines(root))


def _entries(text: str, line: int) -> list[tuple[str, str, int]]:
    """(title, url, line) for each URL on a note line; the title is the text before it."""
    out, last = [], 0
    for m in _URL_RE.finditer(text):
        url = m.group(0).rstrip(".,;:)]}’”")
        title = text[last:m.start()].strip(" ,;:-–—\t")
        out.append((title, url, line))
        last = m.end()
    return out


def _split(text: str) -> tuple[list[str], list[_Note]]:
    """Body lines, and notes (from the first note line on)."""
    body: list[str] = []
    notes: list[_Note] = []
    for number, line in enumerate(text.split("\n"), 1):
        m = _NOTE_RE.match(line)
        if m:
            notes.append(_Note(m.group(1), number, _entries(m.group(2), number), m.group(2).strip()))
        elif notes and line.strip():
            more = _entries(line, number)
            notes[-1].entries += more
            if not more:
                notes[-1].text += " " + line.strip()
        elif not notes:
            body.append(line)
    return body, notes


def _words(title: str) -> set[str]:
    return {w for w in re.findall(r"\w+", title.casefold()) if w not in _STOP and not w.isdigit()}


def _quotes(body: list[str]) -> list[tuple[str, str, str]]:
    """(note number, quote, sentence) for each quoted passage with a marker after it."""
    found = []
    for line in body:
        for m in _QUOTE_RE.finditer(line):
            inner = next(g for g in m.groups() if g is not None)
            marker = _OWN_MARKER_RE.search(inner) or _MARKER_RE.search(line, m.end())
            if marker is None:
                continue
            number = marker.group(1)
            quote = _MARKER_RE.sub("", inner).strip().rstrip(",;:").strip()
            if len(quote.split()) < 2 and len(_CJK_RE.findall(quote)) < 4:
                continue  # a scare-quoted word, not a passage
            found.append((number, quote, _sentence(line, m.start(), m.end())))
    return found


def _sentence(line: str, start: int, end: int) -> str:
    left = max(line.rfind(". ", 0, start), line.rfind("。", 0, start))
    right_candidates = [i for i in (line.find(". ", end), line.find("。", end)) if i >= 0]
    right = min(right_candidates) + 1 if right_candidates else len(line)
    return line[left + 1 if left >= 0 else 0:right].strip()


def parse_article(raw: str, name: str = "article.txt") -> Parsed:
    body, notes = _split(to_text(raw, name))
    warnings: list[str] = []
    by_url: dict[str, Cited] = {}
    note_sources: dict[str, list[tuple[Cited, int | None]]] = {}
    previous: list[tuple[Cited, int | None]] = []
    for note in notes:
        targets: list[tuple[Cited, int | None]] = []
        for title, url, line in note.entries:
            cited = by_url.setdefault(url, Cited(url=url, title=title, line=line))
            targets.append((cited, None))
        if not note.entries:
            ibid = _IBID_RE.match(note.text)
            if ibid and previous:
                locator = int(ibid.group(1)) if ibid.group(1) else None
                targets = [(previous[0][0], locator)]
            else:
                loc = _LOCATOR_RE.search(note.text)
                locator = int(loc.group(1) or loc.group(2)) if loc else None
                title = note.text[:loc.start()] if loc else note.text
                match = _by_title(title, list(by_url.values()))
                if match is None:
                    warnings.append(f"note [{note.number}] (line {note.line}) names no URL and matches no earlier "
                                    f"note: {note.text!r}")
                    continue
                targets = [(match, locator)]
        for cited, _ in targets:
            if note.number not in cited.cites:
                cited.cites.append(note.number)
        note_sources[note.number] = targets
        previous = targets
    for number, quote, sentence in _quotes(body):
        targets = note_sources.get(number, [])
        if not targets:
            warnings.append(f"quote “{quote}” points at note [{number}], which is not in the notes")
            continue
        cited, locator = targets[0]  # a note with several URLs: the first is the one quoted
        if all(q[0] != quote for q in cited.quotes):
            cited.quotes.append((quote, locator, sentence))
    return Parsed(list(by_url.values()), warnings)


def _by_title(title: str, sources: list[Cited]) -> Cited | None:
    wanted = _words(title)
    best, best_score = None, 0
    for cited in sources:
        score = len(wanted & _words(cited.title))
        if score > best_score:
            best, best_score = cited, score
    return best

