"""Records shared by every stage of a check pass. Stdlib only; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol


class LinkState(StrEnum):
    """What became of the cited URL itself."""

    ALIVE = "alive"
    REDIRECTED = "redirected"
    SOFT_404 = "soft-404"
    DEAD = "dead"
    UNREACHABLE = "unreachable"
    BLOCKED = "blocked"
    REFUSED = "refused"


class MatchKind(StrEnum):
    """How a quoted passage was found on the page, strongest first."""

    EXACT = "exact"
    NORMALIZED = "normalized"
    FUZZY = "fuzzy"
    ALTERED = "altered"  # the quoted passage is there but differs in a fact (see `QuoteMatch.changes`)
    MISSING = "missing"
    UNVERIFIABLE = "unverifiable"


class DriftState(StrEnum):
    NEW = "new"
    UNCHANGED = "unchanged"
    CHANGED = "changed"


class CaptureState(StrEnum):
    """State of a source's Wayback Machine capture after this pass."""

    EXISTING = "existing"
    SAVED = "saved"
    QUEUED = "queued"  # a save waits in the archive queue (history), worked off at the archive's rate
    PENDING = "pending"
    FAILED = "failed"
    SKIPPED = "skipped"


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BROKEN = "broken"


# Worst first: the order in which reports and digests list sources and articles.
SEVERITY: dict[str, int] = {Status.BROKEN: 0, Status.WARNING: 1, Status.OK: 2}
GONE: tuple[str, ...] = (LinkState.DEAD, LinkState.SOFT_404)  # the cited page is no more: cite a saved copy


# The problem vocabulary of CONTRACT.md (extend, never rename).
PROBLEMS = (
    "dead", "soft-404", "redirected", "unreachable", "timeout", "too-large", "blocked",
    "bot-wall", "refused", "redirect-loop", "quote-missing", "quote-lost", "quote-fuzzy",
    "content-changed", "confirmed-dead", "archive-failed", "quote-altered", "quote-changed",
    "internal-error", "no-text",
)


class QuoteKind(StrEnum):
    """What the article does with a passage: quotes it word for word, or restates it."""

    QUOTE = "quote"
    PARAPHRASE = "paraphrase"


@dataclass(frozen=True)
class Change:
    """One word-level difference, in reading order: what the quote (or the old passage) says,
    and what the page says now. Either side may be empty (a word added or dropped)."""

    quote: str
    page: str


@dataclass(frozen=True)
class Citation:
    """Where an article cites a source: the article's path (or URL), its note numbers, the line."""

    article: str
    notes: tuple[str, ...] = ()
    line: int = 0
    sentence: str = ""  # the article's sentence that cites the source (for the digest)
    title: str = ""  # the article's title
    sha256: str = ""  # of the article's bytes when the pass read it: `fix` refuses a file changed since


@dataclass(frozen=True)
class Quote:
    """A passage the article relies on. `prefix`/`suffix` disambiguate like a W3C TextQuoteSelector;
    `locator` is a paragraph number for numbered official texts."""

    text: str
    prefix: str = ""
    suffix: str = ""
    locator: int | None = None
    note: str = ""
    kind: QuoteKind = QuoteKind.QUOTE


@dataclass(frozen=True)
class Source:
    id: str
    url: str
    title: str = ""
    cites: tuple[str, ...] = ()
    quotes: tuple[Quote, ...] = ()
    line: int = 0  # line of the [[source]] header in the config, for annotations
    article_line: int = 0  # line of the citation in the article, when made by `init --from`
    article: str = ""
    cited_in: tuple[Citation, ...] = ()  # every article citation of this URL (`[articles]`)


@dataclass(frozen=True)
class Hop:
    url: str
    status: int


@dataclass(frozen=True)
class FetchResult:
    """Outcome of fetching one URL. `error` is set when no readable page was obtained."""

    url: str
    final_url: str
    status_code: int | None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""  # decoded (Content-Encoding undone), at most max_bytes
    raw: bytes = b""  # as received on the wire, for the WARC record
    hops: tuple[Hop, ...] = ()
    error: LinkState | None = None
    problems: tuple[str, ...] = ()
    message: str = ""
    fetched_at: str = ""

    def header(self, name: str) -> str:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), "")


