"""`sources.toml` → `Config`. Every error names the file and the line (syntax) or the source id
and key (schema), in one paragraph, and is raised as `ConfigError`."""

from __future__ import annotations

import difflib
import ipaddress
import re
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli

from .db import is_postgres
from .db import url_problem as postgres_url_problem
from .durations import parse_duration
from .errors import ConfigError
from .models import PROBLEMS, Citation, LinkState, Quote, QuoteKind, Source
from .settings import (
    ArchiveSettings,
    ArticleSettings,
    Config,
    FetchSettings,
    HistorySettings,
    NotifySettings,
    PolicySettings,
    ReportSettings,
    ScheduleSettings,
    SnapshotSettings,
    TwitterSettings,
    WorkerSettings,
)
from .storage import location_problem as storage_problem
from .tomllines import Errors, KeyLines, toml_error

# The settings are defined in settings.py; callers keep importing them from here.
__all__ = ["FAIL_ON_NAMES", "ArchiveSettings", "ArticleSettings", "Config", "FetchSettings", "HistorySettings",
           "NotifySettings", "PolicySettings", "ReportSettings", "ScheduleSettings", "SnapshotSettings",
           "TwitterSettings", "WorkerSettings", "load_config", "parse_config", "url_problem"]

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
    """One syntax for every duration key: a number of seconds, or a string such as "20s", "15m", "6h", "7d"."""
    return parse_duration(_type((str, int, float), 'a number of seconds or a duration such as "30d"')(v))


def _positive_duration(v: Any) -> float:
    seconds = _duration(v)
    if seconds <= 0:
        raise ValueError(f"expected a duration greater than 0, got {v!r}")
    return seconds


def _pause(v: Any) -> float:
    """A duration, or a negative number of seconds for "never" (`recheck_pause = -1`)."""
    if isinstance(v, int | float) and not isinstance(v, bool) and v < 0:
        return float(v)
    return _duration(v)


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


def _header_value(v: Any) -> str:
    """A string an HTTP header can carry as it is: printable ASCII (httpx refuses anything else)."""
    v = _type(str, "a string")(v)
    odd = next((c for c in v if not " " <= c <= "~"), None)
    if odd is not None:
        raise ValueError(f"expected printable ASCII (it is sent as an HTTP header), got {v!r} with {odd!r} "
                         f"at position {v.index(odd)}")
    return str(v)


def _snapshot_folder(v: Any) -> str:
    v = _type(str, 'a folder such as "snapshots" or "/srv/shared/snapshots", or a URL such as "s3://bucket/prefix"')(v)
    problem = storage_problem(v)
    if problem:
        raise ValueError(problem)
    return str(v)


_CREDENTIAL_WORDS = {"key", "secret", "token", "password", "passwd", "credentials", "sas"}


def _storage_options(v: Any, where: str = "") -> dict[str, Any]:
    """fsspec's options for the snapshot URL's backend (endpoint, region...), never its credentials."""
    if not isinstance(v, dict):
        raise ValueError(f'expected a table such as {{ endpoint_url = "https://minio.example.org" }}, got {v!r}')
    for key, value in v.items():
        if _CREDENTIAL_WORDS & set(key.lower().split("_")):
            raise ValueError(f"{where + key!r} looks like a credential, and credentials never go in the config: the "
                             "backend reads its usual environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                             "~/.aws for s3://, GOOGLE_APPLICATION_CREDENTIALS for gs://)")
        if isinstance(value, dict):
            _storage_options(value, f"{where}{key}.")
    return dict(v)


def _database(v: Any) -> str:
    v = _type(str, 'a file name such as "linkcheck.db" or a URL such as "postgresql://user@host/db"')(v)
    if not v.strip():
        raise ValueError("expected a file name or a postgresql:// URL, got an empty string")
    problem = postgres_url_problem(v) if is_postgres(v) else ""
    if problem:
        raise ValueError(problem)
    return str(v)


def _notify_urls(v: Any) -> tuple[str, ...]:
    """Apprise URLs, parsed offline (no message is sent) so that `validate` catches a typo."""
    import apprise

    items = _strings(v)
    for item in items:
        if not apprise.Apprise().add(item):
            raise ValueError(f"{item.split('://')[0]!r}://… is not a notification URL Apprise understands "
                             "(see https://github.com/caronc/apprise/wiki for each service's form)")
    return items


def _base_url(v: Any) -> str:
    url = _http_url(v)
    return url if url.endswith("/") else url + "/"


def _timezone(v: Any) -> str:
    """An IANA zone name the daemon's scheduler will accept (checked here, not when it starts)."""
    v = _type(str, "a time zone name such as Europe/Paris")(v)
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}; use an IANA name such as Europe/Paris or UTC") from None
    return str(v)


