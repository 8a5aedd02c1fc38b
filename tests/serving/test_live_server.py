"""The edge under a real uvicorn server on 127.0.0.1: a slow or huge request never stalls a
concurrent small one, an oversized chunked body is refused while it streams, a client gone
mid-request logs no traceback."""

from __future__ import annotations

import logging
import select
import socket
import threading

import httpx
import orjson
import pytest
from _edge import NOW, ONLINE, LiveServer, error_of, local_served, local_ws, served, ws
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from weekend.serving import MAX_ENTITIES, Edge, create_app
from weekend.workspace import Workspace

__all__ = ["local_served", "local_ws", "served", "ws"]  # fixtures

SMALL = {"features": ["driver_stats:trips"], "entities": [{"driver_id": 1}], "now": NOW}


def _connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=60)


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {data!r:.200}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    lines = head.decode("latin-1").lower().split("\r\n")
    length = int(next(line.split(":", 1)[1] for line in lines if line.startswith("content-length")))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    return status, body


def _post_head(length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {ONLINE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    ).encode()


def test_a_slow_upload_of_10k_entities_does_not_stall_a_small_request(
    served: Workspace,
) -> None:
    """The big request has sent half its body; a small one on another connection is answered
    before the big one is finished, and then the big one is answered in full."""
    ids = [1 + i % 4 for i in range(MAX_ENTITIES)]
    big = orjson.dumps({"features": ["driver_stats:trips"], "entities": {"driver_id": ids}})
    with LiveServer(create_app(served)) as server, _connect(server) as slow:
        slow.sendall(_post_head(len(big)) + big[: len(big) // 2])
        with httpx.Client(base_url=server.url, timeout=60) as http:
            small = http.post(ONLINE, json=SMALL)
            assert small.status_code == 200
            assert small.json()["rows"] == [{"trips": 3}]
        slow.sendall(big[len(big) // 2 :])
        status, body = _read_response(slow)
    assert status == 200
    rows = orjson.loads(body)["rows"]
    assert len(rows) == MAX_ENTITIES


def test_work_in_the_pool_does_not_stall_the_event_loop(local_served: Workspace) -> None:
    """A request held inside the work pool; small requests are answered meanwhile."""
    started, release = threading.Event(), threading.Event()

    def hold() -> str:
        started.set()
        release.wait(60)
        return "released"

    async def slow(request: Request) -> Response:
        edge: Edge = request.app.state.edge
        return JSONResponse(await edge.pool.run(hold))

    app = create_app(local_served, threads=2, routes=[Route("/slow", slow)])
    held: list[httpx.Response] = []
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        worker = threading.Thread(target=lambda: held.append(http.get("/slow")))
        worker.start()
        try:
            assert started.wait(60)
            for _ in range(3):
                small = http.post(ONLINE, json=SMALL)
                assert small.status_code == 200
                assert small.json()["rows"] == [{"trips": 3}]
            assert not held  # the slow request is still held while the small ones finished
        finally:
            release.set()
            worker.join(60)
    assert [(r.status_code, r.json()) for r in held] == [(200, "released")]


def test_an_oversized_chunked_body_is_refused_while_it_streams(local_served: Workspace) -> None:
    limit, chunk = 1024 * 1024, b"x" * 65536
    total = 64 * 1024 * 1024 // len(chunk)  # a 64 MB body, if the server read it all
    sent = 0
    with (
        LiveServer(create_app(local_served, max_body_bytes=limit)) as server,
        _connect(server) as sock,
    ):
        sock.sendall(_post_head(None))
        try:
            while sent < total:
                answered, _, _ = select.select([sock], [], [], 0)
                if answered:
                    break
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += 1
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        status, body = _read_response(sock)
    assert status == 413
    error = error_of(orjson.loads(body))
    assert (error["type"], error["field"]) == ("PayloadTooLargeError", "body")
    assert sent < total  # answered long before the 64 MB were sent


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_a_client_gone_mid_request_logs_no_traceback(
    local_served: Workspace, logs: pytest.LogCaptureFixture
) -> None:
    with LiveServer(create_app(local_served)) as server:
        with _connect(server) as sock:
            sock.sendall(_post_head(1000) + b'{"features": ["driver_stats:trips"], ')
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.post(ONLINE, json=SMALL).status_code == 200
        gone = threading.Event()
        for _ in range(600):  # the server notices the disconnect on its own time
            if any("disconnected" in r.getMessage() for r in logs.records):
                gone.set()
                break
            gone.wait(0.05)
    assert gone.is_set(), [r.getMessage() for r in logs.records]
    assert not [r for r in logs.records if r.exc_info]
    assert not [r for r in logs.records if "Exception in ASGI" in r.getMessage()]


def test_an_unexpected_error_over_the_wire(
    local_served: Workspace, logs: pytest.LogCaptureFixture
) -> None:
    async def boom(request: Request) -> Response:
        raise ZeroDivisionError("secret internals")

    app = create_app(local_served, routes=[Route("/boom", boom)])
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        response = http.get("/boom")
        assert http.post(ONLINE, json=SMALL).status_code == 200  # the server lives on
    assert response.status_code == 500
    error = error_of(response.json())
    assert error["request_id"] == response.headers["x-request-id"]
    assert "secret" not in response.text
    tracebacks = [r for r in logs.records if r.exc_info]
    assert len(tracebacks) == 1
    assert tracebacks[0].name == "weekend.serving"
