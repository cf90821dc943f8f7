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
from dataclasses import dataclass, field, replace
from pathlib import Path

import tomli

from .article import Cited, Parsed, parse_article
from .config import ArticleSettings, FetchSettings, load_config
from .errors import UsageError
from .fsutil import atomic_write
from .models import FetchResult, LinkState, MatchKind
from .publication import base_id
from .reporters.common import plural

HEADER = """# Sources cited by {article}, written by `linkcheck init`.
# Review the quotes: a paraphrase or a translation will not be found on the page; replace it by
# the source's own words (`linkcheck init --check` shows them).

"""


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def source_id(url: str, taken: set[str]) -> str:
    """A short, stable, readable id, unique among `taken` (which it joins)."""
    base = base_id(url)
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


@dataclass
class _Entry:
    """One cited URL across every article read: the first article's view, and every citation."""

    cited: Cited
    citations: list[tuple[str, Cited]] = field(default_factory=list)  # (article, its view)


def _citation_lines(citations: list[tuple[str, Cited]]) -> list[str]:
    return [f"  {{ article = {_toml_str(article)}, notes = [{', '.join(_toml_str(n) for n in c.cites)}], "
            f"line = {c.line} }}," for article, c in citations]


def render_source(entry: _Entry, sid: str) -> str:
    cited = entry.cited
    out = ["[[source]]", f"id = {_toml_str(sid)}", f"url = {_toml_str(cited.url)}"]
    if cited.title:
        out.append(f"title = {_toml_str(cited.title)}")
    if cited.cites:
        out.append("cites = [" + ", ".join(_toml_str(c) for c in cited.cites) + "]")
    out += ["cited_in = [", *_citation_lines(entry.citations), "]"]
    if cited.quotes:
        out += ["quotes = [", *_quote_lines(cited), "]"]
    return "\n".join(out) + "\n"


def _entries(articles: list[tuple[str, Parsed]]) -> list[_Entry]:
    """One entry per URL, however many articles cite it; quotes gathered from all of them."""
    by_url: dict[str, _Entry] = {}
    for article, parsed in articles:
        for c in parsed.sources:
            entry = by_url.get(c.url)
            if entry is None:
                entry = by_url[c.url] = _Entry(Cited(c.url, c.title, list(c.cites), list(c.quotes), c.line))
            else:
                entry.cited.quotes += [q for q in c.quotes if all(q[0] != x[0] for x in entry.cited.quotes)]
            entry.citations.append((article, c))
    return list(by_url.values())


def render_config(articles: list[str], entries: list[_Entry]) -> str:
    """A new config for the `entries` (see `_entries`) of the named articles."""
    taken: set[str] = set()
    blocks = [render_source(e, source_id(e.cited.url, taken)) for e in entries]
    names = ", ".join(articles) if len(articles) <= 3 else f"{len(articles)} articles"
    return HEADER.format(article=names) + "\n".join(blocks)


def merge_config(existing: str, articles: list[tuple[str, Parsed]]) -> tuple[str, int, int, int]:
    """Add new sources, quotes and citations to an existing config's text, keeping everything else
    as written (comments, manual edits). Returns (text, sources, quotes, citations added)."""
    data = tomli.loads(existing)
    entries = [e for e in data.get("source", []) if isinstance(e, dict)]
    index_of = {e.get("url"): i for i, e in enumerate(entries)}
    taken = {str(e.get("id")) for e in entries}
    lines = existing.rstrip("\n").split("\n")
    heads = [i for i, line in enumerate(lines) if re.match(r"^\s*\[\[\s*source\s*\]\]", line)]
    appended: list[str] = []
    updates: list[tuple[int, list[str], list[str]]] = []
    n_quotes = n_citations = 0
    for found in _entries(articles):
        if found.cited.url not in index_of:
            appended.append(render_source(found, source_id(found.cited.url, taken)))
            continue
        entry = entries[index_of[found.cited.url]]
        have = {q if isinstance(q, str) else q.get("text") for q in entry.get("quotes", [])}
        new = [q for q in found.cited.quotes if q[0] not in have]
        known = {entry.get("article")} | {c.get("article") for c in entry.get("cited_in", []) if isinstance(c, dict)}
        citations = [(a, c) for a, c in found.citations if a not in known]
        if new or citations:
            quote_lines = _quote_lines(Cited(found.cited.url, "", quotes=new)) if new else []
            updates.append((index_of[found.cited.url], quote_lines, _citation_lines(citations)))
            n_quotes, n_citations = n_quotes + len(new), n_citations + len(citations)
    for index, quote_lines, citation_lines in sorted(updates, key=lambda u: u[0], reverse=True):
        end = heads[index + 1] if index + 1 < len(heads) else len(lines)  # bottom-up: heads stay valid
        for key, new_lines in (("quotes", quote_lines), ("cited_in", citation_lines)):
            if new_lines:
                end += _add_items(lines, heads[index], end, key, new_lines)
    text = "\n".join(lines) + "\n" + "".join("\n" + block for block in appended)
    return text, len(appended), n_quotes, n_citations


