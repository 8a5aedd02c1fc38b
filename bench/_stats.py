"""Small statistics and table helpers shared by the benchmarks (standard library only)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def median(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, p10, p90, min, max and count of a sample."""
    return {
        "median": median(values),
        "p10": percentile(values, 10),
        "p90": percentile(values, 90),
        "min": min(values) if values else math.nan,
        "max": max(values) if values else math.nan,
        "n": float(len(values)),
    }


def timed_calls(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn``."""
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def fmt_num(value: float, unit: str = "") -> str:
    """A number with thousands separators and about 3 significant digits."""
    if value is None or math.isnan(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 100:
        text = f"{value:,.0f}"
    elif magnitude >= 10:
        text = f"{value:,.1f}"
    elif magnitude >= 1:
        text = f"{value:,.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def fmt_ms(seconds: float) -> str:
    return fmt_num(seconds * 1000, "ms")


def ratio(ours: float, theirs: float, *, higher_is_better: bool) -> float:
    """How many times better ours is than theirs (> 1 means ours is better)."""
    if ours is None or theirs is None or math.isnan(ours) or math.isnan(theirs):
        return math.nan
    if higher_is_better:
        return ours / theirs if theirs else math.inf
    return theirs / ours if ours else math.inf


@dataclass(frozen=True)
class Row:
    """One line of a comparison table."""

    metric: str
    ours: str
    theirs: str
    ratio: float
    target: float | None = None  # the ratio to reach; None: informative only

    @property
    def verdict(self) -> str:
        if self.target is None or math.isnan(self.ratio):
            return ""
        return "PASS" if self.ratio >= self.target else "MISS"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with aligned columns (first column left, the rest right)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def comparison_table(rows: Sequence[Row], ours: str = "weekend", theirs: str = "peer") -> str:
    """The standard table: metric, ours, theirs, ratio, target, verdict."""
    body = [
        [
            r.metric,
            r.ours,
            r.theirs,
            "n/a" if math.isnan(r.ratio) else f"{r.ratio:,.1f}x",
            "" if r.target is None else f">= {r.target:g}x",
            r.verdict,
        ]
        for r in rows
    ]
    return render_table(["metric", ours, theirs, "ratio", "target", ""], body)
