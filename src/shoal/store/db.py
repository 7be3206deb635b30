"""Engine and transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

__all__ = ["Database", "sqlalchemy_url"]


def sqlalchemy_url(url: str) -> str:
    """Accept plain libpq URLs (postgresql://) and pin SQLAlchemy to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: Shoal needs PostgreSQL "
            "(postgresql://user:pass@host:5432/db)"
        )
    return parsed.render_as_string(hide_password=False)


class Database:
    """A connection pool to Shoal's PostgreSQL database."""

    def __init__(
        self, url: str, *, pool_size: int = 10, echo: bool = False, pre_ping: bool = True
    ) -> None:
        self.engine: Engine = sa.create_engine(
            sqlalchemy_url(url),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=pre_ping,
            echo=echo,
        )

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
