"""Durations as people write them in configs and flags: `90s`, `15m`, `6h`, `7d`."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises ValueError with a readable message."""
    m = _RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration (write e.g. 90s, 15m, 6h or 7d)")
    return float(m.group(1)) * _UNITS[m.group(2)]
