"""Step secrets: their values (write-only, stored sealed) and which campaigns and orgs may use
them. Admin only; no route ever answers with a value."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from shoal.api.deps import Admin, Ctx
from shoal.api.paths import API_PREFIX
from shoal.api.secret_schemas import (
    GrantChangeOut,
    SecretsOut,
    SecretValueChangeOut,
    SecretValueIn,
)
from shoal.services import secrets

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["secrets"])

Scope = Literal["campaign", "org"]


def _subject(scope: Scope, subject: str) -> dict[str, str]:
    return {"campaign": subject} if scope == "campaign" else {"org": subject}


# Admin even to read: which campaign may use which credential is itself worth keeping close.
@router.get(
    "/secrets",
    response_model=SecretsOut,
    summary="Secrets configured on this server or granted, with their grants (names only)",
)
def list_secrets(ctx: Ctx, _: Admin) -> SecretsOut:
    return SecretsOut.of(secrets.list_secrets(ctx))


@router.put(
    "/secrets/{name}/grants/{scope}/{subject}",
    response_model=GrantChangeOut,
    summary="Grant a secret to a campaign (by name) or to an org (idempotent; audited)",
)
def grant_secret(
    ctx: Ctx, principal: Admin, name: str, scope: Scope, subject: str
) -> GrantChangeOut:
    return GrantChangeOut.of(secrets.grant_secret(ctx, principal, name, **_subject(scope, subject)))


@router.delete(
    "/secrets/{name}/grants/{scope}/{subject}",
    response_model=GrantChangeOut,
    summary="Take a grant back: executions starting from now fail rather than get the secret "
    "(idempotent; audited)",
)
def revoke_secret(
    ctx: Ctx, principal: Admin, name: str, scope: Scope, subject: str
) -> GrantChangeOut:
    return GrantChangeOut.of(
        secrets.revoke_secret(ctx, principal, name, **_subject(scope, subject))
    )


@router.put(
    "/secrets/{name}",
    response_model=SecretValueChangeOut,
    summary="Set a secret's value: stored sealed, never shown again (audited, without the value)",
)
def set_secret(ctx: Ctx, principal: Admin, name: str, body: SecretValueIn) -> SecretValueChangeOut:
    return SecretValueChangeOut.set(secrets.set_secret_value(ctx, principal, name, body.value))


@router.delete(
    "/secrets/{name}",
    response_model=SecretValueChangeOut,
    summary="Delete a secret's stored value (a file of that name is used again; idempotent; "
    "audited)",
)
def delete_secret(ctx: Ctx, principal: Admin, name: str) -> SecretValueChangeOut:
    return SecretValueChangeOut.deleted(secrets.delete_secret_value(ctx, principal, name))
