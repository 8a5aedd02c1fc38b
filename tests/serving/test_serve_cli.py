"""``weekend serve``: what it refuses before binding, and ``--workers 2`` under uvicorn's
supervisor: a worker killed with SIGKILL is replaced and the service keeps answering."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from _served import FEATURES, _flights_template, flights, flights_ws
from typer.testing import CliRunner

from weekend.cli import app
from weekend.core.errors import ConfigurationError
from weekend.serving._serve import ServeConfig, check_binding, is_loopback
from weekend.workspace import Workspace

__all__ = ["_flights_template", "flights_ws"]  # fixtures

runner = CliRunner()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "::1", "[::1]"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "example.org"])
def test_other_addresses_need_a_token_or_insecure(host: str) -> None:
    with pytest.raises(ConfigurationError, match=f"refusing to serve on '{host}' without a token"):
        check_binding(host, tokens=False, insecure=False)
    check_binding(host, tokens=True, insecure=False)
    check_binding(host, tokens=False, insecure=True)


def test_serve_refuses_before_binding(flights_ws: Workspace) -> None:
    root = str(flights_ws.root)
    public = runner.invoke(app, ["serve", "flight-delay@champion", "--host", "0.0.0.0", "-p", root])
    assert public.exit_code == 1
    assert "refusing to serve on '0.0.0.0' without a token" in public.output
    assert "--insecure" in public.output
    unknown = runner.invoke(app, ["serve", "nope@champion", "-p", root])
    assert unknown.exit_code == 1
    assert "nope" in unknown.output
    bad = runner.invoke(app, ["serve", "flight-delay@champion", "--canary", "x", "-p", root])
    assert bad.exit_code == 2
    assert "canary must be [NAME@]ALIAS=PERCENT" in bad.output
    ray_only = runner.invoke(app, ["serve", "flight-delay@champion", "--replicas", "2", "-p", root])
    assert ray_only.exit_code == 2
    assert "--replicas goes with --on ray" in ray_only.output


def test_the_config_travels_to_workers_as_json() -> None:
    config = ServeConfig("/p", ["a@b"], canary=["c=5%"], reload_seconds=None, row_key="id")
    assert ServeConfig.from_json(config.to_json()) == config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _workers(supervisor: int) -> set[int]:
    """The supervisor's worker processes (multiprocessing spawn children)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    out = set()
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command:
            out.add(int(child))
    return out


def _wait(what: str, check: object, deadline: float) -> None:
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} did not happen within the deadline"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_killed_worker_is_replaced_and_the_service_keeps_answering(
    flights_ws: Workspace,
) -> None:
    port = _free_port()
    command = [str(Path(sys.executable).parent / "weekend"), "serve", "flight-delay@champion"]
    command += ["--workers", "2", "--port", str(port), "-p", str(flights_ws.root), "--no-log"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    row = flights(1, seed=3)[FEATURES].astype({"origin": str}).to_dict("records")
    deadline = time.monotonic() + 300  # two workers import weekend on a busy machine

    def answers() -> bool:
        try:
            return httpx.post(f"{url}/v1/models/flight-delay/predict", json=row).status_code == 200
        except httpx.TransportError:
            return False

    try:  # the server's output is read after it stops (a pipe of 64 KiB is plenty)
        _wait(
            "two workers answering", lambda: len(_workers(server.pid)) == 2 and answers(), deadline
        )
        before = _workers(server.pid)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        _wait("the worker's end", lambda: victim not in _workers(server.pid), deadline)
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(50):  # the other worker answers meanwhile
                response = http.post("/v1/models/flight-delay/predict", json=row)
                assert response.status_code == 200
        _wait("a new worker", lambda: len(_workers(server.pid) - before) == 1, deadline)
        _wait("the new worker answering", answers, deadline)
        assert server.poll() is None
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert b"Traceback" not in output, output.decode()[-3000:]


def test_the_served_app_requires_a_token_once_one_is_active(flights_ws: Workspace) -> None:
    from _edge import TestClient

    from weekend.serving import build_app
    from weekend.serving.tokens import Tokens

    row = flights(1, seed=3)[FEATURES].astype({"origin": str}).to_dict("records")
    config = ServeConfig(str(flights_ws.root), ["flight-delay@champion"], log_predictions=False)
    with TestClient(build_app(config)) as http:  # no token yet: open (on loopback)
        assert http.post("/v1/models/flight-delay/predict", json=row).status_code == 200
    token = Tokens(flights_ws.catalog).create("ci", ["predict"])
    check_binding("0.0.0.0", tokens=True, insecure=False)  # an active token allows any address
    with TestClient(build_app(config)) as http:
        missing = http.post("/v1/models/flight-delay/predict", json=row)
        bearer = {"Authorization": f"Bearer {token.token}"}
        allowed = http.post("/v1/models/flight-delay/predict", json=row, headers=bearer)
    assert missing.status_code == 401
    assert allowed.status_code == 200
