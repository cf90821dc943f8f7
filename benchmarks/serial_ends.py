"""The serial head and tail of `linkcheck check`, on one core: what runs before the first page is
fetched (imports, reading the config) and after the last is judged (the reports, read back from
history), CPU time (time.process_time), best of N.

    python benchmarks/serial_ends.py FOLDER [-n 5]

FOLDER holds a config (sources.toml) whose history has a finished pass, e.g. one `linkcheck check`
of the benchmark config real_pages.py writes. The reports are written to a temporary folder.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

# What `check` imports before it fetches anything (cli imports reporters first, as `main` does).
IMPORTS = "import linkcheck.cli, linkcheck.baseline, linkcheck.gitdiff, linkcheck.pipeline"


def best(work: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.process_time()
        result = work()
        if isinstance(result, Iterator):
            sum(1 for _ in result)  # a renderer: its pieces
        times.append(time.process_time() - start)
    return min(times)


def imports(n: int) -> float:
    """CPU of an interpreter that imports what `check` does, less a bare interpreter's."""
    def child(code: str) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return min(child(IMPORTS) for _ in range(n)) - min(child("pass") for _ in range(n))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("-n", type=int, default=5, help="runs of each step (the best is shown)")
    args = parser.parse_args()
    import linkcheck.cli  # noqa: F401  (first: the reporters before the pipeline)
    from linkcheck.config import load_config
    from linkcheck.models import CheckRun
    from linkcheck.outcomes import pass_outcomes
    from linkcheck.reporters import FORMATS, render_check
    from linkcheck.reporters.files import write_run_reports
    from linkcheck.store import Store

    path = args.folder / "sources.toml"
    if not path.is_file():
        raise SystemExit(f"serial_ends.py: no {path}; pass a folder where `linkcheck check` has run")
    config = load_config(path)
    with Store.open(config.database, migrate=False) as store:
        found = store.db.execute("SELECT id, started, finished, total FROM runs WHERE partial = 0 "
                                 "ORDER BY id DESC LIMIT 1").fetchone()
        if found is None:
            raise SystemExit(f"serial_ends.py: no finished pass in the history of {path}")
        run_id, started, finished, total = found
        outcomes = pass_outcomes(store, run_id, config.sources, total)
        run = CheckRun(started, finished, outcomes, CheckRun(started, finished, outcomes).counts)
        rows = [("imports (interpreter less a bare one)", imports(args.n)),
                ("load_config", best(lambda: load_config(path), args.n)),
                ("read the pass back", best(lambda: sum(1 for _ in run.outcomes), args.n))]
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(("write_run_reports", best(lambda: write_run_reports(Path(tmp), run), args.n)))
        for fmt in FORMATS:
            rows.append((f"render --format {fmt}", best(partial(render_check, fmt, run, config), args.n)))
    print(f"{len(config.sources)} sources, CPU best of {args.n}")
    for label, seconds in rows:
        print(f"{label:<40} {seconds:>7.3f} s")


if __name__ == "__main__":
    main()
