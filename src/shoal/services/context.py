"""What every use case needs, built once per process by the entrypoint."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import redis

from shoal.blobs import ObjectStore, open_object_store
from shoal.config import Settings
from shoal.crypto import Keyring, load_keyring, open_setting
from shoal.domain.audit import AuditKey
from shoal.domain.clock import Clock, SystemClock
from shoal.services.audit_key import load_audit_key
from shoal.store import Database

__all__ = ["AppContext"]


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    db: Database
    redis: redis.Redis[bytes]
    clock: Clock = field(default_factory=SystemClock)

    def __post_init__(self) -> None:
        # The store signs audit events with the key these settings name, read on first use:
        # a process that writes no audit event never needs it.
        settings = self.settings

        @functools.cache
        def key() -> AuditKey:
            return load_audit_key(settings)

        self.db.use_audit_key(key)

    @functools.cached_property
    def keyring(self) -> Keyring:
        """The keys secrets at rest are sealed with (read once; entrypoints read it at start
        so that a process without keys fails before it serves anything)."""
        return load_keyring(self.settings)

    @functools.cached_property
    def webhook_secret(self) -> str | None:
        """The GitHub App's webhook secret, opened when the setting holds it sealed."""
        return open_setting(
            self.keyring, "github_webhook_secret", self.settings.github_webhook_secret
        )

    @functools.cached_property
    def blobs(self) -> ObjectStore:
        """The object store, opened on first use (a process that never reads one never connects)."""
        return open_object_store(self.settings)
