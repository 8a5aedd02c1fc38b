"""Online features over HTTP: ``POST /v1/features/online``.

Request::

    {"features": ["driver_stats:trips", "driver_stats:rating"],   # or "features": "service"
     "entities": [{"driver_id": 1001}, {"driver_id": 1002}],      # or {"driver_id": [1001, 1002]}
     "full_feature_names": false,                                  # optional
     "now": "2024-05-01T12:00:00Z"}                                # optional, default: now

Response (200)::

    {"features": ["trips", "rating"],
     "rows": [{"trips": 12, "rating": 4.5}, {"trips": null, "rating": null}],
     "event_timestamps": {"driver_stats": ["2024-04-30T08:00:00Z", null]},
     "versions": {"driver_stats": 3}}

The event loop reads the body (bounded by the edge's limit); parsing, validation, the store
read and the encoding of the answer run in the work pool, unless the body is small and every
store is on this machine (see :func:`feature_routes`). Every check is one pass over the
request: at most :data:`MAX_FEATURES` names (each once) and :data:`MAX_ENTITIES`
rows, keys and request fields that are strings, finite numbers, booleans or null, integers
within 64 bits.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from weekend.core.errors import InvalidValueError, WeekendError
from weekend.features.online import OnlineResult
from weekend.features.store import to_ns
from weekend.serving._errors import MalformedRequestError, PayloadTooLargeError
from weekend.serving._json import dumps, iso_ns, json_response

if TYPE_CHECKING:
    from weekend.features.store import FeatureStore
    from weekend.serving._app import Edge
    from weekend.workspace import Workspace

MAX_ENTITIES = 10_000
MAX_FEATURES = 1_000
_INT64 = (-(2**63), 2**63 - 1)
_SCALARS = (str, int, float, bool, type(None))


def parse_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object (400 when it is not JSON or not an object)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequestError(f"the body is not valid JSON: {exc}", field="body") from exc
    if not isinstance(body, dict):
        raise MalformedRequestError(
            f"the body must be a JSON object, got a JSON {type(body).__name__}", field="body"
        )
    return body


def _check_value(item: object, field: str) -> None:
    kind = type(item)
    if kind is int:
        if not _INT64[0] <= item <= _INT64[1]:  # type: ignore[operator]
            raise InvalidValueError(
                f"must be an integer within 64 bits (-2**63 to 2**63-1), got {item}", field=field
            )
    elif kind is float:
        if not math.isfinite(item):  # type: ignore[arg-type]
            raise InvalidValueError("must be a finite number", field=field)
    elif kind not in _SCALARS:
        raise InvalidValueError(
            f"must be a string, a number, true/false or null, got a JSON {kind.__name__}",
            field=field,
        )


def _too_many_rows(count: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"at most {MAX_ENTITIES} rows per request, got {count}; split the request",
        field="entities",
    )


def _columns(value: dict[str, Any]) -> list[dict[str, Any]]:
    """Entities given as ``{"key": [values]}``: checked column by column, then rows."""
    size = -1
    for name, values in value.items():
        if not isinstance(values, list):
            raise InvalidValueError("must be a list of values", field=f"entities.{name}")
        if len(values) > MAX_ENTITIES:
            raise _too_many_rows(len(values))
        if size not in (-1, len(values)):
            raise InvalidValueError(
                f"all columns must have one length: {name!r} has {len(values)}, the one "
                f"before {size}",
                field=f"entities.{name}",
            )
        size = len(values)
        for index, item in enumerate(values):
            _check_value(item, f"entities.{name}[{index}]")
    return [dict(zip(value, row, strict=True)) for row in zip(*value.values(), strict=True)]


def entity_rows(value: Any) -> list[dict[str, Any]]:
    """The ``entities`` field as rows, each value checked (one pass, at most MAX_ENTITIES)."""
    if isinstance(value, dict):
        return _columns(value)
    if not isinstance(value, list):
        raise InvalidValueError(
            "must be a list of objects (join keys and request fields), or an object of lists",
            field="entities",
        )
    if len(value) > MAX_ENTITIES:
        raise _too_many_rows(len(value))
    for index, row in enumerate(value):
        if not isinstance(row, dict):
            raise InvalidValueError(
                f"must be an object, got a JSON {type(row).__name__}", field=f"entities[{index}]"
            )
        for key, item in row.items():
            _check_value(item, f"entities[{index}].{key}")
    return value


def feature_names(body: dict[str, Any]) -> str | list[str]:
    """A service name, or a list of distinct ``view:feature`` names (at most MAX_FEATURES)."""
    features = body.get("features", body.get("feature_service"))
    if features is None:
        raise InvalidValueError(
            "required: a list of 'view:feature' names or a feature service name",
            field="features",
        )
    if isinstance(features, str):
        return features
    if not isinstance(features, list) or not features:
        raise InvalidValueError(
            "must be a non-empty list of 'view:feature' strings", field="features"
        )
    first: dict[str, int] = {}
    for index, name in enumerate(features):
        if not isinstance(name, str):
            raise InvalidValueError(
                f"must be a 'view:feature' string, got a JSON {type(name).__name__}",
                field=f"features[{index}]",
            )
        seen = first.setdefault(name, index)
        if seen != index:
            raise InvalidValueError(
                f"names {name!r:.80} again (first at features[{seen}]); name each feature once",
                field=f"features[{index}]",
            )
        if index == MAX_FEATURES:
            raise PayloadTooLargeError(
                f"at most {MAX_FEATURES} features per request, got {len(features)}",
                field="features",
            )
    return features


def _answer(result: OnlineResult, versions: dict[str, int]) -> bytes:
    stamps = {view: [iso_ns(ns) for ns in values] for view, values in result.event_ns.items()}
    return dumps(
        {
            "features": list(result.features),
            "rows": result.rows,
            "event_timestamps": stamps,
            "versions": versions,
        }
    )


def online_features(store: FeatureStore, raw: bytes) -> bytes:
    """The whole request, from body bytes to answer bytes (runs in the work pool)."""
    body = parse_object(raw)
    features = feature_names(body)
    rows = entity_rows(body.get("entities"))
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise InvalidValueError("must be true or false", field="full_feature_names")
    now = body.get("now")
    if now is not None:
        if not isinstance(now, str):
            raise InvalidValueError(
                "must be an ISO 8601 time such as 2024-05-01T12:00:00Z", field="now"
            )
        try:
            to_ns(now, "now")
        except WeekendError as exc:
            exc.field = exc.field or "now"
            raise
    try:
        selection = store.select(features, full_feature_names=full)
    except WeekendError as exc:
        exc.field = exc.field or "features"
        raise
    try:
        result = store.online(rows, features, now=now, full_feature_names=full)
    except WeekendError as exc:
        exc.field = exc.field or "entities"
        raise
    return _answer(result, selection.versions())


def feature_routes(ws: Workspace, edge: Edge, *, prefix: str = "/v1/features") -> list[Route]:
    """The feature routes of workspace ``ws`` (for :func:`weekend.serving.create_app`).

    A body of at most ``edge.inline_bytes`` is answered on the event loop when the catalog and
    the online store are both on this machine (SQLite): a few rows of bounded, local work
    cost less than the hop to a worker. Everything else runs in the work pool.
    """
    local: bool | None = None

    def runs_inline(size: int) -> bool:
        nonlocal local
        if size > edge.inline_bytes:
            return False
        if local is None:
            local = ws.catalog.dialect == "sqlite" and ws.features.online_store.local
        return local

    async def online(request: Request) -> Response:
        raw = await request.body()  # the edge's streamed limit bounds it
        if runs_inline(len(raw)):
            return json_response(online_features(ws.features, raw))
        return json_response(await edge.pool.run(online_features, ws.features, raw))

    return [Route(f"{prefix}/online", online, methods=["POST"], name="features_online")]


__all__ = [
    "MAX_ENTITIES",
    "MAX_FEATURES",
    "entity_rows",
    "feature_names",
    "feature_routes",
    "online_features",
    "parse_object",
]
