"""The verdict heuristics look at what a reader sees: table-driven cases on `classify`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import Server, check_json, page, send, write_config
from hypothesis import given
from hypothesis import strategies as st

from linkcheck.extract import extract
from linkcheck.models import FetchResult, LinkState
from linkcheck.verdict import _BOT_WALL_RE, Verdict, classify

ARTICLE = "<p>" + "The ministers met in Vilnius and agreed on the text of the communiqué. " * 20 + "</p>"
TURNSTILE = "<script src='https://challenges.cloudflare.com/turnstile/v0/api.js' async defer></script>"
CHALLENGE = ("<html><head><title>Just a moment...</title></head><body><p>Checking your browser before "
             "accessing the site.</p><script src='/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1'>"
             "</script></body></html>")


def _verdict(status: int, html: str) -> Verdict:
    """As the pipeline classifies an answer: error statuses as fetch.py maps them, text for 2xx."""
    url = "http://example.org/news/2024/story"
    body = html.encode("utf-8")
    error = None if 200 <= status < 300 else LinkState.BLOCKED if status in (403, 429) else LinkState.UNREACHABLE
    fetch = FetchResult(url=url, final_url=url, status_code=status, body=body, error=error,
                        problems=() if error is None else (error.value,))
    return classify(fetch, extract(body, "text/html; charset=utf-8") if error is None else None)


def _page(title: str, body: str = ARTICLE, h1: str = "") -> str:
    return f"<html><head><title>{title}</title></head><body><h1>{h1}</h1>{body}</body></html>"


@pytest.mark.parametrize(("status", "html", "expected", "problem"), [
    # A challenge answer is a bot wall ...
    (403, CHALLENGE, LinkState.BLOCKED, "bot-wall"),
    (503, CHALLENGE, LinkState.BLOCKED, "bot-wall"),
    (429, "<p>Please verify you are a human</p>", LinkState.BLOCKED, "bot-wall"),
    (200, CHALLENGE, LinkState.BLOCKED, "bot-wall"),  # tiny, no article text
    # ... an article that loads a challenge script is an article.
    (200, _page("Summit ends", ARTICLE + TURNSTILE), LinkState.ALIVE, None),
    (200, _page("Are you a robot? A history of CAPTCHAs", ARTICLE), LinkState.ALIVE, None),
    (403, "<p>Forbidden</p>", LinkState.BLOCKED, None),
    (503, "<p>Down for maintenance</p>", LinkState.UNREACHABLE, None),
])
def test_bot_wall_only_on_challenge_answers(status: int, html: str, expected: LinkState,
                                            problem: str | None) -> None:
    verdict = _verdict(status, html)
    assert verdict.link is expected
    assert (problem in verdict.problems) if problem else "bot-wall" not in verdict.problems


_PHRASES = ["Just a moment...", "Attention Required! | Cloudflare", "checking your browser", "CAPTCHA-delivery.com",
            "verify you are human", "Access Denied (edgesuite)", "Request unsuccessful. Incapsula", "px-captcha"]


@given(st.lists(st.one_of(st.sampled_from(_PHRASES), st.text(max_size=12)), max_size=8), st.randoms())
def test_the_folded_bot_wall_search_finds_what_a_case_blind_one_does(parts: list[str], rnd: object) -> None:
    """The phrases are searched in the case-folded text (much faster than `re.I`): the same answer
    for any text, in any mix of cases."""
    assert _BOT_WALL_RE.pattern == _BOT_WALL_RE.pattern.casefold()  # a phrase added in capitals would never match
    text = "".join(p.upper() if rnd.random() < 0.3 else p for p in parts)  # type: ignore[attr-defined]
    case_blind = re.compile(_BOT_WALL_RE.pattern, re.I)
    assert bool(_BOT_WALL_RE.search(text.casefold())) == bool(case_blind.search(text))


@pytest.mark.parametrize(("title", "h1", "expected"), [
    ("Page not found | Example News", "", LinkState.SOFT_404),
    ("404 Not Found", "", LinkState.SOFT_404),
    ("Error 404", "", LinkState.SOFT_404),
    ("Error 404: Page not found", "", LinkState.SOFT_404),
    ("Example News", "Sorry, we can't find that page", LinkState.SOFT_404),
    ("エラー", "ページが見つかりません", LinkState.SOFT_404),
    ("お探しのページは見つかりませんでした - 外務省", "", LinkState.SOFT_404),
    ("Flight 404 crash report", "", LinkState.ALIVE),
    ("Not found: the missing billions of the budget", "", LinkState.ALIVE),
    ("Why the Higgs boson was not found earlier", "", LinkState.ALIVE),
    ("The page that does not exist: a short story", "", LinkState.ALIVE),
    ("Route 404 reopens | Local news", "", LinkState.ALIVE),
    ("Vilnius Summit Communiqué", "404 days of war", LinkState.ALIVE),
])
def test_soft_404_title_rule_only_on_whole_phrases(title: str, h1: str, expected: LinkState) -> None:
    assert _verdict(200, _page(title, h1=h1)).link is expected


def test_an_error_title_with_the_quoted_words_on_the_page_is_not_a_soft_404(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quote = "The ministers met in Vilnius and agreed on the text of the communiqué."
    server.routes["/p"] = lambda h: send(h, 200, page(ARTICLE, "Page not found"))
    server.routes["/q"] = lambda h: send(h, 200, page("<p>Nothing here.</p>", "Page not found"))
    config = write_config(tmp_path, [{"id": "p", "url": server.url("/p"), "quotes": [quote]},
                                     {"id": "q", "url": server.url("/q"), "quotes": [quote]}])
    _, report = check_json(config, capsys, "--no-archive")
    assert {s["id"]: s["link"] for s in report["sources"]} == {"p": "alive", "q": "soft-404"}
