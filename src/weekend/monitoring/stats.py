"""Drift statistics: per-column tests, effect sizes and the decision rule. No I/O.

Pure numpy/scipy, so that the batch comparison (``ws.monitor.compare``), the windows over the
prediction log and the benchmark run the very same code::

    from weekend.monitoring.stats import compare_columns

    result = compare_columns(
        {"distance": ref_distance, "carrier": ref_carrier},
        {"distance": cur_distance, "carrier": cur_carrier},
        kinds={"distance": "numeric", "carrier": "categorical"},
    )
    result.drifted            # ['distance']
    result["distance"].adjusted_p_value, result["distance"].effects["wasserstein"]

**The decision rule.** A column drifts when its test is significant after the
Benjamini-Hochberg control of the false discovery rate across all the tested columns of the
comparison (``scipy.stats.false_discovery_control``; adjusted p-value <= ``fdr``) AND its
decision effect size reaches a minimum: by default the normed Wasserstein distance >= 0.1
for numeric columns and the Jensen-Shannon distance >= 0.1 for categorical and binary ones
(:data:`DEFAULT_MIN_EFFECT`); ``min_effect={"col": 0.3}`` or ``{"col": ("psi", 0.2)}`` sets
it per column. Large windows then do not alarm on trivial shifts, and many columns do not
give many chances of a false alarm. The tests and the conventions of the effect sizes are in
:mod:`weekend.monitoring._univariate`, :mod:`weekend.monitoring._effects` and
``docs/monitoring.md``.

A reference compared with many windows is prepared once with :func:`prepare_reference`.
:func:`estimate_performance` (label-free performance estimation) lives here too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from weekend.core.errors import InvalidValueError
from weekend.monitoring import _univariate as uni
from weekend.monitoring._columns import (
    KINDS,
    CategoryValues,
    Counts,
    Kind,
    NumericValues,
    category_values,
    check_kind,
    numeric_values,
)
from weekend.monitoring._effects import BINS, EPSILON
from weekend.monitoring._estimate import (
    Estimate,
    MetricEstimate,
    PerformanceEstimator,
    estimate_performance,
)
from weekend.monitoring._reservoir import Reservoir
from weekend.monitoring._univariate import Distribution

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_FDR = 0.05
DEFAULT_MIN_EFFECT: Mapping[Kind, tuple[str, float]] = {
    "numeric": ("wasserstein", 0.1),
    "categorical": ("jensen_shannon", 0.1),
    "binary": ("jensen_shannon", 0.1),
}
"""The effect size each kind decides on, and its minimum."""
EFFECTS: Mapping[Kind, tuple[str, ...]] = {
    "numeric": ("wasserstein", "jensen_shannon", "psi"),
    "categorical": ("jensen_shannon", "psi", "cramers_v"),
    "binary": ("jensen_shannon", "psi", "cramers_v", "difference"),
}
"""The effect sizes reported for each kind (any of them can be the decision's)."""


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class ColumnDrift:
    """One column's comparison: test, p-values, effect sizes and the decision.

    ``test`` is ``ks``, ``chi2`` or ``z`` (empty when the column could not be tested: no
    values on a side, said in ``note``); ``adjusted_p_value`` is the Benjamini-Hochberg
    adjusted one; ``effect`` names the effect size the decision reads and ``min_effect`` its
    minimum; ``significant`` is ``adjusted_p_value <= fdr``; ``drifted`` is significant and
    the effect at least its minimum.
    """

    column: str
    kind: Kind
    test: str
    statistic: float
    p_value: float
    adjusted_p_value: float
    effects: Mapping[str, float]
    effect: str
    min_effect: float
    significant: bool
    drifted: bool
    n_reference: int
    n_current: int
    missing_reference: int
    missing_current: int
    distribution: Distribution
    note: str = ""

    @property
    def effect_size(self) -> float:
        """The value of the decision's effect size."""
        return self.effects[self.effect]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN and infinities become None)."""
        return {
            "column": self.column,
            "kind": self.kind,
            "test": self.test,
            "statistic": _number(self.statistic),
            "p_value": _number(self.p_value),
            "adjusted_p_value": _number(self.adjusted_p_value),
            "effects": {k: _number(v) for k, v in self.effects.items()},
            "effect": self.effect,
            "effect_size": _number(self.effect_size),
            "min_effect": self.min_effect,
            "significant": self.significant,
            "drifted": self.drifted,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "distribution": self.distribution.to_dict(),
            "note": self.note,
        }


@dataclass(frozen=True)
class DriftResult:
    """The comparison of every column; ``drifted`` lists the drifting ones."""

    columns: tuple[ColumnDrift, ...]
    fdr: float

    @property
    def drifted(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def share_drifted(self) -> float:
        """The share of the tested columns that drift (0 when none could be tested)."""
        tested = [c for c in self.columns if c.test]
        return sum(c.drifted for c in tested) / len(tested) if tested else 0.0

    @property
    def names(self) -> list[str]:
        return [c.column for c in self.columns]

    def __getitem__(self, name: str) -> ColumnDrift:
        for column in self.columns:
            if column.column == name:
                return column
        raise KeyError(f"column {name!r} was not compared; compared: {', '.join(self.names)}")

    def __iter__(self) -> Iterator[ColumnDrift]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fdr": self.fdr,
            "drifted": self.drifted,
            "share_drifted": self.share_drifted,
            "columns": [c.to_dict() for c in self.columns],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per column: kind, test, statistic, p-values, effect sizes, decision."""
        import pandas as pd

        rows = []
        for c in self.columns:
            row = {k: v for k, v in c.to_dict().items() if k not in ("effects", "distribution")}
            row.update({name: c.effects.get(name, math.nan) for name in _ALL_EFFECTS})
            rows.append(row)
        return pd.DataFrame(rows)


