"""API tokens: minting (shown once), authentication, expiry, revocation.

These are the tokens people and scripts hold to call the API, each with a role. Only admins
manage them (`/api/v1/tokens`, `shoal tokens ...`); `shoal admin create-token` on the server's
machine mints the first one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import ApiToken, ApiTokenId, Principal, Role
from shoal.domain.errors import AuthenticationError, InvalidInputError, NotFoundError
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store import tokens as token_store

__all__ = [
    "LAST_USED_RESOLUTION",
    "MAX_LIFETIME",
    "TOKEN_PREFIX",
    "TokenRevocation",
    "authenticate",
    "authenticate_token",
    "create_token",
    "get_token",
    "hash_token",
    "list_tokens",
    "parse_lifetime",
    "revoke",
]

TOKEN_PREFIX = "shoal_"  # noqa: S105 - a public prefix that makes leaked tokens greppable

# A token's last use is recorded at this resolution. Authentication reads the token's row
# anyway (revocation and expiry must hold at once, so nothing is cached), and that row says
# when its use was last recorded: only when that is older than this does the request write,
# so a busy token costs one UPDATE a minute, not one per request. The UPDATE is conditional
# on the same age, so processes racing past the check still write once between them.
LAST_USED_RESOLUTION = timedelta(minutes=1)

MAX_LIFETIME = timedelta(days=3650)

# "90d", "12h", "1d12h", "30m": whole units, largest first, each at most once.
_LIFETIME = re.compile(r"(?:(\d{1,5})d)?(?:(\d{1,6})h)?(?:(\d{1,7})m)?")


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def parse_lifetime(text: str) -> timedelta:
    """A token's lifetime as written: `90d`, `12h`, `1d12h`, `30m`."""
    match = _LIFETIME.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise InvalidInputError(
            f"{text[:40]!r} is not a lifetime: write days, hours and minutes like 90d, 12h, "
            "1d12h or 30m",
            details={"expires_in": text[:40]},
        )
    days, hours, minutes = (int(group or 0) for group in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _expiry(now: datetime, expires_in: str | None, expires_at: datetime | None) -> datetime | None:
    if expires_in is not None and expires_at is not None:
        raise InvalidInputError("give a token's expiry as expires_in or expires_at, not both")
    if expires_in is not None:
        expires_at = now + parse_lifetime(expires_in)
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise InvalidInputError(
            "expires_at needs a time zone (e.g. 2027-01-31T00:00:00Z)",
            details={"expires_at": expires_at.isoformat()},
        )
    if expires_at <= now:
        raise InvalidInputError(
            "a token's expiry must be in the future",
            details={"expires_at": expires_at.isoformat(), "now": now.isoformat()},
        )
    if expires_at - now > MAX_LIFETIME:
        raise InvalidInputError(
            f"a token may live at most {MAX_LIFETIME.days} days; leave the expiry out for a "
            "token that lives until it is revoked",
            details={"expires_at": expires_at.isoformat()},
        )
    return expires_at


def create_token(
    ctx: AppContext,
    *,
    name: str,
    role: Role,
    actor: str,
    expires_in: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Mint a token. Returns the stored record and the secret, which is never stored."""
    if not name.strip() or len(name) > 100:
        raise InvalidInputError("token name must be 1 to 100 characters")
    now = ctx.clock.now()
    expiry = _expiry(now, expires_in, expires_at)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.db.transaction() as conn:
        token = token_store.insert_token(
            conn,
            name=name,
            role=role,
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            token_hash=hash_token(secret),
            created_by=actor,
            now=now,
            expires_at=expiry,
        )
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=actor,
                action="token.create",
                target=f"token:{token.id}",
                details={
                    "name": name,
                    "role": role.value,
                    "expires_at": expiry.isoformat() if expiry else None,
                },
            ),
            now=now,
        )
    return token, secret


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def authenticate(ctx: AppContext, secret: str) -> Principal:
    token = authenticate_token(ctx, secret)
    return Principal(name=f"token:{token.name}", role=token.role)


def authenticate_token(ctx: AppContext, secret: str) -> ApiToken:
    """The live token with this secret (recording its use), or AuthenticationError."""
    if not secret.startswith(TOKEN_PREFIX):
        raise AuthenticationError("invalid API token")
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        token = token_store.find_token_by_hash(conn, hash_token(secret))
        if token is None:
            raise AuthenticationError("invalid API token")
        if token.revoked_at is not None:
            raise AuthenticationError(
                f"API token {token.name!r} was revoked at {_when(token.revoked_at)}",
                details={"token_id": token.id, "revoked_at": token.revoked_at.isoformat()},
            )
        if token.expires_at is not None and token.expires_at <= now:
            raise AuthenticationError(
                f"API token {token.name!r} expired at {_when(token.expires_at)}: ask an admin "
                "for a new one (`shoal tokens create`)",
                details={"token_id": token.id, "expired_at": token.expires_at.isoformat()},
            )
        stale = now - LAST_USED_RESOLUTION
        if token.last_used_at is None or token.last_used_at < stale:
            token_store.mark_token_used(conn, token.id, now, older_than=stale)
    return token


def list_tokens(ctx: AppContext) -> list[ApiToken]:
    with ctx.db.transaction() as conn:
        return token_store.list_tokens(conn)


def get_token(ctx: AppContext, token_id: int) -> ApiToken:
    with ctx.db.transaction() as conn:
        token = token_store.get_token(conn, ApiTokenId(token_id))
    if token is None:
        raise NotFoundError(f"token {token_id} not found", details={"token_id": token_id})
    return token


@dataclass(frozen=True, slots=True)
class TokenRevocation:
    """`changed` is False when the token was revoked already (nothing written, not audited)."""

    changed: bool
    token: ApiToken


def revoke(ctx: AppContext, token_id: int, *, actor: str) -> TokenRevocation:
    """Revoke a token at once (idempotent); its holder's next request gets 401."""
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        changed = token_store.revoke_token(conn, ApiTokenId(token_id), now)
        token = token_store.get_token(conn, ApiTokenId(token_id))
        if token is None:
            raise NotFoundError(f"token {token_id} not found", details={"token_id": token_id})
        if changed:
            audit_store.append_audit_event(
                conn,
                NewAuditEvent(
                    actor=actor,
                    action="token.revoke",
                    target=f"token:{token_id}",
                    details={"name": token.name, "role": token.role.value},
                ),
                now=now,
            )
    return TokenRevocation(changed=changed, token=token)
