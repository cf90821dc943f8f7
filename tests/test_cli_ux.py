"""Config and CLI consistency: one duration syntax, every error at its key's line, several
configs for pre-commit, `--since` as a date, `--quiet`, baselines, `init --check` leaving nothing,
files written with the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import Server, page, run_cli, send, write_config
from hypothesis import given
from hypothesis import strategies as st

from linkcheck.config import load_config
from linkcheck.durations import parse_duration
from linkcheck.fsutil import atomic_write

GOOD = '[[source]]\nid = "a"\nurl = "https://example.org/a"\n'
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@given(st.integers(min_value=1, max_value=10_000), st.sampled_from([*UNITS, ""]))
def test_one_duration_syntax(n: int, unit: str) -> None:
    seconds = float(n * UNITS.get(unit, 1))
    assert parse_duration(f"{n}{unit}") == seconds
    assert parse_duration(n) == float(n)  # a TOML number is seconds


def test_durations_are_accepted_in_every_section(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[fetch]\ntimeout = "20s"\nbackoff = 2\nmax_backoff = "1m"\n'
                    '[archive]\ntimeout = 600\nrequest_timeout = "45s"\nmax_age = "30d"\n'
                    '[policy]\nconfirm_span = 259200\n' + GOOD)
    config = load_config(path)
    assert (config.fetch.timeout, config.fetch.backoff, config.fetch.max_backoff) == (20.0, 2.0, 60.0)
    assert (config.archive.timeout, config.archive.request_timeout) == (600.0, 45.0)
    assert config.archive.max_age == 30 * 86400 and config.policy.confirm_span == 3 * 86400


def test_validate_reports_every_error_at_the_line_of_its_key(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[fetch]\nretries = 2\ntimeout = "soon"\n\n'            # line 3
                    '[[source]]\nid = "a"\ntitle = "A"\n'
                    'url = "ftp://example.org/"\n'                          # line 8
                    '\n[[source]]\nid = "b"\nurl = "https://example.org/b"\n'
                    'quotes = ["x"]\ncites = [4]\n', encoding="utf-8")      # line 14
    code, _, err = run_cli(["validate", "--config", str(path)], capsys)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert lines[0].startswith(f"linkcheck: {path}:3: [fetch] timeout:")
    assert lines[1].startswith(f"linkcheck: {path}:8: source 'a' key 'url':") and "only http and https" in lines[1]
    assert lines[2].startswith(f"linkcheck: {path}:14: source 'b' key 'cites':")


def test_validate_takes_several_configs_as_pre_commit_passes_them(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("https", "gopher"))
    code, out, err = run_cli(["validate", "--config", str(good), str(bad)], capsys)
    assert code == 2
    assert f"{good}: valid (1 source, 0 quotes)" in out
    assert err.startswith(f"linkcheck: {bad}:3: source 'a' key 'url'")
    code, out, _ = run_cli(["validate", "--config", str(good), "--config", str(good)], capsys)
    assert code == 0 and out.count(": valid (") == 2


def test_usage_errors_name_the_command_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["validate", "--bogus"], capsys)
    assert code == 2 and "\nlinkcheck: unrecognized arguments: --bogus" in err
    code, _, err = run_cli(["report", "--format", "pdf"], capsys)
    assert code == 2 and "\nlinkcheck: report: argument --format: invalid choice" in err
    assert "linkcheck: linkcheck" not in err


def test_report_since_takes_a_date_or_a_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, [{"id": "a", "url": "https://example.org/a"}])
    for since in ("2026-01-01", "2026-01-01T08:00:00Z", "36h"):
        code, out, err = run_cli(["report", "--config", str(config), "--since", since], capsys)
        assert code == 0, err
        assert out.startswith("# Citation digest, ")
    code, out, err = run_cli(["report", "--config", str(config), "--since", "2026-01-01"], capsys)
    assert "2026-01-01 to" in out
    for bad in ("last tuesday", "2999-01-01"):
        code, _, err = run_cli(["report", "--config", str(config), "--since", bad], capsys)
        assert code == 2 and "--since" in err


def test_quiet_prints_only_when_something_is_broken(server: Server, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page("<p>Fine words.</p>"))
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a"), "quotes": ["Fine words."]}])
    code, out, err = run_cli(["check", "--config", str(config), "--quiet"], capsys)
    assert (code, out, err) == (0, "", "")
    server.routes["/a"] = lambda h: send(h, 404, "gone")
    code, out, _ = run_cli(["check", "--config", str(config), "--quiet"], capsys)
    assert code == 1 and out.startswith("BROKEN  a  [dead]")


def test_init_check_leaves_nothing_but_its_output(server: Server, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/c"] = lambda h: send(h, 200, page("<p>Allies agree and conditions are met.</p>"))
    article = tmp_path / "article.txt"
    article.write_text(f"It said “when allies agree”.[1]\n[1] Communiqué {server.url('/c')}\n")
    out = tmp_path / "sources.toml"
    out.write_text("[fetch]\nallow_private = true\n")
    code, stdout, err = run_cli(["init", "--from", str(article), "--output", str(out), "--merge", "--check"], capsys)
    assert code == 0, err
    assert "the page says" in stdout
    fresh = tmp_path / "fresh.toml"  # no [fetch] allow_private: --allow-private lets the first check read it
    code, stdout, err = run_cli(["init", "--from", str(article), "--output", str(fresh), "--check",
                                 "--allow-private"], capsys)
    assert code == 0, err
    assert "the page says" in stdout and "could not check" not in stdout
    assert "allow_private" not in fresh.read_text()  # the written config stays its owner's choice
    assert sorted(p.name for p in tmp_path.iterdir()) == ["article.txt", "fresh.toml", "sources.toml"]


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_are_written_with_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    old = os.umask(mask)
    try:
        atomic_write(tmp_path / "digest.html", "<p>hi</p>")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "digest.html").stat().st_mode) == mode


def test_rewriting_a_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "latest.md"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_reports_and_snapshots_of_a_pass_follow_the_umask(server: Server, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    server.routes["/a"] = lambda h: send(h, 200, page("<p>Fine words.</p>"))
    config = write_config(tmp_path, [{"id": "a", "url": server.url("/a")}])
    old = os.umask(0o022)
    try:
        code, _, err = run_cli(["check", "--config", str(config)], capsys)
    finally:
        os.umask(old)
    assert code == 0, err
    written = [*(tmp_path / "reports").iterdir(), *(tmp_path / "snapshots").rglob("*.warc.gz")]
    assert len(written) >= 5
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o644}


def test_status_and_report_before_any_pass_say_so_and_create_nothing(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sources.toml"
    config.write_text(GOOD, encoding="utf-8")
    code, out, _ = run_cli(["status", "--config", str(config)], capsys)
    assert code == 1 and "last pass: never (no pass has run yet; `linkcheck check` runs one)" in out
    code, out, err = run_cli(["report", "--config", str(config)], capsys)
    assert code == 0 and out.startswith("# Citation digest, ")
    assert err.strip() == f"linkcheck: no pass has run yet; `linkcheck check` runs one (no history at " \
                          f"{tmp_path / 'linkcheck.db'})"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.toml"]


def test_validate_lists_every_error_in_line_order_with_duplicates_of_broken_sources(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[archive]\nwayback = "maybe"\n'                       # line 2, a later section
                    '[fetch]\ntimeout = "soon"\n\n'                        # line 4
                    '[[source]]\nid = "a"\nurl = "ftp://example.org/"\n'   # lines 7, 8: an error of its own
                    '\n[[source]]\nid = "a"\nurl = "https://example.org/b"\n', encoding="utf-8")  # line 11
    code, _, err = run_cli(["validate", "--config", str(path)], capsys)
    assert code == 2
    lines = err.splitlines()
    assert [line.split(":")[2] for line in lines] == ["2", "4", "8", "11"], err
    assert "source 'a' has the same id as the source at line 7" in lines[3]


@pytest.mark.parametrize("command", [["validate"], ["links", "--format", "markdown"]])
def test_a_reader_that_leaves_early_is_not_an_internal_error(tmp_path: Path, command: list[str]) -> None:
    """`linkcheck ... | head`: the reader closes the pipe; no 'internal error (a bug)', no exit 3."""
    import subprocess
    import sys

    path = tmp_path / "sources.toml"
    path.write_text(GOOD, encoding="utf-8")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before linkcheck writes a byte
    try:
        done = subprocess.run([sys.executable, "-m", "linkcheck", *command, "--config", str(path)],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
