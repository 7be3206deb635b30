"""A run's progress counted the slow way, from every target and execution row, to check the
counters that `store.runs.run_progress` reads."""

from __future__ import annotations

import sqlalchemy as sa

from shoal.domain.executions import ExecutionState
from shoal.domain.runs import RunId, RunProgress
from shoal.store import Database
from shoal.store import runs as run_store
from shoal.store.tables import executions, targets


def recount(db: Database, run_id: int) -> RunProgress:
    with db.transaction() as conn:
        total, included = conn.execute(
            sa.select(sa.func.count(), sa.func.count().filter(targets.c.included)).where(
                targets.c.run_id == run_id
            )
        ).one()
        by_state = {
            ExecutionState(state): n
            for state, n in conn.execute(
                sa.select(executions.c.state, sa.func.count())
                .where(executions.c.run_id == run_id)
                .group_by(executions.c.state)
            )
        }
        first, last = conn.execute(
            sa.select(
                sa.func.min(executions.c.started_at), sa.func.max(executions.c.finished_at)
            ).where(executions.c.run_id == run_id)
        ).one()
    return RunProgress(
        targets=total,
        included=included,
        excluded=total - included,
        by_state=by_state,
        first_started_at=first,
        last_finished_at=last,
    )


def assert_counters_match(db: Database, run_id: int) -> RunProgress:
    with db.transaction() as conn:
        counted = run_store.run_progress(conn, RunId(run_id))
    assert counted == recount(db, run_id)
    return counted
