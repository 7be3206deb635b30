"""Audit events: one per user action and per GitHub mutation, append-only and hash-chained."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["GENESIS_HASH", "AuditEvent", "NewAuditEvent", "chain_hash"]


@dataclass(frozen=True, slots=True)
class NewAuditEvent:
    actor: str
    action: str
    outcome: str = "ok"
    campaign_id: int | None = None
    spec_version: int | None = None
    target: str | None = None
    repo: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    at: datetime
    actor: str
    action: str
    outcome: str
    campaign_id: int | None
    spec_version: int | None
    target: str | None
    repo: str | None
    request_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def content(self) -> NewAuditEvent:
        """What was recorded, without the stored id, time and chain: what `hash` covers."""
        return NewAuditEvent(
            actor=self.actor,
            action=self.action,
            outcome=self.outcome,
            campaign_id=self.campaign_id,
            spec_version=self.spec_version,
            target=self.target,
            repo=self.repo,
            request_id=self.request_id,
            details=self.details,
        )


GENESIS_HASH = "0" * 64


def chain_hash(prev_hash: str, at: datetime, event: NewAuditEvent) -> str:
    """The row hash: sha256 over the previous hash and the event's canonical JSON.

    `at` is hashed as an ISO string in UTC with microseconds, the precision Postgres keeps.
    """
    body = {
        "action": event.action,
        "actor": event.actor,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "campaign_id": event.campaign_id,
        "details": event.details,
        "outcome": event.outcome,
        "repo": event.repo,
        "request_id": event.request_id,
        "spec_version": event.spec_version,
        "target": event.target,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()
