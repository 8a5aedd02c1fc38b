"""Tokens: stored hashed, created, listed and revoked (SDK and ``weekend tokens``), and checked
by the real HTTP app: missing, malformed, unknown, expired and revoked tokens are 401, a
token without the role 403, with the edge's error body; a refused request logs nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
import sqlalchemy as sa
from _edge import TestClient, error_of
from _served import FEATURES, _flights_template, flight_model, flights, flights_ws
from typer.testing import CliRunner

from weekend.catalog.tables_predictions import api_tokens
from weekend.cli import app as cli
from weekend.core.errors import ConflictError, InvalidNameError, InvalidValueError, NotFoundError
from weekend.core.settings import init_project, load_settings
from weekend.serving import create_app
from weekend.serving._auth import tokens_configured
from weekend.serving.tokens import Tokens
from weekend.workspace import Workspace

__all__ = ["_flights_template", "flights_ws"]  # fixtures

PREDICT = "/v1/models/flight-delay/predict"
FEEDBACK = "/v1/models/flight-delay/feedback"


def _rows(n: int = 2) -> list[dict[str, Any]]:
    frame = flights(n, 5)[FEATURES]
    frame["origin"] = frame["origin"].astype(str)
    return cast("list[dict[str, Any]]", frame.to_dict("records"))


def _expire(ws: Workspace, token_id: str) -> None:
    """Move a token's expiry into the past (as if its time had come)."""
    with ws.catalog.begin() as conn:
        conn.execute(sa.update(api_tokens).where(api_tokens.c.id == token_id).values(expires_at=1))


def test_a_token_is_stored_hashed_and_checked_in_constant_form(flights_ws: Workspace) -> None:
    tokens = Tokens(flights_ws.catalog, cache_seconds=0)
    made = tokens.create("ci", ["predict", "feedback"], expires="30d", created_by="ada")
    assert made.token.startswith(f"wk_{made.info.id}_")
    assert made.info.roles == ("feedback", "predict")
    assert made.info.status() == "active"
    assert made.info.expires_at is not None
    with flights_ws.catalog.read() as conn:
        (row,) = conn.execute(sa.select(api_tokens)).mappings().all()
    secret = made.token[len(f"wk_{made.info.id}_") :]
    assert secret not in str(dict(row))  # only the digest is stored
    assert row["created_by"] == "ada"
    assert tokens.verify(made.token, "predict").id == made.info.id
    assert [t.id for t in tokens.list()] == [made.info.id]
    assert tokens_configured(flights_ws)
    revoked = tokens.revoke(made.info.id)
    assert revoked.status() == "revoked"
    assert not tokens_configured(flights_ws)
    with pytest.raises(ConflictError, match="already revoked"):
        tokens.revoke(made.info.id)
    with pytest.raises(NotFoundError, match="no token with id 'abc'"):
        tokens.revoke("abc")
    with pytest.raises(InvalidValueError, match="unknown role 'root'"):
        tokens.create("x", ["root"])
    with pytest.raises(InvalidValueError, match="at least one role"):
        tokens.create("x", [])
    with pytest.raises(InvalidValueError, match="expires must be a duration"):
        tokens.create("x", "predict", expires="someday")
    with pytest.raises(InvalidValueError, match="expires must be in the future"):
        tokens.create("x", "predict", expires=dt.datetime(2001, 1, 1))
    with pytest.raises(InvalidNameError, match="token name"):
        tokens.create("a b", "predict")


@pytest.fixture
def guarded(flights_ws: Workspace) -> Iterator[tuple[TestClient, Workspace, dict[str, str]]]:
    """The app with tokens required and a real prediction log; tokens by role."""
    from weekend.serving._auth import require_role

    tokens = Tokens(flights_ws.catalog)
    made = {role: tokens.create(role, [role]).token for role in ("predict", "feedback", "admin")}
    expired = tokens.create("expired", ["predict"])
    _expire(flights_ws, expired.info.id)
    revoked = tokens.create("revoked", ["predict"])
    tokens.revoke(revoked.info.id)
    made |= {"expired": expired.token, "revoked": revoked.token}
    log = flights_ws.predictions.open_log(flush_seconds=3600.0)
    app = create_app(
        flights_ws, models=["flight-delay@champion"], prediction_log=log, auth=require_role
    )
    with TestClient(app) as http:
        yield http, flights_ws, made
    log.close()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


REFUSED = [
    ({}, 401, "this service needs a token"),
    ({"Authorization": "Basic YWRhOnB3"}, 401, "expected 'Authorization: Bearer <token>'"),
    ({"Authorization": "Bearer"}, 401, "expected 'Authorization: Bearer <token>'"),
    (_bearer("not-a-token"), 401, "not a weekend token"),
    (_bearer("wk_0123456789ab_" + "A" * 43), 401, "unknown token"),
    ("tampered", 401, "unknown token"),
    ("expired", 401, "is expired"),
    ("revoked", 401, "is revoked"),
    ("feedback", 403, "needs 'predict'"),
]


