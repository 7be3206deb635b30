"""What every use case needs, built once per process by the entrypoint."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import redis

from shoal.blobs import ObjectStore, open_object_store
from shoal.config import Settings
from shoal.domain.clock import Clock, SystemClock
from shoal.store import Database

__all__ = ["AppContext"]


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db: Database
    redis: redis.Redis[bytes]
    clock: Clock = field(default_factory=SystemClock)

    @functools.cached_property
    def blobs(self) -> ObjectStore:
        """The object store, opened on first use (a process that never reads one never connects)."""
        return open_object_store(self.settings)