_ALL_EFFECTS = ("wasserstein", "jensen_shannon", "psi", "cramers_v", "difference")


# ---------------------------------------------------------------- the reference


@dataclass(frozen=True)
class Reference:
    """A reference prepared for many comparisons: each column's sorted values, spread,
    quantile bins (numeric) or category counts. Made by :func:`prepare_reference`."""

    kinds: Mapping[str, Kind]
    columns: Mapping[str, uni.NumericReference | CategoryValues]
    bins: int

    def _values(self, name: str) -> CategoryValues | NumericValues:
        column = self.columns[name]
        return column.values if isinstance(column, uni.NumericReference) else column

    def missing(self, name: str) -> int:
        """How many of the column's reference values were missing."""
        return self._values(name).missing

    def count(self, name: str) -> int:
        """How many reference values the column's test used."""
        return self._values(name).n


def _check_bins(bins: object) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 1000:
        raise InvalidValueError(f"bins must be an integer from 2 to 1000, got {bins!r:.40}")
    return bins


def _checked_kinds(kinds: object) -> dict[str, Kind]:
    if not isinstance(kinds, Mapping) or not kinds:
        raise InvalidValueError(
            "kinds must be a non-empty mapping of column name to 'numeric', 'categorical' or "
            f"'binary', got {kinds!r:.80}"
        )
    return {str(name): check_kind(str(name), kind) for name, kind in kinds.items()}


def _column_of(side: str, values: Mapping[str, Any], name: str) -> Any:
    if name not in values:
        shown = ", ".join(map(str, list(values)[:20]))
        raise InvalidValueError(
            f"column {name!r} (named in kinds) is not in the {side} columns ({shown})",
            field=name,
        )
    return values[name]


def _prepare(name: str, kind: Kind, values: Any, bins: int) -> Any:
    if kind == "numeric":
        return uni.NumericReference.of(numeric_values(name, values), bins)
    return category_values(name, values)


