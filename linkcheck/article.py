"""An article → the sources it cites and the passages it quotes. Pure.

Reads plain text, Markdown and HTML here, wikitext in `wikitext.py`. Markdown: footnotes (`[^1]`,
`[^label]`), numbered or bulleted reference lists with inline links under a "References"/"Notes"
heading (or ending the article), reference-style links, autolinks; links in the body are citations
too. HTML: `<sup>` markers, `<ol>`/`<li>` note lists, `<blockquote cite>` and `<q cite>`.
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
from html import escape

from .extract import parse_html, visible_lines

_URL_RE = re.compile(r"https?://[^\s<>\"“”「」]+")
# A Wayback-style memento URL (`/web/20230712000000/https://...`) is an archived copy that `fix`
# wrote beside a citation, not a citation of its own.
ARCHIVED_RE = re.compile(r"/web/\d{8,14}[a-z_]*/https?:")
_NOTE_RE = re.compile(r"^\s*\[(\d{1,3}|•)\]\s*(.*)$")
_MD_NOTE_RE = re.compile(r"^\s*\[\^([^\]\s]{1,40})\]:\s*(.*)$")
_MD_REF_MARK_RE = re.compile(r"\[\^([^\]\s]{1,40})\]")
_MD_DEF_RE = re.compile(r"^\s{0,3}\[([^\]^][^\]]*)\]:\s*<?(https?://[^\s>]+)>?(?:\s+[\"'(](.*)[\"')])?\s*$")
_MD_REFLINK_RE = re.compile(r"\[([^\]]+)\](?:\[([^\]]*)\])?")
_MD_AUTOLINK_RE = re.compile(r"<(https?://[^\s>]+)>")
_LIST_RE = re.compile(r"^\s*(?:(\d{1,3})[.)]|[-*+])\s+(.*)$")
_REFS_HEADING_RE = re.compile(r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?(?:references|notes|sources|footnotes|endnotes|"
                              r"bibliography|citations|works cited|further reading|参考文献|脚注|出典|注)"
                              r"(?:\*\*|__)?:?\s*#*\s*$", re.I)
_MARKER_RE = re.compile(r"\[\^?(\d{1,3})\]")
_MARKER_WS_RE = re.compile(r"\s*\[\^?\d{1,3}\]")  # removed with its space: "closed [1]." → "closed."
_OWN_MARKER_RE = re.compile(r"\[\^?(\d{1,3})\][\s,.;:]*$")  # inside the closing quotation mark
_IBID_RE = re.compile(r"^\s*ibid\b\.?,?\s*(?:(?:para(?:graph)?s?\.?|¶|p\.|pp\.|at)\s*)?(\d+)?", re.I)
_LOCATOR_RE = re.compile(r"(?:,?\s*(?:para(?:graph)?\.?|¶)\s*(\d+)|\s+(\d{1,3}))\s*\.?\s*$", re.I)
_QUOTE_RE = re.compile(r"“([^“”\n]{2,}?)[”“]|\"([^\"\n]{2,}?)\"|「([^「」\n]{2,}?)」|『([^『』\n]{2,}?)』")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\((https?://[^)\s]+)(?:\s+\"[^\"]*\")?\)")
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
    sentence: str = ""  # the article's sentence that cites it (first one)


@dataclass
class Parsed:
    sources: list[Cited]
    warnings: list[str]
    title: str = ""


@dataclass
class _Note:
    number: str
    line: int
    entries: list[tuple[str, str, int]]  # (title, url, line)
    text: str


@dataclass
class _Text:
    """An article as plain text with `[N]` markers and `[N] ...` note lines, plus what the
    conversion found on the way: passages quoted with a `cite` URL, and the article's title."""

    text: str
    cited_quotes: list[tuple[str, str]] = field(default_factory=list)  # (url, passage)
    title: str = ""


def is_html(raw: str, name: str) -> bool:
    return name.lower().endswith((".html", ".htm")) or bool(re.match(r"\s*(<!doctype|<html)", raw, re.I))


def to_text(raw: str, name: str) -> _Text:
    """Text, Markdown or HTML → `_Text`; text and Markdown keep their line numbers."""
    if is_html(raw, name):
        return _html_to_text(raw)
    lines = raw.split("\n")
    title = next((re.sub(r"^#\s+", "", x).strip() for x in lines if re.match(r"^#\s+\S", x)), "")
    return _Text("\n".join(_markdown_lines(lines)), title=title)


