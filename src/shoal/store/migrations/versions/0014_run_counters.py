"""Run progress from counters: `run_counters` holds each run's targets, included targets and
executions by state, kept by statement triggers on `targets` and `executions` in the very
transaction that inserts a row or changes its state, so every transition (a start, an
outcome, a retry, a worker's crash and restart) moves the counts exactly once and a rolled
back transaction moves nothing. Following a run reads a few counter rows, not the campaign.

A run's counts are spread over up to 16 rows (`slot`: the writing backend's pid modulo 16) so
that workers finishing executions of one run at once do not all wait on a single row lock; a
statement touches one row per run, in run order, so counting adds no deadlock. The earliest
start is kept with them (`started_at` is set once and never cleared); the latest finish is
read through a partial index instead, because a retry clears `finished_at`.

The backfill recounts every run with the tables locked against writes (idempotent).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-19
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)

# Adds the signed counts of `delta` (run_id, targets, included, queued, running, no_change,
# patch, failed, first_started_at) to the writing backend's slot of each run.
_UPSERT = """
    INSERT INTO run_counters AS c (run_id, slot, targets, included, queued, running,
                                   no_change, patch, failed, first_started_at)
    SELECT run_id, pg_backend_pid() % 16, sum(targets), sum(included), sum(queued),
           sum(running), sum(no_change), sum(patch), sum(failed), min(first_started_at)
    FROM delta GROUP BY run_id ORDER BY run_id
    ON CONFLICT (run_id, slot) DO UPDATE SET
        targets = c.targets + excluded.targets,
        included = c.included + excluded.included,
        queued = c.queued + excluded.queued,
        running = c.running + excluded.running,
        no_change = c.no_change + excluded.no_change,
        patch = c.patch + excluded.patch,
        failed = c.failed + excluded.failed,
        first_started_at = least(c.first_started_at, excluded.first_started_at)
"""


# The SQL below is assembled from this module's constants only.
def _execution_delta(rows: str, sign: str) -> str:
    return (
        f"SELECT run_id, 0 AS targets, 0 AS included,"  # noqa: S608
        f" {sign} * (state = 'queued')::int AS queued,"
        f" {sign} * (state = 'running')::int AS running,"
        f" {sign} * (state = 'no_change')::int AS no_change,"
        f" {sign} * (state = 'patch')::int AS patch,"
        f" {sign} * (state = 'failed')::int AS failed,"
        f" started_at AS first_started_at FROM {rows}"
    )


def _target_delta(rows: str, sign: str) -> str:
    return (
        f"SELECT run_id, {sign} AS targets, {sign} * included::int AS included,"  # noqa: S608
        " 0 AS queued, 0 AS running, 0 AS no_change, 0 AS patch, 0 AS failed,"
        f" NULL::timestamptz AS first_started_at FROM {rows}"
    )


def _function(name: str, delta: str, changed: str) -> str:
    # Only rows whose counted fields changed take part, so the many updates that touch
    # neither (a log key, `updated_at`) cost a join of the rows they updated and no write.
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH delta AS ({delta.format(rows="new_rows", sign="1")}) {_UPSERT};
    ELSIF TG_OP = 'DELETE' THEN
        WITH delta AS ({delta.format(rows="old_rows", sign="-1")}) {_UPSERT};
    ELSE
        WITH moved AS (
            SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {changed}
        ), delta AS (
            {delta.format(rows="new_rows n WHERE n.id IN (SELECT id FROM moved)", sign="1")}
            UNION ALL
            {delta.format(rows="old_rows o WHERE o.id IN (SELECT id FROM moved)", sign="-1")}
        ) {_UPSERT};
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608


EXECUTIONS_FUNCTION = _function(
    "shoal_count_executions",
    _execution_delta("{rows}", "{sign}"),
    "(o.run_id, o.state, o.started_at) IS DISTINCT FROM (n.run_id, n.state, n.started_at)",
)
TARGETS_FUNCTION = _function(
    "shoal_count_targets",
    _target_delta("{rows}", "{sign}"),
    "(o.run_id, o.included) IS DISTINCT FROM (n.run_id, n.included)",
)

_TRIGGERS = {
    "executions": "shoal_count_executions",
    "targets": "shoal_count_targets",
}

BACKFILL = """
LOCK TABLE targets, executions IN SHARE ROW EXCLUSIVE MODE;
DELETE FROM run_counters;
INSERT INTO run_counters (run_id, slot, targets, included, queued, running, no_change,
                          patch, failed, first_started_at)
SELECT r.id, 0,
       (SELECT count(*) FROM targets t WHERE t.run_id = r.id),
       (SELECT count(*) FILTER (WHERE t.included) FROM targets t WHERE t.run_id = r.id),
       e.queued, e.running, e.no_change, e.patch, e.failed, e.first_started_at
FROM runs r CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE state = 'queued') AS queued,
           count(*) FILTER (WHERE state = 'running') AS running,
           count(*) FILTER (WHERE state = 'no_change') AS no_change,
           count(*) FILTER (WHERE state = 'patch') AS patch,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           min(started_at) AS first_started_at
    FROM executions x WHERE x.run_id = r.id
) e;
"""


def upgrade() -> None:
    op.create_table(
        "run_counters",
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("slot", sa.SmallInteger, primary_key=True),
        *(
            sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
            for name in ("targets", "included", "queued", "running", "no_change", "patch", "failed")
        ),
        sa.Column("first_started_at", _ts),
    )
    op.create_index(
        "executions_run_finished_at",
        "executions",
        ["run_id", "finished_at"],
        postgresql_where=sa.text("finished_at IS NOT NULL"),
    )
    op.execute(EXECUTIONS_FUNCTION)
    op.execute(TARGETS_FUNCTION)
    for table, function in _TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {table}_count_insert AFTER INSERT ON {table} "
            f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_count_update AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_count_delete AFTER DELETE ON {table} "
            f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    op.execute(BACKFILL)


def downgrade() -> None:
    for table, function in _TRIGGERS.items():
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_count_{event} ON {table}")
        op.execute(f"DROP FUNCTION {function}()")
    op.drop_index("executions_run_finished_at", table_name="executions")
    op.drop_table("run_counters")
