"""POST /v1/models/{name}/feedback on the real app: one label or many, stored and joined onto
the prediction log by request id (the predict route's answer) or by row key; every bad body
a 4xx naming its field, an unknown model a 404, nothing stored from a refused request."""

from __future__ import annotations

from typing import Any, cast

import pytest
from _edge import TestClient, error_of
from _served import FEATURES, _flights_template, flights, flights_ws

from weekend.serving import create_app
from weekend.workspace import Workspace

__all__ = ["_flights_template", "flights_ws"]  # fixtures

PREDICT = "/v1/models/flight-delay/predict"
FEEDBACK = "/v1/models/flight-delay/feedback"


def _rows(n: int) -> list[dict[str, Any]]:
    frame = flights(n, 3)[FEATURES]
    frame["origin"] = frame["origin"].astype(str)
    return [
        {**row, "order_id": f"order-{i}"}
        for i, row in enumerate(cast("list[dict[str, Any]]", frame.to_dict("records")))
    ]


def test_labels_join_the_logged_predictions(flights_ws: Workspace) -> None:
    log = flights_ws.predictions.open_log(flush_seconds=3600.0)
    app = create_app(
        flights_ws, models=["flight-delay@champion"], prediction_log=log, row_key="order_id"
    )
    with TestClient(app) as http:
        first = http.post(PREDICT, json=_rows(3), headers={"X-Request-ID": "batch-1"})
        assert first.status_code == 200, first.text
        one = http.post(FEEDBACK, json={"request_id": "batch-1", "row": 2, "label": 1})
        assert one.status_code == 200, one.text
        assert one.json() == {
            "model": "flight-delay",
            "stored": 1,
            "request_id": one.headers["x-request-id"],
        }
        many = http.post(
            FEEDBACK,
            json={
                "items": [
                    {"request_id": "batch-1", "label": 0},
                    {"row_key": "order-1", "label": 1, "ts": "2024-05-02T08:00:00Z"},
                ]
            },
        )
        assert many.json()["stored"] == 2
    log.close()
    rows = flights_ws.predictions.scan("flight-delay").to_pylist()
    assert [(r["request_id"], r["row"], r["row_key"]) for r in rows] == [
        ("batch-1", 0, "order-0"),
        ("batch-1", 1, "order-1"),
        ("batch-1", 2, "order-2"),
    ]
    assert [r["feedback.label"] for r in rows] == [0, 1, 1]
    assert rows[0]["in.carrier"] == _rows(3)[0]["carrier"]
    assert rows[2]["out.prediction"] in (0, 1)


BAD = [
    (b"{not json", 400, "MalformedRequestError", "body"),
    (b"[1, 2]", 400, "MalformedRequestError", "body"),
    ({"label": 1}, 422, "InvalidValueError", "request_id"),
    ({"request_id": "r", "label": None}, 422, "InvalidValueError", "label"),
    ({"request_id": "r", "label": 1, "extra": 2}, 422, "InvalidValueError", "extra"),
    ({"request_id": "r" * 129, "label": 1}, 422, "InvalidValueError", "request_id"),
    ({"items": "all"}, 422, "InvalidValueError", "items"),
    ({"items": [], "label": 1}, 422, "InvalidValueError", "label"),
    ({"items": []}, 422, "InvalidValueError", "items"),
    (
        {"items": [{"row_key": "k", "label": 1}, {"row_key": "k", "label": {"a": 1}}]},
        422,
        "InvalidValueError",
        "items[1].label",
    ),
    ({"items": [{"row_key": "k", "label": 1}] * 10_001}, 413, "PayloadTooLargeError", "items"),
]


@pytest.mark.parametrize(("body", "status", "kind", "field"), BAD)
def test_a_bad_body_is_refused_naming_its_field_and_stores_nothing(
    flights_ws: Workspace, body: Any, status: int, kind: str, field: str
) -> None:
    with TestClient(create_app(flights_ws, models=["flight-delay@champion"])) as http:
        if isinstance(body, bytes):
            answer = http.post(FEEDBACK, content=body)
        else:
            answer = http.post(FEEDBACK, json=body)
    assert answer.status_code == status, answer.text
    error = error_of(answer.json())
    assert (error["type"], error["field"]) == (kind, field)
    assert flights_ws.predictions.labels() == []


def test_an_unknown_or_malformed_model_name(flights_ws: Workspace) -> None:
    with TestClient(create_app(flights_ws, models=["flight-delay@champion"])) as http:
        unknown = http.post("/v1/models/no-such-model/feedback", json={"row_key": "k", "label": 1})
        malformed = http.post("/v1/models/..bad/feedback", json={"row_key": "k", "label": 1})
    assert unknown.status_code == 404
    assert error_of(unknown.json())["type"] == "NotFoundError"
    assert malformed.status_code == 422
    assert error_of(malformed.json())["field"] == "name"
    assert flights_ws.predictions.labels() == []


def test_labels_of_a_model_the_app_does_not_serve_are_stored_too(flights_ws: Workspace) -> None:
    """Feedback is about the registry's models: a process serving one model takes labels for
    another (a label may come long after its model stopped being served)."""
    with TestClient(create_app(flights_ws, models=["flight-delay@champion"])) as http:
        answer = http.post("/v1/models/flight-minutes/feedback", json={"row_key": "k", "label": 7})
    assert answer.status_code == 200, answer.text
    (label,) = flights_ws.predictions.labels("flight-minutes")
    assert (label.row_key, label.label, label.row) == ("k", 7, 0)
