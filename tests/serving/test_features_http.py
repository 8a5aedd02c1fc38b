"""``POST /v1/features/online`` on the edge: answers, field-naming errors, linear checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _edge import (
    NOW,
    ONLINE,
    TestClient,
    error_of,
    hours,
    local_served,
    local_ws,
    served,
    stats_view,
    ws,
)
from starlette.applications import Starlette
from starlette.routing import Mount

from weekend.core.errors import InvalidValueError
from weekend.serving import MAX_ENTITIES, MAX_FEATURES, create_app, iso_ns
from weekend.workspace import Workspace

__all__ = ["local_served", "local_ws", "served", "ws"]  # fixtures


@pytest.fixture
def client(served: Workspace) -> Iterator[TestClient]:
    """With a SQLite and with a Redis online store."""
    with TestClient(create_app(served)) as test_client:
        yield test_client


@pytest.fixture
def local_client(local_served: Workspace) -> Iterator[TestClient]:
    """With a SQLite online store only (validation does not depend on the store)."""
    with TestClient(create_app(local_served)) as test_client:
        yield test_client


def test_online_features_over_http(client: TestClient) -> None:
    body = {"features": ["driver_stats:trips"], "entities": [{"driver_id": 1}, {"driver_id": 2}]}
    response = client.post(ONLINE, json={**body, "now": NOW})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "features": ["trips"],
        "rows": [{"trips": 3}, {"trips": None}],
        "event_timestamps": {"driver_stats": ["2024-01-01T05:00:00Z", None]},
        "versions": {"driver_stats": 1},
    }
    by_service = client.post(
        ONLINE,
        json={
            "features": "model",
            "entities": {"driver_id": [1]},
            "now": NOW,
            "full_feature_names": True,
        },
    )
    assert by_service.status_code == 200
    assert by_service.json()["rows"] == [{"driver_stats__trips": 3, "driver_stats__rating": 4.8}]
    later = client.post(ONLINE, json={**body, "now": hours(7.5).isoformat()})
    assert later.json()["rows"] == [{"trips": None}, {"trips": None}]  # past the 2h ttl


TRIPS = ["driver_stats:trips"]


@pytest.mark.parametrize(
    ("payload", "status", "kind", "field", "message"),
    [
        (b"{not json", 400, "MalformedRequestError", "body", "not valid JSON"),
        (b"[1, 2]", 400, "MalformedRequestError", "body", "must be a JSON object, got a JSON list"),
        ({"entities": [{"driver_id": 1}]}, 422, "InvalidValueError", "features", "required"),
        ({"features": [], "entities": []}, 422, "InvalidValueError", "features", "non-empty"),
        ({"features": [1], "entities": []}, 422, "InvalidValueError", "features[0]", "JSON int"),
        (
            {"features": ["driver_stats:trips", "driver_stats:trips"], "entities": []},
            422,
            "InvalidValueError",
            "features[1]",
            "again (first at features[0])",
        ),
        ({"features": ["trips"], "entities": []}, 422, "InvalidValueError", "features", "view:"),
        (
            {"features": ["driver_stats:nope"], "entities": []},
            404,
            "NotFoundError",
            "features",
            "unknown feature",
        ),
        (
            {"features": ["nope:x"], "entities": []},
            404,
            "NotFoundError",
            "features",
            "view 'nope' does not exist",
        ),
        (
            {"features": "no_service", "entities": []},
            404,
            "NotFoundError",
            "features",
            "service 'no_service'",
        ),
        ({"features": TRIPS}, 422, "InvalidValueError", "entities", "must be a list of objects"),
        (
            {"features": TRIPS, "entities": [{"driver_id": "1"}]},
            422,
            "InvalidValueError",
            "entities",
            "key 'driver_id' of view 'driver_stats' must be an integer",
        ),
        (
            {"features": TRIPS, "entities": [{"driver_id": 1}, 5]},
            422,
            "InvalidValueError",
            "entities[1]",
            "must be an object",
        ),
        (
            {"features": TRIPS, "entities": [{"driver_id": [1]}]},
            422,
            "InvalidValueError",
            "entities[0].driver_id",
            "must be a string, a number",
        ),
        (
            {"features": TRIPS, "entities": [{"driver_id": 1}, {"driver_id": 2**64 - 1}]},
            422,
            "InvalidValueError",
            "entities[1].driver_id",
            "must be an integer within 64 bits (-2**63 to 2**63-1), got 18446744073709551615",
        ),
        (
            {"features": TRIPS, "entities": {"driver_id": [1, 2**63]}},
            422,
            "InvalidValueError",
            "entities.driver_id[1]",
            "within 64 bits",
        ),
        (
            {"features": TRIPS, "entities": {"driver_id": [1, 2], "x": [1]}},
            422,
            "InvalidValueError",
            "entities.x",
            "one length",
        ),
        (
            {"features": TRIPS, "entities": [{"id": 1}]},
            422,
            "InvalidValueError",
            "entities",
            "has no key 'driver_id'",
        ),
        (
            {"features": TRIPS, "entities": [], "now": "soon"},
            422,
            "InvalidValueError",
            "now",
            "ISO 8601",
        ),
        (
            {"features": TRIPS, "entities": [], "now": "3000-01-01"},
            422,
            "InvalidValueError",
            "now",
            "within the years 1677 to 2262",
        ),
        (
            {"features": TRIPS, "entities": [], "full_feature_names": "yes"},
            422,
            "InvalidValueError",
            "full_feature_names",
            "true or false",
        ),
        (
            {"features": TRIPS, "entities": [{"driver_id": 1}] * (MAX_ENTITIES + 1)},
            413,
            "PayloadTooLargeError",
            "entities",
            f"at most {MAX_ENTITIES} rows",
        ),
        (
            {"features": TRIPS, "entities": {"driver_id": [1] * (MAX_ENTITIES + 1)}},
            413,
            "PayloadTooLargeError",
            "entities",
            f"at most {MAX_ENTITIES} rows",
        ),
        (
            {"features": [f"v:f{i}" for i in range(MAX_FEATURES + 1)], "entities": []},
            413,
            "PayloadTooLargeError",
            "features",
            f"at most {MAX_FEATURES} features",
        ),
    ],
)
def test_bad_requests_name_the_field(
    local_client: TestClient, payload: Any, status: int, kind: str, field: str, message: str
) -> None:
    if isinstance(payload, bytes):
        headers = {"content-type": "application/json"}
        response = local_client.post(ONLINE, content=payload, headers=headers)
    else:
        response = local_client.post(ONLINE, json=payload)
    assert response.status_code == status, response.text
    error = error_of(response.json())
    assert (error["type"], error["field"]) == (kind, field)
    assert message in error["message"]
    assert error["request_id"] == response.headers["x-request-id"]


def test_thirty_thousand_repeated_names_are_one_422(local_client: TestClient) -> None:
    """Issue 9: 30k repeats of one name (210 KB) took 8 s of the event loop (a quadratic
    check); the edge stops at the first repeat, and the domain check counts in one pass."""
    payload = {"features": ["driver_stats:trips"] * 30_000, "entities": [{"driver_id": 1}]}
    response = local_client.post(ONLINE, json=payload)
    assert response.status_code == 422
    error = error_of(response.json())
    assert error["field"] == "features[1]"
    assert "'driver_stats:trips' again (first at features[0])" in error["message"]


class _Name(str):
    """A feature name that counts how often it is compared."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _Name.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_the_domain_duplicate_check_is_linear(local_served: Workspace) -> None:
    names = [_Name("driver_stats:trips") for _ in range(3_000)]
    _Name.compared = 0
    with pytest.raises(InvalidValueError, match=r"features name \['driver_stats:trips'\] more"):
        local_served.features.select(names)
    assert _Name.compared < 10 * len(names)  # a quadratic check compares ~n**2/2 = 4.5M times


