"""The processes that judge pages (`analyse.judge`) while the event loop does the I/O.

Each process has a socket pair with the loop and answers, in order, the calls sent on it: a call
is one length-prefixed pickle out (the page and a little prior state) and one back (an `Analysis`
and where the WARC went). The loop writes and reads those sockets itself, so the pool costs no
thread, lock or queue in this process. With `concurrent.futures.ProcessPoolExecutor` (a feeder and
a manager thread, a shared queue) the loop's process spent 5.4–6.4 s of user CPU on a first pass
of 3,000 real pages, 4.9–5.0 s with this (three runs each, alternating).

A process that dies (a parser crash, the kernel's OOM killer) costs the page it was reading
only: that call raises `ParserDied`, the calls queued behind it go to another process, and a new
process takes its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import pickle
import signal
import socket
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from .analyse import Analysis, SnapshotTask, judge
from .archive.snapshots import Written
from .models import FetchResult, PageText, Quote

_IN_THREAD = 1_000_000  # in-process, bodies this large are parsed off the loop
_QUEUED = 2  # calls sent to one process before it answers: one read, one waiting behind it
_BUFFER = 4 << 20  # asked of the kernel for each socket (it grants up to twice net.core.wmem_max)
_HEADER = 8  # bytes of a frame's length, little-endian


class ParserDied(Exception):
    """The process judging the page stopped before it answered."""


class _Requeue(Exception):
    """A call queued behind one that killed its process: it was never started."""


def _frame(data: bytes) -> bytes:
    return len(data).to_bytes(_HEADER, "little")


def _received(sock: socket.socket, size: int) -> bytearray | None:
    """Exactly `size` bytes from `sock`, or None at the end of the stream."""
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if not n:
            return None
        got += n
    return buf


def _answer(args: bytearray) -> bytes:
    try:
        result: tuple[bool, Any] = (True, judge(*pickle.loads(args)))
    except Exception as exc:  # a bug while judging one page: that call's exception, in the loop
        result = (False, exc)
    try:
        return pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that does not pickle: its name and message do
        return pickle.dumps((False, RuntimeError(f"{type(result[1]).__name__}: {result[1]}")))


def _serve(sock: socket.socket) -> None:
    """A judging process: answers the calls on `sock` until the loop closes its end. Ctrl-C is the
    loop's to handle (it closes the sockets): a process that stopped on it would fail a page."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with sock:
        while (head := _received(sock, _HEADER)) is not None:
            args = _received(sock, int.from_bytes(head, "little"))
            if args is None:
                return
            answer = _answer(args)
            sock.sendall(_frame(answer) + answer)


@dataclass
class _Process:
    process: BaseProcess
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    calls: deque[tuple[asyncio.Future[Any], int]] = field(default_factory=deque)  # sent, unanswered
    load: int = 0  # bytes of the pages sent and not answered yet
    task: asyncio.Task[None] | None = None


class CpuPool:
    """`judge` in `workers` processes (more than 1), or on this process (0 or 1, as tests do).

    Use it as `async with CpuPool(n) as cpu`. Processes start with the first page to read (a
    pass whose every page is unchanged starts none) and are forked from a forkserver, never from
    this process while its other threads (a daemon's, a test server's) may hold a lock."""

    def __init__(self, workers: int) -> None:
        self._size = workers if workers > 1 else 0
        self._processes: list[_Process] = []
        self._slots = asyncio.Semaphore(self._size * _QUEUED)  # so at most _QUEUED calls wait on a process
        self._starting = asyncio.Lock()

    async def __aenter__(self) -> CpuPool:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def judge(self, fetch: FetchResult, page: PageText | None, quotes: Sequence[Quote], min_score: float,
                    recent: Sequence[str], snapshot: SnapshotTask | None) -> tuple[Analysis, Written | None]:
        """`judge` in a process of the pool when there is one and a body to read, else here (off
        the loop for a large body or a bucket's write)."""
        if snapshot is None:
            fetch = replace(fetch, raw=b"")  # only the decoded body is read (and, unencoded, it is the raw one)
        args = (fetch, page, tuple(quotes), min_score, tuple(recent), snapshot)
        if self._size and page is None and fetch.error is None:
            result: tuple[Analysis, Written | None] = await self._call(args, len(fetch.body) + len(fetch.raw))
            return result
        if len(fetch.body) > _IN_THREAD or (snapshot and not snapshot.storage.local):
            return await asyncio.to_thread(judge, *args)
        return judge(*args)

    async def _call(self, args: tuple[Any, ...], size: int) -> Any:
        while True:
            async with self._slots:  # a slot per call in flight, one woken per answer
                # Pickled once it has a slot: the pass's other sources wait with their page, not a copy too.
                data = pickle.dumps(args, pickle.HIGHEST_PROTOCOL)
                process = await self._least_loaded()
                answer = asyncio.get_running_loop().create_future()
                process.calls.append((answer, size))
                process.load += size
                process.writer.write(_frame(data))
                process.writer.write(data)
                with contextlib.suppress(ConnectionError):  # it died: its reader settles the call
                    await process.writer.drain()
                try:
                    return await answer
                except _Requeue:
                    continue

    async def _least_loaded(self) -> _Process:
        if len(self._processes) < self._size:
            async with self._starting:
                while len(self._processes) < self._size:
                    self._processes.append(await self._start())
        return min(self._processes, key=lambda p: (len(p.calls), p.load))

    async def _start(self) -> _Process:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, "pypdfium2"])  # parsers imported once, their pages shared
        ours, theirs = socket.socketpair()
        for end in (ours, theirs):  # room for a whole page: the loop's one send() hands it over
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
        with theirs:
            process = context.Process(target=_serve, args=(theirs,), daemon=True, name="linkcheck-parser")
            await asyncio.to_thread(process.start)  # the forkserver's first start imports the parsers: ~0.2 s
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        started = _Process(process, reader, writer)
        started.task = asyncio.create_task(self._answers(started))
        return started

    async def _answers(self, process: _Process) -> None:
        try:
            while True:
                head = await process.reader.readexactly(_HEADER)
                ok, value = pickle.loads(await process.reader.readexactly(int.from_bytes(head, "little")))
                answer, size = process.calls.popleft()
                process.load -= size
                if not answer.done():  # its caller may have been cancelled
                    (answer.set_result if ok else answer.set_exception)(value)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self._died(process)

    async def _died(self, process: _Process) -> None:
        """Fail the call the process was on, send the others elsewhere, and let a new one start."""
        self._processes.remove(process)
        process.writer.close()
        await asyncio.to_thread(process.process.join, 5)
        code = process.process.exitcode
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        for i, (answer, _) in enumerate(process.calls):
            if not answer.done():
                answer.set_exception(ParserDied(f"the process reading this page stopped ({how})") if i == 0
                                     else _Requeue())
        process.calls.clear()

    async def aclose(self) -> None:
        """Stop the processes: each finishes the page it is on, then sees its socket closed."""
        processes, self._processes = self._processes, []
        for p in processes:
            if p.task is not None:
                p.task.cancel()
            for answer, _ in p.calls:  # a caller still waiting stops as if it had been cancelled
                answer.cancel()
            p.writer.close()
        for p in processes:
            with contextlib.suppress(ConnectionError):
                await p.writer.wait_closed()
            await asyncio.to_thread(p.process.join, 10)
            if p.process.is_alive():
                p.process.kill()
                await asyncio.to_thread(p.process.join)
