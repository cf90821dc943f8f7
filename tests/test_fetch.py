"""Link verdicts and hostile servers, through `linkcheck check` against real loopback servers."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from conftest import Server, by_id, check_json, page, send, write_config

import linkcheck.fetch as fetch_module
from linkcheck.config import FetchSettings
from linkcheck.fetch import Fetcher, open_client


def _redirect(to: str, status: int = 302):  # type: ignore[no-untyped-def]
    def handler(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return handler


def _ok(body: str, title: str = "A page"):  # type: ignore[no-untyped-def]
    return lambda h: send(h, 200, page(body, title))


def test_every_link_verdict(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = server
    s.routes.update({
        "/alive": _ok("<p>Real content here.</p>"),
        "/old/article/1": _redirect("/new/article/1", 301),
        "/new/article/1": _ok("<p>Moved content.</p>"),
        "/news/2023/deep-story": _redirect("/"),
        "/": _ok("<p>Front page</p>", "Home"),
        "/gone": lambda h: send(h, 404, "<h1>Not found</h1>"),
        "/gone410": lambda h: send(h, 410, "gone"),
        "/softtitle": _ok("<p>Sorry</p>", "Page not found | Example"),
        "/softja": lambda h: send(h, 200, page("<h1>ページが見つかりません</h1>", "エラー", "ja")),
        "/to404": _redirect("/errors/404.html"),
        "/errors/404.html": _ok("<p>Oops</p>", "Oops"),
        "/private": lambda h: send(h, 403, "forbidden"),
        "/login": lambda h: send(h, 401, "login"),
        "/wall": lambda h: send(h, 403, "<title>Just a moment...</title><p>Checking your browser</p>"),
        "/down": lambda h: send(h, 503, "down"),
    })
    sources = [{"id": p.strip("/").replace("/", "-") or "root", "url": s.url(p)} for p in (
        "/alive", "/old/article/1", "/news/2023/deep-story", "/gone", "/gone410", "/softtitle",
        "/softja", "/to404", "/private", "/login", "/wall", "/down")]
    sources.append({"id": "refused", "url": "http://10.255.255.1/x"})
    config = write_config(tmp_path, sources, fetch={"allow_private": False,
                                                    "allow_networks": ["127.0.0.0/8"]})
    code, report = check_json(config, capsys, "--no-archive")
    got = {k: (v["link"], v["status"]) for k, v in by_id(report).items()}
    assert got == {
        "alive": ("alive", "ok"),
        "old-article-1": ("redirected", "warning"),
        "news-2023-deep-story": ("soft-404", "broken"),
        "gone": ("dead", "broken"),
        "gone410": ("dead", "broken"),
        "softtitle": ("soft-404", "broken"),
        "softja": ("soft-404", "broken"),
        "to404": ("soft-404", "broken"),
        "private": ("blocked", "warning"),
        "login": ("blocked", "warning"),
        "wall": ("blocked", "warning"),
        "down": ("unreachable", "warning"),
        "refused": ("refused", "warning"),
    }
    assert code == 1
    r = by_id(report)
    assert "bot-wall" in r["wall"]["problems"]
    assert r["old-article-1"]["final_url"] == s.url("/new/article/1")
    assert "10.255.255.1" in r["refused"]["message"]
    assert not any("10.255.255.1" in p for p in s.requests)


def test_all_alive_exits_zero_and_warnings_do_not_fail(server: Server, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = _ok("<p>x</p>")
    server.routes["/b"] = lambda h: send(h, 503, "x")
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")},
                                     {"id": "b", "url": server.url("/b")}])
    code, report = check_json(config, capsys)
    assert code == 0
    assert report["summary"] == {"total": 2, "ok": 1, "warning": 1, "broken": 0, "not_modified": 0,
                                 "internal_errors": 0}


def test_hanging_server_costs_at_most_the_deadline(server: Server, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def hang(h: http.server.BaseHTTPRequestHandler) -> None:
        server.stopping.wait(30)

    def trickle(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        for _ in range(300):
            h.wfile.write(b"x")
            h.wfile.flush()
            if server.stopping.wait(0.1):
                return

    server.routes.update({"/hang": hang, "/trickle": trickle})
    config = write_config(tmp_path, [{"id": "hang", "url": server.url("/hang")},
                                     {"id": "trickle", "url": server.url("/trickle")}],
                          fetch={"timeout": 1, "recheck_pause": -1})
    started = time.monotonic()
    code, report = check_json(config, capsys)
    elapsed = time.monotonic() - started
    r = by_id(report)
    for sid in ("hang", "trickle"):
        assert r[sid]["link"] == "unreachable"
        assert "timeout" in r[sid]["problems"]
        assert r[sid]["quotes"] == []
    assert code == 0
    assert elapsed < 10, f"a 1 s deadline cost {elapsed:.1f} s"


def test_huge_and_compressed_bomb_bodies_are_refused_with_bounded_memory(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = gzip.compress(b"\0" * 60_000_000)
    deflate_bomb = zlib.compress(b"a" * 60_000_000)

    def endless(h: http.server.BaseHTTPRequestHandler) -> None:  # no length, 300 MB if read
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Connection", "close")
        h.end_headers()
        chunk = b"<p>" + b"y" * 65536
        for _ in range(300 * 16):
            h.wfile.write(chunk)

    def declared(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(300_000_000))
        h.end_headers()
        h.wfile.write(b"z" * 65536)

    server.routes.update({
        "/endless": endless, "/declared": declared,
        "/bomb": lambda h: send(h, 200, bomb, {"Content-Encoding": "gzip"}),
        "/deflate": lambda h: send(h, 200, deflate_bomb, {"Content-Encoding": "deflate"}),
        "/small-gzip": lambda h: send(h, 200, gzip.compress(page("<p>Zipped words.</p>").encode()),
                                      {"Content-Encoding": "gzip"}),
    })
    config = write_config(tmp_path, [{"id": k, "url": server.url(f"/{k}")} for k in
                                     ("endless", "declared", "bomb", "deflate")] +
                          [{"id": "small-gzip", "url": server.url("/small-gzip"), "quotes": ["Zipped words."]}],
                          fetch={"max_bytes": 5_000_000})
    # A process of its own, which reports its own peak memory when the pass is over: VmHWM, the
    # high-water mark of its own address space (ru_maxrss keeps the forking parent's, pytest's, RSS
    # across exec on Linux, so it grew with the suite).
    code = ("import re, sys; from linkcheck.cli import main; rc = main(sys.argv[1:]); "
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
            "sys.stderr.write(f'PEAK_KB={hwm}\\n'); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, "check", "--config", str(config), "--format", "json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr
    peak_mb = int(done.stderr.rsplit("PEAK_KB=", 1)[1]) / 1024
    r = by_id(json.loads(done.stdout))
    for sid in ("endless", "declared", "bomb", "deflate"):
        assert r[sid]["link"] == "blocked", sid
        assert r[sid]["problems"] == ["too-large"], sid
    assert r["small-gzip"]["quotes"][0]["match"] == "exact"
    assert peak_mb < 150, f"peak memory {peak_mb:.0f} MB while refusing 300 MB and 60 MB bomb bodies"


def test_only_the_fetcher_reads_bodies_in_large_pieces(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Fetcher inflates what it reads in bounded parts, so it may read 256 KB at a time; the
    client's other requests (the archive's) keep httpx-aiohttp's 16 KB reads, because httpx
    inflates each read whole (16 KB of a gzip bomb is 16 MB). (Loopback delivers 64 KB segments.)"""
    body = os.urandom(600_000)
    server.routes["/big"] = lambda h: send(h, 200, body, content_type="application/octet-stream")
    fed: list[int] = []
    feed = fetch_module._Decoder.feed
    monkeypatch.setattr(fetch_module._Decoder, "feed", lambda self, data: (fed.append(len(data)), feed(self, data))[1])

    async def run() -> tuple[list[int], bytes]:
        settings = FetchSettings(allow_private=True)
        async with open_client(settings) as client:
            async with client.stream("GET", server.url("/big")) as r:
                pieces = [len(chunk) async for chunk in r.aiter_raw()]
            return pieces, (await Fetcher(client, settings).fetch(server.url("/big"))).body

    pieces, fetched = asyncio.run(run())
    assert sum(pieces) == len(body) and max(pieces) <= 16 * 1024
    assert fetched == body and sum(fed) == len(body) and max(fed) > 16 * 1024