def _workers(workers: int | None, tasks: int) -> int:
    if workers is None:
        return max(1, min(tasks, os.cpu_count() or 1))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidValueError(f"workers must be a positive integer, got {workers!r:.40}")
    return min(workers, max(tasks, 1))


def _each(fn: Callable[[str], Any], names: list[str], workers: int | None) -> list[Any]:
    """``fn`` over the columns, on threads (numpy's sorts and searches release the GIL)."""
    count = _workers(workers, len(names))
    if count == 1:
        return [fn(name) for name in names]
    with ThreadPoolExecutor(count, thread_name_prefix="weekend-drift") as pool:
        return list(pool.map(fn, names))


def prepare_reference(
    columns: Mapping[str, Any],
    kinds: Mapping[str, Kind],
    *,
    bins: int = BINS,
    workers: int | None = None,
) -> Reference:
    """Prepare a reference once for comparisons with many current windows.

    ``columns`` maps each column of ``kinds`` to its values (numpy, pandas or Arrow), or to
    :class:`Counts` for a categorical or binary column known by its frequencies.
    """
    checked = _checked_kinds(kinds)
    bins = _check_bins(bins)
    names = list(checked)
    prepared = _each(
        lambda n: _prepare(n, checked[n], _column_of("reference", columns, n), bins),
        names,
        workers,
    )
    return Reference(checked, dict(zip(names, prepared, strict=True)), bins)


# ---------------------------------------------------------------- the decision


def _thresholds(
    kinds: Mapping[str, Kind], min_effect: Mapping[str, Any] | None
) -> dict[str, tuple[str, float]]:
    """The decision's effect size and minimum of every column."""
    chosen = {name: DEFAULT_MIN_EFFECT[kind] for name, kind in kinds.items()}
    if min_effect is None:
        return chosen
    if not isinstance(min_effect, Mapping):
        raise InvalidValueError(
            "min_effect must be a mapping of column name to a minimum (0.2) or to "
            f"(effect, minimum) such as ('psi', 0.2), got {min_effect!r:.80}"
        )
    for name, value in min_effect.items():
        if name not in kinds:
            raise InvalidValueError(
                f"min_effect names column {name!r}, which is not compared ({', '.join(kinds)})",
                field=name,
            )
        effect, minimum = value if isinstance(value, tuple) else (chosen[name][0], value)
        if effect not in EFFECTS[kinds[name]]:
            raise InvalidValueError(
                f"min_effect[{name!r}]: a {kinds[name]} column's effect size is one of "
                f"{', '.join(EFFECTS[kinds[name]])}, got {effect!r:.40}",
                field=name,
            )
        if isinstance(minimum, bool) or not isinstance(minimum, int | float):
            raise InvalidValueError(
                f"min_effect[{name!r}] must be a number >= 0, got {minimum!r:.40}", field=name
            )
        if not 0 <= minimum < math.inf:
            raise InvalidValueError(
                f"min_effect[{name!r}] must be a finite number >= 0, got {minimum}", field=name
            )
        chosen[name] = (effect, float(minimum))
    return chosen


def _check_fdr(fdr: object) -> float:
    if isinstance(fdr, bool) or not isinstance(fdr, int | float) or not 0 < fdr < 1:
        raise InvalidValueError(f"fdr must be a number between 0 and 1, got {fdr!r:.40}")
    return float(fdr)


