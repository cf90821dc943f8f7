"""`status` and `report --since 7d` on a big history: N sources × P passes (default 100,000 × 10).

    python benchmarks/history_scale.py [N] [PASSES]

Builds the history with plain SQL in the schema `Store` migrates to (2% of the sources change or
break on each pass, the rest are unchanged), then times what `status` and the digest read, and
prints the database size per source per pass. No network.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import zlib
from datetime import timedelta
from pathlib import Path

from linkcheck.config import Config
from linkcheck.digest import build_digest
from linkcheck.durations import now_utc, stamp
from linkcheck.models import Source
from linkcheck.status import status_report
from linkcheck.store import Store


def _detail(i: int, edition: int) -> bytes:
    detail = {"id": f"s{i}", "url": f"https://example.org/{i}", "final_url": f"https://example.org/{i}",
              "quotes": [{"text": "A quoted passage of the article.", "match": "exact", "score": 1.0,
                          "found_text": "A quoted passage of the article.", "lost": False}],
              "drift": {"state": "changed" if edition else "new", "similarity": 0.9 if edition else None},
              "archive": {"wayback": {"state": "existing", "url": f"https://web.archive.org/web/2026/{i}"}},
              "message": "", "title": f"Source {i}", "cites": [], "line": i, "encoding": "utf-8"}
    return zlib.compress(json.dumps(detail, sort_keys=True).encode())


def build(store: Store, n: int, passes: int) -> None:
    db = store.db
    db.execute("BEGIN")
    detail_of: dict[int, int] = {}
    for p in range(passes):
        day = stamp(now_utc() - timedelta(hours=6 * (passes - 1 - p)))  # a pass every 6 hours
        run = db.execute("INSERT INTO runs (started, finished, total, ok, warning, broken, partial) "
                         "VALUES (?, ?, ?, ?, 0, 0, 0)", (day, day, n, n)).lastrowid
        rows = []
        for i in range(n):
            if p == 0 or i % 50 == p % 50:  # 2% change each pass
                cur = db.execute("INSERT INTO details (source_id, data) VALUES (?, ?)", (f"s{i}", _detail(i, p)))
                detail_of[i] = int(cur.lastrowid or 0)
            broken = i % 100 == p % 100
            rows.append((f"s{i}", run, day, "broken" if broken else "ok", "dead" if broken else "alive",
                         404 if broken else 200, int(broken), None, f"{i:032x}", None,
                         "dead" if broken else "", detail_of[i]))
        db.executemany("INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany("INSERT OR REPLACE INTO latest VALUES (?, ?)", [(f"s{i}", run) for i in range(n)])
    db.execute("COMMIT")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    passes = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sources.toml"
        config = Config(path=path, sources=tuple(Source(f"s{i}", f"https://example.org/{i}") for i in range(n)))
        store = Store.open(config.db_path)
        start = time.perf_counter()
        build(store, n, passes)
        built = time.perf_counter() - start
        size = config.db_path.stat().st_size
        start = time.perf_counter()
        status_report(config, "json")
        status = time.perf_counter() - start
        start = time.perf_counter()
        digest = build_digest(store, config, 7 * 86400.0, now=None)
        report = time.perf_counter() - start
        store.close()
    print(f"{n:,} sources × {passes} passes: built in {built:.1f} s, {size / 2**20:.0f} MB "
          f"({size / n / passes:.0f} B per source per pass)")
    print(f"status: {status:.2f} s   report --since 7d (digest built): {report:.2f} s "
          f"({len(digest.broke)} broke, {len(digest.changed)} changed, {len(digest.current)} current)")


if __name__ == "__main__":
    main()
