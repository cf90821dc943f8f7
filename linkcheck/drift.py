"""Has the page's main text changed since the last snapshot? Pure.

Volatile tokens (clock times, "5 minutes ago", long hex or base64 ids) are masked before
versions are compared, so a page that only shows a new time or request id is `unchanged`;
navigation, banners and footers are already left out of `PageText.main` by `extract`.
A version equal to any of the last N (the `recent` hashes given) counts as unchanged, so A/B
variants do not flap.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterator, Sequence

from .models import Drift, DriftState, QuoteMatch

_CLOCK_OR_AGO = (r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?|"
                 r"\d+\s+(?:seconds?|secs?|minutes?|mins?|hours?|hrs?)\s+ago\b|\d+\s*(?:秒|分|時間)前")
_VOLATILE_RE = re.compile(_CLOCK_OR_AGO + r"|[A-Za-z0-9_-]{12,}", re.I)
# A hit is a character that is not an ASCII letter, '_' or '-', and is either a digit where a clock
# time or an "ago" begins, or followed by 12 token characters ([A-Za-z] under re.I also takes
# ſ, K (Kelvin), İ, ı). Apart from where the last match ended, a `_VOLATILE_RE` match can only
# begin at a hit or just after one; as a hit never starts with a letter, the regex engine skips
# letters without trying a match there (most of the cost of a plain `_VOLATILE_RE.sub`).
_START_RE = re.compile(rf"[^A-Za-z_-](?:(?<=\d)(?<=(?=(?i:{_CLOCK_OR_AGO})).)"
                       r"|(?=[A-Za-z0-9_\u017f\u212a\u0130\u0131-]{12}))")
_HAS_DIGIT_RE = re.compile(r"\d")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
MAX_EXCERPTS = 8
MAX_EXCERPT_CHARS = 400


def _mask(m: re.Match[str]) -> str:
    token = m.group(0)
    if ":" in token or token.endswith(("ago", "前")):
        return "#"  # a clock time or "5 minutes ago"
    mixed = _HAS_DIGIT_RE.search(token) is not None and not token.isdigit()
    if mixed and (len(token) >= 20 or _HEX_RE.fullmatch(token)):
        return "#"  # a request id, token or hash
    return token


def _volatile(main: str) -> Iterator[re.Match[str]]:
    """The matches of `_VOLATILE_RE.finditer(main)`, tried only where one can begin: where the
    last one ended, at a digit that begins a clock time or an "ago", or at the first of 12 or
    more token characters (at a token character after another, the scan, which tried the one
    before, would have matched there already). These are `_START_RE` hits or just after one."""
    at = 0
    while True:
        m = _VOLATILE_RE.match(main, at)
        if m is not None:
            yield m
            at = m.end()
            continue
        hit = _START_RE.search(main, at)
        if hit is None:
            return
        at = hit.start() if hit.start() > at else at + 1


def stable_text(main: str) -> str:
    """The main text with volatile tokens masked: what versions are compared on. Stored hashes
    depend on it: it must stay the same for every text (`_VOLATILE_RE.sub(_mask, main)`)."""
    parts: list[str] = []
    done = 0
    for m in _volatile(main):
        parts += (main[done:m.start()], _mask(m))
        done = m.end()
    parts.append(main[done:])
    return "".join(parts)


def text_hash(main: str) -> str:
    return hashlib.sha256(stable_text(main).encode("utf-8")).hexdigest()[:32]


def _clip(text: str) -> str:
    return text if len(text) <= MAX_EXCERPT_CHARS else text[:MAX_EXCERPT_CHARS - 1] + "…"


def compare(main: str, recent: Sequence[str], previous: str | None, quotes: Sequence[QuoteMatch],
            before: Sequence[dict[str, object]]) -> Drift:
    """Drift of `main` against the last versions (`recent` text hashes, newest first; `previous`,
    the newest one's text).
    `before` are the quote results of the last pass, to show what each quote said then."""
    if not recent or previous is None:
        return Drift(DriftState.NEW)
    if text_hash(main) in recent:
        return Drift(DriftState.UNCHANGED, 1.0)
    old_lines = stable_text(previous).split("\n")
    new_lines = stable_text(main).split("\n")
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    same = sum(sum(len(line) for line in old_lines[i1:i2])
               for tag, i1, i2, _, _ in matcher.get_opcodes() if tag == "equal")
    total = sum(map(len, old_lines)) + sum(map(len, new_lines))
    similarity = round(2 * same / total, 3) if total else 1.0
    if similarity >= 1.0:  # only masked tokens or line breaks moved
        return Drift(DriftState.UNCHANGED, 1.0)
    quote_changes = []
    for now, then in zip(quotes, before, strict=False):
        was, is_ = then.get("found_text"), now.found_text
        if isinstance(was, str) and was != is_ and then.get("match") in ("exact", "normalized", "fuzzy"):
            quote_changes.append((now.text, _clip(was), _clip(is_ or "")))
    shown = [t.rstrip("…") for _, was_, now_ in quote_changes for t in (was_, now_) if t]

    def new_line(text: str) -> bool:  # not already shown as a quoted passage's before/after
        return not any(t in text for t in shown)

    old_shown, new_shown = previous.split("\n"), main.split("\n")  # unmasked, same lines
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed += [_clip(x) for x in old_shown[i1:i2] if new_line(x)]
        if tag in ("replace", "insert"):
            added += [_clip(x) for x in new_shown[j1:j2] if new_line(x)]
    return Drift(DriftState.CHANGED, similarity, tuple(quote_changes),
                 tuple(removed[:MAX_EXCERPTS]), tuple(added[:MAX_EXCERPTS]))
