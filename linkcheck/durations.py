"""Time as linkcheck writes and reads it: durations (`90s`, `15m`, `6h`, `7d`) and UTC
timestamps (`2026-11-27T08:00:09Z`, the form of every time in history and reports)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def parse_duration(text: str | float) -> float:
    """Seconds in `text`: a number of seconds (`20`, `2.5`, `"20"`) or a number with a unit
    (`90s`, `15m`, `6h`, `7d`, `2w`). Raises ValueError with a readable message."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"{text!r} is not a duration (a number of seconds must be at least 0)")
        return float(text)
    m = _RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not a duration (write seconds, or e.g. 90s, 15m, 6h or 7d)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime(STAMP)


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC)
