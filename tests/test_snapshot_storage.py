"""Snapshots in a bucket (`[snapshots] path = "s3://..."`): written by a pass (in its parsing
processes or a thread), found again by the next, read back for the digest's readable pages,
pruned; and a URL whose backend is missing, or unknown, is a configuration error. The bucket is
moto's S3 server on 127.0.0.1 with dummy credentials: nothing leaves the machine."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from conftest import Server, by_id, check_json, page, run_cli, send, write_config
from warcio.archiveiterator import ArchiveIterator

QUOTE = "Allies agree and conditions are met."


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint of an S3 server on 127.0.0.1, with the environment of a machine whose AWS
    credentials are dummies and whose instance metadata is never asked for."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request, in every test's output
    nowhere = tmp_path_factory.mktemp("aws") / "none"
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        env.setenv("AWS_CONFIG_FILE", str(nowhere))  # not the ~/.aws of whoever runs the tests
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def _bucket(endpoint: str, name: str) -> Any:
    fs = fsspec.filesystem("s3", endpoint_url=endpoint)
    fs.mkdir(name)
    return fs


def _warc_uri(fs: Any, url: str) -> str:
    with fs.open(url, "rb") as f:
        return next(r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f) if r.rec_type == "response")


def test_a_pass_writes_snapshots_to_a_bucket_and_the_next_passes_read_and_prune_them(
        s3: str, server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state: dict[str, Any] = {}

    def a(h: Any) -> None:  # the same text in different bytes, unless the test changes the words
        send(h, 200, page(f"<main><p>{QUOTE}</p><p>{state['words']}</p></main><script>/*{state['n']}*/</script>"))

    server.routes["/a"] = a
    fs = _bucket(s3, "snaps")
    # No parsing pool (conftest's workers = 1): a bucket write goes to a thread beside the loop
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}],
                          snapshots={"path": "s3://snaps/pub", "storage_options": {"endpoint_url": s3}})
    seen = []
    first, second = "First version of the text.", "Second version, which differs."
    for n, words in [(0, first), (0, first), (1, first), (2, second)]:  # pass 2 serves pass 1's bytes again
        state["n"], state["words"] = n, words
        _, report = check_json(config, capsys)
        seen.append(by_id(report)["a"]["archive"]["snapshot"])
    assert seen[0] == seen[1], "the same payload is not written twice"
    assert len({seen[0], seen[2], seen[3]}) == 3 and all(s.startswith("s3://snaps/pub/a/") for s in seen)
    assert by_id(report)["a"]["drift"]["state"] == "changed"
    assert sorted(fs.ls("snaps/pub/a")) == sorted(s.removeprefix("s3://") for s in {*seen})
    assert _warc_uri(fs, seen[3]) == server.url("/a")
    assert not (tmp_path / "snapshots").exists()
    assert f"- snapshot: `{seen[3]}`" in (tmp_path / "reports" / "latest.md").read_text()  # not "local"

    code, _, err = run_cli(["report", "--config", str(config), "--format", "markdown", "--output",
                            str(tmp_path / "digest.md")], capsys)
    assert code == 0, err
    link = (tmp_path / "digest.md").read_text().split("[saved copy](", 1)[1].split(")", 1)[0]
    readable = (tmp_path / link).read_text()  # the page made from the WARC in the bucket
    assert link.startswith("pages/") and "<mark>" in readable and "Second version" in readable
    code, out, _ = run_cli(["report", "--config", str(config), "--format", "markdown"], capsys)
    assert f"[saved copy (WARC)]({seen[3]})" in out  # no pages without --output: the WARC's own URL

    code, out, _ = run_cli(["prune", "--config", str(config), "--keep", "1"], capsys)
    assert code == 0 and out == "removed 1 unchanged snapshot\n"  # pass 3's: pass 1's has the same text
    fs.invalidate_cache()
    assert sorted(fs.ls("snaps/pub/a")) == sorted(s.removeprefix("s3://") for s in (seen[0], seen[3]))


@pytest.mark.parametrize(("snapshots", "wanted"), [
    ({"path": "s3://snaps/pub"}, "s3:// needs its fsspec backend, which is not installed: "
                                 "pip install 'linkcheck-citations[s3]'"),
    ({"path": "nosuch://bucket/x"}, "nosuch:// is not a storage protocol fsspec knows"),
    ({"path": "https://example.org/snapshots"}, "[report] base_url"),
    ({"path": "s3://"}, "names no bucket"),
    ({"storage_options": {"client_kwargs": {"aws_secret_access_key": "x"}}},
     "'client_kwargs.aws_secret_access_key' looks like a credential"),
    ({"storage_options": {"key": "AKIA"}}, "credentials never go in the config"),
])
def test_an_unusable_snapshot_url_is_a_config_error_at_its_key(
        snapshots: dict[str, Any], wanted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from fsspec.registry import _registry, known_implementations

    # s3fs is a dev dependency: the test takes it away as a machine without the extra lacks it
    monkeypatch.setitem(known_implementations, "s3", {"class": "no_such_s3fs.S3FileSystem"})
    monkeypatch.delitem(_registry, "s3", raising=False)
    config = write_config(tmp_path, [], snapshots=snapshots)
    key = "storage_options" if "storage_options" in snapshots else "path"
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if text.startswith(f"{key} ="))
    for command in ("validate", "check"):
        code, _, err = run_cli([command, "--config", str(config)], capsys)
        assert code == 2 and f"{config}:{line}: [snapshots] {key}: " in err and wanted in err, err


def test_fsspec_environment_options_reach_the_backend(s3: str, server: Server, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """FSSPEC_S3_ENDPOINT_URL instead of `storage_options`, as docs/scaling.md says; and snapshots written
    by the parsing processes, which take the storage by pickle (in a process of its own: a pool's
    forkserver keeps the environment of the first test that started one)."""
    server.routes["/a"] = lambda h: send(h, 200, page(f"<main><p>{QUOTE}</p></main>"))
    fs = _bucket(s3, "envsnaps")
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": [QUOTE]}],
                          fetch={"workers": 2}, snapshots={"path": "s3://envsnaps/x"})
    done = subprocess.run([sys.executable, "-m", "linkcheck", "check", "--config", str(config), "--format", "json"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env=os.environ | {"FSSPEC_S3_ENDPOINT_URL": s3})
    assert done.returncode == 0, done.stderr
    written = by_id(json.loads(done.stdout))["a"]["archive"]["snapshot"]
    assert written.startswith("s3://envsnaps/x/a/") and _warc_uri(fs, written) == server.url("/a")


def test_two_workers_write_their_snapshots_to_one_bucket(s3: str, server: Server, tmp_path: Path, postgres: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from test_workers import _linkcheck, _stop

    # Jobs of one source, one job at a time per worker: the first two requests answer only once both
    # are in flight, so each worker has one of them (and writes its snapshot) whichever starts first.
    both = threading.Barrier(2, timeout=30)
    asked = itertools.count()

    def answer(h: Any) -> None:
        if next(asked) < 2:
            both.wait()
        send(h, 200, page(f"<main><p>{QUOTE} Page {h.path}.</p></main>"))

    server.fallback = answer
    fs = _bucket(s3, "cluster")
    sources = [{"id": f"s{i}", "url": server.url(f"/p{i}"), "quotes": [QUOTE]} for i in range(8)]
    config = write_config(tmp_path, sources, history={"database": postgres}, workers={"batch": 1},
                          snapshots={"path": "s3://cluster/snaps", "storage_options": {"endpoint_url": s3}})
    assert run_cli(["migrate", "--config", str(config)], capsys)[0] == 0
    workers = [_linkcheck("worker", "--config", str(config), "--concurrency", "1", log=tmp_path / f"w{i}.log",
                          cwd=tmp_path) for i in range(2)]
    try:
        code, out, err = run_cli(["check", "--config", str(config), "--distribute", "--format", "json"], capsys)
    finally:
        stopped = [_stop(w) for w in workers]
    assert code == 0, err
    assert stopped == [0, 0]
    assert not both.broken
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(2)]
    assert all("job run=" in log for log in logs), logs  # both workers wrote some of them
    written = sorted(s["archive"]["snapshot"] for s in json.loads(out)["sources"])
    assert len(written) == 8 and sorted(fs.find("cluster/snaps")) == [s.removeprefix("s3://") for s in written]


def test_removing_files_already_gone_is_no_error(tmp_path: Path) -> None:
    """Some backends (fsspec's memory://, unlike S3) refuse a batch naming a missing file."""
    from linkcheck.storage import Storage

    storage = Storage(tmp_path, "memory://snaps")
    kept, gone = storage.write("a/1.warc.gz", b"one"), "memory://snaps/a/0.warc.gz"
    dropped = storage.write("a/2.warc.gz", b"two")
    with storage.open(kept) as f:
        assert f.read() == b"one"
    storage.remove([gone, dropped])
    assert storage.exists(kept) and not storage.exists(dropped)


def test_a_notification_links_a_bucket_snapshot_by_its_url() -> None:
    """A bucket is not below `[report] base_url`: the link is the snapshot's own URL, with or without it."""
    from dataclasses import replace

    from test_notify import _run

    from linkcheck.notify import evidence

    _, outcome = _run()
    assert "[snapshot](https://desk.example.org/snapshots/gone/x.warc.gz)" in \
        evidence(outcome, "https://desk.example.org/")
    assert not any("snapshot" in link for link in evidence(outcome, ""))  # a relative path leads nowhere in a mail
    in_bucket = replace(outcome, snapshot="s3://snaps/pub/gone/x.warc.gz")
    for base_url in ("", "https://desk.example.org/"):
        assert "[snapshot](s3://snaps/pub/gone/x.warc.gz)" in evidence(in_bucket, base_url)
