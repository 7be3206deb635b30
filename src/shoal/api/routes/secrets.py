"""Step secrets: which campaigns and orgs may use them. Admin only; values never pass here."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from shoal.api.deps import Admin, Ctx
from shoal.api.paths import API_PREFIX
from shoal.api.secret_schemas import GrantChangeOut, SecretsOut
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
