"""`[articles] feeds`: the articles a publication lists in its RSS/Atom feeds (read with
feedparser, which copes with every RSS and Atom dialect in the wild) or its sitemaps.

At each pass, before the sources are checked, every feed and every article it lists is requested
conditionally (If-None-Match / If-Modified-Since from the last pass): an unchanged article (a 304,
or the same bytes) is not parsed again. What was read is kept in `feeds.json` beside the config,
so that `validate`, `report` and `fix` see the same sources offline. A feed or an article that
cannot be read keeps what the last pass read, and is logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from lxml import etree

from .article import Cited, parse_article
from .config import Config, url_problem
from .extract import decode, main_html
from .fsutil import atomic_write
from .publication import Article

if TYPE_CHECKING:
    from .fetch import Fetcher, PassClient

log = logging.getLogger("linkcheck.feeds")
CACHE = "feeds.json"


def _load(config: Config) -> dict[str, Any]:
    try:
        data = json.loads((config.root / CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"feeds": {}, "articles": {}}
    return data if isinstance(data, dict) and {"feeds", "articles"} <= data.keys() else {"feeds": {}, "articles": {}}


def _listed(config: Config, cache: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(u for f in config.articles.feeds for u in cache["feeds"].get(f, {}).get("articles", [])))


def cached_articles(config: Config) -> list[Article]:
    """The feeds' articles as the last pass read them (no network)."""
    if not config.articles.feeds:
        return []
    cache = _load(config)
    out = []
    for url in _listed(config, cache):
        entry = cache["articles"].get(url)
        if entry:
            cited = tuple(Cited(**(c | {"quotes": [tuple(q) for q in c["quotes"]]})) for c in entry["cited"])
            out.append(Article(url, entry["sha256"], entry["title"], cited))
    return out


@dataclasses.dataclass(frozen=True)
class _Got:
    status: int  # 0: no answer
    body: bytes = b""
    content_type: str = ""
    validators: dict[str, str] = dataclasses.field(default_factory=dict)
    problem: str = ""


async def _get(fetcher: Fetcher, url: str, before: dict[str, Any]) -> _Got:
    """A conditional GET by the pass's Fetcher: the private-address guard on every hop, its
    deadline, retries, size cap and cookies, as for a source."""
    ask = {k: before[v] for k, v in (("If-None-Match", "etag"), ("If-Modified-Since", "modified")) if before.get(v)}
    got = await fetcher.fetch(url, conditional=ask)
    if got.status_code == 304 and ask:
        return _Got(304)
    if got.error is not None:  # refused, unreachable, an error status, too large
        return _Got(0, problem=got.message)
    validators = {"etag": got.header("etag"), "modified": got.header("last-modified")}
    return _Got(got.status_code or 0, got.body, got.header("content-type"), validators)


def article_urls(body: bytes) -> list[str]:
    """The article links of an RSS/Atom feed, or the <loc> of a sitemap."""
    import feedparser

    feed = feedparser.parse(body)
    links = [str(e.get("link")) for e in feed.entries if e.get("link")]
    if not links and b"<urlset" in body:
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            return []
        links = [loc.text.strip() for loc in root.iter("{*}loc") if loc.text]
    return [u for u in dict.fromkeys(links) if not url_problem(u)]


async def refresh_feeds(config: Config, client: PassClient) -> None:
    """Read the feeds and their new or changed articles; keep the result in feeds.json."""
    from .fetch import Fetcher  # here: `validate` reads the feeds' cache without loading an HTTP stack

    cache = _load(config)
    fetcher = Fetcher(client, config.fetch)
    for feed in config.articles.feeds:
        before = cache["feeds"].get(feed, {})
        got = await _get(fetcher, feed, before)
        if got.status == 200:
            cache["feeds"][feed] = got.validators | {"articles": article_urls(got.body)}
        elif got.status != 304:
            log.warning("feed %s could not be read (%s); keeping the articles it listed before",
                        feed, got.problem or f"HTTP {got.status}")

    async def one(url: str) -> None:
        before = cache["articles"].get(url, {})
        got = await _get(fetcher, url, before)
        if got.status == 304:
            return
        if got.status != 200:
            log.warning("article %s could not be read (%s)", url, got.problem or f"HTTP {got.status}")
            return
        sha = hashlib.sha256(got.body).hexdigest()
        if sha == before.get("sha256"):
            cache["articles"][url] = before | got.validators  # the same bytes: not parsed again
            return
        text, _ = decode(got.body, got.content_type)
        parsed = parse_article(main_html(text), "article.html")
        cache["articles"][url] = got.validators | {"sha256": sha, "title": parsed.title,
                                                   "cited": [dataclasses.asdict(c) for c in parsed.sources]}

    listed = _listed(config, cache)
    await asyncio.gather(*(one(u) for u in listed))
    cache["articles"] = {u: cache["articles"][u] for u in listed if u in cache["articles"]}
    atomic_write(config.root / CACHE, json.dumps(cache, ensure_ascii=False, indent=1) + "\n")
