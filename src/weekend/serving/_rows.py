"""The rows of a prediction request, parsed from JSON.

Three body forms are accepted::

    [{"carrier": "UA", "distance": 1400.0}, ...]                       # records
    {"rows": [{"carrier": "UA", "distance": 1400.0}, ...], "now": ...}  # records in an object
    {"columns": ["carrier", "distance"], "data": [["UA", 1400.0], ...]} # columnar

``now`` (optional, ISO 8601) is the time at which features are read from the online store
(default: the time of the request); use it to replay. Rows are held column by column
(:class:`Rows`): the signature checks of :mod:`weekend.serving._schema` then run one pass per
column. A record without a key holds :data:`MISSING` in that column, so that a value the
client left out can be told from a ``null`` it sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from weekend.core.errors import InvalidValueError
from weekend.serving._errors import MalformedRequestError, PayloadTooLargeError

MAX_ROWS = 10_000
"""Rows per prediction request; more is refused with HTTP 413."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""The value of a column in a record that does not have the key."""

_FORMS = "a list of rows, {'rows': [...]}, or {'columns': [...], 'data': [[...], ...]}"
_FIELDS = frozenset({"rows", "columns", "data", "now"})


@dataclass
class Rows:
    """A request's rows, column by column (``MISSING`` where a record lacks the key)."""

    columns: dict[str, list[Any]]
    count: int
    prefix: str
    """``rows`` or ``data``: how a field of the request is named in errors."""
    now: str | None = None
    records: list[dict[str, Any]] | None = None
    """The records as sent (records forms only)."""

    def field(self, row: int, column: str) -> str:
        """The name of one value of the request, as errors name it: ``rows[3].distance``."""
        return f"{self.prefix}[{row}].{column}"

    def record(self, row: int) -> dict[str, Any]:
        """Row ``row`` as a mapping (the keys it has)."""
        if self.records is not None:
            return self.records[row]
        return {k: v[row] for k, v in self.columns.items() if v[row] is not MISSING}

    def dicts(self) -> list[dict[str, Any]]:
        """Every row as a mapping."""
        if self.records is not None:
            return self.records
        return [self.record(i) for i in range(self.count)]


def _too_many(count: int, field: str) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"at most {MAX_ROWS} rows per request, got {count}; split the request", field=field
    )


def _from_records(records: list[Any], prefix: str) -> Rows:
    if not records:
        raise InvalidValueError("must hold at least one row", field=prefix)
    if len(records) > MAX_ROWS:
        raise _too_many(len(records), prefix)
    names: dict[str, None] = {}
    for index, record in enumerate(records):
        if type(record) is not dict:
            raise InvalidValueError(
                f"each row must be a JSON object of column to value, got a JSON "
                f"{type(record).__name__}",
                field=f"{prefix}[{index}]",
            )
        names.update(dict.fromkeys(record))
    if len(records) == 1:
        columns = {name: [value] for name, value in records[0].items()}
    else:
        columns = {name: [r.get(name, MISSING) for r in records] for name in names}
    return Rows(columns, len(records), prefix, records=records)


def _from_columns(names: Any, data: Any) -> Rows:
    if type(names) is not list or not names:
        raise InvalidValueError("must be a non-empty list of column names", field="columns")
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if type(name) is not str:
            raise InvalidValueError("must be a string", field=f"columns[{index}]")
        if name in seen:
            raise InvalidValueError(
                f"column {name!r} is named twice (first at columns[{seen[name]}])",
                field=f"columns[{index}]",
            )
        seen[name] = index
    if type(data) is not list or not data:
        raise InvalidValueError("must be a non-empty list of rows (lists of values)", field="data")
    if len(data) > MAX_ROWS:
        raise _too_many(len(data), "data")
    width = len(names)
    for index, row in enumerate(data):
        if type(row) is not list or len(row) != width:
            got = f"{len(row)} values" if type(row) is list else f"a JSON {type(row).__name__}"
            raise InvalidValueError(
                f"each row must be a list of {width} values (one per column), got {got}",
                field=f"data[{index}]",
            )
    columns = {name: [row[i] for row in data] for i, name in enumerate(names)}
    return Rows(columns, len(data), "data")


def parse_rows(raw: bytes) -> Rows:
    """The rows of a request body (400: not JSON; 413: too many rows; 422: a wrong shape)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequestError(f"the body is not valid JSON: {exc}", field="body") from exc
    if type(body) is list:
        return _from_records(body, "rows")
    if type(body) is not dict:
        raise MalformedRequestError(
            f"the body must be {_FORMS}, got a JSON {type(body).__name__}", field="body"
        )
    unknown = [key for key in body if key not in _FIELDS]
    if unknown:
        raise InvalidValueError(
            f"unknown field {unknown[0]!r}; the body is {_FORMS}, with an optional 'now'",
            field=unknown[0],
        )
    now = body.get("now")
    if now is not None and type(now) is not str:
        raise InvalidValueError(
            "must be an ISO 8601 time such as 2024-05-01T12:00:00Z", field="now"
        )
    if "rows" in body:
        if "columns" in body or "data" in body:
            raise InvalidValueError(
                "give either 'rows', or 'columns' and 'data', not both", field="rows"
            )
        records = body["rows"]
        if type(records) is not list:
            raise InvalidValueError("must be a list of JSON objects", field="rows")
        rows = _from_records(records, "rows")
    elif "columns" in body or "data" in body:
        rows = _from_columns(body.get("columns"), body.get("data"))
    else:
        raise InvalidValueError(f"the body has no rows; send {_FORMS}", field="rows")
    rows.now = now
    return rows


__all__ = ["MAX_ROWS", "MISSING", "Rows", "parse_rows"]
