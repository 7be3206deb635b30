"""Grants of step secrets to campaigns and orgs: which names a campaign may use, never values."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from shoal.store.tables import secret_grants

__all__ = [
    "GrantScope",
    "SecretGrant",
    "delete_grant",
    "get_grant",
    "granted_for_execution",
    "granted_for_spec",
    "insert_grant",
    "list_grants",
]

GrantScope = Literal["campaign", "org"]


@dataclass(frozen=True, slots=True)
class SecretGrant:
    secret: str
    scope: GrantScope
    subject: str  # campaign name, or org login in lower case
    granted_by: str
    granted_at: datetime


def _grant(row: Any) -> SecretGrant:
    scope: GrantScope = "campaign" if row.scope == "campaign" else "org"
    return SecretGrant(row.secret, scope, row.subject, row.granted_by, row.granted_at)


_COLUMNS = (
    secret_grants.c.secret,
    secret_grants.c.scope,
    secret_grants.c.subject,
    secret_grants.c.granted_by,
    secret_grants.c.granted_at,
)


def insert_grant(
    conn: Connection, secret: str, scope: GrantScope, subject: str, *, by: str, now: datetime
) -> bool:
    """Add the grant; False when it was there already (the existing row is kept)."""
    stmt = (
        insert(secret_grants)
        .values(secret=secret, scope=scope, subject=subject, granted_by=by, granted_at=now)
        .on_conflict_do_nothing()
        .returning(secret_grants.c.secret)
    )
    return conn.execute(stmt).first() is not None


def delete_grant(
    conn: Connection, secret: str, scope: GrantScope, subject: str
) -> SecretGrant | None:
    """Remove the grant; the removed row, or None when there was none."""
    stmt = (
        sa.delete(secret_grants)
        .where(
            secret_grants.c.secret == secret,
            secret_grants.c.scope == scope,
            secret_grants.c.subject == subject,
        )
        .returning(*_COLUMNS)
    )
    row = conn.execute(stmt).first()
    return None if row is None else _grant(row)


def get_grant(conn: Connection, secret: str, scope: GrantScope, subject: str) -> SecretGrant | None:
    query = sa.select(*_COLUMNS).where(
        secret_grants.c.secret == secret,
        secret_grants.c.scope == scope,
        secret_grants.c.subject == subject,
    )
    row = conn.execute(query).first()
    return None if row is None else _grant(row)


def list_grants(conn: Connection) -> list[SecretGrant]:
    query = sa.select(*_COLUMNS).order_by(
        secret_grants.c.secret, secret_grants.c.scope, secret_grants.c.subject
    )
    return [_grant(row) for row in conn.execute(query)]


def granted_for_spec(conn: Connection, names: Collection[str], campaign: str) -> set[str]:
    """Which of `names` a spec of `campaign` may name: granted to it, or to some org.

    An org grant lets any campaign name the secret; each execution then gets it only in a
    repository of that org (`granted_for_execution`).
    """
    if not names:
        return set()
    query = sa.select(secret_grants.c.secret).where(
        secret_grants.c.secret.in_(sorted(names)),
        sa.or_(
            secret_grants.c.scope == "org",
            sa.and_(secret_grants.c.scope == "campaign", secret_grants.c.subject == campaign),
        ),
    )
    return set(conn.execute(query).scalars())


def granted_for_execution(
    conn: Connection, names: Collection[str], campaign: str, org: str
) -> set[str]:
    """Which of `names` an execution of `campaign` in a repository of `org` may be given."""
    if not names:
        return set()
    query = sa.select(secret_grants.c.secret).where(
        secret_grants.c.secret.in_(sorted(names)),
        sa.or_(
            sa.and_(secret_grants.c.scope == "org", secret_grants.c.subject == org.lower()),
            sa.and_(secret_grants.c.scope == "campaign", secret_grants.c.subject == campaign),
        ),
    )
    return set(conn.execute(query).scalars())
