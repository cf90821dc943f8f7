"""`[articles]`: the articles themselves are the list of citations.

At every pass the articles the globs name (relative to the config's folder) are read again; each
cited URL becomes one source however many articles cite it, with every citation in `cited_in`
(article, note numbers, line, the citing sentence, the article's hash for `fix`). A `[[source]]`
table with the same URL overrides what the articles say: its id, title, quotes, notes.
"""

from __future__ import annotations

import glob
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from .article import Cited, parse_article
from .config import Config, url_problem
from .errors import ConfigError, UsageError
from .models import Citation, Quote, Source
from .tomllines import KeyLines


def base_id(url: str) -> str:
    """A short, readable id: the site's name and the page's last path segment."""
    parts = urlsplit(url)
    labels = [x for x in (parts.hostname or "").split(".") if x not in ("www", "jp", "m", "mobile")]
    site = labels[-2] if len(labels) >= 2 else (labels[0] if labels else "source")
    if site in ("co", "go", "ac", "or", "ne", "com", "gov") and len(labels) >= 3:
        site = labels[-3]
    segments = [s for s in parts.path.split("/") if s]
    tail = re.sub(r"\.(s?html?|php|aspx?)$", "", segments[-1] if segments else "")
    if site in ("twitter", "x") and len(segments) >= 3:
        tail = f"{segments[0]}-{segments[-1]}"
    return re.sub(r"[^a-z0-9]+", "-", f"{site}-{tail}".lower()).strip("-")[:48].strip("-") or "source"


def stable_ids(urls: Iterable[str], taken: set[str]) -> dict[str, str]:
    """An id per URL that depends on the URL alone (history is kept by id): the readable id and
    the query, or, when two URLs would still share it, that and a short hash of each URL."""
    groups: dict[str, list[str]] = {}
    for url in urls:
        query = re.sub(r"[^a-z0-9]+", "-", urlsplit(url).query.lower()).strip("-")
        groups.setdefault(f"{base_id(url)}-{query}"[:64].strip("-") if query else base_id(url), []).append(url)
    ids = {}
    for base, members in groups.items():
        for url in members:
            unique = len(members) == 1 and base not in taken
            ids[url] = base if unique else f"{base}-{hashlib.sha1(url.encode()).hexdigest()[:6]}"
    return ids


def _where(config: Config, text: str, key: str) -> str:
    """`FILE:LINE: [articles] KEY`, like every other config error (the line of `key`, else of the table)."""
    line = KeyLines(text).line("articles", 0, key)
    return f"{config.path}:{line}: [articles] {key}" if line else f"{config.path}: [articles] {key}"


def article_files(config: Config, text: str = "") -> list[Path]:
    """The files `[articles] include` names, less those `exclude` names, in a stable order."""
    root = config.root
    chosen: set[Path] = set()
    for pattern in config.articles.include:
        where = _where(config, text, "include")
        if Path(pattern).is_absolute():
            raise ConfigError(f"{where}: {pattern!r} is absolute; write globs relative to the config's folder.")
        found = {p for p in root.glob(pattern) if p.is_file()}
        if not found and not glob.has_magic(pattern):
            raise ConfigError(f"{where}: {pattern!r} names no file under {root}.")
        chosen |= found
    for pattern in config.articles.exclude:
        if Path(pattern).is_absolute():
            raise ConfigError(f"{_where(config, text, 'exclude')}: "
                              f"{pattern!r} is absolute; write globs relative to the config's folder.")
        chosen -= set(root.glob(pattern))
    return sorted(chosen)


@dataclass(frozen=True)
class Article:
    path: str  # relative to the config's folder, with `/`; or the article's URL (from a feed)
    sha256: str
    title: str
    cited: tuple[Cited, ...]


