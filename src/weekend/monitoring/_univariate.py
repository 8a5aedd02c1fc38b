"""One column, reference against current: the test, its p-value, and the effect sizes.

- numeric: two-sample Kolmogorov-Smirnov (``scipy.stats.ks_2samp``, two-sided, as its
  ``method="auto"``: exact p-values up to 10,000 values a side, asymptotic beyond or when
  the exact computation does not converge), given each value's rank among the pooled values
  (the test depends on their order only: the same statistic and p-value); effect
  sizes normed Wasserstein, Jensen-Shannon distance and PSI over the reference's quantile bins;
- categorical: Pearson's chi-square on the 2 x K table of counts
  (``scipy.stats.chi2_contingency``, no continuity correction) after pooling the categories
  whose smallest expected count is under 5 into one; effect sizes Jensen-Shannon distance,
  PSI and Cramér's V over every category (unpooled);
- binary: the two-sided two-proportion z-test with the pooled proportion (its square is the
  uncorrected chi-square of the 2 x 2 table); effect sizes as categorical, plus the
  difference of the positive share.

Pure numpy/scipy; the conventions are in ``docs/monitoring.md``.
"""

from __future__ import annotations

import itertools
import math
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from weekend.core.errors import InvalidValueError
from weekend.monitoring._columns import CategoryValues, NumericValues
from weekend.monitoring._effects import (
    FloatArray,
    IntArray,
    binned_counts,
    cramers_v,
    jensen_shannon,
    merge_sorted,
    normed_wasserstein,
    pooled_ranks,
    proportions,
    psi,
    quantile_edges,
    wasserstein_merged,
)

MIN_EXPECTED = 5.0
"""A category whose smallest expected count is below this is pooled for the chi-square test."""
MAX_SHOWN = 50
"""A distribution shows at most this many categories; the rest are summed as ``(other)``."""
EXACT_KS = 10_000
"""scipy's ``method="auto"`` limit: exact KS p-values while neither side has more values."""
_QUIET = threading.Lock()  # one warnings filter change at a time (they are process-wide)


@dataclass(frozen=True)
class Distribution:
    """Both sides' proportions over the same bins or categories: what a report plots.

    ``labels`` name the bins (``"(-inf, 0.125]"``) or categories; ``edges`` are a numeric
    column's inner bin edges (None for categories). A column with more than
    :data:`MAX_SHOWN` categories shows the most frequent ones and ``(other)``.
    """

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    edges: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "reference": list(self.reference),
            "current": list(self.current),
            "edges": None if self.edges is None else list(self.edges),
        }


@dataclass(frozen=True)
class Tested:
    """What one column's comparison found, before the decision across columns."""

    test: str
    statistic: float
    p_value: float
    effects: Mapping[str, float]
    distribution: Distribution
    note: str = ""


@dataclass(frozen=True)
class NumericReference:
    """A numeric reference prepared once: sorted values, spread, bins and their shares."""

    values: NumericValues
    std: float
    edges: FloatArray
    shares: FloatArray

    @classmethod
    def of(cls, values: NumericValues, bins: int) -> NumericReference:
        edges = quantile_edges(values.sorted, bins)
        std = float(np.std(values.sorted)) if values.n else math.nan
        shares = proportions(binned_counts(values.sorted, edges))
        return cls(values, std, edges, shares)


def _bin_labels(edges: FloatArray) -> tuple[str, ...]:
    bounds = ["-inf", *(f"{e:.6g}" for e in edges), "inf"]
    return tuple(f"({a}, {b}]" for a, b in itertools.pairwise(bounds))


def _untested(note: str, distribution: Distribution, effects: Mapping[str, float]) -> Tested:
    return Tested("", math.nan, math.nan, effects, distribution, note)


def _empty_note(n_reference: int, n_current: int) -> str:
    if not n_reference and not n_current:
        return "no values on either side"
    return "no reference values" if not n_reference else "no current values"


def _ks(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> tuple[float, float]:
    """scipy's two-sample KS test (``method="auto"``); when its exact p-value does not
    converge it falls back to the asymptotic one, without the warning it would print."""
    from scipy.stats import ks_2samp

    if max(len(ref), len(cur)) > EXACT_KS:
        found = ks_2samp(ref, cur, method="asymp")
    else:
        with _QUIET, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "ks_2samp: Exact calculation", RuntimeWarning)
            found = ks_2samp(ref, cur, method="exact")
    return float(found.statistic), float(found.pvalue)


def numeric(reference: NumericReference, current: NumericValues) -> Tested:
    ref, cur = reference.values.sorted, current.sorted
    shares = proportions(binned_counts(cur, reference.edges))
    distribution = Distribution(
        _bin_labels(reference.edges),
        tuple(reference.shares.tolist()),
        tuple(shares.tolist()),
        tuple(reference.edges.tolist()),
    )
    keys = ("wasserstein", "jensen_shannon", "psi")
    if not len(ref) or not len(cur):
        note = _empty_note(len(ref), len(cur))
        return _untested(note, distribution, dict.fromkeys(keys, math.nan))
    order, merged = merge_sorted(ref, cur)
    distance = wasserstein_merged(order, merged, len(ref))
    effects = {
        "wasserstein": normed_wasserstein(distance, reference.std),
        "jensen_shannon": jensen_shannon(reference.shares, shares),
        "psi": psi(reference.shares, shares),
    }
    statistic, p_value = _ks(*pooled_ranks(order, merged, len(ref)))  # the values' exact test
    return Tested("ks", statistic, p_value, effects, distribution)


