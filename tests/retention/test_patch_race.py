"""A finishing execution that records a patch byte-identical to an expired one, while
retention deletes that object, against real PostgreSQL and a real S3 server (SeaweedFS):
whichever commits first, no row is left naming a missing patch."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.blobs import S3ObjectStore, content_key
from shoal.domain.executions import ExecutionState
from shoal.domain.runs import ExecutionId
from shoal.services.context import AppContext
from shoal.services.executing import keep_patch
from shoal.services.pruning import prune
from shoal.store import Database
from shoal.store import executions as execution_store
from shoal.store import retention as retention_store
from shoal.store.tables import executions, runs, targets
from tests.retention.rows import frozen_context, insert_campaign, insert_spec_version

NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
OLD = NOW - timedelta(days=31)
PATCH = b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
KEY = content_key("patches", hashlib.sha256(PATCH).hexdigest())
WAIT_S = 10.0


@pytest.fixture
def ctx(db: Database, redis_url: str, s3_store: S3ObjectStore) -> Iterator[AppContext]:
    with frozen_context(db, redis_url, s3_store, NOW) as context:
        yield context


@dataclass
class Rows:
    expired: int  # finished long ago in a run publish no longer uses, holding KEY
    finishing: int  # running; finishes with the same bytes


def build(ctx: AppContext) -> Rows:
    with ctx.db.transaction() as conn:
        campaign = insert_campaign(conn)

        def spec(number: int) -> int:
            return insert_spec_version(conn, campaign, number)

        def execution(version: int, state: str, finished: datetime | None, key: str | None) -> int:
            run = conn.execute(
                runs.insert()
                .values(
                    campaign_id=campaign, spec_version_id=version, kind="preview", created_by="t"
                )
                .returning(runs.c.id)
            ).scalar_one()
            target = conn.execute(
                targets.insert()
                .values(run_id=run, repo="o/r", included=True, reason="")
                .returning(targets.c.id)
            ).scalar_one()
            return int(
                conn.execute(
                    executions.insert()
                    .values(
                        run_id=run,
                        target_id=target,
                        repo="o/r",
                        state=state,
                        finished_at=finished,
                        patch_key=key,
                    )
                    .returning(executions.c.id)
                ).scalar_one()
            )

        rows = Rows(
            expired=execution(spec(1), "patch", OLD, KEY),
            finishing=execution(spec(2), "running", None, None),
        )
    ctx.blobs.put_bytes(KEY, PATCH)
    return rows


def record(ctx: AppContext, conn: Connection, execution_id: int, patch: Path) -> None:
    """What a finishing execution does in the transaction that records its result."""
    keep_patch(conn, ctx.blobs, KEY, patch)
    execution_store.record_finished(
        conn,
        ExecutionId(execution_id),
        execution_store.FinishedExecution(
            state=ExecutionState.PATCH,
            reason=None,
            message="",
            patch_key=KEY,
            patch_sha256=hashlib.sha256(PATCH).hexdigest(),
            patch_bytes=len(PATCH),
            log_key=None,
            log_tail="",
            steps=[],
        ),
        now=NOW,
    )


def wait_for_a_waiter(ctx: AppContext) -> None:
    """Until some transaction waits for a patch lock (bounded)."""
    query = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND classid = :space"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with ctx.db.transaction() as conn:
            if conn.execute(query, {"space": retention_store.PATCH_LOCK_SPACE}).scalar_one():
                return
        time.sleep(0.02)
    raise AssertionError("nothing waited for the patch lock")


def patch_keys(ctx: AppContext) -> dict[int, str | None]:
    with ctx.db.transaction() as conn:
        rows = conn.execute(sa.select(executions.c.id, executions.c.patch_key)).all()
    return {row.id: row.patch_key for row in rows}


def patch_file(tmp_path: Path) -> Path:
    path = tmp_path / "patch.diff"
    path.write_bytes(PATCH)
    return path


def test_a_delete_committed_first_is_undone_by_the_recorder(
    ctx: AppContext, tmp_path: Path
) -> None:
    rows = build(ctx)
    patch = patch_file(tmp_path)
    # The pruner's transaction, held open between its delete and its commit.
    with ctx.db.transaction() as pruner:
        retention_store.lock_patch(pruner, KEY, shared=False)
        assert retention_store.expired_patches(pruner, NOW, limit=None, among=[KEY]) == [KEY]
        ctx.blobs.delete(KEY)
        retention_store.forget_patches(pruner, [KEY], NOW - timedelta(days=30))

        def finish() -> None:
            with ctx.db.transaction() as conn:
                record(ctx, conn, rows.finishing, patch)

        recorder = threading.Thread(target=finish)
        recorder.start()
        wait_for_a_waiter(ctx)
        assert recorder.is_alive()
    recorder.join(WAIT_S)
    assert not recorder.is_alive()

    assert patch_keys(ctx) == {rows.expired: None, rows.finishing: KEY}
    assert ctx.blobs.size(KEY) == len(PATCH)  # stored again from the execution's bytes
    assert prune(ctx, now=NOW).counts["patches"] == 0
    assert ctx.blobs.size(KEY) == len(PATCH)


def test_a_row_committed_first_keeps_its_object(ctx: AppContext, tmp_path: Path) -> None:
    rows = build(ctx)
    patch = patch_file(tmp_path)
    reports = []
    with ctx.db.transaction() as conn:
        record(ctx, conn, rows.finishing, patch)
        # The pruner chose KEY from the committed rows (the finishing row is not yet) and now
        # waits for the key's lock.
        pruner = threading.Thread(target=lambda: reports.append(prune(ctx, now=NOW)))
        pruner.start()
        wait_for_a_waiter(ctx)
        assert pruner.is_alive()
    pruner.join(WAIT_S)
    assert not pruner.is_alive()

    assert reports[0].counts["patches"] == 0
    assert patch_keys(ctx) == {rows.expired: KEY, rows.finishing: KEY}
    assert ctx.blobs.size(KEY) == len(PATCH)


def test_without_a_race_an_expired_patch_still_goes(ctx: AppContext) -> None:
    rows = build(ctx)
    with ctx.db.transaction() as conn:
        conn.execute(executions.delete().where(executions.c.id == rows.finishing))
    assert prune(ctx, now=NOW).counts["patches"] == 1
    assert patch_keys(ctx) == {rows.expired: None}
    assert ctx.blobs.size(KEY) is None
