"""PDF sources: quotes verified in the text layer with their page; no text → unverifiable."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Server, by_id, check_json, send, write_config
from hypothesis import given, settings
from hypothesis import strategies as st
from pdfgen import make_pdf

from linkcheck.pdf import pdf_text

QUOTE = "We will be in a position to extend an invitation to Ukraine to join the Alliance when Allies agree."


def test_quotes_are_found_in_the_text_layer_with_their_page(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"body": make_pdf([["Vilnius Summit Communique"],
                         ["1. Preamble of the text.", "We will be in a position to extend an invitation",
                          "to Ukraine to join the Alliance when Allies agree."]])}
    server.routes["/c.pdf"] = lambda h: send(h, 200, doc["body"], content_type="application/pdf")
    server.routes["/unlabelled"] = lambda h: send(h, 200, doc["body"], content_type="application/octet-stream")
    config = write_config(tmp_path, [
        {"id": "pdf", "url": server.url("/c.pdf"), "quotes": [QUOTE, "Allies will never agree."]},
        {"id": "sniffed", "url": server.url("/unlabelled"), "quotes": [QUOTE]}])
    code, report = check_json(config, capsys, "--no-archive")
    r = by_id(report)
    found, gone = r["pdf"]["quotes"]
    assert found["match"] == "exact" and found["page"] == 2 and QUOTE in found["found_text"]
    assert gone["match"] == "altered" and gone["changes"] and code == 1  # "never" added: a changed fact
    assert r["sniffed"]["quotes"][0]["match"] == "exact" and r["sniffed"]["status"] == "ok"
    first_snapshot = r["pdf"]["archive"]["snapshot"]
    assert r["pdf"]["drift"]["state"] == "new" and first_snapshot

    # Drift and snapshots work as for HTML: the next version of the document is compared.
    doc["body"] = make_pdf([["Vilnius Summit Communique"], ["1. Preamble, rewritten entirely.",
                                                        "Nothing about invitations any more."]])
    _, report = check_json(config, capsys, "--no-archive")
    r = by_id(report)
    assert r["pdf"]["drift"]["state"] == "changed" and "quote-lost" in r["pdf"]["problems"]
    assert r["pdf"]["archive"]["snapshot"] not in (None, first_snapshot)


def test_no_text_layer_or_a_non_text_type_is_unverifiable_never_missing(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/scan.pdf"] = lambda h: send(h, 200, make_pdf([[], []]), content_type="application/pdf")
    server.routes["/broken.pdf"] = lambda h: send(h, 200, b"%PDF-1.7\n garbage", content_type="application/pdf")
    server.routes["/photo.png"] = lambda h: send(h, 200, b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")
    server.routes["/nothing.png"] = lambda h: send(h, 200, b"\x89PNG\r\n\x1a\n", content_type="image/png")
    sources = [{"id": i, "url": server.url(p), "quotes": ["Any quoted words at all."]}
               for i, p in (("scan", "/scan.pdf"), ("broken", "/broken.pdf"), ("photo", "/photo.png"))]
    sources.append({"id": "no-quotes", "url": server.url("/nothing.png")})
    code, report = check_json(write_config(tmp_path, sources), capsys, "--no-archive")
    r = by_id(report)
    assert code == 0
    for sid in ("scan", "broken", "photo"):
        assert r[sid]["quotes"][0]["match"] == "unverifiable", r[sid]
        assert r[sid]["link"] == "alive" and r[sid]["status"] == "warning"
        assert r[sid]["problems"] == ["no-text"]
    assert "no text layer" in r["scan"]["message"]
    assert "image/png" in r["photo"]["message"]
    assert r["no-quotes"]["status"] == "ok" and r["no-quotes"]["problems"] == []


# Helvetica's standard encoding shows ' and ` as typographic quotes; a line-end hyphen joins words.
_WORDS = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?()"),
                 min_size=1, max_size=60)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(_WORDS, max_size=4), min_size=1, max_size=4))
def test_every_page_is_one_line_so_a_line_index_is_a_page_number(pages: list[list[str]]) -> None:
    page = pdf_text(make_pdf(pages))
    if page is None:
        assert all(not "".join(lines).strip() for lines in pages)
        return
    lines = page.text.split("\n")
    assert len(lines) == len(pages)
    for n, words in enumerate(pages):
        for w in words:
            assert " ".join(w.split()) in lines[n] or not w.strip()


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["application/pdf", "Application/PDF", "APPLICATION/X-PDF"]),
       st.sampled_from(["", "; name=report.pdf", " ;charset=binary"]))
def test_a_declared_pdf_is_known_whatever_its_case_and_parameters(kind: str, params: str) -> None:
    """Media types are case-insensitive and may carry parameters: one parser (`models.media_type`)
    reads them for the PDF check, the text check and the no-text message alike."""
    from linkcheck.models import FetchResult
    from linkcheck.pdf import is_pdf
    from linkcheck.readable import is_text_type, no_text_reason
    assert is_pdf(b"not a signature", kind + params)
    assert not is_text_type(kind + params) and is_text_type("Application/XHTML+XML" + params)
    image = FetchResult(url="http://x/", final_url="http://x/", status_code=200,
                        headers=(("Content-Type", "Image/PNG" + params),), body=b"\x89PNG")
    assert "the page is image/png, not text" in no_text_reason(image)
