"""`match.normalize` folds as its first implementation did: quotes, pages and stored results
are compared through it."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from linkcheck.match import normalize

# The first implementation, kept as the oracle.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"), None)
_FOLD = str.maketrans({
    **dict.fromkeys("‘’‚‛′`´ʼ", "'"),
    **dict.fromkeys("“”„‟″«»「」『』〝〞〟＂", '"'),
    **dict.fromkeys("‐‑‒–—―−﹘﹣－", "-"),
    **dict.fromkeys("〜～", "~"),
    "\u3000": " ",
})
_CJK = r"\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"


def oracle(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).casefold().translate(_FOLD)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(rf"(?<=[{_CJK}]) (?=[{_CJK}])", "", text)


_SPACES = [chr(c) for c in range(0x3001) if chr(c).isspace()]
# Invisible, folded and full-width characters, every kind of whitespace, CJK (with spaces
# between), combining marks and what NFKC composes or splits (ﬁ, ㌀, Å, Hangul jamo),
# case folds that change length (ß, İ), ASCII with a backtick.
_PIECES = st.sampled_from([*_SPACES, *"\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e", *map(chr, _FOLD),
                             *"aZ9`'\".-~…", *"中文字日本語かなカナ한국어", *"ａＺ９！＂＇",
                             "\u0301", "\u0308", "A\u030a", "ﬁ", "㌀", "ß", "İ", "ς", "Σ", "\u1100\u1161", "①"])


@settings(max_examples=3000)
@given(st.lists(_PIECES, max_size=30).map("".join) | st.text(max_size=30))
@example("  “It’s — ﬁne”\u00a0 中 文\u3000字 ｱ  ")
@example("ascii `backtick`\tand\x1cseparators\x85 ")
def test_normalize_folds_as_the_first_implementation(text: str) -> None:
    assert normalize(text) == oracle(text)


def test_split_cuts_where_the_whitespace_regex_matches() -> None:
    space = re.compile(r"\s")
    assert all(chr(c).isspace() == bool(space.match(chr(c))) for c in range(0x110000))
