"""weekend's one HTTP edge and the prediction service on it.

``create_app(ws, models=["flight-delay@champion"])`` serves a workspace over HTTP (Starlette;
run it with uvicorn, or ``weekend serve``). Every route shares the same edge: request ids
(``X-Request-ID``), ``Server-Timing``, a body limit checked while the body streams, one table
from weekend's error classes to HTTP statuses (:data:`ERROR_STATUS`) with one JSON error body,
a last-resort 500 that logs its traceback once, Prometheus metrics, and a bounded
:class:`WorkPool` for the work whose cost grows with the request. The prediction service adds
``POST /v1/models/{name}/predict`` (validation from the signature, online features, canary,
shadow, hot reload), ``/health``, ``/ready``, ``/metrics`` and ``/openapi.json``. See
``docs/serving.md``.
"""

from __future__ import annotations

from weekend.serving._app import INLINE_BYTES, MAX_BODY_BYTES, Edge, create_app
from weekend.serving._errors import (
    ERROR_STATUS,
    MalformedRequestError,
    PayloadTooLargeError,
    RequestValidationError,
    ServiceBusyError,
    error_body,
    error_response,
    status_for,
)
from weekend.serving._features import MAX_ENTITIES, MAX_FEATURES, feature_routes
from weekend.serving._json import iso_ns
from weekend.serving._middleware import current_request_id
from weekend.serving._pool import WorkPool
from weekend.serving._ray import run_on_ray
from weekend.serving._rows import MAX_ROWS
from weekend.serving._schema import MAX_ERRORS
from weekend.serving._serve import ServeConfig, build_app
from weekend.serving._serve import run as run_service

__all__ = [
    "ERROR_STATUS",
    "INLINE_BYTES",
    "MAX_BODY_BYTES",
    "MAX_ENTITIES",
    "MAX_ERRORS",
    "MAX_FEATURES",
    "MAX_ROWS",
    "Edge",
    "MalformedRequestError",
    "PayloadTooLargeError",
    "RequestValidationError",
    "ServeConfig",
    "ServiceBusyError",
    "WorkPool",
    "build_app",
    "create_app",
    "current_request_id",
    "error_body",
    "error_response",
    "feature_routes",
    "iso_ns",
    "run_on_ray",
    "run_service",
    "status_for",
]
