"""Cookies live as long as one fetch: a redirect's cookie goes with the next hops (cookie walls
work), and no further: the next source starts without it, as a reader following the link would,
and the pass keeps no jar that grows with every site it has seen."""

from __future__ import annotations

import asyncio
import http.server
from pathlib import Path

import pytest
from conftest import Server, by_id, check_json, page, send, write_config

from linkcheck.config import FetchSettings
from linkcheck.fetch import Fetcher, open_client

QUOTE = "A cookie wall stands between a client and this sentence."


def _cookie_wall(server: Server) -> list[tuple[str, str]]:
    """/article answers with the page only to a client that has the cookie /consent sets; the
    path and Cookie header of every request to /article are recorded."""
    seen: list[tuple[str, str]] = []

    def article(h: http.server.BaseHTTPRequestHandler) -> None:
        cookie = h.headers.get("Cookie") or ""
        seen.append((h.path, cookie))
        if "seen=1" in cookie:
            send(h, 200, page(f"<p>{QUOTE}</p>"))
        else:
            send(h, 302, b"", headers={"Location": "/consent?back=" + h.path})

    def consent(h: http.server.BaseHTTPRequestHandler) -> None:
        send(h, 302, b"", headers={"Location": h.path.split("back=")[1], "Set-Cookie": "seen=1; Path=/"})

    server.routes["/article"] = article
    server.routes["/consent"] = consent
    return seen


def test_a_page_behind_a_cookie_redirect_is_read_and_the_cookie_stays_with_its_fetch(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen = _cookie_wall(server)
    config = write_config(tmp_path, [{"id": "first", "url": server.url("/article?1"), "quotes": [QUOTE]},
                                     {"id": "second", "url": server.url("/article?2"), "quotes": [QUOTE]}])
    _, report = check_json(config, capsys, "--no-archive")
    found = by_id(report)
    for source in ("first", "second"):
        assert found[source]["status"] == "ok" and found[source]["link"] == "alive"  # back at its URL
        assert found[source]["quotes"][0]["match"] == "exact"
    # Each source: first without the cookie (the wall), then with it (after /consent).
    for path in ("/article?1", "/article?2"):
        assert [cookie for p, cookie in seen if p == path] == ["", "seen=1"]


def test_the_pass_client_keeps_no_cookie(server: Server) -> None:
    _cookie_wall(server)

    async def run() -> int:
        settings = FetchSettings(allow_private=True)
        async with open_client(settings) as client:
            result = await Fetcher(client, settings).fetch(server.url("/article?x"))
            assert result.status_code == 200 and QUOTE.encode() in result.body
            return len(client.cookies.jar)

    assert asyncio.run(run()) == 0