def _schedule(v: Any) -> str:
    from .schedule import parse_trigger  # the daemon's own parser (here: apscheduler is ~25 ms of a start)

    v = _type(str, 'a schedule such as "every 6h" or "0 8 * * mon"')(v)
    parse_trigger(v, "UTC")  # so that `validate` catches what the daemon would
    return str(v)


_SECTIONS: dict[str, tuple[type, dict[str, tuple[str, Check]]]] = {
    "fetch": (FetchSettings, {
        "timeout": ("timeout", _positive_duration),
        "retries": ("retries", _non_negative_int),
        "max_bytes": ("max_bytes", _positive(int, "a number of bytes")),
        "concurrency": ("concurrency", _positive(int, "a whole number")),
        "per_host": ("per_host", _positive(int, "a whole number")),
        "allow_private": ("allow_private", _type(bool, "true or false")),
        "allow_networks": ("allow_networks", _networks),
        "user_agent": ("user_agent", _header_value),
        "max_redirects": ("max_redirects", _non_negative_int),
        "backoff": ("backoff", _positive_duration),
        "max_backoff": ("max_backoff", _positive_duration),
        "recheck_pause": ("recheck_pause", _pause),
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
        "availability_url": ("availability_url", _http_url),
        "memento_url": ("memento_url", _http_url),
        "retry_backoff": ("retry_backoff", _duration),
        "job_timeout": ("job_timeout", _duration),
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
        "storage_options": ("storage_options", _storage_options),
    }),
    "workers": (WorkerSettings, {
        "batch": ("batch", _positive(int, "a whole number")),
        "heartbeat": ("heartbeat", _duration),
        "stalled_after": ("stalled_after", _duration),
    }),
    "notify": (NotifySettings, {
        "urls": ("urls", _notify_urls),
        "webhook": ("webhook", _http_url),
        "smtp_host": ("smtp_host", _type(str, "a host name")),
        "smtp_port": ("smtp_port", _positive(int, "a port number")),
        "smtp_from": ("smtp_from", _type(str, "an address")),
        "smtp_to": ("smtp_to", _strings),
        "smtp_starttls": ("smtp_starttls", _type(bool, "true or false")),
    }),
    "report": (ReportSettings, {
        "base_url": ("base_url", _base_url),
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
_SPACE_RE = re.compile(r"\s")  # what str.isspace() calls whitespace


def url_problem(url: str) -> str:
    """Why `url` cannot be checked, or "" when it is a usable http(s) URL."""
    if not url or _SPACE_RE.search(url):
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
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise ConfigError(toml_error(path, text, exc)) from None
    config = parse_config(data, path, text)
    from .publication import with_articles, with_hashes  # they need this module's types

    return with_hashes(with_articles(config, text) if config.articles.include or config.articles.feeds
                       else config)


def parse_config(data: dict[str, Any], path: Path, text: str = "") -> Config:
    """`data` as a Config; every error in it is reported at once (one line each)."""
    lines, errors = KeyLines(text), Errors(str(path))
    for key in data:
        if key not in _SECTIONS and key != "source":
            errors.add(lines.line("", 0, key) or lines.line(key),
                       f"unknown top-level key {key!r}{_suggest(key, [*_SECTIONS, 'source'])}. "
                       f"Known sections: {', '.join([*_SECTIONS, 'source'])}.")
    sections: dict[str, Any] = {}
    for name, (cls, schema) in _SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            errors.add(lines.line("", 0, name), f"[{name}] must be a table.")
            table = {}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in schema:
                errors.add(lines.line(name, 0, key), f"[{name}] has an unknown key {key!r}"
                           f"{_suggest(key, list(schema))}. Known keys: {', '.join(schema)}.")
                continue
            attr, check = schema[key]
            try:
                values[attr] = check(value)
            except ValueError as exc:
                errors.add(lines.line(name, 0, key), f"[{name}] {key}: {exc}.")
        sections[name] = cls(**values)
    raw_sources = data.get("source", [])
    if not isinstance(raw_sources, list):
        errors.add(lines.line("", 0, "source"), "'source' must be written as [[source]] tables.")
        raw_sources = []
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw_sources):
        src = _parse_source(entry, i, lines, errors)
        sid = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(sid, str) and _ID_RE.match(sid):  # a source with other errors still takes its id
            at = lines.line("source", i, "id")
            if sid in seen:
                errors.add(at, f"source {sid!r} has the same id as the source at line {seen[sid]}; "
                           "ids must be unique.")
            seen[sid] = at
        if src is not None:
            sources.append(src)
    if errors.messages:
        raise ConfigError(errors.text())
    return Config(path=path, sources=tuple(sources), **sections)


def _parse_source(entry: Any, index: int, lines: KeyLines, errors: Errors) -> Source | None:
    """The source, or None after adding its errors to `errors`."""
    head = lines.line("source", index)
    label = f"[[source]] #{index + 1}"
    if not isinstance(entry, dict):
        errors.add(head, f"{label} must be a table.")
        return None
    sid = entry.get("id")
    if isinstance(sid, str) and sid:
        label = f"source {sid!r}"
    before = len(errors.messages)
    for key in entry:
        if key not in _SOURCE_KEYS:
            errors.add(lines.line("source", index, key), f"{label} has an unknown key {key!r}"
                       f"{_suggest(key, _SOURCE_KEYS)}. Known keys: {', '.join(_SOURCE_KEYS)}.")
    if "id" not in entry:
        errors.add(head, f"{label} has no 'id'; give every source a short unique id.")
    elif not isinstance(sid, str) or not _ID_RE.match(sid):
        errors.add(lines.line("source", index, "id"),
                   f"{label} key 'id': expected letters, digits, '.', '_' or '-', got {sid!r}.")
    if "url" not in entry:
        errors.add(head, f"{label} has no 'url'.")
    checked: dict[str, Any] = {}
    for key, check, default in (("url", _http_url, ""), ("title", _type(str, "a string"), ""),
                                ("cites", _strings, []), ("article_line", _non_negative_int, 0),
                                ("article", _type(str, "a path"), "")):
        if key not in entry:
            checked[key] = default
            continue
        try:
            checked[key] = check(entry[key])
        except ValueError as exc:
            errors.add(lines.line("source", index, key), f"{label} key {key!r}: {exc}.")
    quotes = entry.get("quotes", [])
    at = lines.line("source", index, "quotes")
    if not isinstance(quotes, list):
        errors.add(at, f"{label} key 'quotes': expected a list of strings or tables.")
        quotes = []
    parsed = [_parse_quote(q, f"{label} key 'quotes' item {n + 1}", at, errors) for n, q in enumerate(quotes)]
    try:
        cited_in = _parse_citations(entry.get("cited_in", []), label)
    except ConfigError as exc:
        errors.add(lines.line("source", index, "cited_in"), str(exc))
        cited_in = ()
    if len(errors.messages) > before:
        return None
    if checked["article"] and all(c.article != checked["article"] for c in cited_in):
        cited_in = (Citation(checked["article"], tuple(checked["cites"]), checked["article_line"]), *cited_in)
    return Source(id=str(sid), url=checked["url"], title=checked["title"], cites=tuple(checked["cites"]),
                  quotes=tuple(q for q in parsed if q is not None), line=head,
                  article_line=checked["article_line"], article=checked["article"], cited_in=cited_in)


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


def _parse_quote(q: Any, label: str, line: int, errors: Errors) -> Quote | None:
    if isinstance(q, str):
        q = {"text": q}
    if not isinstance(q, dict):
        errors.add(line, f"{label}: expected a string or a table {{ text = \"...\" }}, got {q!r}.")
        return None
    problems: list[str] = []
    for key in q:
        if key not in _QUOTE_KEYS:
            problems.append(f"{label} has an unknown key {key!r}{_suggest(key, _QUOTE_KEYS)}. "
                            f"Known keys: {', '.join(_QUOTE_KEYS)}.")
    text = q.get("text")
    if (not isinstance(text, str) or not text.strip()) and not problems:  # a misspelt `text` is said above
        problems.append(f"{label}: the quote text is empty; a quote must contain the words to look for.")
    problems += [f"{label} key {key!r}: expected a string." for key in ("prefix", "suffix", "note")
                 if not isinstance(q.get(key, ""), str)]
    kind = q.get("kind", QuoteKind.QUOTE.value)
    if kind not in {k.value for k in QuoteKind}:
        problems.append(f"{label} key 'kind': expected \"quote\" or \"paraphrase\", got {kind!r}.")
    locator = q.get("locator")
    if locator is not None and (isinstance(locator, bool) or not isinstance(locator, int) or locator < 1):
        problems.append(f"{label} key 'locator': expected a paragraph number (1 or more), got {locator!r}.")
    for problem in problems:
        errors.add(line, problem)
    if problems:
        return None
    return Quote(text=str(text), prefix=q.get("prefix", ""), suffix=q.get("suffix", ""), locator=locator,
                 note=q.get("note", ""), kind=QuoteKind(kind))
