"""The judging processes: the same findings as judging in the loop's own process, a bug's exception
back as itself, and a process that dies costs the page it was on only."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace

import pytest
from conftest import page

from linkcheck.analyse import Analysis, judge
from linkcheck.cpupool import CpuPool, ParserDied
from linkcheck.models import FetchResult, MatchKind, Quote

QUOTE = "We will be in a position to extend an invitation to Ukraine to join the Alliance."


def _fetch(i: int) -> FetchResult:
    body = page(f"<main><p>{QUOTE}</p><p>Page {i}.</p></main>").encode()
    return FetchResult(url=f"https://example.org/{i}", final_url=f"https://example.org/{i}", status_code=200,
                       headers=(("content-type", "text/html; charset=utf-8"),), body=body, raw=body)


async def _judge(cpu: CpuPool, i: int) -> Analysis:
    return (await cpu.judge(_fetch(i), None, (Quote(QUOTE),), 0.9, (), None))[0]


def test_the_processes_find_what_this_process_finds() -> None:
    async def run() -> list[Analysis]:
        async with CpuPool(2) as cpu:
            return list(await asyncio.gather(*(_judge(cpu, i) for i in range(20))))

    here = [judge(_fetch(i), None, (Quote(QUOTE),), 0.9, (), None)[0] for i in range(20)]
    assert asyncio.run(run()) == here
    assert {a.quotes[0].match for a in here} == {MatchKind.EXACT} and len({a.text_hash for a in here}) == 20


def test_a_bug_while_judging_comes_back_as_its_own_exception() -> None:
    async def run() -> None:
        async with CpuPool(2) as cpu:
            with pytest.raises(AttributeError, match="NoneType"):
                await cpu.judge(_fetch(0), None, (None,), 0.9, (), None)  # type: ignore[arg-type]
            assert (await _judge(cpu, 1)).quotes[0].match is MatchKind.EXACT  # and the process goes on

    asyncio.run(run())


def test_a_process_that_dies_costs_the_page_it_was_on_only() -> None:
    """Both processes are stopped (SIGSTOP) so that three pages wait on them; one is then killed.
    The page it was reading fails with ParserDied; the one queued behind it goes to another
    process; once the other one resumes, every other page is judged; a new process takes the dead
    one's place."""

    async def run() -> None:
        async with CpuPool(2) as cpu:
            await asyncio.gather(_judge(cpu, 0), _judge(cpu, 1))  # both processes started
            pids = [p.process.pid for p in cpu._processes]
            assert len(pids) == 2 and all(pids)
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)  # type: ignore[arg-type]
            calls = [asyncio.ensure_future(_judge(cpu, i)) for i in range(2, 5)]
            for _ in range(10_000):  # each call is sent once it has had its turn on the loop
                if sum(len(p.calls) for p in cpu._processes) == 3:
                    break
                await asyncio.sleep(0)
            assert sum(len(p.calls) for p in cpu._processes) == 3
            victim = cpu._processes[0]
            assert len(victim.calls) >= 1
            os.kill(victim.process.pid, signal.SIGKILL)  # type: ignore[arg-type]
            os.kill(pids[1], signal.SIGCONT)  # type: ignore[arg-type]
            done = await asyncio.gather(*calls, return_exceptions=True)
            died = [d for d in done if isinstance(d, ParserDied)]
            assert len(died) == 1 and "killed by SIGKILL" in str(died[0])
            assert all(isinstance(d, Analysis) and d.quotes[0].match is MatchKind.EXACT for d in done if d not in died)
            assert (await _judge(cpu, 5)).quotes[0].match is MatchKind.EXACT
            assert len(cpu._processes) == 2 and victim.process.pid not in {p.process.pid for p in cpu._processes}

    asyncio.run(run())


