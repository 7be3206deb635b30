"""Step secrets set over the API, kept sealed: this module never sees a plaintext value."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from shoal.store.tables import secret_values

__all__ = [
    "StoredSecret",
    "delete_value",
    "list_stored",
    "reseal_batch",
    "sealed_values",
    "stale_batch",
    "upsert_value",
]


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """A stored secret's bookkeeping (not its value)."""

    name: str
    key_id: str
    set_by: str
    set_at: datetime


def upsert_value(
    conn: Connection, name: str, sealed: str, *, key_id: str, by: str, now: datetime
) -> bool:
    """Store the sealed value; True when the secret is new, False when it replaced one."""
    row = insert(secret_values).values(
        name=name, sealed=sealed, key_id=key_id, set_by=by, set_at=now
    )
    # xmax is 0 on a row this statement inserted, the updating transaction's id otherwise.
    upsert = row.on_conflict_do_update(
        index_elements=[secret_values.c.name],
        set_={"sealed": sealed, "key_id": key_id, "set_by": by, "set_at": now},
    )
    return bool(conn.execute(upsert.returning(sa.literal_column("xmax = 0"))).scalar_one())


def delete_value(conn: Connection, name: str) -> bool:
    result = conn.execute(sa.delete(secret_values).where(secret_values.c.name == name))
    return result.rowcount > 0


def sealed_values(conn: Connection, names: Collection[str]) -> dict[str, str]:
    if not names:
        return {}
    rows = conn.execute(
        sa.select(secret_values.c.name, secret_values.c.sealed).where(
            secret_values.c.name.in_(list(names))
        )
    )
    return {row.name: row.sealed for row in rows}


def list_stored(conn: Connection) -> list[StoredSecret]:
    rows = conn.execute(
        sa.select(
            secret_values.c.name,
            secret_values.c.key_id,
            secret_values.c.set_by,
            secret_values.c.set_at,
        ).order_by(secret_values.c.name)
    )
    return [StoredSecret(r.name, r.key_id, r.set_by, r.set_at) for r in rows]


def stale_batch(conn: Connection, current_key: str, limit: int) -> list[tuple[str, str]]:
    """Up to `limit` (name, sealed) not sealed under `current_key`, locked for rewriting;
    rows another re-encryption holds are skipped, so two can run at once."""
    rows = conn.execute(
        sa.select(secret_values.c.name, secret_values.c.sealed)
        .where(secret_values.c.key_id != current_key)
        .order_by(secret_values.c.name)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(row.name, row.sealed) for row in rows]


def reseal_batch(conn: Connection, name: str, sealed: str, *, key_id: str) -> None:
    conn.execute(
        sa.update(secret_values)
        .where(secret_values.c.name == name)
        .values(sealed=sealed, key_id=key_id)
    )
