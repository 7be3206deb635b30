"""`shoal admin create-token|list-tokens|revoke-token`: bootstrap access to the API;
`shoal admin reencrypt|seal-setting`: secrets at rest after a key rotation, sealed settings;
`shoal admin prune`: a retention pass now, or what one would delete."""

from __future__ import annotations

import sys
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


@admin_app.command("reencrypt")
def reencrypt(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 100,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Rewrite stored secrets and cached installation tokens sealed under an older key with
    the current (first) one; afterwards the older keys can be dropped. Safe to run again."""
    from shoal.runtime.context import app_context
    from shoal.services.encryption import reencrypt as run

    settings = load_admin_settings()
    with app_context(settings) as ctx:
        done = run(ctx, actor=_LOCAL_ACTOR, batch=batch)
    if output is Output.JSON:
        print_json(
            {
                "key": done.key,
                "secrets_resealed": done.secrets_resealed,
                "tokens_resealed": done.tokens_resealed,
                "tokens_dropped": done.tokens_dropped,
            }
        )
        return
    console.print(
        f"sealed under key {done.key!r}: {done.secrets_resealed} secret(s) and "
        f"{done.tokens_resealed} installation token(s) rewritten, {done.tokens_dropped} "
        "unusable token(s) dropped"
    )


@admin_app.command("seal-setting")
def seal_setting(
    name: Annotated[str, typer.Argument(help="The setting, e.g. github_webhook_secret.")],
) -> None:
    """Seal a setting's value under the current key, to give it sealed (SHOAL_<NAME>=shoal:v1:...)
    so the file or Secret holding it never has the plaintext. The value is read from stdin."""
    from shoal.cli.output import fail
    from shoal.crypto import SEALABLE_SETTINGS, load_keyring, setting_context

    if name not in SEALABLE_SETTINGS:
        fail(f"{name!r} cannot be sealed; these can: {', '.join(SEALABLE_SETTINGS)}")
    value = sys.stdin.read().removesuffix("\n")
    if not value:
        fail("no value on stdin: e.g. `shoal admin seal-setting NAME < file`")
    keyring = load_keyring(load_admin_settings())
    typer.echo(keyring.seal(value, context=setting_context(name)))


@admin_app.command("prune")
def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Delete logs, patches, cached workspaces and finished tasks past their retention
    (`retention_*` settings), as the worker leader does every `retention_interval_s`."""
    from shoal.runtime.context import app_context
    from shoal.services.pruning import prune as run

    settings = load_admin_settings()
    with app_context(settings) as ctx:
        report = run(ctx, now=ctx.clock.now(), dry_run=dry_run)
    if output is Output.JSON:
        print_json({"dry_run": dry_run, "complete": report.complete, **report.counts})
        return
    verb = "would delete" if dry_run else "deleted"
    print_table(
        "retention",
        ["kind", verb],
        [[kind, str(count)] for kind, count in report.counts.items()],
    )
    if not report.complete:
        console.print("the pass ran out of its time budget; run it again to finish")
