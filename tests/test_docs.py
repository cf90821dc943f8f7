"""README stays true: its config example is valid, and it names every command and config key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import run_cli

from linkcheck.cli import COMMANDS
from linkcheck.config import _SECTIONS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_config_example_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    block = README.split("## `sources.toml`", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    path = tmp_path / "sources.toml"
    path.write_text(block, encoding="utf-8")
    code, _, err = run_cli(["validate", "--config", str(path)], capsys)
    assert code == 0, err


def test_readme_names_every_command_and_key() -> None:
    for command in COMMANDS:
        assert f"linkcheck {command}" in README, command
    for section, (_, keys) in _SECTIONS.items():
        for key in keys:
            assert re.search(rf"\b{key}\b", README), f"[{section}] {key} is not documented"
    for line in ("pip install -e '.[dev]'", "linkcheck check", "pytest"):
        assert line in README
