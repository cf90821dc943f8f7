"""What became of a cited URL: a fetch result (and its text) → `LinkState` + problems.

Soft-404 and bot-wall recognition are heuristics and say so: a deep URL redirected to a
site's front or section page, an error-page title or heading (English and Japanese wording),
an error-looking final path; bot walls by the challenge pages of the common CDNs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .models import FetchResult, LinkState, PageText

_NOT_FOUND_RE = re.compile(
    r"\b(page|file|article|content|document)s?\s+(was\s+|could\s+)?not\s+(be\s+)?found\b|"
    r"\bnot\s+found\b|\b404\b|\bno\s+longer\s+(available|exists)\b|\bdoes\s*n[o']t\s+exist\b|"
    r"\bpage\s+(is\s+)?(missing|unavailable|removed)\b|\bcannot\s+be\s+found\b|"
    r"ページ(が|は)?(見つかりません|見つかりませんでした|存在しません|ありません)|"
    r"お探しの(ページ|記事|コンテンツ)|(記事|ページ)は(削除|公開を終了)|指定された(ページ|URL)",
    re.I)
_NOT_FOUND_PATH_RE = re.compile(r"(^|/)(404|not[-_]?found|page[-_]?not[-_]?found|error[-_]?404|"
                                r"errors?/404)(\.\w+)?(/|$)|notfound", re.I)
_BOT_WALL_RE = re.compile(
    r"just a moment\.\.\.|attention required!? \| cloudflare|checking your browser|"
    r"cf-browser-verification|challenges\.cloudflare\.com|enable javascript and cookies to continue|"
    r"are you a robot|verify you are (a )?human|captcha-delivery\.com|px-captcha|"
    r"access denied[^<]{0,40}(akamai|edgesuite)|request unsuccessful\. incapsula", re.I)
_BOT_WALL_HEAD = 16384  # challenge pages are small; their tell-tale text comes early


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


def classify(fetch: FetchResult, page: PageText | None) -> Verdict:
    body_head = fetch.body[:_BOT_WALL_HEAD].decode("utf-8", "replace") if fetch.body else ""
    if fetch.error is not None:
        problems = list(fetch.problems) or [fetch.error.value]
        message = fetch.message
        if fetch.error is LinkState.BLOCKED and _BOT_WALL_RE.search(body_head):
            problems.append("bot-wall")
            message = f"{message}: a bot wall answered instead of the page"
        if "timeout" in problems and "unreachable" not in problems:
            problems.insert(0, "unreachable")
        return Verdict(fetch.error, tuple(problems), message)
    if _BOT_WALL_RE.search(body_head):
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
            if label and len(label) < 200 and _NOT_FOUND_RE.search(label):
                return Verdict(LinkState.SOFT_404, ("soft-404",),
                               f"the page answers 200 but says {label!r}")
    if moved:
        return Verdict(LinkState.REDIRECTED, ("redirected",),
                       f"moved to {fetch.final_url}; update the citation")
    return Verdict(LinkState.ALIVE, (), "")
