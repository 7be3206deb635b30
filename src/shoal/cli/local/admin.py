"""`shoal admin create-token|list-tokens|revoke-token`: bootstrap access to the API."""

from __future__ import annotations

from typing import Annotated

import typer

from shoal.cli.local.settings import load_admin_settings
from shoal.cli.output import Output, OutputOpt, console, print_json, print_table
from shoal.domain.auth import Role

__all__ = ["admin_app"]

admin_app = typer.Typer(help="Administration on the server's machine.", no_args_is_help=True)

# Local administration acts with the OS user's authority; the audit log says so.
_LOCAL_ACTOR = "system:local-admin"


@admin_app.command("create-token")
def create_token(
    role: Annotated[Role, typer.Option(help="viewer, operator or admin.")] = Role.VIEWER,
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
    output: OutputOpt = Output.TABLE,
) -> None:
    """Mint an API token. It is printed once and stored only as a hash.

    For the first admin token; with one, manage tokens over the API (`shoal tokens ...`)."""
    from shoal.runtime.context import app_context
    from shoal.services import tokens

    settings = load_admin_settings()
    with app_context(settings, migrate=True, with_redis=False) as ctx:
        token, secret = tokens.create_token(ctx, name=name, role=role, actor=_LOCAL_ACTOR)
    if output is Output.JSON:
        print_json({"id": token.id, "name": token.name, "role": token.role, "token": secret})
        return
    console.print(f"token {token.id} ({token.role}) for {token.name!r}; it is shown only once:")
    typer.echo(secret)


@admin_app.command("list-tokens")
def list_tokens(output: OutputOpt = Output.TABLE) -> None:
    """List API tokens (never their secrets)."""
    from shoal.runtime.context import app_context
    from shoal.services import tokens

    settings = load_admin_settings()
    with app_context(settings, with_redis=False) as ctx:
        found = tokens.list_tokens(ctx)
    rows = [
        {
            "id": t.id,
            "name": t.name,
            "role": t.role.value,
            "prefix": t.prefix,
            "created_at": t.created_at.isoformat(),
            "expires_at": t.expires_at.isoformat() if t.expires_at else None,
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "revoked": t.revoked_at is not None,
        }
        for t in found
    ]
    if output is Output.JSON:
        print_json(rows)
        return
    print_table(
        None,
        ["ID", "NAME", "ROLE", "PREFIX", "CREATED", "EXPIRES", "LAST USED", "REVOKED"],
        [list(r.values()) for r in rows],
    )


@admin_app.command("revoke-token")
def revoke_token(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke an API token at once."""
    from shoal.runtime.context import app_context
    from shoal.services import tokens

    settings = load_admin_settings()
    with app_context(settings, with_redis=False) as ctx:
        revocation = tokens.revoke(ctx, token_id, actor=_LOCAL_ACTOR)
    if revocation.changed:
        console.print(f"token {token_id} revoked")
    else:
        console.print(f"token {token_id} was revoked already")
