"""API tokens, stored as sha256 hashes (the token itself is shown once, never stored)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from shoal.domain.auth import ApiToken, ApiTokenId, Role
from shoal.store.tables import api_tokens

__all__ = [
    "find_token_by_hash",
    "get_token",
    "insert_token",
    "list_tokens",
    "mark_token_used",
    "revoke_token",
]


def _token(row: RowMapping) -> ApiToken:
    return ApiToken(
        id=ApiTokenId(row["id"]),
        name=row["name"],
        role=Role(row["role"]),
        prefix=row["prefix"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        expires_at=row["expires_at"],
    )


def insert_token(
    conn: Connection,
    *,
    name: str,
    role: Role,
    prefix: str,
    token_hash: str,
    created_by: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> ApiToken:
    row = (
        conn.execute(
            sa.insert(api_tokens)
            .values(
                name=name,
                role=role.value,
                prefix=prefix,
                token_hash=token_hash,
                created_by=created_by,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(api_tokens)
        )
        .mappings()
        .one()
    )
    return _token(row)


def find_token_by_hash(conn: Connection, token_hash: str) -> ApiToken | None:
    row = (
        conn.execute(sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash))
        .mappings()
        .first()
    )
    return _token(row) if row else None


def get_token(conn: Connection, token_id: ApiTokenId) -> ApiToken | None:
    row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()
    return _token(row) if row else None


def mark_token_used(
    conn: Connection, token_id: ApiTokenId, now: datetime, *, older_than: datetime
) -> None:
    """Record use unless another request (of any process) already recorded one since
    `older_than`: concurrent processes write at most once per interval between them."""
    conn.execute(
        sa.update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            sa.or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at < older_than),
        )
        .values(last_used_at=now)
    )


def revoke_token(conn: Connection, token_id: ApiTokenId, now: datetime) -> bool:
    """Revoke the token; False when there is none to revoke (gone, or revoked already: it
    keeps its first revocation time)."""
    result = conn.execute(
        sa.update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount > 0


def list_tokens(conn: Connection) -> list[ApiToken]:
    rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.id)).mappings()
    return [_token(row) for row in rows]