def _adjusted(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values of the tested columns (NaN stays NaN)."""
    from scipy.stats import false_discovery_control

    tested = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    out = [math.nan] * len(p_values)
    if tested:
        found = false_discovery_control(np.array([p_values[i] for i in tested]), method="bh")
        for i, p in zip(tested, np.atleast_1d(found).tolist(), strict=True):
            out[i] = float(p)
    return out


def _compare_one(reference: Reference, name: str, values: Any) -> tuple[uni.Tested, int, int]:
    """The column's test and effects, with the current side's value and missing counts."""
    kind, prepared = reference.kinds[name], reference.columns[name]
    if kind == "numeric":
        assert isinstance(prepared, uni.NumericReference)
        numbers = numeric_values(name, values)
        return uni.numeric(prepared, numbers), numbers.n, numbers.missing
    assert isinstance(prepared, CategoryValues)
    current = category_values(name, values)
    if kind == "binary":
        return uni.binary(prepared, current, name), current.n, current.missing
    return uni.categorical(prepared, current), current.n, current.missing


def _decide(
    reference: Reference,
    name: str,
    found: tuple[uni.Tested, int, int],
    adjusted: float,
    threshold: tuple[str, float],
    fdr: float,
) -> ColumnDrift:
    tested, n_current, missing_current = found
    effect, minimum = threshold
    significant = not math.isnan(adjusted) and adjusted <= fdr
    value = tested.effects[effect]
    return ColumnDrift(
        column=name,
        kind=reference.kinds[name],
        test=tested.test,
        statistic=tested.statistic,
        p_value=tested.p_value,
        adjusted_p_value=adjusted,
        effects=dict(tested.effects),
        effect=effect,
        min_effect=minimum,
        significant=significant,
        drifted=significant and not math.isnan(value) and value >= minimum,
        n_reference=reference.count(name),
        n_current=n_current,
        missing_reference=reference.missing(name),
        missing_current=missing_current,
        distribution=tested.distribution,
        note=tested.note,
    )


def compare_columns(
    reference: Mapping[str, Any] | Reference,
    current: Mapping[str, Any],
    kinds: Mapping[str, Kind] | None = None,
    *,
    fdr: float = DEFAULT_FDR,
    min_effect: Mapping[str, float | tuple[str, float]] | None = None,
    bins: int = BINS,
    workers: int | None = None,
) -> DriftResult:
    """Compare the columns named in ``kinds`` (each ``numeric``, ``categorical`` or
    ``binary``) between ``reference`` and ``current``, and decide which drift.

    Values are numpy arrays, pandas Series or Arrow arrays; a categorical or binary reference
    may be :class:`Counts`; a :class:`Reference` from :func:`prepare_reference` carries its
    kinds (``kinds`` may then be omitted). ``fdr``: the false discovery rate of the
    Benjamini-Hochberg control. ``min_effect``: per column, the minimum of its decision
    effect size (a number) or another effect size and its minimum (``("psi", 0.2)``); 0
    decides by the test alone. ``workers``: threads over columns (default: the cores).
    """
    fdr = _check_fdr(fdr)
    if not isinstance(reference, Reference):
        if kinds is None:
            raise InvalidValueError("kinds is needed unless reference is a prepared Reference")
        reference = prepare_reference(reference, kinds, bins=bins, workers=workers)
    elif kinds is not None and dict(_checked_kinds(kinds)) != dict(reference.kinds):
        raise InvalidValueError(
            "kinds differ from the prepared reference's; omit kinds or prepare it again"
        )
    names = list(reference.kinds)
    thresholds = _thresholds(reference.kinds, min_effect)
    currents = {name: _column_of("current", current, name) for name in names}
    found = _each(lambda n: _compare_one(reference, n, currents[n]), names, workers)
    adjusted = _adjusted([tested.p_value for tested, _, _ in found])
    columns = [
        _decide(reference, name, one, adj, thresholds[name], fdr)
        for name, one, adj in zip(names, found, adjusted, strict=True)
    ]
    return DriftResult(tuple(columns), fdr)


__all__ = [
    "BINS",
    "DEFAULT_FDR",
    "DEFAULT_MIN_EFFECT",
    "EFFECTS",
    "EPSILON",
    "KINDS",
    "ColumnDrift",
    "Counts",
    "Distribution",
    "DriftResult",
    "Estimate",
    "Kind",
    "MetricEstimate",
    "PerformanceEstimator",
    "Reference",
    "Reservoir",
    "compare_columns",
    "estimate_performance",
    "prepare_reference",
]
