"""Command line: arguments, output formats and exit codes. Only this module prints or exits.

Exit codes: 0 no source broken; 1 a source is broken; 2 usage or configuration error;
3 internal error (a bug); 4 another pass holds the config's lock; 5 the history database (PostgreSQL)
cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__, prefork
from .config import Config, load_config
from .errors import ConfigError, HistoryUnavailable, LockBusy, UsageError, logged_to
from .models import CheckRun, Status
from .reporters.common import plural

EXIT_OK, EXIT_BROKEN, EXIT_USAGE, EXIT_BUG, EXIT_BUSY, EXIT_NO_HISTORY = 0, 1, 2, 3, 4, 5
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for any command whose reader left (`| head`)
CHECK_FORMATS = ("text", "json", "markdown", "junit", "github")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        command = self.prog.partition(" ")[2]  # main() prefixes "linkcheck: " itself
        raise UsageError(f"{command}: {message}" if command else message)


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=Path("sources.toml"), metavar="PATH",
                   help="the sources file (default: ./sources.toml); state lives beside it")


def _article_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--article", nargs="+", metavar="PATH", default=[], help=what)


def _narrowed(config: Config, articles: list[str]) -> Config:
    """The config with only the sources `articles` cite (all of them without --article)."""
    if not articles:
        return config
    from dataclasses import replace

    from .publication import sources_citing

    ids = set(sources_citing(config, articles))
    return replace(config, sources=tuple(s for s in config.sources if s.id in ids))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="linkcheck", description="Check that cited sources are still there and still "
                     "say what the article quotes; keep archived copies.")
    parser.add_argument("--version", action="version", version=f"linkcheck {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("check", help="one check pass over every source",
                       description="Fetch every source, verify its quotes, compare with the last snapshot, "
                       "archive, store history and write reports under reports/. Exit 1 if a source is broken.")
    _config_arg(p)
    p.add_argument("--format", choices=CHECK_FORMATS, default="text",
                   help="output on stdout: text (default), json, markdown, junit, github")
    p.add_argument("--no-archive", action="store_true", help="make no Wayback Machine request")
    p.add_argument("--only", nargs="+", metavar="ID", default=[], help="check only these source ids")
    _article_arg(p, "check only the sources these articles cite")
    p.add_argument("--changed-since", metavar="GITREF",
                   help="check only sources whose entries changed in the config since this git ref")
    p.add_argument("--baseline", type=Path, metavar="FILE",
                   help="fail only on problems not recorded in this baseline file")
    p.add_argument("--write-baseline", type=Path, metavar="FILE",
                   help="record the current problems in this baseline file")
    p.add_argument("--wait", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for another pass on the same config (default 10)")
    p.add_argument("--distribute", action="store_true",
                   help="PostgreSQL history: enqueue the sources for `linkcheck worker` processes, wait for "
                   "them, then write the reports")
    p.add_argument("--quiet", action="store_true",
                   help="print nothing unless a source is broken (for cron, which mails any output)")

    p = sub.add_parser("report", help="digest of what changed or broke, from history",
                       description="Editors' digest over a period from stored history.")
    _config_arg(p)
    p.add_argument("--since", default="7d", metavar="DURATION|DATE",
                   help="period to cover: a duration (7d) or a date (2026-11-01; default 7d)")
    p.add_argument("--format", choices=("markdown", "html", "json"), default="markdown",
                   help="markdown (default; pastes into mail or an issue), html (one file), json")
    p.add_argument("--output", type=Path, metavar="FILE", help="write here instead of stdout")
    _article_arg(p, "only the sources these articles cite")

    p = sub.add_parser("daemon", help="run checks and digests on the config's schedule",
                       description="Long-running scheduler. SIGTERM/SIGINT: finish or abandon the pass "
                       "in flight, exit 0. SIGHUP: reload the config.")
    _config_arg(p)
    p.add_argument("--log-format", choices=("plain", "json"), default="plain", help="log line format")
    p.add_argument("--grace", type=float, default=30.0, metavar="SECONDS",
                   help="how long a pass in flight may finish after SIGTERM (default 30)")

    p = sub.add_parser("init", help="write sources.toml from articles' notes",
                       description="Read articles (text, Markdown, HTML or wikitext) and write one [[source]] "
                       "per cited URL with the quoted passages attached and every citing article in cited_in.")
    p.add_argument("--from", dest="article", nargs="+", required=True, metavar="ARTICLE",
                   help="the articles to read: files, folders of articles, or http(s) URLs of published ones")
    p.add_argument("--allow-private", action="store_true",
                   help="allow article URLs (and, with --check, cited pages) on a private or loopback "
                        "address (intranets, tests)")
    p.add_argument("--output", type=Path, default=Path("sources.toml"), metavar="PATH",
                   help="where to write (default ./sources.toml)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="overwrite an existing file")
    mode.add_argument("--merge", action="store_true", help="add new sources and quotes to an existing file")
    p.add_argument("--check", action="store_true", help="run a first check and show the pages' real words")

    p = sub.add_parser("validate", help="check the config offline (for pre-commit)",
                       description="Validate the config without any network access; exit 0 or 2. Every "
                       "error is reported, each as FILE:LINE: message.")
    p.add_argument("--config", type=Path, nargs="+", action="extend", metavar="PATH",
                   help="one or more sources files (default: ./sources.toml); pre-commit passes every staged one")

    p = sub.add_parser("status", help="last pass, next due, counts, pending archive saves",
                       description="For operators and health checks: exit 1 when the last pass is "
                       "overdue by two intervals.")
    _config_arg(p)
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")

    p = sub.add_parser("links", help="the citations with archived copies as Robust Links",
                       description="Print each source with its Wayback capture as Robust Links markup.")
    _config_arg(p)
    p.add_argument("--format", choices=("html", "markdown"), required=True,
                   help="html (Robust Links <a> tags) or markdown")

    p = sub.add_parser("fix", help="write archived copies into articles whose citations died",
                       description="For each citation whose source is dead or a soft 404, or whose quote was "
                       "lost, and that has an archived copy, edit the article: an archived link beside the "
                       "original (Markdown), Robust Links attributes (HTML), archive-url/archive-date/"
                       "url-status (wikitext). Nothing else in the file changes.")
    _config_arg(p)
    _article_arg(p, "fix only these articles")
    p.add_argument("--dry-run", action="store_true", help="print a unified diff and change nothing")

    p = sub.add_parser("prune", help="remove old unchanged snapshots",
                       description="Keep the newest N snapshots of each source and every changed version.")
    _config_arg(p)
    p.add_argument("--keep", type=int, required=True, metavar="N", help="newest snapshots kept per source")

    p = sub.add_parser("worker", help="take check jobs from the shared queue (PostgreSQL history)",
                       description="Check the sources of the jobs `check --distribute` enqueues, until "
                       "SIGTERM/SIGINT (the jobs in flight finish first).")
    _config_arg(p)
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="jobs at once (default 4)")
    p.add_argument("--log-format", choices=("plain", "json"), default="plain", help="log line format")

    p = sub.add_parser("migrate", help="apply the history database's migrations",
                       description="Bring the history database (SQLite or PostgreSQL) and, on PostgreSQL, "
                       "the job queue's tables up to this version; says which migrations it applied.")
    _config_arg(p)
    return parser


def _progress() -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\rchecked {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not args.distribute:  # (a distributed pass is judged by its workers)
        prefork.start(config.fetch.workers)  # imports the parsers on another core meanwhile
    from .baseline import apply_baseline, read_baseline, write_baseline
    from .gitdiff import changed_source_ids
    from .pipeline import run_pass

    only = list(args.only)
    unknown = [i for i in only if i not in {s.id for s in config.sources}]
    if unknown:
        raise UsageError(f"--only: no source with id {', '.join(map(repr, unknown))} in {args.config}")
    if args.article:
        narrowed = [s.id for s in _narrowed(config, args.article).sources]
        only = [i for i in narrowed if not only or i in only]
        if not only:
            print("linkcheck: no source is both in --only and cited by --article", file=sys.stderr)
            return EXIT_OK
    if args.changed_since:
        changed = changed_source_ids(config, args.changed_since)
        if not changed:
            print(f"linkcheck: no source changed since {args.changed_since}", file=sys.stderr)
            return EXIT_OK
        if only and not set(changed) & set(only):
            print(f"linkcheck: none of the --only sources changed since {args.changed_since}; "
                  "nothing checked", file=sys.stderr)
            return EXIT_OK
        only = [i for i in changed if not only or i in only]
    baseline = read_baseline(args.baseline) if args.baseline else None
    if args.distribute:
        from .distribute import database_url

        database_url(config, "check --distribute")
    run = asyncio.run(run_pass(config, archive=not args.no_archive, only=only,
                               progress=None if args.quiet else _progress(), lock_wait=args.wait,
                               distribute=args.distribute,
                               notice=lambda m: print(f"linkcheck: {m}", file=sys.stderr)))
    expected = len(only) if only else len(config.sources)
    if len(run.outcomes) < expected:
        print(f"linkcheck: {expected - len(run.outcomes)} source(s) have no outcome: their jobs failed "
              "(see the workers' logs); this pass is marked partial", file=sys.stderr)
    if args.write_baseline:
        write_baseline(args.write_baseline, run)
        recorded = plural(run.count(Status.BROKEN) + run.count(Status.WARNING), "source")
        print(f"linkcheck: wrote {args.write_baseline} ({recorded} with problems recorded)", file=sys.stderr)
    if baseline is not None:
        run = apply_baseline(run, baseline)
    broken = run.count(Status.BROKEN)
    if not (args.quiet and not broken):
        _print_check(args.format, run, config)
    _github_summary(args.format, run)
    # Writing a baseline records today's problems as known: that run succeeded at what it was asked.
    return EXIT_BROKEN if broken and not args.write_baseline else EXIT_OK


def _print_check(fmt: str, run: CheckRun, config: Config) -> None:
    """The pass in `fmt` on stdout. JSON goes out as UTF-8 (RFC 8259) whatever the locale: the
    report file the pass wrote of the same outcomes (rendering it again cost as much as writing
    it: ~0.5 s at 10,000 sources), else (a baseline changed them, or the file is gone already)
    rendered."""
    from .reporters import render_check

    raw = getattr(sys.stdout, "buffer", None)  # a stream swapped in for stdout may have none
    if fmt != "json" or raw is None:
        sys.stdout.writelines(render_check(fmt, run, config, colour=sys.stdout.isatty()))
        return
    sys.stdout.flush()
    if run.report is not None:
        try:
            with run.report.open("rb") as report:
                shutil.copyfileobj(report, raw)
            return
        except FileNotFoundError:  # pruned at once (reports_keep = 0) or by a pass that ended since
            pass
    raw.writelines(piece.encode("utf-8") for piece in render_check(fmt, run, config))


def _github_summary(fmt: str, run: CheckRun) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt != "github" or not target:
        return
    from .reporters.github import step_summary

    with open(target, "a", encoding="utf-8") as f:
        f.writelines(step_summary(run))


def _cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    for path in args.config or [Path("sources.toml")]:
        try:
            config = load_config(path)
        except ConfigError as exc:
            failed = True
            for line in str(exc).splitlines():
                print(f"linkcheck: {line}", file=sys.stderr)
            continue
        quotes = sum(len(s.quotes) for s in config.sources)
        print(f"{path}: valid ({plural(len(config.sources), 'source')}, {plural(quotes, 'quote')})")
    return EXIT_USAGE if failed else EXIT_OK


def _since_seconds(text: str) -> float:
    """`--since` as seconds before now: a duration (`7d`) or a date / UTC time (`2026-11-01`)."""
    from datetime import UTC, datetime

    from .durations import now_utc, parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        pass
    try:
        start = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since: {text!r} is neither a duration (7d, 36h) nor a date (2026-11-01)") from None
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    seconds = (now_utc() - start).total_seconds()
    if seconds <= 0:
        raise UsageError(f"--since: {text} is in the future")
    return seconds


def _cmd_report(args: argparse.Namespace) -> int:
    from .digest import build_digest, render_digest
    from .fsutil import atomic_write
    from .snapshot_page import write_pages
    from .store import Store

    config = _narrowed(load_config(args.config), args.article)
    since = _since_seconds(args.since)
    prefix = config.report.base_url  # absolute links survive being mailed or pasted
    if args.output and not prefix:
        rel = os.path.relpath(config.root.resolve(), args.output.resolve().parent)
        prefix = "" if rel == "." else rel + "/"
    from .status import NO_PASS, no_history

    fresh = no_history(config)
    if fresh:  # the digest is empty: say why, and read an empty history rather than create the file
        print(f"linkcheck: {NO_PASS} (no history at {config.database})", file=sys.stderr)
    store = Store.open(":memory:" if fresh else config.database)
    try:
        digest = build_digest(store, config, since, snapshot_prefix=prefix)
    finally:
        store.close()
    if args.output and args.format != "json":  # readable pages of the snapshots, beside the digest
        digest = write_pages(digest, config.snapshot_storage, args.output.parent / "pages")
    if args.article:  # the other articles citing the same sources are not this editor's
        from .publication import relative_article

        wanted = {relative_article(config, a) for a in args.article}
        digest.articles[:] = [a for a in digest.articles if a.path in wanted]
    text = render_digest(args.format, digest)
    if args.output:
        atomic_write(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    from .status import status_report

    text, healthy = status_report(load_config(args.config), args.format)
    sys.stdout.write(text)
    return EXIT_OK if healthy else EXIT_BROKEN


def _cmd_links(args: argparse.Namespace) -> int:
    from .links import render_links

    sys.stdout.write(render_links(load_config(args.config), args.format))
    return EXIT_OK


def _cmd_prune(args: argparse.Namespace) -> int:
    from .prune import prune

    if args.keep < 1:
        raise UsageError("--keep must be 1 or more")
    config = load_config(args.config)
    removed = prune(config, args.keep)
    print(f"removed {len(removed)} unchanged snapshot{'s' if len(removed) != 1 else ''}")
    return EXIT_OK


def _cmd_worker(args: argparse.Namespace) -> int:
    from .worker import run_worker

    if args.concurrency < 1:
        raise UsageError("--concurrency must be 1 or more")
    return run_worker(args.config, args.concurrency, args.log_format)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from .store import Store

    config = load_config(args.config)
    with Store.open(config.database, migrate=False) as store:
        applied = [f"applied migration {name}" for name in store.migrate()]
        if isinstance(config.database, str):
            from .queue_schema import migrate_queue

            applied += migrate_queue(store)
    for line in applied:
        print(line)
    if not applied:
        print("the history database is up to date")
    return EXIT_OK


def _cmd_init(args: argparse.Namespace) -> int:
    from .init import run_init

    return run_init(args.article, args.output, force=args.force, merge=args.merge, check=args.check,
                    allow_private=args.allow_private)


def _cmd_fix(args: argparse.Namespace) -> int:
    from .fix import run_fix
    from .publication import relative_article

    config = load_config(args.config)
    articles = None
    if args.article:
        _narrowed(config, args.article)  # an article that cites nothing is a usage error
        articles = {relative_article(config, a) for a in args.article}
    done, unfixed = run_fix(config, articles, args.dry_run)
    sys.stdout.write(done)
    sys.stderr.write(unfixed)
    return EXIT_OK


def _cmd_daemon(args: argparse.Namespace) -> int:
    from .daemon import run_daemon

    return run_daemon(args.config, log_format=args.log_format, grace=args.grace)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": _cmd_check, "validate": _cmd_validate, "report": _cmd_report, "status": _cmd_status,
    "links": _cmd_links, "prune": _cmd_prune, "init": _cmd_init, "daemon": _cmd_daemon,
    "fix": _cmd_fix, "migrate": _cmd_migrate, "worker": _cmd_worker,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in argv
    if debug:  # "Run again with --debug" is usually done by appending it: accept it after the command too
        argv = ["--debug", *(a for a in argv if a != "--debug")]
    with logged_to(logging.StreamHandler(sys.stderr) if debug else None):
        try:
            code = _main(argv, debug)
            sys.stdout.flush()  # a short output meets a closed pipe only here
            return code
        except BrokenPipeError:
            return _reader_gone()


def _reader_gone() -> int:
    """Standard output was closed early (`linkcheck check --format json | head`): not a bug.

    Whatever is still buffered goes to /dev/null so that the interpreter's last flush is quiet too.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return EXIT_PIPE


def _main(argv: Sequence[str] | None, debug: bool) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (ConfigError, UsageError) as exc:
        for line in str(exc).splitlines():  # a config with several errors: one line each
            print(f"linkcheck: {line}", file=sys.stderr)
        return EXIT_USAGE
    except LockBusy as exc:
        print(f"linkcheck: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except HistoryUnavailable as exc:
        print(f"linkcheck: {exc}", file=sys.stderr)
        return EXIT_NO_HISTORY
    except KeyboardInterrupt:
        print("linkcheck: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    except BrokenPipeError:  # the reader of our standard output went away: handled by main()
        raise
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(f"linkcheck: internal error (a bug, please report it): {type(exc).__name__}: {exc}"
              + ("" if debug else ". Run again with --debug for the traceback."), file=sys.stderr)
        return EXIT_BUG

