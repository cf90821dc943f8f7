"""The private-address guard: no request goes to loopback, private, link-local, multicast,
reserved or unspecified addresses unless the config allows it.

Two places check, because either alone leaves a hole: the URL's host when it is an IP literal
(in any spelling `inet_aton` accepts: `2130706433`, `0x7f.1`, `127.1`, `[::1]`), since aiohttp
skips resolvers for literals; and every address a host name resolves to, at connect time, for
every hop, so DNS rebinding and redirects to internal names are caught too.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(OSError):
    """Raised inside the connector when every resolved address is refused."""


class AddressGuard:
    def __init__(self, allow_private: bool, allow_networks: tuple[str, ...] = ()) -> None:
        self.allow_private = allow_private
        self.allowed = tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)

    def refusal(self, ip: IPAddress) -> str:
        """Why a connection to `ip` is refused, or ""."""
        if isinstance(ip, ipaddress.IPv6Address):
            ip = ip.ipv4_mapped or ip.sixtofour or ip
        if self.allow_private or any(ip in net for net in self.allowed):
            return ""
        for attr, what in (("is_loopback", "a loopback"), ("is_private", "a private"),
                           ("is_link_local", "a link-local"), ("is_multicast", "a multicast"),
                           ("is_reserved", "a reserved"), ("is_unspecified", "an unspecified")):
            if getattr(ip, attr):
                return f"{ip} is {what} address; set fetch.allow_private = true to check it"
        if not ip.is_global:
            return f"{ip} is not a public address; set fetch.allow_private = true to check it"
        return ""

    def url_refusal(self, url: str) -> str:
        """Why `url` is refused before any connection: a bad scheme or a refused IP literal."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return f"{parts.scheme or 'a missing'} scheme is not fetched (only http and https)"
        ip = literal_ip(parts.hostname or "")
        return self.refusal(ip) if ip is not None else ""


def literal_ip(host: str) -> IPAddress | None:
    """`host` as an IP address if it is one in any accepted spelling, else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:  # the legacy forms the resolver would accept: 2130706433, 0x7f.1, 127.1, 017700000001
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that drops refused addresses and fails when none is left."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        self._resolver = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        reason = ""
        for r in results:
            reason_here = self.guard.refusal(ipaddress.ip_address(r["host"]))
            if reason_here:
                reason = reason or f"{host} resolves to a refused address: {reason_here}"
            else:
                allowed.append(r)
        if not allowed:
            raise RefusedAddress(reason or f"{host} has no allowed address")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


def refusal_in(exc: BaseException) -> str:
    """The guard's message if `exc` was caused by a refused address, else ""."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, RefusedAddress):
            return str(e)
        todo += [e.__cause__, e.__context__, getattr(e, "os_error", None)]
    return ""
