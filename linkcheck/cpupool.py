"""The processes that judge pages (`analyse.judge`) while the event loop does the I/O.

Each process has a socket pair with the loop and answers, in order, the calls sent on it: a call
is one length-prefixed pickle out (the page and a little prior state) and one back (an `Analysis`
and where the WARC went). The loop writes and reads those sockets itself, so the pool costs no
thread, lock or queue in this process. With `concurrent.futures.ProcessPoolExecutor` (a feeder and
a manager thread, a shared queue) the loop's process spent 5.4–6.4 s of user CPU on a first pass
of 3,000 real pages, 4.9–5.0 s with this (three runs each, alternating).

A process that dies (a parser crash, the kernel's OOM killer), or is still on one page after
`DEADLINE`, costs the page it was reading only: that call raises `ParserDied`, the calls queued
behind it go to another process, and a new process takes its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import signal
import socket
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from . import prefork
from .analyse import Analysis, SnapshotTask, judge
from .archive.snapshots import Written
from .models import FetchResult, PageText, Quote

_IN_THREAD = 1_000_000  # in-process, bodies this large are parsed off the loop
# Calls sent to one process before it answers: up to eight, two always, more only while the pages
# queued on it stay under _ROOM bytes (eight 177 KB pages, not eight 10 MB PDFs held in the loop's
# buffers). The loop sends the next page only between its other work, and some of that is long: a
# history flush of 200 results holds it 16 ms (median; p90 22-28 ms at 10,000 real pages). With
# one page waiting behind the one read (~3 ms of judging) the processes sat idle for 7-8% of a
# first pass's middle, with three 2-3%, with seven ~1%.
_QUEUED = 8
_ROOM = 4 << 20
_BUFFER = 4 << 20  # asked of the kernel for each socket (it grants up to twice net.core.wmem_max)
_HEADER = 8  # bytes of a frame's length, little-endian
# A process still on one page after this long is stopped, and that page's source fails (judging a
# real page takes milliseconds, a large PDF seconds): a page that made a parser loop must cost its
# source only, not a slot of the pool for the rest of the pass.
DEADLINE = 120.0


class ParserDied(Exception):
    """The process judging the page stopped before it answered."""


class _Requeue(Exception):
    """A call queued behind one that killed its process: it was never started."""


def _prefix(data: bytes) -> bytes:
    """The length prefix of a frame of `data`."""
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
        data = pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
        if not result[0]:
            pickle.loads(data)  # an exception must unpickle too (some lose the arguments they need)
        return data
    except Exception:  # what does not cross: its type and message do
        return pickle.dumps((False, RuntimeError(f"{type(result[1]).__name__}: {result[1]}"[:500])))


def _serve(sock: socket.socket) -> None:
    """A judging process: answers the calls on `sock` until the loop closes its end. Ctrl-C is the
    loop's to handle (it closes the sockets): a process that stopped on it would fail a page."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with sock, contextlib.suppress(OSError):  # the loop's end closed mid-call: nobody to answer
        while (head := _received(sock, _HEADER)) is not None:
            args = _received(sock, int.from_bytes(head, "little"))
            if args is None:
                return
            answer = _answer(args)
            sock.sendall(_prefix(answer) + answer)


