"""Web UI sessions (see migration 0019)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.auth import Role
from shoal.store.tables import api_tokens, ui_sessions

__all__ = [
    "UiSession",
    "count_ended",
    "delete_ended",
    "find_live",
    "insert_session",
    "revoke_session",
]


@dataclass(frozen=True, slots=True)
class UiSession:
    id: int
    principal: str
    role: Role
    via: str
    token_id: int | None
    csrf_token: str
    expires_at: datetime


def insert_session(
    conn: Connection,
    *,
    session_hash: str,
    principal: str,
    role: Role,
    via: str,
    token_id: int | None,
    csrf_token: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    return int(
        conn.execute(
            sa.insert(ui_sessions)
            .values(
                session_hash=session_hash,
                principal=principal,
                role=role.value,
                via=via,
                token_id=token_id,
                csrf_token=csrf_token,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(ui_sessions.c.id)
        ).scalar_one()
    )


def find_live(conn: Connection, session_hash: str, now: datetime) -> UiSession | None:
    """The session with this hash when it is neither revoked nor expired and, for a session
    made from an API token, that token is neither revoked nor expired: one query."""
    token_live = sa.or_(
        ui_sessions.c.token_id.is_(None),
        sa.exists().where(
            api_tokens.c.id == ui_sessions.c.token_id,
            api_tokens.c.revoked_at.is_(None),
            sa.or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
        ),
    )
    row = (
        conn.execute(
            sa.select(ui_sessions).where(
                ui_sessions.c.session_hash == session_hash,
                ui_sessions.c.revoked_at.is_(None),
                ui_sessions.c.expires_at > now,
                token_live,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return UiSession(
        id=row["id"],
        principal=row["principal"],
        role=Role(row["role"]),
        via=row["via"],
        token_id=row["token_id"],
        csrf_token=row["csrf_token"],
        expires_at=row["expires_at"],
    )


def revoke_session(conn: Connection, session_hash: str, now: datetime) -> bool:
    result = conn.execute(
        sa.update(ui_sessions)
        .where(ui_sessions.c.session_hash == session_hash, ui_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def _ended(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(ui_sessions.c.expires_at <= now, ui_sessions.c.revoked_at <= now)


def delete_ended(conn: Connection, now: datetime, *, limit: int) -> int:
    """Deletes up to `limit` sessions that expired or were signed out by `now`."""
    doomed = sa.select(ui_sessions.c.id).where(_ended(now)).limit(limit).scalar_subquery()
    result = conn.execute(sa.delete(ui_sessions).where(ui_sessions.c.id.in_(doomed)))
    return int(result.rowcount)


def count_ended(conn: Connection, now: datetime) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(ui_sessions).where(_ended(now))
        ).scalar_one()
    )
