"""Effect sizes and the binning they need: pure numpy/scipy, no I/O.

Every convention here is written in ``docs/monitoring.md`` ("Statistics"); change both
together.

- **Bins of a numeric column**: the reference's quantiles at ``k / bins`` (``k = 1 ..
  bins-1``, the inverted-CDF quantile: the ``ceil(k n / bins)``-th smallest value), repeated
  edges dropped; the bins are right-closed, ``(-inf, e1], (e1, e2], ..., (e_last, +inf)``,
  so every current value falls in one. A column with few distinct values gets fewer bins.
- **Proportions** are counts divided by the non-missing count of the side.
- **PSI** ``sum((c - r) * ln(c / r))``, natural log, an empty bin's proportion replaced by
  :data:`EPSILON` (no renormalisation).
- **Jensen-Shannon distance**: ``scipy.spatial.distance.jensenshannon`` with ``base=2``, in
  ``[0, 1]``, on the raw proportions (it needs no epsilon).
- **Normed Wasserstein**: the Wasserstein-1 distance between the two samples (the area
  between their empirical CDFs) divided by the reference's standard deviation (``ddof=0``);
  ``+inf`` when the reference is constant and the current values are not.
- **Cramér's V**: ``scipy.stats.contingency.association(method="cramer")`` on the
  2 x K table of counts (no continuity correction).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

EPSILON = 1e-4
"""The proportion an empty bin gets in PSI (never in Jensen-Shannon)."""
BINS = 10
"""Quantile bins of a numeric column for PSI and Jensen-Shannon."""

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


def quantile_edges(sorted_reference: FloatArray, bins: int = BINS) -> FloatArray:
    """The inner bin edges of a numeric column: the reference's quantiles at ``k / bins``
    (inverted CDF), without repeats. ``sorted_reference`` is sorted and finite."""
    n = len(sorted_reference)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    ks = np.arange(1, bins, dtype=np.int64)
    positions = -((-ks * n) // bins) - 1  # ceil(k n / bins) - 1
    return np.unique(sorted_reference[positions])


def binned_counts(sorted_values: FloatArray, edges: FloatArray) -> IntArray:
    """Counts of ``sorted_values`` in the right-closed bins that ``edges`` bound."""
    below = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], below, [len(sorted_values)]))).astype(np.int64)


def proportions(counts: np.ndarray[Any, Any]) -> FloatArray:
    total = counts.sum()
    if total == 0:
        return np.zeros(len(counts), dtype=np.float64)
    return np.asarray(counts, dtype=np.float64) / float(total)


def psi(reference: FloatArray, current: FloatArray, epsilon: float = EPSILON) -> float:
    """The population stability index of two proportion vectors over the same bins."""
    r = np.where(reference > 0, reference, epsilon)
    c = np.where(current > 0, current, epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(reference: FloatArray, current: FloatArray) -> float:
    """The Jensen-Shannon distance (base 2, in [0, 1]) of two proportion vectors."""
    from scipy.spatial.distance import jensenshannon

    if not reference.sum() or not current.sum():
        return math.nan
    return float(jensenshannon(reference, current, base=2))


def merge_sorted(sorted_x: FloatArray, sorted_y: FloatArray) -> tuple[IntArray, FloatArray]:
    """The stable merge of two sorted samples: the order that sorts their concatenation (a
    stable argsort of two sorted runs is a merge) and the merged values."""
    both = np.concatenate((sorted_x, sorted_y))
    order = np.argsort(both, kind="stable")
    return order, both[order]


def wasserstein_merged(order: IntArray, merged: FloatArray, n_x: int) -> float:
    """The Wasserstein-1 distance from :func:`merge_sorted`'s result: the running count of
    each side's values along the merge is that side's CDF (within a run of equal values the
    step is zero, so ties do not matter)."""
    n_y = len(merged) - n_x
    if not n_x or not n_y:
        return math.nan
    from_x = np.cumsum(order < n_x)[:-1]
    seen = np.arange(1, len(merged), dtype=np.int64)
    gap = np.abs(from_x / n_x - (seen - from_x) / n_y)
    return float(np.sum(gap * np.diff(merged)))  # not np.dot: no BLAS threads for this


def wasserstein(sorted_x: FloatArray, sorted_y: FloatArray) -> float:
    """The Wasserstein-1 distance of two sorted samples: the integral of ``|F_x - F_y|``.

    The same quantity as ``scipy.stats.wasserstein_distance(x, y)`` (a property test holds
    them equal), from samples already sorted for the KS test, through one merge instead of
    scipy's three argsorts of unsorted data.
    """
    if not len(sorted_x) or not len(sorted_y):
        return math.nan
    order, merged = merge_sorted(sorted_x, sorted_y)
    return wasserstein_merged(order, merged, len(sorted_x))


def pooled_ranks(
    order: IntArray, merged: FloatArray, n_x: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Each value's dense rank among the pooled values (equal values share one), for each
    side, from :func:`merge_sorted`'s result. The two-sample KS statistic and its p-value
    depend on the order of the values only, so the ranks give the values' exact test; as
    small integers they make scipy's sorts and searches cheaper."""
    kind = np.int32 if len(merged) < 2**31 - 1 else np.int64
    steps = np.empty(len(merged), dtype=kind)
    steps[:1] = 0
    np.not_equal(merged[1:], merged[:-1], out=steps[1:], casting="unsafe")
    ranks = np.empty(len(merged), dtype=kind)
    ranks[order] = np.cumsum(steps, dtype=kind)
    return ranks[:n_x], ranks[n_x:]


def normed_wasserstein(distance: float, reference_std: float) -> float:
    """The Wasserstein distance in units of the reference's standard deviation."""
    if math.isnan(distance):
        return math.nan
    if reference_std > 0:
        return distance / reference_std
    return 0.0 if distance == 0 else math.inf


def cramers_v(table: IntArray) -> float:
    """Cramér's V of a 2 x K table of counts (0 when a side or all categories are one)."""
    from scipy.stats.contingency import association

    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0
    return float(association(table, method="cramer", correction=False))


__all__ = [
    "BINS",
    "EPSILON",
    "binned_counts",
    "cramers_v",
    "jensen_shannon",
    "merge_sorted",
    "normed_wasserstein",
    "pooled_ranks",
    "proportions",
    "psi",
    "quantile_edges",
    "wasserstein",
    "wasserstein_merged",
]
