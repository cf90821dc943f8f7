"""The editors' digest over a period, built from history: what broke, what changed (with the
diff excerpts), what recovered, what is still unverifiable, what was archived, and every
source's current status. Newest problems first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .config import Config
from .durations import stamp
from .store import Store

UNVERIFIABLE_LINKS = ("unreachable", "blocked", "refused")
_SEVERITY = {"broken": 0, "warning": 1, "ok": 2}


@dataclass(frozen=True)
class Item:
    """One source's line in the digest; `result` is the stored result it describes."""

    id: str
    url: str
    title: str
    status: str
    link: str
    problems: tuple[str, ...]
    message: str
    checked: str
    snapshot: str | None
    wayback: str | None
    first_seen: str = ""
    last_seen: str = ""
    count: int = 0
    quote_changes: tuple[dict[str, str], ...] = ()
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    similarity: float | None = None
    cited_in: tuple[dict[str, Any], ...] = ()  # the articles citing it: article, notes, line, sentence, title
    word_changes: tuple[dict[str, Any], ...] = ()  # quotes whose words differ from the page or the last pass

    def links(self, snapshot_prefix: str) -> list[tuple[str, str]]:
        """(label, href) of the live page, the local snapshot and the Wayback capture it has."""
        found = [("live page", self.url)]
        if self.snapshot:
            found.append(("local snapshot", snapshot_prefix + self.snapshot))
        if self.wayback:
            found.append(("Wayback copy", self.wayback))
        return found


@dataclass(frozen=True)
class ArticleProblems:
    """One article's editor's view: its sources that are not ok, worst first."""

    path: str
    title: str
    status: str
    items: list[tuple[Item, dict[str, Any]]]  # (the source, how this article cites it)


@dataclass(frozen=True)
class Digest:
    since: str
    until: str
    snapshot_prefix: str = ""  # from where the digest is written to the config's folder
    broke: list[Item] = field(default_factory=list)
    changed: list[Item] = field(default_factory=list)
    recovered: list[Item] = field(default_factory=list)
    unverifiable: list[Item] = field(default_factory=list)
    archived: list[Item] = field(default_factory=list)
    current: list[Item] = field(default_factory=list)
    articles: list[ArticleProblems] = field(default_factory=list)  # articles with a source not ok
    shared: list[Item] = field(default_factory=list)  # sources cited by several articles


def _by_article(current: list[Item]) -> tuple[list[ArticleProblems], list[Item]]:
    """Each article's problems (articles with a broken source first), and the shared sources."""
    groups: dict[str, ArticleProblems] = {}
    for item in current:  # already worst first
        if item.status == "ok":
            continue
        for c in item.cited_in:
            group = groups.setdefault(c["article"], ArticleProblems(c["article"], c.get("title", ""), item.status, []))
            group.items.append((item, c))
    articles = sorted(groups.values(), key=lambda g: (_SEVERITY.get(g.status, 3), g.path))
    shared = [i for i in current if len({c["article"] for c in i.cited_in}) > 1]
    return articles, shared


def _item(r: dict[str, Any], **extra: Any) -> Item:
    drift = r.get("drift", {})
    wayback = r.get("archive", {}).get("wayback", {})
    return Item(id=r["id"], url=r["url"], title=r.get("title", ""), status=r["status"], link=r["link"],
                problems=tuple(r.get("problems", [])), message=r.get("message", ""), checked=r["checked"],
                snapshot=r.get("archive", {}).get("snapshot"), wayback=wayback.get("url"),
                quote_changes=tuple(drift.get("quote_changes", [])), removed=tuple(drift.get("removed", [])),
                added=tuple(drift.get("added", [])), similarity=drift.get("similarity"),
                cited_in=tuple(r.get("cited_in", [])),
                word_changes=tuple(q for q in r.get("quotes", []) if q.get("changes") or q.get("passage_changes")),
                **extra)


def _streak(history: list[dict[str, str]], pred: Any) -> list[dict[str, str]]:
    """The newest results for which `pred` holds, newest first, up to the first that does not."""
    out = []
    for r in history:
        if not pred(r):
            break
        out.append(r)
    return out


def build_digest(store: Store, config: Config, since: float, now: datetime | None = None,
                 snapshot_prefix: str = "") -> Digest:
    now = now or datetime.now(UTC)
    digest = Digest(since=stamp(now - timedelta(seconds=since)), until=stamp(now), snapshot_prefix=snapshot_prefix)
    known = {s.id for s in config.sources}
    for latest in store.latest_results():
        if latest["id"] not in known:
            continue  # removed from the config since
        digest.current.append(_item(latest))
        bad = latest["status"] == "broken" or latest["link"] in UNVERIFIABLE_LINKS
        # Typed rows only (no detail read): the whole streak when the source is in trouble now,
        # else the period's rows, enough to see a recovery.
        timeline = store.timeline(latest["id"], "" if bad else digest.since)
        recent = [r for r in timeline if r["checked"] >= digest.since]
        if latest["status"] == "broken" and latest["checked"] >= digest.since:
            streak = _streak(timeline, lambda r: r["status"] == "broken")
            digest.broke.append(_item(latest, first_seen=streak[-1]["checked"], last_seen=streak[0]["checked"],
                                      count=len(streak)))
        elif latest["link"] in UNVERIFIABLE_LINKS and latest["checked"] >= digest.since:
            streak = _streak(timeline, lambda r: r["link"] in UNVERIFIABLE_LINKS)
            digest.unverifiable.append(_item(latest, first_seen=streak[-1]["checked"],
                                             last_seen=streak[0]["checked"], count=len(streak)))
        elif any(r["status"] == "broken" or r["link"] in UNVERIFIABLE_LINKS for r in recent[1:]):
            was = next(r for r in recent[1:] if r["status"] == "broken" or r["link"] in UNVERIFIABLE_LINKS)
            digest.recovered.append(_item(latest, first_seen=was["checked"], last_seen=latest["checked"]))
        news = store.changes_since(latest["id"], digest.since)  # drift and captures live in the detail
        digest.changed.extend(_item(r) for r in news if r.get("drift", {}).get("state") == "changed")
        digest.archived.extend(_item(r) for r in news
                               if r.get("archive", {}).get("wayback", {}).get("state") == "saved")
    digest.broke.sort(key=lambda i: i.first_seen, reverse=True)
    digest.unverifiable.sort(key=lambda i: i.first_seen, reverse=True)
    digest.changed.sort(key=lambda i: i.checked, reverse=True)
    digest.recovered.sort(key=lambda i: i.last_seen, reverse=True)
    digest.archived.sort(key=lambda i: i.checked, reverse=True)
    digest.current.sort(key=lambda i: (_SEVERITY.get(i.status, 3), i.id))
    articles, shared = _by_article(digest.current)
    digest.articles.extend(articles)
    digest.shared.extend(shared)
    return digest


def render_digest(fmt: str, digest: Digest) -> str:
    from .reporters import digest_html, digest_json, digest_markdown

    renderers = {"markdown": digest_markdown.render, "html": digest_html.render, "json": digest_json.render}
    return renderers[fmt](digest)
