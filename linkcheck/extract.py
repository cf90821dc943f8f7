"""Bytes → `PageText`: the decoded, *visible* text of a page, and its main (article) part.

Parsed with lxml directly: BeautifulSoup over the same lxml parser builds a Python object per
node and is 15–25× slower on the pages we measured (BENCHMARKS.md), which matters at thousands
of pages per pass. Visibility is judged from markup alone (no CSS engine): `script`, `style`,
`template`, `noscript`, comments, `hidden`, `aria-hidden="true"` and inline `display:none` /
`visibility:hidden` are invisible; a stylesheet that hides an element is not seen.
"""

from __future__ import annotations

import codecs
import functools
import re
from html import escape

import charset_normalizer
import lxml.html
from lxml import etree

from ._textwalk import Walker
from ._textwalk import lines as text_lines
from .models import PageText

# WHATWG encoding labels that Python names differently or decodes too strictly.
_LABELS = {
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "windows-31j": "cp932", "ms_kanji": "cp932", "csshiftjis": "cp932", "ms932": "cp932",
    "euc-jp": "euc_jp", "x-euc-jp": "euc_jp", "cseucpkdfmtjapanese": "euc_jp",
    "iso-2022-jp": "iso2022_jp_ext", "csiso2022jp": "iso2022_jp_ext",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
}
# When the declared codec fails, a superset may still read the page.
_FALLBACKS = {"euc_jp": "euc_jis_2004", "iso2022_jp_ext": "iso2022_jp_2004", "cp932": "shift_jis_2004"}
_META_RE = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.I)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)

_SKIP = frozenset({"script", "style", "template", "noscript", "head", "iframe", "object", "embed",
                   "svg", "math", "select", "datalist", "canvas", "audio", "video", "map"})
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "nav", "ol",
    "option", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "ul", "title", "textarea", "button",
})
_FURNITURE_TAGS = frozenset({"nav", "header", "footer", "aside", "form", "button", "dialog"})
_FURNITURE_RE = re.compile(
    r"(^|[\s_-])(nav|navbar|menu|breadcrumbs?|cookies?|consent|gdpr|banner|ads?|advert\w*|"
    r"sponsor\w*|promo\w*|related|recommend\w*|share|sharing|social|newsletter|subscribe|"
    r"sidebar|footer|header|masthead|comments?|popup|modal|toolbar|skip|clock|timestamp)"
    r"($|[\s_-])", re.I)
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*(hidden|collapse)", re.I)
_WS_RE = re.compile(r"\s+")
_BREAK = "\x1e"  # block boundary while text is assembled; source newlines are only whitespace
_NUMBERED_RE = re.compile(r"^(\d{1,3})\.?\s+\S")


def decode(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode `body`: BOM, HTTP charset, `<meta>` charset, detector, UTF-8. Returns (text, codec)."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return body.decode(codec, errors="replace"), codec
    declared = []
    http_charset = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type, re.I)
    if http_charset:
        declared.append(http_charset.group(1))
    m2 = _META_RE.search(body[:4096])
    if m2:
        declared.append(m2.group(1).decode("ascii", "replace"))
    codecs_declared = [c for c in map(_codec, declared) if c is not None]
    if codecs_declared and codecs_declared[0] != "utf-8" and not body.isascii():
        # Charset repair: pages declaring a legacy charset are often UTF-8 in fact (a template
        # changed, the header did not). Legacy multibyte text is almost never valid UTF-8 by
        # chance, so a body that decodes strictly as UTF-8 is UTF-8, and we say so.
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    for codec in codecs_declared:
        for attempt in (codec, *([_FALLBACKS[codec]] if codec in _FALLBACKS else [])):
            try:
                return body.decode(attempt), attempt
            except UnicodeDecodeError:
                continue
        return body.decode(codec, errors="replace"), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    if best is not None:
        codec = _codec(best.encoding) or "utf-8"
        return body.decode(codec, errors="replace"), codec
    return body.decode("utf-8", errors="replace"), "utf-8"


def _codec(label: str) -> str | None:
    label = label.strip().lower()
    name = _LABELS.get(label, label)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def text_of(el: etree._Element) -> str:
    return _WS_RE.sub(" ", "".join(str(t) for t in el.itertext())).strip()


def _hidden_rule(aria_hidden: str | None, style: str | None) -> bool:
    return (aria_hidden or "").strip().lower() == "true" or bool(style and _HIDDEN_STYLE_RE.search(style))


# The walk asks these for every element with such attributes; a page repeats the same few values
# (and a site's pages share them): cached, the two walks of a page cost 0.33 ms instead of 0.36 on
# the corpus, 0.26-0.30 when its pages are read again. Long values (an inline style holding a
# data: URI) are not kept: the cache holds at most 4,096 x 256 characters.
_CACHED = 256
_hidden_cached = functools.lru_cache(maxsize=4096)(_hidden_rule)


def _hidden_values(aria_hidden: str | None, style: str | None) -> bool:
    """Whether an element's `aria-hidden` and `style` hide it (`hidden` itself always does)."""
    short = len(aria_hidden or "") + len(style or "") <= _CACHED
    return (_hidden_cached if short else _hidden_rule)(aria_hidden, style)


def _hidden(el: etree._Element) -> bool:
    return el.get("hidden") is not None or _hidden_values(el.get("aria-hidden"), el.get("style"))


def _furniture_rule(role: str | None, class_: str | None, id_: str | None) -> bool:
    if (role or "").lower() in ("navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alert"):
        return True
    names = f"{class_ or ''} {id_ or ''}"
    return bool(names.strip() and _FURNITURE_RE.search(names))


