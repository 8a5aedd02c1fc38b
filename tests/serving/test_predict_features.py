"""Rows that carry entity keys instead of features: the service reads the features the model
was trained on from the online store (SQLite and Redis), on-demand ones included, and serves
exactly the prediction the model makes on the training-set row built offline."""

from __future__ import annotations

import numpy as np
import pytest
from _edge import TestClient, error_of, ws
from _served import DRIVER_INPUTS, ListLog, hours, register_driver_model

from weekend.serving import create_app
from weekend.workspace import Workspace

__all__ = ["ws"]  # fixtures

PREDICT = "/v1/models/driver-risk/predict"


def test_entity_keys_are_served_the_features_of_the_training_set(ws: Workspace) -> None:
    train = register_driver_model(ws)
    model = ws.models.load("driver-risk@champion")
    log = ListLog()
    row = train.iloc[[5]]  # driver 1 at h6, fare 60: its features as the offline join built them
    expected = model.predict_proba(row[DRIVER_INPUTS])
    body = {"rows": [{"driver_id": 1, "fare": 60.0}], "now": hours(6).isoformat()}
    with TestClient(create_app(ws, models=["driver-risk@champion"], prediction_log=log)) as http:
        answer = http.post(PREDICT, json=body)
        ready = http.get("/ready").json()
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(answer.json()["probabilities"], expected, rtol=1e-12)
    record = log.records[0]
    assert [record[f"in.{c}"] for c in DRIVER_INPUTS] == row[DRIVER_INPUTS].iloc[0].tolist()
    assert ready["ready"] is True
    assert ready["online_store"] == {"used": True, "reachable": True, "error": None}
    assert ready["models"][0]["features"] == "served"


def test_each_entitys_latest_training_row_is_served_as_trained(ws: Workspace) -> None:
    """The online store holds each entity's latest record: replayed at the time of each
    entity's last training row (driver 2 at h2.5, driver 3 at h1, driver 1 at h6), the
    service reads exactly what the offline join read."""
    train = register_driver_model(ws)
    model = ws.models.load("driver-risk@champion")
    with TestClient(create_app(ws, models=["driver-risk@champion"])) as http:
        for i in (1, 2, 5):
            entity = train.iloc[i]
            body = {
                "rows": [{"driver_id": int(entity["driver_id"]), "fare": float(entity["fare"])}],
                "now": entity["event_timestamp"].isoformat(),
            }
            answer = http.post(PREDICT, json=body)
            assert answer.status_code == 200, answer.text
            expected = model.predict_proba(train.iloc[[i]][DRIVER_INPUTS])
            np.testing.assert_allclose(answer.json()["probabilities"], expected, rtol=1e-12)


def test_sent_features_win_and_missing_ones_are_read_row_by_row(ws: Workspace) -> None:
    register_driver_model(ws)
    model = ws.models.load("driver-risk@champion")
    sent = {"driver_id": 1, "fare": 60.0, "trips": 99, "rating": 1.0, "expected_tip": 2.0}
    body = {"rows": [sent, {"driver_id": 1, "fare": 60.0}], "now": hours(6).isoformat()}
    with TestClient(create_app(ws, models=["driver-risk@champion"])) as http:
        answer = http.post(PREDICT, json=body).json()
    first = model.predict_proba({k: sent[k] for k in DRIVER_INPUTS})
    second = model.predict_proba({"trips": 3, "rating": 4.8, "expected_tip": 28.8})
    np.testing.assert_allclose(answer["probabilities"], np.vstack([first, second]), rtol=1e-12)


def test_bad_keys_and_expired_features_are_422_naming_the_row(ws: Workspace) -> None:
    register_driver_model(ws)
    with TestClient(create_app(ws, models=["driver-risk@champion"])) as http:
        wrong_key = http.post(PREDICT, json={"rows": [{"driver_id": "one", "fare": 1.0}]})
        no_fare = http.post(PREDICT, json={"rows": [{"driver_id": 1}]})
        expired = http.post(  # the ttl is 2 h: nothing is served at h9
            PREDICT, json={"rows": [{"driver_id": 1, "fare": 1.0}], "now": hours(9).isoformat()}
        )
        bad_now = http.post(PREDICT, json={"rows": [{"driver_id": 1}], "now": "noon"})
    for answer in (wrong_key, no_fare, bad_now):
        assert answer.status_code == 422, answer.text
    assert "key 'driver_id' of view 'driver_stats' must be an integer" in wrong_key.text
    assert error_of(wrong_key.json())["field"] == "rows"
    assert "no field 'fare'" in no_fare.text
    assert error_of(bad_now.json())["field"] == "now"
    # trips is an int64 column: an expired value is a null the signature does not allow
    assert expired.status_code == 422
    errors = {e["field"]: e["message"] for e in error_of(expired.json())["errors"]}
    assert errors["rows[0].trips"].endswith("(read from the online store)")
    assert errors["rows[0].trips"].startswith("must not be null")


def test_a_view_at_another_version_refuses_lookups_but_serves_full_rows(ws: Workspace) -> None:
    from feature_project import stats_view

    register_driver_model(ws)
    ws.features.apply([stats_view(ttl="3h")])  # driver_stats v2: not what the model was trained on
    full = {"trips": 3, "rating": 4.8, "expected_tip": 28.8}
    with TestClient(create_app(ws, models=["driver-risk@champion"])) as http:
        keys = http.post(PREDICT, json={"rows": [{"driver_id": 1, "fare": 60.0}]})
        sent = http.post(PREDICT, json=[full])
        ready = http.get("/ready").json()
    assert keys.status_code == 503
    error = error_of(keys.json())
    assert error["type"] == "ConfigurationError"
    assert (
        "'driver_stats' is at version 2, driver-risk/1 was trained on version 1" in error["message"]
    )
    assert sent.status_code == 200
    assert ready["models"][0]["features"].startswith("feature view 'driver_stats' is at version 2")


@pytest.mark.redis
def test_ready_says_when_the_online_store_is_unreachable(project: object) -> None:
    from pathlib import Path

    from feature_project import open_ws

    root = Path(str(project))
    with open_ws(root) as local:
        register_driver_model(local)
    env = {"WEEKEND_ONLINE_STORE_URL": "redis://127.0.0.1:1/0"}  # nothing listens on port 1
    with (
        open_ws(root, env) as remote,
        TestClient(create_app(remote, models=["driver-risk@champion"])) as http,
    ):
        ready = http.get("/ready")
        keys = http.post(PREDICT, json={"rows": [{"driver_id": 1, "fare": 60.0}]})
    assert ready.status_code == 503
    assert ready.json()["online_store"]["reachable"] is False
    assert keys.status_code == 503
