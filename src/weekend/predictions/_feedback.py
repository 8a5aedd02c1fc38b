"""Feedback: labels that arrive after their prediction, stored in the catalog.

A label names its prediction by ``request_id`` (and ``row``, its position in the request,
default 0) or by the ``row_key`` the caller declared when predicting. Labels are checked as a
whole before anything is stored: one bad item refuses the call, naming ``items[i].<field>``.
A stored label is never checked against the log (it may arrive before its prediction's
segment is written); a label that matches no prediction is kept and simply joins nothing.
When several labels name one prediction, the last stored wins.

Writes are grouped: concurrent callers' labels are inserted in one transaction (the first
caller to find no write in progress writes everyone's that is waiting), and each caller
returns once its own labels are committed. If a grouped write fails, each caller's labels
are written again on their own, so one caller's failure is never another's.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
from sqlalchemy import Connection, select

from weekend.catalog import Catalog
from weekend.catalog.tables_predictions import prediction_feedback
from weekend.core.errors import InvalidValueError
from weekend.core.ids import now_ms, now_us
from weekend.predictions._records import MAX_REQUEST_ID, MAX_TEXT, TS_TYPE, ts_us

MAX_ITEMS = 10_000
MAX_LABEL_TEXT = 1_000
_FIELDS = frozenset({"request_id", "row", "row_key", "label", "ts"})
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Feedback:
    """One stored label (``label_ts``: when it became known, µs since the epoch)."""

    seq: int
    model: str
    request_id: str | None
    row: int
    row_key: str | None
    label: Any
    label_ts: int
    created_at: int


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise InvalidValueError(
            f"must be a string of 1 to {limit} characters, got {value!r:.60}", field=field
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValueError("must be valid Unicode text", field=field) from None
    if "\x00" in value:
        raise InvalidValueError("must not contain NUL characters", field=field)
    return value


def _label(value: object, field: str) -> object:
    kind = type(value)
    if kind is bool or kind is str:
        return value if kind is bool else _text(value, field, MAX_LABEL_TEXT)
    if kind is int:
        if not _INT64[0] <= value <= _INT64[1]:  # type: ignore[operator]
            raise InvalidValueError(f"must be an integer within 64 bits, got {value}", field=field)
        return value
    if kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise InvalidValueError(f"must be a finite number, got {value}", field=field)
        return value
    if hasattr(value, "item") and not isinstance(value, list | dict):  # numpy scalars
        return _label(value.item(), field)
    if value is None:
        raise InvalidValueError(
            "is missing: give the label (a class, a number or true/false)", field=field
        )
    raise InvalidValueError(
        f"must be a string, a number or true/false, got {kind.__name__} {value!r:.60}",
        field=field,
    )


def _when(value: object, field: str) -> int:
    if value is None:
        return now_us()
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValueError(
                f"must be an ISO 8601 time such as 2024-05-01T12:00:00Z, got {value!r:.60}",
                field=field,
            ) from None
        return ts_us(parsed, field)
    try:
        return ts_us(value, field)
    except InvalidValueError as exc:
        raise InvalidValueError(str(exc), field=field) from None


def _at(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _item(model: str, item: object, field: str) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidValueError(
            f"must be an object with request_id (or row_key) and label, got {type(item).__name__}",
            field=field,
        )
    unknown = sorted(str(key) for key in item if key not in _FIELDS)
    if unknown:
        raise InvalidValueError(
            f"unknown field {unknown[0]!r:.60}; expected {', '.join(sorted(_FIELDS))}",
            field=_at(field, unknown[0])[:200],
        )
    request_id, row_key = item.get("request_id"), item.get("row_key")
    if (request_id is None) == (row_key is None):
        raise InvalidValueError(
            "name the prediction by request_id (and row) or by row_key, exactly one of them",
            field=_at(field, "request_id"),
        )
    row = item.get("row", 0)
    if type(row) is not int or not 0 <= row < 2**31:
        raise InvalidValueError(
            f"must be the row's position in its request (0, 1, ...), got {row!r:.60}",
            field=_at(field, "row"),
        )
    if row and row_key is not None:
        raise InvalidValueError(
            "row goes with request_id; a row_key names one row already", field=_at(field, "row")
        )
    return {
        "model": model,
        "request_id": None
        if request_id is None
        else _text(request_id, _at(field, "request_id"), MAX_REQUEST_ID),
        "row": row,
        "row_key": None if row_key is None else _text(row_key, _at(field, "row_key"), MAX_TEXT),
        "label_json": orjson.dumps(_label(item.get("label"), _at(field, "label"))).decode(),
        "label_ts": _when(item.get("ts"), _at(field, "ts")),
    }


def check_feedback(
    model: str, items: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, name: str = "items"
) -> list[dict[str, Any]]:
    """Catalog rows for ``items`` (one mapping or a list of them), every one checked first.
    Errors name ``<name>[i].<field>`` in a list, the field alone for one mapping."""
    if isinstance(items, Mapping):
        return [_item(model, items, "") | {"created_at": now_ms()}]
    if not isinstance(items, list | tuple):
        raise InvalidValueError(
            f"must be a label (an object) or a list of them, got {type(items).__name__}",
            field=name,
        )
    if not items:
        raise InvalidValueError("must hold at least one label", field=name)
    if len(items) > MAX_ITEMS:
        raise InvalidValueError(
            f"at most {MAX_ITEMS} labels per call, got {len(items)}; split them", field=name
        )
    created = now_ms()
    return [
        _item(model, item, f"{name}[{index}]") | {"created_at": created}
        for index, item in enumerate(items)
    ]


class _Waiting:
    __slots__ = ("done", "error", "rows")

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.done = False
        self.error: BaseException | None = None


class FeedbackWriter:
    """Inserts labels, grouping concurrent callers into one transaction (see module)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._cond = threading.Condition()
        self._waiting: list[_Waiting] = []
        self._writing = False

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Store ``rows`` (from :func:`check_feedback`); returns once they are committed."""
        mine = _Waiting(rows)
        with self._cond:
            self._waiting.append(mine)
            while self._writing and not mine.done:
                self._cond.wait()
            if not mine.done:
                self._writing = True
                batch, self._waiting = self._waiting, []
        if not mine.done:
            try:
                self._commit(batch)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        with self.catalog.begin() as conn:
            conn.execute(prediction_feedback.insert(), rows)

    def _commit(self, batch: list[_Waiting]) -> None:
        try:
            self._insert([row for waiting in batch for row in waiting.rows])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for waiting in batch:  # each on its own: one failure is nobody else's
                    try:
                        self._insert(waiting.rows)
                    except Exception as own:
                        waiting.error = own
        for waiting in batch:
            waiting.done = True


def read_feedback(
    conn: Connection, model: str | None = None, since_ms: int | None = None
) -> list[Feedback]:
    """Stored labels, oldest first (of one model, stored at or after ``since_ms``)."""
    t = prediction_feedback
    query = select(t).order_by(t.c.seq)
    if model is not None:
        query = query.where(t.c.model == model)
    if since_ms is not None:
        query = query.where(t.c.created_at >= since_ms)
    return [
        Feedback(
            seq=r.seq,
            model=r.model,
            request_id=r.request_id,
            row=r.row,
            row_key=r.row_key,
            label=orjson.loads(r.label_json),
            label_ts=r.label_ts,
            created_at=r.created_at,
        )
        for r in conn.execute(query)
    ]


def _labels(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds: every label as text
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def feedback_tables(labels: list[Feedback]) -> tuple[pa.Table, pa.Table]:
    """The last label per (request_id, row) and per row_key, as two tables to join on."""
    by_request: dict[tuple[str, int], Feedback] = {}
    by_key: dict[str, Feedback] = {}
    for label in labels:
        if label.request_id is not None:
            by_request[(label.request_id, label.row)] = label
        elif label.row_key is not None:
            by_key[label.row_key] = label

    def table(keys: dict[str, list[Any]], found: list[Feedback]) -> pa.Table:
        return pa.table(
            {
                **keys,
                "feedback.label": _labels([f.label for f in found]),
                "feedback.ts": pa.array([f.label_ts for f in found], pa.int64()).cast(TS_TYPE),
            }
        )

    requests = list(by_request.values())
    keyed = list(by_key.values())
    return (
        table(
            {
                "request_id": pa.array([f.request_id for f in requests], pa.string()),
                "row": pa.array([f.row for f in requests], pa.int32()),
            },
            requests,
        ),
        table({"row_key": pa.array([f.row_key for f in keyed], pa.string())}, keyed),
    )


__all__ = [
    "MAX_ITEMS",
    "Feedback",
    "FeedbackWriter",
    "check_feedback",
    "feedback_tables",
    "read_feedback",
]
