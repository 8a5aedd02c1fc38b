"""Canary (a stable share of request keys: a routing header, a declared row key, else the
request id) and shadow (scored off the request path, logged with route "shadow", never
returned)."""

from __future__ import annotations

import time
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from _edge import TestClient
from _served import FEATURES, ListLog, _flights_template, flights, flights_ws

from weekend.core.errors import InvalidValueError
from weekend.serving import create_app
from weekend.serving._models import bucket, parse_canary
from weekend.workspace import Workspace

__all__ = ["_flights_template", "flights_ws"]  # fixtures

PREDICT = "/v1/models/flight-delay/predict"


def _row(seed: int = 3) -> dict[str, Any]:
    frame = flights(1, seed)[FEATURES].astype({"origin": str})
    record = cast("dict[str, Any]", frame.to_dict("records")[0])
    return record


def test_the_canary_takes_a_stable_share_of_routing_keys(flights_ws: Workspace) -> None:
    app = create_app(flights_ws, models=["flight-delay@champion"], canary=["challenger=30%"])
    keys = [f"customer-{i}" for i in range(100)]
    with TestClient(app) as http:
        first = {
            k: http.post(PREDICT, json=[_row()], headers={"X-Routing-Key": k}).json() for k in keys
        }
        again = {
            k: http.post(PREDICT, json=[_row()], headers={"X-Routing-Key": k}).json()
            for k in keys[:20]
        }
        explicit = http.post(
            "/v1/models/flight-delay@champion/predict",
            json=[_row()],
            headers={"X-Routing-Key": next(k for k in keys if bucket(k) < 0.3)},
        ).json()
    for key, body in first.items():
        canary = bucket(key) < 0.3
        assert body["route"] == ("canary" if canary else "primary")
        assert (body["version"], body["alias"]) == (
            (2, "challenger") if canary else (1, "champion")
        )
    assert all(again[k]["version"] == first[k]["version"] for k in again)
    share = sum(body["route"] == "canary" for body in first.values()) / len(keys)
    assert 0.15 < share < 0.45  # fixed keys: this share is the same on every run
    assert explicit["route"] == "primary"  # name@alias is never split
    assert explicit["version"] == 1


def test_the_declared_row_key_else_the_request_id_decides(flights_ws: Workspace) -> None:
    app = create_app(
        flights_ws, models=["flight-delay@champion"], canary=["challenger=50%"], row_key="flight_id"
    )
    ids = list(range(40))
    with TestClient(app) as http:
        by_row = [http.post(PREDICT, json=[{**_row(), "flight_id": i}]).json() for i in ids]
        by_id = [
            http.post(PREDICT, json=[_row()], headers={"X-Request-ID": f"r{i}"}).json() for i in ids
        ]
    assert [b["route"] == "canary" for b in by_row] == [bucket(str(i)) < 0.5 for i in ids]
    assert [b["route"] == "canary" for b in by_id] == [bucket(f"r{i}") < 0.5 for i in ids]


def test_the_shadow_is_logged_and_never_returned(flights_ws: Workspace) -> None:
    log = ListLog()
    app = create_app(
        flights_ws, models=["flight-delay@champion"], shadow=["challenger"], prediction_log=log
    )
    rows = [_row(seed) for seed in range(3)]
    challenger = flights_ws.models.load("flight-delay@challenger")
    with TestClient(app) as http:
        answers = [http.post(PREDICT, json=[row]).json() for row in rows]
        deadline = time.monotonic() + 60
        while sum(r["route"] == "shadow" for r in log.records) < 3:
            assert time.monotonic() < deadline, "the shadow never scored"
            time.sleep(0.01)
        metrics = http.get("/metrics").text
    assert all(a["route"] == "primary" and a["version"] == 1 for a in answers)
    shadow = [r for r in log.records if r["route"] == "shadow"]
    primary = [r for r in log.records if r["route"] == "primary"]
    assert len(primary) == 3
    assert {r["version"] for r in shadow} == {2}
    assert {r["alias"] for r in shadow} == {"challenger"}
    assert sorted(r["request_id"] for r in shadow) == sorted(a["request_id"] for a in answers)
    by_request = {r["request_id"]: r for r in shadow}
    for row, answer in zip(rows, answers, strict=True):
        expected = challenger.predict_proba(pd.DataFrame([row]))[0, 1]
        np.testing.assert_allclose(by_request[answer["request_id"]]["out.proba.1"], expected)
    assert (
        'weekend_predictions_total{model="flight-delay",route="shadow",version="2"} 3.0' in metrics
    )


def test_a_failing_shadow_never_fails_the_request(flights_ws: Workspace) -> None:
    log = ListLog()
    app = create_app(
        flights_ws, models=["flight-delay@champion"], shadow=["challenger"], prediction_log=log
    )
    row = {**_row(), "distance": None}  # the primary refuses it (422); the shadow never runs
    with TestClient(app) as http:
        refused = http.post(PREDICT, json=[row])
        metrics = http.get("/metrics").text
    assert refused.status_code == 422
    assert log.records == []
    assert "weekend_predictions_total{" not in metrics


@pytest.mark.parametrize(
    ("text", "expected"),
    [("challenger=10%", (None, "challenger", 0.1)), ("m@c=100", ("m", "c", 1.0))],
)
def test_canary_specs(text: str, expected: tuple[Any, ...]) -> None:
    assert parse_canary(text) == expected


@pytest.mark.parametrize("text", ["challenger", "challenger=0%", "c=101%", "=5%", "c=x%"])
def test_bad_canary_specs_say_the_form(text: str) -> None:
    with pytest.raises(InvalidValueError, match=r"canary must be \[NAME@\]ALIAS=PERCENT"):
        parse_canary(text)


def test_canary_and_shadow_of_an_unserved_model_are_refused(flights_ws: Workspace) -> None:
    with pytest.raises(InvalidValueError, match="'other' is not a model this service serves"):
        create_app(flights_ws, models=["flight-delay@champion"], shadow=["other@challenger"])
    with pytest.raises(InvalidValueError, match="name the model of the canary"):
        create_app(
            flights_ws,
            models=["flight-delay@champion", "flight-minutes@prod"],
            canary=["challenger=5%"],
        )
    with pytest.raises(InvalidValueError, match=r"serve a version \(name/3\) or an alias"):
        create_app(flights_ws, models=["flight-delay"])


def test_micro_batched_requests_answer_like_the_model(flights_ws: Workspace) -> None:
    """With batch_wait_ms, requests to a compiled model go through its micro-batcher: under
    concurrent load every answer is its own rows' prediction, and errors stay per request."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from _edge import LiveServer

    app = create_app(flights_ws, models=["flight-delay@champion"], batch_wait_ms=1.0)
    model = flights_ws.models.load("flight-delay@champion")
    bodies = [[_row(seed)] for seed in range(40)]
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:

        def post(body: list[dict[str, Any]]) -> Any:
            return http.post(PREDICT, json=body)

        with ThreadPoolExecutor(8) as threads:
            answers = list(threads.map(post, bodies))
        refused = http.post(PREDICT, json=[{**_row(), "dep_hour": "x"}])
    assert refused.status_code == 422
    service = app.state.predictions
    ((_, batcher),) = service._batchers.values()
    assert batcher.items == len(bodies)  # every request went through the batcher
    for body, answer in zip(bodies, answers, strict=True):
        assert answer.status_code == 200, answer.text
        expected = model.predict_proba(pd.DataFrame(body))
        np.testing.assert_allclose(answer.json()["probabilities"], expected, atol=1e-9)
