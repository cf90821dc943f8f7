"""`linkcheck init --from ARTICLE`: write (or merge into) a sources.toml from an article's notes,
and optionally run a first check that shows, for each quote not found verbatim, the words the
page really has."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import tomllib
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from .article import Cited, Parsed, parse_article
from .config import load_config
from .errors import UsageError
from .fsutil import atomic_write
from .models import MatchKind
from .reporters.common import plural

HEADER = """# Sources cited by {article}, written by `linkcheck init`.
# Review the quotes: a paraphrase or a translation will not be found on the page; replace it by
# the source's own words (`linkcheck init --check` shows them).

"""


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def source_id(url: str, taken: set[str]) -> str:
    """A short, stable, readable id: the site's name and the page's last path segment."""
    parts = urlsplit(url)
    labels = [x for x in (parts.hostname or "").split(".") if x not in ("www", "jp", "m", "mobile")]
    site = labels[-2] if len(labels) >= 2 else (labels[0] if labels else "source")
    if site in ("co", "go", "ac", "or", "ne", "com", "gov") and len(labels) >= 3:
        site = labels[-3]
    segments = [s for s in parts.path.split("/") if s]
    tail = re.sub(r"\.(s?html?|php|aspx?)$", "", segments[-1] if segments else "")
    if site in ("twitter", "x") and len(segments) >= 3:
        tail = f"{segments[0]}-{segments[-1]}"
    base = re.sub(r"[^a-z0-9]+", "-", f"{site}-{tail}".lower()).strip("-")[:48].strip("-") or "source"
    sid, n = base, 2
    while sid in taken:
        sid, n = f"{base}-{n}", n + 1
    taken.add(sid)
    return sid


def _quote_lines(cited: Cited) -> list[str]:
    lines = []
    for text, locator, sentence in cited.quotes:
        comment = sentence if len(sentence) <= 200 else sentence[:199] + "…"
        lines.append(f"  # from: {comment}")
        if locator is not None:
            lines.append(f"  {{ text = {_toml_str(text)}, locator = {locator} }},")
        else:
            lines.append(f"  {_toml_str(text)},")
    return lines


def render_source(cited: Cited, sid: str, article: str) -> str:
    out = ["[[source]]", f"id = {_toml_str(sid)}", f"url = {_toml_str(cited.url)}"]
    if cited.title:
        out.append(f"title = {_toml_str(cited.title)}")
    if cited.cites:
        out.append("cites = [" + ", ".join(_toml_str(c) for c in cited.cites) + "]")
    out += [f"article = {_toml_str(article)}", f"article_line = {cited.line}"]
    if cited.quotes:
        out += ["quotes = [", *_quote_lines(cited), "]"]
    return "\n".join(out) + "\n"


def render_config(parsed: Parsed, article: str) -> str:
    taken: set[str] = set()
    blocks = [render_source(c, source_id(c.url, taken), article) for c in parsed.sources]
    return HEADER.format(article=article) + "\n".join(blocks)


def merge_config(existing: str, parsed: Parsed, article: str) -> tuple[str, int, int]:
    """Add new sources and new quotes to an existing config's text, keeping everything else as
    written (comments, manual edits). Returns (text, sources added, quotes added)."""
    data = tomllib.loads(existing)
    entries = [e for e in data.get("source", []) if isinstance(e, dict)]
    index_of = {e.get("url"): i for i, e in enumerate(entries)}
    taken = {str(e.get("id")) for e in entries}
    lines = existing.rstrip("\n").split("\n")
    heads = [i for i, line in enumerate(lines) if re.match(r"^\s*\[\[\s*source\s*\]\]", line)]
    appended: list[str] = []
    updates: list[tuple[int, Cited]] = []
    for cited in parsed.sources:
        if cited.url not in index_of:
            appended.append(render_source(cited, source_id(cited.url, taken), article))
            continue
        entry = entries[index_of[cited.url]]
        have = {q if isinstance(q, str) else q.get("text") for q in entry.get("quotes", [])}
        new = [q for q in cited.quotes if q[0] not in have]
        if new:
            updates.append((index_of[cited.url], Cited(cited.url, cited.title, cited.cites, new)))
    for index, cited in sorted(updates, key=lambda u: u[0], reverse=True):  # bottom-up: heads stay valid
        end = heads[index + 1] if index + 1 < len(heads) else len(lines)
        _add_quotes(lines, heads[index], end, _quote_lines(cited))
    text = "\n".join(lines) + "\n" + "".join("\n" + block for block in appended)
    return text, len(appended), sum(len(c.quotes) for _, c in updates)


def _add_quotes(lines: list[str], start: int, end: int, new: list[str]) -> None:
    """Insert quote lines into the block lines[start:end], extending its `quotes` array."""
    for i in range(start, end):
        if not re.match(r"^\s*quotes\s*=\s*\[", lines[i]):
            continue
        depth = 0
        for j in range(i, end):
            code = re.sub(r'"(?:\\.|[^"\\])*"|#.*$', "", lines[j]).rstrip()
            depth += code.count("[") - code.count("]")
            if depth <= 0:  # lines[j] closes the array
                head, _, tail = lines[j].rpartition("]")
                body = head.rstrip()
                if body and not body.endswith((",", "[")):
                    body += ","
                lines[j:j + 1] = [body, *new, "]" + tail] if body.strip() else [*new, "]" + tail]
                return
    at = end
    while at > start + 1 and not lines[at - 1].strip():
        at -= 1
    lines[at:at] = ["quotes = [", *new, "]"]


def run_init(article: Path, output: Path, force: bool, merge: bool, check: bool) -> int:
    try:
        raw = article.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--from: {article} cannot be read ({exc.strerror})") from None
    parsed = parse_article(raw, article.name)
    if not parsed.sources:
        raise UsageError(f"--from: no cited URL found in {article} (notes look like '[1] Title https://...')")
    rel = os.path.relpath(article.resolve(), output.resolve().parent)
    for warning in parsed.warnings:
        print(f"linkcheck: warning: {warning}", file=sys.stderr)
    if output.exists() and merge:
        text, n_src, n_quotes = merge_config(output.read_text(encoding="utf-8"), parsed, rel)
        summary = f"added {plural(n_src, 'source')} and {plural(n_quotes, 'quote')} to {output}"
    elif output.exists() and not force:
        raise UsageError(f"{output} already exists; use --force to overwrite it or --merge to add to it")
    else:
        text = render_config(parsed, rel)
        summary = f"wrote {output}: {plural(len(parsed.sources), 'source')}, " \
                  f"{plural(sum(len(s.quotes) for s in parsed.sources), 'quote')}"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # merging into hand-made TOML we could not follow
        raise UsageError(f"--merge: could not merge into {output} safely ({exc}); nothing was written") from None
    atomic_write(output, text)
    print(summary)
    if check:
        return _first_check(output)
    return 0


def _first_check(config_path: Path) -> int:
    from .pipeline import run_pass

    # The first check runs in a scratch folder: `init --check` leaves nothing behind but its
    # output (no history database, lock, snapshots or reports beside the new sources.toml).
    with tempfile.TemporaryDirectory(prefix="linkcheck-init-") as scratch:
        config = replace(load_config(config_path), path=Path(scratch) / config_path.name)
        run = asyncio.run(run_pass(config, archive=False))
    for o in run.outcomes:
        for q in o.quotes:
            if q.match is MatchKind.EXACT:
                continue
            if q.match is MatchKind.UNVERIFIABLE:
                print(f"{o.source.id}: could not check “{q.text}” ({o.message})")
            else:
                print(f"{o.source.id}: “{q.text}” is {q.match.value} (score {q.score:.2f})")
                if q.found_text:
                    print(f"    the page says: “{q.found_text}”")
    return 0
