"""The claim loop: keep up to `concurrency` tasks running in a pool of handler threads, plus
the slots reserved for some kinds (`Reserve`), and a lane per kind registered for one
(`worker.lanes`)."""

from __future__ import annotations

import os
import queue
import random
import socket
import threading
import uuid
from collections.abc import Collection, Sequence

import structlog
from sqlalchemy.exc import SQLAlchemyError

from shoal.config import Settings
from shoal.domain.backoff import Backoff
from shoal.domain.clock import Clock
from shoal.domain.tasks import Task, TaskId
from shoal.store import Database
from shoal.store.tasks import claim, complete_many, release
from shoal.worker.lanes import LaneRunner
from shoal.worker.leader import Leader, PeriodicDuty, stalled_task_reset
from shoal.worker.leases import Leases
from shoal.worker.metrics import PrometheusMetrics, WorkerMetrics
from shoal.worker.outcomes import Finished, Outbox
from shoal.worker.registry import HandlerContext, HandlerRegistry, run_handler
from shoal.worker.wakeup import listen_for_tasks

__all__ = ["DEFAULT_GRACE_S", "Worker", "default_worker_id"]

log = structlog.get_logger("shoal.worker")

# Below Kubernetes' default 30 s termination grace, so unfinished tasks are released before
# the pod is killed.
DEFAULT_GRACE_S = 25.0
_STOP_CHECK_S = 0.1


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Claims due tasks and runs their handlers until told to stop.

    Handlers run in `concurrency` threads. The loop's one transaction per round trip records
    every outcome that arrived since the last one and claims tasks for the free slots, so a
    busy worker pays one commit for many tasks. Kinds registered for a lane are not claimed
    for those slots: each has a lane (a thread) of its own. The registry's reserved slots
    (`Reserve`) come on top of `concurrency`: the same round trip first claims the reserved
    kinds for them, so a due task of those kinds does not wait behind a queue of older tasks
    of other kinds, nor for a general slot to come free.

    On stop it claims nothing more, lets running handlers finish within `grace_s`, and gives
    back (releases) the tasks that did not. If a handler thread dies without an outcome (a
    `BaseException` such as `SystemExit`), the worker dies with it, as a crashed process
    would: its tasks are neither completed nor released, and the stalled-task reset of the
    leader takes them back. The clock must advance (`SystemClock` outside tests).
    """

    def __init__(
        self,
        db: Database,
        registry: HandlerRegistry,
        settings: Settings,
        clock: Clock,
        *,
        worker_id: str | None = None,
        concurrency: int | None = None,
        kinds: Collection[str] | None = None,
        rng: random.Random | None = None,
        duties: Sequence[PeriodicDuty] = (),
        metrics: WorkerMetrics | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        listen: bool = True,
    ) -> None:
        self.worker_id = worker_id or default_worker_id()
        self._db = db
        self._registry = registry
        self._settings = settings
        self._clock = clock
        self._concurrency = concurrency or settings.worker_concurrency
        # None claims every kind, so a task nobody can handle is dead-lettered, not stuck.
        self._kinds = None if kinds is None else tuple(kinds)
        rng = rng or random.Random()  # noqa: S311 (retry jitter, not a secret)
        self._backoff = Backoff(settings.task_backoff_base_s, settings.task_backoff_max_s, rng)
        self._duties = (stalled_task_reset(settings.task_stall_timeout_s), *duties)
        self._metrics = metrics or PrometheusMetrics()
        self._grace_s = grace_s
        self._listen = listen
        self._leases = Leases()
        self._outbox = Outbox(self._leases, clock, self._metrics)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._crash: BaseException | None = None
        # Claimed tasks for the handler threads; None tells one of them to exit.
        self._runnable: queue.SimpleQueue[tuple[Task, float] | None] = queue.SimpleQueue()
        self._context = HandlerContext(db, clock, self.worker_id, self._stopping)
        poll_s = settings.task_poll_s
        self._lanes = [
            LaneRunner(
                lane,
                self._context,
                leases=self._leases,
                outbox=self._outbox,
                backoff=self._backoff,
                poll_s=poll_s,
            )
            for lane in registry.lanes
            if self._kinds is None or lane.kind in self._kinds
        ]
        # The general slots leave every lane's kind to lanes, even one this worker does not
        # run: another worker's lane takes it.
        self._laned = tuple(lane.kind for lane in registry.lanes)
        reserve = registry.reserved
        self._reserved_kinds = tuple(
            kind
            for kind in (reserve.kinds if reserve else ())
            if self._kinds is None or kind in self._kinds
        )
        self._reserved_slots = reserve.slots if reserve and self._reserved_kinds else 0
        # The held tasks that occupy a reserved slot (only the loop's thread touches it).
        self._in_reserve: set[TaskId] = set()
        self._slots = self._concurrency + self._reserved_slots

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; returns once every task is finished or released."""
        halt = threading.Event()
        helpers = self._start_helpers(halt)
        settings = self._settings
        log.info(
            "worker_started",
            worker_id=self.worker_id,
            concurrency=self._concurrency,
            reserved_slots=self._reserved_slots,
            reserved_kinds=self._reserved_kinds,
            # What paces its GitHub writes, so that a GHES run shows it is not paced.
            github_profile=settings.github_profile_in_effect,
            writes_per_minute=settings.github_writes_per_minute,
            writes_per_hour=settings.github_writes_per_hour,
            min_write_interval_s=settings.github_min_write_interval_s,
            max_prs_per_day_per_org=settings.max_prs_per_day_per_org,
        )
        crashed = False
        try:
            self._work_until(stop)
        except BaseException:
            crashed = True
            raise
        finally:
            try:
                self._stopping.set()
                for lane in self._lanes:
                    lane.wake.set()
                if not crashed:
                    self._finish_or_release()
            finally:
                halt.set()
                for _ in range(self._slots):
                    self._runnable.put(None)
                for helper in helpers:
                    helper.join(timeout=5.0)
                log.info("worker_stopped", worker_id=self.worker_id, crashed=crashed)

    def _start_helpers(self, halt: threading.Event) -> list[threading.Thread]:
        s = self._settings
        targets = [
            (
                "heartbeat",
                lambda: self._leases.keep_alive(
                    self._db, self._clock, self.worker_id, s.task_heartbeat_s, halt
                ),
            ),
            ("leader", lambda: Leader(self._db, self._clock, self._duties).run(halt)),
        ]
        if self._listen:
            check_s = min(max(s.task_poll_s, 0.05), 1.0)

            lanes = {lane.lane.kind: lane for lane in self._lanes}

            def wake(kind: str) -> None:
                # Only who claims that kind: a lane's kinds are not the slots' to claim.
                lane = lanes.get(kind)
                if lane is not None:
                    lane.wake.set()
                elif kind not in self._laned:
                    self._wake.set()

            targets.append(
                ("wakeup", lambda: listen_for_tasks(self._db, wake, halt, check_every_s=check_s))
            )
        threads = [
            threading.Thread(target=target, name=f"shoal-{name}", daemon=True)
            for name, target in targets
        ]
        # Handler threads live as long as the worker (starting a thread per task costs more
        # than a short handler does). They are not joined: one may be stuck in a handler whose
        # task was released, and it exits once that handler returns.
        handlers = [
            threading.Thread(target=self._serve_handlers, name=f"shoal-handler-{n}", daemon=True)
            for n in range(self._slots)
        ]
        # Lanes stop once `_stopping` is set and their batch is recorded.
        handlers += [
            threading.Thread(
                target=self._run_lane,
                args=(lane,),
                name=f"shoal-lane-{lane.lane.kind}",
                daemon=True,
            )
            for lane in self._lanes
        ]
        for thread in threads + handlers:
            thread.start()
        return threads

    def _work_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self._crash is not None:
                raise self._crash
            self._wake.clear()
            limit, claimed = self._round_trip(claim_tasks=True)
            # Wait when every slot is busy (a finishing task wakes us) or the queue ran dry
            # (an enqueue notification or the poll interval wakes us).
            if limit == 0 or claimed < limit:
                self._idle(stop, self._settings.task_poll_s)

    def _idle(self, stop: threading.Event, seconds: float) -> None:
        """Wait for a wake-up, `stop`, or `seconds`, whichever comes first."""
        deadline = self._clock.monotonic() + seconds
        while not (stop.is_set() or self._wake.is_set()):
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                return
            # `stop` belongs to the caller and cannot wake us, so look at it this often.
            self._wake.wait(min(remaining, _STOP_CHECK_S))

    def _round_trip(self, *, claim_tasks: bool) -> tuple[int, int]:
        """One transaction: record the outcomes that arrived, then fill the free slots.

        Returns how many tasks it asked for and how many it got.
        """
        finished = self._outbox.take()
        # The slots' own tasks (the lanes hold theirs in the same leases), less those whose
        # outcome this round trip records.
        recorded = {item.task.id for item in finished}
        held = {t.id for t in self._leases.tasks() if t.kind not in self._laned} - recorded
        self._in_reserve &= held
        reserve_limit = self._reserved_slots - len(self._in_reserve) if claim_tasks else 0
        limit = self._concurrency - len(held - self._in_reserve) if claim_tasks else 0
        if not finished and limit + reserve_limit == 0:
            return 0, 0
        started = self._clock.monotonic()
        try:
            with self._db.transaction() as conn:
                now = self._clock.now()
                done = [(item.task, item.outcome) for item in finished]
                states = complete_many(conn, done, now=now, backoff=self._backoff)
                # The reserved kinds first: a free reserved slot takes a due one ahead of
                # older tasks of other kinds.
                reserved: list[Task] = []
                if reserve_limit:
                    reserved = claim(
                        conn,
                        worker_id=self.worker_id,
                        now=now,
                        kinds=self._reserved_kinds,
                        limit=reserve_limit,
                    )
                tasks = []
                if limit:
                    tasks = claim(
                        conn,
                        worker_id=self.worker_id,
                        now=now,
                        kinds=self._kinds,
                        exclude=self._laned,
                        limit=limit,
                    )
        except SQLAlchemyError:
            log.warning("task_round_trip_failed", exc_info=True)
            self._outbox.record_each(self._db, finished, self._backoff)
            return limit + reserve_limit, 0
        if limit or reserve_limit:
            claimed = len(reserved) + len(tasks)
            self._metrics.claimed(self._clock.monotonic() - started, claimed)
        self._outbox.settle(finished, states)
        self._in_reserve.update(task.id for task in reserved)
        for task in reserved + tasks:
            self._leases.add(task)
            self._runnable.put((task, started))
        return limit + reserve_limit, len(reserved) + len(tasks)

    def _run_lane(self, lane: LaneRunner) -> None:
        try:
            lane.run()
        except BaseException as exc:
            # The lane records every failure of a task itself; this is the thread being torn
            # down, and the worker dies with it as with a handler thread.
            self._crash = exc
            self._wake.set()

    def _serve_handlers(self) -> None:
        while (item := self._runnable.get()) is not None:
            task, claimed_at = item
            try:
                with structlog.contextvars.bound_contextvars(task_id=task.id, task_kind=task.kind):
                    outcome = run_handler(self._registry, task, self._context)
            except BaseException as exc:
                # Exceptions became outcomes in run_handler; this is the thread being torn down.
                self._crash = exc
                self._leases.drop(task.id)
                self._wake.set()
                return
            self._outbox.put(Finished(task, outcome, claimed_at))
            self._wake.set()

    def _finish_or_release(self) -> None:
        deadline = self._clock.monotonic() + self._grace_s
        while len(self._leases) and self._clock.monotonic() < deadline:
            self._wake.clear()
            self._round_trip(claim_tasks=False)
            if len(self._leases):
                self._wake.wait(min(_STOP_CHECK_S, max(deadline - self._clock.monotonic(), 0.0)))
        self._round_trip(claim_tasks=False)  # outcomes that came in at the last moment
        for task in self._leases.tasks():
            try:
                with self._db.transaction() as conn:
                    released = release(conn, task, now=self._clock.now())
            except SQLAlchemyError:
                log.exception("task_release_failed", task_id=task.id)
                continue
            if released:
                log.warning("task_released", task_id=task.id, task_kind=task.kind)
            self._leases.drop(task.id)
