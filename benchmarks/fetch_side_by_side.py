"""2,000 URLs on a loopback server that answers after 50 ms, 64 in flight, side by side:

- a bare aiohttp loop (GET and read the body): the floor;
- a plain httpx.AsyncClient (httpcore's pool): what the transport choice avoids;
- linkcheck's whole pass: GET + extract + quote check + drift + snapshot + history.

    python benchmarks/fetch_side_by_side.py [N] [IN_FLIGHT]

Prints wall time per contender, URLs/s, the pass's ratio to the aiohttp floor and its peak RSS.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from linkcheck.config import ArchiveSettings, Config, FetchSettings
from linkcheck.fetch import open_client
from linkcheck.models import Quote, Source
from linkcheck.pipeline import check_pass
from linkcheck.store import Store

QUOTE = "We will be in a position to extend an invitation to Ukraine to join the Alliance when Allies agree"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def bare_aiohttp(urls: list[str], in_flight: int) -> None:
    sem = asyncio.Semaphore(in_flight)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:
        async def one(url: str) -> None:
            async with sem, session.get(url) as r:
                await r.read()
        await asyncio.gather(*(one(u) for u in urls))


async def plain_httpx(urls: list[str], in_flight: int) -> None:
    sem = asyncio.Semaphore(in_flight)
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def one(url: str) -> None:
            async with sem:
                (await client.get(url)).read()
        await asyncio.gather(*(one(u) for u in urls))


async def linkcheck_pass(urls: list[str], in_flight: int, root: Path) -> int:
    fetch = FetchSettings(concurrency=in_flight, per_host=in_flight, allow_private=True, timeout=60,
                          recheck_pause=-1)
    config = Config(path=root / "sources.toml", fetch=fetch, archive=ArchiveSettings(wayback=False),
                    sources=tuple(Source(id=f"s{i}", url=u, quotes=(Quote(QUOTE),)) for i, u in enumerate(urls)))
    store = Store.open(config.database)
    try:
        async with open_client(fetch) as client:
            run = await check_pass(config, config.sources, client, store, archive=False)
    finally:
        store.close()
    return sum(1 for o in run.outcomes if o.quotes and o.quotes[0].match.value == "exact")


def timed(label: str, n: int, fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<34} {elapsed:6.2f} s  {n / elapsed:7.0f} URLs/s" + (f"  ({result})" if result else ""))
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    in_flight = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    port = free_port()
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_server.py")), str(port), "0.05"])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        urls = [f"http://127.0.0.1:{port}/page/{i}" for i in range(n)]
        print(f"{n} URLs, 50 ms latency, {in_flight} in flight; ideal {n / in_flight * 0.05:.2f} s")
        floor = timed("bare aiohttp loop", n, lambda: asyncio.run(bare_aiohttp(urls, in_flight)))
        timed("plain httpx.AsyncClient", n, lambda: asyncio.run(plain_httpx(urls, in_flight)))
        with tempfile.TemporaryDirectory() as tmp:
            timed("linkcheck first pass (+2,000 WARCs)", n,
                  lambda: f"{asyncio.run(linkcheck_pass(urls, in_flight, Path(tmp)))} quotes exact")
            ours = timed("linkcheck pass, steady state", n,
                         lambda: f"{asyncio.run(linkcheck_pass(urls, in_flight, Path(tmp)))} quotes exact")
        floor2 = timed("bare aiohttp loop (again)", n, lambda: asyncio.run(bare_aiohttp(urls, in_flight)))
        best = min(floor, floor2)
        print(f"linkcheck steady-state pass / aiohttp floor: {ours / best:.2f}x")
        print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