def _add_items(lines: list[str], start: int, end: int, key: str, new: list[str]) -> int:
    """Insert item lines into the block lines[start:end], extending its `key` array (made if
    missing). Returns how many lines the block grew by."""
    before = len(lines)
    for i in range(start, end):
        if not re.match(rf"^\s*{key}\s*=\s*\[", lines[i]):
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
                return len(lines) - before
    at = end
    while at > start + 1 and not lines[at - 1].strip():
        at -= 1
    lines[at:at] = [f"{key} = [", *new, "]"]
    return len(lines) - before


ARTICLE_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".txt", ".wiki", ".wikitext", ".mediawiki")


def _read_url(url: str, settings: FetchSettings) -> tuple[str, str]:
    """A published article's main text (HTML of its <main>/<article>), through the guarded client."""
    from .extract import decode, main_html
    from .fetch import Fetcher, open_client

    async def get() -> FetchResult:
        async with open_client(settings) as client:
            return await Fetcher(client, settings).fetch(url)

    result = asyncio.run(get())
    if result.error is not None:
        hint = " (for init: --allow-private)" if result.error is LinkState.REFUSED else ""
        raise UsageError(f"--from: {url} could not be read: {result.message or result.error.value}{hint}")
    text, _ = decode(result.body, result.header("content-type"))
    return main_html(text), "article.html"


def read_articles(sources: list[str], output: Path, settings: FetchSettings) -> list[tuple[str, Parsed]]:
    """Each article named (files, folders of articles, http(s) URLs) as (name, parsed); a file's
    name is relative to the output's folder, as `cited_in` writes it."""
    found: list[tuple[str, Parsed]] = []
    for given in sources:
        if re.match(r"https?://", given):
            raw, name = _read_url(given, settings)
            found.append((given, parse_article(raw, name)))
            continue
        path = Path(given)
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES) \
            if path.is_dir() else [path]
        for file in files:
            try:
                raw = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"--from: {file} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
            rel = Path(os.path.relpath(file.resolve(), output.resolve().parent)).as_posix()
            found.append((rel, parse_article(raw.replace("\r\n", "\n"), file.name)))
    return found


def run_init(sources: list[str], output: Path, force: bool, merge: bool, check: bool,
             allow_private: bool = False) -> int:
    settings = FetchSettings(allow_private=allow_private)
    articles = read_articles(sources, output, settings)
    for name, parsed in articles:
        for warning in parsed.warnings:
            print(f"linkcheck: warning: {name}: {warning}", file=sys.stderr)
    articles = [(name, parsed) for name, parsed in articles if parsed.sources]
    if not articles:
        raise UsageError(f"--from: no cited URL found in {', '.join(sources)} "
                         "(notes look like '[1] Title https://...')")
    if output.exists() and merge:
        text, n_src, n_quotes, n_cit = merge_config(output.read_text(encoding="utf-8"), articles)
        summary = f"added {plural(n_src, 'source')} and {plural(n_quotes, 'quote')} to {output}" + \
            (f" ({plural(n_cit, 'more citing article')} recorded)" if n_cit else "")
    elif output.exists() and not force:
        raise UsageError(f"{output} already exists; use --force to overwrite it or --merge to add to it")
    else:
        entries = _entries(articles)
        text = render_config([name for name, _ in articles], entries)
        summary = f"wrote {output}: {plural(len(entries), 'source')}, " \
                  f"{plural(sum(len(e.cited.quotes) for e in entries), 'quote')}"
    try:
        tomli.loads(text)
    except tomli.TOMLDecodeError as exc:  # merging into hand-made TOML we could not follow
        raise UsageError(f"--merge: could not merge into {output} safely ({exc}); nothing was written") from None
    atomic_write(output, text)
    print(summary)
    if check:
        return _first_check(output, allow_private)
    return 0


def _first_check(config_path: Path, allow_private: bool = False) -> int:
    from .pipeline import run_pass

    # The first check runs in a scratch folder: `init --check` leaves nothing behind but its
    # output (no history database, lock, snapshots or reports beside the new sources.toml).
    with tempfile.TemporaryDirectory(prefix="linkcheck-init-") as scratch:
        # Sources are resolved already; no feed is read again from the scratch folder.
        config = replace(load_config(config_path), path=Path(scratch) / config_path.name, articles=ArticleSettings())
        if allow_private:  # what --allow-private lets init read, its first check may read too
            config = replace(config, fetch=replace(config.fetch, allow_private=True))
        run = asyncio.run(run_pass(config, archive=False))
        sources = quotes = exact = 0
        for o in run.outcomes:  # read back from the scratch history: inside its folder
            sources += 1
            if not o.quotes and o.link not in (LinkState.ALIVE, LinkState.REDIRECTED):
                print(f"{o.source.id}: {o.link.value} ({o.message})")  # a dead page quoted nothing
            for q in o.quotes:
                quotes += 1
                if q.match is MatchKind.EXACT:
                    exact += 1
                    continue
                if q.match is MatchKind.UNVERIFIABLE:
                    print(f"{o.source.id}: could not check “{q.text}” ({o.message})")
                else:
                    print(f"{o.source.id}: “{q.text}” is {q.match.value} (score {q.score:.2f})")
                    if q.found_text:
                        print(f"    the page says: “{q.found_text}”")
            if o.link is LinkState.REFUSED and not allow_private:
                print("    (`init --allow-private` lets this first check read it)")
        # Said even when all is well: a silent --check looks as if it had not run.
        print(f"first check: {plural(sources, 'source')}, {exact} of {plural(quotes, 'quote')} found word for word")
    return 0
