"""A fake Wayback Machine on 127.0.0.1 that answers as the real one does (recorded answers).

- CDX (`/cdx/search/cdx`, output=json): a header row then rows in `fl` order; `[]` when there
  are none; `filter=!statuscode:[345]..` keeps 200s and revisits (status `-`,
  `warc/revisit`); `limit=-N` keeps the last N; 403 with `X-Archive-Wayback-Runtime-Error`
  for an excluded site.
- availability (`/wayback/available`): `{"url", "archived_snapshots": {"closest": {...}}}`.
- SPN2 (`POST /save` with `Authorization: LOW a:s`): `{"url", "job_id"}`; `job_id: null` with
  "The same snapshot had been made N minutes ago"; errors as HTTP 200 with `status_ext`.
  Status (`/save/status/<job>`): `pending`, then `success` with `timestamp`, or `error`.
- SPN v1 (`GET /save/<url>`): a Content-Location naming the capture; the HTML progress page
  with `spn.watchJob("spn2-...")`; the "same snapshot" page; a runtime error header.
- replay (`/web/<ts>id_/<url>`): the archived bytes, or a 302 to another timestamp.
- Memento TimeTravel JSON (`/timetravel/<datetime>/<url>`): `mementos.last/closest` or 404.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from conftest import Server, send

NOW_TS = datetime.now(UTC).strftime("%Y%m%d%H%M%S")


def job_of(url: str) -> str:
    """SPN2 job ids are `spn2-<40 hex>`, the same for one URL within the hour."""
    return "spn2-" + hashlib.sha1(url.encode()).hexdigest()
SAME = "The same snapshot had been made 4 minutes ago. You can make new capture of this URL after 1 hour."
BLOCKED = "AdministrativeAccessControlException: Blocked Site Error"


@dataclass
class Row:
    timestamp: str
    status: str = "200"
    mimetype: str = "text/html"


@dataclass
class FakeWayback:
    server: Server
    rows: dict[str, list[Row]] = field(default_factory=dict)  # url -> CDX rows
    archived: dict[tuple[str, str], str] = field(default_factory=dict)  # (url, ts) -> replayed body
    replay_redirect: dict[tuple[str, str], str] = field(default_factory=dict)  # (url, ts) -> other ts
    mementos: dict[str, tuple[str, str]] = field(default_factory=dict)  # url -> (uri, datetime)
    excluded: set[str] = field(default_factory=set)
    cdx_mode: str = "ok"  # ok | 400 | 429 | slow | hang
    available: dict[str, str] = field(default_factory=dict)  # url -> ts the availability API knows
    save_mode: str = "ok"  # SPN2: ok | same-null | same-job | error:<ext> | 429 ; SPN v1: ok | job-html | same-html |
    #                        runtime | cached | slow | hang
    status_mode: str = "ok"  # ok | error:<ext> | pending
    live_body: str = "<p>Cited words.</p>"  # what a capture made now holds
    delay: float = 0.0  # for the slow modes
    saves: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    replays: list[str] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    polls: int = 0

    @property
    def base(self) -> str:
        return self.server.url("")

    def capture_now(self, url: str) -> None:
        self.rows.setdefault(url, []).append(Row(NOW_TS))
        self.archived[(url, NOW_TS)] = self.live_body

    def archived_at(self, url: str) -> list[str]:
        return sorted(ts for u, ts in self.archived if u == url)

    def _wait(self) -> None:
        self.server.stopping.wait(self.delay if self.delay else 30)

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self._route(h, parts.path)(h, parts.path, query)

    def _route(self, h: http.server.BaseHTTPRequestHandler, path: str) -> Any:
        if path == "/cdx/search/cdx":
            return self._cdx
        if path == "/wayback/available":
            return self._available
        if path == "/save" and h.command == "POST":
            return self._spn2
        if path.startswith("/save/status/"):
            return self._status
        if path.startswith("/save/"):
            return self._spn1
        if path.startswith("/web/"):
            return self._replay
        if path.startswith("/timetravel/"):
            return self._memento
        return lambda h, *_: send(h, 404, "no such endpoint")

    def _cdx(self, h: http.server.BaseHTTPRequestHandler, _: str, q: dict[str, str]) -> None:
        url = q["url"]
        self.lookups.append(url)
        if self.cdx_mode == "hang":
            self._wait()
            return
        if self.cdx_mode == "slow":
            self._wait()
        if url in self.excluded:
            send(h, 403, "<p>Blocked Site Error</p>", {"X-Archive-Wayback-Runtime-Error": BLOCKED})
            return
        if self.cdx_mode in ("400", "429"):
            send(h, int(self.cdx_mode), "bad query" if self.cdx_mode == "400" else "Too Many Requests",
                 content_type="text/plain")
            return
        rows = sorted(self.rows.get(url, []), key=lambda r: r.timestamp)
        if q.get("filter") == "!statuscode:[345]..":
            rows = [r for r in rows if not re.fullmatch(r"[345]..", r.status)]
        elif q.get("filter") == "statuscode:200":
            rows = [r for r in rows if r.status == "200"]
        if q.get("limit", "").startswith("-"):
            rows = rows[int(q["limit"]):]
        fl = q.get("fl", "urlkey,timestamp,original,mimetype,statuscode,digest,length").split(",")
        values = {"urlkey": "key", "original": url, "digest": "SHA1", "length": "1234"}
        table = [[{"timestamp": r.timestamp, "statuscode": r.status, "mimetype": r.mimetype}.get(f, values.get(f, ""))
                  for f in fl] for r in rows]
        send(h, 200, json.dumps([fl, *table] if table else []), content_type="application/json")

    def _available(self, h: http.server.BaseHTTPRequestHandler, _: str, q: dict[str, str]) -> None:
        url = q["url"]
        self.lookups.append("available:" + url)
        ts = self.available.get(url)
        snap = {"closest": {"status": "200", "available": True, "url": f"http://web.archive.org/web/{ts}/{url}",
                            "timestamp": ts}} if ts else {}
        send(h, 200, json.dumps({"url": url, "archived_snapshots": snap}), content_type="application/json")

    def _spn2(self, h: http.server.BaseHTTPRequestHandler, _: str, __: dict[str, str]) -> None:
        self.auth.append(h.headers.get("Authorization", ""))
        url = parse_qs(h.rfile.read(int(h.headers["Content-Length"])).decode())["url"][0]
        self.saves.append(url)
        mode = self.save_mode
        if mode == "429":
            send(h, 429, "Too Many Requests", content_type="text/plain")
        elif mode.startswith("error:"):
            send(h, 200, json.dumps({"status": "error", "status_ext": mode, "message": f"Refused: {mode}"}),
                 content_type="application/json")
        elif mode == "same-null":
            send(h, 200, json.dumps({"url": url, "job_id": None, "message": SAME}), content_type="application/json")
        elif mode == "same-job":  # a repeat within the hour: the first job's id, and the notice
            send(h, 200, json.dumps({"url": url, "job_id": job_of(url), "message": SAME}),
                 content_type="application/json")
        else:
            send(h, 200, json.dumps({"url": url, "job_id": job_of(url)}), content_type="application/json")

    def _status(self, h: http.server.BaseHTTPRequestHandler, path: str, _: dict[str, str]) -> None:
        self.polls += 1
        job = path.rsplit("/", 1)[1]
        url = next((u for u in self.saves if job_of(u) == job), "")
        if not url:
            send(h, 200, json.dumps({"status": "error", "status_ext": "error:not-found", "message": "no job"}),
                 content_type="application/json")
            return
        if self.status_mode == "pending" or self.polls < 2:
            body: dict[str, Any] = {"status": "pending", "job_id": job, "resources": []}
        elif self.status_mode.startswith("error:"):
            body = {"status": "error", "status_ext": self.status_mode, "job_id": job,
                    "message": f"Capture failed: {self.status_mode}"}
        else:
            self.capture_now(url)
            body = {"status": "success", "job_id": job, "original_url": url, "timestamp": NOW_TS,
                    "duration_sec": 6.5, "resources": [url]}
        send(h, 200, json.dumps(body), content_type="application/json")

    def _spn1(self, h: http.server.BaseHTTPRequestHandler, path: str, _: dict[str, str]) -> None:
        url = unquote(path[len("/save/"):])
        self.saves.append(url)
        mode = self.save_mode
        if mode == "hang":
            self._wait()
            return
        if mode == "slow":
            self._wait()
        if mode in ("429", "503"):
            send(h, int(mode), "busy", content_type="text/plain")
        elif mode == "job-html":
            send(h, 200, f'<h2 id="spn-title">Saving page</h2><script>\nspn.watchJob("{job_of(url)}", '
                         '"https://web-static.archive.org/_static/",\n 6000,\n false);\n</script>')
        elif mode == "same-html":
            send(h, 200, f"<div id='spn-result'><p>{SAME}</p></div>")
        elif mode == "runtime":
            send(h, 403, "<p>Blocked By Robots</p>",
                 {"X-Archive-Wayback-Runtime-Error": "RobotAccessControlException: Blocked By Robots"})
        elif mode == "cached":
            send(h, 302, "", {"Location": f"{self.base}/web/20190101000000/{url}"})
        else:
            self.capture_now(url)
            send(h, 200, "saved", {"Content-Location": f"/web/{NOW_TS}/{url}"})

    def _replay(self, h: http.server.BaseHTTPRequestHandler, path: str, _: dict[str, str]) -> None:
        m = re.match(r"/web/(\d{14})id_/(.*)", path)
        if not m:
            send(h, 404, "not a raw replay")
            return
        ts, url = m.group(1), m.group(2)
        self.replays.append(ts)
        if (url, ts) in self.replay_redirect:  # the archive answers with a path, not an absolute URL
            send(h, 302, "", {"Location": f"/web/{self.replay_redirect[(url, ts)]}id_/{url}"})
        elif url.startswith("http://") and (url.replace("http://", "https://", 1), ts) in self.archived:
            send(h, 302, "", {"Location": f"/web/{ts}id_/{url.replace('http://', 'https://', 1)}"})
        elif (url, ts) in self.archived:
            send(h, 200, f"<html><body>{self.archived[(url, ts)]}</body></html>")
        else:
            send(h, 404, "<p>Wayback Machine has not archived that URL.</p>",
                 {"X-Archive-Wayback-Runtime-Error": f"ResourceNotInArchiveException: {url} was not found"})

    def _memento(self, h: http.server.BaseHTTPRequestHandler, path: str, _: dict[str, str]) -> None:
        m = re.match(r"/timetravel/(\d{14})/(.*)", path)
        url = m.group(2) if m else ""
        if url not in self.mementos:
            send(h, 404, "", content_type="application/json")
            return
        uri, when = self.mementos[url]
        body = {"original_uri": url, "mementos": {
            "last": {"datetime": when, "uri": [uri]}, "first": {"datetime": when, "uri": [uri]},
            "closest": {"datetime": when, "uri": [uri]}},
            "timegate_uri": f"{self.base}/timegate/{url}"}
        send(h, 200, json.dumps(body), content_type="application/json")
