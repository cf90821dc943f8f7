"""`linkcheck fix`: what InternetArchiveBot does for Wikipedia, for any publication. A citation
whose source is dead or a soft 404, or whose quote was lost, and that has a Wayback capture not
known to miss the quote, gets its archived copy written into the article:

- Markdown and text: `([archived 2023-07-12](https://web.archive.org/web/...))` after the link;
- HTML: Robust Links attributes (`data-versionurl`, `data-versiondate`) on the `<a>` and a
  visible archived link after it;
- wikitext: `archive-url`, `archive-date`, `url-status=dead` on the cite template (or a
  `{{webarchive}}` after a bare external link), as Wikipedia's editors expect.

Nothing else in the file changes (byte for byte, line endings included). What the last pass read
is the reference: a file changed since is refused (exit 2) rather than edited blindly.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import mwparserfromhell

from .adapters.twitter import tweet_url
from .article import is_html
from .config import Config
from .errors import UsageError
from .fsutil import atomic_write
from .models import GONE
from .store import Store
from .wikitext import is_cite, is_wikitext, param

_URL_END = r"(?![\w/?#=&%~+@-]|[.,;:!][\w/])"  # the URL ends here: `http://a/p` is not `http://a/p2`


@dataclass(frozen=True)
class Repair:
    url: str
    archived: str
    date: str  # YYYY-MM-DD of the capture


@dataclass(frozen=True)
class Unfixed:
    """A dead or lost citation `fix` has no archived copy to link to."""

    article: str
    notes: tuple[str, ...]
    url: str
    reason: str

    def line(self) -> str:
        notes = f" (note {', '.join(self.notes)})" if self.notes else ""
        return f"could not fix {self.article}{notes}: {self.url} — {self.reason}\n"


def _needs_fix(result: dict[str, Any]) -> bool:
    return result.get("link") in GONE or any(q.get("lost") for q in result.get("quotes", []))


def _capture_before(history: list[dict[str, Any]]) -> tuple[str, str | None] | None:
    """The capture the last good pass knew of (the page alive, every quote found), as (url,
    timestamp): a verified one when a pass verified it, else the newest. A capture taken after the
    page died or changed would archive the wrong page."""
    good = [r for r in history if r.get("link") in ("alive", "redirected") and not any(
        q.get("match") in ("missing", "altered") for q in r.get("quotes", []))]
    waybacks = [r.get("archive", {}).get("wayback", {}) for r in good]
    usable = [w for w in waybacks if w.get("url") and w.get("verified") is not False]
    best = next((w for w in usable if w.get("verified")), usable[0] if usable else None)
    return (best["url"], best.get("timestamp")) if best else None


def _date(timestamp: str | None) -> str:
    ts = timestamp or ""
    return f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}" if len(ts) >= 8 else ""


def _why_unfixed(config: Config, result: dict[str, Any]) -> str:
    if not config.archive.wayback:
        return "Wayback is off ([archive] wayback = false), so no archived copy is known"
    if result.get("link") in GONE:
        return "no archived copy of the page is known"
    return "no archived copy holds the quote"


def plan(config: Config, store: Store, articles: set[str] | None) -> tuple[dict[str, list[Repair]], list[Unfixed]]:
    """Article path → the repairs it needs, from the last pass, and the citations that need one but
    have no archived copy to link; refuses (UsageError) when an article changed since that pass read it."""
    latest = {r["id"]: r for r in store.latest_results()}
    repairs: dict[str, list[Repair]] = {}
    unfixed: list[Unfixed] = []
    verified: set[tuple[str, str]] = set()  # (article, hash) read and found unchanged: once each
    for src in config.sources:
        result = latest.get(src.id)
        if result is None or not _needs_fix(result):
            continue
        capture = _capture_before(store.history(src.id))
        if capture is None:
            known = store.capture(tweet_url(src.url) or src.url)
            dead_all_along = result.get("link") in GONE  # then the newest capture predates the death
            capture = (known.url, known.timestamp) if known and known.url and known.verified is not False \
                and dead_all_along else None
        for cited in result.get("cited_in", []):
            if "://" in cited["article"] or (articles is not None and cited["article"] not in articles):
                continue  # a published article read from a feed is not ours to edit
            if capture is None:  # no archived copy known to hold what the article cites
                unfixed.append(Unfixed(cited["article"], tuple(cited.get("notes", ())), src.url,
                                       _why_unfixed(config, result)))
                continue
            read = (cited["article"], cited.get("sha256", ""))
            if read not in verified:
                _unchanged_since_pass(config.root / read[0], read[1])
                verified.add(read)
            repairs.setdefault(cited["article"], []).append(Repair(src.url, capture[0], _date(capture[1])))
    return repairs, unfixed


def _unchanged_since_pass(path: Path, sha256: str) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"fix: {path} cannot be read ({exc.strerror})") from None
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise UsageError(f"fix: {path} changed since the last check pass read it; run `linkcheck check` "
                         "again, then `linkcheck fix`")


def _text_edit(text: str, r: Repair, markdown: bool) -> str:
    """An archived link after each link to `r.url` (inline link, autolink or bare URL)."""
    added = f" ([archived {r.date}]({r.archived}))" if markdown else f" (archived {r.date}: {r.archived})"
    pattern = re.compile(r"(\]\()?(<)?" + re.escape(r.url) + _URL_END + r"(?(1)(?:\s+\"[^\"]*\")?\))(?(2)>)")
    out, last = [], 0
    for m in pattern.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        before = text[line_start:m.start()]
        if re.match(r"\s{0,3}\[[^\]]+\]:\s*<?$", before) or re.search(r"/web/\d+[a-z_]*/$", before) or \
                text.startswith((added, " ([archived", " (archived"), m.end()):
            continue  # a link definition (no room for a link), an archived copy, or repaired already
        out += [text[last:m.end()], added]
        last = m.end()
    return "".join(out) + text[last:]


def _html_edit(text: str, r: Repair) -> str:
    """Robust Links attributes on each `<a href=URL>` and a visible archived link after it."""
    hrefs = "|".join(re.escape(u) for u in dict.fromkeys((r.url, escape(r.url))))
    pattern = re.compile(r"<a\b[^>]*?\bhref\s*=\s*([\"'])(?:" + hrefs + r")\1[^>]*>", re.I)
    out, last = [], 0
    for m in pattern.finditer(text):
        close = text.find("</a>", m.end())
        if "data-versionurl" in m.group(0) or close < 0:
            continue
        opening = m.group(0)[:-1].rstrip("/") + (f' data-versionurl="{escape(r.archived)}" '
                                                 f'data-versiondate="{r.date}">')
        out += [text[last:m.start()], opening, text[m.end():close + 4],
                f' (<a href="{escape(r.archived)}">archived {r.date}</a>)']
        last = close + 4
    return "".join(out) + text[last:]


def _wiki_edit(text: str, r: Repair) -> str:
    code = mwparserfromhell.parse(text)
    for t in code.filter_templates(recursive=True):
        if not (is_cite(t) and param(t, "url") == r.url):
            continue
        if not t.has("archive-url"):
            code.replace(t, _with_archive(str(t), r))
        elif param(t, "url-status") == "live":  # archived while alive: now the archive is the link to follow
            status = t.get("url-status")
            status.value = str(status.value).replace("live", "dead")
    for link in code.filter_external_links(recursive=True):
        if str(link.url) == r.url and link.brackets and r.archived not in text:
            code.insert_after(link, f" {{{{webarchive |url={r.archived} |date={r.date}}}}}")
    return str(code)


def _with_archive(template: str, r: Repair) -> str:
    """The template with archive-url, archive-date and url-status=dead, written in the template's
    own style (`|a=b`, ` |a=b`, one `| a = b` per line) so the diff is only what was added."""
    inner = template[:-2]
    kept = inner.rstrip()
    sep = "\n|" if "\n|" in template else (" |" if " |" in template else "|")
    eq = " = " if re.search(r"\|\s*[\w-]+\s+=\s", template) else "="
    pad = " " if sep == "\n|" and eq == " = " else ""
    added = "".join(f"{sep}{pad}{k}{eq}{v}" for k, v in (("archive-url", r.archived), ("archive-date", r.date),
                                                          ("url-status", "dead")))
    return kept + added + inner[len(kept):] + "}}"


def _editor(name: str, text: str) -> Callable[[str, Repair], str]:
    if is_wikitext(name):
        return _wiki_edit
    if is_html(text, name):
        return _html_edit
    markdown = name.lower().endswith((".md", ".markdown"))
    return lambda t, r: _text_edit(t, r, markdown)


def run_fix(config: Config, articles: set[str] | None, dry_run: bool) -> tuple[str, str]:
    """Apply (or, with `dry_run`, show as a unified diff) every repair; the text to print, and the
    citations left unfixed (apart, so that a dry run's diff stays a patch)."""
    store = Store.open(config.database)
    try:
        repairs, unfixed = plan(config, store, articles)
    finally:
        store.close()
    out: list[str] = []
    for article, todo in sorted(repairs.items()):
        path = config.root / article
        before = path.read_bytes().decode("utf-8")
        edit = _editor(path.name, before)
        after = before
        for r in todo:
            after = edit(after, r)
        if after == before:
            continue
        if dry_run:
            out += difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"a/{article}", f"b/{article}")
        else:
            mode = path.stat().st_mode
            atomic_write(path, after)
            path.chmod(mode)  # the editor's file keeps its permissions
            out.append(f"{article}: archived links added for {len(todo)} citation{'s' if len(todo) != 1 else ''}\n")
    left = "".join(u.line() for u in unfixed)
    return "".join(out) or ("nothing to fix: no archived copy is known for the citations below\n" if left else
                            "nothing to fix: no dead or changed citation lacks the archived link it could have\n"), left
