"""Counting the SQL statements a page makes, on the running server's own engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from shoal.store import Database


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """Every statement sent while the block runs (the pool's pings and the session check
    included: they are the same for every page)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
