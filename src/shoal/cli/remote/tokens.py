"""`shoal tokens create|list|show|revoke`: API tokens, managed by an admin over the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shoal.cli.output import Output, OutputOpt, console, fail, print_json, print_table
from shoal.cli.remote.client import client
from shoal.domain.auth import Role

__all__ = ["tokens_app"]

tokens_app = typer.Typer(
    help="API tokens: mint, list and revoke them (admin). A token's secret is shown once.",
    no_args_is_help=True,
)

IdArg = Annotated[int, typer.Argument(help="The token's id (from `shoal tokens list`).")]


def _time(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""


def _row(t: dict[str, Any]) -> list[Any]:
    return [
        t["id"],
        t["name"],
        t["role"],
        t["state"],
        t["prefix"],
        t["created_by"],
        _time(t["created_at"]),
        _time(t["expires_at"]) or "never",
        _time(t["last_used_at"]) or "never",
        _time(t["revoked_at"]),
    ]


_COLUMNS = [
    "ID",
    "NAME",
    "ROLE",
    "STATE",
    "PREFIX",
    "CREATED BY",
    "CREATED",
    "EXPIRES",
    "LAST USED",
    "REVOKED",
]


@tokens_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="A label for the token.")],
    role: Annotated[Role, typer.Option(help="viewer, operator or admin.")] = Role.VIEWER,
    expires_in: Annotated[
        str | None, typer.Option(help="Lifetime from now: 90d, 12h, 1d12h, 30m.")
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(help="Expiry as a timestamp with a time zone, e.g. 2027-01-31T00:00:00Z."),
    ] = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Mint a token (admin; audited). Its secret is printed once and cannot be shown again."""
    if expires_in is not None and expires_at is not None:
        fail("give --expires-in or --expires-at, not both")
    body: dict[str, Any] = {"name": name, "role": role.value}
    if expires_in is not None:
        body["expires_in"] = expires_in
    if expires_at is not None:
        body["expires_at"] = expires_at
    token = client().post("/tokens", body)
    if output is Output.JSON:
        print_json(token)
        return
    expiry = f", expires {_time(token['expires_at'])}" if token["expires_at"] else ""
    console.print(
        f"token {token['id']} ({token['role']}{expiry}) for {token['name']!r}; "
        "it is shown only once:"
    )
    typer.echo(token["secret"])


@tokens_app.command("list")
def list_tokens(output: OutputOpt = Output.TABLE) -> None:
    """Every token with its role, creator, expiry, last use and state (never secrets)."""
    found = client().get("/tokens")
    if output is Output.JSON:
        print_json(found)
        return
    print_table(None, _COLUMNS, [_row(t) for t in found["tokens"]])


@tokens_app.command("show")
def show(token_id: IdArg, output: OutputOpt = Output.TABLE) -> None:
    """One token (never its secret)."""
    token = client().get(f"/tokens/{token_id}")
    if output is Output.JSON:
        print_json(token)
        return
    print_table(None, _COLUMNS, [_row(token)])


@tokens_app.command("revoke")
def revoke(token_id: IdArg, output: OutputOpt = Output.TABLE) -> None:
    """Revoke a token at once (admin; audited; revoking it again changes nothing)."""
    change = client().request("POST", f"/tokens/{token_id}/revoke")
    if output is Output.JSON:
        print_json(change)
    elif change["changed"]:
        console.print(f"token {token_id} ({change['token']['name']!r}) revoked")
    else:
        console.print(
            f"token {token_id} ({change['token']['name']!r}) was revoked already, at "
            f"{_time(change['token']['revoked_at'])}"
        )
