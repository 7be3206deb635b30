"""Retention against real PostgreSQL and a real S3 server (SeaweedFS): what expired goes,
everything else stays, and a pass that dies halfway is finished by the next one."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shoal.blobs import ObjectStore, S3ObjectStore, content_key
from shoal.config import Settings
from shoal.domain.audit import NewAuditEvent
from shoal.domain.clock import FrozenClock
from shoal.services.context import AppContext
from shoal.services.pruning import PRUNED, prune
from shoal.store import Database
from shoal.store import audit as audit_store
from shoal.store.tables import (
    audit_events,
    changesets,
    executions,
    runs,
    targets,
    tasks,
)
from shoal.worker.retention import retention_duty
from tests.retention.rows import frozen_context, insert_campaign, insert_spec_version

# Real time moved on: the S3 server stamps objects with the real time, so `NOW` must be
# after it for cached workspaces to be old.
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=5)


@pytest.fixture
def ctx(db: Database, redis_url: str, s3_store: S3ObjectStore) -> Iterator[AppContext]:
    with frozen_context(db, redis_url, s3_store, NOW) as context:
        yield context


def with_settings(ctx: AppContext, **values: object) -> AppContext:
    other = dataclasses.replace(ctx, settings=Settings(**values))  # type: ignore[arg-type]
    other.__dict__["blobs"] = ctx.blobs
    return other


def patch_key(name: str) -> str:
    return content_key("patches", hashlib.sha256(name.encode()).hexdigest())


@dataclass
class World:
    """Rows and objects whose fate is known: `expired` keys must go, `kept` keys stay."""

    expired_objects: set[str]
    kept_objects: set[str]
    expired_logs: set[int]  # execution ids whose log key is cleared
    kept_tasks: set[int]
    expired_tasks: set[int]


def build(ctx: AppContext) -> World:
    blobs = ctx.blobs
    with ctx.db.transaction() as conn:
        campaign = insert_campaign(conn)

        def spec(number: int) -> int:
            return insert_spec_version(conn, campaign, number)

        def run(version: int, kind: str = "preview", cancelled: datetime | None = None) -> int:
            return int(
                conn.execute(
                    runs.insert()
                    .values(
                        campaign_id=campaign,
                        spec_version_id=version,
                        kind=kind,
                        created_by="t",
                        cancelled_at=cancelled,
                    )
                    .returning(runs.c.id)
                ).scalar_one()
            )

        v1, v2 = spec(1), spec(2)
        old_run = run(v1)  # a preview of an older spec version: publish no longer uses it
        publishable = run(v2)  # a preview of the latest version: publish may still use it
        cancelled = run(v2, cancelled=OLD)
        latest_run = run(v2, kind="publish")  # the campaign's newest run
        ids: dict[str, int] = {}

        def execution(name: str, run_id: int, finished: datetime, patch: str | None) -> None:
            target = conn.execute(
                targets.insert()
                .values(run_id=run_id, repo=f"o/{name}", included=True, reason="")
                .returning(targets.c.id)
            ).scalar_one()
            log = f"logs/runs/{run_id}/executions/{name}.log"
            ids[name] = conn.execute(
                executions.insert()
                .values(
                    run_id=run_id,
                    target_id=target,
                    repo=f"o/{name}",
                    state="patch" if patch else "no_change",
                    finished_at=finished,
                    log_key=log,
                    patch_key=patch_key(patch) if patch else None,
                )
                .returning(executions.c.id)
            ).scalar_one()
            blobs.put_bytes(log, b"log")
            if patch:
                blobs.put_bytes(patch_key(patch), b"diff")

        execution("alone", old_run, OLD, "p-alone")  # log and patch expire
        execution("shared-old", old_run, OLD, "p-shared")  # log expires; patch is shared
        execution("shared-new", old_run, RECENT, "p-shared")  # ...with a recent execution
        execution("open-pr", old_run, OLD, "p-open")  # an open PR's desired patch stays
        execution("merged-pr", old_run, OLD, "p-merged")  # a merged PR needs it no more
        execution("latest", latest_run, OLD, "p-latest")  # the newest run keeps everything
        execution("publishable", publishable, OLD, "p-pub")
        execution("cancelled", cancelled, OLD, "p-cancelled")
        execution("running", old_run, OLD, None)
        conn.execute(
            executions.update().where(executions.c.id == ids["running"]).values(finished_at=None)
        )

        for name, pr_state in (("open-pr", "open"), ("merged-pr", "merged")):
            conn.execute(
                changesets.insert().values(
                    campaign_id=campaign,
                    repo=f"o/{name}",
                    org="o",
                    branch="b",
                    desired={"patch_key": patch_key(f"p-{name.removesuffix('-pr')}")},
                    observed={"pr_state": pr_state},
                )
            )

        def task(state: str, finished: datetime | None) -> int:
            return int(
                conn.execute(
                    tasks.insert()
                    .values(
                        kind="k",
                        dedupe_key=f"{state}-{finished}",
                        state=state,
                        max_attempts=3,
                        created_at=OLD - timedelta(days=1),
                        updated_at=finished or OLD,
                        finished_at=finished,
                    )
                    .returning(tasks.c.id)
                ).scalar_one()
            )

        expired_tasks = {task("done", OLD), task("dead", OLD)}
        kept_tasks = {task("done", RECENT), task("queued", None), task("running", None)}
        audit_store.append_audit_event(
            conn, NewAuditEvent(actor="t", action="campaign.create"), now=OLD - timedelta(days=400)
        )

    blobs.put_bytes("workspaces/1/" + "a" * 40 + ".tar.gz", b"tar")
    blobs.put_bytes("executions/9/workspace.tar.gz", b"tar")
    blobs.put_bytes("audit/anchors/k/latest", b"{}")  # not a retention kind
    old_logs = {"alone", "shared-old", "open-pr", "merged-pr"}
    return World(
        expired_objects={
            patch_key("p-alone"),
            patch_key("p-merged"),
            patch_key("p-cancelled"),
            f"logs/runs/{cancelled}/executions/cancelled.log",
            "workspaces/1/" + "a" * 40 + ".tar.gz",
            "executions/9/workspace.tar.gz",
        }
        | {f"logs/runs/{old_run}/executions/{n}.log" for n in old_logs},
        kept_objects={
            patch_key("p-shared"),
            patch_key("p-open"),
            patch_key("p-latest"),
            patch_key("p-pub"),
            f"logs/runs/{publishable}/executions/publishable.log",
            f"logs/runs/{old_run}/executions/shared-new.log",
            f"logs/runs/{old_run}/executions/running.log",
            f"logs/runs/{latest_run}/executions/latest.log",
            "audit/anchors/k/latest",
        },
        expired_logs={ids[n] for n in old_logs} | {ids["cancelled"]},
        kept_tasks=kept_tasks,
        expired_tasks=expired_tasks,
    )


def assert_kept(ctx: AppContext, world: World) -> None:
    """Nothing that should stay is gone, and every key a row names that something needs
    is there."""
    for key in world.kept_objects:
        assert ctx.blobs.exists(key), key
    with ctx.db.transaction() as conn:
        task_ids = set(conn.execute(sa.select(tasks.c.id)).scalars())
        rows = conn.execute(
            sa.select(executions.c.id, executions.c.log_key, executions.c.patch_key)
        )
        named = {
            key
            for row in rows
            if row.id not in world.expired_logs
            for key in (row.log_key, row.patch_key)
            if key is not None and key not in world.expired_objects
        }
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar_one() >= 1
    assert world.kept_tasks <= task_ids
    for key in named:
        assert ctx.blobs.exists(key), key


def assert_pruned(ctx: AppContext, world: World) -> None:
    for key in world.expired_objects:
        assert not ctx.blobs.exists(key), key
    with ctx.db.transaction() as conn:
        task_ids = set(conn.execute(sa.select(tasks.c.id)).scalars())
        rows = {
            row.id: row
            for row in conn.execute(
                sa.select(executions.c.id, executions.c.log_key, executions.c.patch_key)
            )
        }
    assert not task_ids & world.expired_tasks
    for execution_id in world.expired_logs:
        assert rows[execution_id].log_key is None
    left = {row.patch_key for row in rows.values()} - {None}
    assert left == set(map(patch_key, ("p-shared", "p-open", "p-latest", "p-pub")))


def test_a_pass_deletes_what_expired_and_keeps_the_rest(ctx: AppContext) -> None:
    world = build(ctx)
    before = {kind: PRUNED.labels(kind=kind)._value.get() for kind in ("logs", "patches")}

    dry = prune(ctx, now=NOW, dry_run=True)
    assert dry.counts == {"logs": 5, "patches": 3, "workspaces": 2, "tasks": 2, "sessions": 0}
    assert_kept(ctx, world)
    assert all(ctx.blobs.exists(key) for key in world.expired_objects)  # a dry run deletes nothing

    report = prune(ctx, now=NOW)

    assert report.counts == dry.counts and report.complete
    assert_pruned(ctx, world)
    assert_kept(ctx, world)
    assert PRUNED.labels(kind="logs")._value.get() == before["logs"] + 5
    assert PRUNED.labels(kind="patches")._value.get() == before["patches"] + 3
    with ctx.db.transaction() as conn:
        events = conn.execute(
            sa.select(audit_events.c.actor, audit_events.c.action, audit_events.c.details).order_by(
                audit_events.c.id
            )
        ).all()
    assert [(e.actor, e.action) for e in events] == [
        ("t", "campaign.create"),  # the audit log itself is never pruned, however old
        ("shoal", "retention.prune"),
    ]
    assert events[-1].details["deleted"] == dry.counts
    # A second pass finds nothing and records nothing.
    assert prune(ctx, now=NOW).total == 0
    with ctx.db.transaction() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar_one() == 2


def test_longer_settings_keep_everything(ctx: AppContext) -> None:
    world = build(ctx)
    ctx = with_settings(
        ctx,
        retention_log_days=60,
        retention_patch_days=60,
        retention_workspace_days=60,
        retention_task_days=60,
    )

    assert prune(ctx, now=NOW).total == 0

    assert_kept(ctx, world)
    for key in world.expired_objects:
        assert ctx.blobs.exists(key), key


class CrashingStore:
    """The real store, dying (as a killed process would stop) after `deletes` deletions."""

    def __init__(self, inner: ObjectStore, deletes: int) -> None:
        self._inner = inner
        self._left = deletes

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def delete(self, key: str) -> None:
        if self._left == 0:
            raise RuntimeError("killed between deleting objects and clearing their rows")
        self._left -= 1
        self._inner.delete(key)


@pytest.mark.parametrize("deletes", [0, 1, 5, 6, 9])
def test_a_pass_that_dies_midway_loses_nothing_and_the_next_one_finishes(
    ctx: AppContext, deletes: int
) -> None:
    world = build(ctx)
    real = ctx.blobs
    ctx.__dict__["blobs"] = CrashingStore(real, deletes)

    with pytest.raises(RuntimeError, match="killed"):
        prune(ctx, now=NOW)

    ctx.__dict__["blobs"] = real
    assert_kept(ctx, world)
    with ctx.db.transaction() as conn:
        last = conn.execute(
            sa.select(audit_events.c.outcome).order_by(audit_events.c.id.desc()).limit(1)
        ).scalar_one()
    assert last == "error"

    prune(ctx, now=NOW)

    assert_pruned(ctx, world)
    assert_kept(ctx, world)


def test_batches_are_bounded(ctx: AppContext) -> None:
    world = build(ctx)
    ctx = with_settings(ctx, retention_batch_size=1)

    report = prune(ctx, now=NOW)

    assert report.counts == {"logs": 5, "patches": 3, "workspaces": 2, "tasks": 2, "sessions": 0}
    assert_pruned(ctx, world)
    assert_kept(ctx, world)


class SlowStore:
    """The real store, each deletion taking `seconds` on the test's clock."""

    def __init__(self, inner: ObjectStore, clock: FrozenClock, seconds: float) -> None:
        self._inner = inner
        self._clock = clock
        self._seconds = seconds

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def delete(self, key: str) -> None:
        self._clock.advance(self._seconds)
        self._inner.delete(key)


def test_a_pass_stops_at_its_time_budget_and_the_next_one_goes_on(ctx: AppContext) -> None:
    world = build(ctx)
    ctx = with_settings(ctx, retention_batch_size=1, retention_pass_budget_s=10)
    assert isinstance(ctx.clock, FrozenClock)
    real = ctx.blobs
    ctx.__dict__["blobs"] = SlowStore(real, ctx.clock, seconds=4)

    first = prune(ctx, now=NOW)

    assert not first.complete
    assert first.counts == {"logs": 3, "patches": 0, "workspaces": 0, "tasks": 0, "sessions": 0}
    assert_kept(ctx, world)
    ctx.__dict__["blobs"] = real
    second = prune(ctx, now=NOW)
    assert second.complete
    assert second.counts == {"logs": 2, "patches": 3, "workspaces": 2, "tasks": 2, "sessions": 0}
    assert_pruned(ctx, world)


def test_the_leader_duty_runs_a_pass_at_its_interval(ctx: AppContext) -> None:
    world = build(ctx)
    duty = retention_duty(with_settings(ctx, retention_interval_s=120))

    duty.run(ctx.db, NOW)

    assert duty.every_s == 120
    assert_pruned(ctx, world)
    assert_kept(ctx, world)
