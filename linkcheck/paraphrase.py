"""Where does the page say what the article restates? Locating a paraphrase. Pure.

A paraphrase shares the source's facts, not its wording, so it is located by the content
words it shares with each sentence (crudely stemmed, so "inviting" meets "invitation"),
weighted by how rare each word is on the page: the sentence, or pair of neighbouring
sentences, that covers most of the paraphrase's weight is the passage it restates.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from .facts import tokens

STEM = 5  # letters kept of a word: "inviting", "invitation" → "invit"
PLAUSIBLE = 0.4  # share of the paraphrase's weight a passage must cover to be the one restated
MIN_SHARED = 2  # ... and at least this many shared words (when the paraphrase has that many)
PAIR_GAIN = 0.15  # a neighbouring sentence joins the passage when it adds this much coverage


def stems(normalized: str) -> set[str]:
    """Content stems of a normalized text: words cut to STEM letters, numbers, CJK characters."""
    return {t.key[:STEM] if t.kind == "word" else t.key for t in tokens(normalized) if t.content}


@dataclass(frozen=True)
class Located:
    first: int  # index of the first and last sentence of the passage
    last: int
    coverage: float
    plausible: bool


class SentenceIndex:
    """The page's sentences (normalized) with an inverted index of their stems."""

    def __init__(self, sentences: Sequence[str]) -> None:
        self.sentence_stems = [stems(s) for s in sentences]

    @cached_property
    def postings(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = defaultdict(list)
        for i, found in enumerate(self.sentence_stems):
            for stem in found:
                index[stem].append(i)
        return index

    def locate(self, paraphrase: str) -> Located | None:
        wanted = stems(paraphrase)
        n = len(self.sentence_stems)
        if not wanted or not n:
            return None
        weight = {s: math.log((n + 1) / (len(self.postings.get(s, ())) + 1)) + 1 for s in wanted}
        total = sum(weight.values())
        gained: dict[int, float] = defaultdict(float)
        for stem in wanted:
            for i in self.postings.get(stem, ()):
                gained[i] += weight[stem]
        if not gained:
            return None
        best = max(gained, key=lambda i: (gained[i], -i))
        first, last, covered = best, best, set(wanted & self.sentence_stems[best])
        for j in (best - 1, best + 1):
            if 0 <= j < n:
                extra = (wanted & self.sentence_stems[j]) - covered
                if sum(weight[s] for s in extra) >= PAIR_GAIN * total:
                    first, last = min(first, j), max(last, j)
                    covered |= extra
                    break
        coverage = sum(weight[s] for s in covered) / total
        return Located(first, last, coverage,
                       coverage >= PLAUSIBLE and len(covered) >= min(MIN_SHARED, len(wanted)))
