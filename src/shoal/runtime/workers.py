"""Running workers: the handler registry for every task kind, in a thread or as the process."""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

from shoal.domain.changesets import Changeset
from shoal.domain.clock import ScaledClock
from shoal.domain.tasks import Outcome, Task
from shoal.executors.port import Executor
from shoal.github import GitHubApp
from shoal.github.rules import BranchRules
from shoal.governor import Lease
from shoal.publish.gitpush import GitPublisher
from shoal.publish.store import ObjectStore
from shoal.runtime.executors import ExecutorSite, build_executor
from shoal.runtime.scratch import process_scratch_root, sweep_dead_scratch
from shoal.selection import GitHubReader
from shoal.services.bulk_run import BULK_TASK, BulkDeps, run_bulk_task
from shoal.services.context import AppContext
from shoal.services.executing import ExecutionDeps, run_execution_task
from shoal.services.github_reader import AppReader
from shoal.services.github_writer import AppWriter
from shoal.services.publishing import RECONCILE_TASK
from shoal.services.reconciling import GitHubWriter, ReconcileDeps, run_reconcile_task
from shoal.services.runs import EXECUTE_TASK, SELECT_TASK
from shoal.services.secrets import SecretSource
from shoal.services.selecting import SelectionDeps, run_select_task
from shoal.services.syncing import (
    QUEUE_SYNCS_TASK,
    SYNC_SLOTS,
    SYNC_TASK,
    AppPullReader,
    PullReader,
    SyncDeps,
    run_queue_syncs_task,
    run_sync_task,
)
from shoal.services.webhooks import (
    WEBHOOK_BATCH,
    WEBHOOK_TASK,
    WEBHOOK_THREADS,
    apply_delivery,
    delivery_lane_key,
    run_webhook_task,
)
from shoal.worker import HandlerContext, HandlerRegistry, run_worker
from shoal.worker.audit_anchor import audit_anchor_duty
from shoal.worker.retention import retention_duty
from shoal.worker.sync_schedule import sync_schedule_duty
from shoal.worker.webhook_catchup import webhook_catchup_duty

__all__ = ["WorkerComponents", "build_registry", "run_worker_process", "start_worker_thread"]


