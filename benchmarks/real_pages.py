"""Real article pages, cycled to N sources, side by side in one run.

    python benchmarks/real_pages.py [ARTICLES_DIR] [-n 2000] [--urlwatch PYTHON]
    python benchmarks/real_pages.py -n 100000 --synthetic 4 --passes 2   # memory at scale
    python benchmarks/real_pages.py -n 10000 --rounds 5   # each ratio's spread on a noisy machine

ARTICLES_DIR (default ../shared/external/articles beside the repository) holds `html/*.html.gz`
and `ground-truth.json`. A loopback aiohttp server in its own process answers every page after
20 ms (ETag / Last-Modified honoured, as real servers do). Each contender runs as its own process
tree, timed from outside (interpreter start included), peak memory (PSS) summed over the tree:

- bare aiohttp GET loop (64 in flight): the fetch floor;
- aiohttp GET + lxml.html parse + text_content(): the parse floor;
- urlwatch (optional: `--urlwatch` names a Python that has it installed), 64 threads, one `url`
  job per page; first and second run;
- linkcheck first pass, second pass (drift goes from "new" to "unchanged": each source's detail
  is stored once more), then a steady pass (nothing changed), each with its history growth.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _corpus import corpus_folder

ROOT = Path(__file__).resolve().parent.parent
INFLIGHT = 64


def _pages(articles: Path) -> list[tuple[bytes, str]]:
    """(HTML, first sentence of the article body) per page; pages without a body are left out."""
    truth = json.loads((articles / "ground-truth.json").read_text())
    out = []
    for path in sorted((articles / "html").glob("*.html.gz")):
        body = truth.get(path.name.split(".")[0], {}).get("articleBody") or ""
        sentence = body.split("\n")[0].split(". ")[0].strip()
        if len(sentence) > 40:
            # At most 200 characters, cut between words: a quote cut inside a word reads as an
            # altered one (20 of the 144 pages did), which is not what a first sentence is.
            out.append((gzip.decompress(path.read_bytes()),
                        sentence if len(sentence) <= 200 else sentence[:200].rsplit(" ", 1)[0]))
    return out


def _synthetic(kb: int) -> list[tuple[bytes, str]]:
    """100 small pages of `kb` KB each, for runs at 100,000 sources (what is measured is the pass's
    own cost per source, memory above all, not the parsing of big pages)."""
    filler = "<p>" + "Filler words of a long article page, repeated to the size asked. " * 8 + "</p>"
    out = []
    for i in range(100):
        sentence = f"Synthetic article number {i} makes a claim that a citation quotes word for word"
        html = (f"<!doctype html><html><head><title>Article {i}</title></head><body><nav>Home</nav><main>"
                f"<h1>Article {i}</h1><p>{sentence}. More text.</p>{filler * (kb * 1024 // len(filler))}</main>"
                "</body></html>")
        out.append((html.encode(), sentence))
    return out


def serve(articles: Path, port: int, delay: float, synthetic: int = 0) -> None:
    from aiohttp import web

    pages = [html for html, _ in (_synthetic(synthetic) if synthetic else _pages(articles))]
    tags = [f'"{hashlib.sha1(p).hexdigest()[:16]}"' for p in pages]
    modified = "Mon, 02 Nov 2026 08:00:00 GMT"

    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        i = int(request.match_info["n"]) % len(pages)
        if request.headers.get("If-None-Match") == tags[i]:
            return web.Response(status=304, headers={"ETag": tags[i]})
        return web.Response(body=pages[i], content_type="text/html",
                            headers={"ETag": tags[i], "Last-Modified": modified})

    app = web.Application()
    app.router.add_get("/p/{n}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


async def _get_loop(n: int, port: int, parse: bool) -> None:
    import aiohttp
    import lxml.html

    sem = asyncio.Semaphore(INFLIGHT)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=INFLIGHT)) as session:
        async def one(i: int) -> None:
            async with sem, session.get(f"http://127.0.0.1:{port}/p/{i}") as r:
                body = await r.read()
            if parse:
                lxml.html.document_fromstring(body).text_content()

        await asyncio.gather(*(one(i) for i in range(n)))


class Tree:
    """Peak memory of a process and all its descendants, sampled every 200 ms from /proc: the sum
    of their PSS (proportional set size), so pages that forked workers share with their parent
    are counted once, not once per process as a sum of RSS would.

    The sampler is kept light, as it shares the machine with what it measures: a process's parent
    is read once, PSS five times a second (every process's status and the tree's PSS 20 times a
    second took ~12% of a core: time a contender that uses both cores lost, a one-core one not)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._parents: dict[int, int] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        alive = {int(entry) for entry in os.listdir("/proc") if entry.isdigit()}
        self._parents = {pid: ppid for pid, ppid in self._parents.items() if pid in alive}
        for pid in alive - self._parents.keys():
            try:  # the field after the command, which is in parentheses and may hold any character
                self._parents[pid] = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
        children: dict[int, list[int]] = {}
        for pid, ppid in self._parents.items():
            children.setdefault(ppid, []).append(pid)
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += children.get(pid, [])
        return tree

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, sum(map(_pss, self._tree())))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _pss(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:")), 0)


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tree = Tree(proc.pid)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    peak = tree.stop()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {err[-2000:]}")
    return wall, peak


def _linkcheck_config(folder: Path, pages: list[tuple[bytes, str]], n: int, port: int) -> Path:
    lines = ["[fetch]", "allow_private = true", f"concurrency = {INFLIGHT}", f"per_host = {INFLIGHT}",
             "retries = 0", "recheck_pause = -1", "[archive]", "wayback = false", "[history]",
             "reports_keep = 2"]
    for i in range(n):
        quote = json.dumps(pages[i % len(pages)][1], ensure_ascii=False)
        lines += ["[[source]]", f'id = "s{i}"', f'url = "http://127.0.0.1:{port}/p/{i}"', f"quotes = [{quote}]"]
    path = folder / "sources.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_URLWATCH = """
import sys
import urlwatch.worker
urlwatch.worker.MAX_WORKERS = 64
from urlwatch.cli import main
sys.argv = ["urlwatch", *sys.argv[1:]]
main()
"""


def _urlwatch(python: str, folder: Path, n: int, port: int) -> list[tuple[str, float, int]]:
    urls = folder / "urls.yaml"
    urls.write_text("".join(f"---\nurl: http://127.0.0.1:{port}/p/{i}\n" for i in range(n)).lstrip("-\n"))
    config = folder / "urlwatch.yaml"
    config.write_text("report:\n  stdout:\n    enabled: false\n  text:\n    details: false\n")
    runner = folder / "run_urlwatch.py"
    runner.write_text(_URLWATCH)
    cmd = [python, str(runner), "--urls", str(urls), "--config", str(config), "--cache", str(folder / "cache.db"),
           "--hooks", str(folder / "hooks.py")]
    return [("urlwatch first run (64 threads)", *timed(cmd)), ("urlwatch second run", *timed(cmd))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("articles", nargs="?", type=Path)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--urlwatch", metavar="PYTHON", help="a Python with urlwatch installed")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--contender", choices=("bare", "parse"), help=argparse.SUPPRESS)
    parser.add_argument("--synthetic", type=int, default=0, metavar="KB",
                        help="serve 100 synthetic pages of KB each instead of the real ones")
    parser.add_argument("--passes", type=int, default=3, choices=(1, 2, 3),
                        help="linkcheck passes: first, second, steady")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every contender this many times, in turn, and print each ratio's spread "
                             "(on a machine whose speed drifts, as a shared VM's does, one round can mislead)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    if args.serve:
        return serve(args.articles if args.synthetic else corpus_folder(args.articles), args.serve, args.delay,
                     args.synthetic)
    if args.contender:
        return asyncio.run(_get_loop(args.n, int(os.environ["PORT"]), args.contender == "parse"))
    if not args.synthetic:  # synthetic pages need no corpus
        args.articles = corpus_folder(args.articles)
    pages = _synthetic(args.synthetic) if args.synthetic else _pages(args.articles)
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen([sys.executable, __file__, str(args.articles), "--serve", str(port),
                               "--delay", str(args.delay), "--synthetic", str(args.synthetic)])
    kind = f"synthetic {args.synthetic} KB" if args.synthetic else "real"
    print(f"{args.n} sources over {len(pages)} {kind} pages, {args.delay * 1000:g} ms latency, "
          f"{INFLIGHT} in flight, {os.cpu_count()} CPUs", flush=True)
    rounds = []
    try:
        _wait_port(port)
        os.environ["PORT"] = str(port)
        # One folder for every round, deleted at the end: files deleted within minutes make the next
        # files slower to create on some file systems (BENCHMARKS.md), which would tax the next round.
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
            for r in range(args.rounds):
                folder = Path(tmp) / f"round{r + 1}"
                folder.mkdir()
                rounds.append(_round(args, pages, port, folder))
                _print_round(*rounds[-1], args.n, f"round {r + 1} of {args.rounds}" if args.rounds > 1 else "")
    finally:
        server.terminate()
        server.wait()
    if args.rounds > 1:
        _print_spread([rows for rows, _ in rounds])


Row = tuple[str, float, int]  # contender, wall (s), peak PSS (bytes)


def _round(args: argparse.Namespace, pages: list[tuple[bytes, str]], port: int,
           folder: Path) -> tuple[list[Row], list[tuple[str, int]]]:
    """Every contender once: the floors, urlwatch if asked, then linkcheck's passes in `folder`."""
    me = [sys.executable, __file__, "-n", str(args.n), "--contender"]
    rows = [("bare aiohttp GET loop", *timed([*me, "bare"])),
            ("aiohttp GET + lxml parse + text_content()", *timed([*me, "parse"]))]
    if args.urlwatch:
        rows += _urlwatch(args.urlwatch, folder, args.n, port)
    config = _linkcheck_config(folder, pages, args.n, port)
    check = [sys.executable, "-m", "linkcheck", "check", "--config", str(config), "--format", "json"]
    growth = []
    for label in ("linkcheck first pass", "linkcheck second pass", "linkcheck steady pass")[:args.passes]:
        before = _db_size(folder)
        rows.append((label, *timed(check, cwd=ROOT)))
        growth.append((label, _db_size(folder) - before))
    return rows, growth


def _print_round(rows: list[Row], growth: list[tuple[str, int]], n: int, title: str) -> None:
    floor = rows[1][1]
    print(f"{'contender' + (f' ({title})' if title else ''):<44} {'wall':>8} {'× parse floor':>14} {'peak PSS':>10}")
    for label, wall, peak in rows:
        print(f"{label:<44} {wall:>7.2f}s {wall / floor:>13.2f}× {peak / 2**20:>8.0f} MB")
    for label, grown in growth:
        print(f"history growth, {label}: {grown / 1024:,.0f} KB ({grown / n:,.0f} B/source)", flush=True)


def _print_spread(rounds: list[list[Row]]) -> None:
    """Each contender's ratio to the parse floor of its own round: median and range over the rounds."""
    print(f"\n{'over ' + str(len(rounds)) + ' rounds':<44} {'median':>8} {'× floor: median':>16} {'range':>12}")
    for i, (label, _, _) in enumerate(rounds[0]):
        walls = [rows[i][1] for rows in rounds]
        ratios = sorted(rows[i][1] / rows[1][1] for rows in rounds)
        print(f"{label:<44} {statistics.median(walls):>7.2f}s {statistics.median(ratios):>15.2f}× "
              f"{ratios[0]:>6.2f}–{ratios[-1]:.2f}×")


def _db_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("linkcheck.db*"))


def _wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("the page server did not start")


if __name__ == "__main__":
    main()
