"""JSON out: one encoder (orjson) for every response of the edge, and RFC 3339 times."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

_EPOCH = datetime.datetime(1970, 1, 1)


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(data: Any) -> bytes:
    """``data`` as JSON: datetimes in ISO 8601, bytes in base64, numpy scalars as numbers."""
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)


def json_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A response of already encoded JSON (encode in the work pool, send from the loop)."""
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def iso_ns(ns: int | None) -> str | None:
    """RFC 3339 in UTC with up to nanosecond precision."""
    if ns is None:
        return None
    seconds, rest = divmod(ns, 1_000_000_000)
    text = (_EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if rest:
        text += "." + f"{rest:09d}".rstrip("0")
    return text + "Z"


__all__ = ["dumps", "iso_ns", "json_response"]
