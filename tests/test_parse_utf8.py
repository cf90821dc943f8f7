"""A page that decodes as UTF-8 is parsed from its bytes (libxml2 reads UTF-8 as it is); the tree
must be the one its decoded text gives, whatever the page declares or holds."""

from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from test_textwalk import _html

from linkcheck.extract import decode, extract, parse_html, visible_lines

ARTICLES = Path(__file__).parent / "data" / "articles" / "html"
_HEADS = st.sampled_from([
    "", '<?xml version="1.0" encoding="iso-8859-1"?>', '<meta charset="windows-1252">', "\ufeff", " \n",
    '<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">', "<!DOCTYPE html>",
    '<?xml version="1.0"?>', "\u3000",
])
_ODD = st.text(st.characters(blacklist_categories=["Cs"]), max_size=8)  # any character UTF-8 can hold


def _tree(root: etree._Element | None) -> str | None:
    return None if root is None else etree.tostring(root, encoding="unicode")


@settings(max_examples=300, deadline=None)
@given(_HEADS, _html(), _ODD)
def test_bytes_and_text_give_the_same_tree(head: str, body: str, odd: str) -> None:
    text = f"{head}<html><head><title>{odd}</title></head><body>{body}{odd}</body></html>"
    assert _tree(parse_html(text, text.encode("utf-8"))) == _tree(parse_html(text))


def test_real_pages_and_broken_utf8_read_as_from_their_text() -> None:
    """`extract` takes the bytes only when they decoded as UTF-8 with nothing replaced: a broken
    sequence (here in a page declared UTF-8) is parsed from the repaired text."""
    bodies = [gzip.decompress(p.read_bytes()) for p in sorted(ARTICLES.glob("*.html.gz"))]
    assert bodies
    broken = b'<html><head><meta charset="utf-8"></head><body><p>caf\xe9 \xff bar \xe6\x97\xa5</p></body></html>'
    for body in [*bodies, broken]:
        root = parse_html(decode(body, "text/html")[0])
        assert root is not None and extract(body, "text/html").text == "\n".join(visible_lines(root))
    assert extract(broken, "text/html").text == "caf\ufffd \ufffd bar \u65e5"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=12), st.sampled_from(["", '<meta charset="utf-8">']))
def test_any_bytes_read_as_from_their_decoded_text(junk: bytes, head: str) -> None:
    """Invalid UTF-8 (a stray byte, a cut or overlong sequence, an encoded surrogate) is repaired
    by the decoding, so such a page is parsed from its text, never from bytes libxml2 reads its way."""
    body = f"<html><head>{head}</head><body><p>caf\u00e9 ".encode() + junk + b" \xe6\x97\xa5</p></body></html>"
    text, _ = decode(body, "text/html")
    root = parse_html(text)
    assert root is not None and extract(body, "text/html").text == "\n".join(visible_lines(root))
