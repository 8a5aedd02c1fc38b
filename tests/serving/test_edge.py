"""The edge itself, in process: request ids, timing, the streamed body limit, the one error
table and body, the last-resort 500, client disconnects, the bounded work pool."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from _edge import ONLINE, TestClient, error_of, local_served, local_ws
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from weekend.core import errors
from weekend.core.errors import InvalidValueError, WeekendError
from weekend.serving import (
    ERROR_STATUS,
    Edge,
    ServiceBusyError,
    WorkPool,
    create_app,
    current_request_id,
    status_for,
)
from weekend.workspace import Workspace

__all__ = ["local_served", "local_ws"]  # fixtures

TRIPS = {"features": ["driver_stats:trips"], "entities": [{"driver_id": 1}]}


def _edge_of(request: Request) -> Edge:
    edge: Edge = request.app.state.edge
    return edge


def _make(cls: type[WeekendError]) -> WeekendError:
    if cls is errors.FilterSyntaxError:
        made: WeekendError = errors.FilterSyntaxError("unexpected ')'", "a = )", 4)
        made.field = "filter"
        return made
    if cls is ServiceBusyError:
        return ServiceBusyError("every worker is busy", retry_after=3)
    return cls(f"a {cls.__name__} for the test", field="the_field")


async def _raise(request: Request) -> Response:
    name = request.path_params["name"]
    cls = next(c for c in ERROR_STATUS if c.__name__ == name)
    raise _make(cls)


async def _boom(request: Request) -> Response:
    raise RuntimeError("connection to postgresql://admin:hunter2@db failed")


async def _boom_in_pool(request: Request) -> Response:
    def fail() -> None:
        raise KeyError("internal detail")

    await _edge_of(request).pool.run(fail)
    return Response()


async def _whoami(request: Request) -> Response:
    in_pool = await _edge_of(request).pool.run(current_request_id)
    return JSONResponse({"loop": current_request_id(), "pool": in_pool})


TEST_ROUTES = [
    Route("/raise/{name}", _raise),
    Route("/boom", _boom),
    Route("/boom-in-pool", _boom_in_pool),
    Route("/whoami", _whoami),
]


@pytest.fixture
def app(local_served: Workspace) -> Starlette:
    return create_app(local_served, routes=TEST_ROUTES, max_body_bytes=64 * 1024)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


# -- request ids and timing -----------------------------------------------------------------
def test_a_well_formed_request_id_is_kept_and_echoed(client: TestClient) -> None:
    given = "req-2024.05.01:abc_DEF"
    response = client.get("/whoami", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given
    assert response.json() == {"loop": given, "pool": given}
    error = client.post(ONLINE, json={}, headers={"X-Request-ID": given})
    assert error_of(error.json())["request_id"] == given


@pytest.mark.parametrize("given", ["", "has space", "x" * 129, "-leading-dash", "é", "a/b"])
def test_a_malformed_request_id_is_replaced(client: TestClient, given: str) -> None:
    response = client.get("/whoami", headers={"X-Request-ID": given.encode()})
    made = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert response.json()["loop"] == made


def test_every_request_gets_its_own_id_and_a_timing(client: TestClient) -> None:
    ids = {client.post(ONLINE, json=TRIPS).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    response = client.post(ONLINE, json=TRIPS)
    assert re.fullmatch(r"app;dur=\d+\.\d{3}", response.headers["server-timing"])
    missing = client.get("/nowhere")
    assert "server-timing" in missing.headers
    assert error_of(missing.json())["request_id"] == missing.headers["x-request-id"]


# -- one table, one body ----------------------------------------------------------------------
def test_every_error_class_of_weekend_has_a_status() -> None:
    listed = {getattr(errors, name) for name in errors.__all__}
    missing = sorted(cls.__name__ for cls in listed if cls not in ERROR_STATUS)
    assert not missing, f"give these error classes an HTTP status in ERROR_STATUS: {missing}"


@pytest.mark.parametrize("cls", list(ERROR_STATUS), ids=lambda cls: cls.__name__)
def test_the_error_body_of_every_class_in_the_table(
    client: TestClient, cls: type[WeekendError]
) -> None:
    response = client.get(f"/raise/{cls.__name__}")
    assert response.status_code == ERROR_STATUS[cls]
    error = error_of(response.json())
    assert error["type"] == cls.__name__
    assert error["message"] == str(_make(cls))
    fields = {errors.FilterSyntaxError: "filter", ServiceBusyError: None}
    assert error["field"] == fields.get(cls, "the_field")
    assert error["request_id"] == response.headers["x-request-id"]
    assert response.headers["content-type"] == "application/json"
    if cls is ServiceBusyError:
        assert response.headers["retry-after"] == "3"


def test_a_subclass_takes_the_status_of_its_nearest_listed_parent() -> None:
    class Custom(errors.NotFoundError):
        pass

    class Deeper(errors.DataValidationError):
        pass

    assert status_for(Custom("x")) == 404
    assert status_for(Deeper("x")) == 422
    assert status_for(errors.CatalogVersionError("x")) == 503


# -- the last resort ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/boom", "/boom-in-pool"])
def test_an_unexpected_error_is_a_500_with_the_request_id_logged_once(
    client: TestClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.get(path, headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 500
    error = error_of(response.json())
    assert error == {
        "type": "InternalError",
        "message": "internal error; the server logged it under request id trace-me",
        "field": None,
        "request_id": "trace-me",
    }
    assert "hunter2" not in response.text
    assert "internal detail" not in response.text
    with_traceback = [r for r in caplog.records if r.exc_info]
    assert len(with_traceback) == 1
    [record] = with_traceback
    assert record.name == "weekend.serving"
    assert "trace-me" in record.getMessage()
    assert path in record.getMessage()


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


class _Client:
    """Drives the ASGI app directly: feeds body chunks on demand, keeps what is sent back."""

    def __init__(self, chunks: Iterator[dict[str, Any]]) -> None:
        self.chunks = chunks
        self.pulled = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.pulled += 1
        return next(self.chunks)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def call(self, app: Starlette, scope: dict[str, Any]) -> None:
        asyncio.run(app(scope, self.receive, self.send))  # type: ignore[arg-type]
        app.state.edge.pool.close()

    @property
    def status(self) -> int:
        [start] = [m for m in self.sent if m["type"] == "http.response.start"]
        return int(start["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


CHUNK = 64 * 1024


def _chunked(total: int) -> Iterator[dict[str, Any]]:
    for sent in range(0, total, CHUNK):
        yield {"type": "http.request", "body": b" " * CHUNK, "more_body": sent + CHUNK < total}


def test_a_64_mb_chunked_body_is_refused_while_it_streams(app: Starlette) -> None:
    client = _Client(_chunked(64 * 1024 * 1024))  # 1024 chunks, no Content-Length
    client.call(app, _scope(ONLINE, [(b"transfer-encoding", b"chunked")]))
    assert client.status == 413
    error = error_of(orjson.loads(client.body))
    assert (error["type"], error["field"]) == ("PayloadTooLargeError", "body")
    assert "larger than 65536 bytes" in error["message"]
    assert client.pulled == 2  # 64 KiB fit the limit, the second chunk passes it: no more read


def test_a_declared_content_length_over_the_limit_is_refused_before_reading(
    app: Starlette,
) -> None:
    client = _Client(_chunked(64 * 1024 * 1024))
    client.call(app, _scope(ONLINE, [(b"content-length", str(64 * 1024 * 1024).encode())]))
    assert client.status == 413
    assert client.pulled == 0


def test_a_body_at_the_limit_is_read(client: TestClient) -> None:
    body = b'{"features": ["driver_stats:trips"], "entities": []}'
    padded = body[:-1] + b" " * (64 * 1024 - len(body)) + b"}"
    assert client.post(ONLINE, content=padded).status_code == 200
    over = client.post(ONLINE, content=padded + b" ")
    assert over.status_code == 413


def test_a_client_gone_mid_body_logs_no_traceback(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"features": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    client = _Client(iter(messages))
    client.call(app, _scope(ONLINE, [(b"x-request-id", b"gone")]))
    assert client.sent == []  # nobody to answer
    assert not [r for r in caplog.records if r.exc_info]
    assert any(
        "disconnected" in r.getMessage() and "gone" in r.getMessage() for r in caplog.records
    )


# -- the work pool ------------------------------------------------------------------------------
@pytest.fixture
def held_pool() -> Iterator[tuple[threading.Event, threading.Event, Route]]:
    """A route whose request holds a worker until released: (started, release, route)."""
    started, release = threading.Event(), threading.Event()

    def hold() -> str:
        started.set()
        release.wait(60)
        return "done"

    async def slow(request: Request) -> Response:
        return JSONResponse(await _edge_of(request).pool.run(hold))

    yield started, release, Route("/slow", slow)
    release.set()


@pytest.mark.parametrize("inline_bytes", [0, 1024])
def test_a_full_pool_answers_503_with_retry_after(
    local_served: Workspace,
    held_pool: tuple[threading.Event, threading.Event, Route],
    inline_bytes: int,
) -> None:
    """Feature requests run in the pool, but for a small body on local stores (SQLite
    catalog and online store) when ``inline_bytes`` allows it."""
    started, release, route = held_pool
    app = create_app(local_served, threads=1, queue=0, inline_bytes=inline_bytes, routes=[route])
    big = {**TRIPS, "entities": [{"driver_id": 1, "pad": "x" * 2000}]}
    with TestClient(app) as client:
        results: list[int] = []
        worker = threading.Thread(target=lambda: results.append(client.get("/slow").status_code))
        worker.start()
        assert started.wait(60)
        small = client.post(ONLINE, json=TRIPS)
        large = client.post(ONLINE, json=big)
        release.set()
        worker.join(60)
        after = client.post(ONLINE, json=big)
    assert small.status_code == (503 if inline_bytes == 0 else 200)
    assert large.status_code == 503
    assert large.headers["retry-after"] == "1"
    error = error_of(large.json())
    assert error["type"] == "ServiceBusyError"
    assert "1 workers are running and 0 requests are waiting" in error["message"]
    assert results == [200]
    assert after.status_code == 200


def test_the_pool_admits_threads_plus_queue_tasks() -> None:
    pool = WorkPool(threads=1, queue=1)
    started, release = threading.Event(), threading.Event()

    def hold() -> int:
        started.set()
        release.wait(60)
        return 1

    try:
        running = pool.submit(hold)
        assert started.wait(60)
        waiting = pool.submit(lambda: 2)
        assert pool.admitted == 2
        with pytest.raises(ServiceBusyError, match="1 workers are running and 1 requests"):
            pool.submit(lambda: 3)
        assert waiting.cancel()  # a waiting task given up frees its slot at once
        assert pool.admitted == 1
        third = pool.submit(lambda: 3)
        release.set()
        assert (running.result(60), third.result(60)) == (1, 3)
        assert pool.admitted == 0
    finally:
        release.set()
        pool.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threads": 0}, "threads must be an integer >= 1, got 0"),
        ({"queue": -1}, "queue must be an integer >= 0"),
        ({"threads": 2.0}, "threads must be an integer"),
        ({"retry_after": 0}, "retry_after must be an integer >= 1"),
    ],
)
def test_pool_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValueError, match=re.escape(message)):
        WorkPool(**kwargs)


def test_create_app_checks_the_body_limit(local_ws: Workspace) -> None:
    with pytest.raises(InvalidValueError, match="max_body_bytes must be an integer >= 1, got 0"):
        create_app(local_ws, max_body_bytes=0)
    with pytest.raises(InvalidValueError, match="inline_bytes must be an integer >= 0, got -1"):
        create_app(local_ws, inline_bytes=-1)


def test_the_public_names_are_complete() -> None:
    """``weekend.serving.__all__`` lists every public name once (ruff's RUF022 sorts it)."""
    import weekend.serving as serving

    assert len(serving.__all__) == len(set(serving.__all__))
    modules = (type(serving), type(annotations))
    public = {n for n, v in vars(serving).items() if not n.startswith("_")}
    public -= {n for n, v in vars(serving).items() if isinstance(v, modules)}
    assert public == set(serving.__all__)
