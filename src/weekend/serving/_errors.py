"""One table from weekend's error classes to HTTP statuses, and one JSON error body.

Every error the edge answers has the same body::

    {"error": {"type": "InvalidValueError", "message": "entity row 3: key 'driver_id' ...",
               "field": "entities[3].driver_id", "request_id": "7f9c..."}}

``type`` is the class name, ``field`` the input at fault (``null`` when the error is not about
one field), ``request_id`` the request's id (also in the ``X-Request-ID`` header). The status
comes from :data:`ERROR_STATUS`, looked up along the class's MRO, so a subclass added later
gets its parent's status until it is given its own. Anything else a handler raises is a bug:
the last-resort handler answers 500 with the request id only (see ``_middleware``).
"""

from __future__ import annotations

import http
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from starlette.responses import Response

from weekend.core.errors import (
    CatalogVersionError,
    ConfigurationError,
    ConflictError,
    DataValidationError,
    FilterSyntaxError,
    IntegrityError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    ParamConflictError,
    UnsafeModelError,
    UserCodeError,
    UserInputError,
    WeekendError,
)
from weekend.serving._json import dumps, json_response


class MalformedRequestError(UserInputError):
    """A request body that is not JSON, or not a JSON object (HTTP 400)."""


class PayloadTooLargeError(UserInputError):
    """A body, or a list in it, larger than the edge accepts (HTTP 413)."""


class RequestValidationError(DataValidationError):
    """Rows that do not match a model's signature (HTTP 422), with one entry per bad field.

    ``errors`` lists ``{"field": "rows[3].distance", "message": "..."}``; the error body
    carries it beside the usual keys.
    """

    def __init__(
        self, message: str, errors: list[dict[str, str]] | None = None, *, field: str | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.errors: list[dict[str, str]] = errors or []


class ServiceBusyError(WeekendError):
    """Every worker is busy and the queue is full: retry after ``retry_after`` seconds (503)."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationError(WeekendError):
    """No valid token: missing, malformed, unknown, expired or revoked (HTTP 401)."""


class PermissionDeniedError(WeekendError):
    """A valid token without the role the route needs (HTTP 403)."""


ERROR_STATUS: Mapping[type[WeekendError], int] = MappingProxyType(
    {
        # raised by the edge itself
        MalformedRequestError: 400,
        PayloadTooLargeError: 413,
        RequestValidationError: 422,
        ServiceBusyError: 503,
        AuthenticationError: 401,
        PermissionDeniedError: 403,
        # the request is wrong: the client can fix it
        UserInputError: 422,
        InvalidNameError: 422,
        InvalidValueError: 422,
        FilterSyntaxError: 422,
        ParamConflictError: 422,
        DataValidationError: 422,
        UserCodeError: 422,  # an on-demand function failed on the request's values
        NotFoundError: 404,
        ConflictError: 409,
        # the service cannot answer as configured: the operator can fix it
        ConfigurationError: 503,
        CatalogVersionError: 503,
        UnsafeModelError: 503,
        IntegrityError: 500,
        WeekendError: 500,
    }
)
"""HTTP status of each of weekend's error classes (the first class of the MRO listed wins)."""


def status_for(exc: WeekendError) -> int:
    """The HTTP status of ``exc`` from :data:`ERROR_STATUS`."""
    for cls in type(exc).__mro__:
        status = ERROR_STATUS.get(cls)  # type: ignore[call-overload]
        if status is not None:
            return int(status)
    return 500  # pragma: no cover - WeekendError itself is in the table


def error_body(
    kind: str,
    message: str,
    field: str | None,
    request_id: str | None,
    errors: list[dict[str, str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The one error body of the edge (``errors``: per-field problems, when there are)."""
    error: dict[str, Any] = {
        "type": kind,
        "message": message,
        "field": field,
        "request_id": request_id,
    }
    if errors is not None:
        error["errors"] = errors
    return {"error": error}


def error_response(
    status: int,
    kind: str,
    message: str,
    *,
    field: str | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> Response:
    """A JSON error response with the body of :func:`error_body`."""
    body = dumps(error_body(kind, message, field, request_id, errors))
    return json_response(body, status, headers)


def weekend_error_response(exc: WeekendError, request_id: str | None) -> Response:
    """The response for a weekend error: status from the table, the error's own message."""
    headers = None
    if isinstance(exc, ServiceBusyError):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, AuthenticationError):
        headers = {"WWW-Authenticate": 'Bearer realm="weekend"'}
    return error_response(
        status_for(exc),
        type(exc).__name__,
        str(exc),
        field=exc.field,
        request_id=request_id,
        headers=headers,
        errors=getattr(exc, "errors", None),
    )


def http_error_response(
    status: int, detail: str | None, request_id: str | None, headers: Mapping[str, str] | None
) -> Response:
    """Routing errors (404 no such route, 405 wrong method) in the same body."""
    phrase = http.HTTPStatus(status).phrase
    kind = phrase.title().replace(" ", "").replace("-", "")
    return error_response(status, kind, detail or phrase, request_id=request_id, headers=headers)


__all__ = [
    "ERROR_STATUS",
    "AuthenticationError",
    "MalformedRequestError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RequestValidationError",
    "ServiceBusyError",
    "error_body",
    "error_response",
    "http_error_response",
    "status_for",
    "weekend_error_response",
]
