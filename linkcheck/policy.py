"""From problems to a status (ok / warning / broken) under `policy.fail_on`, and the one
human sentence a source's report line carries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .models import Change, Drift, DriftState, LinkState, MatchKind, QuoteKind, QuoteMatch, Status

# Problems that mean "we could not look", not "the citation is wrong".
UNVERIFIED = frozenset({"unreachable", "timeout", "blocked", "bot-wall", "refused", "too-large", "redirect-loop",
                        "internal-error", "no-text"})
# Problems that make a source a warning when they do not make it broken.
WARNING_PROBLEMS = UNVERIFIED | {"redirected", "content-changed", "quote-changed"}
# A fail_on name also covers these stronger forms of itself.
_ALSO = {"quote-missing": {"quote-lost", "quote-altered"}, "dead": {"confirmed-dead"}, "changed": {"content-changed"}}


NEAR = 0.6  # below this score the best passage is named, but not called close


def failing(fail_on: Iterable[str]) -> frozenset[str]:
    names = set(fail_on)
    for name in list(names):
        names |= _ALSO.get(name, set())
    return frozenset(names)


def status_of(problems: Sequence[str], link: LinkState, fail_on: frozenset[str]) -> Status:
    if link.value in fail_on or any(p in fail_on for p in problems):
        return Status.BROKEN
    if any(p in WARNING_PROBLEMS for p in problems):
        return Status.WARNING
    return Status.OK


def quote_problems(quotes: Sequence[QuoteMatch]) -> list[str]:
    problems = []
    if any(q.lost for q in quotes):
        problems.append("quote-lost")
    if any(q.match is MatchKind.MISSING and not q.lost for q in quotes):
        problems.append("quote-missing")
    if any(q.match is MatchKind.ALTERED for q in quotes):
        problems.append("quote-altered")
    if any(q.match is MatchKind.FUZZY and q.kind is QuoteKind.QUOTE for q in quotes):
        problems.append("quote-fuzzy")
    if any(q.passage_changes for q in quotes):
        problems.append("quote-changed")
    return problems


def changes_text(changes: Sequence[Change], limit: int = 5) -> str:
    """Word-level changes as an editor reads them: `12 → 15; “more” → “fewer”`."""
    def side(text: str) -> str:
        return text if text and any(c.isdigit() for c in text) and " " not in text else f"“{text}”" if text \
            else "(nothing)"
    shown = "; ".join(f"{side(c.quote)} → {side(c.page)}" for c in changes[:limit])
    return shown + (f"; and {len(changes) - limit} more" if len(changes) > limit else "")


def news_of(q: QuoteMatch) -> tuple[Change, ...]:
    """The changes since the last check that the quote's own changes (`altered`) do not already
    name: when the page changed exactly where it departs from the quote, both say the same words,
    and an editor should read them once."""
    return tuple(c for c in q.passage_changes if c not in q.changes)


def _short(text: str | None, limit: int = 160) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def message_for(link_message: str, link: LinkState, quotes: Sequence[QuoteMatch], drift: Drift,
                confirmed: str) -> str:
    parts = [p for p in (confirmed, link_message) if p]  # an alive page has no link message, unless unreadable
    parts += quote_sentences(quotes)
    unlocated = [q for q in quotes if q.kind is QuoteKind.PARAPHRASE and q.match is MatchKind.UNVERIFIABLE]
    if unlocated and link is LinkState.ALIVE:
        nearest = unlocated[0].found_text
        parts.append("the passage a paraphrase restates could not be located"
                     + (f" (nearest: “{_short(nearest)}”)" if nearest else ""))
    if drift.state is DriftState.CHANGED:
        parts.append(f"the main text changed since the last snapshot (similarity {drift.similarity:.2f})")
    return _sentence(parts[:3])


def quote_sentences(quotes: Sequence[QuoteMatch]) -> list[str]:
    """The parts of the message that say how quotes depart from the page: what a report's own line
    per quote (`reporters.common.quote_line`) says again."""
    parts = []
    lost = [q for q in quotes if q.lost]
    missing = [q for q in quotes if q.match is MatchKind.MISSING and not q.lost]
    altered = [q for q in quotes if q.match is MatchKind.ALTERED]
    if altered:
        what = "the quoted passage reads differently" if len(quotes) == 1 else \
            f"{len(altered)} of {len(quotes)} quotes read differently"
        every = [c for q in altered for c in q.changes]
        parts.append(f"{what} on the page ({changes_text(every)}); it says: "
                     f"“{_short(altered[0].found_text)}”")
    if lost:
        parts.append(f"{len(lost)} quoted passage{'s are' if len(lost) > 1 else ' is'} no longer on the "
                     f"page; it now reads: “{_short(lost[0].found_text)}”")
    if missing:
        what = "the quoted passage is" if len(quotes) == 1 else f"{len(missing)} of {len(quotes)} quotes are"
        nearest = missing[0].found_text
        if nearest and missing[0].score >= NEAR:
            hint = f"; closest passage: “{_short(nearest)}”"
        elif nearest:
            hint = f"; the nearest passage is not close: “{_short(nearest)}”"
        else:
            hint = ""
        parts.append(f"{what} not on the page{hint}")
    changed = [q for q in quotes if news_of(q)]
    if changed:
        parts.append(f"the passage {'a quote' if len(quotes) > 1 else 'the quote'} matched on the last check "
                     f"reads differently now ({changes_text(news_of(changed[0]))})")
    return parts


def without_quote_sentences(message: str, quotes: Sequence[QuoteMatch]) -> str:
    """`message` less what `quote_sentences` put in it, for a report that lists the quotes below it
    (so that an altered quote is said once); "" when nothing else is left."""
    rest = "; " + message  # every part now follows "; ", the first one capitalised
    for part in quote_sentences(quotes):
        for shown in ("; " + part[:1].upper() + part[1:], "; " + part):
            at = rest.find(shown)
            end = at + len(shown)
            if at >= 0 and rest[end:end + 2] in ("", ".", "; "):
                rest = rest[:at] + rest[end:]
                break
    if rest == "; " + message:  # nothing removed: a message composed elsewhere (baseline) stays as it is
        return message
    return _sentence([rest.removeprefix("; ").removesuffix(".")] if rest.strip("; .") else [])


def _sentence(parts: Sequence[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + ("." if text and not text.endswith((".", "”")) else "")
