"""weekend's one HTTP edge: the app factory, its middleware, its error table and work pool.

``create_app(ws)`` serves a workspace over HTTP (Starlette; run it with uvicorn). Every route
shares the same edge: request ids (``X-Request-ID``), ``Server-Timing``, a body limit checked
while the body streams, one table from weekend's error classes to HTTP statuses
(:data:`ERROR_STATUS`) with one JSON error body, a last-resort 500 that logs its traceback
once, and a bounded :class:`WorkPool` for the work whose cost grows with the request.
See ``docs/serving.md``.
"""

from __future__ import annotations

from weekend.serving._app import INLINE_BYTES, MAX_BODY_BYTES, Edge, create_app
from weekend.serving._errors import (
    ERROR_STATUS,
    MalformedRequestError,
    PayloadTooLargeError,
    ServiceBusyError,
    error_body,
    error_response,
    status_for,
)
from weekend.serving._features import MAX_ENTITIES, MAX_FEATURES, feature_routes
from weekend.serving._json import iso_ns
from weekend.serving._middleware import current_request_id
from weekend.serving._pool import WorkPool

__all__ = [
    "ERROR_STATUS",
    "INLINE_BYTES",
    "MAX_BODY_BYTES",
    "MAX_ENTITIES",
    "MAX_FEATURES",
    "Edge",
    "MalformedRequestError",
    "PayloadTooLargeError",
    "ServiceBusyError",
    "WorkPool",
    "create_app",
    "current_request_id",
    "error_body",
    "error_response",
    "feature_routes",
    "iso_ns",
    "status_for",
]
