"""What became of a cited URL: a fetch result (and its text) → `LinkState` + problems.

Soft-404 and bot-wall recognition are heuristics and say so: a deep URL redirected to a
site's front or section page, an error-page title or heading that says so as a whole phrase
(English and Japanese wording), an error-looking final path; bot walls by the challenge pages
of the common CDNs, and only on answers that are challenges (403/429/503, or a tiny page with
no article text): an article that merely loads a CAPTCHA script is an article. The pass
withdraws a soft-404 when the quoted words are on the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .models import FetchResult, LinkState, PageText

# An error page's title or heading says so as a whole phrase ("Page not found | Example"), not in
# passing ("Flight 404 crash report"): each part of the title between separators is tried whole.
_NOT_FOUND_RE = re.compile(
    r"(error\s*)?(404|410)(\s*error)?|(error\s*)?(404|410)?\W*(page|file|article|content|document|url)?\s*"
    r"(was\s+|could\s+)?not\s+(be\s+)?found|"
    r"(this\s+|the\s+)?(page|article|content|document)\s+(you\s+requested\s+)?"
    r"(does\s*n[o']t\s+exist|is\s+(missing|unavailable|no\s+longer\s+available)|(has\s+been\s+)?removed)|"
    r"(sorry,?\s+)?(we\s+)?(can(no|')t|could\s*n[o']t)\s+find\s+(that|this|the)\s+page|"
    r"(お探しの)?(ページ|記事|コンテンツ)(が|は)?(見つかりません(でした)?|存在しません|削除されました)|"
    r"404\s*(not\s+found|エラー)?|エラー\s*404",
    re.I)
_TITLE_PARTS_RE = re.compile(r"\s+[|–—·-]\s+|\s*[|｜]\s*")  # a site's name is set off so; a colon is headline
_NOT_FOUND_PATH_RE = re.compile(r"(^|/)(404|not[-_]?found|page[-_]?not[-_]?found|error[-_]?404|"
                                r"errors?/404)(\.\w+)?(/|$)|notfound", re.I)
# Searched in the case-folded text: with re.I the search tried every phrase at every position
# (1.3 ms for the 16 KB head of a small page; 0.2 ms folded).
_BOT_WALL_RE = re.compile(
    r"just a moment\.\.\.|attention required!? \| cloudflare|checking your browser|"
    r"cf-browser-verification|challenges\.cloudflare\.com|enable javascript and cookies to continue|"
    r"are you a robot|verify you are (a )?human|captcha-delivery\.com|px-captcha|"
    r"access denied[^<]{0,40}(akamai|edgesuite)|request unsuccessful\. incapsula")
_BOT_WALL_HEAD = 16384  # challenge pages are small; their tell-tale text comes early
_CHALLENGE_STATUSES = frozenset({403, 429, 503})  # what CDNs answer a challenge with
_TINY_BODY = 65536  # a 2xx challenge page is small ...
_NO_ARTICLE = 400  # ... and shows next to no text (an article loading a CAPTCHA script shows plenty)


@dataclass(frozen=True)
class Verdict:
    link: LinkState
    problems: tuple[str, ...]
    message: str


def _depth(path: str) -> int:
    return len([p for p in path.split("/") if p])


def _redirected_to_front(url: str, final: str) -> bool:
    """A deep URL that now lands on a site's home page or a section front page."""
    a, b = urlsplit(url), urlsplit(final)
    da, db = _depth(a.path), _depth(b.path)
    if db == 0 and not b.query:
        return da >= 1 or bool(a.query)
    return da >= 2 and db == 1 and b.path.endswith("/") and not b.query


def _challenge(fetch: FetchResult, page: PageText | None) -> bool:
    """A bot wall: a challenge status, or a tiny page with no article text, showing the marks
    of a CDN's browser check or CAPTCHA."""
    if fetch.status_code not in _CHALLENGE_STATUSES and (
            fetch.status_code is None or len(fetch.body) > _TINY_BODY or page is None
            or len(page.main) > _NO_ARTICLE):
        return False
    return bool(_BOT_WALL_RE.search(fetch.body[:_BOT_WALL_HEAD].decode("utf-8", "replace").casefold()))


def _says_not_found(label: str) -> bool:
    label = label.strip()
    return 0 < len(label) < 200 and any(_NOT_FOUND_RE.fullmatch(part.strip(" .!…"))
                                        for part in _TITLE_PARTS_RE.split(label) if part.strip())


def classify(fetch: FetchResult, page: PageText | None) -> Verdict:
    if fetch.error is not None:
        problems = list(fetch.problems) or [fetch.error.value]
        message = fetch.message
        state = fetch.error
        if fetch.error in (LinkState.BLOCKED, LinkState.UNREACHABLE) and _challenge(fetch, page):
            state = LinkState.BLOCKED
            problems = ["blocked" if p == "unreachable" else p for p in problems] + ["bot-wall"]
            message = f"{message}: a bot wall answered instead of the page"
        if "timeout" in problems and "unreachable" not in problems:
            problems.insert(0, "unreachable")
        return Verdict(state, tuple(dict.fromkeys(problems)), message)
    if _challenge(fetch, page):
        return Verdict(LinkState.BLOCKED, ("blocked", "bot-wall"),
                       "a bot wall (browser check or CAPTCHA) answered instead of the page")
    moved = fetch.final_url != fetch.url
    if moved and _redirected_to_front(fetch.url, fetch.final_url):
        return Verdict(LinkState.SOFT_404, ("soft-404",),
                       f"redirected to {fetch.final_url}, a front page: the cited page is gone")
    if moved and _NOT_FOUND_PATH_RE.search(urlsplit(fetch.final_url).path):
        return Verdict(LinkState.SOFT_404, ("soft-404",),
                       f"redirected to {fetch.final_url}, an error page")
    if page is not None:
        for label in (page.title, *page.headings[:2]):
            if _says_not_found(label):
                return Verdict(LinkState.SOFT_404, ("soft-404",),
                               f"the page answers 200 but says {label!r}")
    if moved:
        return Verdict(LinkState.REDIRECTED, ("redirected",),
                       f"moved to {fetch.final_url}; update the citation")
    return Verdict(LinkState.ALIVE, (), "")
