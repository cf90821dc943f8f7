"""Where each key of a TOML file is, and config errors as `file:line: message`: TOML parsers give values
without positions, so the lines are found by a light scan of the text."""

from __future__ import annotations

import re
from pathlib import Path

import tomli

_HEAD_RE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(?:#.*)?$")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=")


class KeyLines:
    """Where each table and each key starts in the file (1-based), so that an error names the
    line of the offending key, not its table's header. Table `""` is the top level; `[[source]]`
    tables are told apart by their index."""

    def __init__(self, text: str = "") -> None:
        self.heads: dict[tuple[str, int], int] = {}
        self.keys: dict[tuple[str, int, str], int] = {}
        counts: dict[str, int] = {}
        table, index = "", 0
        for n, line in enumerate(text.splitlines(), 1):
            if head := _HEAD_RE.match(line):
                table, index = head.group(2), 0
                if head.group(1) == "[[":
                    index = counts[table] = counts.get(table, -1) + 1
                self.heads.setdefault((table, index), n)
            elif key := _KEY_RE.match(line):
                self.keys.setdefault((table, index, key.group(1).strip('"')), n)

    def line(self, table: str, index: int = 0, key: str = "") -> int:
        return self.keys.get((table, index, key), 0) or self.heads.get((table, index), 0)


class Errors:
    """Every problem in the file, each as `file:line: message`, raised together at the end."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.messages: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.messages.append((line, f"{self.where}:{line}: {message}" if line else f"{self.where}: {message}"))

    def text(self) -> str:
        """In line order (the checks run section by section, not top to bottom), file-wide ones first."""
        return "\n".join(message for _, message in sorted(self.messages, key=lambda m: m[0]))


def toml_error(path: Path, text: str, exc: tomli.TOMLDecodeError) -> str:
    """`FILE:LINE: invalid TOML: ...` like every other config error: the parser's message names
    the line, except for an error at the end of the document (its last line, then)."""
    found = re.search(r"at line (\d+)", str(exc))
    line = int(found.group(1)) if found else text.count("\n") + (not text.endswith("\n"))
    return f"{path}:{line}: invalid TOML: {exc}. Fix the syntax at that line."