def _references_start(lines: list[str]) -> int:
    """Where the reference section begins: after a "References"-like heading, else the list of
    linked items that ends the article; len(lines) when there is none."""
    for i in range(len(lines) - 1, -1, -1):
        if _REFS_HEADING_RE.match(lines[i]):
            return i + 1
    start = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        item = _LIST_RE.match(lines[i])
        if item and _URL_RE.search(lines[i]):
            start = i
        elif lines[i].strip() and not (lines[i].startswith((" ", "\t")) and start < len(lines)):
            break
    return start


def _markdown_lines(lines: list[str]) -> list[str]:
    """Markdown → the notes form, line for line: definitions and reference lists become `[N]` notes,
    links become `text URL`."""
    defs: dict[str, str] = {}
    labels: dict[str, str] = {}  # footnote label → the number a reader sees (order of first use)
    for line in lines:
        d = _MD_DEF_RE.match(line)
        if d and not d.group(1).isdigit():
            defs[d.group(1).casefold()] = d.group(2)
        if not _MD_NOTE_RE.match(line):
            for m in _MD_REF_MARK_RE.finditer(line):
                labels.setdefault(m.group(1), m.group(1) if m.group(1).isdigit() else str(len(labels) + 1))
    for line in lines:  # footnotes never referred to still count, after those that are
        note = _MD_NOTE_RE.match(line)
        if note:
            labels.setdefault(note.group(1), note.group(1) if note.group(1).isdigit() else str(len(labels) + 1))

    def reflink(m: re.Match[str]) -> str:
        label = (m.group(2) or m.group(1)).casefold()
        return f"{m.group(1)} {defs[label]}" if label in defs else m.group(0)

    refs_from = _references_start(lines)
    out = []
    for i, line in enumerate(lines):
        note = _MD_NOTE_RE.match(line)
        d = _MD_DEF_RE.match(line)
        item = _LIST_RE.match(line) if i >= refs_from and _URL_RE.search(line) else None
        if note:
            line = f"[{labels[note.group(1)]}] {note.group(2)}"
        elif d and d.group(1).isdigit():
            line = f"[{d.group(1)}] {d.group(3) or ''} {d.group(2)}"
        elif d:
            line = ""  # a link definition: its URL is cited where the body uses it
        elif item:
            line = f"[{item.group(1) or '•'}] {item.group(2)}"
        line = _MD_REF_MARK_RE.sub(lambda m: f"[{labels.get(m.group(1), m.group(1))}]", line)
        line = _MD_LINK_RE.sub(lambda m: f"{m.group(1)} {m.group(2)}", line)
        line = _MD_AUTOLINK_RE.sub(lambda m: m.group(1), line)
        out.append(_MD_REFLINK_RE.sub(reflink, line) if defs else line)
    return out


def _html_to_text(raw: str) -> _Text:
    root = parse_html(raw)
    if root is None:
        return _Text("")
    found = _Text("")
    heading = root.find(".//h1")
    heading = heading if heading is not None else root.find(".//title")
    if heading is not None:
        found.title = " ".join("".join(str(t) for t in heading.itertext()).split())
    for el in root.iter("blockquote", "q"):
        cite = el.get("cite") or ""
        if cite.startswith(("http://", "https://")):
            found.cited_quotes.append((cite, " ".join("".join(str(t) for t in el.itertext()).split())))
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
    found.text = "\n".join(visible_lines(root))
    return found


def html_line(raw: str, url: str) -> int:
    """The line of `raw` (an HTML file) where `url` is last written (notes come last), or 0."""
    at = max(raw.rfind(url), raw.rfind(escape(url)))
    return raw.count("\n", 0, at) + 1 if at >= 0 else 0


def _entries(text: str, line: int) -> list[tuple[str, str, int]]:
    """(title, url, line) for each URL on a note line; the title is the text before it."""
    out, last = [], 0
    for m in _URL_RE.finditer(text):
        url = m.group(0).rstrip(".,;:)]}’”")
        if not ARCHIVED_RE.search(url):
            out.append((text[last:m.start()].strip(" ,;:-–—\t<([").strip(), url, line))
        last = m.end()
    return out


