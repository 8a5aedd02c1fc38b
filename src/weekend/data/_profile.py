"""Dataset profiles: computed by DuckDB in three aggregate queries, mergeable, a few KB of JSON.

``profile(con, sql)`` never materialises rows in Python: query 1 computes counts, min/max,
moments and distinct-count estimates of every column, query 2 the quantile sketches of the
numeric ones (apart: DuckDB runs the two faster than their union); query 3 computes the
histograms (whose bins need query 1's min/max) and exact category frequencies (a fourth
query counts the approximate top-k of text columns with very many distinct values). DuckDB
streams them all, so data larger than memory (``read_parquet`` of a big file) works.

``a.merge(b)`` on profiles of two disjoint parts gives the profile of the union:

- row, missing and infinite counts add exactly; histograms and quantile sketches are exactly
  those of the union (see :mod:`weekend.data._summaries` for the error bound of quantiles);
- moments are kept as (n, mean, M2) and combined with Chan's formula: equal to the union's
  up to floating-point rounding;
- category frequencies add exactly while each part has at most ``top_k`` distinct values
  (``complete``); beyond that the kept top-k counts of a merge are lower bounds.

Missing means NULL, or NaN in a floating column; +-inf are counted in ``n_inf`` and left out
of the moments, sketch and histogram. Temporal histograms bin epoch microseconds
(timestamps, UTC) or epoch days (dates).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from weekend.core.errors import InvalidValueError
from weekend.core.sql import quote_ident
from weekend.core.types import NUMERIC_TYPES, TEMPORAL_TYPES, TEXT_TYPES, ColumnType
from weekend.data._schema import (
    Change,
    Schema,
    build_schema,
    category_changes,
    check_key,
    column_changes,
    describe,
    key_sets,
    logical_type_of,
    plain,
    run_query,
    small_text_columns,
    source_sql,
    stored_type,
    type_change,
)
from weekend.data._summaries import (
    ALPHA,
    INV_LOG_GAMMA,
    CategoryStats,
    Histogram,
    LogSketch,
    NumericStats,
    TemporalStats,
    bin_sql,
    plan_bins,
    rank,
)

EXACT_CATEGORY_LIMIT = 10_000
PROFILE_FORMAT = 1
if TYPE_CHECKING:
    import duckdb

Kind = Literal["numeric", "categorical", "temporal", "other"]


def kind_of(logical: str) -> Kind:
    if logical in NUMERIC_TYPES:
        return "numeric"
    if logical in TEXT_TYPES or logical == "bool":
        return "categorical"
    return "temporal" if logical in TEMPORAL_TYPES else "other"


# ---------------------------------------------------------------- column and dataset profiles


@dataclass(frozen=True)
class ColumnProfile:
    """The profile of one column; exactly one of the stats is set, as ``kind`` says."""

    name: str
    logical_type: ColumnType
    physical_type: str
    count: int
    missing: int
    numeric: NumericStats | None = None
    categorical: CategoryStats | None = None
    temporal: TemporalStats | None = None

    @property
    def kind(self) -> Kind:
        return kind_of(self.logical_type)

    @property
    def missing_share(self) -> float:
        return self.missing / self.count if self.count else 0.0

    def merge(self, other: ColumnProfile, bins: int, top_k: int) -> ColumnProfile:
        if (self.name, self.logical_type) != (other.name, other.logical_type):
            raise InvalidValueError(
                f"cannot merge column {self.name!r} ({self.logical_type}) with column "
                f"{other.name!r} ({other.logical_type}): profiles must have the same columns"
            )
        numeric = categorical = temporal = None
        if self.numeric is not None and other.numeric is not None:
            numeric = self.numeric.merge(other.numeric, bins, self.logical_type == "int")
        if self.categorical is not None and other.categorical is not None:
            categorical = self.categorical.merge(other.categorical, top_k)
        if self.temporal is not None and other.temporal is not None:
            temporal = self.temporal.merge(other.temporal, bins)
        return ColumnProfile(
            self.name,
            self.logical_type,
            self.physical_type,
            self.count + other.count,
            self.missing + other.missing,
            numeric,
            categorical,
            temporal,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.logical_type,
            "physical_type": self.physical_type,
            "kind": self.kind,
            "count": self.count,
            "missing": self.missing,
            "missing_share": self.missing_share,
        }
        for key, stats in (
            ("numeric", self.numeric),
            ("categorical", self.categorical),
            ("temporal", self.temporal),
        ):
            if stats is not None:
                out[key] = stats.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        physical = data.get("physical_type", "")
        logical = stored_type(data["type"], physical, f"profile column {data['name']!r}")
        num, cat, tmp = data.get("numeric"), data.get("categorical"), data.get("temporal")
        if kind_of(logical) == "other":  # a list profiled as text by an older weekend
            num = cat = tmp = None
        return cls(
            name=str(data["name"]),
            logical_type=logical,
            physical_type=str(physical),
            count=int(data["count"]),
            missing=int(data["missing"]),
            numeric=None if num is None else NumericStats.from_dict(num),
            categorical=None if cat is None else CategoryStats.from_dict(cat),
            temporal=None if tmp is None else TemporalStats.from_dict(tmp, logical),
        )


@dataclass(frozen=True)
class Profile:
    """Per-column statistics of a dataset (columns in table order)."""

    n_rows: int
    columns: tuple[ColumnProfile, ...]
    bins: int = 20
    top_k: int = 50
    alpha: float = ALPHA

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def column(self, name: str) -> ColumnProfile:
        for col in self.columns:
            if col.name == name:
                return col
        raise InvalidValueError(
            f"column {name!r} is not in the profile; it has: {', '.join(self.names)}"
        )

    def merge(self, other: Profile) -> Profile:
        """The profile of the union of two disjoint parts (``Profile.merge(a, b)``)."""
        mine = (self.bins, self.top_k, self.alpha)
        theirs = (other.bins, other.top_k, other.alpha)
        if mine != theirs:
            raise InvalidValueError(
                "cannot merge profiles made with different (bins, top_k, alpha): "
                f"{mine} vs {theirs}"
            )
        if self.names != other.names:
            raise InvalidValueError(
                f"cannot merge profiles of different columns: {list(self.names)} vs "
                f"{list(other.names)}"
            )
        cols = tuple(
            a.merge(b, self.bins, self.top_k)
            for a, b in zip(self.columns, other.columns, strict=True)
        )
        return Profile(self.n_rows + other.n_rows, cols, self.bins, self.top_k, self.alpha)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "n_rows": self.n_rows,
            "bins": self.bins,
            "top_k": self.top_k,
            "alpha": self.alpha,
            "columns": [col.to_dict() for col in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        try:
            return cls(
                n_rows=int(data["n_rows"]),
                columns=tuple(ColumnProfile.from_dict(col) for col in data["columns"]),
                bins=int(data["bins"]),
                top_k=int(data["top_k"]),
                alpha=float(data["alpha"]),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidValueError(
                f"not a valid profile dict: missing or bad field {exc}"
            ) from exc


# ---------------------------------------------------------------- the two queries


_SIGN = 100_000  # sketch keys of positive values are shifted up by this, negative ones down


def _epoch(q: str, logical: str) -> str:
    return f"({q} - DATE '1970-01-01')" if logical == "date" else f"epoch_us({q})"


def _pass1(i: int, name: str, logical: str) -> tuple[list[str], list[str]]:
    """The projections and aggregates of column ``i`` in the first query."""
    q, kind = quote_ident(name), kind_of(logical)
    if kind == "numeric":
        d, x = f"CAST({q} AS DOUBLE)", f"x{i}"
        if logical == "float":
            projections = [f"CASE WHEN isfinite({d}) THEN {d} END AS {x}", f"isnan({d}) AS n{i}"]
            nan, value = f"count(*) FILTER (WHERE n{i})", x
        else:
            projections, nan, value = [f"{d} AS {x}"], "0", f"r{i}"
        key = (
            f"CASE WHEN {x} = 0 THEN 0 "
            f"WHEN {x} > 0 THEN CAST(ceil(ln({x}) * $inv) AS INTEGER) + {_SIGN} "
            f"ELSE -(CAST(ceil(ln(-{x}) * $inv) AS INTEGER) + {_SIGN}) END"
        )
        aggregates = [f"count(r{i})", nan, f"count({x})", f"min({value})", f"max({value})"]
        aggregates += [f"avg({value})", f"var_pop({x})", f"histogram({key})"]
        return [f"{q} AS r{i}", *projections], aggregates
    if kind == "categorical":
        return [f"{q} AS r{i}"], [f"count(r{i})", f"approx_count_distinct(r{i})"]
    if kind == "temporal":
        aggregates = [f"count(r{i})", f"min(r{i})", f"max(r{i})", f"min(e{i})", f"max(e{i})"]
        return [f"{q} AS r{i}", f"{_epoch(q, logical)} AS e{i}"], aggregates
    return [f"{q} AS r{i}"], [f"count(r{i})"]


def _pass2(
    i: int, name: str, logical: str, got: Sequence[Any], plan: _Plan
) -> tuple[str, int | None]:
    """The second-query aggregate of column ``i`` and its histogram exponent."""
    kind, q = kind_of(logical), quote_ident(name)
    if kind == "numeric" and got[2]:
        exponent = plan_bins(float(got[3]), float(got[4]), plan.bins, logical == "int")
        plan.params[f"w{i}"] = math.ldexp(1.0, exponent)
        d = f"CAST({q} AS DOUBLE)"
        expr = f"histogram(CASE WHEN isfinite({d}) THEN {bin_sql(d, f'$w{i}')} END)"
        return expr, exponent
    if kind == "temporal" and got[0]:
        exponent = plan_bins(float(got[3]), float(got[4]), plan.bins, True)
        plan.params[f"w{i}"] = math.ldexp(1.0, exponent)
        epoch = f"CAST({_epoch(q, logical)} AS DOUBLE)"
        return f"histogram({bin_sql(epoch, f'$w{i}')})", exponent
    if kind == "categorical" and got[0]:
        text = f"CAST({q} AS VARCHAR)"
        if got[1] <= EXACT_CATEGORY_LIMIT:
            return f"histogram({text})", None
        plan.many.append(i)
        return f"approx_top_k({text}, {plan.top_k})", None
    return "NULL", None


@dataclass
class _Plan:
    bins: int
    top_k: int
    params: dict[str, Any]
    many: list[int]  # text columns with more than EXACT_CATEGORY_LIMIT distinct values


def profile(
    con: duckdb.DuckDBPyConnection, relation_sql: str, *, bins: int = 20, top_k: int = 50
) -> Profile:
    """Profile ``relation_sql`` (a query, ``FROM ...`` or a table name) with DuckDB.

    Three aggregate queries, and a fourth one over the text columns that have more than
    EXACT_CATEGORY_LIMIT distinct values (to count their approximate top-k exactly).
    """
    return _profile(con, relation_sql, bins, top_k)[0]


def profile_and_schema(
    con: duckdb.DuckDBPyConnection,
    relation_sql: str,
    *,
    keys: Sequence[str | Sequence[str]] = (),
    max_categories: int = 50,
    bins: int = 20,
    top_k: int = 50,
) -> tuple[Profile, Schema]:
    """The profile and the schema of ``relation_sql`` from the profile's passes (what
    ``infer_schema`` would scan for, counts, NaNs, ranges and small sets of text values, the
    profile has already counted), plus one query per key set. Equal to ``profile`` and
    ``infer_schema`` called apart (a test holds them to it), with one scan of the data less.
    """
    if max_categories < 0:
        raise InvalidValueError(f"max_categories must be >= 0, got {max_categories}")
    found, cols, n_rows, got, maps = _profile(con, relation_sql, bins, top_k)
    sql = source_sql(relation_sql)
    described = [(name, physical) for name, physical, _ in cols]
    stats: list[tuple[Any, ...]] = []
    approx: dict[int, int] = {}
    for i, (_, physical, logical) in enumerate(cols):
        kind, values = kind_of(logical), got[i]
        if kind == "numeric":  # (non_null, nan, finite count, min, max, ...)
            stats.append((values[0], values[1], values[3], values[4]))
        elif kind == "temporal":  # (non_null, min, max, epoch min, epoch max)
            stats.append((values[0], 0, values[1], values[2]))
        else:
            stats.append((values[0], 0, None, None))
        if logical_type_of(physical) in TEXT_TYPES:
            approx[i] = int(values[1])
    small = small_text_columns(described, approx, max_categories)
    # A small text column's histogram in the histogram pass holds every value exactly
    # (EXACT_CATEGORY_LIMIT is far above the threshold); an all-null one has none.
    distinct = {i: sorted(str(v) for v in (maps[i] or {}) if v is not None) for i in small}
    keysets = key_sets(keys, [name for name, _ in described])
    schema = build_schema(
        described,
        n_rows,
        stats,
        distinct,
        [check_key(con, sql, keyset) for keyset in keysets],
        max_categories,
    )
    return found, schema


def _profile(
    con: duckdb.DuckDBPyConnection, relation_sql: str, bins: int, top_k: int
) -> tuple[Profile, Sequence[tuple[str, str, str]], int, Sequence[Sequence[Any]], list[Any]]:
    """The profile, with the columns and the raw results of the first two passes."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise InvalidValueError(f"bins must be an integer >= 2, got {bins!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidValueError(f"top_k must be an integer >= 1, got {top_k!r}")
    sql = source_sql(relation_sql)
    cols = [(name, physical, logical_type_of(physical)) for name, physical in describe(con, sql)]
    projections, aggregates, starts = ["1 AS _wk_one"], ["count(*)"], []
    sketches: dict[int, str] = {}
    for i, (name, _, logical) in enumerate(cols):
        starts.append(len(aggregates))
        more, aggs = _pass1(i, name, logical)
        projections += more
        if aggs and aggs[-1].startswith("histogram("):  # a numeric column's sketch
            sketches[i] = aggs.pop()
        aggregates += aggs
    inner = f"SELECT {', '.join(projections)} FROM ({sql}) AS _wk_src"
    first = run_query(con, f"SELECT {', '.join(aggregates)} FROM ({inner}) AS _wk_p")
    stops = [*starts[1:], len(aggregates)]
    got: list[Sequence[Any]] = [first[a:b] for a, b in zip(starts, stops, strict=True)]
    if sketches:
        # The quantile sketches in a query of their own: inside the first one, DuckDB was
        # measured to take twice as long for the whole query as for the two apart.
        query = f"SELECT {', '.join(sketches.values())} FROM ({inner}) AS _wk_p"
        for i, keys in zip(sketches, run_query(con, query, {"inv": INV_LOG_GAMMA}), strict=True):
            got[i] = (*got[i], keys)
    plan = _Plan(bins, top_k, {}, [])
    second = [_pass2(i, name, logical, got[i], plan) for i, (name, _, logical) in enumerate(cols)]
    maps: list[Any] = [None] * len(cols)
    if any(expr != "NULL" for expr, _ in second):
        query = ", ".join(expr for expr, _ in second)
        maps = list(run_query(con, f"SELECT {query} FROM ({sql}) AS _wk_src", plan.params))
    if plan.many:
        params = {f"c{i}": [v for v in maps[i] or () if v is not None] for i in plan.many}
        texts = [f"CAST({quote_ident(cols[i][0])} AS VARCHAR)" for i in plan.many]
        query = ", ".join(
            f"histogram(CASE WHEN list_contains($c{i}, {text}) THEN {text} END)"
            for i, text in zip(plan.many, texts, strict=True)
        )
        third = run_query(con, f"SELECT {query} FROM ({sql}) AS _wk_src", params)
        for i, counts in zip(plan.many, third, strict=True):
            maps[i] = counts
    n_rows = int(first[0])
    columns = tuple(
        _column(name, physical, logical, n_rows, got[i], maps[i], second[i][1], top_k)
        for i, (name, physical, logical) in enumerate(cols)
    )
    return Profile(n_rows, columns, bins, top_k, ALPHA), cols, n_rows, got, maps


def _number(value: object) -> float | None:
    number = plain(value)
    if number is None or isinstance(number, int | float):
        return number
    raise AssertionError(f"DuckDB returned {number!r} for a numeric min/max")


def _sketch(keys: Mapping[int, int]) -> LogSketch:
    positive = {k - _SIGN: c for k, c in keys.items() if k > 0}
    negative = {-k - _SIGN: c for k, c in keys.items() if k < 0}
    return LogSketch.from_buckets(positive, negative, keys.get(0, 0))


def _column(
    name: str,
    physical: str,
    logical: ColumnType,
    n_rows: int,
    got: Sequence[Any],
    counts: Mapping[Any, int] | None,
    exponent: int | None,
    top_k: int,
) -> ColumnProfile:
    kind = kind_of(logical)
    counts = counts or {}
    hist = Histogram.from_bins(exponent, counts) if exponent is not None and counts else None
    if kind == "numeric":
        non_null, nan, n, low, high, mean, var, keys = got
        sketch = _sketch(keys or {})
        n_inf = int(non_null) - int(nan) - int(n)
        stats = NumericStats(
            int(n),
            int(n_inf),
            _number(low),
            _number(high),
            None if mean is None else float(mean),
            float(var or 0.0) * int(n),
            sketch,
            hist,
        )
        missing = n_rows - int(non_null) + int(nan)
        return ColumnProfile(name, logical, physical, n_rows, missing, numeric=stats)
    missing = n_rows - int(got[0])
    if kind == "categorical":
        exact = bool(got[0]) and got[1] <= EXACT_CATEGORY_LIMIT
        top = rank(counts, top_k)
        cats = CategoryStats(
            top=top,
            other=int(got[0]) - sum(c for _, c in top),
            n_distinct=len(counts) if exact or not got[0] else int(got[1]),
            complete=(exact or not got[0]) and len(counts) <= top_k,
            distinct_exact=exact or not got[0],
        )
        return ColumnProfile(name, logical, physical, n_rows, missing, categorical=cats)
    if kind == "temporal":
        low, high = plain(got[1]), plain(got[2])
        if isinstance(low, int | float) or isinstance(high, int | float):
            raise AssertionError("DuckDB returned a number for a temporal min/max")
        temporal = TemporalStats(
            low,
            high,
            None if got[3] is None else int(got[3]),
            None if got[4] is None else int(got[4]),
            hist,
        )
        return ColumnProfile(name, logical, physical, n_rows, missing, temporal=temporal)
    return ColumnProfile(name, logical, physical, n_rows, missing)


# ---------------------------------------------------------------- differences


def profile_diff(
    a: Profile, b: Profile, *, mean_shift: float = 0.1, missing_shift: float = 0.01
) -> tuple[Change, ...]:
    """What changed from profile ``a`` to ``b``.

    Statistics are compared while both columns are of the same kind (numeric, categorical,
    temporal), even across a type change such as int -> float. A mean shift is reported
    from ``mean_shift`` standard deviations (of ``a``) on, a change of the missing share
    from ``missing_shift`` (absolute) on; ranges and categories always.
    """
    changes: list[Change] = []
    if a.n_rows != b.n_rows:
        changes.append(
            Change(
                "row_count_changed", None, a.n_rows, b.n_rows, f"row count {a.n_rows} -> {b.n_rows}"
            )
        )
    changes += column_changes(a.names, b.names)
    for new in b.columns:
        if new.name not in a:
            continue
        old, name = a.column(new.name), new.name
        changes += type_change(name, old.logical_type, new.logical_type)
        shift = new.missing_share - old.missing_share
        if shift and abs(shift) >= missing_shift:
            changes.append(
                Change(
                    "missing_share_changed",
                    name,
                    old.missing_share,
                    new.missing_share,
                    f"column {name!r} missing share {old.missing_share:.2%} -> "
                    f"{new.missing_share:.2%}",
                )
            )
        if old.kind == new.kind:  # an int column that became float still has a mean
            changes += _stats_changes(name, old, new, mean_shift)
    return tuple(changes)


def _stats_changes(name: str, old: ColumnProfile, new: ColumnProfile, limit: float) -> list[Change]:
    out: list[Change] = []
    before: Any = None
    after: Any = None
    if old.numeric is not None and new.numeric is not None:
        was, now = old.numeric, new.numeric
        if was.mean is not None and now.mean is not None and was.mean != now.mean:
            std = was.std or 0.0
            units = abs(now.mean - was.mean) / std if std > 0 else math.inf
            if units >= limit:
                out.append(
                    Change(
                        "mean_shifted",
                        name,
                        was.mean,
                        now.mean,
                        f"column {name!r} mean {was.mean:.6g} -> {now.mean:.6g} "
                        f"({units:.2f} standard deviations)",
                    )
                )
        before, after = [was.min, was.max], [now.min, now.max]
    elif old.temporal is not None and new.temporal is not None:
        before = [old.temporal.min, old.temporal.max]
        after = [new.temporal.min, new.temporal.max]
    elif old.categorical is not None and new.categorical is not None:
        was_top, now_top = old.categorical.frequencies, new.categorical.frequencies
        added = sorted(set(now_top) - set(was_top)) if old.categorical.complete else []
        removed = sorted(set(was_top) - set(now_top)) if new.categorical.complete else []
        out += category_changes(name, added, removed)
    if before != after:
        out.append(
            Change(
                "range_changed",
                name,
                before,
                after,
                f"column {name!r} range [{before[0]}, {before[1]}] -> [{after[0]}, {after[1]}]",
            )
        )
    return out
