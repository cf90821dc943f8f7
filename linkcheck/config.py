"""`sources.toml` → `Config`. Every error names the file and the line (syntax) or the source id
and key (schema), in one paragraph, and is raised as `ConfigError`."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import __version__
from .db import is_postgres
from .db import url_problem as postgres_url_problem
from .durations import parse_duration
from .errors import ConfigError
from .models import PROBLEMS, Citation, LinkState, Quote, QuoteKind, Source
from .schedule import parse_trigger  # the daemon's own parser, so `validate` catches what it would

USER_AGENT = f"linkcheck/{__version__} (+https://github.com/linkcheck/linkcheck)"


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 20.0
    retries: int = 2
    max_bytes: int = 10_000_000
    concurrency: int = 32
    per_host: int = 4
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    user_agent: str = USER_AGENT
    max_redirects: int = 10
    backoff: float = 1.0  # first retry delay, doubled each time
    max_backoff: float = 30.0  # cap on any single wait, Retry-After included
    recheck_pause: float = 5.0  # before the end-of-run second try of unreachable/blocked sources
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # processes parsing pages; 0/1: in-process


@dataclass(frozen=True)
class ArchiveSettings:
    wayback: bool = True
    wayback_url: str = "https://web.archive.org"
    max_age: float = 30 * 86400.0
    timeout: float = 120.0  # deadline for all archive work of one pass
    request_timeout: float = 30.0
    saves_per_minute: float = 0.0  # 0: 3/min anonymous, 10/min with keys (the archive allows ~4 and ~12)
    lookups_per_minute: float = 50.0


@dataclass(frozen=True)
class TwitterSettings:
    oembed_url: str = "https://publish.twitter.com/oembed"
    syndication_url: str = "https://cdn.syndication.twimg.com/tweet-result"


@dataclass(frozen=True)
class ScheduleSettings:
    check: str = "every 6h"
    report: str = "0 8 * * mon"
    timezone: str = "UTC"
    report_since: float = 7 * 86400.0


@dataclass(frozen=True)
class PolicySettings:
    min_quote_score: float = 0.9
    fail_on: tuple[str, ...] = ("dead", "soft-404", "quote-missing")
    confirm_failures: int = 3
    confirm_span: float = 3 * 86400.0
    drift_window: int = 5  # a version equal to any of the last N counts as unchanged


@dataclass(frozen=True)
class HistorySettings:
    keep: float = 365 * 86400.0  # results older than this are deleted after each pass (text versions stay)
    reports_keep: int = 20  # timestamped report files kept under reports/ (latest.* always)
    database: str = "linkcheck.db"  # a SQLite file (beside the config unless absolute) or a postgresql:// URL


@dataclass(frozen=True)
class SnapshotSettings:
    path: str = "snapshots"  # beside the config, or any folder (one every worker mounts)


@dataclass(frozen=True)
class WorkerSettings:
    """`linkcheck worker` and `check --distribute` (PostgreSQL history only)."""

    batch: int = 10  # sources per job
    heartbeat: float = 10.0  # how often a worker says it is alive
    stalled_after: float = 30.0  # a worker silent this long is dead: its jobs go to another worker


@dataclass(frozen=True)
class NotifySettings:
    webhook: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_from: str = ""
    smtp_to: tuple[str, ...] = ()
    smtp_starttls: bool = True

    @property
    def enabled(self) -> bool:
        return bool(self.webhook or (self.smtp_host and self.smtp_to))


@dataclass(frozen=True)
class ArticleSettings:
    include: tuple[str, ...] = ()  # globs relative to the config's folder
    exclude: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()  # RSS/Atom feeds or sitemaps listing published articles


@dataclass(frozen=True)
class Config:
    path: Path
    sources: tuple[Source, ...]
    fetch: FetchSettings = field(default_factory=FetchSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    twitter: TwitterSettings = field(default_factory=TwitterSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    articles: ArticleSettings = field(default_factory=ArticleSettings)
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    snapshots: SnapshotSettings = field(default_factory=SnapshotSettings)

    @property
    def root(self) -> Path:
        """The folder all state lives in: snapshots/, reports/, the history database."""
        return self.path.parent

    @property
    def db_path(self) -> Path:
        """The SQLite history file (meaningless when `database` is a PostgreSQL URL)."""
        return self.root / self.history.database

    @property
    def snapshots_dir(self) -> Path:
        """Where snapshots are written: `[snapshots] path`, relative to the config's folder."""
        return self.root / Path(self.snapshots.path).expanduser()

    @property
    def database(self) -> Path | str:
        """What `Store.open` takes: the SQLite file, or the PostgreSQL URL."""
        return self.history.database if is_postgres(self.history.database) else self.db_path


