"""Build the application context from settings: external servers when URLs are set, embedded
ones otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import redis

from shoal.config import Settings
from shoal.domain.clock import Clock, ScaledClock, SystemClock
from shoal.runtime.embedded import EmbeddedPostgres, EmbeddedRedis
from shoal.services.context import AppContext
from shoal.store import Database
from shoal.store.migrate import upgrade

__all__ = ["app_context", "database_url", "redis_url"]


def database_url(settings: Settings, stack: ExitStack) -> str:
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    stack.callback(embedded.stop)
    return url


def redis_url(settings: Settings, stack: ExitStack) -> str:
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    embedded = EmbeddedRedis(settings.data_dir)
    url = embedded.start()
    stack.callback(embedded.stop)
    return url


@contextmanager
def app_context(settings: Settings, *, migrate: bool = False) -> Iterator[AppContext]:
    """The context for one process; servers it started are stopped when the block ends."""
    with ExitStack() as stack:
        db = Database(database_url(settings, stack))
        stack.callback(db.dispose)
        if migrate:
            upgrade(db)
        client = redis.Redis.from_url(redis_url(settings, stack))
        stack.callback(client.close)
        clock: Clock = (
            SystemClock() if settings.clock_speed == 1 else ScaledClock(settings.clock_speed)
        )
        yield AppContext(settings=settings, db=db, redis=client, clock=clock)
