"""Execution tokens (the artifact proxy's credentials), stored as sha256 hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from shoal.store.tables import execution_tokens

__all__ = [
    "ExecutionToken",
    "find_execution_token",
    "insert_execution_token",
    "list_execution_tokens",
    "mark_results",
    "revoke_execution_tokens",
]


@dataclass(frozen=True, slots=True)
class ExecutionToken:
    id: int
    execution_id: int
    purpose: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    results_at: datetime | None


def insert_execution_token(
    conn: Connection,
    *,
    execution_id: int,
    token_hash: str,
    purpose: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    """The new token's id."""
    return int(
        conn.execute(
            sa.insert(execution_tokens)
            .values(
                execution_id=execution_id,
                token_hash=token_hash,
                purpose=purpose,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(execution_tokens.c.id)
        ).scalar_one()
    )


def find_execution_token(conn: Connection, token_hash: str) -> ExecutionToken | None:
    row = (
        conn.execute(sa.select(execution_tokens).where(execution_tokens.c.token_hash == token_hash))
        .mappings()
        .first()
    )
    return None if row is None else _token(row)


def list_execution_tokens(conn: Connection, execution_id: int) -> list[ExecutionToken]:
    """The execution's tokens, oldest first."""
    rows = conn.execute(
        sa.select(execution_tokens)
        .where(execution_tokens.c.execution_id == execution_id)
        .order_by(execution_tokens.c.id)
    ).mappings()
    return [_token(row) for row in rows]


def _token(row: RowMapping) -> ExecutionToken:
    return ExecutionToken(
        id=row["id"],
        execution_id=row["execution_id"],
        purpose=row["purpose"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        results_at=row["results_at"],
    )


def mark_results(conn: Connection, token_id: int, *, now: datetime) -> bool:
    """Record that the token's results are complete; False if they already were, or the
    token was revoked meanwhile (one result per token, recorded once)."""
    done = conn.execute(
        sa.update(execution_tokens)
        .where(
            execution_tokens.c.id == token_id,
            execution_tokens.c.results_at.is_(None),
            execution_tokens.c.revoked_at.is_(None),
        )
        .values(results_at=now)
    )
    return done.rowcount == 1


def revoke_execution_tokens(conn: Connection, execution_id: int, *, now: datetime) -> int:
    """Revoke every live token of the execution; how many were."""
    done = conn.execute(
        sa.update(execution_tokens)
        .where(
            execution_tokens.c.execution_id == execution_id,
            execution_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return done.rowcount
