"""Quote engine cost: 20 quotes of ~160 characters (whole words) against pages of 100 KB, 1 MB, 2.5 MB and 5 MB.

Extraction (decode + parse + visible text) and preparation (normalize) happen once per page;
each quote is then looked up. Half the quotes are on the page verbatim, a quarter with
typography changed (normalized tier), a quarter edited (through the fuzzy tier, the costly path).

    python benchmarks/quote_engine.py
"""

from __future__ import annotations

import random
import time

from linkcheck.extract import extract
from linkcheck.match import Page
from linkcheck.models import Quote

WORDS = ("alliance", "security", "partners", "summit", "ukraine", "membership", "invitation", "conditions",
         "allies", "agree", "cooperation", "indo-pacific", "region", "developments", "directly", "affect",
         "euro-atlantic", "engagement", "transparency", "reciprocal", "interests", "council", "nations",
         "defence", "deterrence", "capability")


def make_page(size: int, rng: random.Random) -> tuple[bytes, list[str]]:
    paragraphs = []
    total = 0
    while total < size:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 90))).capitalize() + "."
        paragraphs.append(f"<p>{text}</p>\n")
        total += len(text) + 8
    html = ("<html><head><title>t</title><script>var x = 1;</script></head><body><main>"
            + "".join(paragraphs) + "</main></body></html>")
    return html.encode(), [p[3:-5] for p in paragraphs]


def quotes_for(paragraphs: list[str], rng: random.Random) -> list[Quote]:
    out = []
    for i in range(20):
        p = rng.choice(paragraphs)
        start = p.find(" ", rng.randint(0, max(0, len(p) - 200))) + 1  # whole words, as quoted
        q = p[start:p.rfind(" ", start, start + 170)]
        if i % 4 == 2:
            q = q.replace(" ", "\u00a0", 3).upper()  # typography: normalized tier
        elif i % 4 == 3:
            words = q.split()
            words[len(words) // 2] = "softened"
            q = " ".join(words[:-2]) + " indeed"  # an edit: fuzzy tier or missing
        out.append(Quote(q))
    return out


def main() -> None:
    rng = random.Random(7)
    print(f"{'page':>8} {'extract':>9} {'prepare':>9} {'20 quotes':>10} {'total CPU':>10}  tiers")
    for size in (100_000, 1_000_000, 2_500_000, 5_000_000):
        body, paragraphs = make_page(size, rng)
        quotes = quotes_for(paragraphs, rng)
        t0 = time.process_time()
        text = extract(body, "text/html; charset=utf-8")
        t1 = time.process_time()
        page = Page(text)
        t2 = time.process_time()
        results = [page.find(q, 0.9) for q in quotes]
        t3 = time.process_time()
        tiers = {}
        for r in results:
            tiers[r.match.value] = tiers.get(r.match.value, 0) + 1
        print(f"{len(body) / 1e6:6.2f}MB {t1 - t0:8.3f}s {t2 - t1:8.3f}s {t3 - t2:9.3f}s {t3 - t0:9.3f}s  {tiers}")


if __name__ == "__main__":
    main()
