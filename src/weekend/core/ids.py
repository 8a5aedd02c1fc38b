"""Identifiers and clocks."""

from __future__ import annotations

import time
import uuid


def new_id() -> str:
    """A new random identifier: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def now_ms() -> int:
    """Milliseconds since the Unix epoch (UTC)."""
    return time.time_ns() // 1_000_000


def now_us() -> int:
    """Microseconds since the Unix epoch (UTC)."""
    return time.time_ns() // 1_000
