"""``POST /v1/features/online``: in process (TestClient) and over loopback (uvicorn)."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from feature_project import hours, local_ws, stats_view, ws
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.routing import Mount

with warnings.catch_warnings():  # starlette >= 1.10 prefers httpx2 but works with httpx
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient
from weekend.features import FeatureService
from weekend.features._http import MAX_ROWS, create_features_app, feature_routes, iso_ns
from weekend.workspace import Workspace

__all__ = ["local_ws", "ws"]  # fixtures

URL = "/v1/features/online"
NOW = hours(6).isoformat()


def _client(ws: Workspace) -> Iterator[TestClient]:
    ws.features.apply([stats_view(), FeatureService("model", ["driver_stats:*"])])
    ws.features.materialize(end=hours(6))
    with TestClient(create_features_app(ws), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def client(ws: Workspace) -> Iterator[TestClient]:
    """With a SQLite and with a Redis online store."""
    yield from _client(ws)


@pytest.fixture
def local_client(local_ws: Workspace) -> Iterator[TestClient]:
    """With a SQLite online store only (validation does not depend on the store)."""
    yield from _client(local_ws)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"type", "field", "reason"}
    return error


def test_online_features_over_http(client: TestClient) -> None:
    body = {"features": ["driver_stats:trips"], "entities": [{"driver_id": 1}, {"driver_id": 2}]}
    response = client.post(URL, json={**body, "now": NOW})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "features": ["trips"],
        "rows": [{"trips": 3}, {"trips": None}],
        "event_timestamps": {"driver_stats": ["2024-01-01T05:00:00Z", None]},
        "versions": {"driver_stats": 1},
    }
    by_service = client.post(
        URL,
        json={
            "features": "model",
            "entities": {"driver_id": [1]},
            "now": NOW,
            "full_feature_names": True,
        },
    )
    assert by_service.status_code == 200
    assert by_service.json()["rows"] == [{"driver_stats__trips": 3, "driver_stats__rating": 4.8}]
    later = client.post(URL, json={**body, "now": hours(7.5).isoformat()})
    assert later.json()["rows"] == [{"trips": None}, {"trips": None}]  # past the 2h ttl


@pytest.mark.parametrize(
    ("payload", "status", "field", "reason"),
    [
        (b"{not json", 400, "body", "not valid JSON"),
        (b"[1, 2]", 400, "body", "must be a JSON object"),
        ({"entities": [{"driver_id": 1}]}, 422, "features", "required"),
        ({"features": [1], "entities": []}, 422, "features", "non-empty list"),
        ({"features": ["trips"], "entities": []}, 422, "features", "must be 'view:feature'"),
        ({"features": ["driver_stats:nope"], "entities": []}, 404, "features", "unknown feature"),
        ({"features": ["nope:x"], "entities": []}, 404, "features", "view 'nope' does not exist"),
        ({"features": "no_service", "entities": []}, 404, "features", "service 'no_service'"),
        ({"features": ["driver_stats:trips"]}, 422, "entities", "must be a list of objects"),
        (
            {"features": ["driver_stats:trips"], "entities": [{"driver_id": "1"}]},
            422,
            "entities",
            "key 'driver_id' of view 'driver_stats' must be an integer",
        ),
        (
            {"features": ["driver_stats:trips"], "entities": [{"driver_id": 1}, 5]},
            422,
            "entities[1]",
            "must be an object",
        ),
        (
            {"features": ["driver_stats:trips"], "entities": [{"driver_id": [1]}]},
            422,
            "entities[0].driver_id",
            "must be a string, a number",
        ),
        (
            {"features": ["driver_stats:trips"], "entities": [{"id": 1}]},
            422,
            "entities",
            "has no key 'driver_id'",
        ),
        (
            {"features": ["driver_stats:trips"], "entities": [], "now": "soon"},
            422,
            "now",
            "ISO 8601",
        ),
        (
            {"features": ["driver_stats:trips"], "entities": [], "now": "3000-01-01"},
            422,
            "now",
            "within the years 1677 to 2262",
        ),
        (
            {"features": ["driver_stats:trips"], "entities": [], "full_feature_names": "yes"},
            422,
            "full_feature_names",
            "true or false",
        ),
        (
            {"features": ["driver_stats:trips"], "entities": [{"driver_id": 1}] * (MAX_ROWS + 1)},
            413,
            "entities",
            f"at most {MAX_ROWS} rows",
        ),
    ],
)
def test_bad_requests_name_the_field(
    local_client: TestClient, payload: Any, status: int, field: str, reason: str
) -> None:
    if isinstance(payload, bytes):
        headers = {"content-type": "application/json"}
        response = local_client.post(URL, content=payload, headers=headers)
    else:
        response = local_client.post(URL, json=payload)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["field"] == field
    assert reason in error["reason"]


def test_only_post_is_allowed(local_client: TestClient) -> None:
    assert local_client.get(URL).status_code == 405


def test_routes_mount_in_another_app(ws: Workspace) -> None:
    ws.features.apply([stats_view()])
    app = Starlette(routes=[Mount("/api", routes=feature_routes(ws))])
    with TestClient(app) as test_client:
        response = test_client.post(
            "/api/v1/features/online", json={"features": ["driver_stats:trips"], "entities": []}
        )
    assert response.status_code == 200
    assert response.json()["rows"] == []


def test_iso_ns_keeps_nanoseconds() -> None:
    assert iso_ns(None) is None
    assert iso_ns(0) == "1970-01-01T00:00:00Z"
    assert iso_ns(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert iso_ns(1_700_000_000_500_000_000) == "2023-11-14T22:13:20.5Z"


def test_a_real_server_on_loopback(ws: Workspace) -> None:
    import uvicorn

    ws.features.apply([stats_view()])
    ws.features.materialize(end=hours(6))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_features_app(ws), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start within 20 s"
            assert thread.is_alive(), "the server thread died"
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            ok = http.post(
                URL,
                json={
                    "features": ["driver_stats:trips"],
                    "entities": [{"driver_id": 1}],
                    "now": NOW,
                },
            )
            assert ok.status_code == 200
            assert ok.json()["rows"] == [{"trips": 3}]
            bad = http.post(
                URL, json={"features": ["driver_stats:trips"], "entities": [{"driver_id": 1.5}]}
            )
            assert bad.status_code == 422
            assert error_of(bad)["field"] == "entities"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
    assert not thread.is_alive()
