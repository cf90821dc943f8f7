"""CPU cost of each stage of judging one page, on the real article pages, in one process.

    python benchmarks/stages.py [ARTICLES_DIR]

Per page: decode (bytes → str), parse (lxml), visible text (whole page), main text, verdict
heuristics, quote matching (the first sentence of the article's body, from the ground truth),
drift hash, and the whole `analyse()` the process pool runs, for comparison with the parse
floor (`lxml.html` parse + `text_content()`).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import lxml.html
from _corpus import corpus_folder
from real_pages import _pages

from linkcheck.analyse import analyse
from linkcheck.drift import text_hash
from linkcheck.extract import _main_element, decode, parse_html, visible_lines
from linkcheck.match import match_quotes
from linkcheck.models import FetchResult, PageText, Quote
from linkcheck.verdict import classify


def _ms(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _page_stages(html: bytes, sentence: str) -> dict[str, float]:
    text, codec = decode(html, "text/html")
    utf8 = html if codec == "utf-8" and "\ufffd" not in text else None  # as `extract` parses
    root = parse_html(text, utf8)
    assert root is not None
    lines = visible_lines(root)
    main = "\n".join(visible_lines(_main_element(root), skip_furniture=True))
    page = PageText(text="\n".join(lines), main=main, title=sentence)
    fetch = FetchResult(url="https://example.org/a/b", final_url="https://example.org/a/b", status_code=200,
                        headers=(("content-type", "text/html"),), body=html)
    quotes = (Quote(sentence),)
    row: dict[str, Callable[[], Any]] = {
        "parse floor: lxml parse + text_content()": lambda: lxml.html.document_fromstring(html).text_content(),
        "decode": lambda: decode(html, "text/html"),
        "parse (lxml, as extract does)": lambda: parse_html(text, utf8),
        "visible text (whole page)": lambda: visible_lines(root),
        "main text": lambda: visible_lines(_main_element(root), skip_furniture=True),
        "verdict heuristics": lambda: classify(fetch, page),
        "quote matching (1 quote)": lambda: match_quotes(page, quotes, 0.9),
        "drift hash (masked main text)": lambda: text_hash(main),
        "analyse() total, as a worker runs it": lambda: analyse(fetch, None, quotes, 0.9, ()),
    }
    return {name: _ms(fn) for name, fn in row.items()}


def main() -> None:
    articles = corpus_folder(sys.argv[1] if len(sys.argv) > 1 else None)
    pages = _pages(articles)
    stages: dict[str, list[float]] = {}
    for html, sentence in pages:
        for name, ms in _page_stages(html, sentence).items():
            stages.setdefault(name, []).append(ms)
    size = statistics.mean(len(h) for h, _ in pages) / 1024
    print(f"{len(pages)} real pages, mean {size:.0f} KB; CPU ms per page (best of 3 each)")
    print(f"{'stage':<42} {'mean':>7} {'median':>7} {'p90':>7}")
    for name, ms in stages.items():
        p90 = statistics.quantiles(ms, n=10)[-1]
        print(f"{name:<42} {statistics.mean(ms):>7.2f} {statistics.median(ms):>7.2f} {p90:>7.2f}")


if __name__ == "__main__":
    main()