# --- checkers: value -> converted value, or ValueError with what was expected -------------

Check = Callable[[Any], Any]


def _type(kind: type | tuple[type, ...], what: str) -> Check:
    def check(v: Any) -> Any:
        if isinstance(v, bool) and kind is not bool:
            raise ValueError(f"expected {what}, got a boolean")
        if not isinstance(v, kind):
            raise ValueError(f"expected {what}, got {type(v).__name__} {v!r}")
        return v

    return check


def _positive(kind: type, what: str) -> Check:
    base = _type((int, float) if kind is float else kind, what)

    def check(v: Any) -> Any:
        v = base(v)
        if v <= 0:
            raise ValueError(f"expected {what} greater than 0, got {v!r}")
        return kind(v)

    return check


def _non_negative_int(v: Any) -> int:
    v = _type(int, "a whole number")(v)
    if v < 0:
        raise ValueError(f"expected a whole number of at least 0, got {v}")
    return int(v)


def _non_negative_number(v: Any) -> float:
    v = _type((int, float), "a number")(v)
    if v < 0:
        raise ValueError(f"expected a number of at least 0, got {v}")
    return float(v)


def _duration(v: Any) -> float:
    return parse_duration(_type(str, 'a duration such as "30d"')(v))


def _fraction(v: Any) -> float:
    v = _type((int, float), "a number between 0 and 1")(v)
    if not 0 <= v <= 1:
        raise ValueError(f"expected a number between 0 and 1, got {v}")
    return float(v)


def _strings(v: Any) -> tuple[str, ...]:
    v = _type(list, "a list of strings")(v)
    for item in v:
        if not isinstance(item, str):
            raise ValueError(f"expected a list of strings, found {item!r}")
    return tuple(v)


def _http_url(v: Any) -> str:
    v = _type(str, "a URL")(v)
    problem = url_problem(v)
    if problem:
        raise ValueError(problem)
    return str(v)


def _networks(v: Any) -> tuple[str, ...]:
    items = _strings(v)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network such as 10.0.0.0/8") from None
    return items


FAIL_ON_NAMES = frozenset(PROBLEMS) | {s.value for s in LinkState} | {"changed"}


def _fail_on(v: Any) -> tuple[str, ...]:
    items = _strings(v)
    for item in items:
        if item not in FAIL_ON_NAMES:
            raise ValueError(f"{item!r} is not a problem name; use one of {', '.join(sorted(FAIL_ON_NAMES))}")
    return items


def _snapshot_folder(v: Any) -> str:
    v = _type(str, 'a folder such as "snapshots" or "/srv/shared/snapshots"')(v)
    if not v.strip():
        raise ValueError("expected a folder, got an empty string")
    if "://" in v:
        raise ValueError(f"{v!r} is a URL; snapshots go to a folder (mount shared storage on every worker)")
    return str(v)


def _database(v: Any) -> str:
    v = _type(str, 'a file name such as "linkcheck.db" or a URL such as "postgresql://user@host/db"')(v)
    if not v.strip():
        raise ValueError("expected a file name or a postgresql:// URL, got an empty string")
    problem = postgres_url_problem(v) if is_postgres(v) else ""
    if problem:
        raise ValueError(problem)
    return str(v)


