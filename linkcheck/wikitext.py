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
    """A parameter's value as plain text ('' when absent), templates in it included as the words
    they show: `quote=The {{convert|5|km}} road` is "The 5 km road", not "The  road"."""
    for name in names:
        if template.has(name):
            return shown_text(template.get(name).value)
    return ""


def shown_text(code: Wikicode) -> str:
    """`code` as a reader sees it. `strip_code` drops every template with its words; here each is
    first replaced by the text it shows, innermost first (the reverse of the parser's pre-order)."""
    code = mwparserfromhell.parse(str(code))  # a copy to rewrite
    for template in reversed(code.filter_templates(recursive=True)):
        code.replace(template, _template_text(template))
    return str(code.strip_code()).strip()


# Templates that stand for a character or two.
_SYMBOLS = {"'": "'", "\"'": "\"'", "'\"": "'\"", "=": "=", "!": "|", "nbsp": " ", "ndash": "–", "mdash": "—",
            "snd": " – ", "spnd": " – ", "spaced ndash": " – ", "spaced en dash": " – ", "dot": " · ",
            "middot": "·", "bull": " • ", "en dash": "–", "em dash": "—"}
# Templates that show their first unnamed argument (formatting, abbreviations, links to other wikis).
_FIRST = {"nowrap", "nobr", "small", "smaller", "big", "larger", "em", "strong", "var", "abbr", "sup", "sub",
          "smallcaps", "sc", "ill", "interlanguage link", "not a typo", "proper name", "visible anchor", "vanchor",
          "tooltip", "keypress", "mvar", "math"}
# Templates whose words are their last unnamed argument ({{lang|fr|texte}}).
_LAST = {"lang", "transl", "transliteration", "script"}
# Footnote markers: a reader sees a number in brackets, not their arguments.
_HIDDEN = {"sfn", "sfnp", "sfnm", "efn", "refn", "r", "rp", "ref label", "note label"}
_RANGE = {"to", "-", "–", "and", "or", "by", "x", "×", "+/-", "±"}


def _template_text(template: Template) -> str:
    name = str(template.name).strip().lower().replace("_", " ")
    args = [str(p.value).strip() for p in sorted((p for p in template.params if str(p.name).strip().isdigit()),
                                                 key=lambda p: int(str(p.name).strip()))]
    if name in _SYMBOLS or name in _HIDDEN:
        return _SYMBOLS.get(name, "")
    if name in ("convert", "cvt") and len(args) >= 2:  # {{convert|5|km}}, {{convert|5|to|10|km}}
        return " ".join(args[:4] if args[1] in _RANGE and len(args) >= 4 else args[:2])
    if name == "frac" and args:  # {{frac|2}} ½, {{frac|1|2}} 1/2, {{frac|1|1|2}} 1 1/2
        return f"1/{args[0]}" if len(args) == 1 else f"{' '.join(args[:-2])} {args[-2]}/{args[-1]}".strip()
    if name == "sic":  # {{sic|hte}}, {{sic|?|hte}}, {{sic|ex|pr}}: the words as the source spelt them
        return "".join(a for a in args if a != "?")
    if name in _FIRST or name.startswith("lang-"):
        return args[0] if args else ""
    if name in _LAST:
        return args[-1] if args else ""
    # Any other template keeps its unnamed arguments' words rather than losing them silently
    # ({{cn}}, which has none, shows nothing).
    return " ".join(args)


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
