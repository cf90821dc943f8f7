"""Which bodies have text to verify quotes against: HTML, XHTML, XML, plain text and PDF (its
text layer). Anything else (images, video, archives, office files) has none, and its quotes
are `unverifiable`, never `missing`: not being able to read a page says nothing about its words."""

from __future__ import annotations

from .extract import extract
from .models import FetchResult, PageText, media_type
from .pdf import is_pdf, pdf_text

_TEXT_TYPES = ("text/", "application/xhtml", "application/xml", "application/json", "application/rss",
               "application/atom", "application/ld+json")


def is_text_type(content_type: str) -> bool:
    kind = media_type(content_type)
    return not kind or kind.startswith(_TEXT_TYPES) or kind.endswith(("+xml", "+json", "/html"))


def page_text(body: bytes, content_type: str) -> PageText | None:
    """The readable text of a body, or None when it has none."""
    if is_pdf(body, content_type):
        return pdf_text(body)
    if not is_text_type(content_type):
        return None
    return extract(body, content_type)


def no_text_reason(fetch: FetchResult) -> str:
    """Why a fetched page gave no text, in one sentence."""
    content_type = fetch.header("content-type")
    if is_pdf(fetch.body, content_type):
        return "the PDF has no text layer (a scanned document?) or cannot be read: its quotes cannot be verified"
    kind = media_type(content_type) or "of an unknown type"
    return f"the page is {kind}, not text: its quotes cannot be verified"
