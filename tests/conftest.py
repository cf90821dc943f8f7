"""Fixtures: real HTTP servers on loopback addresses, and configs that point at them."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import pytest

from linkcheck.cli import main

if TYPE_CHECKING:
    from fakewayback import FakeWayback

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


def send(h: http.server.BaseHTTPRequestHandler, status: int = 200, body: bytes | str = b"",
         headers: dict[str, str] | None = None, content_type: str = "text/html; charset=utf-8") -> None:
    data = body.encode("utf-8") if isinstance(body, str) else body
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def page(body: str, title: str = "A page", lang: str = "en") -> str:
    return f"<!doctype html><html lang='{lang}'><head><title>{title}</title></head><body>{body}</body></html>"


class Server:
    """A threaded HTTP server whose routes are plain functions; records every request path."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Handler] = {}
        self.fallback: Handler | None = None  # for paths no route names
        self.requests: list[str] = []
        self.stopping = threading.Event()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _dispatch(self) -> None:
                outer.requests.append(self.path)
                route = outer.routes.get(self.path) or outer.routes.get(self.path.split("?")[0])
                try:
                    if route is None and outer.fallback is not None:
                        outer.fallback(self)
                    elif route is None:
                        send(self, 404, "<title>Not found</title>")
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = _dispatch
            do_POST = _dispatch

        self.httpd = http.server.ThreadingHTTPServer((host, 0), H)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def wayback() -> Iterator[FakeWayback]:
    """A fake Wayback Machine (tests/fakewayback.py) on its own loopback server."""
    from fakewayback import FakeWayback

    s = Server()
    fake = FakeWayback(s)
    s.fallback = fake.handle
    yield fake
    s.close()


def loopback_alias_works(host: str) -> bool:
    try:
        with socket.socket() as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


@pytest.fixture
def server2() -> Iterator[Server]:
    """A second server on 127.0.0.2 (Linux routes all of 127.0.0.0/8 to loopback)."""
    assert loopback_alias_works("127.0.0.2"), "127.0.0.2 must be bindable on this machine"
    s = Server("127.0.0.2")
    yield s
    s.close()


POSTGRES = os.environ.get("LINKCHECK_TEST_POSTGRES", "")
_HOW = ("PostgreSQL tests need a server: set LINKCHECK_TEST_POSTGRES=postgresql://USER@127.0.0.1:PORT/DB "
        "(a role allowed to CREATE DATABASE), or run the tests under `bash -c 'source .ci/postgres && pytest'`, "
        "which starts a throwaway server and stops it after")


def _with_db(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
def postgres() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (its URL); dropped afterwards. Without a
    server the test is skipped, except under CI=true, where that is a failure: CI must not pass
    by skipping."""
    if not POSTGRES:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no PostgreSQL. {_HOW}")
        pytest.skip(_HOW)
    import psycopg

    name = f"linkcheck_test_{uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield _with_db(POSTGRES, name)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    """The `[history] database` value of each backend: the default SQLite file, or a fresh
    PostgreSQL database."""
    if request.param == "sqlite":
        return "linkcheck.db"
    return str(request.getfixturevalue("postgres"))


def write_config(folder: Path, sources: list[dict[str, Any]], **sections: dict[str, Any]) -> Path:
    """A sources.toml for tests: private addresses allowed, no Wayback unless given, quick retries,
    pages parsed in-process."""
    fetch = {"allow_private": True, "timeout": 5, "retries": 0, "backoff": 0.01, "recheck_pause": 0, "workers": 1}
    fetch |= sections.pop("fetch", {})
    archive = {"wayback": False} | sections.pop("archive", {})
    out = [_table("fetch", fetch), _table("archive", archive)]
    out += [_table(name, values) for name, values in sections.items()]
    for src in sources:
        out.append("[[source]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in src.items()))
    path = folder / "sources.toml"
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def _table(name: str, values: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items())


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process through its real entry point."""
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def check_json(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(["check", "--config", str(config), "--format", "json", *extra], capsys)
    assert code in (0, 1), err
    return code, json.loads(out)


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in report["sources"]}


def run_subprocess(args: list[str], cwd: Path, timeout: float = 120,
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linkcheck", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


def git(repo: Path, *args: str) -> None:
    """Run git in `repo` with a throwaway identity (for --changed-since)."""
    subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args], cwd=repo,
                   check=True, capture_output=True)


def commit_all(repo: Path, message: str, first: bool = False) -> None:
    if first:
        git(repo, "init", "-q")
    git(repo, "add", "sources.toml")
    git(repo, "commit", "-qm", message)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Precision and recall of "found" over the quote corpora, in the test output."""
    from test_quotes import precision_recall

    for line in precision_recall():
        terminalreporter.write_line(line)