def _timezone(v: Any) -> str:
    """An IANA zone name the daemon's scheduler will accept (checked here, not when it starts)."""
    v = _type(str, "a time zone name such as Europe/Paris")(v)
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}; use an IANA name such as Europe/Paris or UTC") from None
    return str(v)


def _schedule(v: Any) -> str:
    v = _type(str, 'a schedule such as "every 6h" or "0 8 * * mon"')(v)
    parse_trigger(v, "UTC")
    return str(v)


_SECTIONS: dict[str, tuple[type, dict[str, tuple[str, Check]]]] = {
    "fetch": (FetchSettings, {
        "timeout": ("timeout", _positive(float, "a number of seconds")),
        "retries": ("retries", _non_negative_int),
        "max_bytes": ("max_bytes", _positive(int, "a number of bytes")),
        "concurrency": ("concurrency", _positive(int, "a whole number")),
        "per_host": ("per_host", _positive(int, "a whole number")),
        "allow_private": ("allow_private", _type(bool, "true or false")),
        "allow_networks": ("allow_networks", _networks),
        "user_agent": ("user_agent", _type(str, "a string")),
        "max_redirects": ("max_redirects", _non_negative_int),
        "backoff": ("backoff", _positive(float, "a number of seconds")),
        "max_backoff": ("max_backoff", _positive(float, "a number of seconds")),
        "recheck_pause": ("recheck_pause", lambda v: float(_type((int, float), "a number of seconds")(v))),
        "workers": ("workers", _non_negative_int),
    }),
    "archive": (ArchiveSettings, {
        "wayback": ("wayback", _type(bool, "true or false")),
        "wayback_url": ("wayback_url", _http_url),
        "max_age": ("max_age", _duration),
        "timeout": ("timeout", _duration),
        "request_timeout": ("request_timeout", _duration),
        "saves_per_minute": ("saves_per_minute", lambda v: float(_non_negative_number(v))),
        "lookups_per_minute": ("lookups_per_minute", _positive(float, "a number")),
    }),
    "twitter": (TwitterSettings, {
        "oembed_url": ("oembed_url", _http_url),
        "syndication_url": ("syndication_url", _http_url),
    }),
    "schedule": (ScheduleSettings, {
        "check": ("check", _schedule),
        "report": ("report", _schedule),
        "timezone": ("timezone", _timezone),
        "report_since": ("report_since", _duration),
    }),
    "policy": (PolicySettings, {
        "min_quote_score": ("min_quote_score", _fraction),
        "fail_on": ("fail_on", _fail_on),
        "confirm_failures": ("confirm_failures", _positive(int, "a whole number")),
        "confirm_span": ("confirm_span", _duration),
        "drift_window": ("drift_window", _positive(int, "a whole number")),
    }),
    "history": (HistorySettings, {
        "keep": ("keep", _duration),
        "reports_keep": ("reports_keep", _non_negative_int),
        "database": ("database", _database),
    }),
    "snapshots": (SnapshotSettings, {
        "path": ("path", _snapshot_folder),
    }),
    "workers": (WorkerSettings, {
        "batch": ("batch", _positive(int, "a whole number")),
        "heartbeat": ("heartbeat", _duration),
        "stalled_after": ("stalled_after", _duration),
    }),
    "notify": (NotifySettings, {
        "webhook": ("webhook", _http_url),
        "smtp_host": ("smtp_host", _type(str, "a host name")),
        "smtp_port": ("smtp_port", _positive(int, "a port number")),
        "smtp_from": ("smtp_from", _type(str, "an address")),
        "smtp_to": ("smtp_to", _strings),
        "smtp_starttls": ("smtp_starttls", _type(bool, "true or false")),
    }),
    "articles": (ArticleSettings, {
        "include": ("include", _strings),
        "exclude": ("exclude", _strings),
        "feeds": ("feeds", lambda v: tuple(_http_url(x) for x in _strings(v))),
    }),
}

