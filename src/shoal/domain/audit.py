"""Audit events: one per user action and per GitHub mutation, append-only and hash-chained.

Each row's `hash` covers its content and the previous row's hash. Rows written since the
keyed chain began (`id > keyed_after_id`) are HMAC-SHA256 under a key kept outside the
database, so someone who can rewrite the table cannot recompute a valid chain; older rows keep
the unkeyed sha256 they were written with. Anchors of the chain head, kept outside the
database, reveal rows deleted from the end. `check_chain` tells which of these happened.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditKey",
    "ChainAnchor",
    "ChainCheck",
    "ChainHead",
    "ChainProblem",
    "NewAuditEvent",
    "chain_hash",
    "check_chain",
    "keyed_hash",
]


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
    key_id: str | None = None

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


@dataclass(frozen=True, slots=True)
class AuditKey:
    """The chain's HMAC key. Its value never appears in repr, logs or messages; `key_id`
    names it (a digest that reveals nothing usable about the key)."""

    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"shoal-audit-key-id\n" + self.secret).hexdigest()[:16]

    def mac(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


GENESIS_HASH = "0" * 64


def _message(prev_hash: str, at: datetime, event: NewAuditEvent) -> bytes:
    """What a row's hash covers: the previous hash and the event's canonical JSON.

    `at` is an ISO string in UTC with microseconds, the precision Postgres keeps.
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
    return f"{prev_hash}\n{canonical}".encode()


def chain_hash(prev_hash: str, at: datetime, event: NewAuditEvent) -> str:
    """The legacy, unkeyed row hash (rows up to the keyed chain's start): anyone can
    recompute it, so it only catches accidents, not someone rewriting the table."""
    return hashlib.sha256(_message(prev_hash, at, event)).hexdigest()


