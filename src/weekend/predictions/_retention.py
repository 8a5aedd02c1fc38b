"""Retention: the cutoff of ``prune(older_than=...)`` as microseconds since the epoch."""

from __future__ import annotations

import datetime as dt
import math
import re

from weekend.core.errors import InvalidValueError
from weekend.predictions._records import ts_us

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}


def duration_seconds(value: object, what: str) -> float:
    """Seconds of a duration given as a timedelta, seconds, or text like ``"90d"``,
    ``"12h"`` or ``"1w2d"`` (units s, m, h, d, w)."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        text = value.strip().lower()
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise InvalidValueError(
                f"{what} must be a duration like 12h, 90d or 2w (units s, m, h, d, w), a "
                f"timedelta or a datetime, got {value!r:.60}",
                field=what,
            )
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise InvalidValueError(
            f"{what} must be a duration (a timedelta, seconds, or text like '90d') or a "
            f"datetime, got {type(value).__name__} {value!r:.60}",
            field=what,
        )
    if not (math.isfinite(seconds) and seconds >= 0):
        raise InvalidValueError(
            f"{what} must be a finite, non-negative duration, got {value!r:.60}", field=what
        )
    return seconds


def older_than_us(value: object, now: int) -> int:
    """The cutoff of ``older_than``: ``now`` minus a duration, or a datetime itself."""
    if isinstance(value, dt.datetime):
        return ts_us(value, "older_than")
    return now - int(duration_seconds(value, "older_than") * 1_000_000)


__all__ = ["duration_seconds", "older_than_us"]
