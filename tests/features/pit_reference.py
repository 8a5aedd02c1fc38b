"""A brute-force, pure-Python point-in-time join: the oracle for the DuckDB engine.

Everything is plain Python values. Timestamps are ``int`` nanoseconds since the epoch, UTC;
``None`` is null. It is quadratic on purpose: every entity row looks at every source row, so
the rules in ``docs/features.md`` can be read straight off :func:`pit_value`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RefRow:
    """One source row of a view."""

    keys: tuple[Any, ...]
    event_ns: int | None
    created_ns: int | None
    values: tuple[Any, ...]


@dataclass(frozen=True)
class RefView:
    """A view as the reference sees it: rows in source order, a ttl in nanoseconds or None."""

    rows: Sequence[RefRow]
    n_features: int
    ttl_ns: int | None = None


def pit_value(
    view: RefView, keys: tuple[Any, ...], row_ns: int | None, *, strict: bool
) -> tuple[Any, ...]:
    """The feature values that one entity row gets from one view (all None if no match)."""
    nothing = (None,) * view.n_features
    if row_ns is None or any(key is None for key in keys):
        return nothing
    best: tuple[int, int, int] | None = None
    answer = nothing
    for order, row in enumerate(view.rows):
        if row.event_ns is None or row.keys != keys:
            continue
        # The reference compares key tuples element by element, like the engine must.
        created = row.event_ns if row.created_ns is None else row.created_ns
        if row.event_ns > row_ns:
            continue
        if view.ttl_ns is not None and row.event_ns < row_ns - view.ttl_ns:
            continue
        if strict and created > row_ns:
            continue
        rank = (row.event_ns, created, order)
        if best is None or rank > best:
            best, answer = rank, row.values
    return answer


def pit_join(
    entity: Sequence[tuple[tuple[Any, ...], int | None]],
    views: Sequence[RefView],
    *,
    strict: bool = False,
) -> list[tuple[Any, ...]]:
    """For each entity row ``(keys per view, row_ns)``: the concatenated feature values.

    ``keys`` holds one key tuple per view (views may use different keys).
    """
    out = []
    for keys_per_view, row_ns in entity:
        values: tuple[Any, ...] = ()
        for view, keys in zip(views, keys_per_view, strict=True):
            values += pit_value(view, keys, row_ns, strict=strict)
        out.append(values)
    return out