class _StopsWhenRead:
    """Unpickled, it raises StopIteration: which a future refuses as its exception."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return next, (iter(()),)


def test_an_exception_that_cannot_cross_comes_back_as_its_name_and_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    import httpx

    from linkcheck import cpupool

    def fails(*args: object) -> None:  # httpx's error needs keyword arguments that pickling loses
        raise httpx.HTTPStatusError("teapot", request=httpx.Request("GET", "https://e.org"),
                                    response=httpx.Response(418))

    monkeypatch.setattr(cpupool, "judge", fails)
    ok, value = pickle.loads(cpupool._answer(bytearray(pickle.dumps(()))))
    assert not ok and isinstance(value, RuntimeError) and str(value) == "HTTPStatusError: teapot"

    async def run() -> None:
        async with CpuPool(2) as cpu:
            with pytest.raises(RuntimeError, match="StopIteration"):
                await cpu.judge(_fetch(0), None, (Quote(QUOTE),), _StopsWhenRead(), (), None)  # type: ignore[arg-type]
            assert [(await _judge(cpu, i)).quotes[0].match for i in range(4)] == [MatchKind.EXACT] * 4

    asyncio.run(run())


def test_closing_stops_processes_stuck_on_a_page() -> None:
    """Processes that never finish their page (stopped here), each sent a page larger than a
    socket holds: closing cuts the sockets and kills them after their grace, instead of waiting
    for ever for those pages to be delivered."""

    async def run() -> list[int | None]:
        cpu = CpuPool(2)
        await asyncio.gather(_judge(cpu, 0), _judge(cpu, 1))
        stuck = [p.process for p in cpu._processes]
        for process in stuck:
            os.kill(process.pid, signal.SIGSTOP)  # type: ignore[arg-type]
        big = _fetch(2)
        body = big.body + b"<!--" + b"x" * 20_000_000 + b"-->"
        calls = [asyncio.ensure_future(cpu.judge(replace(big, body=body, raw=body), None, (), 0.9, (), None))
                 for _ in range(2)]
        for _ in range(10_000):
            if [len(p.calls) for p in cpu._processes] == [1, 1]:
                break
            await asyncio.sleep(0)
        assert [len(p.calls) for p in cpu._processes] == [1, 1]
        await cpu.aclose()
        assert all(c.cancelled() for c in calls)
        return [p.exitcode for p in stuck]

    assert asyncio.run(run()) == [-signal.SIGKILL] * 2


def test_a_page_a_process_never_finishes_fails_at_the_deadline_alone() -> None:
    """A process stuck on a page (stopped here, as a parser caught in a loop would be) is stopped
    at the pool's deadline: that page fails, the others are judged, a new process takes its place."""

    async def run() -> None:
        async with CpuPool(2, deadline=1.0) as cpu:
            await asyncio.gather(_judge(cpu, 0), _judge(cpu, 1))
            stuck = cpu._processes[0].process
            os.kill(stuck.pid, signal.SIGSTOP)  # type: ignore[arg-type]
            with pytest.raises(ParserDied, match=r"still on it after 1 s"):
                await _judge(cpu, 2)  # the first of two idle processes takes it
            assert [(await _judge(cpu, i)).quotes[0].match for i in range(3, 7)] == [MatchKind.EXACT] * 4
            assert stuck.exitcode == -signal.SIGKILL and stuck not in [p.process for p in cpu._processes]

    asyncio.run(run())


@pytest.mark.parametrize("room, queued", [(None, [8, 8]), (1, [2, 2])])
def test_pages_queued_on_a_process_are_bounded_by_count_and_bytes(room: int | None, queued: list[int],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Processes that do not answer (stopped) are sent at most eight pages each, and beyond their
    first two only while the bytes queued on them stay under `_ROOM` (here one byte: two each).
    Once they resume, every page is judged, in full."""
    from linkcheck import cpupool

    if room is not None:
        monkeypatch.setattr(cpupool, "_ROOM", room)

    async def run() -> None:
        async with CpuPool(2) as cpu:
            await asyncio.gather(_judge(cpu, 0), _judge(cpu, 1))  # both processes started
            pids = [p.process.pid for p in cpu._processes]
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)  # type: ignore[arg-type]
            calls = [asyncio.ensure_future(_judge(cpu, i)) for i in range(2, 22)]
            for _ in range(10_000):  # every call has had its turns on the loop many times over
                await asyncio.sleep(0)
            assert sorted(len(p.calls) for p in cpu._processes) == queued
            assert sum(not c.done() for c in calls) == 20
            for pid in pids:
                os.kill(pid, signal.SIGCONT)  # type: ignore[arg-type]
            assert [a.quotes[0].match for a in await asyncio.gather(*calls)] == [MatchKind.EXACT] * 20

    asyncio.run(run())


def test_without_a_forkserver_pages_are_judged_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where multiprocessing has no forkserver (Windows), the pool judges in this process."""
    from linkcheck import prefork

    monkeypatch.setattr(prefork.multiprocessing, "get_all_start_methods", lambda: ["spawn"])

    async def run() -> list[Analysis]:
        async with CpuPool(2) as cpu:
            found = [await _judge(cpu, i) for i in range(3)]
            assert cpu._processes == []
            return found

    assert asyncio.run(run()) == [judge(_fetch(i), None, (Quote(QUOTE),), 0.9, (), None)[0] for i in range(3)]


def test_the_forkserver_starts_with_ctrl_c_left_to_the_command() -> None:
    """`check` starts the forkserver early; a Ctrl-C meanwhile must not print tracebacks from it or
    its resource tracker: both start with SIGINT ignored, and the command keeps its own handler."""
    import subprocess
    import sys

    code = """if True:
        import os, signal
        from linkcheck import prefork
        handler = signal.getsignal(signal.SIGINT)
        prefork.start(2)
        assert signal.getsignal(signal.SIGINT) is handler
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                    status = open(f"/proc/{entry}/status").read()
                except OSError:
                    continue
                if int(stat[1]) == os.getpid():
                    ignored = int(next(l for l in status.splitlines() if l.startswith("SigIgn:")).split()[1], 16)
                    print(bool(ignored & (1 << (signal.SIGINT - 1))))
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]  # the resource tracker and the forkserver