_SOURCE_KEYS = ("id", "url", "title", "cites", "quotes", "article_line", "article", "cited_in")
_QUOTE_KEYS = ("text", "prefix", "suffix", "locator", "note", "kind")
_CITATION_KEYS = ("article", "notes", "line")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HOST_RE = re.compile(r"[\w-][\w.~%-]*|[0-9a-f:.]+")


def url_problem(url: str) -> str:
    """Why `url` cannot be checked, or "" when it is a usable http(s) URL."""
    if not url or url != url.strip() or any(c.isspace() for c in url):
        return f"{url!r} is not a URL (empty, or contains spaces)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"{url!r} is a malformed URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        scheme = parts.scheme or "no scheme"
        return f"{url!r} uses {scheme}; only http and https URLs can be checked"
    host = parts.hostname or ""
    if not _HOST_RE.fullmatch(host):
        return f"{url!r} has no valid host name"
    if port == 0:
        return f"{url!r} has port 0"
    return ""


def _suggest(key: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _source_lines(text: str) -> list[int]:
    """Line numbers (1-based) of each `[[source]]` header, in order."""
    return [i for i, line in enumerate(text.splitlines(), 1)
            if re.match(r"^\s*\[\[\s*source\s*\]\]", line)]


def load_config(path: Path) -> Config:
    """Read and validate the config at `path`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file. Create it (see README) or pass --config PATH.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text (byte {exc.start}).") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}. Fix the syntax at that line.") from None
    config = parse_config(data, path, _source_lines(text))
    from .publication import with_articles, with_hashes  # they need this module's types

    return with_hashes(with_articles(config, text) if config.articles.include or config.articles.feeds
                       else config)


def parse_config(data: dict[str, Any], path: Path, source_lines: list[int] | None = None) -> Config:
    where = str(path)
    unknown = [k for k in data if k not in _SECTIONS and k != "source"]
    if unknown:
        key = unknown[0]
        raise ConfigError(f"{where}: unknown top-level key {key!r}{_suggest(key, [*_SECTIONS, 'source'])}. "
                          f"Known sections: {', '.join([*_SECTIONS, 'source'])}.")
    sections: dict[str, Any] = {}
    for name, (cls, schema) in _SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{name}] must be a table.")
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in schema:
                raise ConfigError(f"{where}: [{name}] has an unknown key {key!r}{_suggest(key, list(schema))}. "
                                  f"Known keys: {', '.join(schema)}.")
            attr, check = schema[key]
            try:
                values[attr] = check(value)
            except ValueError as exc:
                raise ConfigError(f"{where}: [{name}] {key}: {exc}.") from None
        sections[name] = cls(**values)
    raw_sources = data.get("source", [])
    if not isinstance(raw_sources, list):
        raise ConfigError(f"{where}: 'source' must be written as [[source]] tables.")
    lines = source_lines or []
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw_sources):
        line = lines[i] if i < len(lines) else 0
        src = _parse_source(entry, i, line, where)
        if src.id in seen:
            raise ConfigError(f"{where}: source {src.id!r} (line {line}) has the same id as the source "
                              f"at line {seen[src.id]}; ids must be unique.")
        seen[src.id] = line
        sources.append(src)
    return Config(path=path, sources=tuple(sources), **sections)


def _parse_source(entry: Any, index: int, line: int, where: str) -> Source:
    label = f"{where}: [[source]] #{index + 1}" + (f" (line {line})" if line else "")
    if not isinstance(entry, dict):
        raise ConfigError(f"{label} must be a table.")
    sid = entry.get("id")
    if isinstance(sid, str) and sid:
        label = f"{where}: source {sid!r}" + (f" (line {line})" if line else "")
    for key in entry:
        if key not in _SOURCE_KEYS:
            raise ConfigError(f"{label} has an unknown key {key!r}{_suggest(key, _SOURCE_KEYS)}. "
                              f"Known keys: {', '.join(_SOURCE_KEYS)}.")
    if "id" not in entry:
        raise ConfigError(f"{label} has no 'id'; give every source a short unique id.")
    if not isinstance(sid, str) or not _ID_RE.match(sid):
        raise ConfigError(f"{label} key 'id': expected letters, digits, '.', '_' or '-', got {sid!r}.")
    if "url" not in entry:
        raise ConfigError(f"{label} has no 'url'.")
    checked: dict[str, Any] = {}
    for key, check, default in (("url", _http_url, None), ("title", _type(str, "a string"), ""),
                                ("cites", _strings, []), ("article_line", _non_negative_int, 0),
                                ("article", _type(str, "a path"), "")):
        try:
            checked[key] = check(entry.get(key, default))
        except ValueError as exc:
            raise ConfigError(f"{label} key {key!r}: {exc}.") from None
    quotes = entry.get("quotes", [])
    if not isinstance(quotes, list):
        raise ConfigError(f"{label} key 'quotes': expected a list of strings or tables.")
    parsed = tuple(_parse_quote(q, f"{label} key 'quotes' item {n + 1}") for n, q in enumerate(quotes))
    cited_in = _parse_citations(entry.get("cited_in", []), label)
    if checked["article"] and all(c.article != checked["article"] for c in cited_in):
        cited_in = (Citation(checked["article"], tuple(checked["cites"]), checked["article_line"]), *cited_in)
    return Source(id=sid, url=checked["url"], title=checked["title"], cites=tuple(checked["cites"]),
                  quotes=parsed, line=line, article_line=checked["article_line"],
                  article=checked["article"], cited_in=cited_in)


def _parse_citations(items: Any, label: str) -> tuple[Citation, ...]:
    """`cited_in = [{ article = "a.md", notes = ["1"], line = 12 }, ...]`, as `init --merge` writes it."""
    if not isinstance(items, list):
        raise ConfigError(f"{label} key 'cited_in': expected a list of tables {{ article = \"...\" }}.")
    out = []
    for n, item in enumerate(items, 1):
        where = f"{label} key 'cited_in' item {n}"
        if not isinstance(item, dict) or not isinstance(item.get("article"), str) or not item["article"]:
            raise ConfigError(f"{where}: expected a table with an 'article' path, got {item!r}.")
        unknown = [k for k in item if k not in _CITATION_KEYS]
        if unknown:
            raise ConfigError(f"{where} has an unknown key {unknown[0]!r}. Known keys: {', '.join(_CITATION_KEYS)}.")
        try:
            notes, line = _strings(item.get("notes", [])), _non_negative_int(item.get("line", 0))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}.") from None
        out.append(Citation(item["article"], notes, line))
    return tuple(out)


def _parse_quote(q: Any, label: str) -> Quote:
    if isinstance(q, str):
        q = {"text": q}
    if not isinstance(q, dict):
        raise ConfigError(f"{label}: expected a string or a table {{ text = \"...\" }}, got {q!r}.")
    for key in q:
        if key not in _QUOTE_KEYS:
            raise ConfigError(f"{label} has an unknown key {key!r}{_suggest(key, _QUOTE_KEYS)}. "
                              f"Known keys: {', '.join(_QUOTE_KEYS)}.")
    text = q.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{label}: the quote text is empty; a quote must contain the words to look for.")
    for key in ("prefix", "suffix", "note"):
        if not isinstance(q.get(key, ""), str):
            raise ConfigError(f"{label} key {key!r}: expected a string.")
    kind = q.get("kind", QuoteKind.QUOTE.value)
    if kind not in {k.value for k in QuoteKind}:
        raise ConfigError(f"{label} key 'kind': expected \"quote\" or \"paraphrase\", got {kind!r}.")
    locator = q.get("locator")
    if locator is not None and (isinstance(locator, bool) or not isinstance(locator, int) or locator < 1):
        raise ConfigError(f"{label} key 'locator': expected a paragraph number (1 or more), got {locator!r}.")
    return Quote(text=text, prefix=q.get("prefix", ""), suffix=q.get("suffix", ""), locator=locator,
                 note=q.get("note", ""), kind=QuoteKind(kind))
