"""``weekend tokens``: the bearer tokens of the HTTP service (create, list, revoke)."""

from __future__ import annotations

from pathlib import Path

import typer

from weekend.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    err_console,
    fmt_time,
    open_project,
    print_json,
    print_table,
)

tokens_app = typer.Typer(
    help="Bearer tokens of the HTTP service: roles predict, feedback, admin.",
    no_args_is_help=True,
)


def _record(info: object) -> dict[str, object]:
    from weekend.serving.tokens import TokenInfo

    assert isinstance(info, TokenInfo)
    return {
        "id": info.id,
        "name": info.name,
        "roles": list(info.roles),
        "status": info.status(),
        "created_by": info.created_by,
        "created_at": info.created_at,
        "expires_at": info.expires_at,
        "revoked_at": info.revoked_at,
    }


@tokens_app.command("create")
def create(
    name: str = typer.Argument(..., help="A name for the token: who or what uses it."),
    role: list[str] = typer.Option(
        ..., "--role", "-r", help="predict, feedback or admin (repeat for several)."
    ),
    expires: str | None = typer.Option(
        None, "--expires", help="Expire after this long: 12h, 30d, 2w (default: never)."
    ),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a token and print it once: only its hash is stored."""
    from weekend.serving.tokens import Tokens

    with open_project(project) as ws:
        made = Tokens(ws.catalog).create(name, role, expires=expires)
    if as_json:
        print_json({"token": made.token, **_record(made.info)})
        return
    console.print(made.token, highlight=False, soft_wrap=True, markup=False)
    expiry = fmt_time(made.info.expires_at) or "never"
    err_console.print(
        f"token {made.info.id} ({made.info.name}): roles {', '.join(made.info.roles)}, "
        f"expires {expiry}. Store it now: it is not shown again. Send it as "
        "'Authorization: Bearer <token>'.",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


@tokens_app.command("list")
def list_tokens(
    active: bool = typer.Option(False, "--active", help="Only tokens that still work."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """List tokens (never their secrets): id, name, roles, status, times."""
    from weekend.serving.tokens import Tokens

    with open_project(project) as ws:
        found = Tokens(ws.catalog).list()
    records = [_record(info) for info in found]
    if active:
        records = [r for r in records if r["status"] == "active"]
    if as_json:
        print_json(records)
        return
    rows = [
        [
            r["id"],
            r["name"],
            ",".join(r["roles"]),  # type: ignore[arg-type]
            r["status"],
            r["created_by"],
            fmt_time(r["created_at"]),  # type: ignore[arg-type]
            fmt_time(r["expires_at"]) or "never",  # type: ignore[arg-type]
        ]
        for r in records
    ]
    print_table(
        "tokens", ["id", "name", "roles", "status", "created by", "created", "expires"], rows
    )


@tokens_app.command("revoke")
def revoke(
    token_id: str = typer.Argument(..., help="The token's id (see `weekend tokens list`)."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Revoke a token: servers refuse it within a few seconds (their cache)."""
    from weekend.serving.tokens import CACHE_SECONDS, Tokens

    with open_project(project) as ws:
        info = Tokens(ws.catalog).revoke(token_id)
    if as_json:
        print_json(_record(info))
        return
    console.print(
        f"revoked token {info.id} ({info.name}); running servers refuse it within "
        f"{CACHE_SECONDS:g} s",
        highlight=False,
        markup=False,
    )


__all__ = ["tokens_app"]
