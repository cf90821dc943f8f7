"""HTTP for a check pass: hard deadlines, retries, per-host limits, size caps on the decoded
body, redirects followed by hand, and the private-address guard on every hop.

httpx is the API; the transport is aiohttp's (via httpx-aiohttp), because httpcore's pool
slows down as concurrency grows (see BENCHMARKS.md). The aiohttp transport hands bodies over
still encoded, so decompression happens here, in bounded pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
from aiohttp import http_exceptions
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream

from .config import FetchSettings
from .durations import now_utc, stamp
from .guard import AddressGuard, GuardedResolver, refusal_in
from .models import FetchResult, Hop, LinkState

# Everything the transport may raise for a bad server or a bad URL (httpx-aiohttp maps only some
# aiohttp errors: a malformed header arrives as aiohttp's own ClientResponseError, a bad
# Location as ValueError from urljoin or httpx.InvalidURL, which is no httpx.HTTPError).
_TRANSPORT_ERRORS = (httpx.HTTPError, httpx.InvalidURL, aiohttp.ClientError, ValueError)
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PIECE = 64 * 1024  # largest piece inflated at a time
# The request extension by which a request asks `_Transport` for larger reads of its body.
_READ_SIZE = "linkcheck.read_size"


@contextlib.asynccontextmanager
async def open_client(settings: FetchSettings, longest: float = 0.0) -> AsyncIterator[PassClient]:
    """The one client of a pass, on aiohttp's transport with the guarded resolver.

    Its own timeouts come from the config, never httpx's 5 s default: each request may last as
    long as the longest deadline any caller puts around it (`fetch.timeout`, or `longest`, e.g.
    the archive's per-request timeout); the callers' own deadlines are the real limits. (The
    Fetcher's requests go without: its deadline is all they need.)

    It keeps no cookies (nor does aiohttp's session under it): a fetch keeps its own, for its
    redirects (`Fetcher.fetch`). A jar shared by the pass grew with every site, and httpx copies
    the whole jar into every request it builds: 0.1 ms a request at 10 cookies, 15 ms at 3,000.
    """
    guard = AddressGuard(settings.allow_private, settings.allow_networks)
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(guard), limit=settings.concurrency,
        limit_per_host=settings.per_host, ssl=ssl.create_default_context(), ttl_dns_cache=60,
    )
    session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False,
                                    skip_auto_headers=("Accept-Encoding", "User-Agent"),
                                    cookie_jar=aiohttp.DummyCookieJar())
    client = PassClient(_Transport(client=session), trust_env=False, follow_redirects=False,
                        timeout=httpx.Timeout(max(settings.timeout, longest)),
                        headers={"User-Agent": settings.user_agent,
                                 "Accept-Encoding": "gzip, deflate",
                                 "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                                 "Accept-Language": "en,ja;q=0.9,*;q=0.5"})
    # Not `client.cookies = ...`: that setter copies the cookies into a plain store.
    client._cookies = _NoCookies()
    try:
        yield client
    finally:
        await client.aclose()


class PassClient(httpx.AsyncClient):
    """The pass's client, and the transport under it, to which the Fetcher sends its requests
    itself: it follows redirects, keeps cookies and puts deadlines on its own, so the client's
    layers around a request (auth flow, redirect and cookie handling, timer, stream wrapper) cost
    it ~0.05 ms of CPU a request for nothing (a real page: 0.24 ms through the transport, 0.29
    through `client.send`, best of five runs). The client's other users (the archive) use them."""

    def __init__(self, transport: _Transport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self.transport = transport


class _NoCookies(httpx.Cookies):
    """The client's own cookie store, which takes nothing (each fetch keeps its own).

    httpx offers every response to the client's store; a jar whose policy refused every cookie
    still wrapped the request and response for `http.cookiejar` and parsed the headers first:
    20 µs a response, 4% of the loop's Python time. Empty, the store costs nothing when httpx
    builds a request either (it merges the client's cookies in only when there are some).
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class _Transport(AiohttpTransport):
    """httpx-aiohttp's transport, which hands a body over in reads of at most 16 KB, or of at most
    `extensions[_READ_SIZE]` bytes for a request that asks.

    The Fetcher asks for 256 KB: a 177 KB page that has arrived whole then comes out in one or two
    pieces instead of eleven, each of which went through aiohttp's stream reader and two async
    generators (httpx-aiohttp's stream, `aiter_raw`). aiohttp may then
    buffer twice the read size, 512 KB of such a body (128 KB otherwise), before it stops reading
    the socket. Only the Fetcher asks, because it inflates a piece in bounded parts (`_Decoder`);
    httpx's own decoding (`aiter_bytes`, used by the archive) inflates a whole piece at once, and
    16 KB of a gzip bomb is 16 MB.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        size = request.extensions.get(_READ_SIZE)
        if size and isinstance(response.stream, AiohttpResponseStream):
            response.stream.CHUNK_SIZE = size
        return response


def _state(cookies: httpx.Cookies | None) -> frozenset[tuple[str, str, str, str | None]]:
    return frozenset((c.domain, c.path, c.name, c.value) for c in cookies.jar) if cookies else frozenset()


class TooLarge(Exception):
    pass


class _Decoder:
    """Undoes Content-Encoding while counting: never holds more than `limit` decoded bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        enc = encoding.strip().lower()
        self._z: zlib._Decompress | None = None
        self._deflate_probe = False
        if enc in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._z = zlib.decompressobj()
            self._deflate_probe = True
        self._out: list[bytes] = []

    def feed(self, data: bytes) -> None:
        if self._z is None:
            self._add(data)
            return
        try:
            while data:
                piece = self._z.decompress(data, _PIECE)
                self._add(piece)
                data = self._z.unconsumed_tail
        except zlib.error:
            if self._deflate_probe and self.size == 0:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
                self._deflate_probe = False
                self.feed(data)
                return
            raise

    def _add(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            raise TooLarge
        self._out.append(piece)

    @property
    def identity(self) -> bool:
        """No Content-Encoding to undo: the body is the bytes as received."""
        return self._z is None

    def result(self) -> bytes:
        return b"".join(self._out)


@dataclass(frozen=True)
class _Attempt:
    result: FetchResult
    retry: bool = False
    retry_after: float | None = None


class Fetcher:
    """Fetches URLs for one pass through one shared client."""

    def __init__(self, client: PassClient, settings: FetchSettings,
                 host_slot: Callable[[str], AbstractAsyncContextManager[None]] | None = None) -> None:
        self.client = client
        self.settings = settings
        self.host_slot = host_slot  # per_host across processes (workers), on top of this one's semaphores
        self.guard = AddressGuard(settings.allow_private, settings.allow_networks)
        self._all = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def fetch(self, url: str, accept: str | None = None,
                    conditional: Mapping[str, str] | None = None) -> FetchResult:
        """GET `url` with retries; never raises for network trouble. `conditional` headers
        (If-None-Match, If-Modified-Since) go with the first hop only; a 304 answer to them is a
        result with status 304 and no body."""
        attempt = 0
        while True:
            try:
                # Armed by `_follow` once the first host slot is held: waiting for a slot is
                # queueing on our side, not the server being slow.
                async with asyncio.timeout(None) as deadline:
                    outcome = await self._follow(url, accept, deadline, conditional or {})
            except TimeoutError:
                outcome = _Attempt(_failure(url, LinkState.UNREACHABLE, ("timeout",),
                                            f"no complete answer within {self.settings.timeout:g}s"),
                                   retry=True)
            if not outcome.retry or attempt >= self.settings.retries:
                return outcome.result
            delay = min(self.settings.backoff * 2 ** attempt, self.settings.max_backoff)
            if outcome.retry_after is not None:
                delay = min(max(delay, outcome.retry_after), self.settings.max_backoff)
            attempt += 1
            await asyncio.sleep(delay)

    @contextlib.asynccontextmanager
    async def _slot(self, url: str) -> AsyncIterator[None]:
        host = urlsplit(url).netloc.lower()
        sem = self._hosts.setdefault(host, asyncio.Semaphore(self.settings.per_host))
        async with self._all, sem, (self.host_slot(host) if self.host_slot else contextlib.nullcontext()):
            yield

    async def _follow(self, url: str, accept: str | None, deadline: asyncio.Timeout,
                      conditional: Mapping[str, str]) -> _Attempt:
        hops: list[Hop] = []
        current = url
        headers = {"Accept": accept} if accept else {}
        # This fetch's cookies: what its redirects set goes with its next hops (a site may send a
        # client without its cookie to a page that sets one, then back), and no further, as for a
        # reader who follows the link once; no source's result depends on which sources came before.
        # Made by the first hop that sets one (most fetches never need a jar).
        cookies: httpx.Cookies | None = None
        seen = {(url, _state(cookies))}  # a URL visited again with the same cookies is a loop
        while True:
            refusal = self.guard.url_refusal(current)
            if refusal:
                return _Attempt(_failure(url, LinkState.REFUSED, ("refused",), f"not fetched: {refusal}",
                                         final_url=current, hops=hops))
            try:
                async with self._slot(current):
                    if deadline.when() is None:
                        deadline.reschedule(asyncio.get_running_loop().time() + self.settings.timeout)
                    first = not hops
                    # The headers `client.build_request` would send. No transport timeouts: they start
                    # after `deadline` and last no less, so they never fired first, and aiohttp re-armed
                    # its read timer on every packet.
                    sent = self.client.headers.copy()
                    sent.update(headers | dict(conditional) if first else headers)
                    request = httpx.Request("GET", current, headers=sent, extensions={_READ_SIZE: 256 * 1024})
                    if cookies:
                        cookies.set_cookie_header(request)
                    response = await self.client.transport.handle_async_request(request)
                    try:
                        if "set-cookie" in response.headers:
                            cookies = cookies if cookies is not None else httpx.Cookies()
                            cookies.extract_cookies(response)
                        location = response.headers.get("location")
                        if response.status_code in REDIRECT_STATUSES and location:
                            hops.append(Hop(current, response.status_code))
                            current = urljoin(current, location.strip())
                        else:
                            if first and conditional and response.status_code == 304:
                                return _Attempt(FetchResult(url=url, final_url=url, status_code=304,
                                                            headers=tuple(response.headers.multi_items()),
                                                            fetched_at=_now()))
                            return await self._read(url, current, response, hops)
                    finally:
                        await response.aclose()
            except _TRANSPORT_ERRORS as exc:
                return _network_failure(url, current, exc, hops)
            visit = (current, _state(cookies))
            if visit in seen:
                return _Attempt(_failure(url, LinkState.UNREACHABLE, ("redirect-loop",),
                                         f"redirect loop: {current} was already visited",
                                         final_url=current, hops=hops))
            if len(hops) > self.settings.max_redirects:
                return _Attempt(_failure(url, LinkState.UNREACHABLE, ("redirect-loop",),
                                         f"more than {self.settings.max_redirects} redirects",
                                         final_url=current, hops=hops))
            seen.add(visit)

    async def _read(self, url: str, final: str, response: httpx.Response,
                    hops: list[Hop]) -> _Attempt:
        status = response.status_code
        headers = tuple((k, v) for k, v in response.headers.multi_items())
        base = FetchResult(url=url, final_url=final, status_code=status, headers=headers,
                           hops=tuple(hops), fetched_at=_now())
        answer = f"the server answers HTTP {status} {response.reason_phrase}".strip()  # for error statuses
        if status in RETRY_STATUSES:
            return _Attempt(replace(base, error=_status_state(status),
                                    problems=("blocked",) if status == 429 else ("unreachable",), message=answer),
                            retry=True, retry_after=_retry_after(response.headers.get("retry-after")))
        # Error pages are read too (bot walls are recognised by their text), but at most 64 KB.
        limit = self.settings.max_bytes if 200 <= status < 300 else min(self.settings.max_bytes, 65536)
        length = response.headers.get("content-length", "")
        if 200 <= status < 300 and length.isdigit() and int(length) > limit:
            return _Attempt(replace(base, error=LinkState.BLOCKED, problems=("too-large",),
                                    message=f"the page is {int(length):,} bytes, over fetch.max_bytes "
                                            f"({limit:,})"))
        decoder = _Decoder(response.headers.get("content-encoding", ""), limit)
        raw: list[bytes] = []
        raw_size = 0
        try:
            async for chunk in response.aiter_raw():
                raw_size += len(chunk)
                if raw_size > limit:
                    raise TooLarge
                raw.append(chunk)
                decoder.feed(chunk)
        except TooLarge:
            if not 200 <= status < 300:
                return _Attempt(replace(base, body=decoder.result(), error=_status_state(status), message=answer))
            return _Attempt(replace(base, error=LinkState.BLOCKED, problems=("too-large",),
                                    message=f"the page is larger than fetch.max_bytes ({limit:,} bytes, "
                                            "decompressed size included)"))
        except zlib.error as exc:
            return _Attempt(replace(base, error=LinkState.UNREACHABLE, problems=("unreachable",),
                                    message=f"the body could not be decompressed ({exc})"))
        body = decoder.result()
        raw_bytes = body if decoder.identity else b"".join(raw)  # one copy of an unencoded page, not two
        if 200 <= status < 300:
            return _Attempt(replace(base, body=body, raw=raw_bytes))
        return _Attempt(replace(base, body=body, raw=raw_bytes, error=_status_state(status), message=answer))


def _status_state(status: int) -> LinkState:
    if status in (401, 403, 407, 429, 451):
        return LinkState.BLOCKED
    if 400 <= status < 500:
        return LinkState.DEAD
    return LinkState.UNREACHABLE


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _network_failure(url: str, current: str, exc: Exception, hops: list[Hop]) -> _Attempt:
    """The one place a transport or protocol error becomes a verdict: `unreachable` (or
    `refused`) with a plain sentence; retried only when trying again might help."""
    refusal = refusal_in(exc)
    if refusal:
        return _Attempt(_failure(url, LinkState.REFUSED, ("refused",), f"not fetched: {refusal}",
                                 final_url=current, hops=hops))
    host = urlsplit(current).hostname or current
    cause = _root_cause(exc)
    if isinstance(cause, socket.gaierror):
        return _Attempt(_failure(url, LinkState.UNREACHABLE, ("unreachable",),
                                 f"the host name {host} could not be resolved ({cause.strerror or cause})",
                                 final_url=current, hops=hops))
    if isinstance(cause, ssl.SSLError | ssl.CertificateError):
        return _Attempt(_failure(url, LinkState.UNREACHABLE, ("unreachable",),
                                 f"TLS failed with {host}: {cause}", final_url=current, hops=hops))
    plain = _plain_protocol_error(exc, cause, redirected=bool(hops))
    if plain:
        return _Attempt(_failure(url, LinkState.UNREACHABLE, ("unreachable",), f"{host}: {plain}",
                                 final_url=current, hops=hops))
    detail = str(cause) or type(cause).__name__
    return _Attempt(_failure(url, LinkState.UNREACHABLE, ("unreachable",),
                             f"could not connect to {host}: {detail}", final_url=current, hops=hops),
                    retry=True)


def _plain_protocol_error(exc: Exception, cause: BaseException, redirected: bool) -> str:
    """A sentence for answers that are broken rather than missing (not worth a retry), or ''."""
    if isinstance(cause, aiohttp.ClientPayloadError | http_exceptions.PayloadEncodingError):
        return f"the server sent a broken body ({_one_line(str(getattr(cause, 'message', '') or cause))})"
    if isinstance(cause, aiohttp.ClientResponseError | http_exceptions.HttpProcessingError):
        detail = str(getattr(cause, "message", "") or cause)
        what = "a malformed header" if "header" in detail.lower() else "a malformed HTTP answer"
        return f"the server sent {what} ({_one_line(detail)})"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | aiohttp.InvalidURL) or \
            type(exc) is ValueError:  # urljoin's own complaint about a Location header
        what = "the redirect target" if redirected else "the URL"
        return f"{what} is not a valid URL ({_one_line(str(exc))})"
    if isinstance(exc, ValueError):
        return f"the server's answer could not be decoded ({_one_line(str(exc))})"
    return ""


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = getattr(exc, "os_error", None) or exc.__cause__
        if nxt is None:
            break
        exc = nxt
    return exc


def _failure(url: str, state: LinkState, problems: tuple[str, ...], message: str,
             final_url: str | None = None, hops: list[Hop] | None = None) -> FetchResult:
    return FetchResult(url=url, final_url=final_url or url, status_code=None, error=state,
                       problems=problems, message=message, hops=tuple(hops or ()), fetched_at=_now())


def _now() -> str:
    return stamp(now_utc())

