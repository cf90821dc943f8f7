"""Text layer of a PDF: pypdfium2 (what linkcheck uses) vs pdfminer.six, side by side.

    python benchmarks/pdf_text.py [PAGES]

The document is generated (tests/pdfgen.py: Helvetica text, 50 lines a page). pdfminer.six is
not a dependency: install it in the venv to see its figure. The floor is PDFium opening the
document and loading every page without reading text.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pdfgen import make_pdf

from linkcheck.pdf import pdf_text


def _best_of(runs: int, fn: object) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    line = "The Allies agree that the conditions are met and the invitation stands, as agreed."
    body = make_pdf([[f"{p}.{n} {line}" for n in range(50)] for p in range(pages)])

    def floor() -> None:
        doc = pdfium.PdfDocument(body)
        for i in range(len(doc)):
            doc[i].close()
        doc.close()

    rows = [("floor: PDFium opens every page", _best_of(3, floor)),
            ("linkcheck.pdf.pdf_text (pypdfium2)", _best_of(3, lambda: pdf_text(body)))]
    try:
        from pdfminer.high_level import extract_text
        rows.append(("pdfminer.six extract_text", _best_of(3, lambda: extract_text(io.BytesIO(body)))))
    except ImportError:
        rows.append(("pdfminer.six (not installed)", float("nan")))
    print(f"{pages} pages, {len(body) / 1024:.0f} KB")
    for name, seconds in rows:
        print(f"{name:<40} {seconds * 1000:8.1f} ms  {seconds / rows[0][1]:6.1f}× floor")


if __name__ == "__main__":
    main()
