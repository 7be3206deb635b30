"""How worker processes coordinate through PostgreSQL: one leader, and wake-ups on new tasks.

Both need a connection of their own that stays open: the leader lock is a session lock that
PostgreSQL releases when the holder's connection ends (so a dead leader hands over by itself),
and LISTEN only hears notifications on the connection that issued it.
"""

from __future__ import annotations

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.errors import UnavailableError
from shoal.store.tasks import NOTIFY_CHANNEL

__all__ = ["LEADER_LOCK", "lead", "listen", "resign", "wait_for_notify"]

# Advisory lock key of the leader worker; the migration lock is 0x50A1.
LEADER_LOCK = 0x50A11EAD

# Taking an advisory lock is re-entrant (each success must be undone once), so a leader first
# checks whether it holds the lock already. The check also fails loudly on a dead connection.
_LEAD = sa.text("""
SELECT CASE WHEN EXISTS (
    SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
        AND classid = 0 AND objid = :key AND objsubid = 1 AND granted
) THEN true ELSE pg_try_advisory_lock(:key) END
""")


def lead(conn: Connection) -> bool:
    """Take or confirm the leader lock on `conn`; True while this connection holds it."""
    return bool(conn.execute(_LEAD, {"key": LEADER_LOCK}).scalar_one())


def resign(conn: Connection) -> None:
    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK})


def listen(conn: Connection) -> None:
    """Subscribe `conn` (in autocommit mode) to the wake-ups `tasks.enqueue` sends."""
    conn.exec_driver_sql(f"LISTEN {NOTIFY_CHANNEL}")


def wait_for_notify(conn: Connection, timeout_s: float) -> list[str]:
    """Block until a wake-up arrives on a listening connection or `timeout_s` passes; the
    wake-ups' payloads (for the task queue: the kinds queued), empty after a timeout."""
    driver = conn.connection.driver_connection
    if driver is None:
        raise UnavailableError("the listening connection is closed")
    try:
        return [n.payload for n in driver.notifies(timeout=timeout_s, stop_after=1)]
    except psycopg.Error as exc:
        # notifies() runs below SQLAlchemy, so its errors arrive untranslated.
        raise UnavailableError("lost the connection listening for tasks") from exc
