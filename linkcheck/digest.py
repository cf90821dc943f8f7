"""The editors' digest over a period, built from history: what broke, what changed (with the
diff excerpts), what recovered (and from what), what is still unverifiable, what was archived,
and every source's current status. Newest problems first. Each source has one card: a broken
source that also changed shows its diff on its "broke" card, not a second card. Each card
says what to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .config import Config
from .durations import stamp
from .models import GONE, SEVERITY
from .storage import href
from .store import Store

UNVERIFIABLE_LINKS = ("unreachable", "blocked", "refused")
CARD_SECTIONS = ("broke", "changed", "recovered", "unverifiable", "archived")  # `current` is a table
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
    final_url: str = ""
    quotes: tuple[dict[str, Any], ...] = ()  # {text, match, found_text, changes?} as stored
    was: str = ""  # for a recovered source: what it recovered from
    page: str | None = None  # the readable page of the snapshot (see snapshot_page), beside the digest
    saved_before: str = ""  # when `snapshot` is from an earlier pass, the page then good (now dead): its check time

    def links(self, snapshot_prefix: str) -> list[tuple[str, str]]:
        """(label, href) of the live page, the saved copy (readable page, else the WARC file) and
        the Wayback capture it has."""
        found = [("live page", self.url)]
        saved = f"saved copy of {self.saved_before[:10]}" if self.saved_before else "saved copy"
        if self.page:
            found.append((saved, snapshot_prefix + self.page))
        elif self.snapshot:
            found.append((f"{saved} (WARC)", href(snapshot_prefix, self.snapshot)))
        if self.wayback:
            found.append(("Wayback copy", self.wayback))
        return found

    @property
    def quotes_off(self) -> list[dict[str, Any]]:
        """Quotes the page no longer holds as written, with what it says instead, if anything."""
        return [q for q in self.quotes if q.get("match") in ("missing", "altered") and q.get("found_text")]

    @property
    def drift_changes(self) -> list[dict[str, str]]:
        """Passages that changed since the last pass, except those `quotes_off` already shows."""
        shown = {q["text"] for q in self.quotes_off}
        return [c for c in self.quote_changes if c["quote"] not in shown]

    def advice(self) -> str:
        """The one thing an editor should do about this source, or "" when nothing."""
        problems = set(self.problems)
        if problems & {"dead", "soft-404", "confirmed-dead"}:
            if self.wayback:
                return f"Cite the archived copy: {self.wayback}"
            if self.saved_before:  # only this checker's own copy: a reader cannot be sent there
                return (f"No public archived copy is known; the saved copy of {self.saved_before[:10]} below shows "
                        "what was cited: submit it to an archive, find the page elsewhere, or replace it.")
            return "No archived copy is known: find the page elsewhere (the publisher, another archive) or replace it."
        if problems & {"quote-missing", "quote-lost", "quote-altered", "quote-changed"}:
            return ("Re-read the passage as the page has it now and correct the quote or the article"
                    + (f", or cite the archived copy that still holds it: {self.wayback}" if self.wayback else "."))
        if "redirected" in problems and self.final_url and self.final_url != self.url:
            return f"Update the citation to the redirect target: {self.final_url}"
        if "content-changed" in problems:
            return "Re-read the page: its text changed, though every quote is still found."
        if self.link in UNVERIFIABLE_LINKS:
            return "Nothing to do yet: it is tried again at every pass; if this lasts, open the page in a browser."
        return ""


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
    articles = sorted(groups.values(), key=lambda g: (SEVERITY.get(g.status, 3), g.path))
    shared = [i for i in current if len({c["article"] for c in i.cited_in}) > 1]
    return articles, shared


def _item(r: dict[str, Any], changed: dict[str, Any] | None = None, **extra: Any) -> Item:
    """The card for result `r`; `changed` is the source's newest changed result in the period,
    whose diff the card shows."""
    drift = (changed or r).get("drift", {})
    wayback = r.get("archive", {}).get("wayback", {})
    extra.setdefault("snapshot", r.get("archive", {}).get("snapshot"))
    return Item(id=r["id"], url=r["url"], title=r.get("title", ""), status=r["status"], link=r["link"],
                problems=tuple(r.get("problems", [])), message=r.get("message", ""), checked=r["checked"],
                wayback=wayback.get("url"),
                quote_changes=tuple(drift.get("quote_changes", [])), removed=tuple(drift.get("removed", [])),
                added=tuple(drift.get("added", [])), similarity=drift.get("similarity"),
                cited_in=tuple(r.get("cited_in", [])), final_url=r.get("final_url") or "",
                quotes=tuple(r.get("quotes", [])),
                word_changes=tuple(q for q in r.get("quotes", []) if q.get("changes") or q.get("passage_changes")),
                **extra)


_GOOD_LINKS = ("alive", "redirected")


def _saved_before(latest: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """For a source now dead, the newest snapshot of a pass that found the page alive, as Item
    fields: the last copy of what the article cited; no snapshot when history has none left (the
    error page's own snapshot, a soft 404's, is no saved copy of what was cited)."""
    if latest["link"] not in GONE:
        return {}
    good = next((r for r in history if r["link"] in _GOOD_LINKS and r.get("archive", {}).get("snapshot")), None)
    return {"snapshot": good["archive"]["snapshot"], "saved_before": good["checked"]} if good else {"snapshot": None}


def _bad(r: dict[str, Any]) -> bool:
    return bool(r["status"] == "broken" or r["link"] in UNVERIFIABLE_LINKS)


def _was(bad: list[dict[str, Any]]) -> str:
    """What a recovered source recovered from: `dead (HTTP 404) on 3 passes since …`."""
    newest = bad[0]
    why = ", ".join(newest.get("problems", [])) or newest["link"]
    message = f" ({newest['message']})" if newest.get("message") else ""
    return f"{why}{message} on {len(bad)} pass{'es' if len(bad) != 1 else ''} from {bad[-1]['checked']}"


def _streak(history: list[dict[str, Any]], pred: Any) -> list[dict[str, Any]]:
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
        # Whole results only for a source in trouble in the period; else only those whose stored
        # detail changed (drift, captures): a big history is not read source by source in full.
        troubled = _bad(latest) or latest["link"] in GONE or any(
            _bad(r) for r in store.timeline(latest["id"], digest.since)[1:])
        history = store.history(latest["id"]) if troubled else store.changes_since(latest["id"], digest.since)
        saved = _saved_before(latest, history)
        recent = [r for r in history if r["checked"] >= digest.since]
        changed = next((r for r in recent if r.get("drift", {}).get("state") == "changed"), None)
        digest.current.append(_item(latest, **saved))
        if latest["status"] == "broken" and latest["checked"] >= digest.since:
            streak = _streak(history, lambda r: r["status"] == "broken")
            digest.broke.append(_item(latest, changed, first_seen=streak[-1]["checked"],
                                      last_seen=streak[0]["checked"], count=len(streak), **saved))
        elif latest["link"] in UNVERIFIABLE_LINKS and latest["checked"] >= digest.since:
            streak = _streak(history, lambda r: r["link"] in UNVERIFIABLE_LINKS)
            digest.unverifiable.append(_item(latest, changed, first_seen=streak[-1]["checked"],
                                             last_seen=streak[0]["checked"], count=len(streak)))
        elif any(_bad(r) for r in recent[1:]):
            bad = _streak(history[history.index(next(r for r in recent[1:] if _bad(r))):], _bad)
            # The diff of the pass that broke it is no news once the source is back ("now" would
            # show the broken text): only a change found by the latest pass itself is shown.
            news = changed if changed is recent[0] else None
            digest.recovered.append(_item(latest, news, first_seen=bad[0]["checked"],
                                          last_seen=latest["checked"], was=_was(bad)))
        elif changed is not None:  # one card per source: a source listed above shows its change there
            digest.changed.append(_item(changed))
        digest.archived.extend(_item(r) for r in recent
                               if r.get("archive", {}).get("wayback", {}).get("state") == "saved")
    digest.broke.sort(key=lambda i: i.first_seen, reverse=True)
    digest.unverifiable.sort(key=lambda i: i.first_seen, reverse=True)
    digest.changed.sort(key=lambda i: i.checked, reverse=True)
    digest.recovered.sort(key=lambda i: i.last_seen, reverse=True)
    digest.archived.sort(key=lambda i: i.checked, reverse=True)
    digest.current.sort(key=lambda i: (SEVERITY.get(i.status, 3), i.id))
    articles, shared = _by_article(digest.current)
    digest.articles.extend(articles)
    digest.shared.extend(shared)
    return digest


def render_digest(fmt: str, digest: Digest) -> str:
    from .reporters import digest_html, digest_json, digest_markdown

    renderers = {"markdown": digest_markdown.render, "html": digest_html.render, "json": digest_json.render}
    return renderers[fmt](digest)
