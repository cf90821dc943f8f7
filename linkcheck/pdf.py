"""PDF sources: the text layer of each page, read with pypdfium2 (PDFium).

pypdfium2 rather than pdfminer.six: PDFium is the engine browsers ship, reads damaged files
leniently, and was ~20× faster on our generated documents (BENCHMARKS.md); pdfminer.six is
pure Python. PDFium is not thread-safe, even across documents, so every call into it holds
one process-wide lock (extraction may run in a worker thread for large bodies).

A page's text becomes one line of `PageText.text` (PDF line breaks are layout, not
paragraphs), so a quote that wraps across lines is still found, and the line index of a
passage is its page number.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import replace

from .extract import _WS_RE  # one whitespace rule for HTML and PDF text
from .models import PageText, QuoteMatch, media_type

_LOCK = threading.Lock()
# A word broken at a line's end by a hyphen ("inter-\nnational"): joined again.
_BROKEN_WORD_RE = re.compile(r"(?<=[^\W\d_])-\n(?=[a-zà-ÿ])")
MAX_PAGES = 2000  # larger documents are read up to here: quotes beyond are reported missing


def is_pdf(body: bytes, content_type: str) -> bool:
    """A PDF by its declared type, or by its signature when the type is vague or absent."""
    return (media_type(content_type) in ("application/pdf", "application/x-pdf")
            or body[:1024].lstrip().startswith(b"%PDF-"))


def pdf_text(body: bytes) -> PageText | None:
    """The text layer, one line per page (empty pages kept, so line n is page n + 1); None when
    the document has no text at all (a scan) or cannot be opened."""
    import pypdfium2 as pdfium  # here: a pass's event loop reads no PDF itself (~40 ms of its start)

    pages: list[str] = []
    with _LOCK:
        try:
            doc = pdfium.PdfDocument(body)
        except pdfium.PdfiumError:
            return None
        try:
            for i in range(min(len(doc), MAX_PAGES)):
                page = doc[i]
                try:
                    textpage = page.get_textpage()
                    try:
                        raw = textpage.get_text_range()
                    finally:
                        textpage.close()
                finally:
                    page.close()
                raw = _BROKEN_WORD_RE.sub("", raw.replace("\r\n", "\n").replace("\x02", "-"))
                pages.append(_WS_RE.sub(" ", raw.replace("\x00", "")).strip())
        except pdfium.PdfiumError:
            pass  # a damaged page tree: what was read so far is kept
        finally:
            doc.close()
    if not any(pages):
        return None
    text = "\n".join(pages)
    return PageText(text=text, main=text, encoding="pdf")


def with_pages(page: PageText, quotes: Sequence[QuoteMatch]) -> tuple[QuoteMatch, ...]:
    """Each found passage with the number of the PDF page it starts on."""
    lines = page.text.split("\n")
    out = []
    for q in quotes:
        number = None
        if q.found_text:
            head = q.found_text.split("\n")[0][:80]
            number = next((n for n, line in enumerate(lines, 1) if head in line), None)
        out.append(replace(q, page=number) if number else q)
    return tuple(out)
