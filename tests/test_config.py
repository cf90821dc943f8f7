"""Every config error exits 2 with one paragraph naming the file and the line or source and key."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import run_cli

GOOD_SOURCE = '[[source]]\nid = "a"\nurl = "https://example.org/a"\n'

CASES = [
    # (config text, words the message must contain)
    ("[fetch]\ntimout = 5\n" + GOOD_SOURCE, ["[fetch]", "'timout'", "did you mean 'timeout'"]),
    ("[fetch]\ntimeout = \"soon\"\n" + GOOD_SOURCE, ["sources.toml:2: [fetch] timeout", "not a duration"]),
    ("[fetch]\nretries = -1\n" + GOOD_SOURCE, ["[fetch] retries", "at least 0"]),
    ("[fetch]\nallow_private = 1\n" + GOOD_SOURCE, ["allow_private", "true or false"]),
    ("[fetch]\nworkers = -2\n" + GOOD_SOURCE, ["[fetch] workers", "at least 0"]),
    ("[history]\nkeep = \"a year\"\n" + GOOD_SOURCE, ["[history] keep", "not a duration"]),
    ("[history]\nreports_keep = 2.5\n" + GOOD_SOURCE, ["[history] reports_keep", "whole number"]),
    ("[fetch]\nallow_networks = [\"not-a-net\"]\n" + GOOD_SOURCE, ["allow_networks", "not-a-net"]),
    ("[archive]\nmax_age = \"a month\"\n" + GOOD_SOURCE, ["[archive] max_age", "not a duration"]),
    ("[policy]\nmin_quote_score = 1.5\n" + GOOD_SOURCE, ["min_quote_score", "between 0 and 1"]),
    ("[policy]\nfail_on = [\"deadd\"]\n" + GOOD_SOURCE, ["fail_on", "'deadd'"]),
    ("[schedule]\ncheck = \"every fortnight\"\n" + GOOD_SOURCE, ["[schedule] check"]),
    ("[schedule]\nreport = \"0 8 * *\"\n" + GOOD_SOURCE, ["[schedule] report", "crontab"]),
    ("[polcy]\n" + GOOD_SOURCE, ["unknown top-level key 'polcy'", "did you mean 'policy'"]),
    ('[[source]]\nurl = "https://example.org/"\n', ["sources.toml:1: [[source]] #1", "no 'id'"]),
    ('[[source]]\nid = "a"\n', ["sources.toml:1: source 'a'", "no 'url'"]),
    ('[[source]]\nid = "a"\nurl = "ftp://example.org/x"\n', ["source 'a'", "'url'", "only http and https"]),
    ('[[source]]\nid = "a"\nurl = "https://exa mple.org/"\n', ["source 'a'", "'url'", "not a URL"]),
    ('[[source]]\nid = "a"\nurl = "https://:80/x"\n', ["source 'a'", "'url'", "no valid host"]),
    ('[[source]]\nid = "a"\nurl = "https://example.org:99999/"\n', ["source 'a'", "malformed"]),
    ('[[source]]\nid = "a"\nurl = "https://example.org/"\ntimout = 3\n',
     ["sources.toml:4: source 'a'", "'timout'"]),
    ('[[source]]\nid = "a"\nurl = "https://example.org/"\ncites = [1]\n', ["source 'a'", "'cites'"]),
    ('[[source]]\nid = "a"\nurl = "https://example.org/"\nquotes = [""]\n', ["source 'a'", "quote text is empty"]),
    ('[[source]]\nid = "a"\nurl = "https://example.org/"\nquotes = [{ txt = "x" }]\n',
     ["source 'a'", "'txt'", "did you mean 'text'"]),
    ('[[source]]\nid = "a"\nurl = "https://example.org/"\nquotes = [{ text = "x", locator = 0 }]\n',
     ["source 'a'", "locator"]),
    ('[[source]]\nid = "a"\nurl = "https://example.org/"\nquotes = [{ text = "x", kind = "paraphrased" }]\n',
     ["sources.toml:4: source 'a'", "'kind'", "\"paraphrase\"", "'paraphrased'"]),
    ('[[source]]\nid = "bad id!"\nurl = "https://example.org/"\n', ["'id'", "bad id!"]),
    (GOOD_SOURCE + "\n" + GOOD_SOURCE, ["sources.toml:6: source 'a'", "same id", "line 2"]),
    ("[fetch\ntimeout = 3\n", ["sources.toml:1: invalid TOML", "line 1"]),
    ('[[source]]\nid = "a"\nurl = "https://example.org/\n', ["sources.toml:3: invalid TOML", "line 3"]),
    ('[fetch]\ntimeout = 3\nuser_agent = [\n', ["sources.toml:3: invalid TOML", "end of document"]),
    ('[fetch]\nuser_agent = "linkcheck (rédaction)"\n', ["sources.toml:2: [fetch] user_agent", "printable ASCII",
                                                        "'é' at position 12"]),
]


@pytest.mark.parametrize(("text", "words"), CASES, ids=[c[1][0] for c in CASES])
def test_config_errors_exit_2_with_a_clear_message(text: str, words: list[str], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    for command in ("validate", "check"):
        code, _, err = run_cli([command, "--config", str(path)], capsys)
        assert code == 2, (command, err)
        assert "Traceback" not in err
        assert str(path) in err
        for w in words:
            assert w in err, (w, err)
        assert err.count("\n") == 1, "one paragraph"


def test_missing_file_and_bad_flags_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["check", "--config", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "no such file" in err
    code, _, err = run_cli(["check", "--format", "yaml"], capsys)
    assert code == 2 and "invalid choice" in err
    code, _, err = run_cli(["frobnicate"], capsys)
    assert code == 2


def test_valid_config_and_quote_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[policy]\nfail_on = ["dead", "unreachable", "changed"]\n'
                    '[[source]]\nid = "a"\nurl = "https://例え.jp/パス?q=1"\n'
                    'quotes = ["plain", { text = "with context", prefix = "before", suffix = "after", '
                    'locator = 85 }, { text = "restated", kind = "paraphrase" }]\n', encoding="utf-8")
    code, out, _ = run_cli(["validate", "--config", str(path)], capsys)
    assert code == 0 and "1 source, 3 quotes" in out


def test_a_config_may_use_toml_1_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A quote's table over several lines, with a trailing comma (TOML 1.1, read by tomli 2.4 on)."""
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nid = "a"\nurl = "https://example.org/"\nquotes = [{\n  text = "long quote",\n'
                    '  prefix = "before",\n}]\n', encoding="utf-8")
    code, out, err = run_cli(["validate", "--config", str(path)], capsys)
    assert code == 0 and "1 source, 1 quote" in out, err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from linkcheck.cli import COMMANDS, build_parser

    for name in COMMANDS:
        code, out, _ = run_cli([name, "--help"], capsys)
        assert code == 0 and "usage: linkcheck " + name in out
        assert len(out.splitlines()) > 3
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():  # type: ignore[union-attr]
        for action in p._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} lacks help"


@pytest.mark.parametrize("absent", ["psycopg", "procrastinate"])
def test_a_postgresql_history_without_its_extra_is_a_config_error(
        absent: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed without `[postgresql]`, a PostgreSQL history says what to install (exit 2, at its
    key), for every command, rather than ending in an ImportError."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == absent else real(name, *a))
    path = tmp_path / "sources.toml"
    path.write_text('[history]\ndatabase = "postgresql://linkcheck@127.0.0.1:9/db"\n' + GOOD_SOURCE, encoding="utf-8")
    for command in ("validate", "migrate", "check"):
        code, _, err = run_cli([command, "--config", str(path)], capsys)
        assert code == 2 and "Traceback" not in err, (command, err)
        assert f"{path}:2: [history] database" in err and absent in err
        assert "pip install 'linkcheck-citations[postgresql]'" in err
