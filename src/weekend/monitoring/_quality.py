"""Data quality, volume and latency of each window: one grouped DuckDB query over the log.

For every input column the model's signature names (logged as ``in.<name>``):

- ``missing``: rows where it is null (a column absent from the log counts all rows missing);
- ``out_of_range``: numeric values below the training minimum or above its maximum (the
  model version's profile);
- ``new_categories``: text values the training data never held (only where the profile
  lists every category, or the signature fixes them);
- ``type_errors``: values of the wrong type for the signature: text where a number or a
  boolean is expected and that does not read as one.

Volume is the window's row count; latency its median and 95th percentile in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weekend.core.sql import quote_ident, sql_string
from weekend.monitoring._windows import LOG, WIN

if TYPE_CHECKING:
    import duckdb

    from weekend.data import Profile
    from weekend.registry import Signature

_NUMERIC_DUCK = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")
_MAX_CATEGORIES = 10_000


@dataclass(frozen=True)
class Expectation:
    """What an input column should hold: its type and, where known, its range or
    categories."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    categories: tuple[str, ...] | None = None


def expectations(signature: Signature | None, profile: Profile | None) -> list[Expectation]:
    """The expectation of each input column, from the signature and the training profile."""
    specs = [] if signature is None else list(signature.inputs)
    names = [s.name for s in specs] or ([] if profile is None else list(profile.names))
    types = {s.name: str(s.type) for s in specs}
    fixed = {s.name: s.categories for s in specs if s.categories is not None}
    found: list[Expectation] = []
    for name in names:
        col = profile.column(name) if profile is not None and name in profile else None
        kind = types.get(name) or (str(col.logical_type) if col is not None else "other")
        low = high = None
        cats: tuple[str, ...] | None = None
        if col is not None and col.numeric is not None:
            low, high = col.numeric.min, col.numeric.max
        if name in fixed:
            cats = tuple(str(c) for c in fixed[name] or ())
        elif col is not None and col.categorical is not None and col.categorical.complete:
            cats = tuple(col.categorical.frequencies)
        if cats is not None and len(cats) > _MAX_CATEGORIES:
            cats = None
        found.append(Expectation(name, kind, low, high, cats))
    return found


def _numeric_expected(kind: str) -> bool:
    return kind in ("int", "float") or kind.startswith(("int", "uint", "float"))


def _column_sql(exp: Expectation, logged: Mapping[str, str]) -> list[str]:
    """The aggregate expressions of one column, in the order of :data:`_MEASURES`."""
    name = f"in.{exp.name}"
    if name not in logged:
        return ["count(*)", "0", "0", "0"]
    col = quote_ident(name)
    duck = logged[name].upper()
    is_text = duck.startswith("VARCHAR")
    missing = f"count(*) - count({col})"
    value = col
    type_errors = "0"
    if _numeric_expected(exp.type) or exp.type == "bool":
        target = "DOUBLE" if exp.type != "bool" else "BOOLEAN"
        if is_text or (exp.type != "bool" and not duck.startswith((*_NUMERIC_DUCK, "BOOLEAN"))):
            type_errors = f"count({col}) - count(TRY_CAST({col} AS {target}))"
            value = f"TRY_CAST({col} AS {target})"
    out_of_range = "0"
    if exp.low is not None and exp.high is not None and exp.type != "bool":
        number = value if value != col else f"CAST({col} AS DOUBLE)"
        if duck.startswith(_NUMERIC_DUCK) or value != col:
            out_of_range = f"count(*) FILTER ({number} < {exp.low!r} OR {number} > {exp.high!r})"
    new = "0"
    if exp.categories is not None and is_text:
        listed = ", ".join(sql_string(c) for c in exp.categories) or "NULL"
        new = f"count(*) FILTER ({col} IS NOT NULL AND {col} NOT IN ({listed}))"
    return [missing, out_of_range, new, type_errors]


_MEASURES = ("missing", "out_of_range", "new_categories", "type_errors")


def window_quality(
    con: duckdb.DuckDBPyConnection, exps: Sequence[Expectation], logged: Mapping[str, str]
) -> dict[int, dict[str, Any]]:
    """Per window index: rows, time span, latency and each column's quality counts."""
    parts = [
        "count(*)",
        "min(epoch_us(ts))",
        "max(epoch_us(ts))",
        "quantile_cont(latency_us, 0.5) / 1000.0" if "latency_us" in logged else "NULL",
        "quantile_cont(latency_us, 0.95) / 1000.0" if "latency_us" in logged else "NULL",
    ]
    for exp in exps:
        parts.extend(_column_sql(exp, logged))
    query = f"SELECT {WIN}, {', '.join(parts)} FROM {LOG} GROUP BY {WIN} ORDER BY {WIN}"
    found: dict[int, dict[str, Any]] = {}
    for row in con.execute(query).fetchall():
        rows = int(row[1])
        quality: dict[str, dict[str, Any]] = {}
        for i, exp in enumerate(exps):
            values = [int(v) for v in row[6 + 4 * i : 10 + 4 * i]]
            entry: dict[str, Any] = dict(zip(_MEASURES, values, strict=True))
            entry["missing_share"] = values[0] / rows if rows else 0.0
            quality[exp.name] = entry
        found[int(row[0])] = {
            "rows": rows,
            "first_us": int(row[2]),
            "last_us": int(row[3]),
            "latency_ms_p50": None if row[4] is None else float(row[4]),
            "latency_ms_p95": None if row[5] is None else float(row[5]),
            "quality": quality,
        }
    return found


def missing_share(quality: Mapping[str, Mapping[str, Any]]) -> float:
    """The share of missing values over every column of a window."""
    shares = [float(q["missing_share"]) for q in quality.values()]
    return sum(shares) / len(shares) if shares else 0.0


__all__ = ["Expectation", "expectations", "missing_share", "window_quality"]
