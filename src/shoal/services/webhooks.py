"""GitHub webhook deliveries: checking one (signature, headers, JSON), storing it once per
delivery GUID with its `webhook.process` task, and that task, which applies the event to
the changesets it concerns (`services.webhook_events`).

Receiving does no mapping, so GitHub gets its answer in milliseconds whatever the event; a
replayed GUID is answered without a second row or a second run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import Histogram
from sqlalchemy.engine import Connection

from shoal.domain.errors import InvalidInputError, NotFoundError, ShoalError
from shoal.domain.tasks import NewTask, Outcome, Task
from shoal.services.context import AppContext
from shoal.services.webhook_events import Applied, apply_event
from shoal.store import tasks as task_store
from shoal.store import webhook_deliveries as delivery_store

__all__ = [
    "WEBHOOK_BATCH",
    "WEBHOOK_TASK",
    "WEBHOOK_THREADS",
    "Incoming",
    "Receipt",
    "apply_delivery",
    "delivery_lane_key",
    "parse_delivery",
    "receive_delivery",
    "run_webhook_task",
    "signature_matches",
    "webhook_task",
]

log = structlog.get_logger("shoal.webhooks")

WEBHOOK_LAG = Histogram(
    "shoal_webhook_lag_seconds",
    "Time from a webhook delivery's receipt to its event being applied.",
    buckets=(0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800),
)

WEBHOOK_TASK = "webhook.process"
# A worker's webhook lane (`worker.lanes`): deliveries claimed at a time, and how many
# repositories' deliveries it applies at once (each repository's in order).
WEBHOOK_BATCH = 50
WEBHOOK_THREADS = 8

# GitHub's GUIDs are UUIDs; this also keeps a GUID safe as part of an object key.
_GUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_EVENT = re.compile(r"^[a-z_]{1,64}$")
_SIGNATURE_PREFIX = "sha256="
_MAX_DETAIL_CHARS = 2000


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` (`X-Hub-Signature-256`) is `sha256=` + the HMAC-SHA256 of `body`
    under `secret`. Compared in constant time."""
    if header is None or not header.startswith(_SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = header.removeprefix(_SIGNATURE_PREFIX).strip().lower()
    return hmac.compare_digest(expected.encode(), given.encode("ascii", "replace"))


@dataclass(frozen=True, slots=True)
class Incoming:
    """A signed delivery, read: its headers and the payload's JSON object."""

    guid: str
    event: str
    payload: dict[str, Any]
    body: bytes


def parse_delivery(guid: str | None, event: str | None, body: bytes) -> Incoming:
    """The delivery, or `InvalidInputError` saying what is wrong with it."""
    if not guid or not _GUID.match(guid):
        raise InvalidInputError("the X-GitHub-Delivery header is missing or is not a delivery GUID")
    if not event or not _EVENT.match(event):
        raise InvalidInputError("the X-GitHub-Event header is missing or is not an event name")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(
            f"the delivery is not JSON ({exc.__class__.__name__} at byte "
            f"{getattr(exc, 'pos', getattr(exc, 'start', 0))}); set the App's webhook content "
            "type to application/json"
        ) from None
    if not isinstance(payload, dict):
        raise InvalidInputError("the delivery's JSON is not an object")
    return Incoming(guid=guid, event=event, payload=payload, body=body)


@dataclass(frozen=True, slots=True)
class Receipt:
    delivery_id: int
    duplicate: bool


def webhook_task(delivery_id: int, repo: str | None) -> NewTask:
    """The task that applies a delivery; `repo` (`owner/name`, if the event has one) keeps
    the deliveries of one repository in order on the worker's lane (`delivery_lane_key`)."""
    return NewTask(
        kind=WEBHOOK_TASK,
        dedupe_key=f"webhook:{delivery_id}",
        payload={"delivery": delivery_id, "repo": repo},
    )


def delivery_lane_key(task: Task) -> str | None:
    repo = task.payload.get("repo")
    return repo.lower() if isinstance(repo, str) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _installation_id(payload: dict[str, Any]) -> int | None:
    installation = payload.get("installation")
    found = installation.get("id") if isinstance(installation, dict) else None
    return found if isinstance(found, int) else None


def _repo(payload: dict[str, Any]) -> str | None:
    repository = payload.get("repository")
    return _text(repository.get("full_name")) if isinstance(repository, dict) else None


def receive_delivery(ctx: AppContext, incoming: Incoming) -> Receipt:
    """Store the delivery and queue its processing, in one transaction; a GUID seen before
    is a replay: counted, not stored again, and processed again only if its processing
    failed."""
    settings = ctx.settings
    now = ctx.clock.now()
    size = len(incoming.body)
    inline = size <= settings.github_webhook_inline_payload_bytes
    key = None if inline else f"webhooks/{incoming.guid}.json"
    if key is not None:
        # Written before the row: a row never names an object that is not there. A replay
        # rewrites the same bytes under the same key.
        ctx.blobs.put_bytes(key, incoming.body, content_type="application/json")
    new = delivery_store.NewDelivery(
        guid=incoming.guid,
        event=incoming.event,
        action=_text(incoming.payload.get("action")),
        installation_id=_installation_id(incoming.payload),
        repo=_repo(incoming.payload),
        payload_size=size,
        payload=incoming.body if inline else None,
        payload_key=key,
    )
    with ctx.db.transaction() as conn:
        received = delivery_store.receive(conn, new, now=now)
        if received.new or received.outcome == "failed":
            task_store.enqueue(
                conn,
                webhook_task(received.id, new.repo),
                now=now,
                max_attempts=settings.task_max_attempts,
            )
    log.info(
        "webhook_received",
        delivery=incoming.guid,
        gh_event=incoming.event,
        action=new.action,
        duplicate=not received.new,
        size=size,
    )
    return Receipt(delivery_id=received.id, duplicate=not received.new)


def _payload(ctx: AppContext, delivery: delivery_store.Delivery) -> dict[str, Any]:
    if delivery.payload is not None:
        body = delivery.payload
    elif delivery.payload_key is not None:
        body = ctx.blobs.get_bytes(delivery.payload_key)
    else:
        raise InvalidInputError(f"webhook delivery {delivery.guid} has no payload")
    payload = json.loads(body)
    assert isinstance(payload, dict)  # checked when it was received
    return payload


def run_webhook_task(ctx: AppContext, task: Task) -> Outcome:
    """Apply one delivery in a transaction of its own."""
    with ctx.db.transaction() as conn:
        return apply_delivery(ctx, conn, task)


def apply_delivery(ctx: AppContext, conn: Connection, task: Task) -> Outcome:
    """Apply the delivery of a `webhook.process` task and record how it went, in the
    caller's transaction. A payload Shoal cannot read is recorded as failed (the task is
    dead-lettered); any other error rolls the delivery's changes back and retries it."""
    try:
        delivery = delivery_store.get_delivery(conn, int(task.payload["delivery"]))
    except NotFoundError:
        return Outcome.done()  # deleted by retention before it ran: nothing to apply
    if delivery.outcome in ("processed", "ignored"):
        return Outcome.done()
    with structlog.contextvars.bound_contextvars(
        delivery=delivery.guid, gh_event=delivery.event, action=delivery.action
    ):
        try:
            with conn.begin_nested():  # so that a failure can be recorded after its rollback
                payload = _payload(ctx, delivery)
                now = ctx.clock.now()
                applied = apply_event(
                    conn,
                    delivery.event,
                    payload,
                    now=now,
                    max_attempts=ctx.settings.task_max_attempts,
                )
                _record(conn, delivery.id, applied, now=ctx.clock.now())  # once applied
        except ShoalError as exc:
            if exc.retryable:
                raise
            log.warning("webhook_unreadable", error=exc.message)
            _record(conn, delivery.id, Applied("failed", exc.message), now=ctx.clock.now())
            return Outcome.dead(exc.message)
        WEBHOOK_LAG.observe(max((ctx.clock.now() - delivery.received_at).total_seconds(), 0.0))
        log.info("webhook_processed", outcome=applied.outcome, changesets=applied.changesets)
    return Outcome.done()


def _record(conn: Connection, delivery_id: int, applied: Applied, *, now: datetime) -> None:
    delivery_store.record_outcome(
        conn,
        delivery_id,
        outcome=applied.outcome,
        detail=applied.detail[:_MAX_DETAIL_CHARS],
        changesets=applied.changesets,
        now=now,
    )
