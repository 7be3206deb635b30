"""Starting the embedded PostgreSQL and Redis in the background.

With no SHOAL_DATABASE_URL / SHOAL_REDIS_URL, a process runs its servers under the data dir.
Both start at once, each in a thread, while the process goes on loading its own code: `shoal
up` imports the API and the worker meanwhile, so its start-up takes the longest of the three,
not their sum. This module imports little on purpose, so that the servers start before the
heavy imports do.

A data dir that another running `shoal up` owns (the instance registry) is used through that
instance's servers: a local command never starts a second PostgreSQL there, it waits for the
instance's while it is still starting.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoal.domain.errors import ShoalError
from shoal.runtime.embedded import EmbeddedPostgres, EmbeddedRedis, load_server_modules
from shoal.runtime.instances import Instance, running_instances

if TYPE_CHECKING:
    from shoal.config import Settings

__all__ = ["Servers", "start_servers"]

# How long a command waits for the PostgreSQL of an instance that is still starting.
ATTACH_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Servers:
    """The embedded servers being started; None where the settings name an external one or
    the process asked for none."""

    postgres: Future[str] | None  # the embedded server's superuser URL
    redis: Future[str] | None  # the embedded Redis's URL
    # The PostgreSQL is that of another running `shoal up`, which owns it.
    attached: bool = False

    def postgres_url(self) -> str:
        """The embedded PostgreSQL's URL, once it answers (its start's error otherwise)."""
        if self.postgres is None:
            raise RuntimeError("no embedded PostgreSQL was started")
        return self.postgres.result()

    def redis_url(self) -> str:
        if self.redis is None:
            raise RuntimeError("no embedded Redis was started")
        return self.redis.result()


def start_servers(settings: Settings, stack: ExitStack, *, redis: bool = True) -> Servers:
    """Start what the settings leave embedded (Redis only when `redis`), in the background.

    Servers this process started are stopped when `stack` closes, after their start has
    finished (a stop that ran while a start was still under way would leave it running).
    """
    want_postgres = settings.database_url is None
    want_redis = redis and settings.redis_url is None
    if not (want_postgres or want_redis):
        return Servers(postgres=None, redis=None)
    load_server_modules()
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="shoal-servers")
    stack.callback(pool.shutdown)
    postgres = None
    owner = _owner(settings) if want_postgres else None
    if owner is not None:
        postgres = pool.submit(_attach, EmbeddedPostgres(settings.data_dir), owner)
    elif want_postgres:
        postgres = _started(stack, pool, EmbeddedPostgres(settings.data_dir))
    redis_started = _started(stack, pool, EmbeddedRedis(settings.data_dir)) if want_redis else None
    return Servers(postgres=postgres, redis=redis_started, attached=owner is not None)


def _started(
    stack: ExitStack, pool: ThreadPoolExecutor, server: EmbeddedPostgres | EmbeddedRedis
) -> Future[str]:
    started = pool.submit(server.start)

    def stop() -> None:
        wait_for([started])
        server.stop()

    stack.callback(stop)
    return started


def _owner(settings: Settings) -> Instance | None:
    """Another live `shoal up` that runs on this data dir, if any."""
    data_dir = settings.data_dir.resolve()
    for instance in running_instances():
        if instance.pid != os.getpid() and instance.data_dir == data_dir:
            return instance
    return None


def _attach(server: EmbeddedPostgres, owner: Instance) -> str:
    deadline = time.monotonic() + ATTACH_TIMEOUT_S
    while True:
        url = server.running_url()
        if url is not None:
            return url
        if owner not in running_instances():
            raise ShoalError(
                f"the `shoal up` (pid {owner.pid}) that runs on {owner.data_dir} stopped before "
                "its database was up; start it again"
            )
        if time.monotonic() > deadline:
            raise ShoalError(
                f"the database of the running `shoal up` (pid {owner.pid}) on {owner.data_dir} "
                f"did not come up within {ATTACH_TIMEOUT_S:.0f} s; see {server.pgdata / 'log'}"
            )
        time.sleep(0.05)
