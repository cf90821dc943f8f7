"""`--changed-since GITREF`: the sources whose entries differ from the config at a git ref."""

from __future__ import annotations

import subprocess
from pathlib import Path

import tomli

from .config import Config
from .errors import UsageError


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"--changed-since: git could not be run ({exc})") from None
    if done.returncode != 0:
        raise UsageError(f"--changed-since: git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def changed_source_ids(config: Config, ref: str) -> list[str]:
    """Ids of sources that are new or whose entry changed since `ref`, in config order."""
    folder = config.path.resolve().parent
    top = Path(_git(["rev-parse", "--show-toplevel"], folder).strip())
    rel = config.path.resolve().relative_to(top).as_posix()
    listing = _git(["ls-tree", "--name-only", ref, "--", rel], top)
    old_entries: dict[str, object] = {}
    if listing.strip():
        try:
            old = tomli.loads(_git(["show", f"{ref}:{rel}"], top))
        except tomli.TOMLDecodeError:
            old = {}
        for entry in old.get("source", []):
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                old_entries[entry["id"]] = entry
    current = tomli.loads(config.path.read_text(encoding="utf-8"))
    return [e["id"] for e in current.get("source", [])
            if isinstance(e, dict) and isinstance(e.get("id"), str) and old_entries.get(e["id"]) != e]