def _table(reference: CategoryValues, current: CategoryValues) -> tuple[list[Any], IntArray]:
    """The categories (most frequent first, over both sides) and the 2 x K table of counts."""
    labels = list(reference.counts)
    labels += [k for k in current.counts if k not in reference.counts]
    table = np.array(
        [
            [reference.counts.get(k, 0) for k in labels],
            [current.counts.get(k, 0) for k in labels],
        ],
        dtype=np.int64,
    ).reshape(2, len(labels))
    order = np.argsort(-table.sum(axis=0), kind="stable")
    return [labels[i] for i in order], table[:, order]


def pooled(table: IntArray, minimum: float = MIN_EXPECTED) -> IntArray:
    """The table with the categories whose smallest expected count is under ``minimum``
    summed into one column (itself merged into the smallest other column when it is still
    under ``minimum`` and another column exists)."""
    sides = table.sum(axis=1)
    total = int(sides.sum())
    if not total:
        return table
    least = table.sum(axis=0) * (sides.min() / total)
    rare = least < minimum
    if not rare.any():
        return table
    kept, pool = table[:, ~rare], table[:, rare].sum(axis=1, keepdims=True)
    if kept.shape[1] and pool.sum() * (sides.min() / total) < minimum:
        smallest = int(np.argmin(kept.sum(axis=0)))
        kept = kept.copy()
        kept[:, smallest] += pool[:, 0]
        return kept
    return np.hstack((kept, pool))


def _shown(labels: list[Any], table: IntArray) -> Distribution:
    ref, cur = proportions(table[0]), proportions(table[1])
    names = [str(label) for label in labels]
    if len(names) > MAX_SHOWN:
        keep = MAX_SHOWN - 1
        names = [*names[:keep], "(other)"]
        ref = np.append(ref[:keep], ref[keep:].sum())
        cur = np.append(cur[:keep], cur[keep:].sum())
    return Distribution(tuple(names), tuple(ref.tolist()), tuple(cur.tolist()))


def _category_effects(table: IntArray) -> dict[str, float]:
    ref, cur = proportions(table[0]), proportions(table[1])
    return {
        "jensen_shannon": jensen_shannon(ref, cur),
        "psi": psi(ref, cur),
        "cramers_v": cramers_v(table),
    }


def categorical(reference: CategoryValues, current: CategoryValues) -> Tested:
    from scipy.stats import chi2_contingency

    labels, table = _table(reference, current)
    distribution = _shown(labels, table)
    if not reference.n or not current.n:
        keys = ("jensen_shannon", "psi", "cramers_v")
        note = _empty_note(reference.n, current.n)
        return _untested(note, distribution, dict.fromkeys(keys, math.nan))
    effects = _category_effects(table)
    counts = pooled(table)
    if counts.shape[1] < 2:  # one category on both sides: nothing can differ
        return Tested("chi2", 0.0, 1.0, effects, distribution)
    found = chi2_contingency(counts, correction=False)
    return Tested("chi2", float(found.statistic), float(found.pvalue), effects, distribution)


def _positive(labels: list[Any], name: str) -> Any:
    if len(labels) > 2:
        shown = ", ".join(repr(label) for label in labels[:5])
        raise InvalidValueError(
            f"column {name!r} is binary but holds {len(labels)} distinct values ({shown}); "
            f"pass kinds={{{name!r}: 'categorical'}}",
            field=name,
        )
    if any(label is True for label in labels):
        return True
    return max(labels, key=lambda label: (str(type(label)), label))


def binary(reference: CategoryValues, current: CategoryValues, name: str) -> Tested:
    from scipy.stats import norm

    labels, table = _table(reference, current)
    distribution = _shown(labels, table)
    keys = ("jensen_shannon", "psi", "cramers_v", "difference")
    if not labels or not reference.n or not current.n:
        note = _empty_note(reference.n, current.n)
        return _untested(note, distribution, dict.fromkeys(keys, math.nan))
    column = labels.index(_positive(labels, name))
    n1, n2 = int(table[0].sum()), int(table[1].sum())
    k1, k2 = int(table[0, column]), int(table[1, column])
    effects = {**_category_effects(table), "difference": k2 / n2 - k1 / n1}
    share = (k1 + k2) / (n1 + n2)
    spread = math.sqrt(share * (1 - share) * (1 / n1 + 1 / n2))
    z = 0.0 if spread == 0 else (k2 / n2 - k1 / n1) / spread
    return Tested("z", z, float(2 * norm.sf(abs(z))), effects, distribution)


__all__ = [
    "MAX_SHOWN",
    "MIN_EXPECTED",
    "Distribution",
    "NumericReference",
    "Tested",
    "binary",
    "categorical",
    "numeric",
    "pooled",
]
