"""Snapshots: one gzip WARC (ISO 28500, via warcio) per distinct page payload.

Each file holds a warcinfo record, the request, the response exactly as received (body still
Content-Encoded, Transfer-Encoding removed since the body is de-chunked), and a metadata record
under its own URI (`urn:linkcheck:metadata:<url>`) with the text hash and quote verdicts: pywb
replays a metadata record that shares the page's URI *instead of* the page.
A payload already stored for the source is not written again; the pass points at that file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

from isal import isal_zlib
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from .. import __version__
from ..models import FetchResult
from ..storage import Storage

_HOP_BY_HOP = {"transfer-encoding", "connection", "keep-alive"}
_PRINTABLE = "".join(map(chr, range(32, 127)))  # left as they are in a header value


def payload_digest(raw: bytes) -> str:
    """The WARC-Payload-Digest form: `sha1:` + base32."""
    return _sha1(raw)


def _sha1(*parts: bytes) -> str:
    """The WARC digest (`sha1:` + base32) of `parts` one after the other."""
    sha1 = hashlib.sha1()
    for part in parts:
        sha1.update(part)
    return "sha1:" + base64.b32encode(sha1.digest()).decode("ascii")


@dataclass(frozen=True)
class Written:
    path: str  # relative to the config's folder (absolute for a folder outside it), or a URL
    digest: str
    new: bool


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80]


async def stored_snapshot(storage: Storage, digest: str, stored: Callable[[str], str | None]) -> Written | None:
    """The snapshot of the payload of `digest` that `stored(digest)` names, if its file is still there."""
    existing = stored(digest)
    return Written(existing, digest, new=False) if existing and await storage.exists_async(existing) else None


def write_snapshot(source_id: str, fetch: FetchResult, digest: str, metadata: dict[str, Any], user_agent: str,
                   storage: Storage) -> Written:
    """Store `fetch` as `<source>/<time>-<digest>.warc.gz` in `[snapshots] path` (by default the
    config's `snapshots/`; a folder every worker mounts, or a bucket). Picklable arguments: it runs
    in a worker process when there is a pool (compression is most of a first pass's CPU). `digest`
    is `payload_digest(fetch.raw)`, computed once by the caller (and not again by warcio)."""
    stamp = fetch.fetched_at.replace("-", "").replace(":", "")
    name = f"{stamp}-{digest[5:17].lower()}.warc.gz"
    pieces: list[bytes] = []  # the file (one gzip member per record), written in one go
    _write_records(_Writer(pieces, gzip=False), name, fetch, digest, metadata, user_agent)
    path = storage.write(f"{_safe(source_id)}/{name}", b"".join(pieces))
    return Written(path, digest, new=True)


class _Writer(WARCWriter):  # type: ignore[misc]  # warcio is untyped
    """warcio's writer for the records built here (no revisits), whose payloads are bytes already in
    memory (each record's stream a BytesIO of them, its length given). The same records, headers in
    the same order, but a digest is one hashlib call over those bytes where warcio reads them through
    Python 16 KB at a time, and a record is compressed whole where warcio copies it in 16 KB pieces;
    the members are written to the file in one go.

    One gzip member per record (as warcio writes them), by ISA-L at its level 1: on the real-page
    corpus warcio's zlib level 9 took 7.9 ms a page, zlib level 1 1.35 ms (files 20% larger),
    ISA-L level 1 0.32 ms for files the size of zlib level 1's. Plain gzip either way."""

    def ensure_digest(self, record: Any, block: bool = True, payload: bool = True) -> None:
        """warcio's: the digests a record lacks, added in the same order (payload, then block). The
        block digest is asked for by `_write_warc_record` only, once the HTTP head is computed."""
        held = record.raw_stream.getvalue()
        headers = record.rec_headers
        if payload and record.rec_type not in self.NO_PAYLOAD_DIGEST_TYPES and \
                not headers.get_header("WARC-Payload-Digest"):
            headers.add_header("WARC-Payload-Digest", _sha1(held))
        if block and not headers.get_header("WARC-Block-Digest"):
            headers.add_header("WARC-Block-Digest", _sha1(_http_head(record), held))

    def _write_warc_record(self, out: list[bytes], record: Any) -> None:
        """warcio's, for a record whose length is known (so no digest needs recomputing): its gzip
        member goes to the end of `out`, in pieces."""
        held = record.raw_stream.getvalue()
        if record.http_headers:
            record.http_headers.compute_headers_buffer(self.header_filter)
        head = _http_head(record)
        self.ensure_digest(record)
        record.rec_headers.replace_header("Content-Type", record.content_type)
        record.rec_headers.replace_header("Content-Length", str(len(head) + len(held)))
        member = isal_zlib.compressobj(1, isal_zlib.DEFLATED, isal_zlib.MAX_WBITS + 16)
        out.extend([member.compress(record.rec_headers.to_bytes(encoding="utf-8")), member.compress(head),
                    member.compress(held), member.compress(b"\r\n\r\n"), member.flush()])


def _http_head(record: Any) -> bytes:
    """The record's HTTP status line and headers as warcio writes them, b"" for a record without."""
    return record.http_headers.headers_buff if record.http_headers else b""


def _write_records(writer: WARCWriter, name: str, fetch: FetchResult, digest: str, metadata: dict[str, Any],
                   user_agent: str) -> None:
    date = fetch.fetched_at
    writer.write_record(writer.create_warcinfo_record(name, {
        "software": f"linkcheck/{__version__} (warcio)", "format": "WARC File Format 1.1",
        "conformsTo": "https://iso.org/standard/68004.html"}))
    final = _wire(fetch.final_url)
    parts = urlsplit(final)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = writer.create_warc_record(
        final, "request", payload=io.BytesIO(b""), length=0,
        warc_headers_dict={"WARC-Date": date},
        http_headers=StatusAndHeaders(f"GET {target} HTTP/1.1", [
            ("Host", parts.netloc), ("User-Agent", user_agent),
            ("Accept-Encoding", "gzip, deflate")], is_http_request=True))
    headers = [(k, _ascii(v)) for k, v in fetch.headers if k.lower() not in _HOP_BY_HOP]
    headers = [(k, str(len(fetch.raw)) if k.lower() == "content-length" else v) for k, v in headers]
    response = writer.create_warc_record(
        final, "response", payload=io.BytesIO(fetch.raw), length=len(fetch.raw),
        warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": digest},
        http_headers=StatusAndHeaders(f"{fetch.status_code} {_reason(fetch.status_code)}", headers,
                                      protocol="HTTP/1.1"))
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    request.rec_headers.add_header("WARC-Concurrent-To", response_id)
    # The redirects that led here, so a replay of the *cited* URL reaches the page. Their bodies
    # were never read; the records keep status and Location only.
    locations = [_wire(h.url) for h in fetch.hops[1:]] + [final] if fetch.hops else []
    for hop, location in zip(fetch.hops, locations, strict=True):
        writer.write_record(writer.create_warc_record(
            _wire(hop.url), "response", payload=io.BytesIO(b""), length=0, warc_headers_dict={"WARC-Date": date},
            http_headers=StatusAndHeaders(f"{hop.status} {_reason(hop.status)}",
                                          [("Location", location), ("Content-Length", "0")],
                                          protocol="HTTP/1.1")))
    writer.write_record(request)
    writer.write_record(response)
    body = json.dumps(metadata, ensure_ascii=False, indent=1).encode("utf-8")
    uri = f"urn:linkcheck:metadata:{_wire(fetch.url)}"
    writer.write_record(writer.create_warc_record(
        uri, "metadata", payload=io.BytesIO(body), length=len(body),
        warc_content_type="application/json",
        warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": response_id,
                           "WARC-Target-URI": uri}))


def _wire(url: str) -> str:
    """`url` as its request named it: a URL with non-ASCII characters (an IRI, as a config may cite
    one) as httpx sent it, host in IDNA and the rest percent-encoded as UTF-8. WARC headers and
    HTTP request lines are ASCII."""
    if url.isascii():
        return url
    import httpx  # only for such a URL: the processes that write snapshots do not load it otherwise

    return str(httpx.URL(url))


def _ascii(value: str) -> str:
    """A header value as WARC can hold it: its non-ASCII characters percent-encoded as UTF-8 (RFC
    8187's choice; warcio's own fallback fails on a value with a `;` in it)."""
    return value if value.isascii() else quote(value, safe=_PRINTABLE)


def _reason(code: int | None) -> str:
    try:
        return HTTPStatus(code or 200).phrase
    except ValueError:
        return "Unknown"
