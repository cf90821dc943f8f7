"""Schedule strings → APScheduler 3.x triggers.

`every 6h` is an interval; anything else is a 5-field crontab line. APScheduler 3's
`CronTrigger.from_crontab` reads day-of-week 0 as *Monday*, unlike cron (0 and 7 are Sunday),
so numeric days are translated to names before they reach it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .durations import parse_duration

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_days(field: str) -> str:
    """Cron's numeric day-of-week (0/7 = Sunday) as names, ranges and lists kept. Numeric
    steps (`*/2`, `1-5/2`) are expanded to cron's days first, then named."""
    def name(m: re.Match[str]) -> str:
        n = int(m.group(0))
        if n > 7:
            raise ValueError(f"day of week {n} is out of range (0-7)")
        return _DAYS[n]

    return ",".join(re.sub(r"\d+", name, _expand_step(part)) for part in field.split(","))


def _expand_step(part: str) -> str:
    """`*/2` → `0,2,4,6`; `1-5/2` → `1,3,5`; `3/2` → `3,5`; anything else unchanged."""
    m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)/(\d+)", part)
    if not m:
        return part
    step = int(m.group(4))
    if step < 1:
        raise ValueError(f"step {step} in {part!r} must be 1 or more")
    first = 0 if m.group(1) == "*" else int(m.group(2))
    last = 6 if m.group(1) == "*" else int(m.group(3) or 7)
    days = range(first, last + 1, step)
    if not days:
        raise ValueError(f"{part!r} names no day of the week")
    return ",".join(str(d) for d in days)


def interval_seconds(spec: str) -> float | None:
    """The period of an `every DURATION` schedule, or None for a crontab line."""
    m = re.match(r"^\s*every\s+(.+)$", spec)
    return parse_duration(m.group(1)) if m else None


def parse_trigger(spec: str, timezone: str) -> BaseTrigger:
    """A trigger for `spec`; raises ValueError naming what is wrong."""
    seconds = interval_seconds(spec)
    if seconds is not None:
        if seconds <= 0:
            raise ValueError("the interval must be longer than 0")
        return IntervalTrigger(seconds=seconds, timezone=timezone)
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"{spec!r} is neither 'every DURATION' nor a 5-field crontab line")
    minute, hour, day, month, dow = fields
    try:
        return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_cron_days(dow), timezone=timezone)
    except (ValueError, LookupError) as exc:
        raise ValueError(f"{spec!r} is not a valid crontab line ({exc})") from None


def next_after(spec: str, timezone: str, when: datetime) -> datetime:
    """When a pass (or digest) is due after one at `when`. Interval triggers count from their
    own start, so an interval is added by hand."""
    seconds = interval_seconds(spec)
    if seconds is not None:
        return when + timedelta(seconds=seconds)
    fire: datetime | None = parse_trigger(spec, timezone).get_next_fire_time(None, when + timedelta(seconds=1))
    assert fire is not None  # a valid crontab line always fires again
    return fire
