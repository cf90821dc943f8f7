"""Notifications: mail through a fake SMTP server on loopback, and a failing server never raising."""

from __future__ import annotations

import asyncio
import socketserver
import threading
from collections.abc import Iterator

import pytest

from linkcheck.config import NotifySettings
from linkcheck.models import (
    Capture,
    CaptureState,
    CheckRun,
    Drift,
    DriftState,
    LinkState,
    Source,
    SourceOutcome,
    Status,
)
from linkcheck.notify import notify_problems


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
    outcome = SourceOutcome(source=Source("gone", "https://example.org/gone"), final_url="https://example.org/gone",
                            http_status=404, status=Status.BROKEN, link=LinkState.DEAD, quotes=(),
                            drift=Drift(DriftState.UNCHANGED), capture=Capture(CaptureState.SKIPPED), snapshot=None,
                            problems=("dead",), message="The server answers HTTP 404 Not Found.")
    return CheckRun("2026-11-27T08:00:00Z", "2026-11-27T08:00:05Z", (outcome,)), outcome


def test_mail_is_sent_for_new_problems(smtp: FakeSMTP) -> None:
    run, outcome = _run()
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=smtp.server_address[1], smtp_from="lc@example.org",
                              smtp_to=("desk@example.org",), smtp_starttls=False)
    errors = asyncio.run(notify_problems(settings, run, [outcome]))
    assert errors == []
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert "desk@example.org" in str(mail["to"])
    assert "Subject: linkcheck: 1 citation(s) need a look" in str(mail["data"])
    assert "gone (broken): The server answers HTTP 404 Not Found." in str(mail["data"])


def test_a_dead_mail_server_is_an_error_message_not_an_exception() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run, outcome = _run()
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="a@example.org",
                              smtp_to=("b@example.org",), smtp_starttls=False)
    errors = asyncio.run(notify_problems(settings, run, [outcome]))
    assert len(errors) == 1 and errors[0].startswith("mail failed")
