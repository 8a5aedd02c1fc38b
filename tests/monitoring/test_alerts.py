"""Alert policies: conditions, actions (log, a webhook on a real loopback server, pipeline
intent), deduplication and clearing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from _traffic import FEATURES, Traffic, serve

from conftest import open_ws
from weekend.core.errors import ConfigurationError, InvalidValueError
from weekend.monitoring._alerts import AlertPolicy, post_json
from weekend.workspace import Workspace


class Hook:
    """A webhook receiver on 127.0.0.1 that answers ``fail_first`` times with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.calls = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.calls += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if hook.calls <= fail_first else 200
                if status == 200:
                    hook.bodies.append(orjson.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ws(request: pytest.FixtureRequest, project: Path, hook: Hook) -> Iterator[Workspace]:
    toml = project / "weekend.toml"
    toml.write_text(
        toml.read_text()
        + f"""
[[monitor.alerts]]
name = "inputs-drift"
when = "drift_share"
threshold = 0.3
actions = ["log", {{ webhook = "{hook.url}" }}, {{ pipeline = "retrain" }}]
"""
    )
    env: dict[str, str] = {}
    if request.param == "postgresql":
        env = {"WEEKEND_CATALOG_URL": request.getfixturevalue("postgres_url")}
    ws = open_ws(project, env)
    yield ws
    ws.close()


@pytest.fixture
def traffic(ws: Workspace) -> Traffic:
    return serve(ws, np.random.default_rng(8), rows=400, shifts=(0.0, 0.0, 900.0))


def _report(ws: Workspace, traffic: Traffic, end: str | None = None) -> Any:
    return ws.monitor.report(
        "flight-delay@champion", end=end, reference=traffic.train[FEATURES], html=False
    )


def test_an_alert_opens_once_acts_once_and_clears(
    ws: Workspace, traffic: Traffic, hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="weekend.monitoring"):
        first = _report(ws, traffic)
    assert first.drifted == ["distance"]
    (alert,) = ws.monitor.alerts()
    assert (alert.policy, alert.subject, alert.status, alert.fired) == (
        "inputs-drift",
        "flight-delay/1",
        "open",
        1,
    )
    assert alert.evidence["drifted"] == ["distance"]
    assert alert.report_id == first.id
    assert [a["action"] for a in alert.actions] == ["log", "webhook", "pipeline"]
    assert alert.actions[1]["ok"] is True
    assert alert.actions[1]["attempts"] == 1
    assert alert.actions[2] == {"action": "pipeline", "pipeline": "retrain", "status": "requested"}
    assert "inputs-drift on flight-delay/1" in caplog.text
    (body,) = hook.bodies
    assert body["type"] == "weekend.alert"
    assert body["policy"] == "inputs-drift"
    assert body["evidence"]["share_drifted"] == pytest.approx(1 / 3)

    second = _report(ws, traffic)  # still drifting: the same alert, no second POST
    (again,) = ws.monitor.alerts()
    assert (again.id, again.fired, again.report_id) == (alert.id, 2, second.id)
    assert len(hook.bodies) == 1

    _report(ws, traffic, end="2013-06-03")  # the latest window no longer drifts
    (cleared,) = ws.monitor.alerts()
    assert cleared.status == "cleared"
    assert cleared.cleared_at is not None
    assert ws.monitor.alerts(status="open") == []

    _report(ws, traffic)  # drifting again: a new alert
    assert [a.status for a in ws.monitor.alerts()] == ["open", "cleared"]
    assert len(hook.bodies) == 2


def test_sdk_policies_feature_volume_metric_and_missing(ws: Workspace, traffic: Traffic) -> None:
    ws.monitor.add_policy({"name": "distance", "when": "feature", "feature": "distance"})
    ws.monitor.add_policy({"name": "hours", "when": "feature", "feature": "dep_hour"})
    ws.monitor.add_policy(AlertPolicy("busy", "volume", max_rows=300))
    ws.monitor.add_policy(AlertPolicy("quiet", "volume", min_rows=10))
    ws.monitor.add_policy(AlertPolicy("gaps", "missing_rate", threshold=0.01))
    ws.monitor.add_policy(
        AlertPolicy("auc", "metric_drop", metric="roc_auc", source="estimated", threshold=-1.0)
    )
    _report(ws, traffic)
    fired = {a.policy: a for a in ws.monitor.alerts()}
    assert sorted(fired) == ["auc", "busy", "distance", "inputs-drift"]
    assert fired["distance"].evidence["column"]["drifted"] is True
    assert fired["busy"].evidence["rows"] == 400
    auc = fired["auc"].evidence
    assert auc["drop"] == pytest.approx(auc["baseline"] - auc["value"])


def test_webhook_retries_on_5xx(hook: Hook) -> None:
    flaky = Hook(fail_first=2)
    try:
        done = post_json(flaky.url, {"x": 1}, retries=3, timeout=5)
        assert done == {"ok": True, "status": 200, "attempts": 3}
        assert flaky.bodies == [{"x": 1}]
        gone = post_json("http://127.0.0.1:9/none", {"x": 1}, retries=1, timeout=1)
        assert gone["ok"] is False
        assert gone["attempts"] == 2
    finally:
        flaky.close()


def test_bad_policies_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidValueError, match="when must be one of drift_share"):
        AlertPolicy("x", "drfit")
    with pytest.raises(InvalidValueError, match="needs feature"):
        AlertPolicy("x", "feature")
    with pytest.raises(InvalidValueError, match="needs min_rows or max_rows"):
        AlertPolicy("x", "volume")
    with pytest.raises(InvalidValueError, match="webhook must be an http"):
        AlertPolicy.from_dict(
            {"name": "x", "when": "drift_share", "actions": [{"webhook": "file:///etc"}]}
        )
    with pytest.raises(InvalidValueError, match="an alert action is 'log'"):
        AlertPolicy.from_dict({"name": "x", "when": "drift_share", "actions": ["email"]})
    with pytest.raises(ConfigurationError, match="unknown key 'treshold'"):
        AlertPolicy.from_dict({"name": "x", "when": "drift_share", "treshold": 0.3})
