"""API tokens: minting (shown once), authentication, revocation."""

from __future__ import annotations

import hashlib
import secrets

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import ApiToken, ApiTokenId, Principal, Role
from shoal.domain.errors import AuthenticationError, InvalidInputError, NotFoundError
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store import tokens as token_store

__all__ = ["TOKEN_PREFIX", "authenticate", "create_token", "hash_token", "list_tokens", "revoke"]

TOKEN_PREFIX = "shoal_"  # noqa: S105 - a public prefix that makes leaked tokens greppable


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(ctx: AppContext, *, name: str, role: Role, actor: str) -> tuple[ApiToken, str]:
    """Mint a token. Returns the stored record and the secret, which is never stored."""
    if not name.strip() or len(name) > 100:
        raise InvalidInputError("token name must be 1 to 100 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        token = token_store.insert_token(
            conn,
            name=name,
            role=role,
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            token_hash=hash_token(secret),
            created_by=actor,
            now=now,
        )
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=actor,
                action="token.create",
                target=f"token:{token.id}",
                details={"name": name, "role": role.value},
            ),
            now=now,
        )
    return token, secret


def authenticate(ctx: AppContext, secret: str) -> Principal:
    if not secret.startswith(TOKEN_PREFIX):
        raise AuthenticationError("invalid API token")
    with ctx.db.transaction() as conn:
        token = token_store.find_token_by_hash(conn, hash_token(secret))
        if token is None or token.revoked_at is not None:
            raise AuthenticationError("invalid or revoked API token")
        token_store.mark_token_used(conn, token.id, ctx.clock.now())
    return Principal(name=f"token:{token.name}", role=token.role)


def list_tokens(ctx: AppContext) -> list[ApiToken]:
    with ctx.db.transaction() as conn:
        return token_store.list_tokens(conn)


def revoke(ctx: AppContext, token_id: int, *, actor: str) -> None:
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        if not token_store.revoke_token(conn, ApiTokenId(token_id), now):
            raise NotFoundError(f"token {token_id} not found or already revoked")
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(actor=actor, action="token.revoke", target=f"token:{token_id}"),
            now=now,
        )
