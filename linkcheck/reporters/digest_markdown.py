"""The digest as Markdown: pastes cleanly into an email, a GitHub issue or a wiki. Changed words
are bold (the page) or struck (the quote); with `[report] base_url` every link is absolute, so
the digest still works when mailed."""

from __future__ import annotations

from ..digest import Digest, Item
from .common import Runs, md_escape, passage_label, word_diff

_ICON = {"broken": "❌", "warning": "⚠️", "ok": "✅"}


def _links(item: Item, prefix: str) -> str:
    return " · ".join(f"[{label}]({href})" for label, href in item.links(prefix))


def _head(item: Item) -> str:
    name = f"**{md_escape(item.id)}**" + (f" — {md_escape(item.title)}" if item.title else "")
    return f"- {_ICON.get(item.status, '')} {name}"


def _marked(runs: Runs, mark: str) -> str:
    """Changed words wrapped in `mark` (`**` or `~~`), the spaces around them kept outside."""
    out = []
    for text, changed in runs:
        core = text.strip()
        if changed and core:
            lead, trail = text[:len(text) - len(text.lstrip())], text[len(text.rstrip()):]
            out.append(f"{lead}{mark}{md_escape(core)}{mark}{trail}")
        else:
            out.append(md_escape(text))
    return "".join(out)


def _details(item: Item) -> list[str]:
    out = []
    if item.was:
        out.append(f"  Recovered from: {md_escape(item.was)}.")
    for q in item.quotes_off:
        quoted, page = word_diff(q["text"], q["found_text"], b_around=True)
        out.append(f"  - quoted: “{_marked(quoted, '~~')}”")
        out.append(f"    - {passage_label(q['match'])}: “{_marked(page, '**')}”")
    for q in item.word_changes:  # the passage changed since the last pass, the quote still found
        if q not in item.quotes_off and q.get("previous_text") and q.get("found_text"):
            before, after = word_diff(q["previous_text"], q["found_text"])
            out.append(f"  - quoted: “{md_escape(q['text'])}”")
            out.append(f"    - the passage said: {_marked(before, '~~')}")
            out.append(f"    - it now says: {_marked(after, '**')}")
    for change in item.drift_changes:
        before, after = word_diff(change["before"], change["after"])
        out.append(f"  - quoted: “{md_escape(change['quote'])}”")
        out.append(f"    - before: {_marked(before, '~~')}")
        out.append(f"    - now: {_marked(after, '**') or '(gone)'}")
    out += [f"  - removed: ~~{md_escape(t)}~~" for t in item.removed]
    out += [f"  - added: **{md_escape(t)}**" for t in item.added]
    if advice := item.advice():
        out.append(f"  **What to do:** {md_escape(advice)}")
    return out


def _section(title: str, items: list[Item], prefix: str, empty: str, streak: bool = False,
             diff: bool = False) -> list[str]:
    out = [f"## {title} ({len(items)})", ""]
    if not items:
        return [*out, f"_{empty}_", ""]
    for item in items:
        out.append(_head(item))
        if item.message:
            out.append(f"  {md_escape(item.message)}")
        if streak and item.count:
            out.append(f"  First seen {item.first_seen}, last seen {item.last_seen}, "
                       f"{item.count} check{'s' if item.count != 1 else ''} in a row.")
        if diff:
            out.append(f"  Checked {item.checked}" + (f", similarity {item.similarity:.2f}" if item.similarity
                                                       is not None else "") + ".")
        out += _details(item)
        out.append(f"  {_links(item, prefix)}")
    return [*out, ""]


def _articles(d: Digest) -> list[str]:
    """Each article's problems first, for its editor; then the sources several articles share."""
    out = ["## By article", ""] if d.articles else []  # an article with no problem has nothing to list
    for a in d.articles:
        out += [f"### {_ICON.get(a.status, '')} {md_escape(a.title or a.path)}", "", f"`{a.path}`", ""]
        for item, c in a.items:
            notes = f" (note{'s' if len(c.get('notes', [])) > 1 else ''} {', '.join(c['notes'])})" \
                if c.get("notes") else ""
            out.append(f"- {_ICON.get(item.status, '')} **{md_escape(item.id)}**{notes}, line {c.get('line', 0)}: "
                       f"{md_escape(item.message) or ', '.join(item.problems)}")
            if c.get("sentence"):
                out.append(f"  > {md_escape(c['sentence'])}")
        out.append("")
    if d.shared:
        out += [f"## Sources shared by several articles ({len(d.shared)})", ""]
        for item in d.shared:
            where = "; ".join(f"{md_escape(c.get('title') or c['article'])} ({', '.join(c.get('notes', [])) or '—'})"
                              for c in item.cited_in)
            out.append(f"- {_ICON.get(item.status, '')} [{md_escape(item.id)}]({item.url}): cited in {where}")
        out.append("")
    return out


def render(d: Digest) -> str:
    """Markdown digest for editors."""
    p = d.snapshot_prefix
    out = [f"# Citation digest, {d.since[:10]} to {d.until[:10]}", "",
           f"{len(d.broke)} broken, {len(d.changed)} changed, {len(d.recovered)} recovered, "
           f"{len(d.unverifiable)} could not be verified, {len(d.archived)} newly archived.", ""]
    out += _articles(d)
    out += _section("What broke", d.broke, p, "Nothing broke.", streak=True)
    out += _section("What changed", d.changed, p, "No cited page changed.", diff=True)
    out += _section("What recovered", d.recovered, p, "Nothing recovered.")
    out += _section("Still unverifiable", d.unverifiable, p, "Every source could be read.", streak=True)
    out += _section("Archived", d.archived, p, "No new Wayback captures.")
    out += ["## Every source now", "", "| | source | link | problems | checked |", "|---|---|---|---|---|"]
    for i in d.current:
        out.append(f"| {_ICON.get(i.status, '')} | [{md_escape(i.id)}]({i.url}) | {i.link} | "
                   f"{', '.join(i.problems) or '—'} | {i.checked} |")
    return "\n".join(out).rstrip() + "\n"
