"""Drift between passes, local WARC snapshots, confirmation of dead sources, and the digest."""

from __future__ import annotations

import gzip
import http.server
import json
from pathlib import Path

import pytest
from conftest import Server, by_id, check_json, run_cli, send, write_config
from warcio.archiveiterator import ArchiveIterator

from linkcheck.drift import compare, text_hash
from linkcheck.models import Drift, DriftState

QUOTE = "We will be in a position to extend an invitation to Ukraine to join the Alliance when Allies agree."


def article(paragraphs: list[str], clock: str = "08:00:01", token: str = "a1b2c3d4e5f6a7b8c9d0e1f2",
            related: str = "Related: Summit photos", ad: str = "Buy a sofa today") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head><title>Communiqué</title><script>var t='{token}';</script></head><body>"
            f"<header><nav>Home | News | {clock}</nav></header>"
            f"<div class='cookie-banner'>We use cookies ({token})</div>"
            f"<main><article><h1>Vilnius Summit Communiqué</h1><p>Last updated {clock}</p>{body}</article>"
            f"<aside class='related'>{related}</aside><div class='ad-slot'>{ad}</div></main>"
            f"<footer>© NATO · request {token}</footer></body></html>")


PARAS = [f"1. {QUOTE}", "2. The Indo-Pacific is important for NATO.", "3. We remain open to engagement.",
         "4. Allies reaffirm their commitment."]


@pytest.fixture
def site(server: Server) -> dict[str, str]:
    """Pages whose content the test changes between passes: path -> HTML (or 'GONE')."""
    pages: dict[str, str] = {}

    def serve(path: str):  # type: ignore[no-untyped-def]
        return lambda h: send(h, 404, "<title>Not found</title>") if pages[path] == "GONE" else \
            send(h, 200, pages[path])

    for p in ("/edited", "/removed", "/furniture", "/gone", "/flap"):
        server.routes[p] = serve(p)
        pages[p] = article(PARAS)
    return pages