def _ended(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


@dataclass
class _Process:
    process: BaseProcess
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    calls: deque[tuple[asyncio.Future[Any], int]] = field(default_factory=deque)  # sent, unanswered
    load: int = 0  # bytes of the pages sent and not answered yet
    task: asyncio.Task[None] | None = None
    clock: asyncio.Timeout | None = None  # armed while it has calls: its next answer is due by then


class CpuPool:
    """`judge` in `workers` processes (more than 1), or on this process (0 or 1, as tests do).

    Use it as `async with CpuPool(n) as cpu`. Processes start with the first page to read (a
    pass whose every page is unchanged starts none) and are forked from a forkserver, never from
    this process while its other threads (a daemon's, a test server's) may hold a lock."""

    def __init__(self, workers: int, deadline: float = DEADLINE) -> None:
        self._size = workers if prefork.judging_processes(workers) else 0
        self._deadline = deadline
        self._processes: list[_Process] = []
        self._slots = asyncio.Semaphore(self._size * _QUEUED)  # so at most _QUEUED calls wait on a process
        self._answered = asyncio.Condition()  # a process has answered (or died): room for more bytes
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
                process = await self._room(size)
                answer = asyncio.get_running_loop().create_future()
                if not process.calls:
                    self._arm(process)
                process.calls.append((answer, size))
                process.load += size
                process.writer.writelines([_prefix(data), data])  # one send: the process wakes once
                del data  # sent, or in the transport's buffer: not held again while the answer is awaited
                try:
                    with contextlib.suppress(ConnectionError):  # it died: its reader settles the call
                        await process.writer.drain()
                    return await answer
                except _Requeue:
                    continue
                except asyncio.CancelledError:
                    answer.cancel()  # its answer, when it comes, is read and dropped
                    raise

    async def _room(self, size: int) -> _Process:
        """The least loaded process, once it has room for `size` more bytes of pages (`_ROOM`)."""
        while True:
            process = await self._least_loaded()
            if len(process.calls) < 2 or process.load + size <= _ROOM:
                return process
            async with self._answered:
                await self._answered.wait()

    async def _least_loaded(self) -> _Process:
        if len(self._processes) < self._size:
            async with self._starting:
                while len(self._processes) < self._size:
                    self._processes.append(await self._start())
        return min(self._processes, key=lambda p: (len(p.calls), p.load))

    async def _start(self) -> _Process:
        ours, theirs = socket.socketpair()
        for end in (ours, theirs):  # room for a page (as much as net.core.wmem_max grants): one send()
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
        with theirs:
            process = prefork.context().Process(target=_serve, args=(theirs,), daemon=True, name="linkcheck-parser")
            await asyncio.to_thread(process.start)  # waits for the forkserver's imports if it has just started
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        started = _Process(process, reader, writer)
        started.task = asyncio.create_task(self._answers(started))
        return started

    def _arm(self, process: _Process) -> None:
        if process.clock is not None:
            process.clock.reschedule(asyncio.get_running_loop().time() + self._deadline)

    async def _answers(self, process: _Process) -> None:
        """Settle the process's calls with its answers, in order. Anything that is not an answer
        to a call (the stream's end, bytes that do not unpickle, none within the deadline) is the
        process's end."""
        try:
            while True:
                async with asyncio.timeout(None) as process.clock:
                    if process.calls:
                        self._arm(process)
                    head = await process.reader.readexactly(_HEADER)
                    data = await process.reader.readexactly(int.from_bytes(head, "little"))
                ok, value = pickle.loads(data)
                answer, size = process.calls.popleft()
                process.load -= size
                async with self._answered:
                    self._answered.notify_all()
                if answer.done():  # its caller was cancelled
                    continue
                if ok:
                    answer.set_result(value)
                elif isinstance(value, Exception) and not isinstance(value, StopIteration):
                    answer.set_exception(value)
                else:
                    answer.set_exception(RuntimeError(f"the judging process answered {value!r:.200}"))
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            await self._died(process, f"still on it after {self._deadline:g} s")
        except Exception as exc:
            await self._died(process, "" if isinstance(exc, asyncio.IncompleteReadError | ConnectionError)
                             else f"it answered with what is no answer: {type(exc).__name__}")

    async def _died(self, process: _Process, why: str = "") -> None:
        """Fail the call the process was on, send the others elsewhere, and let a new one start."""
        self._processes.remove(process)
        process.writer.transport.abort()
        await _stopped(process.process, 1.0)
        why = why or _ended(process.process.exitcode)
        for i, (answer, _) in enumerate(process.calls):
            if not answer.done():
                answer.set_exception(ParserDied(f"the process reading this page stopped ({why})") if i == 0
                                     else _Requeue())
        process.calls.clear()
        async with self._answered:
            self._answered.notify_all()

    async def aclose(self) -> None:
        """Stop the processes: their sockets are cut (a page still queued is not delivered) and each
        stops once it has finished the page it is on, or is killed after 2 s (its answer
        would be dropped)."""
        processes, self._processes = self._processes, []
        for p in processes:
            if p.task is not None:
                p.task.cancel()
            for answer, _ in p.calls:  # a caller still waiting stops as if it had been cancelled
                answer.cancel()
            p.writer.transport.abort()
        await asyncio.gather(*(_stopped(p.process, 2.0) for p in processes))


async def _stopped(process: BaseProcess, grace: float) -> None:
    """`process` ended: on its own within `grace` seconds, else killed."""
    await asyncio.to_thread(process.join, grace)
    if process.is_alive():
        process.kill()
        await asyncio.to_thread(process.join)
