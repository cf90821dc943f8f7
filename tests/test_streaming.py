"""The streaming pass: one unit of work per source, results in history as they are judged,
memory that does not grow with the number of sources, the process pool."""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, page, send, write_config

from linkcheck import pipeline
from linkcheck.archive.runner import Job
from linkcheck.config import load_config
from linkcheck.cpupool import CpuPool
from linkcheck.fetch import Fetcher, open_client
from linkcheck.models import Capture, CaptureState, CheckRun, LinkState, MatchKind, SourceOutcome, Status
from linkcheck.pipeline import Deps, check_one, check_pass
from linkcheck.reporters import FORMATS, jsonfmt, markdown, render_check, text
from linkcheck.reporters.files import write_run_reports
from linkcheck.store import Record, Store

QUOTE = "We will be in a position to extend an invitation to Ukraine to join the Alliance."


def _pages(server: Server, n: int, kb: int = 2) -> list[dict[str, object]]:
    filler = "<p>" + "Filler words of a long article page, repeated. " * 20 + "</p>"
    body = page(f"<main><p>{QUOTE}</p>{filler * (kb * 1024 // len(filler) + 1)}</main>").encode()
    server.routes["/p"] = lambda h: send(h, 200, body)
    return [{"id": f"s{i}", "url": server.url(f"/p?{i}"), "quotes": [QUOTE]} for i in range(n)]


def test_check_one_runs_on_its_own_with_its_inputs_passed_in(server: Server, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, _pages(server, 1)))
    src = config.sources[0]
    jobs: list[Job] = []

    async def archive(job: Job) -> Capture:
        jobs.append(job)
        return Capture(CaptureState.SKIPPED, None, None, "not archived in this test")

    async def run() -> None:
        store = Store.open(config.db_path)
        async with CpuPool(0) as cpu, open_client(config.fetch) as client:
            deps = Deps(config, Fetcher(client, config.fetch), cpu, store)
            outcome, record = await check_one(src, store.prior(src.id, 5), deps, archive)
        assert outcome.status is Status.OK and outcome.quotes[0].match is MatchKind.EXACT
        assert [(j.url, j.link, j.changed, j.found) for j in jobs] == [
            (src.url, LinkState.ALIVE, False, frozenset({QUOTE}))]
        assert record.result["id"] == src.id and record.version is not None and record.version.main_text
        # Nothing is written by the unit itself: the caller stores the record.
        assert store.db.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 0
        store.close()

    asyncio.run(run())