def test_redirect_loop_and_hop_limit(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = _redirect("/b")
    server.routes["/b"] = _redirect("/a")
    for i in range(15):
        server.routes[f"/chain/{i}"] = _redirect(f"/chain/{i + 1}")
    config = write_config(tmp_path, [{"id": "loop", "url": server.url("/a")},
                                     {"id": "chain", "url": server.url("/chain/0")}])
    _, report = check_json(config, capsys)
    r = by_id(report)
    assert r["loop"]["link"] == "unreachable" and "redirect-loop" in r["loop"]["problems"]
    assert "loop" in r["loop"]["message"]
    assert r["chain"]["link"] == "unreachable" and "more than 10 redirects" in r["chain"]["message"].lower()
    assert server.requests.count("/a") == 1 and server.requests.count("/b") == 1


def test_retries_503_then_200_and_429_with_retry_after(server: Server, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    calls = {"flaky": 0, "limited": 0}

    def flaky(h: http.server.BaseHTTPRequestHandler) -> None:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            send(h, 503, "busy")
        else:
            send(h, 200, page("<p>Finally.</p>"))

    def limited(h: http.server.BaseHTTPRequestHandler) -> None:
        calls["limited"] += 1
        if calls["limited"] == 1:
            send(h, 429, "slow down", {"Retry-After": "1"})
        else:
            send(h, 200, page("<p>Thanks for waiting.</p>"))

    server.routes.update({"/flaky": flaky, "/limited": limited, "/bad": lambda h: send(h, 400, "bad"),
                          "/always429": lambda h: send(h, 429, "no", {"Retry-After": "0"})})
    config = write_config(tmp_path, [{"id": k, "url": server.url(f"/{k}")} for k in
                                     ("flaky", "limited", "bad", "always429")],
                          fetch={"retries": 2, "recheck_pause": -1})
    started = time.monotonic()
    _, report = check_json(config, capsys)
    r = by_id(report)
    assert r["flaky"]["link"] == "alive" and calls["flaky"] == 3
    assert r["limited"]["link"] == "alive" and calls["limited"] == 2
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was not honoured"
    assert r["bad"]["link"] == "dead" and server.requests.count("/bad") == 1  # 4xx: no retry
    assert r["always429"]["link"] == "blocked" and server.requests.count("/always429") == 3


def test_unreachable_gets_a_second_try_at_the_end(server: Server, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    calls = []

    def once_down(h: http.server.BaseHTTPRequestHandler) -> None:
        calls.append(1)
        send(h, 503 if len(calls) == 1 else 200, page("<p>Up again.</p>"))

    server.routes["/blip"] = once_down
    config = write_config(tmp_path, [{"id": "blip", "url": server.url("/blip")}])
    _, report = check_json(config, capsys)
    assert by_id(report)["blip"]["link"] == "alive"
    assert len(calls) == 2


def test_private_address_guard(server: Server, server2: Server, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/secret"] = _ok("<p>internal</p>")
    server2.routes["/public"] = _ok("<p>public</p>")
    server2.routes["/jump"] = _redirect(server.url("/secret"))
    server2.routes["/jump-name"] = _redirect(f"http://localhost:{server.port}/secret")
    port = server.port
    sources = [
        {"id": "allowed", "url": server2.url("/public")},
        {"id": "jump", "url": server2.url("/jump")},
        {"id": "jump-name", "url": server2.url("/jump-name")},
        {"id": "direct", "url": server.url("/secret")},
        {"id": "decimal", "url": f"http://2130706433:{port}/secret"},
        {"id": "hex", "url": f"http://0x7f.1:{port}/secret"},
        {"id": "short", "url": f"http://127.1:{port}/secret"},
        {"id": "v6", "url": f"http://[::1]:{port}/secret"},
        {"id": "mapped", "url": f"http://[::ffff:127.0.0.1]:{port}/secret"},
        {"id": "name", "url": f"http://localhost:{port}/secret"},
    ]
    config = write_config(tmp_path, sources, fetch={"allow_private": False, "allow_networks": ["127.0.0.2/32"]})
    _, report = check_json(config, capsys)
    r = by_id(report)
    assert r["allowed"]["link"] == "alive"
    for sid in ("jump", "jump-name", "direct", "decimal", "hex", "short", "v6", "mapped", "name"):
        assert r[sid]["link"] == "refused", (sid, r[sid])
        assert r[sid]["problems"] == ["refused"]
    assert "/secret" not in server.requests, "a request reached a refused address"
    assert server2.requests.count("/jump") == 1


def test_per_host_and_global_limits(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    lock, state = threading.Lock(), {"now": 0, "peak": 0}
    arrived = threading.Event()

    def slow(h: http.server.BaseHTTPRequestHandler) -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            if state["now"] >= 2:
                arrived.set()
        arrived.wait(2)  # hold the first requests until a second one could have joined them
        with lock:
            state["now"] -= 1
        send(h, 200, page("<p>ok</p>"))

    for i in range(6):
        server.routes[f"/s{i}"] = slow
    config = write_config(tmp_path, [{"id": f"s{i}", "url": server.url(f"/s{i}")} for i in range(6)],
                          fetch={"per_host": 2, "concurrency": 8})
    _, report = check_json(config, capsys)
    assert report["summary"]["ok"] == 6
    assert state["peak"] == 2


def test_user_agent_names_the_project(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen = []

    def ua(h: http.server.BaseHTTPRequestHandler) -> None:
        seen.append(h.headers.get("User-Agent", ""))
        send(h, 200, page("<p>x</p>"))

    server.routes["/ua"] = ua
    check_json(write_config(tmp_path, [{"id": "ua", "url": server.url("/ua")}]), capsys)
    assert seen and seen[0].startswith("linkcheck/")


def test_a_bot_wall_retried_at_the_end_leaves_one_snapshot(server: Server, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A 200 bot wall is tried again at the end of the pass: only the try that counts writes a
    WARC (the first one's would be named by no history row, so never pruned)."""
    calls = []

    def walled(h: http.server.BaseHTTPRequestHandler) -> None:
        calls.append(1)
        send(h, 200, f"<title>Just a moment...</title><p>Checking your browser</p><p>Ray ID: {len(calls)}</p>")

    server.routes["/wall"] = walled
    config = write_config(tmp_path, [{"id": "wall", "url": server.url("/wall")}])
    _, report = check_json(config, capsys)
    assert by_id(report)["wall"]["link"] == "blocked" and len(calls) == 2
    assert len(list((tmp_path / "snapshots").rglob("*.warc.gz"))) == 1
