"""The edge middleware: request ids, timing, the streamed body limit, the last resort.

One pure ASGI middleware wraps every request of an app from :func:`create_app`:

- **request id**: a client's ``X-Request-ID`` is kept when it is well formed (1 to 128 of
  ``A-Z a-z 0-9 . _ : -``, starting with a letter or digit), else a new one is made (32 hex
  digits). It is echoed in the ``X-Request-ID`` response header, in every error body, and is
  readable during the request with :func:`current_request_id` (worker threads of the pool
  see it too);
- **timing**: ``Server-Timing: app;dur=<ms>``, from the request's arrival to its response;
- **body limit**: a ``Content-Length`` above the limit is refused before a byte is read;
  a body without one (chunked) is counted while it streams and refused as soon as it passes
  the limit, so memory stays bounded by the limit whatever the client sends (HTTP 413);
- **errors**: a :class:`WeekendError` becomes its status and the JSON error body; any other
  exception is a bug: HTTP 500 with the request id and a fixed message (never the
  exception's text), and its traceback logged once on the ``weekend.serving`` logger. A
  client that disconnects mid-request is logged at debug level, without a traceback.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from weekend.core.errors import WeekendError
from weekend.serving._errors import (
    PayloadTooLargeError,
    ServiceBusyError,
    error_response,
    weekend_error_response,
)

logger = logging.getLogger("weekend.serving")

_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "weekend_request_id", default=None
)
_WELL_FORMED = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


def current_request_id() -> str | None:
    """The id of the request being served (in its task and in pool threads), else None."""
    return _REQUEST_ID.get()


def _read_headers(scope: Scope) -> tuple[str, int | None]:
    """(the request id, the declared Content-Length or None)."""
    request_id: str | None = None
    length: int | None = None
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if _WELL_FORMED.fullmatch(value):
                request_id = value.decode("ascii")
        elif name == b"content-length" and value.isdigit():
            length = int(value)
    return request_id or uuid.uuid4().hex, length


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the request body is larger than {limit} bytes, the most this service accepts; "
        "send fewer rows per request",
        field="body",
    )


def _last_resort(scope: Scope, request_id: str) -> Response:
    """Log a bug's traceback once; answer 500 with the request id, never the bug's text."""
    logger.exception(
        "unexpected error serving %s %s (request id %s)",
        scope.get("method"),
        scope.get("path"),
        request_id,
    )
    return error_response(
        500,
        "InternalError",
        f"internal error; the server logged it under request id {request_id}",
        request_id=request_id,
    )


class EdgeMiddleware:
    """Request ids, timing, the body limit and the last-resort error handler (see module)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.perf_counter()
        request_id, length = _read_headers(scope)
        token = _REQUEST_ID.set(request_id)
        started = False
        limit = self.max_body_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.append("X-Request-ID", request_id)
                elapsed = (time.perf_counter() - arrived) * 1000
                headers.append("Server-Timing", f"app;dur={elapsed:.3f}")
            await send(message)

        try:
            if length is not None and length > limit:
                raise _too_large(limit)
            await self.app(scope, limited_receive, send_with_headers)
        except WeekendError as exc:
            response = weekend_error_response(exc, request_id)
            if response.status_code >= 500 and not isinstance(exc, ServiceBusyError):
                logger.error("%s (request id %s): %s", type(exc).__name__, request_id, exc)
            if started:
                return
            await response(scope, receive, send_with_headers)
        except ClientDisconnect:
            logger.debug("the client disconnected before its request was read (%s)", request_id)
        except Exception:
            response = _last_resort(scope, request_id)
            if not started:
                await response(scope, receive, send_with_headers)
        finally:
            _REQUEST_ID.reset(token)


__all__ = ["EdgeMiddleware", "current_request_id"]