_furniture_cached = functools.lru_cache(maxsize=4096)(_furniture_rule)


def _furniture_values(role: str | None, class_: str | None, id_: str | None) -> bool:
    """Whether an element's `role`, `class` and `id` mark it as navigation, banner, ads and such."""
    short = len(role or "") + len(class_ or "") + len(id_ or "") <= _CACHED
    return (_furniture_cached if short else _furniture_rule)(role, class_, id_)


def _is_furniture(el: etree._Element) -> bool:
    return el.tag in _FURNITURE_TAGS or _furniture_values(el.get("role"), el.get("class"), el.get("id"))


# The walk itself is compiled (`_textwalk.pyx`: it was most of a page's CPU in Python); the rules
# (tags, attributes) are these.
_WALKER = Walker(_SKIP, _BLOCK, _FURNITURE_TAGS, _hidden_values, _furniture_values, _BREAK)


def visible_lines(root: etree._Element, skip_furniture: bool = False) -> list[str]:
    """The visible text under `root` (with or without page furniture), one string per block."""
    return _WALKER.lines(root, skip_furniture)


# Compiled once. A role is found through the attribute axis: `//*[@role='main']` tests every
# element, five times slower on the corpus's pages for the same elements.
_MAINS = (etree.XPath("//main"), etree.XPath("//@role[.='main']/.."))


def _main_element(root: etree._Element) -> etree._Element:
    """The article body: <main> or role=main, else the <article> with the most text, else <body>."""
    for xpath in _MAINS:
        found = xpath(root)
        if isinstance(found, list) and len(found) == 1 and isinstance(found[0], etree._Element):
            return found[0]
    articles = list(root.iter("article"))
    if articles:
        return articles[0] if len(articles) == 1 else max(articles, key=lambda a: len(text_of(a)))
    body = root.find("body")
    return body if body is not None else root


def _numbered(lines: list[str]) -> dict[int, str]:
    """Numbered paragraphs (`85.  The Indo-Pacific...`), numbers rising, blocks up to the next one."""
    found: dict[int, list[str]] = {}
    current: int | None = None
    for line in lines:
        m = _NUMBERED_RE.match(line)
        if m and (n := int(m.group(1))) not in found and (current is None or n == current + 1 or
                                                          (n > current and n - current <= 3)):
            current = n
            found[n] = [line]
        elif current is not None:
            found[current].append(line)
    return {n: " ".join(parts) for n, parts in found.items()} if len(found) >= 3 else {}


# lxml's own elements: `lxml.html` looks its element classes up in Python for every element a
# walk touches (a tenth of a page's text cost), for methods linkcheck does not need.
_PARSER = etree.HTMLParser()
_UTF8 = etree.HTMLParser(encoding="utf-8")  # told, so that no declaration in the page overrides it


def parse_html(html: str, utf8: bytes | None = None) -> etree._Element | None:
    """The tree of a page. `utf8`: the bytes `html` was decoded from, when they are UTF-8; libxml2
    then reads them as they are instead of converting the text from Python's own layout (UTF-16 or
    UCS-4 for most pages): 0.87 ms a page against 1.06 on the real-page corpus, the same tree."""
    html = _XML_DECL_RE.sub("", html, count=1)  # lxml refuses a str that declares an encoding
    if not html.strip():
        return None
    try:
        return etree.fromstring(html, _PARSER) if utf8 is None else etree.fromstring(utf8, _UTF8)
    except (etree.ParserError, ValueError):
        return None


def extract(body: bytes, content_type: str = "") -> PageText:
    """The visible text of an HTML (or plain-text) page."""
    text, codec = decode(body, content_type)
    if "html" not in content_type.lower() and content_type and "xml" not in content_type.lower():
        lines = text_lines(text.replace("\n", _BREAK), _BREAK)
        joined = "\n".join(lines)
        return PageText(text=joined, main=joined, encoding=codec)
    valid_utf8 = codec == "utf-8" and "\ufffd" not in text  # nothing replaced: `body` is valid UTF-8
    root = parse_html(text, body if valid_utf8 else None)
    if root is None:
        return PageText(text="", main="", encoding=codec)
    lines = visible_lines(root)
    main_lines = visible_lines(_main_element(root), skip_furniture=True)
    title_el = root.find(".//title")
    title = text_of(title_el) if title_el is not None else ""
    headings = tuple(text_of(h) for h in root.iter("h1", "h2") if not _hidden(h))[:5]
    return PageText(text="\n".join(lines), main="\n".join(main_lines), title=title,
                    headings=headings, encoding=codec, language=root.get("lang") or "",
                    paragraphs=_numbered(lines))


def _drop_tree(el: etree._Element) -> None:
    """Remove `el` and what it holds, keeping its tail (`lxml.html`'s `drop_tree`)."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        previous = el.getprevious()
        if previous is None:
            parent.text = (parent.text or "") + el.tail
        else:
            previous.tail = (previous.tail or "") + el.tail
    parent.remove(el)


def main_html(html: str) -> str:
    """A page reduced to its title and main content (no navigation, footers, banners), as HTML:
    an article read from its URL cites what its text cites, not what its menus link to."""
    root = parse_html(html)
    if root is None:
        return ""
    main = _main_element(root)
    for el in list(main.iter()):
        if el is not main and isinstance(el.tag, str) and _is_furniture(el):
            _drop_tree(el)
    title_el = root.find(".//title")
    title = escape(text_of(title_el)) if title_el is not None else ""
    body = lxml.html.tostring(main, encoding="unicode")
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
