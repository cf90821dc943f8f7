"""Baselines: adopt linkcheck on an existing corpus without a red build on day one.
`--write-baseline` records each source's current problems; `--baseline` then fails only on
problems that are not recorded (a recorded source that breaks in a new way still fails)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from .errors import UsageError
from .fsutil import atomic_write
from .models import CheckRun, SourceOutcome, Status, Tally
from .outcomes import Mapped

SCHEMA = "linkcheck.baseline/1"


def write_baseline(path: Path, run: CheckRun) -> None:
    problems = {o.source.id: sorted(o.problems) for o in run.outcomes if o.status is not Status.OK}
    atomic_write(path, json.dumps({"schema": SCHEMA, "created": run.finished, "problems": problems},
                                  indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def read_baseline(path: Path) -> dict[str, frozenset[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--baseline: {path} does not exist (create it with --write-baseline)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--baseline: {path} is not a readable baseline ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("problems"), dict):
        raise UsageError(f"--baseline: {path} is not a {SCHEMA} file")
    return {str(k): frozenset(map(str, v)) for k, v in data["problems"].items() if isinstance(v, list)}


def apply_baseline(run: CheckRun, baseline: dict[str, frozenset[str]]) -> CheckRun:
    """Broken sources whose every problem is in the baseline become warnings, marked as known."""
    def known(o: SourceOutcome) -> SourceOutcome:
        if o.status is Status.BROKEN and set(o.problems) <= baseline.get(o.source.id, frozenset()):
            return replace(o, status=Status.WARNING, message=f"known problem (in the baseline): {o.message}")
        return o

    # A view, not a copy: the pass's outcomes stay in history, read back (and counted once) here.
    outcomes = Mapped(run.outcomes, known)
    return replace(run, outcomes=outcomes, tally=Tally.of(outcomes), report=None)
