"""A run's progress comes from counters kept by triggers; they must equal a full recount after
every kind of transition: inserts (repeated), starts, a worker's restart, outcomes, retries, a
rolled-back transaction, a cancellation, and the migration's backfill run again."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
import redis
import sqlalchemy as sa

from shoal.config import Settings
from shoal.domain.executions import ExecutionState
from shoal.domain.runs import RunKind, RunState
from shoal.services import campaigns, runs
from shoal.services.context import AppContext
from shoal.store import Database
from shoal.store import executions as execution_store
from shoal.store import runs as run_store
from shoal.store import targets as target_store
from shoal.store.tables import run_counters
from tests.runs.recount import assert_counters_match
from tests.runs.test_runs_store import ALICE, SPEC, _file, _finished, _target

FAILED = execution_store.FinishedExecution(
    state=ExecutionState.FAILED,
    reason="step_exit_code",
    message="step 'fix' exited with code 1",
    patch_key=None,
    patch_sha256=None,
    patch_bytes=0,
    log_key=None,
    log_tail="",
    steps=[],
)


@pytest.fixture
def ctx(db: Database, redis_url: str) -> Iterator[AppContext]:
    client = redis.Redis.from_url(redis_url)
    yield AppContext(settings=Settings(), db=db, redis=client)
    client.close()


def _counts(ctx: AppContext, run_id: int) -> tuple[int, int, dict[str, int]]:
    p = assert_counters_match(ctx.db, run_id)
    return p.targets, p.included, {s.value: n for s, n in p.by_state.items()}


def test_counters_follow_every_transition_exactly_once(ctx: AppContext) -> None:
    campaigns.apply_spec(ctx, SPEC, principal=ALICE)
    run_id = runs.start_run(ctx, "fleet-fix", kind=RunKind.PREVIEW, principal=ALICE).run.id
    assert _counts(ctx, run_id) == (0, 0, {})
    repos = ["acme/api", "acme/web", "acme/cli"]
    new = [*(_target(r) for r in repos), _target("acme/old", included=False)]
    with ctx.db.transaction() as conn:
        ids = target_store.insert_targets(conn, run_id, new)
        target_store.insert_targets(conn, run_id, new)  # conflicts insert nothing
        pairs = [(ids[r], r) for r in repos]
        execution_store.insert_executions(conn, run_id, pairs)
        execution_store.insert_executions(conn, run_id, pairs)
        run_store.mark_selection_done(conn, run_id, now=ctx.clock.now())
    assert _counts(ctx, run_id) == (4, 3, {"queued": 3})
    api, web, cli = (runs.get_execution(ctx, run_id, r)[0] for r in repos)

    with ctx.db.transaction() as conn:
        execution_store.start_execution(conn, api.id, now=ctx.clock.now())
    # The worker dies; another starts the same execution again: still one running.
    with ctx.db.transaction() as conn:
        execution_store.start_execution(conn, api.id, now=ctx.clock.now())
    assert _counts(ctx, run_id)[2] == {"queued": 2, "running": 1}

    # A transaction that rolls back moves no counter.
    def finish_then_fail() -> None:
        with ctx.db.transaction() as conn:
            execution_store.start_execution(conn, web.id, now=ctx.clock.now())
            execution_store.record_finished(conn, web.id, _finished(), now=ctx.clock.now())
            raise RuntimeError("worker lost its connection")

    with pytest.raises(RuntimeError):
        finish_then_fail()
    assert _counts(ctx, run_id)[2] == {"queued": 2, "running": 1}

    with ctx.db.transaction() as conn:
        execution_store.record_finished(conn, api.id, FAILED, now=ctx.clock.now())
        execution_store.start_execution(conn, web.id, now=ctx.clock.now())
        execution_store.record_finished(
            conn, web.id, _finished(_file("README.md")), now=ctx.clock.now()
        )
    assert _counts(ctx, run_id)[2] == {"queued": 1, "failed": 1, "patch": 1}

    for _ in range(2):
        runs.retry_execution(ctx, run_id, "acme/api", principal=ALICE)
        assert _counts(ctx, run_id)[2] == {"queued": 2, "patch": 1}
        with ctx.db.transaction() as conn:
            execution_store.start_execution(conn, api.id, now=ctx.clock.now())
            execution_store.record_finished(conn, api.id, FAILED, now=ctx.clock.now())
    # Updates that change no counted field (a finished result stored again) move nothing.
    with ctx.db.transaction() as conn:
        execution_store.record_finished(conn, api.id, FAILED, now=ctx.clock.now())

    with ctx.db.transaction() as conn:
        execution_store.start_execution(conn, cli.id, now=ctx.clock.now())
    cancellation = runs.cancel_run(ctx, run_id, principal=ALICE)
    assert cancellation is not None
    assert _counts(ctx, run_id) == (4, 3, {"running": 1, "failed": 1, "patch": 1})
    assert runs.get_run(ctx, run_id).state == RunState.CANCELLED


def test_the_backfill_recounts_every_run_and_can_run_again(ctx: AppContext) -> None:
    campaigns.apply_spec(ctx, SPEC, principal=ALICE)
    run_ids = [
        runs.start_run(ctx, "fleet-fix", kind=RunKind.PREVIEW, principal=ALICE).run.id
        for _ in range(2)
    ]
    with ctx.db.transaction() as conn:
        ids = target_store.insert_targets(conn, run_ids[0], [_target("acme/api")])
        execution_store.insert_executions(conn, run_ids[0], [(ids["acme/api"], "acme/api")])
        api = execution_store.find_execution(conn, run_ids[0], "acme/api")
        assert api is not None
        execution_store.start_execution(conn, api.id, now=ctx.clock.now())
    before = [assert_counters_match(ctx.db, run_id) for run_id in run_ids]

    migration = importlib.import_module("shoal.store.migrations.versions.0014_run_counters")
    for _ in range(2):
        with ctx.db.transaction() as conn:
            conn.exec_driver_sql("UPDATE run_counters SET queued = queued + 7")  # drifted
            conn.exec_driver_sql(migration.BACKFILL)
        assert [assert_counters_match(ctx.db, run_id) for run_id in run_ids] == before
    with ctx.db.transaction() as conn:
        rows = conn.execute(sa.select(run_counters.c.run_id, run_counters.c.slot)).all()
    assert sorted(rows) == [(run_id, 0) for run_id in sorted(run_ids)]