def keyed_hash(key: AuditKey, prev_hash: str, at: datetime, event: NewAuditEvent) -> str:
    """The row hash of the keyed chain: HMAC-SHA256 over the same message as `chain_hash`."""
    return key.mac(_message(prev_hash, at, event))


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest row of the chain and how many rows there are (`id` 0: the log is empty)."""

    id: int
    hash: str
    count: int


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """A signed record of the chain head at a time, kept where the database cannot rewrite it."""

    key_id: str
    keyed_after_id: int
    head_id: int
    head_hash: str
    count: int
    at: datetime
    mac: str = ""

    def _signed_part(self) -> bytes:
        body = {
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "count": self.count,
            "head_hash": self.head_hash,
            "head_id": self.head_id,
            "key_id": self.key_id,
            "keyed_after_id": self.keyed_after_id,
        }
        return b"shoal-audit-anchor\n" + json.dumps(body, sort_keys=True).encode()

    def signed(self, key: AuditKey) -> ChainAnchor:
        return ChainAnchor(
            key_id=self.key_id,
            keyed_after_id=self.keyed_after_id,
            head_id=self.head_id,
            head_hash=self.head_hash,
            count=self.count,
            at=self.at,
            mac=key.mac(self._signed_part()),
        )

    def is_signed_by(self, key: AuditKey) -> bool:
        return self.key_id == key.key_id and hmac.compare_digest(
            self.mac, key.mac(self._signed_part())
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "keyed_after_id": self.keyed_after_id,
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "count": self.count,
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "mac": self.mac,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChainAnchor:
        return cls(
            key_id=str(data["key_id"]),
            keyed_after_id=int(data["keyed_after_id"]),
            head_id=int(data["head_id"]),
            head_hash=str(data["head_hash"]),
            count=int(data["count"]),
            at=datetime.fromisoformat(str(data["at"])),
            mac=str(data["mac"]),
        )


ChainProblem = Literal[
    "edited",  # a row's content or hash changed after it was written
    "rechained",  # a keyed row carries an unkeyed hash: rewritten by someone without the key
    "key_mismatch",  # a keyed row was signed with another key than this process holds
    "deleted",  # rows are missing before this one (its link points at a row that is gone)
    "truncated",  # the newest rows are gone: the log ends before the latest anchor's head
    "anchor_invalid",  # the latest anchor is not signed by this key or contradicts the table
]


@dataclass(frozen=True, slots=True)
class ChainCheck:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: ChainProblem | None = None
    message: str = ""
    anchor: ChainAnchor | None = None


Finding = tuple[ChainProblem, int | None, str]


def check_chain(
    events: Iterable[AuditEvent],
    *,
    key: AuditKey,
    keyed_after_id: int,
    anchor: ChainAnchor | None,
) -> ChainCheck:
    """Check every row (in id order) and the end of the log against the latest anchor."""
    checked = 0
    prev: AuditEvent | None = None
    tail = _AnchorTail(anchor)
    for event in events:
        finding = _row_finding(event, prev, key=key, keyed_after_id=keyed_after_id)
        if finding is not None:
            return ChainCheck(False, checked, finding[1], finding[0], finding[2], anchor)
        tail.see(event)
        prev = event
        checked += 1
    if anchor is None:
        return ChainCheck(True, checked)
    finding = tail.finding(prev, checked, key=key, keyed_after_id=keyed_after_id)
    if finding is not None:
        return ChainCheck(False, checked, finding[1], finding[0], finding[2], anchor)
    return ChainCheck(True, checked, anchor=anchor)


def _row_finding(
    event: AuditEvent, prev: AuditEvent | None, *, key: AuditKey, keyed_after_id: int
) -> Finding | None:
    """What is wrong with one row: its own hash, then its link to the row before it."""
    content = event.content()
    unkeyed = chain_hash(event.prev_hash, event.at, content)
    keyed = event.id > keyed_after_id
    if keyed:
        intact = hmac.compare_digest(
            event.hash, keyed_hash(key, event.prev_hash, event.at, content)
        )
    else:
        intact = hmac.compare_digest(event.hash, unkeyed)
    if not intact:
        if keyed and event.hash == unkeyed:
            return (
                "rechained",
                event.id,
                f"event {event.id} carries an unkeyed hash where the keyed chain requires an "
                "HMAC: the log was rewritten from here on by someone without the key",
            )
        if keyed and event.key_id not in (None, key.key_id):
            return (
                "key_mismatch",
                event.id,
                f"event {event.id} says it was signed with key {event.key_id}, this server "
                f"holds key {key.key_id}: configure the original audit key (or the row was "
                "edited)",
            )
        return (
            "edited",
            event.id,
            f"event {event.id} does not match its hash: its content or hash was changed after "
            "it was written",
        )
    if event.prev_hash != (prev.hash if prev is not None else GENESIS_HASH):
        where = f"between event {prev.id} and event {event.id}" if prev else "before it"
        return (
            "deleted",
            event.id,
            f"event {event.id} links to an event that is not in the log: events {where} were "
            "deleted (or rewritten)",
        )
    return None


class _AnchorTail:
    """What the rows say about the latest anchor's head, gathered while they go by."""

    def __init__(self, anchor: ChainAnchor | None) -> None:
        self.anchor = anchor
        self.at_head: AuditEvent | None = None
        self.count_to_head = 0
        self.first_after: AuditEvent | None = None

    def see(self, event: AuditEvent) -> None:
        if self.anchor is None:
            return
        if event.id <= self.anchor.head_id:
            self.count_to_head += 1
        if event.id == self.anchor.head_id:
            self.at_head = event
        elif event.id > self.anchor.head_id and self.first_after is None:
            self.first_after = event

    def finding(
        self, last: AuditEvent | None, checked: int, *, key: AuditKey, keyed_after_id: int
    ) -> Finding | None:
        anchor = self.anchor
        if anchor is None:
            return None
        return _anchor_finding(anchor, key, keyed_after_id) or self._head_finding(
            anchor, last, checked
        )

    def _head_finding(
        self, anchor: ChainAnchor, last: AuditEvent | None, checked: int
    ) -> Finding | None:
        if anchor.head_id == 0:
            return None  # anchored while the log was empty: nothing it could lose
        seen = f"the anchor of {anchor.at.isoformat()}"
        if self.at_head is None and self.first_after is None:
            return (
                "truncated",
                (last.id + 1) if last is not None else 1,
                f"the log ends at event {last.id if last else 0} ({checked} events), but {seen} "
                f"saw event {anchor.head_id} ({anchor.count} events): the newest events were "
                "deleted",
            )
        if self.at_head is None:
            after = self.first_after.id if self.first_after else anchor.head_id
            return (
                "deleted",
                after,
                f"event {anchor.head_id}, the head {seen} recorded, is not in the log: events "
                f"before event {after} were deleted",
            )
        if self.at_head.hash != anchor.head_hash:
            return (
                "edited",
                anchor.head_id,
                f"event {anchor.head_id} has another hash than {seen} recorded: the log was "
                "rewritten",
            )
        if self.count_to_head != anchor.count:
            return (
                "deleted",
                anchor.head_id,
                f"{self.count_to_head} events up to event {anchor.head_id}, but {seen} counted "
                f"{anchor.count}",
            )
        return None


def _anchor_finding(anchor: ChainAnchor, key: AuditKey, keyed_after_id: int) -> Finding | None:
    """An anchor not made by this key, or one that disagrees on where the keyed chain starts."""
    seen = f"the anchor of {anchor.at.isoformat()}"
    if not anchor.is_signed_by(key):
        return (
            "anchor_invalid",
            None,
            f"{seen} (event {anchor.head_id}) is not signed by this server's audit key: it was "
            "altered, or the key changed",
        )
    if anchor.keyed_after_id != keyed_after_id:
        return (
            "anchor_invalid",
            None,
            f"the keyed chain starts after event {keyed_after_id}, but {seen} says after event "
            f"{anchor.keyed_after_id}: the start of the keyed chain was moved",
        )
    return None