def test_drift_between_passes_and_digest(server: Server, site: dict[str, str], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    ids = ("edited", "removed", "furniture", "gone", "flap")
    config = write_config(tmp_path, [{"id": i, "url": server.url(f"/{i}"), "quotes": [QUOTE]} for i in ids])
    _, first = check_json(config, capsys)
    assert {s["drift"]["state"] for s in first["sources"]} == {"new"}
    assert first["summary"]["ok"] == 5

    site["/flap"] = article([*PARAS[:3], "4. Allies reaffirm their commitment, variant B."])
    check_json(config, capsys)  # B seen once: changed
    site["/flap"] = article(PARAS)  # back to A: must not flap
    site["/edited"] = article([PARAS[0].replace("will be in a position to extend", "may in future consider "
                                                "extending"), *PARAS[1:]])
    site["/removed"] = article([p for p in PARAS if not p.startswith("3.")])
    site["/furniture"] = article(PARAS, clock="17:45:12", token="ffee00112233445566778899aabb",
                                 related="Related: Leaders' dinner", ad="Cheap flights to Vilnius")
    site["/gone"] = "GONE"
    code, second = check_json(config, capsys)
    r = by_id(second)
    assert code == 1

    assert r["edited"]["drift"]["state"] == "changed"
    # The quoted sentence is still there with its words changed: altered (broken), not lost.
    assert {"content-changed", "quote-altered"} <= set(r["edited"]["problems"])
    assert r["edited"]["status"] == "broken"
    assert r["edited"]["quotes"][0]["match"] == "altered"
    change = r["edited"]["drift"]["quote_changes"][0]
    assert "will be in a position" in change["before"] and "may in future consider" in change["after"]

    assert r["removed"]["drift"]["state"] == "changed"
    assert r["removed"]["status"] == "warning"
    assert r["removed"]["problems"] == ["content-changed"]
    assert r["removed"]["drift"]["removed"] == ["3. We remain open to engagement."]
    assert 0.5 < r["removed"]["drift"]["similarity"] < 1

    assert r["furniture"]["drift"] == {"state": "unchanged", "similarity": 1.0}
    assert r["furniture"]["status"] == "ok"

    assert r["gone"]["link"] == "dead" and r["gone"]["status"] == "broken"
    assert r["flap"]["drift"]["state"] == "unchanged"

    for fmt in ("markdown", "html", "json"):
        out = tmp_path / f"digest.{fmt}"
        code, _, err = run_cli(["report", "--config", str(config), "--since", "7d", "--format", fmt,
                                "--output", str(out)], capsys)
        assert code == 0, err
    digest = json.loads((tmp_path / "digest.json").read_text())
    assert [i["id"] for i in digest["broke"]] in (["edited", "gone"], ["gone", "edited"])
    changed = {i["id"] for i in digest["changed"]}
    assert changed == {"removed", "flap"}  # flap: the one real change B, not its return; edited: on its broke card
    md = (tmp_path / "digest.markdown").read_text()
    assert "~~3. We remain open to engagement.~~" in md
    assert "may in future consider extending" in md
    assert "furniture" in md.split("## Every source now")[1]
    page = md.split("[saved copy](", 1)[1].split(")", 1)[0]  # a readable page, not a .warc.gz download
    assert page.startswith("pages/") and "<mark>" in (tmp_path / page).read_text()
    html = (tmp_path / "digest.html").read_text()
    assert "<del>3. We remain open to engagement.</del>" in html
    _check_digest_structure(html)


def _check_digest_structure(html: str) -> None:
    """Self-contained, phone-ready, every section present, every card linking the live page."""
    import lxml.html

    doc = lxml.html.document_fromstring(html)
    assert doc.xpath("//meta[@name='viewport']")
    assert not doc.xpath("//link[@href] | //script | //img | //iframe"), "no external assets"
    assert "@import" not in html and "url(" not in html
    assert [s.get("id") for s in doc.xpath("//section")] == ["broke", "changed", "recovered", "unverifiable",
                                                            "archived", "current"]
    for card in doc.xpath("//article[contains(@class, 'card')]"):
        assert card.xpath(".//a[text()='live page']/@href")
    changed = doc.xpath("//section[@id='changed']//article")
    assert changed and all(c.xpath(".//del | .//ins") for c in changed)
    quoted = doc.xpath("//li[@class='quoted']")
    assert len(quoted) == 1 and "the page says" in quoted[0].text_content()
    passages = quoted[0].xpath(".//mark[not(ancestor::ul[@class='changes'])]")  # not the `12 → 15` list
    assert [m.text for m in passages] == ["will be", "a position to extend", "may",
                                          "future consider extending"]  # the words that differ
    assert doc.xpath("//section[@id='broke']//p[@class='todo']")  # every broken card says what to do
    assert len(doc.xpath("//section[@id='current']//tbody/tr")) == 5


def test_snapshots_are_standard_warcs_and_not_stored_twice(server: Server, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    body = gzip.compress(article(PARAS).encode())
    server.routes["/p"] = lambda h: send(h, 200, body, {"Content-Encoding": "gzip"})
    config = write_config(tmp_path, [{"id": "p", "url": server.url("/p"), "quotes": [QUOTE]}])
    _, first = check_json(config, capsys)
    _, second = check_json(config, capsys)
    path = first["sources"][0]["archive"]["snapshot"]
    assert second["sources"][0]["archive"]["snapshot"] == path
    assert len(list((tmp_path / "snapshots" / "p").glob("*.warc.gz"))) == 1
    with open(tmp_path / path, "rb") as f:
        records = list(ArchiveIterator(f))
    kinds = [r.rec_type for r in records]
    assert kinds == ["warcinfo", "request", "response", "metadata"]
    response = records[2]
    assert response.rec_headers.get_header("WARC-Target-URI") == server.url("/p")
    assert response.http_headers.get_header("Content-Encoding") == "gzip"
    assert response.http_headers.get_header("Transfer-Encoding") is None
    assert response.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
    meta = records[3]
    assert meta.rec_headers.get_header("WARC-Target-URI") == f"urn:linkcheck:metadata:{server.url('/p')}"
    with open(tmp_path / path, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "response":
                assert b"Vilnius Summit" in rec.content_stream().read()  # warcio undoes the gzip
            if rec.rec_type == "metadata":
                data = json.loads(rec.content_stream().read())
                assert data["quotes"][0]["match"] == "exact" and data["text_hash"]


def test_snapshot_keeps_the_redirects_from_the_cited_url(server: Server, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    def moved(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(301)
        h.send_header("Location", "/new/place")
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes["/old/place"] = moved
    server.routes["/new/place"] = lambda h: send(h, 200, article(PARAS))
    config = write_config(tmp_path, [{"id": "p", "url": server.url("/old/place")}])
    _, report = check_json(config, capsys)
    with open(tmp_path / report["sources"][0]["archive"]["snapshot"], "rb") as f:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"),
                    r.http_headers.get_statuscode() if r.http_headers else None,
                    r.http_headers.get_header("Location") if r.http_headers else None)
                   for r in ArchiveIterator(f)]
    assert (("response", server.url("/old/place"), "301", server.url("/new/place")) in records)
    assert ("response", server.url("/new/place"), "200", None) in records


def test_prune_keeps_changed_versions(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = {"clock": "00:00:00", "paras": PARAS}
    server.routes["/p"] = lambda h: send(h, 200, article(state["paras"], clock=state["clock"]))  # type: ignore[arg-type]
    config = write_config(tmp_path, [{"id": "p", "url": server.url("/p")}])
    seen = []
    for i, paras in enumerate([PARAS, PARAS, PARAS[:2], PARAS[:2], PARAS[:2]]):
        state["clock"], state["paras"] = f"0{i}:00:00", paras  # every payload differs
        _, rep = check_json(config, capsys)
        seen.append(rep["sources"][0]["archive"]["snapshot"])
    assert len(set(seen)) == 5
    code, out, _ = run_cli(["prune", "--config", str(config), "--keep", "1"], capsys)
    assert code == 0 and "removed 2 unchanged snapshots" in out
    left = sorted(p.name for p in (tmp_path / "snapshots" / "p").glob("*.warc.gz"))
    assert left == sorted(Path(seen[i]).name for i in (0, 2, 4))
    code, _, _ = run_cli(["report", "--config", str(config), "--format", "json", "--output",
                          str(tmp_path / "d.json")], capsys)
    for item in json.loads((tmp_path / "d.json").read_text())["current"]:
        assert (tmp_path / item["snapshot"]).exists()


def test_confirmed_dead_needs_consecutive_failures_over_the_span(server: Server, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    up = {"ok": False}
    server.routes["/p"] = lambda h: send(h, 200 if up["ok"] else 503, article(PARAS))
    quick = write_config(tmp_path, [{"id": "p", "url": server.url("/p")}],
                         fetch={"recheck_pause": -1}, policy={"confirm_failures": 3, "confirm_span": "0s"})
    states = [by_id(check_json(quick, capsys)[1])["p"] for _ in range(3)]
    assert [s["link"] for s in states] == ["unreachable", "unreachable", "dead"]
    assert [s["status"] for s in states] == ["warning", "warning", "broken"]
    assert "confirmed-dead" in states[2]["problems"] and states[2]["failures"] == 3
    up["ok"] = True
    assert by_id(check_json(quick, capsys)[1])["p"]["failures"] == 0  # a success resets the count
    up["ok"] = False
    again = [by_id(check_json(quick, capsys)[1])["p"]["link"] for _ in range(2)]
    assert again == ["unreachable", "unreachable"]

    slow_dir = tmp_path / "slow"
    slow_dir.mkdir()
    slow = write_config(slow_dir, [{"id": "p", "url": server.url("/p")}],
                        fetch={"recheck_pause": -1}, policy={"confirm_failures": 2, "confirm_span": "3d"})
    links = [by_id(check_json(slow, capsys)[1])["p"]["link"] for _ in range(3)]
    assert links == ["unreachable"] * 3  # many failures, but all within minutes: never "dead"


@pytest.mark.parametrize(("old", "new", "state"), [
    ("a\nb\nc", "a\nb\nc", DriftState.UNCHANGED),
    ("Updated 10:00:00\nbody", "Updated 11:12:13\nbody", DriftState.UNCHANGED),
    ("id 3f2a9c8b7d6e5f4a3b2c\nbody", "id 99aa88bb77cc66dd55ee\nbody", DriftState.UNCHANGED),
    ("Posted 5 minutes ago\nbody", "Posted 7 minutes ago\nbody", DriftState.UNCHANGED),
    ("a\nb\nc", "a\nc", DriftState.CHANGED),
    ("The deal will go ahead.", "The deal may go ahead.", DriftState.CHANGED),
])
def test_compare_table(old: str, new: str, state: DriftState) -> None:
    drift: Drift = compare(new, [text_hash(old)], old, [], [])
    assert drift.state is state
