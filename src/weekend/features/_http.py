"""HTTP route for online features: ``POST /v1/features/online``.

``feature_routes(ws)`` returns the routes, for the prediction service to mount;
``create_features_app(ws)`` wraps them in a Starlette app of their own. Request::

    {"features": ["driver_stats:trips", "driver_stats:rating"],   # or "features": "service"
     "entities": [{"driver_id": 1001}, {"driver_id": 1002}],      # or {"driver_id": [1001, 1002]}
     "full_feature_names": false,                                  # optional
     "now": "2024-05-01T12:00:00Z"}                                # optional, default: now

Response (200)::

    {"features": ["trips", "rating"],
     "rows": [{"trips": 12, "rating": 4.5}, {"trips": null, "rating": null}],
     "event_timestamps": {"driver_stats": ["2024-04-30T08:00:00Z", null]},
     "versions": {"driver_stats": 3}}

Bad input is a 4xx with ``{"error": {"type", "field", "reason"}}``: 400 for a body that is not
a JSON object, 404 for an unknown view or feature, 409 for a definition conflict, 413 for too
many rows, 422 for a field of the wrong shape or type (a key of the wrong type names its row and
key); 503 when the online store is unreachable. Bad input never gives a 500.
"""

from __future__ import annotations

import base64
import datetime
import math
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from weekend.core.errors import (
    ConfigurationError,
    ConflictError,
    NotFoundError,
    UserCodeError,
    UserInputError,
    WeekendError,
)
from weekend.features.online import OnlineResult, SQLiteOnlineStore
from weekend.features.store import to_ns

if TYPE_CHECKING:
    from weekend.features.store import FeatureStore
    from weekend.workspace import Workspace

MAX_BODY = 4 * 1024 * 1024
MAX_ROWS = 10_000
_SCALARS = (str, int, float, bool, type(None))


class _RequestError(Exception):
    def __init__(self, status: int, field: str, reason: str, kind: str = "BadRequest") -> None:
        super().__init__(reason)
        self.status, self.field, self.reason, self.kind = status, field, reason, kind


def _json(data: Any, status: int = 200) -> Response:
    body = orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code=status, media_type="application/json")


def _error(problem: _RequestError) -> Response:
    return _json(
        {"error": {"type": problem.kind, "field": problem.field, "reason": problem.reason}},
        problem.status,
    )


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def iso_ns(ns: int | None) -> str | None:
    """RFC 3339 in UTC with up to nanosecond precision."""
    if ns is None:
        return None
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    if rest:
        text += "." + f"{rest:09d}".rstrip("0")
    return text + "Z"


def _from_domain(exc: WeekendError, field: str) -> _RequestError:
    kind = type(exc).__name__
    if isinstance(exc, NotFoundError):
        return _RequestError(404, field, str(exc), kind)
    if isinstance(exc, ConflictError):
        return _RequestError(409, field, str(exc), kind)
    if isinstance(exc, UserInputError | UserCodeError):
        return _RequestError(422, field, str(exc), kind)
    if isinstance(exc, ConfigurationError):
        return _RequestError(503, field, str(exc), kind)
    return _RequestError(422, field, str(exc), kind)


def _entities(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        columns = list(value.items())
        for name, values in columns:
            if not isinstance(values, list):
                raise _RequestError(422, f"entities.{name}", "must be a list of values")
        lengths = {len(values) for _, values in columns}
        if len(lengths) > 1:
            raise _RequestError(422, "entities", f"all columns must have one length, got {lengths}")
        value = [dict(zip(value, row, strict=True)) for row in zip(*value.values(), strict=True)]
    if not isinstance(value, list):
        raise _RequestError(
            422, "entities", "must be a list of objects (join keys and request fields)"
        )
    if len(value) > MAX_ROWS:
        raise _RequestError(
            413, "entities", f"at most {MAX_ROWS} rows per request, got {len(value)}"
        )
    for index, row in enumerate(value):
        if not isinstance(row, dict):
            raise _RequestError(
                422, f"entities[{index}]", f"must be an object, got {type(row).__name__}"
            )
        for key, item in row.items():
            if not isinstance(item, _SCALARS) or (
                isinstance(item, float) and not math.isfinite(item)
            ):
                raise _RequestError(
                    422,
                    f"entities[{index}].{key}",
                    "must be a string, a number, true/false or null",
                )
    return value


def _features(body: dict[str, Any]) -> Any:
    features = body.get("features", body.get("feature_service"))
    if features is None:
        raise _RequestError(422, "features", "required: a list of 'view:feature' or a service name")
    if isinstance(features, str):
        return features
    if (
        not isinstance(features, list)
        or not features
        or not all(isinstance(f, str) for f in features)
    ):
        raise _RequestError(422, "features", "must be a non-empty list of 'view:feature' strings")
    return features


def _response(result: OnlineResult, versions: dict[str, int]) -> Response:
    stamps = {view: [iso_ns(ns) for ns in values] for view, values in result.event_ns.items()}
    return _json(
        {
            "features": list(result.features),
            "rows": result.rows,
            "event_timestamps": stamps,
            "versions": versions,
        }
    )


def _serve(store: FeatureStore, body: dict[str, Any]) -> Response:
    features = _features(body)
    rows = _entities(body.get("entities"))
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise _RequestError(422, "full_feature_names", "must be true or false")
    now = body.get("now")
    if now is not None:
        if not isinstance(now, str):
            raise _RequestError(422, "now", "must be an ISO 8601 time such as 2024-05-01T12:00:00Z")
        try:
            to_ns(now, "now")
        except WeekendError as exc:
            raise _from_domain(exc, "now") from exc
    try:
        selection = store.select(features, full_feature_names=full)
    except WeekendError as exc:
        raise _from_domain(exc, "features") from exc
    try:
        result = store.online(rows, features, now=now, full_feature_names=full)
    except WeekendError as exc:
        raise _from_domain(exc, "entities") from exc
    return _response(result, selection.versions())


def feature_routes(ws: Workspace, *, prefix: str = "/v1/features") -> list[Route]:
    """The feature routes of workspace ``ws``, to mount in any Starlette app."""

    async def online(request: Request) -> Response:
        try:
            raw = await request.body()
            if len(raw) > MAX_BODY:
                raise _RequestError(413, "body", f"the body must be at most {MAX_BODY} bytes")
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise _RequestError(400, "body", f"not valid JSON: {exc}") from exc
            if not isinstance(body, dict):
                raise _RequestError(400, "body", "must be a JSON object")
            store: FeatureStore = ws.features
            if isinstance(store.online_store, SQLiteOnlineStore):
                return _serve(store, body)  # local and fast: no thread hop
            return await run_in_threadpool(_serve, store, body)
        except _RequestError as problem:
            return _error(problem)

    return [Route(f"{prefix}/online", online, methods=["POST"], name="features_online")]


def create_features_app(ws: Workspace) -> Starlette:
    """A Starlette app serving only the feature routes (``weekend serve`` mounts the same)."""
    return Starlette(routes=feature_routes(ws))


__all__ = ["MAX_ROWS", "create_features_app", "feature_routes", "iso_ns"]
