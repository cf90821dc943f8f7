"""The settings a `sources.toml` describes, as frozen dataclasses with their defaults. Reading and
checking the file is `config.py`'s job."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .db import is_postgres
from .models import Source
from .storage import Storage

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
    lookups_per_minute: float = 20.0  # the CDX server refuses above ~30/min; other clients use 24
    # "" means the documented host when wayback_url is the real archive, else wayback_url's own
    # /wayback/available (a test double or a mirror answers both).
    availability_url: str = ""
    # TimeTravel's JSON API, asked for dead sources without a Wayback capture; "" means the public
    # aggregator with the real archive, and none at all when wayback_url points elsewhere.
    memento_url: str = ""
    retry_backoff: float = 600.0  # first wait after a temporary refusal, doubled per attempt (cap 1d)
    job_timeout: float = 120.0  # how long one SPN job is polled before it is left for a later drain


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
    path: str = "snapshots"  # beside the config, any folder (one every worker mounts), or an fsspec URL
    storage_options: dict[str, Any] = field(default_factory=dict)  # fsspec's, for a URL: never credentials


@dataclass(frozen=True)
class WorkerSettings:
    """`linkcheck worker` and `check --distribute` (PostgreSQL history only)."""

    batch: int = 10  # sources per job
    heartbeat: float = 10.0  # how often a worker says it is alive
    stalled_after: float = 30.0  # a worker silent this long is dead: its jobs go to another worker


@dataclass(frozen=True)
class NotifySettings:
    urls: tuple[str, ...] = ()  # Apprise URLs: slack://, matrixs://, msteams://, discord://, ntfys://, mailtos://, json://
    webhook: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_from: str = ""
    smtp_to: tuple[str, ...] = ()
    smtp_starttls: bool = True

    @property
    def enabled(self) -> bool:
        return bool(self.urls or self.webhook or (self.smtp_host and self.smtp_to))


@dataclass(frozen=True)
class ReportSettings:
    base_url: str = ""  # where the config's folder is served (reports/, snapshots/): links become absolute


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
    report: ReportSettings = field(default_factory=ReportSettings)
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
    def snapshot_storage(self) -> Storage:
        """Where snapshots are written: `[snapshots] path`, relative to the config's folder, or a URL."""
        return Storage(self.root, self.snapshots.path, self.snapshots.storage_options)

    @property
    def database(self) -> Path | str:
        """What `Store.open` takes: the SQLite file, or the PostgreSQL URL."""
        return self.history.database if is_postgres(self.history.database) else self.db_path
