"""Quote accuracy on real pages: found recall, one-fact edits accepted, hidden text found.

Cases are generated from a corpus of real article pages with their ground-truth text
(tests/quote_corpus.py explains how); by default the whole corpus in ../shared/external/articles,
or the folder given. Beside linkcheck's verdicts, the same run measures the rule before #12
(a character similarity at or above min_quote_score counts as found) as the floor.

    python benchmarks/quote_accuracy.py [CORPUS_FOLDER]
"""

from __future__ import annotations

import gzip
import sys
import time
from collections import Counter
from pathlib import Path

from rapidfuzz import fuzz

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _corpus import corpus_folder
from quote_corpus import Case, evaluate

from linkcheck.extract import extract
from linkcheck.match import normalize, normalize_quote
from linkcheck.models import QuoteMatch

MIN_SCORE = 0.9


def character_rule(folder: Path, cases: list[Case]) -> list[bool]:
    """Accepted under the character score alone: verbatim after folding, or partial ratio ≥ 0.9."""
    pages: dict[str, str] = {}
    out = []
    for case in cases:
        if case.page not in pages:
            raw = gzip.decompress((folder / "html" / f"{case.page}.html.gz").read_bytes())
            pages[case.page] = normalize(extract(raw, "text/html").text.replace("\n", " "))
        q = normalize_quote(case.quote)
        out.append(q in pages[case.page] or fuzz.partial_ratio(q, pages[case.page]) >= MIN_SCORE * 100)
    return out


def _share(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} = {100 * sum(flags) / max(1, len(flags)):.2f} %"


def main() -> None:
    folder = corpus_folder(sys.argv[1] if len(sys.argv) > 1 else None)
    t0 = time.process_time()
    figures = evaluate(folder, MIN_SCORE)
    cpu = time.process_time() - t0
    groups: dict[str, list[tuple[Case, QuoteMatch]]] = {
        "found": figures.found, "edited": figures.edited, "hidden": figures.hidden}
    ours = {k: [r.match.value in ("exact", "normalized", "fuzzy") for _, r in v] for k, v in groups.items()}
    floor = {k: character_rule(folder, [c for c, _ in v]) for k, v in groups.items()}
    pages = len({c.page for v in groups.values() for c, _ in v})
    print(f"corpus: {folder} — {pages} pages, {sum(map(len, groups.values()))} cases, "
          f"generate + extract + match {cpu:.1f} s CPU")
    print(f"{'measure':<34} {'linkcheck':>22} {'character score ≥ 0.9':>24}  target")
    print(f"{'found recall (sentences on page)':<34} {_share(ours['found']):>22} {_share(floor['found']):>24}"
          "  ≥ 99.5 %")
    print(f"{'one-fact edits accepted':<34} {_share(ours['edited']):>22} {_share(floor['edited']):>24}  ≤ 1 %")
    print(f"{'hidden text found':<34} {_share(ours['hidden']):>22} {_share(floor['hidden']):>24}  0 %")
    print(f"altered without changes: {figures.altered_without_changes()} (target 0)")
    print("edits by kind → verdict:")
    table = Counter((c.edit.split(":")[0], r.match.value) for c, r in figures.edited)
    for (kind, verdict), n in sorted(table.items()):
        print(f"  {kind:<18} {verdict:<9} {n}")
    for case, result in figures.edited:
        if result.match.value in ("exact", "normalized", "fuzzy"):
            print(f"  accepted edit on {case.page[:12]}: {case.edit}: {case.quote[:100]}")


if __name__ == "__main__":
    main()
