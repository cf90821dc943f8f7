"""`linkcheck prune --keep N`: remove old snapshots whose main text did not change.

Kept for each source: the newest N snapshots, and the first snapshot of every distinct main
text (every changed version). History rows that pointed at a removed file point at the kept
snapshot of the same text instead."""

from __future__ import annotations

from .config import Config
from .store import SnapshotRow, Store


def plan(rows: list[SnapshotRow], keep: int) -> dict[str, str | None]:
    """Removed path -> the kept path of the same text (or None). `rows` oldest first."""
    by_source: dict[str, list[SnapshotRow]] = {}
    for row in rows:
        by_source.setdefault(row.source_id, []).append(row)
    removed: dict[str, str | None] = {}
    for snaps in by_source.values():
        first_of_text: dict[str | None, str] = {}
        for s in snaps:
            first_of_text.setdefault(s.text_hash, s.path)
        kept = {s.path for s in snaps[-keep:]} | set(first_of_text.values())
        for s in snaps:
            if s.path not in kept:
                removed[s.path] = next(k.path for k in reversed(snaps)
                                       if k.path in kept and k.text_hash == s.text_hash)
    return removed


def prune(config: Config, keep: int) -> list[str]:
    store = Store.open(config.database)
    try:
        removed = plan(store.snapshots(), keep)
        store.forget_snapshots(removed)  # history first: a crash leaves files, never dangling rows
    finally:
        store.close()
    config.snapshot_storage.remove(removed)
    return sorted(removed)