def test_outcomes_reach_history_while_the_pass_runs_and_the_pass_completes_last(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BATCH", 2)
    release = threading.Event()
    sources = _pages(server, 6)

    def hang(h: object) -> None:
        release.wait(30)
        send(h, 200, page(f"<p>{QUOTE}</p>"))  # type: ignore[arg-type]

    server.routes["/slow"] = hang
    sources.append({"id": "slow", "url": server.url("/slow"), "quotes": [QUOTE]})
    config = load_config(write_config(tmp_path, sources))
    db_path = config.db_path

    def rows() -> tuple[int, int]:
        db = sqlite3.connect(db_path, timeout=10)
        try:
            n = db.execute("SELECT count(*) FROM outcomes").fetchone()[0]
            partial = db.execute("SELECT partial FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
            return n, partial
        finally:
            db.close()

    async def run() -> tuple[int, int]:
        store = Store.open(db_path)
        try:
            async with open_client(config.fetch) as client:
                task = asyncio.create_task(check_pass(config, config.sources, client, store, archive=False))
                while "/slow" not in server.requests or rows()[0] < 6:
                    await asyncio.sleep(0.01)  # polling the database, not timing anything
                during = rows()
                release.set()
                run = await task
        finally:
            store.close()
        assert run.count(Status.OK) == 7
        # The report is rendered source by source, to the very text of the whole dict dumped at once.
        text = "".join(jsonfmt.render(run))
        assert [json.loads(line.strip().rstrip(",")) for line in text.splitlines() if line.startswith("    {\"")] == \
            json.loads(text)["sources"] and len(json.loads(text)["sources"]) == 7
        return during

    during = asyncio.run(run())
    assert during == (6, 1)  # six judged sources stored, the pass still partial
    assert rows() == (7, 0)


# Not the pass's (by where each block was allocated): the test server's threads (its request log
# grows by design) and the bounded caches of the HTTP libraries (URLs, cookies), which a few
# hundred distinct URLs fill up.
_NOT_THE_PASS = [tracemalloc.Filter(False, pattern) for pattern in (
    "*/site-packages/*", "*/socketserver.py", "*/http/*", "*/socket.py", "*/threading.py", "*/urllib/*",
    "*/email/*", "*/conftest.py", tracemalloc.__file__)]


def _traced(server: Server, folder: Path, n: int, kb: int) -> tuple[int, int]:
    """A pass over `n` sources of `kb` KB pages: its peak of traced memory, and what it leaves
    allocated while its `CheckRun` is still held."""
    config = load_config(write_config(folder, _pages(server, n, kb=kb), fetch={"concurrency": 4}))

    async def run() -> tuple[int, int]:
        store = Store.open(config.db_path)
        try:
            async with open_client(config.fetch) as client:
                gc.collect()
                tracemalloc.start(1)  # where each block was allocated: all the filters need
                try:
                    before = tracemalloc.take_snapshot().filter_traces(_NOT_THE_PASS)
                    result = await check_pass(config, config.sources, client, store, archive=False)
                    peak = tracemalloc.get_traced_memory()[1]
                    gc.collect()
                    after = tracemalloc.take_snapshot().filter_traces(_NOT_THE_PASS)
                finally:
                    tracemalloc.stop()
        finally:
            store.close()
        assert result.count(Status.OK) == n and len(result.outcomes) == n
        return peak, sum(d.size_diff for d in after.compare_to(before, "filename"))

    return asyncio.run(run())


def test_pass_memory_does_not_grow_with_the_page_bodies_of_all_sources(server: Server, tmp_path: Path) -> None:
    """100 KB pages: holding every body (as `asyncio.gather` over all sources did) costs >200 KB a
    source (body, wire bytes, texts); the pass may keep only each source's small outcome."""
    small, large = 15, 60
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    peak_small = _traced(server, tmp_path / "a", small, kb=100)[0]
    peak_large = _traced(server, tmp_path / "b", large, kb=100)[0]
    per_source = (peak_large - peak_small) / (large - small)
    assert per_source < 20_000, f"{per_source:,.0f} bytes more per source"


def test_the_process_pool_gives_the_same_verdicts(server: Server, tmp_path: Path) -> None:
    sources = _pages(server, 3)
    server.routes["/gone"] = lambda h: send(h, 200, page("<h1>Page not found</h1>", title="Not found"))
    sources.append({"id": "gone", "url": server.url("/gone"), "quotes": [QUOTE]})
    results = []
    for workers in (1, 2):
        folder = tmp_path / str(workers)
        folder.mkdir()
        config = load_config(write_config(folder, sources, fetch={"workers": workers}))

        async def run(config: pipeline.Config = config) -> list[tuple[str, str, str, str | None]]:
            store = Store.open(config.db_path)
            try:
                async with open_client(config.fetch) as client:
                    done = await check_pass(config, config.sources, client, store, archive=False)
            finally:
                store.close()
            return [(o.source.id, o.link.value, ",".join(q.match.value for q in o.quotes), o.text_hash)
                    for o in done.outcomes]

        results.append(asyncio.run(run()))
    assert results[0] == results[1]
    assert results[0][-1][1] == "soft-404" and results[0][0][2] == "exact"


def test_a_pass_retains_no_outcome_per_source(server: Server, tmp_path: Path) -> None:
    """Only counters stay in memory: the reports read the outcomes back from history. One outcome
    of these sources weighs ~3 KB (quotes, drift, capture), so 150 more would show as >400 KB."""
    small, large = 50, 200
    for name in "wab":
        (tmp_path / name).mkdir()
    _traced(server, tmp_path / "w", small, kb=1)  # warms the caches every pass fills once (codecs, regexes)
    retained_small = _traced(server, tmp_path / "a", small, kb=1)[1]
    retained_large = _traced(server, tmp_path / "b", large, kb=1)[1]
    per_source = (retained_large - retained_small) / (large - small)
    assert per_source < 500, f"{per_source:,.0f} bytes retained per source"


def test_reports_read_back_from_history_are_the_in_memory_reports(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every format, rendered from the outcomes the pass judged (held in memory, as a pass once
    did) and from the pass as it returns (read back from history): the same text."""
    sources = _pages(server, 4)
    server.routes["/gone"] = lambda h: send(h, 404, page("<h1>Gone</h1>"))
    server.routes["/old"] = lambda h: send(h, 301, b"", headers={"Location": server.url("/p?new")})
    sources += [{"id": "old", "url": server.url("/old"), "quotes": [QUOTE]},
                {"id": "gone", "url": server.url("/gone"), "quotes": [QUOTE], "title": "A <gone> page"},
                {"id": "moved", "url": server.url("/p?moved"), "quotes": [QUOTE, "a quote this page lacks"]}]
    config = load_config(write_config(tmp_path, sources))
    judged: dict[str, SourceOutcome] = {}
    recorded = pipeline._recorded

    def keep(*args: Any) -> tuple[SourceOutcome, Record]:
        outcome, record = recorded(*args)
        judged[outcome.source.id] = outcome
        return outcome, record

    monkeypatch.setattr(pipeline, "_recorded", keep)

    async def run() -> CheckRun:
        store = Store.open(config.db_path)
        try:
            async with open_client(config.fetch) as client:
                return await check_pass(config, config.sources, client, store, archive=False)
        finally:
            store.close()

    run_ = asyncio.run(run())
    held = CheckRun(run_.started, run_.finished, tuple(judged[s.id] for s in config.sources))
    assert {o.status for o in held.outcomes} == {Status.OK, Status.BROKEN, Status.WARNING}
    for fmt in FORMATS:
        for colour in (False, True):
            assert "".join(render_check(fmt, run_, config, colour)) == "".join(render_check(fmt, held, config, colour))
    monkeypatch.setattr(text, "LIST_OK_UP_TO", 2)  # a large config's: only the problem sources are read back
    assert "".join(text.render(run_)) == "".join(text.render(held))
    assert "4 sources ok and not listed" in "".join(text.render(run_))
    folder = tmp_path / "written"
    write_run_reports(folder, run_)
    assert (folder / "latest.md").read_text() == "".join(markdown.render(held))
    assert (folder / "latest.json").read_text() == "".join(jsonfmt.render(held))
