"""The same app on Ray Serve: Ray started locally with 2 CPUs, two replicas of the service,
predictions over Ray's HTTP proxy equal to the model's in-process ones."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from _served import FEATURES, flights, open_ws, register_flights

from conftest import need_module
from weekend.serving import ServeConfig


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray's own pydantic models
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_two_replicas_on_ray_serve_answer_like_the_model(project: Path) -> None:
    ray = need_module("ray")
    serve = need_module("ray.serve")
    from weekend.serving._ray import start

    with open_ws(project) as ws:
        register_flights(ws)
        model = ws.models.load("flight-delay@champion")
    rows = flights(4, seed=5)[FEATURES].astype({"origin": str}).to_dict("records")
    expected = model.predict_proba(pd.DataFrame(rows))
    port = _free_port()
    config = ServeConfig(str(project), ["flight-delay@champion"], log_predictions=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        start(config, host="127.0.0.1", port=port, replicas=2, blocking=False)
        answers: list[Any] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            deadline = time.monotonic() + 300
            while len(answers) < 20:
                assert time.monotonic() < deadline, "Ray Serve did not answer 20 requests"
                try:
                    answer = http.post("/v1/models/flight-delay/predict", json=rows)
                except httpx.TransportError:
                    time.sleep(0.5)
                    continue
                answers.append(answer)
            ready = http.get("/ready")
        status = serve.status().applications["weekend"].deployments["weekend"]
        running = status.replica_states.get("RUNNING", 0)
    finally:
        serve.shutdown()
        ray.shutdown()
    assert running == 2
    assert ready.status_code == 200
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["version"] == 1
        np.testing.assert_allclose(body["probabilities"], expected, rtol=1e-12)
