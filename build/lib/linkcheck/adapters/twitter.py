"""Tweets, read through oEmbed (and the syndication endpoint as a fallback), never through
twitter.com / x.com, which serve a script app to robots and answer 200 even for deleted tweets.

oEmbed 404 → dead (deleted or never existed); 403 → blocked (protected); anything else →
the syndication endpoint, whose tombstone means deleted; if that fails too → unreachable.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from urllib.parse import urlencode, urlsplit

from ..config import TwitterSettings
from ..extract import parse_html, text_of
from ..fetch import Fetcher
from ..models import FetchResult, LinkState, PageText

_HOSTS = {"twitter.com", "www.twitter.com", "mobile.twitter.com", "x.com", "www.x.com",
          "mobile.x.com"}
_PATH_RE = re.compile(r"^/(?:(?P<user>[A-Za-z0-9_]{1,15})|i(?:/web)?)/status(?:es)?/(?P<id>\d{1,20})(?:/|$)")


def tweet_url(url: str) -> str | None:
    """The canonical `https://twitter.com/<user>/status/<id>` of a tweet URL, or None."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in _HOSTS:
        return None
    m = _PATH_RE.match(parts.path)
    if not m:
        return None
    return f"https://twitter.com/{m.group('user') or 'i'}/status/{m.group('id')}"


def _token(tweet_id: str) -> str:
    """The syndication endpoint's token: (id / 1e15 · π) in base 36, zeros and dot removed."""
    value = int(tweet_id) / 1e15 * math.pi
    whole, frac = int(value), value - int(value)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while whole:
        whole, r = divmod(whole, 36)
        out = digits[r] + out
    out = (out or "0") + "."
    for _ in range(11):
        frac *= 36
        out += digits[int(frac)]
        frac -= int(frac)
    return re.sub(r"0+|\.", "", out)


def _oembed_page(data: dict[str, object]) -> PageText | None:
    html = data.get("html")
    root = parse_html(html) if isinstance(html, str) else None
    if root is None:
        return None
    quote = root.find(".//blockquote")
    paragraphs = list(quote.iter("p")) if quote is not None else []
    if quote is None or not paragraphs:
        return None
    text = "\n".join(text_of(p) for p in paragraphs)
    links = quote.findall("a")
    date = text_of(links[-1]) if links else ""
    author = str(data.get("author_name") or "")
    return PageText(text=text, main=text, title=f"Tweet by {author}".strip(), author=author,
                    published=date, encoding="utf-8")


async def read_tweet(fetcher: Fetcher, settings: TwitterSettings, url: str,
                     canonical: str) -> tuple[FetchResult, PageText | None]:
    """Fetch a tweet's text. The FetchResult describes the *tweet* (its URL, its verdict)."""
    query = urlencode({"url": canonical, "omit_script": "1", "dnt": "true"})
    oembed = await fetcher.fetch(f"{settings.oembed_url}?{query}", accept="application/json")
    tweet = replace(oembed, url=url, final_url=url, hops=())
    if oembed.status_code == 404:
        return replace(tweet, error=LinkState.DEAD, problems=("dead",),
                       message="oEmbed answers 404: the tweet was deleted or never existed"), None
    if oembed.status_code == 403:
        return replace(tweet, error=LinkState.BLOCKED, problems=("blocked",),
                       message="oEmbed answers 403: the account is protected or suspended"), None
    if oembed.error is None:
        try:
            page = _oembed_page(json.loads(oembed.body))
        except (ValueError, AttributeError):
            page = None
        if page is not None:
            return tweet, page
    return await _syndication(fetcher, settings, url, canonical, oembed.message or "no tweet in the answer")


async def _syndication(fetcher: Fetcher, settings: TwitterSettings, url: str, canonical: str,
                       why: str) -> tuple[FetchResult, PageText | None]:
    tweet_id = canonical.rsplit("/", 1)[-1]
    query = urlencode({"id": tweet_id, "token": _token(tweet_id)})
    synd = await fetcher.fetch(f"{settings.syndication_url}?{query}", accept="application/json")
    result = replace(synd, url=url, final_url=url, hops=())
    try:
        data = json.loads(synd.body) if synd.error is None and synd.body else None
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("__typename") == "TweetTombstone":
        return replace(result, error=LinkState.DEAD, problems=("dead",),
                       message="the tweet was deleted (syndication tombstone)"), None
    if isinstance(data, dict) and isinstance(data.get("text"), str):
        user = data.get("user")
        author = str(user.get("name", "")) if isinstance(user, dict) else ""
        text = data["text"]
        return result, PageText(text=text, main=text, title=f"Tweet by {author}".strip(),
                                author=author, published=str(data.get("created_at", "")))
    return replace(result, error=LinkState.UNREACHABLE, problems=("unreachable",), body=b"",
                   message=f"the tweet could not be read: oEmbed failed ({why}) and so did the "
                           "syndication endpoint"), None