def _split(text: str) -> tuple[list[tuple[int, str]], list[_Note]]:
    """Body lines with their numbers, and notes (from the first note line on)."""
    body: list[tuple[int, str]] = []
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
            body.append((number, line))
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
    before = line[:start].rstrip()
    # "... concrete support. [3]": a marker after its sentence's full stop cites that sentence
    cut = len(before) - 1 if before.endswith((".", "。")) else start
    left = max(line.rfind(". ", 0, cut), line.rfind("。", 0, cut))
    right_candidates = [i for i in (line.find(". ", end), line.find("。", end)) if i >= 0]
    right = min(right_candidates) + 1 if right_candidates else len(line)
    return line[left + 1 if left >= 0 else 0:right].strip()


def _resolve(note: _Note, previous: list[tuple[Cited, int | None]], by_url: dict[str, Cited],
             warnings: list[str]) -> list[tuple[Cited, int | None]]:
    """The sources a note names: its URLs, or for `Ibid.` the previous note's, or the earlier
    note whose title it repeats."""
    if note.entries:
        return [(by_url.setdefault(url, Cited(url=url, title=title, line=line)), None)
                for title, url, line in note.entries]
    ibid = _IBID_RE.match(note.text)
    if ibid and previous:
        return [(previous[0][0], int(ibid.group(1)) if ibid.group(1) else None)]
    loc = _LOCATOR_RE.search(note.text)
    match = _by_title(note.text[:loc.start()] if loc else note.text, list(by_url.values()))
    if match is None:
        warnings.append(f"note [{note.number}] (line {note.line}) names no URL and matches no earlier "
                        f"note: {note.text!r}")
        return []
    return [(match, int(loc.group(1) or loc.group(2)) if loc else None)]


def parse_article(raw: str, name: str = "article.txt") -> Parsed:
    from .wikitext import is_wikitext, parse_wikitext

    if is_wikitext(name):
        return parse_wikitext(raw)
    converted = to_text(raw, name)
    body, notes = _split(converted.text)
    warnings: list[str] = []
    by_url: dict[str, Cited] = {}
    note_sources: dict[str, list[tuple[Cited, int | None]]] = {}
    previous: list[tuple[Cited, int | None]] = []
    for note in notes:
        targets = _resolve(note, previous, by_url, warnings)
        if not targets:
            continue
        if note.number != "•":  # an unnumbered reference-list item
            for cited, _ in targets:
                if note.number not in cited.cites:
                    cited.cites.append(note.number)
            note_sources[note.number] = targets
        previous = targets
    return finish(raw, name, converted, body, by_url, note_sources, warnings)


def finish(raw: str, name: str, converted: _Text, body: list[tuple[int, str]], by_url: dict[str, Cited],
           note_sources: dict[str, list[tuple[Cited, int | None]]], warnings: list[str]) -> Parsed:
    """What every format shares once its notes are known: links in the body, the sentences that
    cite each note, quotes attached to the note they point to, passages quoted with a `cite`."""
    for lineno, line in body:
        for m in _URL_RE.finditer(line):
            url = m.group(0).rstrip(".,;:)]}’”")
            if not ARCHIVED_RE.search(url) and url not in by_url:
                by_url[url] = Cited(url=url, title="", line=lineno, sentence=_sentence(line, m.start(), m.end()))
        for m in _MARKER_RE.finditer(line):
            for cited, _ in note_sources.get(m.group(1), []):
                cited.sentence = cited.sentence or _MARKER_WS_RE.sub("", _sentence(line, m.start(), m.end())).strip()
    for url, passage in converted.cited_quotes:
        cited = by_url.setdefault(url, Cited(url=url, title="", sentence=passage))
        if passage and all(q[0] != passage for q in cited.quotes):
            cited.quotes.append((passage, None, passage))
    for number, quote, sentence in _quotes([line for _, line in body]):
        targets = note_sources.get(number, [])
        if not targets:
            warnings.append(f"quote “{quote}” points at note [{number}], which is not in the notes")
            continue
        cited, locator = targets[0]  # a note with several URLs: the first is the one quoted
        if all(q[0] != quote for q in cited.quotes):
            cited.quotes.append((quote, locator, sentence))
    if is_html(raw, name):
        for cited in by_url.values():
            cited.line = html_line(raw, cited.url) or cited.line
    return Parsed(list(by_url.values()), warnings, converted.title)


def _by_title(title: str, sources: list[Cited]) -> Cited | None:
    wanted = _words(title)
    best, best_score = None, 0
    for cited in sources:
        score = len(wanted & _words(cited.title))
        if score > best_score:
            best, best_score = cited, score
    return best

