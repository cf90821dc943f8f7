"""`stable_text` masks exactly as the first implementation did: stored text hashes depend on it."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from linkcheck.drift import _VOLATILE_RE, _volatile, stable_text

# The first implementation, kept as the oracle: one `re.sub` with a callback for every match.
_ORACLE_RE = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?|"
    r"\d+\s+(?:seconds?|secs?|minutes?|mins?|hours?|hrs?)\s+ago\b|\d+\s*(?:秒|分|時間)前|"
    r"[A-Za-z0-9_-]{12,}",
    re.I)


def _oracle_mask(m: re.Match[str]) -> str:
    token = m.group(0)
    if ":" in token or token.endswith(("ago", "前")):
        return "#"
    mixed = re.search(r"\d", token) is not None and not token.isdigit()
    if mixed and (len(token) >= 20 or re.fullmatch(r"[0-9a-fA-F]+", token)):
        return "#"
    return token


def oracle(main: str) -> str:
    return _ORACLE_RE.sub(_oracle_mask, main)


# Pieces that start, end, extend or cut matches: digits (ASCII and not), clock and "ago" parts
# in every case, the four non-ASCII letters [A-Za-z] matches under re.I, hex and other letters,
# token punctuation, whitespace of several kinds, and runs long enough to be tokens.
_PIECES = [*"0123456789", "٣", "１", ":", ".", " ", "\n", "\t", "\u00a0", "\u3000", "_", "-", "#", ",", "é",
           *"abcdefgmpxAFGMPX", "ſ", "K", "İ", "ı", "am", "p.m.", "A.M", " pm",
           "ago", "AGO", "Ago", "ago-", "sec", "secs", "second", "seconds", "min", "mins", "minute",
           "minutes", "MINUTES", "hour", "hours", "hr", "hrs", "ſeconds", "秒", "分", "時間", "前",
           "12:30", "5 minutes ago", "3分前", "deadbeef", "0123456789abcdef", "international"]
_TEXT = st.lists(st.one_of(st.sampled_from(_PIECES),
                           st.text(st.sampled_from("0123456789abcdefXYZ_-ſK"), min_size=10, max_size=24)),
                 max_size=40).map("".join)


@settings(max_examples=3000)
@given(_TEXT)
@example("abcdefghijk12:30 and 12:30abcdefghijklmnop1 and 12:30ab123456789012345")
@example("abcdefghijkl123 minutes ago, 5 minutes ago-abcdefghijklmnop, 5 minutes AGO, 5 MINUTES ago")
@example("archipelagoago abcdefghijago 12:3045:67 123:45 1234567890123 minutes ago ٣:٤٥")
@example("ſſſſſſſſſſſſ12345678 KKKKKKKKKKKKKKKKKKK1 İİİİİİİİİİİİ:ıııııııııııı0")
def test_stable_text_masks_as_the_first_implementation(text: str) -> None:
    assert [m.span() for m in _volatile(text)] == [m.span() for m in _ORACLE_RE.finditer(text)]
    assert stable_text(text) == oracle(text)


def test_the_volatile_pattern_is_the_first_one() -> None:
    assert _VOLATILE_RE.pattern == _ORACLE_RE.pattern and _VOLATILE_RE.flags == _ORACLE_RE.flags


def test_token_characters_are_the_ones_start_re_expects() -> None:
    """`_START_RE` lists what [A-Za-z0-9_-] matches under re.I, non-ASCII letters included."""
    token = re.compile(r"[A-Za-z0-9_-]", re.I)
    extra = {chr(c) for c in range(128, 0x110000) if token.match(chr(c))}
    assert extra == {"\u017f", "\u212a", "\u0130", "\u0131"}
