"""`check --distribute` with 1 and 2 worker processes vs a local pass, on the real-page corpus.

    python benchmarks/distributed.py --postgres postgresql://USER@127.0.0.1:PORT/DB [ARTICLES_DIR] [-n 2000]

The page server, corpus and parse floor are those of `real_pages.py` (20 ms latency, pages
cycled to N sources). Each linkcheck contender gets a fresh database (created beside the one
named by --postgres, dropped afterwards) and runs a first pass, then a steady pass. Workers parse
in their own process (`[fetch] workers = 0`), so one worker is one process on one core: the
figure per worker is what one more process (or machine) adds. Workers are started and idle
before the pass is timed; the pass is timed from outside, interpreter start included.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
import real_pages

ROOT = Path(__file__).resolve().parent.parent


def _database(admin: str) -> str:
    name = f"linkcheck_bench_{uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(admin)._replace(path="/" + name))


def _drop(admin: str, url: str) -> None:
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {urlsplit(url).path[1:]} WITH (FORCE)")


def _config(folder: Path, pages: list[tuple[bytes, str]], n: int, port: int, database: str | None,
            cpu_workers: int | None) -> Path:
    path = real_pages._linkcheck_config(folder, pages, n, port)
    text = path.read_text()
    if database:
        text = text.replace("[history]\n", f'[history]\ndatabase = "{database}"\n', 1)
        text = text.replace("[[source]]", "[workers]\nbatch = 10\n\n[[source]]", 1)
    if cpu_workers is not None:
        text = text.replace("[fetch]\n", f"[fetch]\nworkers = {cpu_workers}\n", 1)
    path.write_text(text)
    return path


def _linkcheck(*args: str) -> list[str]:
    return [sys.executable, "-m", "linkcheck", *args]


def _distributed(config: Path, workers: int, concurrency: int) -> list[tuple[float, int]]:
    subprocess.run(_linkcheck("migrate", "--config", str(config)), check=True, capture_output=True, cwd=ROOT)
    logs = [(config.parent / f"worker{i}.log").open("w") for i in range(workers)]
    procs = [subprocess.Popen(_linkcheck("worker", "--config", str(config), "--concurrency", str(concurrency)),
                              stderr=log, cwd=ROOT) for log in logs]
    try:
        deadline = time.monotonic() + 60  # workers ready: each has logged "started"
        while sum("started" in (config.parent / f"worker{i}.log").read_text() for i in range(workers)) < workers:
            if time.monotonic() > deadline:
                raise SystemExit("the workers did not start")
            time.sleep(0.05)
        check = _linkcheck("check", "--config", str(config), "--distribute", "--format", "json")
        trees = [real_pages.Tree(p.pid) for p in procs]
        timings = [real_pages.timed(check, cwd=ROOT) for _ in range(2)]
        peaks = [t.stop() / 2**20 for t in trees]
        print(f"{workers} worker(s): peak RSS {', '.join(f'{p:.0f} MB' for p in peaks)} (the coordinator's is below)")
        return timings
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
        for log in logs:
            log.close()


def _size(url: str) -> int:
    with psycopg.connect(url) as db:
        return int((db.execute("SELECT pg_database_size(current_database())").fetchone() or (0,))[0])


def _contender(config: Path, url: str | None, workers: int, concurrency: int) -> list[tuple[float, int]]:
    """First and steady pass; with a database, its size after each is printed."""
    if workers:
        timings = _distributed(config, workers, concurrency)
    else:
        check = _linkcheck("check", "--config", str(config), "--format", "json")
        timings = [real_pages.timed(check, cwd=ROOT)]
        size = _size(url) if url else 0
        timings.append(real_pages.timed(check, cwd=ROOT))
        if url:
            print(f"PostgreSQL database: {size / 2**20:.1f} MB after the first pass, "
                  f"{_size(url) / 2**20:.1f} MB after the second")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("articles", nargs="?", type=Path, default=ROOT.parent / "shared" / "external" / "articles")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=8, help="jobs at once per worker")
    parser.add_argument("--postgres", default=os.environ.get("LINKCHECK_TEST_POSTGRES", ""),
                        help="a database URL whose role may CREATE DATABASE")
    args = parser.parse_args()
    if not args.postgres:
        raise SystemExit("--postgres URL (or LINKCHECK_TEST_POSTGRES) is needed")
    pages = real_pages._pages(args.articles)
    port = 19000 + os.getpid() % 1000
    server = subprocess.Popen([sys.executable, real_pages.__file__, str(args.articles), "--serve", str(port),
                               "--delay", str(args.delay)])
    rows: list[tuple[str, float, int]] = []
    try:
        real_pages._wait_port(port)
        os.environ["PORT"] = str(port)
        floor = real_pages.timed([sys.executable, real_pages.__file__, "-n", str(args.n), "--contender", "parse"])
        rows.append(("aiohttp GET + lxml parse (the parse floor)", *floor))
        for label, database, workers in (("local pass, SQLite", False, 0), ("local pass, PostgreSQL", True, 0),
                                         ("--distribute, 1 worker", True, 1), ("--distribute, 2 workers", True, 2)):
            with tempfile.TemporaryDirectory() as tmp:
                url = _database(args.postgres) if database else None
                try:
                    config = _config(Path(tmp), pages, args.n, port, url, 0 if workers else None)
                    first, steady = _contender(config, url, workers, args.concurrency)
                finally:
                    if url:
                        _drop(args.postgres, url)
            rows += [(f"{label}: first pass", *first), (f"{label}: steady pass", *steady)]
    finally:
        server.terminate()
        server.wait()
    print(f"{args.n} sources over {len(pages)} real pages, {args.delay * 1000:g} ms latency, {os.cpu_count()} CPUs; "
          f"workers parse in-process, {args.concurrency} jobs of 10 sources at once each")
    print(f"{'contender':<46} {'wall':>8} {'sources/s':>10} {'× parse floor':>14} {'peak RSS':>10}")
    for label, wall, peak in rows:
        print(f"{label:<46} {wall:>7.2f}s {args.n / wall:>10.0f} {wall / rows[0][1]:>13.2f}× {peak / 2**20:>8.0f} MB")


if __name__ == "__main__":
    main()
