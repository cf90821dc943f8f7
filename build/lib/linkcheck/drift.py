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
from collections.abc import Sequence

from .models import Drift, DriftState, QuoteMatch

_VOLATILE_RE = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?|"
    r"\d+\s+(?:seconds?|secs?|minutes?|mins?|hours?|hrs?)\s+ago\b|\d+\s*(?:秒|分|時間)前|"
    r"[A-Za-z0-9_-]{12,}",
    re.I)
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


def stable_text(main: str) -> str:
    """The main text with volatile tokens masked: what versions are compared on."""
    return _VOLATILE_RE.sub(_mask, main)


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
