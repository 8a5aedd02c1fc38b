"""Mergeable per-column summaries: quantile sketch, aligned histogram, and per-kind stats.

Each summary of two disjoint parts merges into the summary of their union.

- :class:`LogSketch` (DDSketch-style, relative accuracy ALPHA = 1%): a value x > 0 falls in
  bucket ceil(log_gamma(x)), gamma = (1 + ALPHA) / (1 - ALPHA); negative values likewise by
  magnitude; zeros apart. The estimate of the q-quantile is within ``ALPHA * |x|`` of x, the
  order statistic of rank floor(q * (n - 1)) (numpy's ``method="lower"``), and is clamped to
  the exact [min, max]. At most MAX_BUCKETS buckets per sign are kept: values more than
  gamma**MAX_BUCKETS (about 6e17) times smaller in magnitude than the largest fall in the
  lowest kept bucket, so for them the bound is that absolute magnitude instead. Buckets add.
- :class:`Histogram`: bins of width ``2**e`` aligned at multiples of the width, ``e`` being
  the smallest exponent (at least a floor that grows with the largest magnitude, and 0 for
  integers) for which at most ``bins`` bins cover [min, max]. Coarsening by powers of two
  is exact and that choice is monotone in the data, so the merged histogram is *identical*
  to the histogram of the union, and its counts are exact. Dividing by a power of two is
  exact in floating point (a quotient too small to represent is handled by :func:`bin_of`
  and :func:`bin_sql` alike), so DuckDB, numpy and Python agree on every bin. ``bins`` must
  be at least 2: data on both sides of 0 never fits one aligned bin. Data spanning most of
  the float range may need up to 4 bins, as the width cannot exceed 2**1023.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from weekend.core.errors import InvalidValueError
from weekend.data._schema import jsonable, parse_scalar

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
MAX_BUCKETS = 2048
MAX_EXPONENT = 1023  # 2**1024 overflows: data spanning most of the float range gets <= 4 bins
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
"""Multiply ln|x| by this and take the ceiling to get the bucket key of x."""


def _collapse(buckets: Mapping[int, int]) -> dict[int, int]:
    """Fold the lowest-magnitude buckets so that at most MAX_BUCKETS remain."""
    if not buckets:
        return {}
    lowest = max(buckets) - MAX_BUCKETS + 1
    out: dict[int, int] = {}
    for key in sorted(buckets):
        if buckets[key]:
            out[max(key, lowest)] = out.get(max(key, lowest), 0) + buckets[key]
    return out


def _dense(buckets: Mapping[int, int]) -> dict[str, Any]:
    if not buckets:
        return {"offset": 0, "counts": []}
    low, high = min(buckets), max(buckets)
    return {"offset": low, "counts": [buckets.get(k, 0) for k in range(low, high + 1)]}


def _sparse(data: Mapping[str, Any]) -> dict[int, int]:
    offset = int(data["offset"])
    return {offset + i: int(c) for i, c in enumerate(data["counts"]) if c}


@dataclass(frozen=True)
class LogSketch:
    """Counts of values per log bucket: negative and positive magnitudes, and exact zeros."""

    positive: Mapping[int, int]
    negative: Mapping[int, int]
    zero: int = 0

    @property
    def count(self) -> int:
        return sum(self.positive.values()) + sum(self.negative.values()) + self.zero

    @classmethod
    def from_buckets(
        cls, positive: Mapping[int, int] | None, negative: Mapping[int, int] | None, zero: int
    ) -> LogSketch:
        """A sketch from raw bucket counts (as DuckDB's ``histogram`` returns them)."""
        return cls(_collapse(positive or {}), _collapse(negative or {}), int(zero))

    def merge(self, other: LogSketch) -> LogSketch:
        return LogSketch(
            _collapse(Counter(self.positive) + Counter(other.positive)),
            _collapse(Counter(self.negative) + Counter(other.negative)),
            self.zero + other.zero,
        )

    def quantile(self, q: float, low: float, high: float) -> float | None:
        """The q-quantile estimate, clamped to the exact [low, high]."""
        n = self.count
        if n == 0:
            return None
        rank, seen = math.floor(q * (n - 1)), 0
        # walk the buckets in value order; only the bucket reached is turned into a value
        for key, count in sorted(self.negative.items(), reverse=True):
            seen += count
            if seen > rank:
                return min(max(-_center(key), low), high)
        seen += self.zero
        if seen > rank:
            return min(max(0.0, low), high)
        for key, count in sorted(self.positive.items()):
            seen += count
            if seen > rank:
                return min(max(_center(key), low), high)
        return high

    def to_dict(self) -> dict[str, Any]:
        return {
            "zero": self.zero,
            "positive": _dense(self.positive),
            "negative": _dense(self.negative),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogSketch:
        return cls(_sparse(data["positive"]), _sparse(data["negative"]), int(data["zero"]))


def _center(key: int) -> float:
    try:  # 2 * gamma**key / (gamma + 1), in log space: gamma**key alone can overflow
        return math.exp(key * math.log(GAMMA) + math.log(2.0 / (GAMMA + 1.0)))
    except OverflowError:
        return math.inf  # beyond the largest float: the caller clamps it to the maximum


# ---------------------------------------------------------------- power-of-two histogram


def _floor_exponent(low: float, high: float, integer: bool) -> int:
    """The smallest bin exponent allowed for values in [low, high]; grows with the magnitude."""
    largest = max(abs(low), abs(high))
    exponent = -1070 if largest == 0 else math.frexp(largest)[1] - 48
    return max(exponent, 0 if integer else -1070)


def bin_of(value: float, exponent: int) -> int:
    """floor(value / 2**exponent), exact: a negative value whose quotient underflows is in -1."""
    index = math.floor(math.ldexp(value, -exponent))
    return -1 if index == 0 and value < 0 else index


def bin_sql(value: str, width: str) -> str:
    """:func:`bin_of` in DuckDB SQL, for a DOUBLE expression and a width parameter."""
    return (
        f"CAST(CASE WHEN {value} < 0 AND {value} / {width} > -1 THEN -1 "
        f"ELSE floor({value} / {width}) END AS BIGINT)"
    )


def _n_bins(low: float, high: float, exponent: int) -> int:
    return bin_of(high, exponent) - bin_of(low, exponent) + 1


def plan_bins(low: float, high: float, bins: int, integer: bool, at_least: int = -1070) -> int:
    """The smallest exponent >= the floor (and ``at_least``) that covers [low, high] in <= bins."""
    exponent = max(_floor_exponent(low, high, integer), at_least)
    span = high - low
    if span > 0 and math.isfinite(span):
        exponent = max(exponent, math.floor(math.log2(span / bins)) - 1)
    while _n_bins(low, high, exponent) > bins and exponent < MAX_EXPONENT:
        exponent += 1
    return exponent


@dataclass(frozen=True)
class Histogram:
    """Counts in bins of width ``2**exponent``; bin i spans [(start+i)*w, (start+i+1)*w)."""

    exponent: int
    start: int
    counts: tuple[int, ...]

    @property
    def width(self) -> float:
        return math.ldexp(1.0, self.exponent)

    @property
    def edges(self) -> list[float]:
        return [
            math.ldexp(float(self.start + i), self.exponent) for i in range(len(self.counts) + 1)
        ]

    @classmethod
    def from_bins(cls, exponent: int, bins: Mapping[int, int]) -> Histogram:
        start, stop = min(bins), max(bins)
        return cls(exponent, start, tuple(bins.get(i, 0) for i in range(start, stop + 1)))

    def merge(
        self, other: Histogram, bins: int, low: float, high: float, integer: bool
    ) -> Histogram:
        """Combine two histograms of data within [low, high] into at most ``bins`` bins."""
        exponent = plan_bins(low, high, bins, integer, max(self.exponent, other.exponent))
        out: Counter[int] = Counter()
        for part in (self, other):
            shift = exponent - part.exponent
            for i, count in enumerate(part.counts):
                out[(part.start + i) >> shift] += count
        first, last = bin_of(low, exponent), bin_of(high, exponent)
        return Histogram(exponent, first, tuple(out.get(i, 0) for i in range(first, last + 1)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "exponent": self.exponent,
            "start": self.start,
            "width": self.width,
            "counts": list(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        return cls(int(data["exponent"]), int(data["start"]), tuple(int(c) for c in data["counts"]))


def merge_histograms(
    a: Histogram | None, b: Histogram | None, bins: int, low: float, high: float, integer: bool
) -> Histogram | None:
    if a is None or b is None:
        return a or b
    return a.merge(b, bins, low, high, integer)


# ---------------------------------------------------------------- per-kind statistics


@dataclass(frozen=True)
class NumericStats:
    """Finite values of a numeric column: moments, sketch and histogram (inf counted apart)."""

    n: int
    n_inf: int
    min: float | None
    max: float | None
    mean: float | None
    m2: float
    sketch: LogSketch
    histogram: Histogram | None

    @property
    def variance(self) -> float | None:
        """Sample variance (ddof=1, as pandas' ``var``)."""
        return self.m2 / (self.n - 1) if self.n > 1 else None

    @property
    def std(self) -> float | None:
        var = self.variance
        return None if var is None else math.sqrt(max(var, 0.0))

    def quantile(self, q: float) -> float | None:
        if self.min is None or self.max is None:
            return None
        return self.sketch.quantile(q, self.min, self.max)

    @property
    def quantiles(self) -> dict[str, float | None]:
        return {f"p{round(q * 100)}": self.quantile(q) for q in QUANTILES}

    def merge(self, other: NumericStats, bins: int, integer: bool) -> NumericStats:
        if self.n == 0 or other.n == 0:
            keep = other if self.n == 0 else self
            return NumericStats(
                keep.n,
                self.n_inf + other.n_inf,
                keep.min,
                keep.max,
                keep.mean,
                keep.m2,
                keep.sketch,
                keep.histogram,
            )
        if self.mean is None or other.mean is None or self.min is None or other.min is None:
            raise AssertionError("n > 0 implies mean, min and max")
        if self.max is None or other.max is None:
            raise AssertionError("n > 0 implies mean, min and max")
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        low, high = min(self.min, other.min), max(self.max, other.max)
        hist = merge_histograms(self.histogram, other.histogram, bins, low, high, integer)
        sketch = self.sketch.merge(other.sketch)
        return NumericStats(n, self.n_inf + other.n_inf, low, high, mean, m2, sketch, hist)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "n_inf": self.n_inf,
            "min": jsonable(self.min),
            "max": jsonable(self.max),
            "mean": self.mean,
            "m2": self.m2,
            "std": self.std,
            "quantiles": self.quantiles,
            "sketch": self.sketch.to_dict(),
            "histogram": None if self.histogram is None else self.histogram.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericStats:
        hist = data.get("histogram")
        return cls(
            n=int(data["n"]),
            n_inf=int(data["n_inf"]),
            min=data["min"],
            max=data["max"],
            mean=data["mean"],
            m2=float(data["m2"]),
            sketch=LogSketch.from_dict(data["sketch"]),
            histogram=None if hist is None else Histogram.from_dict(hist),
        )


@dataclass(frozen=True)
class CategoryStats:
    """The ``top_k`` most frequent values (count desc, value asc) and the count of the rest."""

    top: tuple[tuple[str, int], ...]
    other: int
    n_distinct: int
    complete: bool
    distinct_exact: bool

    @property
    def total(self) -> int:
        return sum(c for _, c in self.top) + self.other

    @property
    def frequencies(self) -> dict[str, int]:
        return dict(self.top)

    def merge(self, other: CategoryStats, top_k: int) -> CategoryStats:
        counts = Counter(dict(self.top)) + Counter(dict(other.top))
        both = self.complete and other.complete
        top = rank(counts, top_k)
        kept = sum(c for _, c in top)
        distinct = len(counts) if both else max(self.n_distinct, other.n_distinct, len(counts))
        return CategoryStats(
            top, self.total + other.total - kept, distinct, both and len(counts) <= top_k, both
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "top": [[value, count] for value, count in self.top],
            "other": self.other,
            "n_distinct": self.n_distinct,
            "complete": self.complete,
            "distinct_exact": self.distinct_exact,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoryStats:
        return cls(
            top=tuple((str(v), int(c)) for v, c in data["top"]),
            other=int(data["other"]),
            n_distinct=int(data["n_distinct"]),
            complete=bool(data["complete"]),
            distinct_exact=bool(data["distinct_exact"]),
        )


def rank(counts: Mapping[str, int], top_k: int) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top_k])


@dataclass(frozen=True)
class TemporalStats:
    """Range and histogram of a timestamp (epoch microseconds) or date (epoch days) column."""

    min: datetime | date | None
    max: datetime | date | None
    epoch_min: int | None
    epoch_max: int | None
    histogram: Histogram | None

    @property
    def unit(self) -> str:
        return "day" if isinstance(self.min, date) and not isinstance(self.min, datetime) else "us"

    def merge(self, other: TemporalStats, bins: int) -> TemporalStats:
        a_lo, a_hi, b_lo, b_hi = self.epoch_min, self.epoch_max, other.epoch_min, other.epoch_max
        if a_lo is None or a_hi is None:
            return other
        if b_lo is None or b_hi is None:
            return self
        low, high = min(a_lo, b_lo), max(a_hi, b_hi)
        first = self.min if a_lo <= b_lo else other.min
        last = self.max if a_hi >= b_hi else other.max
        hist = merge_histograms(self.histogram, other.histogram, bins, low, high, True)
        return TemporalStats(first, last, low, high, hist)

    def to_dict(self) -> dict[str, Any]:
        return {
            "min": jsonable(self.min),
            "max": jsonable(self.max),
            "epoch_min": self.epoch_min,
            "epoch_max": self.epoch_max,
            "histogram": None if self.histogram is None else self.histogram.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], logical: str) -> TemporalStats:
        hist = data.get("histogram")
        low, high = parse_scalar(logical, data["min"]), parse_scalar(logical, data["max"])
        if isinstance(low, int | float) or isinstance(high, int | float):
            raise InvalidValueError(f"temporal min/max must be ISO text, got {low!r}, {high!r}")
        return cls(
            low,
            high,
            data["epoch_min"],
            data["epoch_max"],
            None if hist is None else Histogram.from_dict(hist),
        )
