"""Web UI sessions: signing in (with an API token, or as an OpenID Connect identity), finding
the session a cookie names, signing out.

The cookie holds a random session id; Postgres holds its sha256, the principal, the role and the
session's CSRF token. A session made from an API token is live only while the token is, so
revoking a token signs its browsers out at their next request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal, Role
from shoal.services import tokens
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store import ui_sessions as session_store

__all__ = ["SignedIn", "UiSession", "find", "sign_in_identity", "sign_in_with_token", "sign_out"]

UiSession = session_store.UiSession


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: `cookie` goes to the browser once and is never stored."""

    cookie: str
    session: UiSession


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _create(
    ctx: AppContext,
    *,
    principal: str,
    role: Role,
    via: str,
    token_id: int | None,
    details: dict[str, object],
) -> SignedIn:
    now = ctx.clock.now()
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=ctx.settings.ui_session_hours)
    with ctx.db.transaction() as conn:
        session_id = session_store.insert_session(
            conn,
            session_hash=_hash(cookie),
            principal=principal,
            role=role,
            via=via,
            token_id=token_id,
            csrf_token=csrf,
            now=now,
            expires_at=expires_at,
        )
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal,
                action="ui.sign_in",
                target=f"ui_session:{session_id}",
                details={"via": via, "role": role.value, **details},
            ),
            now=now,
        )
    session = UiSession(
        id=session_id,
        principal=principal,
        role=role,
        via=via,
        token_id=token_id,
        csrf_token=csrf,
        expires_at=expires_at,
    )
    return SignedIn(cookie=cookie, session=session)


def sign_in_with_token(ctx: AppContext, secret: str) -> SignedIn:
    """A session for the holder of a live API token (AuthenticationError otherwise)."""
    token = tokens.authenticate_token(ctx, secret.strip())
    return _create(
        ctx,
        principal=f"token:{token.name}",
        role=token.role,
        via="token",
        token_id=token.id,
        details={"token_id": token.id},
    )


def sign_in_identity(
    ctx: AppContext, *, principal: str, role: Role, details: dict[str, object]
) -> SignedIn:
    """A session for an identity an OpenID Connect provider vouched for."""
    return _create(ctx, principal=principal, role=role, via="oidc", token_id=None, details=details)


def find(ctx: AppContext, cookie: str | None) -> UiSession | None:
    if not cookie or len(cookie) > 100:
        return None
    with ctx.db.transaction() as conn:
        return session_store.find_live(conn, _hash(cookie), ctx.clock.now())


def sign_out(ctx: AppContext, cookie: str, *, principal: Principal) -> None:
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        if session_store.revoke_session(conn, _hash(cookie), now):
            audit_store.append_audit_event(
                conn, NewAuditEvent(actor=principal.name, action="ui.sign_out"), now=now
            )
