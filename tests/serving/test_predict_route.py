"""POST /v1/models/{name}/predict: the body forms, the answer, several models by alias, and
every kind of bad input answered with its status and per-field errors (never a 500)."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import numpy as np
import orjson
import pandas as pd
import pytest
from _edge import TestClient, error_of
from _served import FEATURES, ListLog, _flights_template, flight_model, flights, flights_ws

from weekend.registry import Signature, infer_signature
from weekend.serving import MAX_ROWS, create_app
from weekend.workspace import Workspace

__all__ = ["_flights_template", "flights_ws"]  # fixtures

PREDICT = "/v1/models/flight-delay/predict"


def _client(ws: Workspace, **options: Any) -> TestClient:
    return TestClient(create_app(ws, models=["flight-delay@champion"], **options))


def _rows(n: int = 3, seed: int = 11) -> list[dict[str, Any]]:
    frame = flights(n, seed)[FEATURES]
    frame["origin"] = frame["origin"].astype(str)
    return cast("list[dict[str, Any]]", frame.to_dict("records"))


def test_records_rows_and_columns_answer_what_the_model_predicts_in_process(
    flights_ws: Workspace,
) -> None:
    rows = _rows(5)
    model = flights_ws.models.load("flight-delay@champion")
    expected = model.predict_proba(pd.DataFrame(rows))
    columns = {"columns": FEATURES, "data": [[r[c] for c in FEATURES] for r in rows]}
    with _client(flights_ws) as http:
        answers = [
            http.post(PREDICT, json=rows),
            http.post(PREDICT, json={"rows": rows}),
            http.post(PREDICT, json=columns),
        ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"] == "flight-delay"
        assert body["version"] == 1
        assert body["alias"] == "champion"
        assert body["route"] == "primary"
        assert body["request_id"] == answer.headers["x-request-id"]
        assert body["classes"] == [0, 1]
        np.testing.assert_allclose(body["probabilities"], expected, rtol=1e-12)
        assert body["predictions"] == model.predict(pd.DataFrame(rows)).tolist()


def test_several_models_and_aliases_in_one_process(flights_ws: Workspace) -> None:
    app = create_app(
        flights_ws,
        models=["flight-delay@champion", "flight-delay@challenger", "flight-minutes@prod"],
    )
    rows = _rows(2)
    with TestClient(app) as http:
        champion = http.post(PREDICT, json=rows).json()
        challenger = http.post("/v1/models/flight-delay@challenger/predict", json=rows).json()
        explicit = http.post("/v1/models/flight-delay@champion/predict", json=rows).json()
        minutes = http.post("/v1/models/flight-minutes/predict", json=rows).json()
    assert (champion["version"], challenger["version"], explicit["version"]) == (1, 2, 1)
    assert challenger["alias"] == "challenger"
    regressor = flights_ws.models.load("flight-minutes@prod")
    np.testing.assert_allclose(minutes["predictions"], regressor.predict(pd.DataFrame(rows)))
    assert "probabilities" not in minutes
    assert "classes" not in minutes


@pytest.mark.parametrize(
    "path",
    ["/v1/models/nope/predict", "/v1/models/flight-delay@nope/predict",
     "/v1/models/flight-minutes/predict"],
)  # fmt: skip
def test_an_unknown_model_or_alias_is_a_404_naming_what_is_served(
    flights_ws: Workspace, path: str
) -> None:
    with _client(flights_ws) as http:
        answer = http.post(path, json=_rows(1))
    assert answer.status_code == 404
    error = error_of(answer.json())
    assert error["type"] == "NotFoundError"
    assert "flight-delay" in error["message"]


def test_oversize_bodies_and_row_counts_are_413(flights_ws: Workspace) -> None:
    row = _rows(1)[0]
    with _client(flights_ws, max_body_bytes=64 * 1024) as http:
        big = http.post(PREDICT, json=[row] * 2000)
        assert big.status_code == 413
        assert error_of(big.json())["field"] == "body"
    with _client(flights_ws) as http:
        many = http.post(PREDICT, json={"columns": ["dep_hour"], "data": [[1]] * (MAX_ROWS + 1)})
    assert many.status_code == 413
    assert error_of(many.json())["field"] == "data"


def _errors(answer: Any) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    error = error_of(answer.json())
    assert error["type"] == "RequestValidationError"
    return {item["field"]: item["message"] for item in error["errors"]}


def test_every_bad_field_is_named_in_one_422(flights_ws: Workspace) -> None:
    good = _rows(1)[0]
    rows = [
        {**good, "distance": "far"},  # wrong type
        {**good, "dep_hour": 7.5},  # not an integer
        {k: v for k, v in good.items() if k != "carrier"},  # missing
        {**good, "origin": "SFO"},  # unknown category
        {**good, "dep_hour": None},  # null in a non-nullable column
        {**good, "carrier": ["AA"]},  # not a scalar
        {**good, "dep_hour": 2**63},  # beyond int64
    ]
    with _client(flights_ws) as http:
        errors = _errors(http.post(PREDICT, json=rows))
    assert errors["rows[0].distance"] == "must be float (float64), got a string 'far'"
    assert errors["rows[1].dep_hour"] == "must be int (int64), got a number 7.5"
    assert errors["rows[2].carrier"].startswith("missing column 'carrier'")
    assert errors["rows[3].origin"].startswith("unknown category 'SFO'")
    assert "'EWR', 'JFK', 'LGA'" in errors["rows[3].origin"]
    assert errors["rows[4].dep_hour"].startswith("must not be null")
    assert errors["rows[5].carrier"] == "must be string (str), got a JSON list ['AA']"
    assert errors["rows[6].dep_hour"] == f"must be an integer within int64, got {2**63}"
    assert len(errors) == 7


def test_a_column_no_row_has_is_one_error(flights_ws: Workspace) -> None:
    rows = [{k: v for k, v in r.items() if k != "distance"} for r in _rows(3)]
    with _client(flights_ws) as http:
        answer = http.post(PREDICT, json={"columns": ["carrier"], "data": [["AA"]]})
        errors = _errors(http.post(PREDICT, json=rows))
    assert errors == {
        "rows[*].distance": "missing column 'distance' (float (float64)): no row has it"
    }
    assert set(_errors(answer)) == {"data[*].origin", "data[*].distance", "data[*].dep_hour"}


def test_at_most_max_errors_are_listed_and_the_message_counts_them(flights_ws: Workspace) -> None:
    rows = [{**r, "distance": "x"} for r in _rows(80)]
    with _client(flights_ws) as http:
        answer = http.post(PREDICT, json=rows)
    assert answer.status_code == 422
    error = error_of(answer.json())
    assert len(error["errors"]) == 50
    assert error["message"].startswith("80 fields do not match the model's signature (the first 50")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{", 400, "body"),
        (b'"rows"', 400, "body"),
        (b"[]", 422, "rows"),
        (b"[1]", 422, "rows[0]"),
        (b'{"rows": {}}', 422, "rows"),
        (b'{"rows": [], "columns": []}', 422, "rows"),
        (b'{"columns": ["a", "a"], "data": [[1, 2]]}', 422, "columns[1]"),
        (b'{"columns": ["a"], "data": [[1, 2]]}', 422, "data[0]"),
        (b'{"columns": [], "data": []}', 422, "columns"),
        (b'{"instances": []}', 422, "instances"),
        (b'{"now": 3, "rows": [{}]}', 422, "now"),
    ],
)
def test_malformed_bodies_get_400_or_422_naming_the_field(
    flights_ws: Workspace, body: bytes, status: int, field: str
) -> None:
    with _client(flights_ws) as http:
        answer = http.post(PREDICT, content=body)
    assert answer.status_code == status, answer.text
    assert error_of(answer.json())["field"] == field


def _nullable_distance(ws: Workspace) -> None:
    """``lenient/1``: the flight model with a signature that lets ``distance`` be null."""
    train = flights(200)
    model = flight_model().fit(train[FEATURES], train["delayed"])
    inferred = infer_signature(train[FEATURES], model)
    inputs = tuple(
        dataclasses.replace(c, nullable=True) if c.name == "distance" else c
        for c in inferred.inputs
    )
    ws.models.register(model, "lenient", signature=Signature(inputs, inferred.output))
    ws.models.set_alias("lenient", 1, "prod")


def test_a_model_that_refuses_the_values_is_a_422_not_a_500(flights_ws: Workspace) -> None:
    """The signature lets distance be null, but LogisticRegression takes no NaN."""
    _nullable_distance(flights_ws)
    row = {**_rows(1)[0], "distance": None}
    with TestClient(create_app(flights_ws, models=["lenient@prod"])) as http:
        answer = http.post("/v1/models/lenient/predict", json=[row])
    assert answer.status_code == 422
    error = error_of(answer.json())
    assert error["type"] == "UserCodeError"
    assert error["message"].startswith("model lenient/1 could not score these rows: ValueError")


def test_the_prediction_log_gets_one_record_per_row(flights_ws: Workspace) -> None:
    log = ListLog()
    rows = [{**r, "flight_id": 100 + i} for i, r in enumerate(_rows(3))]
    with _client(flights_ws, prediction_log=log, row_key="flight_id") as http:
        answer = http.post(PREDICT, json=rows, headers={"X-Request-ID": "req-1"})
    body = answer.json()
    assert len(log.records) == 3
    for i, record in enumerate(log.records):
        assert record["request_id"] == "req-1"
        assert (record["model"], record["version"], record["alias"]) == (
            "flight-delay",
            1,
            "champion",
        )
        assert record["route"] == "primary"
        assert record["row_key"] == str(100 + i)
        assert {f"in.{c}" for c in FEATURES} <= set(record)
        assert "in.flight_id" not in record
        assert record["in.carrier"] == rows[i]["carrier"]
        assert record["out.prediction"] == body["predictions"][i]
        assert record["out.proba.1"] == body["probabilities"][i][1]
        assert record["latency_us"] > 0
        assert record["ts"].tzinfo is not None


def test_metrics_count_requests_rows_and_versions(flights_ws: Workspace) -> None:
    with _client(flights_ws) as http:
        http.post(PREDICT, json=_rows(3))
        http.post(PREDICT, json=[{}])
        text = http.get("/metrics").text
    route = 'route="/v1/models/{name}/predict"'
    assert f'weekend_http_requests_total{{method="POST",{route},status="200"}} 1.0' in text
    assert f'weekend_http_requests_total{{method="POST",{route},status="422"}} 1.0' in text
    assert 'weekend_predictions_total{model="flight-delay",route="primary",version="1"} 3.0' in text
    assert 'weekend_model_info{alias="champion",model="flight-delay",version="1"} 1.0' in text
    assert 'weekend_predict_rows_bucket{le="5.0",model="flight-delay"} 1.0' in text


def test_health_ready_and_openapi(flights_ws: Workspace) -> None:
    _nullable_distance(flights_ws)
    app = create_app(flights_ws, models=["flight-delay@champion", "lenient@prod"])
    with TestClient(app) as http:
        assert http.get("/health").json() == {"status": "ok"}
        ready = http.get("/ready").json()
        document = http.get("/openapi.json").json()
    assert ready["ready"] is True
    assert ready["models"][0] == {
        "ref": "flight-delay@champion", "version": 1, "alias": "champion", "problem": None,
        "features": None,
    }  # fmt: skip
    row = document["components"]["schemas"]["flight-delay.v1.row"]
    assert row["required"] == FEATURES
    assert row["properties"]["origin"]["enum"] == ["EWR", "JFK", "LGA"]
    assert row["properties"]["dep_hour"]["type"] == "integer"
    assert row["properties"]["dep_hour"]["maximum"] == 2**63 - 1
    lenient = document["components"]["schemas"]["lenient.v1.row"]
    assert lenient["properties"]["distance"]["type"] == ["number", "null"]
    assert row["properties"]["carrier"]["type"] == "string"
    assert "/v1/models/flight-delay/predict" in document["paths"]
    assert "/v1/models/flight-delay@champion/predict" in document["paths"]
    assert orjson.dumps(document)  # plain JSON
