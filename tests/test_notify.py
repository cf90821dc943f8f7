"""Notifications through Apprise: its json:// target end to end against a loopback server, the
old `smtp_*` keys through a fake SMTP server, the old `webhook` mapped, and failures as messages."""

from __future__ import annotations

import asyncio
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, run_cli, send

from linkcheck.config import NotifySettings
from linkcheck.models import (
    Capture,
    CaptureState,
    CheckRun,
    Citation,
    Drift,
    DriftState,
    LinkState,
    Source,
    SourceOutcome,
    Status,
)
from linkcheck.notify import mail_url, notify_problems, webhook_url


class FakeSMTP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []

        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def say(line: str) -> None:
                    self.wfile.write((line + "\r\n").encode())

                say("220 fake ESMTP")
                envelope: dict[str, object] = {"to": []}
                while line := self.rfile.readline().decode().rstrip("\r\n"):
                    verb = line.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250 fake")
                    elif verb == "MAIL":
                        envelope["from"] = line
                        say("250 ok")
                    elif verb == "RCPT":
                        envelope["to"].append(line)  # type: ignore[attr-defined]
                        say("250 ok")
                    elif verb == "DATA":
                        say("354 go ahead")
                        data = []
                        while (chunk := self.rfile.readline().decode()) not in (".\r\n", ""):
                            data.append(chunk)
                        envelope["data"] = "".join(data)
                        outer.messages.append(envelope)
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("502 not implemented")

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    server = FakeSMTP()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _run() -> tuple[CheckRun, SourceOutcome]:
    source = Source("gone", "https://example.org/gone", cited_in=(Citation("articles/vilnius.md", ("4",), 12),))
    outcome = SourceOutcome(source=source, final_url="https://example.org/gone",
                            http_status=404, status=Status.BROKEN, link=LinkState.DEAD, quotes=(),
                            drift=Drift(DriftState.UNCHANGED),
                            capture=Capture(CaptureState.EXISTING, "https://web.archive.org/web/2023/https://example.org/gone"),
                            snapshot="snapshots/gone/x.warc.gz",
                            problems=("dead",), message="The server answers HTTP 404 Not Found.")
    return CheckRun("2026-11-27T08:00:00Z", "2026-11-27T08:00:05Z", (outcome,)), outcome


def test_apprise_json_target_end_to_end(server: Server) -> None:
    received: list[dict[str, object]] = []

    def hook(h: object) -> None:
        import http.server

        assert isinstance(h, http.server.BaseHTTPRequestHandler)
        received.append(json.loads(h.rfile.read(int(h.headers["Content-Length"]))))
        send(h, 200, b"{}", content_type="application/json")

    server.routes["/notify"] = hook
    run, outcome = _run()
    settings = NotifySettings(urls=(f"json://127.0.0.1:{server.port}/notify",))
    errors = asyncio.run(notify_problems(settings, run, [outcome], base_url="https://desk.example.org/lc/"))
    assert errors == []
    assert len(received) == 1
    message = received[0]
    assert message["title"] == "linkcheck: 1 citation needs a look" and message["type"] == "failure"
    body = str(message["message"])
    assert "**gone** (broken: dead) — The server answers HTTP 404 Not Found." in body
    assert "cited in articles/vilnius.md (note 4)" in body  # which article, so the editor knows what to fix
    assert "[Wayback copy](https://web.archive.org/web/2023/https://example.org/gone)" in body
    assert "https://desk.example.org/lc/reports/latest.md" in body


def test_mail_is_sent_for_new_problems(smtp: FakeSMTP) -> None:
    run, outcome = _run()
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=smtp.server_address[1], smtp_from="lc@example.org",
                              smtp_to=("desk@example.org",), smtp_starttls=False)
    errors = asyncio.run(notify_problems(settings, run, [outcome]))
    assert errors == []
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert "desk@example.org" in str(mail["to"]) and "lc@example.org" in str(mail["from"])
    assert "Subject: linkcheck: 1 citation needs a look" in str(mail["data"])
    assert "gone" in str(mail["data"]) and "HTTP 404" in str(mail["data"])


def test_old_keys_map_onto_apprise_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    assert webhook_url("https://hooks.example.org:8443/in/abc?token=x") == "jsons://hooks.example.org:8443/in/abc?-token=x"
    assert webhook_url("http://10.0.0.5/hook") == "json://10.0.0.5/hook"
    monkeypatch.setenv("SMTP_USERNAME", "desk@example.org")
    monkeypatch.setenv("SMTP_PASSWORD", "p@ss/word")
    url = mail_url(NotifySettings(smtp_host="smtp.example.org", smtp_from="lc@example.org",
                                  smtp_to=("a@example.org", "b@example.org")))
    assert url == ("mailtos://desk%40example.org:p%40ss%2Fword@smtp.example.org:587?smtp=smtp.example.org"
                   "&mode=starttls&to=a@example.org,b@example.org&from=lc@example.org")


def test_a_dead_mail_server_is_an_error_message_not_an_exception() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run, outcome = _run()
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="a@example.org",
                              smtp_to=("b@example.org",), smtp_starttls=False)
    errors = asyncio.run(notify_problems(settings, run, [outcome]))
    assert len(errors) == 1 and errors[0].startswith("notification to mailto://")


def test_notify_urls_are_validated_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sources.toml"
    good = '[[source]]\nid = "a"\nurl = "https://example.org/a"\n'
    path.write_text('[notify]\nurls = ["ntfys://ntfy.example.org/citations", "json://127.0.0.1:9/x"]\n' + good)
    assert run_cli(["validate", "--config", str(path)], capsys)[0] == 0
    path.write_text('[notify]\nurls = ["slak://T1/B2/C3"]\n' + good)
    code, _, err = run_cli(["validate", "--config", str(path)], capsys)
    assert code == 2 and f"{path}:2: [notify] urls" in err and "'slak'" in err


def test_a_source_written_with_article_names_it_when_it_breaks(tmp_path: Path) -> None:
    """`article = ...` in a `[[source]]` table (what `init` writes) reaches the message through
    `cited_in`, which the config fills from it: there is no source with an article and no citation."""
    from dataclasses import replace

    from linkcheck.config import parse_config
    from linkcheck.notify import problems_message
    config = parse_config({"source": [{"id": "gone", "url": "https://example.org/gone", "article": "a.md",
                                       "cites": ["2"], "article_line": 7}]}, tmp_path / "sources.toml")
    [source] = config.sources
    assert source.cited_in == (Citation("a.md", ("2",), 7),)
    run, outcome = _run()
    _, body = problems_message(run, [replace(outcome, source=source)])
    assert "cited in a.md (note 2)" in body