def test_an_int64_key_out_of_range_is_refused_in_the_sdk_too(local_served: Workspace) -> None:
    for key in (2**64 - 1, 2**63, -(2**63) - 1):
        with pytest.raises(InvalidValueError, match=r"key 'driver_id' .* within 64 bits"):
            local_served.features.online([{"driver_id": key}], TRIPS)
    edge = local_served.features.online([{"driver_id": 2**63 - 1}, {"driver_id": -(2**63)}], TRIPS)
    assert edge.rows == [{"trips": None}, {"trips": None}]


def test_ten_thousand_entities_are_served(local_client: TestClient) -> None:
    ids = [1 + i % 4 for i in range(MAX_ENTITIES)]
    response = local_client.post(
        ONLINE, json={"features": TRIPS, "entities": {"driver_id": ids}, "now": NOW}
    )
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert len(rows) == MAX_ENTITIES
    assert rows[:4] == [{"trips": 3}, {"trips": None}, {"trips": None}, {"trips": None}]


def test_only_post_is_allowed(local_client: TestClient) -> None:
    response = local_client.get(ONLINE)
    assert response.status_code == 405
    error = error_of(response.json())
    assert error["type"] == "MethodNotAllowed"
    assert response.headers["allow"] == "POST"
    missing = local_client.get("/v1/nope")
    assert missing.status_code == 404
    assert error_of(missing.json())["type"] == "NotFound"


def test_the_app_mounts_in_another_app(ws: Workspace) -> None:
    ws.features.apply([stats_view()])
    outer = Starlette(routes=[Mount("/api", app=create_app(ws))])
    with TestClient(outer) as test_client:
        response = test_client.post(
            "/api/v1/features/online", json={"features": TRIPS, "entities": []}
        )
        assert response.status_code == 200
        assert response.json()["rows"] == []
        bad = test_client.post("/api/v1/features/online", json={"entities": []})
        assert bad.status_code == 422
        assert error_of(bad.json())["field"] == "features"


def test_iso_ns_keeps_nanoseconds() -> None:
    assert iso_ns(None) is None
    assert iso_ns(0) == "1970-01-01T00:00:00Z"
    assert iso_ns(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert iso_ns(1_700_000_000_500_000_000) == "2023-11-14T22:13:20.5Z"