class WorkerComponents:
    """The adapters a worker's handlers share, each built on first use: a worker that only
    selects never probes the sandbox, and one without a GitHub App still starts (runs then
    say what is missing)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()

    @functools.cached_property
    def scratch_root(self) -> Path:
        """This process's scratch directory; made on first use, after removing what dead
        workers left (a worker killed mid-execution cannot clean up after itself). Both steps
        are idempotent, so no lock: other properties read this one while holding it."""
        work_root = self.ctx.settings.workspace_root
        sweep_dead_scratch(work_root)
        return process_scratch_root(work_root)

    @functools.cached_property
    def github(self) -> GitHubApp:
        with self._lock:
            clock = self.ctx.clock
            # A sped-up clock (benchmarks) sleeps in its own time; real clocks sleep for real.
            sleep = clock.sleep if isinstance(clock, ScaledClock) else time.sleep
            return GitHubApp.from_settings(
                self.ctx.settings,
                redis_client=self.ctx.redis,
                keyring=self.ctx.keyring,
                clock=clock,
                sleep=sleep,
            )

    def close(self) -> None:
        if "github" in self.__dict__:
            self.github.close()

    def reader(self) -> GitHubReader:
        return AppReader(self.github)

    @functools.cached_property
    def executor(self) -> Executor:
        """The executor the `executor` setting names (`shoal.runtime.executors`)."""
        with self._lock:
            return build_executor(ExecutorSite(self.ctx, self.scratch_root))

    @functools.cached_property
    def execution(self) -> ExecutionDeps:
        settings = self.ctx.settings
        return ExecutionDeps(
            db=self.ctx.db,
            clock=self.ctx.clock,
            settings=settings,
            blobs=self.ctx.blobs,
            github=self.github,
            executor=self.executor,
            secrets=SecretSource(self.ctx.db, self.ctx.keyring, settings.step_secrets_dir),
            work_root=self.scratch_root,
        )

    @functools.cached_property
    def git(self) -> GitPublisher:
        with self._lock:
            settings = self.ctx.settings
            # One store per process, shared by its threads' publishes (docs/publish.md).
            store = ObjectStore(
                self.scratch_root / "publish-store",
                max_bytes=settings.publish_store_max_bytes,
                max_age_s=settings.publish_store_max_age_s,
            )
            return GitPublisher(
                self.scratch_root / "publish", git_base_url=settings.git_url, store=store
            )

    def writer(self) -> GitHubWriter:
        settings = self.ctx.settings
        return AppWriter(
            self.github,
            self.git,
            max_wait_s=settings.github_max_wait_s,
            branch_rules=(
                BranchRules(self.ctx.redis, max_age_s=settings.publish_branch_rules_max_age_s)
                if settings.publish_check_branch_rules
                else None
            ),
            label_color=settings.publish_label_color,
        )

    @functools.cached_property
    def reconcile(self) -> ReconcileDeps:
        return ReconcileDeps(
            db=self.ctx.db,
            clock=self.ctx.clock,
            settings=self.ctx.settings,
            blobs=self.ctx.blobs,
            writer=self.writer,
            work_root=self.scratch_root / "publish",
            mutation_slot=self._mutation_slot,
        )

    def _mutation_slot(self, changeset: Changeset) -> Lease:
        if changeset.installation_id is None:
            raise ValueError(f"changeset {changeset.id} has no installation")
        settings = self.ctx.settings
        return self.github.governor.hold_mutation_slot(
            changeset.installation_id,
            max_in_flight=settings.max_mutations_in_flight_per_org,
            max_wait_s=settings.github_max_wait_s,
        )

    def pull_reader(self, installation_id: int) -> PullReader:
        settings = self.ctx.settings
        client = self.github.installation(installation_id, max_wait_s=settings.github_max_wait_s)
        return AppPullReader(client, batch_size=settings.sync_batch_size)

    @functools.cached_property
    def sync(self) -> SyncDeps:
        return SyncDeps(
            db=self.ctx.db,
            clock=self.ctx.clock,
            settings=self.ctx.settings,
            reader=self.pull_reader,
        )

    @functools.cached_property
    def selection(self) -> SelectionDeps:
        return SelectionDeps(
            db=self.ctx.db, clock=self.ctx.clock, settings=self.ctx.settings, reader=self.reader
        )


def build_registry(parts: WorkerComponents) -> HandlerRegistry:
    """Every task kind Shoal knows, with its handler."""
    registry = HandlerRegistry()

    def select(task: Task, _: HandlerContext) -> Outcome:
        return run_select_task(parts.selection, task)

    def execute(task: Task, _: HandlerContext) -> Outcome:
        return run_execution_task(parts.execution, task)

    def reconcile(task: Task, _: HandlerContext) -> Outcome:
        return run_reconcile_task(parts.reconcile, task)

    registry.register(SELECT_TASK, select)
    registry.register(EXECUTE_TASK, execute)
    registry.register(RECONCILE_TASK, reconcile)
    registry.register(SYNC_TASK, lambda task, _: run_sync_task(parts.sync, task))
    ctx = parts.ctx
    registry.register(
        QUEUE_SYNCS_TASK,
        lambda task, _: run_queue_syncs_task(ctx.db, ctx.settings, ctx.clock, task),
    )
    # The periodic sync must read each PR within its interval even while a publish keeps
    # thousands of reconciles queued ahead of it: its tasks get a slot of their own.
    registry.reserve((SYNC_TASK, QUEUE_SYNCS_TASK), slots=SYNC_SLOTS)
    registry.register(WEBHOOK_TASK, lambda task, _: run_webhook_task(parts.ctx, task))
    registry.register_lane(
        WEBHOOK_TASK,
        lambda conn, task, _: apply_delivery(parts.ctx, conn, task),
        batch=WEBHOOK_BATCH,
        threads=WEBHOOK_THREADS,
        key=delivery_lane_key,
    )
    bulk = BulkDeps(db=parts.ctx.db, clock=parts.ctx.clock, settings=parts.ctx.settings)
    registry.register(BULK_TASK, lambda task, _: run_bulk_task(bulk, task))
    return registry


def run_worker_process(ctx: AppContext, stop: threading.Event) -> None:
    """Run a worker in the main thread until `stop` is set (by SIGTERM/SIGINT: the caller
    installs the handlers as early as it can, `shoal.worker.entrypoint.stop_on_signals`)."""
    parts = WorkerComponents(ctx)
    parts.scratch_root  # noqa: B018 - sweep what dead workers left before the first claim
    try:
        run_worker(
            ctx.settings,
            ctx.db,
            build_registry(parts),
            clock=ctx.clock,
            install_signal_handlers=False,
            stop_event=stop,
            duties=(
                audit_anchor_duty(ctx),
                webhook_catchup_duty(ctx, lambda: parts.github),
                sync_schedule_duty(ctx),
                retention_duty(ctx),
            ),
        )
    finally:
        parts.close()


def start_worker_thread(ctx: AppContext, stop: threading.Event) -> threading.Thread:
    """A worker beside the API server (`shoal up`); it stops when `stop` is set."""

    def work() -> None:
        parts = WorkerComponents(ctx)
        parts.scratch_root  # noqa: B018 - sweep what dead workers left before the first claim
        try:
            run_worker(
                ctx.settings,
                ctx.db,
                build_registry(parts),
                install_signal_handlers=False,
                stop_event=stop,
                clock=ctx.clock,
                duties=(
                    audit_anchor_duty(ctx),
                    webhook_catchup_duty(ctx, lambda: parts.github),
                    sync_schedule_duty(ctx),
                    retention_duty(ctx),
                ),
            )
        finally:
            parts.close()

    thread = threading.Thread(target=work, name="shoal-worker", daemon=True)
    thread.start()
    return thread
