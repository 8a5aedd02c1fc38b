"""Shared by the HTTP edge tests: the driver-stats project of the feature store tests,
applied and materialized, and a uvicorn server on loopback (import the fixtures into a test
module: ``from _edge import served``)."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from feature_project import hours, local_ws, stats_view, ws

with warnings.catch_warnings():  # starlette >= 1.10 prefers httpx2 but works with httpx
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from weekend.features import FeatureService
from weekend.workspace import Workspace

__all__ = [
    "NOW",
    "ONLINE",
    "LiveServer",
    "TestClient",
    "error_of",
    "hours",
    "local_served",
    "local_ws",
    "served",
    "stats_view",
    "ws",
]

NOW = hours(6).isoformat()
ONLINE = "/v1/features/online"


def serve_features(ws: Workspace) -> Workspace:
    """Apply the driver-stats view (and a service over it) and materialize it until h6."""
    ws.features.apply([stats_view(), FeatureService("model", ["driver_stats:*"])])
    ws.features.materialize(end=hours(6))
    return ws


@pytest.fixture
def served(ws: Workspace) -> Workspace:
    """With a SQLite and with a Redis online store."""
    return serve_features(ws)


@pytest.fixture
def local_served(local_ws: Workspace) -> Workspace:
    """With a SQLite online store only (validation does not depend on the store)."""
    return serve_features(local_ws)


def error_of(body: Any) -> dict[str, Any]:
    """The error of a JSON error body, after checking the body's shape."""
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) - {"errors"} == {"type", "message", "field", "request_id"}, error
    for item in error.get("errors", []):  # per-field errors (422 from a signature check)
        assert set(item) == {"field", "message"}, item
    assert isinstance(error["type"], str)
    assert isinstance(error["message"], str)
    assert error["field"] is None or isinstance(error["field"], str)
    assert isinstance(error["request_id"], str)
    return error


class LiveServer:
    """A uvicorn server for ``app`` on 127.0.0.1 (an ephemeral port), in a thread."""

    def __init__(self, app: Starlette) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # log_config=None: uvicorn leaves logging alone, so its records reach caplog
        config = uvicorn.Config(app, log_level="info", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start within 30 s"
            assert self.thread.is_alive(), "the server thread died"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
        assert not self.thread.is_alive(), "the server did not stop"
