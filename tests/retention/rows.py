"""What the retention tests share: an app context on a test's own S3 bucket at a frozen
time, and the campaign rows executions hang from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import redis
from sqlalchemy.engine import Connection

from shoal.blobs import S3ObjectStore
from shoal.config import Settings
from shoal.domain.clock import FrozenClock
from shoal.services.context import AppContext
from shoal.store import Database
from shoal.store.tables import campaigns, spec_versions


@contextmanager
def frozen_context(
    db: Database, redis_url: str, s3_store: S3ObjectStore, now: datetime
) -> Iterator[AppContext]:
    """Default settings, the clock stopped at `now`, objects in `s3_store`."""
    client = redis.Redis.from_url(redis_url)
    context = AppContext(settings=Settings(), db=db, redis=client, clock=FrozenClock(now))
    context.__dict__["blobs"] = s3_store  # the cached property, opened on this test's bucket
    try:
        yield context
    finally:
        client.close()


def insert_campaign(conn: Connection) -> int:
    return int(
        conn.execute(
            campaigns.insert().values(name="c", created_by="t").returning(campaigns.c.id)
        ).scalar_one()
    )


def insert_spec_version(conn: Connection, campaign: int, number: int) -> int:
    return int(
        conn.execute(
            spec_versions.insert()
            .values(
                campaign_id=campaign,
                version=number,
                spec_hash="0" * 64,
                yaml_text="",
                canonical_json="{}",
                created_by="t",
            )
            .returning(spec_versions.c.id)
        ).scalar_one()
    )
