"""The compiled text walk and line assembly (`linkcheck/_textwalk.pyx`) give exactly what the plain
Python they replaced gave: that code is kept here as the oracle, over generated trees, generated
text and real pages."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from linkcheck._textwalk import lines
from linkcheck.extract import _BLOCK, _SKIP, _hidden, _is_furniture, _main_element, decode, parse_html, visible_lines

ARTICLES = Path(__file__).parent / "data" / "articles" / "html"


def oracle_lines(text: str) -> list[str]:
    """The line assembly `extract` had before: blocks at `\x1e`, whitespace runs collapsed."""
    return [collapsed for line in text.split("\x1e") if (collapsed := " ".join(line.split()))]


def oracle(root: etree._Element, skip_furniture: bool) -> list[str]:
    """The Python walk `extract` had before the compiled one (an explicit stack, reading order)."""
    out: list[str] = []
    stack: list[etree._Element | str] = [root]
    while stack:
        el = stack.pop()
        if isinstance(el, str):
            out.append(el)
            continue
        tag = el.tag
        if not isinstance(tag, str) or tag in _SKIP or _hidden(el) or (skip_furniture and _is_furniture(el)):
            continue
        if tag in _BLOCK:
            out.append("\x1e")
            stack.append("\x1e")
        if el.text:
            out.append(el.text)
        for child in reversed(el):
            if child.tail:
                stack.append(child.tail)
            stack.append(child)
    return oracle_lines("".join(out))


_TAGS = ["div", "p", "span", "a", "em", "li", "ul", "table", "td", "br", "h1", "nav", "footer", "aside",
         "button", "script", "style", "noscript", "template", "svg", "article", "main", "section", "b",
         "custom-el", "pre", "textarea", "select", "option", "header", "form"]
_ATTRS = st.sampled_from([
    ("hidden", ""), ("aria-hidden", "true"), ("aria-hidden", " TRUE "), ("aria-hidden", "false"),
    ("style", "display:none"), ("style", "color: red; DISPLAY :  none"), ("style", "visibility:hidden"),
    ("style", "visibility: collapse"), ("style", "display: block"), ("role", "navigation"), ("role", "Banner"),
    ("role", "main"), ("class", "site-nav"), ("class", "article body"), ("class", "ad_slot"),
    ("class", "advertisement"), ("class", "adverb"), ("id", "comments"), ("id", "story"), ("class", "  "),
    ("class", "social-share x"), ("id", "Sidebar"), ("class", "navigation"), ("class", "é nav"),
])
_WORDS = st.lists(st.sampled_from([*"ab Z9\n\t\u00a0\u3000日本.,-é😀", "&amp;", "&lt;", "&nbsp;"]),
                  max_size=12).map("".join)


@st.composite
def _html(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4 if depth < 4 else 0))):
        kind = draw(st.integers(0, 9))
        if kind < 3:
            parts.append(draw(_WORDS))
        elif kind == 3:
            parts.append(f"<!--{draw(_WORDS).replace('-', '')}-->")
        else:
            tag = draw(st.sampled_from(_TAGS))
            attrs = "".join(f' {k}="{v}"' if v else f" {k}" for k, v in draw(st.lists(_ATTRS, max_size=2)))
            parts.append(f"<{tag}{attrs}>{draw(_html(depth + 1))}</{tag}>")
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(_html(), st.booleans())
def test_the_compiled_walk_is_the_python_walk(body: str, skip_furniture: bool) -> None:
    root = parse_html(f"<html><body>{body}</body></html>")
    assert root is not None
    for top in [root, *root.iter("div", "section", "p", "nav", "article")]:
        assert visible_lines(top, skip_furniture) == oracle(top, skip_furniture)


def test_real_pages_read_the_same() -> None:
    pages = sorted(ARTICLES.glob("*.html.gz"))
    assert pages
    for path in pages:
        text, _ = decode(gzip.decompress(path.read_bytes()), "text/html")
        root = parse_html(text)
        assert root is not None
        main = _main_element(root)
        assert visible_lines(root, False) == oracle(root, False) and len("".join(visible_lines(root, False))) > 1000
        assert visible_lines(main, True) == oracle(main, True)


def test_a_hidden_root_deep_trees_and_bad_arguments() -> None:
    root = parse_html('<html><body><div hidden>gone</div><p>kept <b>bold</b> tail</p></body></html>')
    assert root is not None
    hidden = root.find(".//div")
    assert hidden is not None and visible_lines(hidden, False) == []
    assert visible_lines(root, False) == ["kept bold tail"]
    # Deeper than any parsed page (libxml2's HTML parser stops nesting at 256): built by hand.
    deep = etree.Element("html")
    node = etree.SubElement(deep, "body")
    for i in range(20_000):  # (lxml builds and reads deep trees in quadratic time: 20,000 is 2 s)
        node = etree.SubElement(node, "div" if i % 2 else "span")
        node.text, node.tail = f"t{i}", "~"
    assert visible_lines(deep, False) == oracle(deep, False)
    with pytest.raises(TypeError):
        visible_lines(None, False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid element"):
        visible_lines(etree._Element.__new__(etree._Element), False)
    for boundary in ("é", "ab", ""):
        with pytest.raises(ValueError, match="one ASCII character"):
            lines("a b", boundary)


_SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([*_SPACES, "\x1e", "a", "é", "日", "😀", "\u200b", "\ud800"]),
                          st.characters()), max_size=40).map("".join))
def test_lines_collapse_whitespace_as_str_split_does(text: str) -> None:
    assert lines(text, "\x1e") == oracle_lines(text)
