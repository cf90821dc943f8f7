"""A page's WARC snapshot, record by record: the file warcio's own writer would make of the same
records (its digests computed by warcio, its zlib gzip), one gzip member per record, digests that check out when
recomputed from the bytes, and the page exactly as received. And the file it goes to in a folder:
written whole even when the system writes it in parts, never left half-written, named for history
relative to the config's folder."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import stat
import tempfile
import zlib
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import Server, by_id, check_json, page, send, write_config
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from linkcheck import __version__
from linkcheck.archive.snapshots import _HOP_BY_HOP, _ascii, _reason, _wire, payload_digest, write_snapshot
from linkcheck.models import FetchResult, Hop
from linkcheck.storage import Storage

HTML = "<html><body><p>Vilnius Summit Communiqué</p></body></html>".encode()
META = {"source": "p", "url": "https://example.org/cited", "quotes": [{"text": "“Allies agree” é", "score": 1.0}]}


def _members(data: bytes) -> list[bytes]:
    """The gzip members of `data`, each decompressed."""
    out = []
    while data:
        member = zlib.decompressobj(zlib.MAX_WBITS + 16)
        out.append(member.decompress(data))
        assert member.eof
        data = member.unused_data
    return out


def _normal(member: bytes, ids: dict[bytes, bytes], fetched_at: str) -> bytes:
    """`member` with its record IDs numbered in order of appearance and the dates made up (the
    warcinfo record's, and any when the fetch has none) as `<now>`: what differs run to run."""
    member = re.sub(rb"<urn:uuid:[0-9a-f-]+>", lambda m: ids.setdefault(m.group(0), b"<id%d>" % len(ids)), member)
    capture = fetched_at.encode() if fetched_at and b"WARC-Type: warcinfo\r\n" not in member else None
    return re.sub(rb"WARC-Date: ([^\r]*)\r\n", lambda m: m.group(0) if m.group(1) == capture
                  else b"WARC-Date: <now>\r\n", member)


def _sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _record(member: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """A member's WARC headers and block, checking that the member is that one record, whole."""
    head, _, rest = member.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "WARC/1.1"
    headers = [(k, v) for k, _, v in (line.partition(": ") for line in lines[1:])]
    length = int(dict(headers)["Content-Length"])
    assert len(rest) == length + 4 and rest[length:] == b"\r\n\r\n"
    return headers, rest[:length]


def _fetch(raw: bytes, headers: tuple[tuple[str, str], ...], hops: int, status: int | None = 200,
           fetched_at: str = "2024-05-06T07:08:09Z") -> FetchResult:
    chain = tuple(Hop(f"http://old.example.org/{i}", (301, 302, 307, 308)[i % 4]) for i in range(hops))
    return FetchResult(url=chain[0].url if chain else "https://example.org/p?q=1", final_url="https://example.org/p?q=1",
                       status_code=status, headers=headers, body=HTML, raw=raw, hops=chain, fetched_at=fetched_at)


def _warcio_records(writer: WARCWriter, name: str, fetch: FetchResult, metadata: dict[str, object],
                    user_agent: str) -> None:
    """The records of a snapshot, made by warcio's record builder (as linkcheck wrote them until it
    built them itself): the oracle."""
    date = fetch.fetched_at
    writer.write_record(writer.create_warcinfo_record(name, {
        "software": f"linkcheck/{__version__}", "format": "WARC File Format 1.1",
        "conformsTo": "https://iso.org/standard/68004.html"}))
    final = _wire(fetch.final_url)
    parts = urlsplit(final)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = writer.create_warc_record(
        final, "request", payload=io.BytesIO(b""), length=0, warc_headers_dict={"WARC-Date": date},
        http_headers=StatusAndHeaders(f"GET {target} HTTP/1.1", [
            ("Host", parts.netloc), ("User-Agent", user_agent), ("Accept-Encoding", "gzip, deflate")],
            is_http_request=True))
    headers = [(k, _ascii(v)) for k, v in fetch.headers if k.lower() not in _HOP_BY_HOP]
    headers = [(k, str(len(fetch.raw)) if k.lower() == "content-length" else v) for k, v in headers]
    response = writer.create_warc_record(
        final, "response", payload=io.BytesIO(fetch.raw), length=len(fetch.raw),
        warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": payload_digest(fetch.raw)},
        http_headers=StatusAndHeaders(f"{fetch.status_code} {_reason(fetch.status_code)}", headers,
                                      protocol="HTTP/1.1"))
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    request.rec_headers.add_header("WARC-Concurrent-To", response_id)
    locations = [_wire(h.url) for h in fetch.hops[1:]] + [final] if fetch.hops else []
    for hop, location in zip(fetch.hops, locations, strict=True):
        writer.write_record(writer.create_warc_record(
            _wire(hop.url), "response", payload=io.BytesIO(b""), length=0, warc_headers_dict={"WARC-Date": date},
            http_headers=StatusAndHeaders(f"{hop.status} {_reason(hop.status)}",
                                          [("Location", location), ("Content-Length", "0")], protocol="HTTP/1.1")))
    writer.write_record(request)
    writer.write_record(response)
    body = json.dumps(metadata, ensure_ascii=False, indent=1).encode("utf-8")
    uri = f"urn:linkcheck:metadata:{_wire(fetch.url)}"
    writer.write_record(writer.create_warc_record(
        uri, "metadata", payload=io.BytesIO(body), length=len(body), warc_content_type="application/json",
        warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": response_id, "WARC-Target-URI": uri}))


def _same_as_warcio(fetch: FetchResult, path: Path, agent: str = "linkcheck/1") -> None:
    """The file at `path` holds the records warcio's stock writer makes of `fetch`, member by member.
    A fetch without a date is given the one written (the time of writing: warcio, given an empty
    date, wrote that empty header and one of its own after it)."""
    ours = _members(path.read_bytes())
    date = fetch.fetched_at or _record(ours[-1])[0][0][1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", date)
    stock = io.BytesIO()
    _warcio_records(WARCWriter(stock, gzip=True, warc_version="1.1"), path.name, replace(fetch, fetched_at=date),
                    META, agent)
    theirs = _members(stock.getvalue())
    assert len(ours) == len(theirs) == 4 + len(fetch.hops)
    ids_ours: dict[bytes, bytes] = {}
    ids_theirs: dict[bytes, bytes] = {}
    for a, b in zip(ours, theirs, strict=True):
        assert _normal(a, ids_ours, date) == _normal(b, ids_theirs, date)


def test_snapshot_is_warcios_records_one_member_each_with_digests_that_check_out(tmp_path: Path) -> None:
    raw = gzip.compress(HTML)
    fetch = _fetch(raw, (("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"),
                         ("Connection", "keep-alive"), ("Content-Length", "9"), ("X-Name", "ü")), hops=2)
    written = write_snapshot("p/1", fetch, payload_digest(raw), META, "linkcheck/1", Storage(tmp_path))
    path = tmp_path / written.path
    assert written.path == "snapshots/p_1/20240506T070809Z-" + payload_digest(raw)[5:17].lower() + ".warc.gz"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    _same_as_warcio(fetch, path)

    records = [_record(m) for m in _members(path.read_bytes())]
    assert [dict(h)["WARC-Type"] for h, _ in records] == ["warcinfo", "response", "response", "request", "response",
                                                          "metadata"]
    for headers, block in records:
        fields = dict(headers)
        assert fields["WARC-Block-Digest"] == _sha1(block)
        if fields["WARC-Type"] != "warcinfo":
            http = fields["Content-Type"].startswith("application/http")
            assert fields["WARC-Payload-Digest"] == _sha1(block.partition(b"\r\n\r\n")[2] if http else block)
    (response, page), (request, asked) = records[4], records[3]
    assert page == (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                    b"Content-Length: %d\r\nX-Name: %%C3%%BC\r\n\r\n" % len(raw)) + raw
    assert asked == b"GET /p?q=1 HTTP/1.1\r\nHost: example.org\r\nUser-Agent: linkcheck/1\r\n" \
                    b"Accept-Encoding: gzip, deflate\r\n\r\n"
    assert [k for k, _ in response] == ["WARC-Date", "WARC-Payload-Digest", "WARC-Type", "WARC-Record-ID",
                                        "WARC-Target-URI", "WARC-Block-Digest", "Content-Type", "Content-Length"]
    response_id = dict(response)["WARC-Record-ID"]
    assert dict(request)["WARC-Concurrent-To"] == response_id == dict(records[5][0])["WARC-Refers-To"]
    assert records[1][1].startswith(b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://old.example.org/1\r\n")

    with path.open("rb") as f:
        read = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
                for r in ArchiveIterator(f, check_digests="raise")]
    assert read[4] == ("response", fetch.final_url, HTML)  # warcio undoes the gzip
    assert read[5][1] == f"urn:linkcheck:metadata:{fetch.url}" and json.loads(read[5][2]) == META


_HEADERS = st.lists(st.tuples(
    st.sampled_from(["Content-Type", "Content-Length", "content-length", "Transfer-Encoding", "Connection",
                     "Keep-Alive", "Content-Encoding", "ETag", "Set-Cookie", "X-Note"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=0x3000, exclude_characters="\x7f",
                          exclude_categories=["Cs"]), max_size=20)),
    max_size=8).map(tuple)


_FINAL = ["https://example.org/p?q=1", "https://example.org", "http://example.org:8080/", "http://[::1]:8000/a?",
          "https://user@example.org:8443/a/b;c?x=1&y=%20#frag", "https://bücher.example/Ö?q=ä"]


@settings(max_examples=80, deadline=None)
@given(raw=st.binary(max_size=3000), encoded=st.booleans(), headers=_HEADERS, hops=st.integers(0, 3),
       status=st.sampled_from([200, 203, 299, 404, None]), dated=st.booleans(), final=st.sampled_from(_FINAL),
       agent=st.sampled_from(["linkcheck/1", "linkcheck/0.1 (+https://desk.example/bot; ops@desk.example)"]))
def test_any_fetch_makes_the_records_warcio_makes(raw: bytes, encoded: bool, headers: tuple[tuple[str, str], ...],
                                                   hops: int, status: int | None, dated: bool, final: str,
                                                   agent: str) -> None:
    fetch = replace(_fetch(gzip.compress(raw) if encoded else raw, headers, hops, status,
                           fetched_at="2024-05-06T07:08:09Z" if dated else ""), final_url=final)
    with tempfile.TemporaryDirectory() as folder:
        written = write_snapshot("s", fetch, payload_digest(fetch.raw), META, agent, Storage(Path(folder)))
        _same_as_warcio(fetch, Path(folder) / written.path, agent)


def test_a_page_cited_by_an_iri_is_stored_under_the_uri_its_request_named(tmp_path: Path) -> None:
    """A config may cite `…/wiki/Österreich` (and a server name a PDF `Österreich.pdf; …`): WARC
    headers and request lines are ASCII, so they hold what httpx sent (IDNA host, UTF-8 percent
    escapes); warcio alone fails on such a URL, and on a non-ASCII header value with a `;`."""
    iri = "https://bücher.example/wiki/Österreich?q=ä"
    uri = "https://xn--bcher-kva.example/wiki/%C3%96sterreich?q=%C3%A4"
    fetch = FetchResult(url="http://old.example.org/é", final_url=iri, status_code=200, body=HTML, raw=HTML,
                        headers=(("Content-Disposition", 'inline; filename="Österreich.html"'),),
                        hops=(Hop("http://old.example.org/é", 301),), fetched_at="2024-05-06T07:08:09Z")
    written = write_snapshot("p", fetch, payload_digest(HTML), META, "linkcheck/1", Storage(tmp_path))
    with (tmp_path / written.path).open("rb") as f:
        read = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.http_headers)
                for r in ArchiveIterator(f, check_digests="raise")]
    assert [(kind, target) for kind, target, _ in read] == [
        ("warcinfo", None), ("response", "http://old.example.org/%C3%A9"), ("request", uri), ("response", uri),
        ("metadata", "urn:linkcheck:metadata:http://old.example.org/%C3%A9")]
    assert read[1][2].get_header("Location") == uri
    assert read[2][2].statusline == "/wiki/%C3%96sterreich?q=%C3%A4 HTTP/1.1" and read[2][2].get_header("Host") == \
        "xn--bcher-kva.example"
    assert read[3][2].get_header("Content-Disposition") == 'inline; filename="%C3%96sterreich.html"'


def test_a_snapshot_file_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(tmp_path / "config")
    data = os.urandom(100_000)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, chunk: real_write(fd, bytes(chunk[:7777])))  # short writes
    assert storage.write("a/1.warc.gz", data) == os.path.join("snapshots", "a", "1.warc.gz")
    written = tmp_path / "config" / "snapshots" / "a" / "1.warc.gz"
    assert written.read_bytes() == data
    written.chmod(0o640)
    assert storage.write("a/1.warc.gz", data[:10]) and written.read_bytes() == data[:10]
    assert stat.S_IMODE(written.stat().st_mode) == 0o640  # a file written again keeps its mode

    def full(fd: int, chunk: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space"):
        storage.write("a/1.warc.gz", data)
    assert written.read_bytes() == data[:10] and os.listdir(written.parent) == ["1.warc.gz"]  # no temporary file
    outside = Storage(tmp_path / "config", str(tmp_path / "elsewhere"))
    monkeypatch.undo()
    assert outside.write("b/2.warc.gz", b"x") == str(tmp_path / "elsewhere" / "b" / "2.warc.gz")


def test_a_source_cited_by_an_iri_is_checked_and_snapshotted(server: Server, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Such a source was an internal error: its page was read, then its snapshot failed."""
    body = page("<main><p>Die Republik Österreich.</p></main>")
    server.routes["/wiki/%C3%96sterreich"] = lambda h: send(h, 200, body)
    config = write_config(tmp_path, [{"id": "at", "url": server.url("/wiki/Österreich"),
                                      "quotes": ["Die Republik Österreich"]}])
    report = by_id(check_json(config, capsys)[1])["at"]
    assert (report["status"], report["link"], report["quotes"][0]["match"]) == ("ok", "alive", "exact")
    with (tmp_path / report["archive"]["snapshot"]).open("rb") as f:
        targets = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f) if r.rec_type == "response"]
    assert targets == [server.url("/wiki/%C3%96sterreich")]
