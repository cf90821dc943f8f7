"""The digest as one self-contained HTML file: inline CSS, no external assets, readable on a
phone (the reason for a status is never hidden), diffs shown as deletions and insertions with the
changed words marked, and a "what to do" line on every card that needs one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from ..digest import Digest, Item
from ..durations import parse_stamp
from .common import Runs, passage_label, word_diff

_CSS = """
:root { color-scheme: light dark; --fg:#1d1d1f; --bg:#fff; --muted:#5f6368; --line:#e3e3e6;
  --bad:#b3261e; --warn:#8a5a00; --good:#1e7b34; --del:#fde7e9; --ins:#e6f4ea; --card:#fafafa; }
@media (prefers-color-scheme: dark) { :root { --fg:#e8e8ea; --bg:#151517; --muted:#a0a0a8; --line:#333;
  --bad:#ff8a80; --warn:#ffcc66; --good:#81c995; --del:#4a1f22; --ins:#1c3b26; --card:#1d1d20; } }
* { box-sizing: border-box; }
body { margin:0; padding:16px; font:16px/1.5 -apple-system, "Segoe UI", Roboto, "Noto Sans",
  "Hiragino Sans", "Noto Sans CJK JP", sans-serif; color:var(--fg); background:var(--bg); }
main { max-width: 860px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0 0 4px; } h2 { font-size: 1.2rem; margin: 28px 0 8px;
  border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.lede { color: var(--muted); margin: 0 0 8px; }
.counts { display:flex; flex-wrap:wrap; gap:8px; padding:0; margin:12px 0; list-style:none; }
.counts li { border:1px solid var(--line); border-radius:8px; padding:6px 10px; }
.card { border:1px solid var(--line); border-left:4px solid var(--line); border-radius:8px;
  padding:10px 12px; margin:10px 0; background:var(--card); overflow-wrap:anywhere; }
.card.broken { border-left-color: var(--bad); } .card.warning { border-left-color: var(--warn); }
.card.ok { border-left-color: var(--good); }
.card h3 { font-size:1rem; margin:0 0 4px; } .meta { color:var(--muted); font-size:.9rem; margin:4px 0; }
.badge { display:inline-block; font-size:.8rem; border-radius:999px; padding:0 8px; margin-right:4px;
  border:1px solid currentColor; }
.broken .badge.status { color:var(--bad); } .warning .badge.status { color:var(--warn); }
.ok .badge.status { color:var(--good); }
.diff { margin:8px 0; padding:0; list-style:none; }
.diff li { margin:4px 0; padding:4px 8px; border-radius:6px; }
.quoted { border:1px solid var(--line); } .label { color:var(--muted); font-size:.85rem; }
del, .del { background:var(--del); text-decoration: line-through; text-decoration-thickness: 1px; }
ins, .ins { background:var(--ins); text-decoration: none; }
mark { background:#ffe066; color:#1d1d1f; border-radius:2px; padding:0 1px; }
.todo { border-left:3px solid var(--fg); padding:2px 8px; margin:8px 0; }
.was { color:var(--muted); }
blockquote { margin:6px 0; padding:2px 10px; border-left:3px solid var(--line); color:var(--muted); }
.links a { margin-right: 12px; white-space: nowrap; display:inline-block; padding:4px 0; }
table { width:100%; border-collapse:collapse; font-size:.9rem; }
th, td { text-align:left; padding:6px; border-bottom:1px solid var(--line); vertical-align:top; }
td { overflow-wrap:anywhere; } .empty { color:var(--muted); font-style:italic; }
@media (max-width: 600px) { body { padding:10px; } .hide-narrow { display:none; } }
"""

_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_LABEL = {"broken": "broken", "warning": "warning", "ok": "ok"}
_STAMP_RE = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b")


def when(ts: str) -> str:
    """`2026-11-27T08:00:09Z` as `27 Nov 2026, 08:00 UTC`."""
    try:
        return parse_stamp(ts).strftime("%d %b %Y, %H:%M UTC").lstrip("0")
    except ValueError:
        return ts


def marked(text: str, words: Sequence[str]) -> str:
    """`text` escaped for HTML, each of `words` in it wrapped in <mark> (whole words, except CJK)."""
    alternatives = [re.escape(w) if _CJK_RE.search(w) else rf"(?<!\w){re.escape(w)}(?!\w)"
                    for w in sorted({w for w in words if w.strip()}, key=len, reverse=True)]
    if not alternatives:
        return escape(text)
    out, last = [], 0
    for m in re.finditer("|".join(alternatives), text):
        out += [escape(text[last:m.start()]), f"<mark>{escape(m.group())}</mark>"]
        last = m.end()
    return "".join([*out, escape(text[last:])])


def _links(item: Item, prefix: str) -> str:
    anchors = "".join(f'<a href="{escape(href)}">{label}</a>' for label, href in item.links(prefix))
    return f'<p class="links">{anchors}</p>'


def _runs(runs: Runs) -> str:
    """Word-diff runs as HTML, the changed words in <mark>."""
    return "".join(f"<mark>{escape(t)}</mark>" if changed and t.strip() else escape(t) for t, changed in runs)


def _quotes_off(item: Item) -> list[str]:
    out = []
    for q in item.quotes_off:
        quoted, page = word_diff(q["text"], q["found_text"], b_around=True)
        changes = "".join(f'<li>{escape(c["quote"]) or "(nothing)"} → '
                          + (f'<mark>{escape(c["page"])}</mark>' if c["page"] else "(nothing)") + "</li>"
                          for c in q.get("changes") or [])
        out.append(f'<li class="quoted"><span class="label">Quoted in the article</span> “{_runs(quoted)}”'
                   f'<br><span class="label">{passage_label(q["match"])}</span> “{_runs(page)}”'
                   + (f'<ul class="changes">{changes}</ul>' if changes else "") + "</li>")
    return ['<ul class="diff">', *out, "</ul>"] if out else []


def _drift(item: Item) -> list[str]:
    if not (item.drift_changes or item.removed or item.added):  # quotes_off already shows the others
        return []
    sim = f" · similarity {item.similarity:.2f}" if item.similarity is not None else ""
    out = [f'<p class="meta">The text changed{sim}</p><ul class="diff">']
    for c in item.drift_changes:
        before, after = word_diff(c["before"], c["after"])
        out.append(f'<li class="quoted"><span class="label">Quoted in the article</span> “{escape(c["quote"])}”'
                   f'<br><span class="label">the page said</span> <del>{_runs(before)}</del>'
                   f'<br><span class="label">it now says</span> <ins>{_runs(after) or "(gone)"}</ins></li>')
    out += [f'<li class="del"><del>{escape(t)}</del></li>' for t in item.removed]
    out += [f'<li class="ins"><ins>{escape(t)}</ins></li>' for t in item.added]
    out.append("</ul>")
    return out


def _card(item: Item, prefix: str, streak: bool = False, diff: bool = False) -> str:
    title = escape(item.title or item.url)
    out = [f'<article class="card {escape(item.status)}" id="{escape(item.id)}-{escape(item.checked)}">',
           f'<h3><span class="badge status">{_LABEL.get(item.status, item.status)}</span>'
           f'{escape(item.id)}</h3>',
           f'<p class="meta">{title} · {escape(item.link)}'
           + (f' · {escape(", ".join(p for p in item.problems if p != item.link))}'
              if set(item.problems) - {item.link} else "") + "</p>"]
    if item.message:
        out.append(f"<p>{escape(item.message)}</p>")
    if item.was:
        was = _STAMP_RE.sub(lambda m: when(m[0]), item.was)  # dated like the rest of the page
        out.append(f'<p class="was">Recovered from: {escape(was)}</p>')
    for q in item.word_changes:  # passages that changed since the last pass (quotes_off shows the others)
        if q in item.quotes_off:
            continue
        words = [c["page"] for c in q.get("changes", [])] + [c["after"] for c in q.get("passage_changes", [])]
        out.append(f'<p class="quoted"><span class="label">Quoted</span> “{escape(q["text"])}”<br>'
                   f'<span class="label">the page says</span> {marked(q.get("found_text") or "", words)}</p>')
    if streak and item.count:
        out.append(f'<p class="meta">First seen {when(item.first_seen)} · last seen {when(item.last_seen)}'
                   f' · {item.count} check{"s" if item.count != 1 else ""} in a row</p>')
    if diff:
        out.append(f'<p class="meta">Changed on {when(item.checked)}</p>')
    out += _quotes_off(item)
    out += _drift(item)
    if advice := item.advice():
        linked = re.sub(r"https?://\S+", lambda m: f'<a href="{m[0]}">{m[0]}</a>', escape(advice))
        out.append(f'<p class="todo"><strong>What to do:</strong> {linked}</p>')
    out.append(_links(item, prefix))
    out.append("</article>")
    return "\n".join(out)


def _section(sid: str, title: str, items: list[Item], prefix: str, empty: str, **kw: bool) -> str:
    body = "\n".join(_card(i, prefix, **kw) for i in items) or f'<p class="empty">{escape(empty)}</p>'
    return f'<section id="{sid}"><h2>{escape(title)} ({len(items)})</h2>\n{body}\n</section>'


def _notes(notes: Sequence[str]) -> str:
    """` (note 1)`, ` (notes 1, 4)`, or nothing."""
    return f' (note{"s" if len(notes) > 1 else ""} {escape(", ".join(notes))})' if notes else ""


def _articles(d: Digest) -> str:
    """Each article's problems first, for its editor; then the sources several articles share."""
    parts = []
    for a in d.articles:
        items = "".join(
            f'<li class="{escape(item.status)}"><strong>{escape(item.id)}</strong>'
            f'{_notes(c.get("notes") or [])}, line {c.get("line", 0)}: '
            f'{escape(item.message or ", ".join(item.problems))}'
            f'{"<blockquote>" + escape(c["sentence"]) + "</blockquote>" if c.get("sentence") else ""}</li>'
            for item, c in a.items)
        parts.append(f'<section class="article"><h2>{escape(a.title or a.path)}</h2><p><code>{escape(a.path)}'
                     f'</code></p><ul>{items}</ul></section>')
    if d.shared:
        items = "".join(f'<li><a href="{escape(i.url)}">{escape(i.id)}</a> ({escape(i.status)}): cited in '
                        f'{escape("; ".join(c.get("title") or c["article"] for c in i.cited_in))}</li>'
                        for i in d.shared)
        parts.append(f'<section id="shared"><h2>Sources shared by several articles ({len(d.shared)})</h2>'
                     f'<ul>{items}</ul></section>')
    return "\n".join(parts)


def render(d: Digest) -> str:
    """One self-contained HTML page."""
    p = d.snapshot_prefix
    rows = "\n".join(  # the reason sits in the same cell as the status: a phone never hides it
        f'<tr class="{escape(i.status)}"><td><span class="badge status">{escape(i.status)}</span>'
        f'<br>{escape(", ".join(i.problems) or i.link)}</td>'
        f'<td><a href="{escape(i.url)}">{escape(i.id)}</a></td>'
        f'<td class="hide-narrow">{when(i.checked)}</td></tr>' for i in d.current)
    counts = (f"<li>{len(d.broke)} broken</li><li>{len(d.changed)} changed</li>"
              f"<li>{len(d.recovered)} recovered</li><li>{len(d.unverifiable)} unverifiable</li>"
              f"<li>{len(d.archived)} archived</li>")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Citation digest {when(d.since)} – {when(d.until)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>Citation digest</h1>
<p class="lede">{when(d.since)} to {when(d.until)}</p>
<ul class="counts">{counts}</ul>
{_articles(d)}
{_section("broke", "What broke", d.broke, p, "Nothing broke.", streak=True)}
{_section("changed", "What changed", d.changed, p, "No cited page changed.", diff=True)}
{_section("recovered", "What recovered", d.recovered, p, "Nothing recovered.")}
{_section("unverifiable", "Still unverifiable", d.unverifiable, p, "Every source could be read.", streak=True)}
{_section("archived", "Archived", d.archived, p, "No new Wayback captures.")}
<section id="current"><h2>Every source now ({len(d.current)})</h2>
<table><thead><tr><th>status and why</th><th>source</th><th class="hide-narrow">checked</th></tr></thead>
<tbody>
{rows}
</tbody></table></section>
</main>
</body>
</html>
"""