def media_type(content_type: str) -> str:
    """`text/html; charset=utf-8` → `text/html`: a Content-Type without its parameters, lower-cased
    (media types are case-insensitive); "" when there is none."""
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class PageText:
    """The readable side of a page: its visible text in blocks, and the main (article) part."""

    text: str  # visible text, block boundaries as newlines, whitespace collapsed within blocks
    main: str  # visible text of the main content only (no navigation, footers, banners...)
    title: str = ""
    headings: tuple[str, ...] = ()
    encoding: str = ""
    language: str = ""
    paragraphs: dict[int, str] = field(default_factory=dict)  # numbered paragraphs, if any
    author: str = ""
    published: str = ""


@dataclass(frozen=True)
class QuoteMatch:
    text: str
    match: MatchKind
    score: float
    found_text: str | None
    lost: bool = False  # found on an earlier pass, missing now
    changes: tuple[Change, ...] = ()  # for `altered`: each word-level difference, quote → page
    page: int | None = None  # in a PDF: the page `found_text` starts on (1-based)
    kind: QuoteKind = QuoteKind.QUOTE  # a paraphrase is located, never `missing` for its wording
    previous_text: str | None = None  # the passage as it read on the last pass, when it reads differently now
    passage_changes: tuple[Change, ...] = ()  # ... word by word: Change(quote=then, page=now)


@dataclass(frozen=True)
class Drift:
    state: DriftState
    similarity: float | None = None
    quote_changes: tuple[tuple[str, str, str], ...] = ()  # (quote, before, after)
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capture:
    state: CaptureState
    url: str | None = None
    timestamp: str | None = None  # YYYYMMDDhhmmss
    message: str = ""
    verified: bool | None = None  # replayed and holds every quote found live; None: not checked
    elsewhere: str | None = None  # for a dead page without one: the best capture in another web archive
    elsewhere_date: str | None = None  # its Memento-Datetime, as the aggregator gave it


@dataclass(frozen=True)
class SourceOutcome:
    source: Source
    final_url: str
    http_status: int | None
    status: Status
    link: LinkState
    quotes: tuple[QuoteMatch, ...]
    drift: Drift
    capture: Capture
    snapshot: str | None
    problems: tuple[str, ...]
    message: str
    text_hash: str | None = None
    failures: int = 0  # consecutive failed passes, this one included
    first_failed: str | None = None
    encoding: str = ""  # the codec the page was decoded with
    author: str = ""  # for tweets: who posted it
    published: str = ""  # for tweets: when, as oEmbed shows it
    not_modified: bool = False  # a conditional request was answered 304: the last findings were reused


class Outcomes(Protocol):
    """A pass's outcomes, in the sources' order: a tuple, or (`outcomes.StoredOutcomes`) read back
    from history on each iteration so that a pass never holds them all."""

    def __iter__(self) -> Iterator[SourceOutcome]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class Tally:
    """A pass's counters, kept while it runs: what its summary needs without its outcomes."""

    ok: int = 0
    warning: int = 0
    broken: int = 0
    internal_errors: int = 0
    not_modified: int = 0

    @classmethod
    def of(cls, outcomes: Iterable[SourceOutcome]) -> Tally:
        tally = cls()
        for o in outcomes:
            tally = tally.add(o)
        return tally

    def add(self, o: SourceOutcome) -> Tally:
        return Tally(self.ok + (o.status is Status.OK), self.warning + (o.status is Status.WARNING),
                     self.broken + (o.status is Status.BROKEN),
                     self.internal_errors + ("internal-error" in o.problems), self.not_modified + o.not_modified)

    def count(self, status: Status) -> int:
        return {Status.OK: self.ok, Status.WARNING: self.warning, Status.BROKEN: self.broken}[status]


@dataclass(frozen=True)
class CheckRun:
    started: str
    finished: str
    outcomes: Outcomes
    tally: Tally | None = None  # the outcomes' counters; None: counted from `outcomes` when asked
    report: Path | None = None  # the JSON report written of exactly these outcomes (reports/<time>[_N].json)

    @property
    def counts(self) -> Tally:
        return self.tally if self.tally is not None else Tally.of(self.outcomes)

    def count(self, status: Status) -> int:
        return self.counts.count(status)

    def internal_errors(self) -> int:
        """Sources whose check hit a bug (the pass went on without them)."""
        return self.counts.internal_errors

    def not_modified(self) -> int:
        """Sources whose server answered a conditional request with 304."""
        return self.counts.not_modified