@pytest.mark.parametrize(("headers", "status", "match"), REFUSED)
def test_refused_tokens_get_the_edge_error_and_log_nothing(
    guarded: tuple[TestClient, Workspace, dict[str, str]],
    headers: dict[str, str] | str,
    status: int,
    match: str,
) -> None:
    http, ws, made = guarded
    if headers == "tampered":
        headers = _bearer(made["predict"][:-1] + ("B" if made["predict"][-1] != "B" else "C"))
    elif isinstance(headers, str):
        headers = _bearer(made[headers])
    answer = http.post(PREDICT, json=_rows(), headers={**headers, "X-Request-ID": "refused-1"})
    assert answer.status_code == status, answer.text
    error = error_of(answer.json())
    assert match in error["message"]
    assert error["field"] == "authorization"
    assert error["request_id"] == "refused-1"
    assert error["type"] == ("AuthenticationError" if status == 401 else "PermissionDeniedError")
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")
    ok = http.post(
        PREDICT, json=_rows(), headers={**_bearer(made["predict"]), "X-Request-ID": "ok-1"}
    )
    assert ok.status_code == 200, ok.text
    admin = http.post(PREDICT, json=_rows(1), headers=_bearer(made["admin"]))
    assert admin.status_code == 200, admin.text
    ws.predictions.close()  # writes the app's log
    logged = ws.predictions.scan("flight-delay").column("request_id").to_pylist()
    assert "refused-1" not in logged
    assert logged.count("ok-1") == 2


def test_the_feedback_route_needs_the_feedback_role(
    guarded: tuple[TestClient, Workspace, dict[str, str]],
) -> None:
    http, ws, made = guarded
    label = {"request_id": "r-1", "label": 1}
    refused = http.post(FEEDBACK, json=label, headers=_bearer(made["predict"]))
    assert refused.status_code == 403
    assert error_of(refused.json())["type"] == "PermissionDeniedError"
    assert http.post(FEEDBACK, json=label).status_code == 401
    assert ws.predictions.labels() == []
    for role in ("feedback", "admin"):
        answer = http.post(FEEDBACK, json=label, headers=_bearer(made[role]))
        assert answer.status_code == 200, answer.text
    assert len(ws.predictions.labels()) == 2


def test_a_revocation_reaches_a_running_server_after_its_cache(flights_ws: Workspace) -> None:
    """The app keeps a token's row for cache_seconds; with 0 every request reads it."""
    from weekend.serving._auth import require_role

    tokens = Tokens(flights_ws.catalog)
    made = tokens.create("ci", "predict")
    app = create_app(flights_ws, models=["flight-delay@champion"], auth=require_role)
    app.state.tokens = Tokens(flights_ws.catalog, cache_seconds=0)
    with TestClient(app) as http:
        assert http.post(PREDICT, json=_rows(), headers=_bearer(made.token)).status_code == 200
        Tokens(flights_ws.catalog).revoke(made.info.id)  # another process's revocation
        refused = http.post(PREDICT, json=_rows(), headers=_bearer(made.token))
    assert refused.status_code == 401
    assert "revoked" in error_of(refused.json())["message"]


@pytest.mark.postgres
def test_tokens_on_a_postgresql_catalog_are_read_in_the_pool(
    tmp_path: Path, postgres_url: str
) -> None:
    """A remote catalog is never read on the event loop: the check awaits the work pool."""
    from weekend.serving._auth import require_role

    root = init_project(tmp_path / "project")
    with Workspace(load_settings(root, env={"WEEKEND_CATALOG_URL": postgres_url})) as ws:
        train = flights(200)
        model = flight_model().fit(train[FEATURES], train["delayed"])
        ws.models.register(model, "flight-delay", input_example=train[FEATURES])
        ws.models.set_alias("flight-delay", 1, "champion")
        made = Tokens(ws.catalog).create("ci", "predict")
        app = create_app(ws, models=["flight-delay@champion"], auth=require_role)
        with TestClient(app) as http:
            ok = http.post(PREDICT, json=_rows(), headers=_bearer(made.token))
            bad = http.post(PREDICT, json=_rows(), headers=_bearer(made.token[:-1] + "!"))
            forbidden = http.post(FEEDBACK, json={"row_key": "k", "label": 1},
                                  headers=_bearer(made.token))  # fmt: skip
        assert ok.status_code == 200, ok.text
        assert bad.status_code == 401
        assert forbidden.status_code == 403


def test_the_tokens_command_creates_lists_and_revokes(flights_ws: Workspace) -> None:
    runner = CliRunner()
    project = ["--project", str(flights_ws.root)]
    made = runner.invoke(cli, ["tokens", "create", "ci", "--role", "predict", "-r", "feedback",
                               "--expires", "12h", "--json", *project])  # fmt: skip
    assert made.exit_code == 0, made.output
    created = orjson.loads(made.stdout)
    assert created["roles"] == ["feedback", "predict"]
    assert Tokens(flights_ws.catalog).verify(created["token"], "feedback").name == "ci"
    plain = runner.invoke(cli, ["tokens", "create", "ops", "--role", "admin", *project])
    assert plain.exit_code == 0
    assert plain.stdout.strip().startswith("wk_")
    assert "not shown again" in plain.stderr
    listed = runner.invoke(cli, ["tokens", "list", "--json", *project])
    records = orjson.loads(listed.stdout)
    assert [r["name"] for r in records] == ["ci", "ops"]
    assert all("token" not in r and "secret_hash" not in r for r in records)
    revoked = runner.invoke(cli, ["tokens", "revoke", created["id"], *project])
    assert revoked.exit_code == 0, revoked.output
    assert "refuse it within" in revoked.stdout
    active = runner.invoke(cli, ["tokens", "list", "--active", "--json", *project])
    assert [r["name"] for r in orjson.loads(active.stdout)] == ["ops"]
    again = runner.invoke(cli, ["tokens", "revoke", created["id"], *project])
    assert again.exit_code == 1
    assert "already revoked" in again.stderr
    bad = runner.invoke(cli, ["tokens", "create", "x", "--role", "root", *project])
    assert bad.exit_code == 2
    assert "unknown role 'root'" in bad.stderr
