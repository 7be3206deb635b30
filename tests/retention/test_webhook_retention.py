"""Webhook deliveries past `github_webhook_retention_days` go with their payload objects
(real PostgreSQL and SeaweedFS); a pass that dies between objects and rows loses nothing
that should stay and the next one finishes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shoal.blobs import S3ObjectStore
from shoal.services.context import AppContext
from shoal.services.webhook_catchup import drop_expired
from shoal.store import Database
from shoal.store import webhook_deliveries as delivery_store
from shoal.store.tables import webhook_deliveries
from tests.retention.rows import frozen_context
from tests.retention.test_pruning import CrashingStore

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def ctx(db: Database, redis_url: str, s3_store: S3ObjectStore) -> Iterator[AppContext]:
    with frozen_context(db, redis_url, s3_store, NOW) as context:
        yield context


def receive(ctx: AppContext, guid: str, at: datetime, *, large: bool) -> None:
    key = f"webhooks/{guid}.json" if large else None
    if key is not None:
        ctx.blobs.put_bytes(key, b"{}")
    with ctx.db.transaction() as conn:
        delivery_store.receive(
            conn,
            delivery_store.NewDelivery(
                guid=guid,
                event="push",
                action=None,
                installation_id=1,
                repo="o/r",
                payload=None if large else b"{}",
                payload_key=key,
                payload_size=2,
            ),
            now=at,
        )


def guids(ctx: AppContext) -> set[str]:
    with ctx.db.transaction() as conn:
        return set(conn.execute(sa.select(webhook_deliveries.c.guid)).scalars())


@pytest.mark.parametrize("deletes", [0, 1])
def test_expired_deliveries_go_with_their_payloads_even_across_a_crash(
    ctx: AppContext, deletes: int
) -> None:
    old, recent = NOW - timedelta(days=31), NOW - timedelta(days=29)
    receive(ctx, "old-large-1", old, large=True)
    receive(ctx, "old-large-2", old, large=True)
    receive(ctx, "old-small", old, large=False)
    receive(ctx, "new-large", recent, large=True)
    real = ctx.blobs
    ctx.__dict__["blobs"] = CrashingStore(real, deletes)

    with pytest.raises(RuntimeError, match="killed"):
        drop_expired(ctx, now=NOW)

    ctx.__dict__["blobs"] = real
    # Every row still there names an object that is there, or an expired one.
    assert guids(ctx) >= {"new-large"}
    assert real.exists("webhooks/new-large.json")
    assert {"old-large-1", "old-large-2", "old-small"} <= guids(ctx)

    assert drop_expired(ctx, now=NOW) == 3

    assert guids(ctx) == {"new-large"}
    assert real.exists("webhooks/new-large.json")
    assert not real.exists("webhooks/old-large-1.json")
    assert not real.exists("webhooks/old-large-2.json")