def read_article(path: Path, root: Path) -> Article:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: the article cannot be read ({exc.strerror}).") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the article is not UTF-8 text (byte {exc.start}).") from None
    parsed = parse_article(text.replace("\r\n", "\n"), path.name)
    resolved, base = path.resolve(), root.resolve()
    rel = resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else str(path)
    return Article(rel, hashlib.sha256(raw).hexdigest(), parsed.title,
                   tuple(c for c in parsed.sources if not url_problem(c.url)))


def _quotes(cited: list[Cited]) -> tuple[Quote, ...]:
    out: dict[str, Quote] = {}
    for c in cited:
        for text, locator, _ in c.quotes:
            out.setdefault(text, Quote(text=text, locator=locator))
    return tuple(out.values())


def with_articles(config: Config, text: str = "") -> Config:
    """`config` with the articles' citations as sources (the files `include` names, and the
    articles of `feeds` as the last pass read them), `[[source]]` tables overriding by URL."""
    from .feeds import cached_articles

    articles = [read_article(path, config.root) for path in article_files(config, text)]
    by_url: dict[str, list[tuple[Cited, Citation]]] = {}
    for article in [*articles, *cached_articles(config)]:
        for c in article.cited:
            citation = Citation(article.path, tuple(c.cites), c.line, c.sentence, article.title or article.path,
                                article.sha256)
            by_url.setdefault(c.url, []).append((c, citation))
    tables = {s.url for s in config.sources}
    ids = stable_ids((u for u in by_url if u not in tables), {s.id for s in config.sources})
    sources = [_merged(s, by_url[s.url]) if s.url in by_url else s for s in config.sources]
    for url, found in by_url.items():
        if url not in tables:
            sources.append(_merged(Source(id=ids[url], url=url), found))
    return replace(config, sources=tuple(sources))


def _merged(table: Source, found: list[tuple[Cited, Citation]]) -> Source:
    cited = [c for c, _ in found]
    citations = [c for _, c in found]
    notes = tuple(dict.fromkeys(n for c in citations for n in c.notes))
    own = [c for c in table.cited_in if all(c.article != x.article for x in citations)]
    return replace(table, title=table.title or next((c.title for c in cited if c.title), ""),
                   cites=table.cites or notes, quotes=table.quotes or _quotes(cited),
                   article=table.article or citations[0].article,
                   article_line=table.article_line or citations[0].line,
                   cited_in=(*citations, *own))


def with_hashes(config: Config) -> Config:
    """Citations written in `[[source]]` tables (by `init`) get what the article says now: its
    hash, so that `fix` can refuse a file edited after the pass; its title and the citing
    sentence, for the digest."""
    read: dict[str, Article | None] = {}

    def cited(c: Citation, url: str) -> Citation:
        if c.sha256 or "://" in c.article:
            return c
        if c.article not in read:
            try:
                read[c.article] = read_article(config.root / c.article, config.root)
            except ConfigError:
                read[c.article] = None  # an article that is not (or no longer) here: nothing to fix
        article = read[c.article]
        if article is None:
            return c
        sentence = next((x.sentence for x in article.cited if x.url == url), "")
        return replace(c, sha256=article.sha256, title=c.title or article.title, sentence=c.sentence or sentence)

    return replace(config, sources=tuple(replace(s, cited_in=tuple(cited(c, s.url) for c in s.cited_in))
                                         if s.cited_in else s for s in config.sources))


def relative_article(config: Config, given: str) -> str:
    """An `--article` argument as `cited_in` names articles: relative to the config's folder."""
    path = Path(given).resolve()
    root = config.root.resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else given


def sources_citing(config: Config, articles: Iterable[str]) -> list[str]:
    """Ids of the sources the given articles cite; a usage error names an article that cites none."""
    wanted = {relative_article(config, a): a for a in articles}
    ids = [s.id for s in config.sources if any(c.article in wanted for c in s.cited_in)]
    cited = {c.article for s in config.sources for c in s.cited_in}
    unknown = [given for rel, given in wanted.items() if rel not in cited]
    if unknown:
        raise UsageError(f"--article: no source of {config.path} is cited in {', '.join(map(repr, unknown))}")
    return ids
